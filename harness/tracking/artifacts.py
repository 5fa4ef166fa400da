"""Files in and out of MLflow for vendor submissions (issue 6): a submitted bundle logged whole as the
artifacts of a `submission` run, and an MLflow model downloaded for the sandboxed worker (which has no
network, so the trusted harness fetches the files first; downloading runs none of the model's code)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from harness.errors import TrackingError
from harness.tracking.runs import SUBMISSIONS, _quiet, client, experiment_id

SUBMISSION_KIND = "submission"


def log_submission(uri: str, tool_id: str, tool_version: str, root: Path, files: dict[str, str], *,
                   submitter: str, archive_sha256: str | None = None, source: str | None = None) -> str:
    """A finished run (`harness.kind=submission`) in the tool's submissions experiment holding every file of the
    bundle under `bundle/`, the manifest under `inputs/tool.yaml` and the digests under `registration/files.json`
    (the places `harness.gate` reads for a version's manifest and files). A failure part-way marks the
    run FAILED, so an incomplete submission is never taken for a complete one. Returns the run id."""
    from mlflow.entities import RunTag

    c = client(uri)
    try:
        exp = experiment_id(c, uri, tool_id, SUBMISSIONS)
        run_id: str = c.create_run(exp, run_name=f"{tool_id} {tool_version} submission").info.run_id
    except Exception as e:
        raise TrackingError(f"cannot start a submission run in {uri}: {type(e).__name__}: {e}") from None
    tags = {"harness.kind": SUBMISSION_KIND, "harness.tool_id": tool_id, "harness.tool_version": tool_version,
            "harness.submitter": submitter, "harness.bundle.files": str(len(files))}
    if archive_sha256:
        tags["harness.bundle.sha256"] = archive_sha256
    if source:
        tags["harness.bundle.source"] = source[:500]
    ok = False
    try:
        c.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        c.log_artifacts(run_id, str(root), "bundle")
        with tempfile.TemporaryDirectory() as tmp:
            listing = Path(tmp) / "files.json"
            listing.write_text(json.dumps(files, indent=1, sort_keys=True))
            c.log_artifact(run_id, str(listing), "registration")
            c.log_artifact(run_id, str(root / "tool.yaml"), "inputs")
        ok = True
    except OSError as e:
        raise TrackingError(f"cannot log the bundle {root} to run {run_id} in {uri}: {e}") from None
    finally:
        c.set_terminated(run_id, "FINISHED" if ok else "FAILED")
    return run_id


def download_model(model_uri: str, uri: str, dst: Path) -> Path:
    """Download an MLflow model (`models:/NAME/VERSION`, `runs:/RUN/PATH`, ...) into `dst`; returns the local
    folder holding its MLmodel file."""
    import mlflow.artifacts

    _quiet()
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst),
                                                         tracking_uri=uri))
    except Exception as e:
        raise TrackingError(f"cannot download MLflow model {model_uri!r} from {uri}: {type(e).__name__}: "
                            f"{' '.join(str(e).split())[:500]}") from None
    if not (local / "MLmodel").is_file():
        raise TrackingError(f"MLflow artifact {model_uri!r} is not a model folder (it has no MLmodel file)")
    return local


def mark_submission_refused(uri: str, run_id: str, reason: str) -> None:
    """Tag a submission run whose registration the gate refused, so its files are not taken for a
    registered version (the run itself stays: the attempt is part of the record, policy 3.2)."""
    from harness.redact import mask_pii

    c = client(uri)
    c.set_tag(run_id, "harness.submission.refused", mask_pii(reason)[:4000])  # free text: masked (issue 12)
