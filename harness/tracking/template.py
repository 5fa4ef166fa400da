"""A new embedded store starts as a copy of an empty, already-migrated database.

Why: MLflow creates an embedded store by running every one of its schema migrations (about 50 Alembic steps,
1-1.5 s on two cores, more than a small tool's whole bias suite) the first time a process opens it. Every
database those steps produce for one MLflow version is the same, empty one; so the harness migrates once per
MLflow version, keeps the result in the user's cache, and copies it for each new store. MLflow then opens the
copy as it opens any store it made: it verifies the schema is at its head revision and creates the Default
experiment with this store's own artifact location (nothing store-specific is in the template).

A template is used only if it is what it claims: a SQLite database whose `alembic_version` holds this MLflow's
head revision, whose `workspaces` holds only MLflow's `default` one, and whose every other table is empty (so a
file planted in the cache cannot put runs, approvals or users into a new store). Anything else, or any error,
and the template is rebuilt, or the store made the ordinary way.
`HARNESS_STORE_TEMPLATE=0` switches the copy off; `HARNESS_CACHE_DIR` moves the cache (default
`$XDG_CACHE_HOME/ai-risk-harness`, else `~/.cache/ai-risk-harness`).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

ENV = "HARNESS_STORE_TEMPLATE"
SEEDED = {"alembic_version": 1, "workspaces": 1}
"""The rows MLflow's migrations themselves write: its revision, and (MLflow 3) the default workspace."""
CACHE_ENV = "HARNESS_CACHE_DIR"


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ai-risk-harness"


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def template_path() -> Path:
    import mlflow
    import sqlalchemy

    return cache_dir() / f"mlflow-{mlflow.__version__}-sqlalchemy-{sqlalchemy.__version__}-empty.db"


def head_revision() -> str:
    """The schema revision this MLflow opens without complaint (it refuses any other as out of date)."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return str(_get_latest_schema_revision())


def is_empty_schema(db: Path, revision: str | None = None) -> bool:
    """True for a SQLite file holding MLflow's tables, one Alembic revision (`revision`, when given) and no row
    in any other table but MLflow's default workspace."""
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        if "alembic_version" not in tables or "experiments" not in tables:
            return False
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            n = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # names from sqlite_master
            if n != SEEDED.get(table, 0):
                return False
        if revision is not None and con.execute("SELECT version_num FROM alembic_version").fetchone()[0] != revision:
            return False
        if "workspaces" in tables:  # MLflow 3's migrations add the one default workspace, and nothing else
            names = [r[0] for r in con.execute("SELECT name FROM workspaces")]
            if names != ["default"]:
                return False
        return True
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _build(target: Path) -> None:
    """Migrate an empty database with MLflow's own creation step, beside `target`, then move it into place whole
    (another process either sees no template or a complete one)."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".building-", suffix=".db", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        engine = sqlalchemy.create_engine(f"sqlite:///{tmp}")
        try:
            _initialize_tables(engine)
        finally:
            engine.dispose()
        if not is_empty_schema(Path(tmp)):
            raise RuntimeError("the migrated database is not an empty MLflow schema")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def seed(db: Path) -> bool:
    """Put a copy of the template at `db` (which must not exist, or be an empty file); False when it was not done,
    and then nothing was left at `db`. Called under the store's creation lock (`harness.tracking.runs.client`)."""
    if not enabled() or (db.exists() and db.stat().st_size > 0):
        return False
    try:
        template, head = template_path(), head_revision()
        if not (template.is_file() and is_empty_schema(template, head)):
            _build(template)
        db.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{db.name}-", dir=db.parent)
        os.close(fd)
        try:
            shutil.copyfile(template, tmp)
            if not is_empty_schema(Path(tmp), head):  # checked again on the copy that will be used
                return False
            os.replace(tmp, db)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return True
    except Exception:  # the cache is an optimisation: any failure makes the store the ordinary way
        return False


__all__ = ["CACHE_ENV", "ENV", "cache_dir", "enabled", "head_revision", "is_empty_schema", "seed", "template_path"]
