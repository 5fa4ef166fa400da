"""The `harness` command line (`harness.cli:main`, also `python -m harness`).

- `app`: the click group; it adds the commands of every module below.
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
