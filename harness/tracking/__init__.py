"""The only package that imports mlflow (DESIGN.md "Nouns"): everything the harness keeps in MLflow goes
through here, so the rest of the code never touches MLflow's API and a change of store stays in one place.

- `harness.tracking.runs`: assessment runs, their tags, metrics and artifacts; the store's URI.
- `harness.tracking.registry`: the Model Registry (tool versions, version tags, aliases, the decision
  log of the approval gate), used by `harness.gate`.
- `harness.tracking.artifacts`: files in and out (vendor submission bundles, MLflow models to download).

mlflow itself is imported inside functions only, so importing this package stays cheap (`harness --help`).
"""
from __future__ import annotations

from harness.tracking.runs import (
    APPROVED_TAG,
    DEFAULT_STORE,
    EXPERIMENT_PREFIX,
    AssessmentRun,
    _quiet,
    artifact_root,
    check_reachable,
    client,
    experiment_id,
    load_assessment,
    metric_key,
    metrics_of,
    recorded_metrics,
    resolve_uri,
    sqlite_path,
    tags_of,
)

__all__ = [
    "APPROVED_TAG",
    "DEFAULT_STORE",
    "EXPERIMENT_PREFIX",
    "AssessmentRun",
    "_quiet",
    "artifact_root",
    "check_reachable",
    "client",
    "experiment_id",
    "load_assessment",
    "metric_key",
    "metrics_of",
    "recorded_metrics",
    "resolve_uri",
    "sqlite_path",
    "tags_of",
]
