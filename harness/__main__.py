from harness.cli.process import run

run()
