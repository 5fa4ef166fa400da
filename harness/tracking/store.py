"""One MLflow store, opened once per command (issue 13, section 2).

A `Store` resolves the tracking URI, checks it can be used, holds the one MLflow client of the command and
offers the few things the harness does with MLflow: open a run that always ends FINISHED or FAILED
(`finished_run`), read a run (`run`), read or download its artifacts (`artifact_text`, `artifact_bytes`,
`download`) and reach the Model Registry (`registry`). Every reader treats "missing" one way: a run or a file
that is not there is None; a store that cannot be read is a `TrackingError` (a `HarnessError`), so a caller
never mistakes an unreachable server for an empty one. A shared server's refusal (PERMISSION_DENIED) of a listing
goes on as MLflow raised it, for the CLI to name the login it refused.

Looking must not create a store: the readers answer "nothing there" for an embedded store whose database file
does not exist yet, without opening it.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import TrackingError
from harness.tracking.registry import Registry
from harness.tracking.runs import MISSING, check_reachable, client, error_code, experiment_id, resolve_uri, sqlite_path

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

PAGE = 1000
BATCH = 900  # metrics per log_batch call (MLflow accepts 1,000; single calls are 4x slower)


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


def record_of(r: Any) -> RunRecord:
    """An MLflow `Run` entity as plain data, so nothing outside tracking depends on MLflow's classes."""
    return RunRecord(run_id=r.info.run_id, experiment_id=r.info.experiment_id, run_name=r.info.run_name or "",
                     status=r.info.status, lifecycle_stage=r.info.lifecycle_stage,
                     start_ms=int(r.info.start_time or 0),
                     end_ms=int(r.info.end_time) if r.info.end_time else None,
                     artifact_uri=r.info.artifact_uri or "", params=dict(r.data.params), tags=dict(r.data.tags),
                     metrics={k: float(v) for k, v in r.data.metrics.items()})


def _denied(e: Exception) -> bool:
    """A shared server's access control said no: not "missing" and not "unreachable"."""
    return error_code(e) == "PERMISSION_DENIED" or "failed with error code 403" in str(e)


def _short(e: Exception) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:500]}"


class OpenRun:
    """A run inside `Store.finished_run`: what the caller logs to it before it is closed."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.failed = False

    def fail(self) -> None:
        """End the run FAILED although no exception is raised (e.g. an assessment that ended in ERROR)."""
        self.failed = True

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.store.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], tags: dict[str, str] | None = None) -> None:
        """Metrics at step 0 (and tags with the first batch), in batches: single calls are 4x slower."""
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        rows = [Metric(k, v, now, 0) for k, v in metrics.items()]
        first = [RunTag(k, v) for k, v in (tags or {}).items()]
        for i in range(0, max(len(rows), 1), BATCH):
            self.store.client.log_batch(self.run_id, metrics=rows[i:i + BATCH], tags=first if i == 0 else [])

    def log_inputs(self, datasets: list[Any]) -> None:
        """MLflow dataset inputs (`harness.tracking.browse.dataset_inputs`): the run page's "Datasets"."""
        if datasets:
            self.store.client.log_inputs(self.run_id, datasets=datasets)

    def log_file(self, local: Path, folder: str | None = None) -> None:
        self.store.client.log_artifact(self.run_id, str(local), folder)

    def log_folder(self, local: Path, folder: str | None = None) -> None:
        self.store.client.log_artifacts(self.run_id, str(local), folder)

    def log_bytes(self, name: str, data: bytes, folder: str | None = None) -> None:
        """A file made here (a listing, a copy) logged under `folder/name`, byte for byte."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            self.log_file(path, folder)


class Store:
    """One tracking store and its one MLflow client (created on first use: `harness --help` and a read of a
    store that does not exist never import mlflow)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._client: MlflowClient | None = None
        self._registry: Registry | None = None

    @classmethod
    def open(cls, tracking_uri: str | None, *, reach: bool = True) -> Store:
        """The store a command works on: --tracking-uri, else $MLFLOW_TRACKING_URI, else the embedded store in
        the working folder (`resolve_uri`); with `reach`, checked usable before anything else runs."""
        store = cls(resolve_uri(tracking_uri))
        if reach:
            check_reachable(store.uri)
        return store

    @property
    def exists(self) -> bool:
        """False for an embedded store whose database file is not there yet (nothing to read)."""
        db = sqlite_path(self.uri)
        return db is None or db.is_file()

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = client(self.uri)
        return self._client

    @property
    def registry(self) -> Registry:
        """The Model Registry of this store, on the same client."""
        if self._registry is None:
            self._registry = Registry(self)
        return self._registry

    def experiment_id(self, tool_id: str, part: str | None = None) -> str:
        """`harness/<tool>` (or `harness/<tool>/<part>`), created on first use."""
        return experiment_id(self.client, self.uri, tool_id, part)

    # -- writing -------------------------------------------------------------------------------------

    @contextmanager
    def finished_run(self, experiment: str, name: str, tags: dict[str, str], *, part: str | None = None,
                     what: str = "an MLflow run") -> Iterator[OpenRun]:
        """Create a run in `harness/<experiment>[/<part>]`, tag it, let the caller log to it, and mark it
        FINISHED; FAILED when the caller raises (the exception goes on) or calls `fail()`. The run exists in both
        cases, so an incomplete run is part of the record but never taken for a complete one (policy 3.2). A run
        held open by hand (`AssessmentRun`) and dropped without being closed stays RUNNING, as after a kill:
        never evidence either."""
        try:
            exp = self.experiment_id(experiment, part)
            run_id: str = self.client.create_run(exp, run_name=name).info.run_id
        except TrackingError:
            raise
        except Exception as e:
            raise TrackingError(f"cannot start {what} in {self.uri}: {type(e).__name__}: {e}") from None
        run = OpenRun(self, run_id)
        ok = abandoned = False
        try:
            if tags:
                run.set_tags(tags)
            yield run
            ok = not run.failed
        except GeneratorExit:  # never closed (held open by hand, then dropped): left as a killed process leaves it
            abandoned = True
            raise
        finally:
            if not abandoned:
                self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self.client.set_tag(run_id, key, value)

    def log_file(self, run_id: str, local: Path, folder: str | None = None) -> None:
        """Add a file to a run that is already closed (the manifest of a run registered after the fact)."""
        self.client.log_artifact(run_id, str(local), folder)

    # -- reading -------------------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord | None:
        """One run by id; None when the store has no such run."""
        if not self.exists:
            return None
        try:
            return record_of(self.client.get_run(run_id))
        except Exception as e:
            if error_code(e) in MISSING:
                return None
            raise TrackingError(f"cannot read MLflow run {run_id!r} in {self.uri}: {e}") from None

    def runs(self, tool_id: str) -> list[RunRecord]:
        """Every run in the tool's experiment (`harness/<tool id>`), deleted ones included, oldest first."""
        from mlflow.entities import ViewType

        from harness.tracking.runs import EXPERIMENT_PREFIX

        if not self.exists:
            return []
        exp = self.client.get_experiment_by_name(EXPERIMENT_PREFIX + tool_id)
        if exp is None:
            return []
        out: list[RunRecord] = []
        token: str | None = None
        while True:
            page = self.client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=PAGE,
                                           page_token=token, order_by=["attributes.start_time ASC"])
            out += [record_of(r) for r in page]
            token = page.token
            if not token:
                return out

    def _siblings(self, run_id: str, path: str) -> list[Any] | None:
        """The artifacts listed beside `path` (its folder's listing); None when the store or the run is not
        there. The one place "missing" is decided for every artifact reader."""
        if not self.exists:
            return None
        folder = path.rsplit("/", 1)[0] if "/" in path else None
        try:
            return list(self.client.list_artifacts(run_id, folder))
        except Exception as e:
            if error_code(e) in MISSING:
                return None
            if _denied(e):
                raise  # the CLI says which login the server refused, and why (`harness access open`)
            raise TrackingError(f"cannot list the artifacts of run {run_id} in {self.uri}: {_short(e)}") from None

    def has_artifact(self, run_id: str, path: str) -> bool:
        """Whether the run has the file `path` (False for a missing run or a folder)."""
        listed = self._siblings(run_id, path)
        return listed is not None and any(a.path == path and not a.is_dir for a in listed)

    def artifact_bytes(self, run_id: str, path: str) -> bytes | None:
        """One artifact of a run, byte for byte; None when the run or the file is not there."""
        if not self.has_artifact(run_id, path):
            return None
        with tempfile.TemporaryDirectory() as tmp:
            try:
                return Path(self.client.download_artifacts(run_id, path, tmp)).read_bytes()
            except Exception as e:
                raise TrackingError(f"cannot read {path} of run {run_id} in {self.uri}: {_short(e)}") from None

    def artifact_text(self, run_id: str, path: str) -> str | None:
        """One artifact of a run as UTF-8 text; None when the run or the file is not there."""
        data = self.artifact_bytes(run_id, path)
        return None if data is None else data.decode("utf-8")

    def download(self, run_id: str, path: str, dst: Path) -> Path | None:
        """Download a file or folder of a run's artifacts (`""`: all of them) into `dst`, keeping the run's
        layout; returns its local path, or None when the run or the path is not there."""
        listed = self._siblings(run_id, path)
        if not listed or (path and not any(a.path == path for a in listed)):
            return None
        dst.mkdir(parents=True, exist_ok=True)
        try:
            return Path(self.client.download_artifacts(run_id, path, str(dst)))
        except Exception as e:
            raise TrackingError(f"cannot download {path or 'the artifacts'} of run {run_id} from {self.uri}: "
                                f"{_short(e)}") from None


__all__ = ["OpenRun", "RunRecord", "Store", "record_of"]
