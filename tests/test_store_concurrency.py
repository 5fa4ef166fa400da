"""Several first commands at once on a brand-new embedded store (issue 12, section 3, Hardening).

MLflow creates and migrates a SQLite store the first time a process opens it. Two processes doing that at once
raced in the migrations ("table runs already exists", "duplicate column name: step") and could leave a half-made
`_alembic_tmp_*` table behind, after which every later command failed on that store for good. `harness.tracking.
runs.client` now lets one process create the store under a file lock while the others wait, so the records of
the assessments that policy 4.2 and 4.3 require are not lost to a race.

Worker processes are started once per module and kept (forks of a server that imported the harness and MLflow,
`tests.workers.forked`): each round is only the race itself, started together at a barrier.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_case
from tests.workers import forked

N = 4  # processes starting a first command at once
ROUNDS = 5  # new stores raced on; before the fix the first round already failed, in every trial made

_BARRIER: Any = None


def _warm(barrier: Any) -> None:
    """Import everything a first command needs before any race, so the processes meet at the store together."""
    global _BARRIER
    _BARRIER = barrier
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow.store.model_registry.sqlalchemy_store
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401

    import harness.tracking.registry  # noqa: F401


def _first_command(uri: str, i: int) -> tuple[str, str]:
    """What every harness command does first on a store: open it, find or make the tool's experiment, record a
    run, register the tool. ("ok", run id) or ("error", the exception)."""
    from mlflow.entities import Metric

    from harness.tracking.runs import client, experiment_id
    from harness.tracking.store import Store

    _BARRIER.wait(timeout=120)
    try:
        c = client(uri)
        run = c.create_run(experiment_id(c, uri, "race-tool"), run_name=f"first-{i}").info.run_id
        c.log_batch(run, metrics=[Metric("worker", float(i), 0, 0)])
        c.set_terminated(run, "FINISHED")
        Store(uri).registry.ensure_model("race-tool", {"harness.kind": "tool"})
        return "ok", run
    except Exception as e:
        return "error", f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"


def _first_assessment(uri: str, tool: str, card: str, out: str) -> tuple[str, str, str]:
    """A whole first `assess` (the pipeline every CLI assessment runs) on a store nobody has opened yet:
    ("ok", run id, verdict) or ("error", the exception, "")."""
    from harness.workflows.assess import run_assessment

    _BARRIER.wait(timeout=120)
    try:
        rec = run_assessment(tool, [card], tracking_uri=uri, out=out)
        return "ok", rec.result.run_id or "", rec.result.verdict.value
    except Exception as e:
        return "error", f"{type(e).__name__}: {' '.join(str(e).split())[:300]}", ""


@pytest.fixture(scope="module")
def workers() -> Iterator[ProcessPoolExecutor]:
    ctx = forked()
    with ProcessPoolExecutor(N, mp_context=ctx, initializer=_warm, initargs=(ctx.Barrier(N),)) as pool:
        yield pool


def _race(pool: ProcessPoolExecutor, fn: Any, args: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Each call waits at the barrier inside its own worker, so the N calls run on N processes at once."""
    return [f.result(timeout=300) for f in [pool.submit(fn, *a) for a in args]]


def _sound(db: Path) -> tuple[str, list[str], str, list[str]]:
    """(integrity, schema versions, the version this MLflow expects, leftover alembic scratch tables)."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    con = sqlite3.connect(db)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        versions = [r[0] for r in con.execute("SELECT version_num FROM alembic_version")]
        scratch = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp_%'")]
    finally:
        con.close()
    return integrity, versions, _get_latest_schema_revision(), scratch


@pytest.mark.slow
def test_concurrent_first_commands_on_a_new_store_all_land(workers: ProcessPoolExecutor, tmp_path: Path) -> None:
    from harness.tracking.runs import client

    started = time.monotonic()
    for k in range(ROUNDS):
        db = tmp_path / f"round{k}" / "mlruns" / "mlflow.db"
        uri = f"sqlite:///{db}"
        results = _race(workers, _first_command, [(uri, i) for i in range(N)])
        assert [r for r in results if r[0] != "ok"] == [], f"round {k}"
        integrity, versions, head, scratch = _sound(db)
        assert (integrity, versions, scratch) == ("ok", [head], []), f"round {k}"
        c = client(uri)  # a later command opens the store as it is left
        assert sorted(e.name for e in c.search_experiments()) == ["Default", "harness/race-tool"]
        runs = c.search_runs([c.get_experiment_by_name("harness/race-tool").experiment_id])
        assert sorted(r.info.run_id for r in runs) == sorted(r[1] for r in results)
        assert sorted(r.data.metrics["worker"] for r in runs) == [0.0, 1.0, 2.0, 3.0]
        assert {r.info.status for r in runs} == {"FINISHED"}
        assert c.get_registered_model("race-tool").tags == {"harness.kind": "tool"}
        assert (db.parent / "mlflow.db.lock").is_file()
    print(f"{ROUNDS} rounds of {N} first commands: {time.monotonic() - started:.1f} s")


@pytest.mark.slow
def test_concurrent_first_assessments_are_all_recorded(workers: ProcessPoolExecutor, tmp_path: Path) -> None:
    """Four tools, so the race is the store's creation alone (four assessments of one tool version also race in
    the gate's tags on that version, a separate matter)."""
    from harness.tracking.runs import client

    cases = [write_case(tmp_path / f"case{i}", n=300, seed=i) for i in range(N)]
    db = tmp_path / "store" / "mlruns" / "mlflow.db"
    uri = f"sqlite:///{db}"
    results = _race(workers, _first_assessment, [(uri, str(tool), str(card), str(tmp_path / f"out{i}"))
                                                 for i, (tool, card) in enumerate(cases)])
    assert [r for r in results if r[0] != "ok"] == []
    integrity, versions, head, scratch = _sound(db)
    assert (integrity, versions, scratch) == ("ok", [head], [])
    c = client(uri)
    for i, (_, run_id, verdict) in enumerate(results):
        runs = c.search_runs([c.get_experiment_by_name(f"harness/case-tool-{i}").experiment_id])
        assert [(r.info.run_id, r.info.status, r.data.tags["harness.tool_id"], r.data.tags["harness.verdict"])
                for r in runs] == [(run_id, "FINISHED", f"case-tool-{i}", verdict)]
        assert verdict in ("PASS", "NEEDS_REVIEW", "FAIL")


def test_a_first_command_waits_while_another_creates_the_store(tmp_path: Path) -> None:
    """The lock is what orders them: while it is held, a first open neither creates nor touches the database."""
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (imported before, so 3 s is all waiting)

    from harness.tracking.runs import client

    db = tmp_path / "mlruns" / "mlflow.db"
    uri = f"sqlite:///{db}"
    db.parent.mkdir(parents=True)
    opened: list[object] = []
    with open(db.parent / "mlflow.db.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process creating the store
        t = threading.Thread(target=lambda: opened.append(client(uri)))
        t.start()
        t.join(3)
        assert t.is_alive() and not db.exists()
    t.join(60)
    assert not t.is_alive() and len(opened) == 1
    assert _sound(db)[:2] == ("ok", [_sound(db)[2]])
    with open(db.parent / "mlflow.db.lock", "a") as again:  # released once the store is made
        fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_tracking_server_uri_takes_no_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.tracking.runs import client

    monkeypatch.chdir(tmp_path)
    client("http://127.0.0.1:9")  # MLflow does not contact a server until the first request
    assert list(tmp_path.iterdir()) == []
