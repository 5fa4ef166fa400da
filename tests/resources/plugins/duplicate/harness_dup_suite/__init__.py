"""A plugin that registers the name of a built-in suite: ambiguous, so the harness refuses it."""
from __future__ import annotations

from harness.api import Suite


class DupSuite(Suite):
    name = "bias"
