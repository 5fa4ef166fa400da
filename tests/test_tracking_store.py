"""The one `Store` (issue 13, section 2): runs always end FINISHED or FAILED, and every reader treats "missing"
one way (None) and an unreachable store another (a TrackingError), against a real embedded store."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError, TrackingError
from harness.tracking import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{(tmp_path / 'mlruns' / 'mlflow.db').as_posix()}")


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_finished_run_is_tagged_holds_its_files_and_ends_finished(store: Store, tmp_path: Path) -> None:
    with store.finished_run("store-tool", "store-tool 1.0 plan", {"harness.kind": "plan", "a": "1"}) as run:
        run.log_file(_file(tmp_path, "notes.txt", "hello"), "inputs")
        run.log_bytes("files.json", b'{"x": 1}\n', "registration")
        run.log_metrics({"bias.m.rate": 0.25}, {"b": "2"})
    rec = store.run(run.run_id)
    assert rec is not None
    assert (rec.status, rec.run_name, rec.kind) == ("FINISHED", "store-tool 1.0 plan", "plan")
    assert {k: v for k, v in rec.tags.items() if not k.startswith("mlflow.")} == {
        "harness.kind": "plan", "a": "1", "b": "2"}
    assert rec.metrics == {"bias.m.rate": 0.25}
    assert store.artifact_text(run.run_id, "inputs/notes.txt") == "hello"
    assert store.artifact_bytes(run.run_id, "registration/files.json") == b'{"x": 1}\n'
    exp = store.client.get_experiment(rec.experiment_id)
    assert exp.name == "harness/store-tool"


def test_a_run_whose_caller_raises_ends_failed_and_the_error_goes_on(store: Store, tmp_path: Path) -> None:
    opened = store.finished_run("store-tool", "half", {"harness.kind": "submission"}, part="submissions")
    with pytest.raises(OSError, match=r"^disk full$"), opened as run:
        run.log_file(_file(tmp_path, "first.txt", "one"))
        raise OSError("disk full")
    rec = store.run(run.run_id)
    assert rec is not None  # the attempt stays part of the record
    assert (rec.status, rec.tags["harness.kind"]) == ("FAILED", "submission")
    assert store.client.get_experiment(rec.experiment_id).name == "harness/store-tool/submissions"
    assert store.artifact_text(run.run_id, "first.txt") == "one"
    assert store.artifact_text(run.run_id, "second.txt") is None


def test_fail_ends_a_run_failed_without_an_exception(store: Store) -> None:
    with store.finished_run("store-tool", "error verdict", {}) as run:
        run.fail()
    rec = store.run(run.run_id)
    assert rec is not None and rec.status == "FAILED"


def test_a_missing_run_or_file_is_none_for_every_reader(store: Store, tmp_path: Path) -> None:
    with store.finished_run("store-tool", "one file", {}) as run:
        run.log_bytes("a.json", b"{}", "inputs")
    missing = "0" * 32
    assert store.run(missing) is None
    assert store.artifact_text(missing, "a.json") is None
    assert store.artifact_bytes(missing, "inputs/a.json") is None
    assert store.download(missing, "inputs", tmp_path / "d1") is None
    assert store.artifact_text(run.run_id, "inputs/b.json") is None  # no such file
    assert store.artifact_text(run.run_id, "inputs") is None  # a folder is not a file
    assert store.artifact_text(run.run_id, "other/a.json") is None  # no such folder
    assert store.download(run.run_id, "other", tmp_path / "d2") is None
    got = store.download(run.run_id, "inputs", tmp_path / "d3")
    assert got is not None and (got / "a.json").read_bytes() == b"{}"


def test_reading_a_store_that_does_not_exist_finds_nothing_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none" / "mlflow.db"
    store = Store(f"sqlite:///{db.as_posix()}")
    assert store.run("0" * 32) is None
    assert store.artifact_text("0" * 32, "assessment.json") is None
    assert store.runs("store-tool") == []
    assert store.registry.versions("store-tool") == []
    assert not db.exists() and not db.parent.exists()


def test_an_unreachable_server_is_an_error_not_a_missing_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    store = Store("http://127.0.0.1:9")  # nothing listens on the discard port
    run_id = "0" * 32
    with pytest.raises(TrackingError) as e:
        store.run(run_id)
    assert isinstance(e.value, HarnessError)
    assert str(e.value).startswith(f"cannot read MLflow run {run_id!r} in http://127.0.0.1:9: ")
    with pytest.raises(TrackingError) as e:
        store.artifact_text(run_id, "assessment.json")
    assert str(e.value).startswith(f"cannot list the artifacts of run {run_id} in http://127.0.0.1:9: ")
    with pytest.raises(TrackingError) as e:
        Store.open("http://127.0.0.1:9")
    assert str(e.value).startswith("cannot reach the MLflow tracking server at http://127.0.0.1:9: ")


def test_the_store_keeps_one_client_and_its_registry_uses_it(store: Store) -> None:
    assert store.client is store.client
    assert store.registry is store.registry
    assert store.registry.c is store.client
    assert store.registry.uri == store.uri


def test_an_assessment_run_held_open_ends_as_closed_or_stays_running_when_dropped(store: Store, tmp_path: Path) -> None:
    import gc

    from harness.tracking import AssessmentRun

    done = AssessmentRun(store, "store-tool", "kept")
    done.record({"a.b.c": 1.0, "a.b.d": 0.5}, {"harness.kind": "pre-acquisition"},
                [(_file(tmp_path, "assessment.json", "{}"), None)])
    done.close(True)
    errored = AssessmentRun(store, "store-tool", "error verdict")
    errored.close(False)
    dropped = AssessmentRun(store, "store-tool", "killed")
    dropped_id = dropped.run_id
    del dropped
    gc.collect()
    kept = store.run(done.run_id)
    assert kept is not None
    assert (kept.status, kept.metrics, kept.tags["harness.kind"]) == (
        "FINISHED", {"a.b.c": 1.0, "a.b.d": 0.5}, "pre-acquisition")
    assert store.artifact_text(done.run_id, "assessment.json") == "{}"
    assert [store.run(r).status for r in (errored.run_id, dropped_id)] == ["FAILED", "RUNNING"]  # type: ignore[union-attr]


def test_the_gate_gets_back_the_very_store_its_registry_reads_and_nothing_else(tmp_path: Path) -> None:
    """inputs.store_of hands the gate the Store behind a registry; a registry built on a look-alike object
    (anything with a uri, exists and client, which is all the registry's protocol asks) is refused, not trusted."""
    from harness.gate.inputs import registry_at, store_of
    from harness.tracking.registry import Registry

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = registry_at(uri)
    assert isinstance(store_of(reg), Store) and store_of(reg) is reg.store and store_of(reg).uri == uri == reg.uri

    class LookAlike:
        uri = "sqlite:///elsewhere.db"
        exists = True
        client = None

    refusal = r"^the gate's registry at sqlite:///elsewhere.db is not backed by a harness Store$"
    with pytest.raises(TypeError, match=refusal):
        store_of(Registry(LookAlike()))
