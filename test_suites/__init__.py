"""Built-in test suites. Each registers through the `harness.suites` entry-point group, the same door
a third-party suite uses (see pyproject.toml)."""
