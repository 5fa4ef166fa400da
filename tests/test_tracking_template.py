"""harness.tracking.template: a new embedded store copied from the migrated empty schema is the store MLflow
makes itself (same tables, same rows, apart from the Default experiment's timestamps), and a template that is not
what it claims (rows planted in it, a revision MLflow refuses, not a database) is never what a store is made of."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.tracking import template
from harness.tracking.runs import client

pytestmark = pytest.mark.slow  # each test migrates at least one store the ordinary way (1-2 s on 2 cores)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(template.CACHE_ENV, str(folder))
    monkeypatch.setenv(template.ENV, "1")
    return folder


def _dump(db: Path) -> list[str]:
    """Every table's definition and rows; the Default experiment's creation and update times left out."""
    con = sqlite3.connect(db)
    try:
        # each definition's clauses sorted: Alembic's batch migrations emit a table's CHECK constraints in set
        # order, which differs between any two migrations of the same MLflow (hash randomisation)
        out = sorted(" ".join(sorted((r[0] or "").replace("(", "(\n").split("\n")))
                     for r in con.execute("SELECT sql FROM sqlite_master"))
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            if table == "experiments":
                rows = [(r[0], r[1], r[2], r[3], r[6]) for r in rows]
            out.append(f"{table}: {rows}")
        return out
    finally:
        con.close()


def _store(db: Path) -> None:
    c = client(f"sqlite:///{db}")
    c.search_experiments()


def test_a_copied_store_is_the_store_mlflow_makes(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "made" / "mlruns").mkdir(parents=True)
    (tmp_path / "copied" / "mlruns").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "made")  # the Default experiment's location is under the working folder
    monkeypatch.setenv(template.ENV, "0")
    _store(tmp_path / "made" / "mlruns" / "mlflow.db")
    assert not cache.exists()  # switched off: no template either
    monkeypatch.chdir(tmp_path / "copied")
    monkeypatch.setenv(template.ENV, "1")
    _store(tmp_path / "copied" / "mlruns" / "mlflow.db")
    assert template.template_path().is_file() and template.is_empty_schema(template.template_path())
    made = [line.replace(str(tmp_path / "made"), "HERE") for line in _dump(tmp_path / "made" / "mlruns" / "mlflow.db")]
    copied = [line.replace(str(tmp_path / "copied"), "HERE")
              for line in _dump(tmp_path / "copied" / "mlruns" / "mlflow.db")]
    assert made == copied
    assert any(line.startswith("experiments: [(0, 'Default', 'HERE/mlruns/0', 'active'") for line in copied)


def test_a_planted_row_makes_the_template_unusable(cache: Path, tmp_path: Path) -> None:
    _store(tmp_path / "a.db")  # builds the template
    planted = template.template_path()
    con = sqlite3.connect(planted)
    con.execute("INSERT INTO registered_models (name, creation_time, last_updated_time) VALUES ('rental', 1, 1)")
    con.commit()
    con.close()
    assert not template.is_empty_schema(planted)
    _store(tmp_path / "b.db")
    con = sqlite3.connect(tmp_path / "b.db")
    assert con.execute("SELECT COUNT(*) FROM registered_models").fetchone()[0] == 0
    con.close()
    assert template.is_empty_schema(planted)  # rebuilt


def test_a_revision_mlflow_refuses_falls_back_to_migrating(cache: Path, tmp_path: Path) -> None:
    _store(tmp_path / "a.db")
    con = sqlite3.connect(template.template_path())
    con.execute("UPDATE alembic_version SET version_num = '0123456789ab'")
    con.commit()
    con.close()
    assert template.is_empty_schema(template.template_path())  # empty, but at a revision this MLflow refuses
    assert not template.is_empty_schema(template.template_path(), template.head_revision())
    _store(tmp_path / "b.db")
    con = sqlite3.connect(tmp_path / "b.db")
    head = con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    con.close()
    con = sqlite3.connect(tmp_path / "a.db")
    assert head == con.execute("SELECT version_num FROM alembic_version").fetchone()[0] != "0123456789ab"
    con.close()


def test_not_a_database_and_an_existing_store_are_left_alone(cache: Path, tmp_path: Path) -> None:
    template.template_path().parent.mkdir(parents=True)
    template.template_path().write_text("not a database")
    _store(tmp_path / "a.db")  # rebuilt, then copied
    assert template.is_empty_schema(template.template_path())
    existing = tmp_path / "a.db"
    before = existing.read_bytes()
    assert template.seed(existing) is False and existing.read_bytes() == before
