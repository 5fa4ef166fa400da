"""What each command does, end to end, built on the nouns (assessment, policy, datasets, manifest)
and the services (tracking, gate, tools, report). The command line (harness.cli) only parses and prints."""
