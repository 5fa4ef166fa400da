"""AI Risk Harness: evidence for the City's AI approval gate (city AI policy 4.1-4.3).

Kept import-light on purpose: `harness --help` must not pull in mlflow, fairlearn, aif360 or
great_expectations, so nothing heavy is imported here.
"""
from __future__ import annotations

__version__ = "0.1.0"
