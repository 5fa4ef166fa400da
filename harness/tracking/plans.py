"""Pre-registered plans and recorded inputs in MLflow (issue 6, "Pre-registered plans"; policy 4.2, 4.3).

A plan is a small finished run in the tool's experiment (`harness.kind=plan`) holding `plan.json` (the
canonical JSON the plan's sha256 is computed on) and the tags `harness.plan.sha256`, `harness.tool_id`,
`harness.tool_version` and `harness.plan.by`. Its run id is the plan id. The run's start time is MLflow's
own clock: it shows the plan was fixed before the assessments that cite it (`harness.plan=<id>`).

`harness.workflows.plan` (the rules) decides; this module only stores the plan run. Plans, recorded inputs and submitted
bundles are read back through the `Store` (`store.run`, `store.artifact_text`, `store.download`).
"""
from __future__ import annotations

from harness.errors import TrackingError
from harness.tracking.store import Store

PLAN_KIND = "plan"
PLAN_FILE = "plan.json"
PLAN_SHA_TAG = "harness.plan.sha256"


def log_plan(store: Store, tool_id: str, tool_version: str, text: str, sha256: str, *, by: str) -> str:
    """Store a plan as a finished run; a failure part-way marks the run FAILED, and a FAILED plan run is
    never read as a plan (`harness.workflows.plan` refuses it). Returns the run id, which is the plan id."""
    tags = {"harness.kind": PLAN_KIND, "harness.tool_id": tool_id, "harness.tool_version": tool_version,
            PLAN_SHA_TAG: sha256, "harness.plan.by": by}
    with store.finished_run(tool_id, f"{tool_id} {tool_version} plan", tags, what="a plan run") as run:
        try:
            run.log_bytes(PLAN_FILE, text.encode("ascii"))
        except OSError as e:
            raise TrackingError(f"cannot log the plan to run {run.run_id} in {store.uri}: {e}") from None
    return run.run_id
