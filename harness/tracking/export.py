"""Reading a tool's whole record out of MLflow, for the records export (policy 3.2) and the public
transparency register (policy 6.7): every run of the tool's experiment with its params, tags and
metrics as plain data, its artifacts downloaded, and single artifacts read as text.

Reads only: nothing here creates an experiment, a run or a store (looking must not create a store).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import TrackingError
from harness.tracking.runs import EXPERIMENT_PREFIX, client, sqlite_path

PAGE = 1000


@dataclass(frozen=True)
class RunRecord:
    """One MLflow run as plain data. `metrics` holds each metric's latest value (the harness logs every
    metric of an assessment once, at step 0, so that is the whole of it)."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str
    lifecycle_stage: str
    start_ms: int
    end_ms: int | None
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.tags.get("harness.kind", "")

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "experiment_id": self.experiment_id, "run_name": self.run_name,
                "status": self.status, "lifecycle_stage": self.lifecycle_stage, "start_ms": self.start_ms,
                "end_ms": self.end_ms, "artifact_uri": self.artifact_uri, "kind": self.kind,
                "params": dict(sorted(self.params.items())), "tags": dict(sorted(self.tags.items())),
                "metrics": dict(sorted(self.metrics.items()))}


def _record(r: Any) -> RunRecord:
    return RunRecord(run_id=r.info.run_id, experiment_id=r.info.experiment_id, run_name=r.info.run_name or "",
                     status=r.info.status, lifecycle_stage=r.info.lifecycle_stage,
                     start_ms=int(r.info.start_time or 0),
                     end_ms=int(r.info.end_time) if r.info.end_time else None,
                     artifact_uri=r.info.artifact_uri or "", params=dict(r.data.params), tags=dict(r.data.tags),
                     metrics={k: float(v) for k, v in r.data.metrics.items()})


def _exists(uri: str) -> bool:
    db = sqlite_path(uri)
    return db is None or db.is_file()


def tool_runs(uri: str, tool_id: str) -> list[RunRecord]:
    """Every run in the tool's experiment (`harness/<tool id>`), deleted ones included, oldest first."""
    from mlflow.entities import ViewType

    if not _exists(uri):
        return []
    c = client(uri)
    exp = c.get_experiment_by_name(EXPERIMENT_PREFIX + tool_id)
    if exp is None:
        return []
    out: list[RunRecord] = []
    token: str | None = None
    while True:
        page = c.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=PAGE, page_token=token,
                             order_by=["attributes.start_time ASC"])
        out += [_record(r) for r in page]
        token = page.token
        if not token:
            return out


def run_record(uri: str, run_id: str) -> RunRecord | None:
    """One run by id, or None when the store has no such run."""
    if not _exists(uri):
        return None
    try:
        return _record(client(uri).get_run(run_id))
    except Exception as e:
        if str(getattr(e, "error_code", "")) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise TrackingError(f"cannot read MLflow run {run_id!r} in {uri}: {e}") from None


def download_run_artifacts(uri: str, run_id: str, dst: Path) -> list[Path]:
    """Download every artifact of a run into `dst` (kept in the run's folder layout); returns the files,
    sorted. A run without artifacts gives []."""
    c = client(uri)
    dst.mkdir(parents=True, exist_ok=True)
    if not c.list_artifacts(run_id):
        return []
    try:
        c.download_artifacts(run_id, "", str(dst))
    except Exception as e:
        raise TrackingError(f"cannot download the artifacts of run {run_id} from {uri}: {type(e).__name__}: "
                            f"{' '.join(str(e).split())[:500]}") from None
    return sorted(p for p in dst.rglob("*") if p.is_file())


def read_artifact_text(uri: str, run_id: str, path: str) -> str | None:
    """One artifact of a run as text, or None when the run or the artifact is not there."""
    if not _exists(uri):
        return None
    c = client(uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = c.download_artifacts(run_id, path, tmp)
        except Exception:
            return None
        p = Path(local)
        return p.read_text(encoding="utf-8") if p.is_file() else None


def model_aliases(uri: str, name: str) -> dict[str, int]:
    """The aliases of a registered model (alias -> version number); {} when there is no such model.
    Read from the model itself: MLflow's version search leaves `aliases` empty on some stores."""
    if not _exists(uri):
        return {}
    try:
        model = client(uri).get_registered_model(name)
    except Exception as e:
        if str(getattr(e, "error_code", "")) == "RESOURCE_DOES_NOT_EXIST":
            return {}
        raise TrackingError(f"cannot read registered model {name!r} in {uri}: {e}") from None
    return {str(k): int(v) for k, v in (model.aliases or {}).items()}
