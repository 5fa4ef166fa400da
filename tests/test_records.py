"""`harness records export` (policy 3.2) from a real SQLite MLflow store: every run with its params, tags and
metrics, every artifact byte for byte, the decision history with its verification, and checksums that
`sha256sum -c` accepts and that catch a changed file."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness import gate
from harness.errors import ConfigError
from harness.manifest import load_manifest
from harness.workflows.assess import run_assessment
from harness.workflows.records_export import SUMS, export_records, sums_line
from tests.conftest import perfect_case, single_user, write_case

TOOL, OTHER = "case-tool-6", "case-tool-9"
LOG = TOOL + " (decision log)"


def harness(*args: str) -> Result:
    """`harness ARGS` in-process (issue 13: no interpreter start per call), stdout and stderr kept apart, a wide
    terminal so that rich never folds a line; a bug that escapes the command's own error handling is raised."""
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "400"}, prog_name="harness", catch_exceptions=False)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Store:
    root: Path
    run: str
    out: Path
    registration: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A passing tool assessed by dana and approved by rita; a second tool only registered (a registration run
    with the digests of its files)."""
    root = tmp_path_factory.mktemp("records")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    tool, card = perfect_case(root / "case", seed=6)
    rec = run_assessment(tool, [str(card)], tracking_uri=uri, out=root / "out", submitter="dana")
    assert rec.result.verdict.value == "PASS"
    gate.approve(uri, TOOL, "1.0", run_id=str(rec.result.run_id), reviewer="rita", rationale="every check passes")
    other, _ = write_case(root / "other", n=200, seed=9)
    files = {"tool.yaml": sha(other), "predictions.csv": sha(other.parent / "predictions.csv")}
    ref = gate.register_version(uri, load_manifest(other), other, submitter="vendor-ann", files=files)
    registration = gate.status(uri, OTHER)[0].submitted.run_id
    assert ref.created and registration
    return Store(root=root, run=str(rec.result.run_id), out=root / "out", registration=str(registration))


def uri_of(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow.db'}"


def artifact_paths(uri: str, run_id: str) -> list[str]:
    """Every artifact of a run, as MLflow lists it (folders walked), sorted."""
    from mlflow.tracking import MlflowClient

    c, out, todo = MlflowClient(uri), [], [None]
    while todo:
        for a in c.list_artifacts(run_id, todo.pop()):
            (todo if a.is_dir else out).append(a.path)
    return sorted(out)


def check_sums(folder: Path) -> list[str]:
    """Recompute every line of SHA256SUMS with hashlib; returns the names that do not match."""
    bad = []
    for line in (folder / SUMS).read_text().splitlines():
        digest, name = line.split("  ", 1)
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
            bad.append(name)
    return bad


def test_every_run_artifact_and_decision_is_exported_with_checksums(store: Store, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    out = tmp_path / "records"
    done = export_records(uri_of(store.root), TOOL, out)
    assert (done.runs, done.decisions, done.chain_ok) == ((store.run,), 3, True)

    # the run as MLflow has it
    run = json.loads((out / "runs" / store.run / "run.json").read_text())
    mlflow_run = MlflowClient(uri_of(store.root)).get_run(store.run)
    assert run["tags"] == dict(mlflow_run.data.tags) and run["metrics"] == dict(mlflow_run.data.metrics)
    assert run["params"] == {} and run["status"] == "FINISHED" and run["kind"] == "pre-acquisition"
    assert (run["tags"]["harness.verdict"], run["tags"]["harness.submitter"], run["tags"]["harness.approval"]) == (
        "PASS", "dana", "approved")
    assert run["metrics"]["bias.demographic_parity.difference.sex"] == mlflow_run.data.metrics[
        "bias.demographic_parity.difference.sex"]
    # every artifact MLflow holds, byte for byte the files the pipeline logged
    logged = artifact_paths(uri_of(store.root), store.run)
    assert {"assessment.json", "report.html", "report.md", "inputs/case-6.card.yaml", "inputs/policy.yaml",
            "inputs/tool.yaml", "tables/bias-case-6.json", "tables/findings.json"} <= set(logged)
    assert run["artifacts"] == logged and done.artifacts == len(logged)
    for name in ("assessment.json", "report.html", "report.md", "inputs/tool.yaml", "inputs/policy.yaml"):
        assert sha(out / "runs" / store.run / "artifacts" / name) == sha(store.out / name), name

    # the decision history and its verification
    history = json.loads((out / "decisions" / "history.json").read_text())
    assert [(r["seq"], r["record"]["action"], r["record"]["actor"]) for r in history["records"]] == [
        (1, "submit", "dana"), (2, "assess", "dana"), (3, "approve", "rita")]
    v = gate.verify_history(uri_of(store.root), TOOL)
    from harness.gate.signing import load_signer, public_text

    me = load_signer()
    assert history["verification"] == {"ok": True, "records": 3, "head": v.head, "problems": [], "superseded": [],
                                       "signers": {me.fingerprint: public_text(me.public)}, "evidence_ok": True,
                                       "evidence_problems": []}
    last = history["records"][2]
    assert last["sha256"] == v.head == gate.sha256_text(gate.canonical(last["record"]))
    entries = json.loads((out / "decisions" / "log_entries.json").read_text())
    assert [e["number"] for e in entries] == [1, 2, 3]
    assert entries[2]["tags"]["harness.decision.sha256"] == v.head
    versions = json.loads((out / "registry" / "tool_versions.json").read_text())
    assert versions["aliases"] == {"approved": 1}
    assert [(x["number"], x["tags"]["harness.state"], x["run_id"]) for x in versions["versions"]] == [
        (1, "approved", store.run)]

    # the checksums: every file but SHA256SUMS itself is listed once, and each digest is right
    listed = [line.split("  ", 1)[1] for line in (out / SUMS).read_text().splitlines()]
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != SUMS)
    # the artifacts, run.json, tool_versions.json, log_entries.json, history.json, records.json and manifest.json
    assert listed == on_disk and "manifest.json" in listed and len(listed) == done.files - 1 == len(logged) + 6
    assert check_sums(out) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        p: sha(out / p) for p in on_disk if p != "manifest.json"}
    assert (manifest["tool"], manifest["decisions"]["head"], manifest["runs"][0]["artifacts"]) == (
        TOOL, v.head, len(logged))
    if shutil.which("sha256sum"):
        r = subprocess.run(["sha256sum", "--strict", "-c", SUMS], cwd=out, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count(": OK\n") == len(logged) + 6


def test_a_changed_file_fails_the_check(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "records"
    export_records(uri_of(store.root), TOOL, out)
    report = out / "runs" / store.run / "artifacts" / "report.md"
    report.write_text(report.read_text().replace("PASS", "FAIL"))
    assert check_sums(out) == [f"runs/{store.run}/artifacts/report.md"]
    if shutil.which("sha256sum"):
        r = subprocess.run(["sha256sum", "-c", SUMS], cwd=out, capture_output=True, text=True)
        assert r.returncode == 1 and f"runs/{store.run}/artifacts/report.md: FAILED" in r.stdout


def test_a_registration_only_tool_exports_its_registration_run(store: Store, tmp_path: Path) -> None:
    done = export_records(uri_of(store.root), OTHER, tmp_path / "other")
    assert (done.runs, done.decisions, done.artifacts) == ((store.registration,), 1, 2)
    run = json.loads((tmp_path / "other" / "runs" / store.registration / "run.json").read_text())
    assert (run["kind"], run["tags"]["harness.submitter"]) == ("registration", "vendor-ann")
    assert run["artifacts"] == ["inputs/tool.yaml", "registration/files.json"]
    files = json.loads((tmp_path / "other" / "runs" / store.registration / "artifacts" / "registration" /
                        "files.json").read_text())
    assert files["tool.yaml"] == sha(store.root / "other" / "tool.yaml")


def test_a_tampered_history_is_exported_and_reported(store: Store, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    shutil.copyfile(store.root / "mlflow.db", tmp_path / "mlflow.db")
    uri = uri_of(tmp_path)
    MlflowClient(uri).set_model_version_tag(LOG, "2", "harness.decision.record", gate.canonical(
        {**gate.history(uri, TOOL).records[1].record, "verdict": "NEEDS_REVIEW"}))
    done = export_records(uri, TOOL, tmp_path / "records")
    assert not done.chain_ok and done.decisions == 1
    history = json.loads((tmp_path / "records" / "decisions" / "history.json").read_text())
    assert history["verification"]["ok"] is False
    assert history["verification"]["problems"][0].startswith(
        "record 2 (assess of 1.0) was altered: its content no longer matches its sha256; changed: verdict (written "
        "'PASS', now 'NEEDS_REVIEW')")
    # the raw entries keep what was stored, so the break can be investigated from the archive alone
    entries = json.loads((tmp_path / "records" / "decisions" / "log_entries.json").read_text())
    assert '"verdict":"NEEDS_REVIEW"' in entries[1]["tags"]["harness.decision.record"]
    assert check_sums(tmp_path / "records") == []
    r = harness("records", "export", TOOL, "--out", str(tmp_path / "again"), "--tracking-uri", uri)
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "decision history broken: record 2 (assess of 1.0) was altered" in r.stdout


def test_refusals(store: Store, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("x")
    with pytest.raises(ConfigError) as e:
        export_records(uri_of(store.root), TOOL, tmp_path / "full")
    assert str(e.value) == (f"{tmp_path / 'full'} is not an empty folder; records are exported into a new or empty "
                            "folder so that the checksum manifest covers exactly what is in it")
    with pytest.raises(ConfigError) as e:
        export_records(uri_of(store.root), "no-such-tool", tmp_path / "none")
    assert str(e.value) == (f"no tool 'no-such-tool' in {uri_of(store.root)}: it has no runs, no registered versions "
                            "and no decision log (check the tool id with `harness inventory`)")
    assert not (tmp_path / "none").exists()


def test_escaped_names_follow_sha256sum(tmp_path: Path) -> None:
    digest = "ab" * 32
    assert sums_line(digest, "runs/a/report.md") == f"{digest}  runs/a/report.md"
    assert sums_line(digest, "odd\\name\nx") == f"\\{digest}  odd\\\\name\\nx"
    if shutil.which("sha256sum"):
        name = "back\\slash.txt"
        (tmp_path / name).write_text("hello")
        (tmp_path / SUMS).write_text(sums_line(sha(tmp_path / name), name) + "\n")
        r = subprocess.run(["sha256sum", "--strict", "-c", SUMS], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_the_command_line(store: Store, tmp_path: Path) -> None:
    r = harness("records", "export", TOOL, "--out", str(tmp_path / "r"), "--tracking-uri", uri_of(store.root))
    assert r.exit_code == 0, r.stderr
    head = gate.verify_history(uri_of(store.root), TOOL).head
    n = len(artifact_paths(uri_of(store.root), store.run))
    assert r.stdout == (f"exported 1 run(s), {n} artifact(s) and 3 decision record(s) of {TOOL} to {tmp_path / 'r'} "
                        f"({n + 7} files; check with `sha256sum -c {SUMS}`)\n"
                        f"decision history verified: 3 records, head sha256 {head}\n"
                        "evidence verified: every assessment's files match the digests its record keeps\n")
