"""Scheduled re-assessment (policy 4.3) against a real SQLite MLflow store: `harness reassess --due` re-runs
what is due by the plan of its approval, suspends a version that now FAILs (the gate closes), moves the
due date of one that PASSes, and reports a tool whose dataset went missing or whose code crashes without
stopping the others. An interrupted re-assessment leaves nothing half-recorded."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from harness import gate
from harness.cli import main
from harness.errors import ConfigError, GateError
from harness.tracking import AssessmentRun
from harness.workflows.assess import run_assessment
from harness.workflows.reassess import Outcome, exit_code, reassess, select
from tests.conftest import perfect_case, single_user, write_case

HARNESS = str(Path(sys.executable).with_name("harness"))
SCORER = '''"""A tool under test: answers from predictions.csv beside it (informative, so it passes the performance
suite); crashes when a file named `broken` is next to it, and hangs (after saying so) when one named `slow` is."""
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def predict(frame):
    if (HERE / "broken").exists():
        raise RuntimeError("scoring service returned 503")
    if (HERE / "slow").exists():
        (HERE / "started").write_text("predicting")
        time.sleep(120)
    table = pd.read_csv(HERE / "predictions.csv")
    rows = pd.to_numeric(pd.Series(frame.index), errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(rows) & (rows >= 0) & (rows < len(table))
    return np.where(known, table["prediction"].to_numpy()[np.where(known, rows, 0).astype(int)], 0)
'''


def make_biased(tool: Path) -> None:
    """The vendor's new predictions: 70 % of the women who should be selected are not (a blocking FAIL)."""
    data = pd.read_csv(tool.parent / "data.csv")
    rng = np.random.default_rng(0)
    pred = data["approved"].to_numpy().copy()
    women = (data["sex"] == "F").to_numpy() & (pred == 1)
    pred[women & (rng.random(len(pred)) < 0.7)] = 0
    pd.DataFrame({"id": data["id"], "prediction": pred, "score": pred * 0.8 + 0.1}).to_csv(
        tool.parent / "predictions.csv", index=False)


def scorer_case(folder: Path, seed: int) -> tuple[Path, Path]:
    tool, card = write_case(folder, n=10000, seed=seed, kind="python")
    tool.write_text(tool.read_text().replace("{callable}", "scorer:predict"))
    (folder / "scorer.py").write_text(SCORER)
    return tool, card


def run_at(uri: str, tool: str) -> datetime:
    vs = gate.status(uri, tool, "1.0")[0]
    assert vs.completed is not None
    return datetime.fromisoformat(vs.completed.run_at)


def assess_and_approve(uri: str, tool: Path, card: Path, suites: list[str] | None, out: Path) -> str:
    rec = run_assessment(tool, [str(card)], suites=suites, tracking_uri=uri, out=out, submitter="dana")
    assert rec.result.verdict.value in ("PASS", "NEEDS_REVIEW"), rec.result.reasons
    gate.approve(uri, rec.result.tool["id"], "1.0", run_id=str(rec.result.run_id), reviewer="omar",
                 rationale="income-only scoring; the open findings are interval widths")
    return str(rec.result.run_id)


def harness(*args: str) -> Result:
    """`harness ARGS` in-process (issue 13: no interpreter start per call), stdout and stderr kept apart, with no
    data folder or store from the caller's environment and a wide terminal; a bug that escapes the command's own
    error handling is raised. The SIGTERM test below runs the installed program: it is about the process."""
    return CliRunner().invoke(main, list(args), env={"HARNESS_DATA_DIR": None, "MLFLOW_TRACKING_URI": None,
                                                     "COLUMNS": "250"}, prog_name="harness", catch_exceptions=False)


def actions(uri: str, tool: str) -> list[tuple[str, str | None]]:
    return [(d.action, d.verdict) for d in gate.history(uri, tool).records]


def run_status(uri: str, run_id: str) -> str:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri).get_run(run_id).info.status


def new_runs(uri: str, tool: str, known: set[str]) -> list:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    runs = c.search_runs([c.get_experiment_by_name(f"harness/{tool}").experiment_id])
    return [r for r in runs if r.info.run_id not in known]


def all_runs(uri: str, tool: str) -> set[str]:
    return {r.info.run_id for r in new_runs(uri, tool, set())}


# -- without a store -----------------------------------------------------------------------------------------


def test_the_exit_code_is_the_worst_outcome_a_closed_gate_first() -> None:
    def o(verdict: str) -> Outcome:
        return Outcome("t", "1", verdict, "kept", "why")

    assert exit_code([]) == 0
    assert exit_code([o("PASS"), o("PASS")]) == 0
    assert exit_code([o("PASS"), o("NEEDS_REVIEW")]) == 3
    assert exit_code([o("NEEDS_REVIEW"), o("ERROR"), o("PASS")]) == 4
    assert exit_code([o("ERROR"), o("FAIL"), o("NEEDS_REVIEW")]) == 1


def test_reassess_needs_a_version_or_due(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(ConfigError, match=r"^name a tool version to re-assess \(TOOL:VERSION\) or pass --due for all "
                                          r"that are due$"):
        select(uri, None, due_only=False)
    with pytest.raises(ConfigError, match=r"^--as-of selects what is due: use it with --due$"):
        select(uri, "rentrank:2.1", due_only=False, as_of=datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(GateError, match=r"^no tool 'rentrank' is registered in "):
        select(uri, "rentrank:2.1", due_only=False)
    assert select(uri, None, due_only=True) == ([], [], [])
    assert not (tmp_path / "none.db").exists()  # looking created no store


# -- the cron run: one FAIL, one PASS, one missing dataset, one crash ----------------------------------------


@dataclass
class Fleet:
    uri: str
    root: Path
    tools: dict[str, Path]
    cards: dict[str, Path]
    approved: dict[str, str]


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    """Four approved tools, all high risk (90 days): one will regress, one stays fair, one loses its
    dataset, one's code will crash."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single_user(uri, tmp_path)
    made = {"regress": perfect_case(tmp_path / "regress", 31), "steady": perfect_case(tmp_path / "steady", 32),
            "missing": perfect_case(tmp_path / "missing", 33), "crash": scorer_case(tmp_path / "crash", 34)}
    suites: dict[str, list[str]] = {}  # every suite the policy requires: approvals need complete evidence
    approved = {k: assess_and_approve(uri, t, c, suites.get(k), tmp_path / "out" / k)
                for k, (t, c) in made.items()}
    return Fleet(uri=uri, root=tmp_path, tools={k: v[0] for k, v in made.items()},
                 cards={k: v[1] for k, v in made.items()}, approved=approved)


ID = {"regress": "case-tool-31", "steady": "case-tool-32", "missing": "case-tool-33", "crash": "case-tool-34"}


@pytest.mark.slow
def test_reassess_due_suspends_the_regression_moves_the_pass_and_reports_the_rest(fleet: Fleet) -> None:
    uri = fleet.uri
    ran = {k: run_at(uri, ID[k]) for k in ID}
    first_due, last_due = min(ran.values()) + timedelta(days=90), max(ran.values()) + timedelta(days=90)
    # --as-of selects: the day before the first falls due, nothing is, and nothing runs
    before = {k: all_runs(uri, ID[k]) for k in ID}
    day_before = (first_due - timedelta(days=1)).date().isoformat()
    r = harness("reassess", "--due", "--as-of", day_before, "--tracking-uri", uri)
    assert (r.exit_code, r.stdout) == (0, f"nothing is due by {day_before}\n"), r.stderr
    assert {k: all_runs(uri, ID[k]) for k in ID} == before
    assert [i.tool for i in gate.due(uri, last_due)] == [ID[k] for k in sorted(ID, key=lambda k: ran[k])]

    make_biased(fleet.tools["regress"])
    (fleet.cards["missing"].parent / "data.csv").unlink()
    (fleet.tools["crash"].parent / "broken").write_text("")
    r = harness("reassess", "--due", "--as-of", last_due.isoformat(), "--by", "cron", "--format", "json",
                "--out", str(fleet.root / "re"), "--tracking-uri", uri)
    assert r.exit_code == 1, r.stdout + r.stderr  # a gate was closed: the worst outcome, over the two ERRORs
    got = {o["tool"]: o for o in json.loads(r.stdout)}
    assert set(got) == set(ID.values())

    # the regression: FAIL against the approved baseline, suspended, the gate closed
    fail = got[ID["regress"]]
    [report] = (fleet.root / "re" / ID["regress"]).glob("1.0-*/assessment.json")
    result = json.loads(report.read_text())
    assert (result["run_id"], result["kind"], result["verdict"]) == (fail["run"], "reassessment", "FAIL")
    assert (fail["verdict"], fail["approval"], fail["reason"]) == ("FAIL", "suspended: the gate is closed",
                                                                   result["reasons"][0])
    regression = {f["group"]: f for s in result["suites"] for f in s["findings"] if f["check"] == "regression"}
    ratio = regression["bias.demographic_parity.ratio.sex"]
    assert (ratio["status"], ratio["details"]["baseline_run"]) == ("FAIL", fleet.approved["regress"])
    assert ratio["baseline"] == pytest.approx(1.0, abs=0.1) and ratio["value"] < 0.5
    closed = gate.gate(uri, ID["regress"])
    suspension = gate.history(uri, ID["regress"]).records[-1]
    assert (suspension.action, suspension.actor, suspension.run_id) == ("suspend", "cron", fail["run"])
    assert suspension.reason == f"re-assessment run {fail['run']} FAILED (policy 4.3): {result['reasons'][0]}"
    assert closed == gate.GateDecision(False, f"case-tool-31 1.0 is closed: suspended by cron on "
                                              f"{gate.show_time(suspension.at)}: {suspension.reason} (policy 4.1)",
                                       ID["regress"], "1.0")
    gated = CliRunner().invoke(main, ["gate", ID["regress"], "--tracking-uri", uri])
    assert (gated.exit_code, gated.stdout) == (1, f"CLOSED: {closed.reason}\n")

    # the steady tool: PASS, approval kept, due 90 days after the new run
    ok = got[ID["steady"]]
    new_start = run_at(uri, ID["steady"])
    assert gate.status(uri, ID["steady"], "1.0")[0].completed.run_id == ok["run"]
    assert (ok["verdict"], ok["approval"], ok["next_due"]) == (
        "PASS", "kept", (new_start + timedelta(days=90)).date().isoformat())
    assert CliRunner().invoke(main, ["gate", ID["steady"], "--tracking-uri", uri]).exit_code == 0
    due_now = {i.tool: i for i in gate.due(uri, last_due)}
    assert ID["steady"] not in due_now and ID["regress"] not in due_now
    later = {i.tool: i for i in gate.due(uri, new_start + timedelta(days=90))}
    assert (later[ID["steady"]].last_run, later[ID["steady"]].due) == (ok["run"], new_start + timedelta(days=90))

    # the missing dataset: ERROR with the reason, nothing run or recorded, still approved and still due
    gone = got[ID["missing"]]
    folder = fleet.cards["missing"].parent
    assert gone == {"tool": ID["missing"], "version": "1.0", "verdict": "ERROR", "run": None,
                    "approval": "unchanged; still due", "next_due": None,
                    "reason": f"the data file 'data.csv' of dataset 'case-33' is missing. Looked in: "
                              f"{folder}/data.csv. Download it from https://example.org/generated and put it "
                              "next to the card, or pass --data-dir DIR (or set HARNESS_DATA_DIR) to a folder that "
                              "holds it."}
    assert actions(uri, ID["missing"]) == [("submit", None), ("assess", "PASS"), ("approve", "PASS")]
    assert all_runs(uri, ID["missing"]) == before["missing"]
    assert due_now[ID["missing"]].last_run == fleet.approved["missing"]

    # the crash: its ERROR run is recorded as evidence of the attempt, the approval stands, still due
    crash = got[ID["crash"]]
    assert (crash["verdict"], crash["approval"], crash["reason"]) == (
        "ERROR", "unchanged; still due",
        "tool 'case-tool-34' raised RuntimeError during prediction: scoring service returned 503")
    assert actions(uri, ID["crash"])[-1] == ("assess", "ERROR")
    assert gate.status(uri, ID["crash"], "1.0")[0].state == "approved"
    assert due_now[ID["crash"]].last_run == fleet.approved["crash"]
    assert all(gate.verify_history(uri, t).ok for t in ID.values())


# -- cron safety -------------------------------------------------------------------------------------------


@pytest.fixture
def one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    monkeypatch.chdir(tmp_path)  # reports of re-assessments without --out go to ./reports
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single_user(uri, tmp_path)
    tool, card = perfect_case(tmp_path / "t", 41)
    run = assess_and_approve(uri, tool, card, None, tmp_path / "out")
    return Fleet(uri=uri, root=tmp_path, tools={"t": tool}, cards={"t": card}, approved={"t": run})


@pytest.mark.slow
def test_a_run_interrupted_while_recorded_ends_failed_and_is_never_evidence(
        one: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    uri, tool = one.uri, "case-tool-41"
    known = all_runs(uri, tool)
    log = actions(uri, tool)
    record = AssessmentRun.record

    def cut_short(self: AssessmentRun, metrics, tags, files, **kw) -> None:  # tags and metrics written, files not
        record(self, metrics, tags, [], **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(AssessmentRun, "record", cut_short)
    with pytest.raises(KeyboardInterrupt):
        reassess(uri, f"{tool}:1.0", by="cron")
    [failed] = new_runs(uri, tool, known)
    assert (failed.info.status, failed.data.tags["harness.verdict"]) == ("FAILED", "PASS")
    assert actions(uri, tool) == log  # the gate never heard of it
    assert gate.status(uri, tool, "1.0")[0].completed.run_id == one.approved["t"]  # not due later
    with pytest.raises(GateError) as e:
        gate.approve(uri, tool, "1.0", run_id=failed.info.run_id, reviewer="omar", rationale="r")
    assert str(e.value) == (f"approval of {tool} 1.0 refused by rule 'recorded-evidence' (policy 4.2): run "
                            f"{failed.info.run_id} is FAILED: it was interrupted or is still being recorded, so it is "
                            "not complete evidence; re-assess")

    # killed outright (SIGKILL) before the run was closed: it stays RUNNING, and is never evidence either
    monkeypatch.setattr(AssessmentRun, "record", record)

    def killed(self: AssessmentRun, ok: bool) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(AssessmentRun, "close", killed)
    with pytest.raises(KeyboardInterrupt):
        reassess(uri, f"{tool}:1.0", by="cron")
    [running] = new_runs(uri, tool, known | {failed.info.run_id})
    assert running.info.status == "RUNNING" and actions(uri, tool) == log
    with pytest.raises(GateError, match=rf"run {running.info.run_id} is RUNNING: it was interrupted"):
        gate.waive(uri, tool, "1.0", run_id=running.info.run_id, approver="omar", rationale="r", conditions="c",
                   expires=datetime.now(UTC) + timedelta(days=5))


@pytest.mark.slow
def test_a_suspension_lost_to_an_interruption_is_recorded_by_the_next_run(
        one: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    uri, tool = one.uri, "case-tool-41"
    make_biased(one.tools["t"])

    def stopped(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    suspend = gate.suspend
    monkeypatch.setattr(gate, "suspend", stopped)
    with pytest.raises(KeyboardInterrupt):
        reassess(uri, f"{tool}:1.0", by="cron")
    monkeypatch.setattr(gate, "suspend", suspend)
    vs = gate.status(uri, tool, "1.0")[0]
    fail_run = vs.completed.run_id
    assert (vs.state, vs.completed.verdict, vs.gate.open) == ("approved", "FAIL", True)
    assert gate.due(uri) == []  # the FAIL counted as the re-assessment: due only in 90 days

    [o] = reassess(uri, due_only=True, by="cron")
    assert (o.tool, o.verdict, o.run_id, o.approval) == (
        tool, "FAIL", fail_run, "suspended: the gate is closed (the suspension had not been recorded when that run "
                                "ended)")
    d = gate.history(uri, tool).records[-1]
    assert (d.action, d.run_id, d.reason) == ("suspend", fail_run,
                                              f"re-assessment run {fail_run} FAILED (policy 4.3): verdict FAIL")
    closed = gate.gate(uri, tool, "1.0")
    assert not closed.open
    assert reassess(uri, due_only=True, by="cron") == []  # nothing left to do
    assert reassess(uri, tool, by="cron") == [Outcome(
        tool, "1.0", "ERROR", "unchanged", f"{tool} 1.0 is not in use, so there is no approval to re-assess "
        f"({closed.reason}); assess it with `harness assess` and decide again")]


@pytest.mark.slow
def test_a_changed_policy_or_a_lost_manifest_is_reported_not_run(one: Fleet, tmp_path: Path) -> None:
    from importlib import resources

    uri, tool = one.uri, "case-tool-41"
    known = all_runs(uri, tool)
    text = resources.files("harness.policies").joinpath("default.yaml").read_text()
    newer = tmp_path / "policy-2027.yaml"
    newer.write_text(text.replace('version: "2026.11"', 'version: "2027.01"'))
    from harness.policy import load_policy
    from tests.conftest import single_user_policy

    old, new = single_user_policy(), load_policy(newer)  # the fleet's store has the single-user policy in force
    [o] = reassess(uri, f"{tool}:1.0", by="cron", policy_path=newer)
    assert o == Outcome(tool, "1.0", "ERROR", "unchanged; still due",
                        f"the current policy {new.label} is not {old.label}, the policy approved run "
                        f"{one.approved['t']} was judged under (policy 4.3: a re-assessment repeats the approved "
                        "rules). Pass that policy with --policy FILE, or assess under the current policy and approve "
                        "again")
    manifest = one.tools["t"]
    manifest.rename(manifest.with_name("moved.yaml"))
    [o] = reassess(uri, tool, by="cron")
    assert (o.verdict, o.reason) == ("ERROR", f"the manifest of {tool} 1.0 cannot be found: {manifest.resolve()} is "
                                              "missing; the version was not submitted as a bundle (`harness submit`). "
                                              "Restore the manifest and the files it names, or submit the version as "
                                              "a bundle")
    assert all_runs(uri, tool) == known


@pytest.mark.slow
def test_sigterm_during_a_reassessment_records_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single_user(uri, tmp_path)
    tool, card = scorer_case(tmp_path / "s", 42)
    assess_and_approve(uri, tool, card, None, tmp_path / "out")
    log, known = actions(uri, "case-tool-42"), all_runs(uri, "case-tool-42")
    (tool.parent / "slow").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["HARNESS_SANDBOX"] = "subprocess"  # the tool's marker is written beside it: read-only under bubblewrap
    proc = subprocess.Popen([HARNESS, "reassess", "case-tool-42:1.0", "--by", "cron", "--tracking-uri", uri],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        for _ in range(1200):  # the tool is running once it has written its marker
            if (tool.parent / "started").exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert (tool.parent / "started").exists(), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err.endswith("interrupted; nothing further was recorded\n"), err
    assert actions(uri, "case-tool-42") == log and all_runs(uri, "case-tool-42") == known
    assert gate.gate(uri, "case-tool-42").open
