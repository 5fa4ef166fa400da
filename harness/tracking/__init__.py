"""The only package that imports mlflow (DESIGN.md "Nouns"; besides the sandbox worker): everything the harness
keeps in MLflow goes through here, so the rest of the code never touches MLflow's API and a change of store stays
in one place.

- `harness.tracking.store`: the `Store`, opened once per command (`Store.open`): its one client, runs that end
  FINISHED or FAILED (`finished_run`), the readers of runs and artifacts, and `store.registry`.
- `harness.tracking.runs`: the bottom layer: the store's URI, its reachability, the client and experiments.
- `harness.tracking.assessments`: assessment runs, their tags and metrics, from plain data.
- `harness.tracking.browse`: what the MLflow UI shows of an assessment: the verdict sentence as the description,
  the reference datasets as dataset inputs, the headline metrics and the per-suite tables, the classic view.
- `harness.tracking.registry`: the Model Registry (tool versions, version tags, aliases, the decision
  log of the approval gate), used by `harness.gate`.
- `harness.tracking.artifacts`, `.plans`, `.export`, `.evidence`, `.access`: submissions, plans, the records
  export, evidence digests and permissions on a shared server.

mlflow itself is imported inside functions only, so importing this package stays cheap (`harness --help`).
"""
from __future__ import annotations

from harness.names import metric_key
from harness.tracking.assessments import (
    AssessmentRun,
    completed_assessments,
    load_assessment,
    measured_in,
    metrics_of,
    recorded_metrics,
    tags_of,
)
from harness.tracking.runs import (
    APPROVED_TAG,
    DEFAULT_STORE,
    EXPERIMENT_PREFIX,
    artifact_root,
    check_reachable,
    client,
    experiment_id,
    quiet,
    resolve_uri,
    sqlite_path,
)
from harness.tracking.store import OpenRun, RunRecord, Store

__all__ = [
    "APPROVED_TAG",
    "DEFAULT_STORE",
    "EXPERIMENT_PREFIX",
    "AssessmentRun",
    "OpenRun",
    "RunRecord",
    "Store",
    "artifact_root",
    "check_reachable",
    "client",
    "completed_assessments",
    "experiment_id",
    "load_assessment",
    "measured_in",
    "metric_key",
    "metrics_of",
    "quiet",
    "recorded_metrics",
    "resolve_uri",
    "sqlite_path",
    "tags_of",
]
