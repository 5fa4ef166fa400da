"""The `harness` command line (the click group `harness.cli:main`; the program `harness` and `python -m harness`
run it through `harness.cli.process:run`, which leaves the process without tearing it down).

- `app`: the click group; it adds the commands of every module below.
- `process`: the program's entry point and its quick, orderly exit.
- `common`: the error handler, the shared options (`--tracking-uri`, `--policy`, `--format`, ...), the styles and
  the flags that name a person (`person_option`).
- `console`: the masking rich console and the verdict table.
- one module per command family: `assess` (assess, demo, report), `catalogue` (suites, datasets), `submit`,
  `plan` (plan, reassess), `gate` (status, history, approve, reject, waive, suspend, retire, gate, inventory, due),
  `policy`, `access`, `keys`, `register` (register export, records export).
"""
from __future__ import annotations

from harness.cli.app import main

__all__ = ["main"]
