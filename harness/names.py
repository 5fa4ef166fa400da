"""Names the harness gives things that several layers must spell alike. Pure functions only, importing nothing
of the harness, so the data layer (`harness.datasets`), the suites and the MLflow layer (`harness.tracking`) can
all use them without depending on each other (issue 13: datasets no longer imports tracking)."""
from __future__ import annotations

import re


def metric_key(key: str) -> str:
    """A measurement's key as an MLflow metric key: MLflow allows letters, digits and `_-./ ` only, so every
    other character becomes `_` (two groups that differ only there collide; `harness.datasets` refuses them)."""
    return re.sub(r"[^\w\-./ ]", "_", key)


__all__ = ["metric_key"]
