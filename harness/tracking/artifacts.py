"""Files in and out of MLflow for vendor submissions (issue 6): a submitted bundle logged whole as the
artifacts of a `submission` run, and an MLflow model downloaded for the sandboxed worker (which has no
network, so the trusted harness fetches the files first; downloading runs none of the model's code)."""
from __future__ import annotations

import json
from pathlib import Path

from harness.errors import TrackingError
from harness.tracking.runs import SUBMISSIONS, quiet
from harness.tracking.store import Store

SUBMISSION_KIND = "submission"


def log_submission(store: Store, tool_id: str, tool_version: str, root: Path, files: dict[str, str], *,
                   submitter: str, archive_sha256: str | None = None, source: str | None = None) -> str:
    """A finished run (`harness.kind=submission`) in the tool's submissions experiment holding every file of the
    bundle under `bundle/`, the manifest under `inputs/tool.yaml` and the digests under `registration/files.json`
    (the places `harness.gate` reads for a version's manifest and files). A failure part-way marks the
    run FAILED, so an incomplete submission is never taken for a complete one. Returns the run id."""
    tags = {"harness.kind": SUBMISSION_KIND, "harness.tool_id": tool_id, "harness.tool_version": tool_version,
            "harness.submitter": submitter, "harness.bundle.files": str(len(files))}
    if archive_sha256:
        tags["harness.bundle.sha256"] = archive_sha256
    if source:
        tags["harness.bundle.source"] = source[:500]
    with store.finished_run(tool_id, f"{tool_id} {tool_version} submission", tags, part=SUBMISSIONS,
                            what="a submission run") as run:
        try:
            run.log_folder(root, "bundle")
            run.log_bytes("files.json", json.dumps(files, indent=1, sort_keys=True).encode(), "registration")
            run.log_file(root / "tool.yaml", "inputs")
        except OSError as e:
            raise TrackingError(f"cannot log the bundle {root} to run {run.run_id} in {store.uri}: {e}") from None
    return run.run_id


def download_model(model_uri: str, uri: str, dst: Path) -> Path:
    """Download an MLflow model (`models:/NAME/VERSION`, `runs:/RUN/PATH`, ...) into `dst`; returns the local
    folder holding its MLmodel file."""
    import mlflow.artifacts

    quiet()
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst),
                                                         tracking_uri=uri))
    except Exception as e:
        raise TrackingError(f"cannot download MLflow model {model_uri!r} from {uri}: {type(e).__name__}: "
                            f"{' '.join(str(e).split())[:500]}") from None
    if not (local / "MLmodel").is_file():
        raise TrackingError(f"MLflow artifact {model_uri!r} is not a model folder (it has no MLmodel file)")
    return local


def mark_submission_refused(store: Store, run_id: str, reason: str) -> None:
    """Tag a submission run whose registration the gate refused, so its files are not taken for a
    registered version (the run itself stays: the attempt is part of the record, policy 3.2)."""
    from harness.redact import mask_pii

    store.set_run_tag(run_id, "harness.submission.refused", mask_pii(reason)[:4000])  # free text: masked (issue 12)
