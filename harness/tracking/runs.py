"""Runs, metrics and artifacts of assessments (mlflow is imported only inside `harness.tracking`).

One MLflow experiment per tool (`harness/<tool id>`), one run per assessment. The embedded store is a
SQLite file with its artifact folder beside it (`mlruns/mlflow.db`, `mlruns/artifacts/`), created in the
working folder; a tracking server works the same through `--tracking-uri` (DESIGN.md).
"""
from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import TrackingError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from harness.assessment import AssessmentResult

DEFAULT_STORE = Path("mlruns") / "mlflow.db"
EXPERIMENT_PREFIX = "harness/"


def resolve_uri(uri: str | None) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else the embedded SQLite store in the working folder. A
    relative SQLite path (sqlite:///m.db, as SQLAlchemy reads it: m.db in the working folder) is made absolute
    once, here, so the run, its artifacts and the approval gate all open the same file."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(Path.cwd() / DEFAULT_STORE).as_posix()}"
    db = sqlite_path(uri)
    if db is not None and not db.is_absolute():
        return f"sqlite:///{(Path.cwd() / db).resolve().as_posix()}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a SQLite URI: sqlite:////abs/m.db is /abs/m.db, sqlite:///m.db is m.db (relative)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])


def artifact_root(uri: str) -> str | None:
    """Artifacts of an embedded store live beside its database, wherever the command runs from."""
    db = sqlite_path(uri)
    return (db.parent / "artifacts").resolve().as_uri() if db is not None else None


def check_reachable(uri: str) -> None:
    """Fail early with one clear message, before a tool is run, if the store cannot be used."""
    if uri.startswith("file:") or (("://" not in uri) and not uri.startswith("databricks")):
        raise TrackingError(
            f"tracking URI {uri!r} is a plain folder; MLflow 3 refuses file stores. Use sqlite:///PATH/mlflow.db "
            f"or a tracking server URL (http://host:port)."
        )
    db = sqlite_path(uri)
    if db is not None:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TrackingError(f"cannot create the folder of the MLflow store {db}: {e.strerror}") from None
        if not os.access(db.parent, os.W_OK):
            raise TrackingError(f"the folder of the MLflow store {db} is not writable")
        return
    if uri.startswith(("http://", "https://")):
        import requests

        try:
            r = requests.get(uri.rstrip("/") + "/health", timeout=5)
        except requests.RequestException as e:
            raise TrackingError(
                f"cannot reach the MLflow tracking server at {uri}: {type(e).__name__}. Is it running? "
                f"Check the URL, or omit --tracking-uri to use the embedded store."
            ) from None
        if r.status_code >= 400:
            raise TrackingError(f"the MLflow tracking server at {uri} answered /health with HTTP {r.status_code}")


def _quiet() -> None:
    """MLflow announces table creation and artifact downloads on every command; analysts need none of it.
    Called after mlflow is imported, since mlflow sets its own logger levels on import."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # against a tracking server MLflow prints "View run ... at: URL" on stdout for every finished run, which
    # would corrupt `--format json` output; the harness prints its own run ids
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def client(uri: str) -> MlflowClient:
    """Every command opens its store here. MLflow creates and migrates an embedded store the first time a process
    opens it; two processes doing that at once raced in the migrations and could leave a half-made
    `_alembic_tmp_*` table that broke the store for good, so on SQLite one process creates it under a lock."""
    from mlflow.tracking import MlflowClient

    _quiet()
    db = sqlite_path(uri)
    if db is None:  # a tracking server creates its own database
        return MlflowClient(tracking_uri=uri)
    with _creation_lock(db):
        if not _initialised(db):
            return MlflowClient(tracking_uri=uri)  # the others wait, then find the store ready
    return MlflowClient(tracking_uri=uri)  # the common case: the lock was held for one read of the schema


@contextmanager
def _creation_lock(db: Path) -> Iterator[None]:
    """An exclusive flock on `<db>.lock` beside the database (released by the kernel if its holder dies, so it
    is never stale; read access is enough, so a colleague's lock file serves too). A folder that cannot hold it
    cannot hold a new store either: MLflow then says why."""
    import fcntl

    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(db.with_name(db.name + ".lock"), os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _initialised(db: Path) -> bool:
    """MLflow's own test for "create and migrate on open" (every table of its schema present,
    `mlflow.store.db.utils._all_tables_exist`), read with sqlite3 in a millisecond. Read under the creation lock,
    it never sees a store half-way through its migrations."""
    import sqlite3

    import mlflow.store.db.utils  # noqa: F401  (registers every MLflow table in Base.metadata)
    from mlflow.store.db.base_sql_model import Base

    if not db.is_file():
        return False
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error:
        return False  # not a database (yet): MLflow opens it under the lock and reports what is wrong
    return set(Base.metadata.tables) <= tables


SUBMISSIONS = "submissions"


def experiment_id(c: MlflowClient, uri: str, tool_id: str, part: str | None = None) -> str:
    """The tool's experiment `harness/<tool>`, created on first use; with `part`, `harness/<tool>/<part>`. Vendor
    submissions go to `harness/<tool>/submissions` (SUBMISSIONS), so that on a shared server a vendor may write
    there and nowhere near the evidence (`harness access open`, issue 12)."""
    name = EXPERIMENT_PREFIX + tool_id + (f"/{part}" if part else "")
    try:
        exp = c.get_experiment_by_name(name)
    except Exception as e:  # a server with authentication answers 403 for an experiment the user may not read
        if "PERMISSION_DENIED" in str(getattr(e, "error_code", "")) or "403" in str(e):
            raise TrackingError(f"you may not read experiment {name!r} on {uri}: on a shared server an administrator "
                                f"opens a tool's records first (`harness access open {tool_id}`)") from None
        raise
    if exp is not None:
        return exp.experiment_id
    root = artifact_root(uri)
    location = (f"{root}/{tool_id}" + (f"/{part}" if part else "")) if root else None
    try:
        return c.create_experiment(name, artifact_location=location, tags={"harness.tool_id": tool_id})
    except Exception:  # another process created it first
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def metric_key(key: str) -> str:
    return re.sub(r"[^\w\-./ ]", "_", key)


def metrics_of(result: AssessmentResult) -> dict[str, float]:
    """`<suite>.<check>.<metric>[.<group>]`; with several datasets the dataset name is appended."""
    several = len(result.datasets) > 1
    out: dict[str, float] = {}
    for s in result.suites:
        for m in s.measurements:
            if m.value is None or not math.isfinite(m.value):
                continue  # undefined for this data (e.g. a rate of a group with no positives)
            key = metric_key(m.key + (f".{s.dataset}" if several else ""))
            out[key] = float(m.value)
    return out


def tags_of(result: AssessmentResult) -> dict[str, str]:
    from harness import __version__

    tags = {
        "harness.tool_id": result.tool["id"],
        "harness.tool_version": str(result.tool["version"]),
        "harness.verdict": result.verdict.value,
        "harness.policy": result.policy["label"],
        "harness.policy_digest": result.policy["digest"],
        # the rule that turned measurements into this verdict (harness.decision), named on every run
        "harness.decision_rule": str(result.policy.get("decision_rule") or
                                     (result.policy.get("document") or {}).get("decision_rule") or "point"),
        "harness.kind": result.kind,
        "harness.version": __version__,
        "harness.risk_tier": result.tool["risk_tier"],
        "harness.category": result.tool["category"],
        "harness.suites": ",".join(dict.fromkeys(s.suite for s in result.suites)),
        "harness.seed": str(result.seed),
    }
    for d in result.datasets:
        tags[f"harness.dataset.{d['name']}"] = d["sha256"]
    for name, p in (result.extra.get("suite_provenance") or {}).items():  # which plugin build measured it
        tags[f"harness.suite.{name}"] = f"{p.get('distribution')} {p.get('version')} ({p.get('entry_point')})"
    # set by the pipeline: the approval gate matches a run to a registered version by the manifest's
    # sha256 and keeps who started the assessment apart from who approves it (policy 2.3, 4.1); the plan
    # it was held to and the sha256 of its recorded inputs/plan.json (harness.plan, policy 4.2, 4.3)
    # and the combined sha256 of the tool's files (harness.tools.artifacts, issue 11)
    for key in ("manifest_digest", "submitter", "plan", "inputs_sha256", "artifacts_digest"):
        if result.extra.get(key):
            tags[f"harness.{key}"] = str(result.extra[key])
    if result.error:
        # free text from the tool: masked before it is cut, so the cut never leaves half a value unrecognised
        # (issue 12); the other tags are identifiers the gate compares (submitter, digests) and stay as they are
        from harness.redact import mask_pii

        tags["harness.error"] = mask_pii(str(result.error["message"]))[:4000]
    return tags


class AssessmentRun:
    """An open MLflow run for one assessment. Created before the reports are written (they carry the
    run id) and closed after every artifact is logged; a failure in between marks the run FAILED."""

    def __init__(self, uri: str, tool_id: str, run_name: str) -> None:
        self.uri = uri
        self.client = client(uri)
        try:
            exp = experiment_id(self.client, uri, tool_id)
            self.run_id: str = self.client.create_run(exp, run_name=run_name).info.run_id
        except Exception as e:
            raise TrackingError(f"cannot start an MLflow run in {uri}: {type(e).__name__}: {e}") from None

    def record(self, result: AssessmentResult, files: list[tuple[Path, str | None]]) -> None:
        """Log tags, metrics (in batches: single calls are 4x slower) and artifacts
        (file, folder in the run or None for the root)."""
        import time

        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in metrics_of(result).items()]
        tags = [RunTag(k, v) for k, v in tags_of(result).items()]
        for i in range(0, max(len(metrics), 1), 900):
            self.client.log_batch(self.run_id, metrics=metrics[i:i + 900], tags=tags if i == 0 else [])
        for f, folder in files:
            self.client.log_artifact(self.run_id, str(f), folder)

    def close(self, ok: bool) -> None:
        self.client.set_terminated(self.run_id, "FINISHED" if ok else "FAILED")


def load_assessment(uri: str, run_id: str) -> dict[str, Any]:
    """Download and parse a run's `assessment.json` (to re-render reports)."""
    c = client(uri)
    try:
        c.get_run(run_id)
    except Exception:
        raise TrackingError(f"no MLflow run {run_id!r} in {uri}") from None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = c.download_artifacts(run_id, "assessment.json", tmp)
        except Exception:
            raise TrackingError(f"run {run_id!r} in {uri} has no assessment.json artifact") from None
        from harness.yamlio import MAX_RECORD_JSON_BYTES, read_json

        # the store can be rewritten like any file: a deep or huge record is bad input, not our crash (issue 12)
        return read_json(Path(path), f"assessment.json of run {run_id}", MAX_RECORD_JSON_BYTES, error=TrackingError)


APPROVED_TAG = "harness.approval"  # set to "approved" on a run by the approval gate (policy 4.1)


def recorded_metrics(uri: str, run_id: str) -> dict[str, float]:
    """A run's metrics as its own assessment.json has them (the bytes `harness.tracking.evidence` checks),
    not as the run's metric table holds them: metrics can be logged again by anyone with store access."""
    from harness.assessment import AssessmentResult

    return metrics_of(AssessmentResult.from_dict(load_assessment(uri, run_id)))
