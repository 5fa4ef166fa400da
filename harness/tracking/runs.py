"""The bottom of `harness.tracking`: where the store is (its URI), whether it can be used, its MLflow client and
the tools' experiments (mlflow is imported only inside `harness.tracking`). `harness.tracking.store.Store` builds
on these; the rest of the harness goes through the `Store`.

One MLflow experiment per tool (`harness/<tool id>`), one run per assessment. The embedded store is a
SQLite file with its artifact folder beside it (`mlruns/mlflow.db`, `mlruns/artifacts/`), created in the
working folder; a tracking server works the same through `--tracking-uri` (DESIGN.md).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import TrackingError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

DEFAULT_STORE = Path("mlruns") / "mlflow.db"
EXPERIMENT_PREFIX = "harness/"
MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # MLflow's codes for "no such run"


def error_code(e: Exception) -> str:
    """MLflow's error code of an exception ("" for one that is not MLflow's)."""
    return str(getattr(e, "error_code", ""))


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


def quiet() -> None:
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

    from harness.tracking.template import seed

    quiet()
    db = sqlite_path(uri)
    if db is None:  # a tracking server creates its own database
        return MlflowClient(tracking_uri=uri)
    with _creation_lock(db):
        if not _initialised(db):
            seed(db)  # a copy of the migrated empty schema when there is a good one (harness.tracking.template)
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
    from harness.tracking.browse import EXPERIMENT_KIND

    kind, classic = EXPERIMENT_KIND
    if exp is not None:
        if kind not in exp.tags:  # made before issue 15: opens in the classic view from now on too
            _tag_experiment(c, exp.experiment_id, kind, classic)
        return exp.experiment_id
    root = artifact_root(uri)
    location = (f"{root}/{tool_id}" + (f"/{part}" if part else "")) if root else None
    try:  # the classic (machine-learning) view of the MLflow UI, not the GenAI one (harness.tracking.browse)
        return c.create_experiment(name, artifact_location=location, tags={"harness.tool_id": tool_id, kind: classic})
    except Exception:  # another process created it first
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _tag_experiment(c: MlflowClient, experiment: str, key: str, value: str) -> None:
    """Set a tag that only changes how the UI shows an experiment: a login that may write runs there but not
    edit the experiment (a vendor's, on a shared server) leaves it as it is."""
    try:
        c.set_experiment_tag(experiment, key, value)
    except Exception as e:
        if error_code(e) != "PERMISSION_DENIED" and "403" not in str(e):
            raise


APPROVED_TAG = "harness.approval"  # set to "approved" on a run by the approval gate (policy 4.1)
