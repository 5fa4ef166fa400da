"""The `harness` group: a thin command line over the library. Parses, calls, prints with rich.

This is the only module that knows every command: it imports each command family's module and adds what that
module lists in `COMMANDS`. The command modules import `harness.cli.common` (and lower layers) only, never this
module, so the package has no import cycle (issue 13, section 3) and any command module can be imported first.

Heavy libraries (mlflow, great_expectations, fairlearn, aif360, matplotlib, sklearn, scipy, pandas) are imported
inside the commands that need them, so `--help`, `suites list` and `datasets list` answer at once (issue 13,
section 5; tests/test_cli_imports.py holds it, benchmarks/bench_cli.py measures it).
"""
from __future__ import annotations

import click

from harness import __version__
from harness.cli import (
    access,
    assess,
    catalogue,
    compare,
    gate,
    keys,
    memo,
    plan,
    policy,
    register,
    submit,
    trend,
    vendor,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """AI Risk Harness: assess AI tools for bias and risk before the City uses them (policy 4.2)."""


for _family in (assess, catalogue, submit, plan, gate, policy, access, keys, register, compare, memo, vendor, trend):
    for _command in _family.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
