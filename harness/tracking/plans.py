"""Pre-registered plans and recorded inputs in MLflow (issue 6, "Pre-registered plans"; policy 4.2, 4.3).

A plan is a small finished run in the tool's experiment (`harness.kind=plan`) holding `plan.json` (the
canonical JSON the plan's sha256 is computed on) and the tags `harness.plan.sha256`, `harness.tool_id`,
`harness.tool_version` and `harness.plan.by`. Its run id is the plan id. The run's start time is MLflow's
own clock: it shows the plan was fixed before the assessments that cite it (`harness.plan=<id>`).

`harness.plan` (the rules) decides; this module only stores and fetches text, like `tracking.registry`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from harness.errors import TrackingError
from harness.tracking.runs import client, experiment_id

PLAN_KIND = "plan"
PLAN_FILE = "plan.json"
PLAN_SHA_TAG = "harness.plan.sha256"


def log_plan(uri: str, tool_id: str, tool_version: str, text: str, sha256: str, *, by: str) -> str:
    """Store a plan as a finished run; a failure part-way marks the run FAILED, and a FAILED plan run is
    never read as a plan (`read_text` refuses it). Returns the run id, which is the plan id."""
    from mlflow.entities import RunTag

    c = client(uri)
    try:
        exp = experiment_id(c, uri, tool_id)
        run_id: str = c.create_run(exp, run_name=f"{tool_id} {tool_version} plan").info.run_id
    except Exception as e:
        raise TrackingError(f"cannot start a plan run in {uri}: {type(e).__name__}: {e}") from None
    tags = {"harness.kind": PLAN_KIND, "harness.tool_id": tool_id, "harness.tool_version": tool_version,
            PLAN_SHA_TAG: sha256, "harness.plan.by": by}
    ok = False
    try:
        c.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / PLAN_FILE
            path.write_text(text, encoding="ascii")
            c.log_artifact(run_id, str(path))
        ok = True
    except OSError as e:
        raise TrackingError(f"cannot log the plan to run {run_id} in {uri}: {e}") from None
    finally:
        c.set_terminated(run_id, "FINISHED" if ok else "FAILED")
    return run_id


def run_tags(uri: str, run_id: str) -> tuple[dict[str, str], str] | None:
    """A run's tags and status, or None when there is no such run."""
    c = client(uri)
    try:
        r = c.get_run(run_id)
    except Exception as e:
        if str(getattr(e, "error_code", "")) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise TrackingError(f"cannot read MLflow run {run_id!r} in {uri}: {e}") from None
    return dict(r.data.tags), r.info.status


def artifact_text(uri: str, run_id: str, path: str) -> str | None:
    """The text of one artifact of a run, or None when the run has no such artifact."""
    c = client(uri)
    folder = path.rsplit("/", 1)[0] if "/" in path else None
    try:
        if not any(a.path == path for a in c.list_artifacts(run_id, folder)):
            return None
        with tempfile.TemporaryDirectory() as tmp:
            return Path(c.download_artifacts(run_id, path, tmp)).read_text(encoding="utf-8")
    except OSError as e:
        raise TrackingError(f"cannot read {path} of run {run_id} in {uri}: {e}") from None


def download_folder(uri: str, run_id: str, path: str, dst: Path) -> Path:
    """Download a folder of a run's artifacts (e.g. a submitted `bundle/`) into `dst`; returns its local path."""
    c = client(uri)
    try:
        return Path(c.download_artifacts(run_id, path, str(dst)))
    except Exception as e:
        raise TrackingError(f"cannot download {path}/ of run {run_id} from {uri}: {type(e).__name__}: "
                            f"{' '.join(str(e).split())[:300]}") from None
