"""The approval gate as reviewers and deployment pipelines meet it: the bundled rental-assistance tools
are assessed through `harness assess`, then approved, refused, waived, suspended and gated through the
command line against a real SQLite MLflow store. Exit codes: 0 success / gate open, 1 gate closed or a
broken history, 2 a refused decision (one message naming the rule and the policy section).

The commands run in-process through click's CliRunner (issue 13: a fresh interpreter per call made this file a
fifth of the suite's time); one `harness gate` runs as the installed program, as a deployment pipeline runs it,
and the import check runs in a fresh interpreter, since it is about what a process loads."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness import gate
from harness.policy import load_policy
from tests.conftest import single_user

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "rental_assistance"
HARNESS = str(Path(sys.executable).with_name("harness"))
FAIR, VENDOR = "rental-screen-baseline", "rentrank"


def harness(*args: str, env: dict[str, str] | None = None) -> Result:
    """`harness ARGS` in-process: stdout and stderr kept apart (click 8.2+), a wide terminal so that rich never folds
    a message, and `env` set for the call only. A bug that escapes the command's own error handling is raised, not
    counted as exit code 1."""
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250", **(env or {})}, prog_name="harness",
                              catch_exceptions=False)


def harness_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed `harness` program in a process of its own, as a deployment pipeline runs it."""
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "250"})


@dataclass
class Assessed:
    root: Path
    fair_run: str
    vendor_run: str


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Assessed:
    """Both bundled tools assessed once through the CLI (bias suite): the baseline PASSes, RentRank FAILs."""
    root = tmp_path_factory.mktemp("gate-cli")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    r = harness("assess", str(EXAMPLES / "fair_tool.yaml"), "--dataset", "rental-assistance",
                "--by", "dana", "--tracking-uri", uri, "--out", str(root / "fair"))
    assert r.exit_code == 0, r.stdout + r.stderr
    r = harness("assess", str(EXAMPLES / "vendor_tool.yaml"), "--dataset", "rental-assistance",
                "--tracking-uri", uri, "--out", str(root / "vendor"), env={"HARNESS_USER": "hal"})
    assert r.exit_code == 1, r.stdout + r.stderr
    runs = {json.loads((root / k / "assessment.json").read_text())["tool"]["id"]:
            json.loads((root / k / "assessment.json").read_text())["run_id"] for k in ("fair", "vendor")}
    return Assessed(root=root, fair_run=runs[FAIR], vendor_run=runs[VENDOR])


@pytest.fixture
def uri(assessed: Assessed, tmp_path: Path) -> str:
    shutil.copyfile(assessed.root / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_gate_commands_import_no_heavy_library() -> None:
    code = (
        "import sys\nfrom harness.cli import main\n"
        "for argv in (['gate', '--help'], ['approve', '--help'], ['inventory', '--help'], ['history', '--help']):\n"
        "    sys.argv = ['harness', *argv]\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "heavy = {'mlflow', 'great_expectations', 'aif360', 'fairlearn', 'sklearn'}\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout
    assert "--reviewer" in r.stdout and "--at" in r.stdout


@pytest.mark.slow
def test_the_demo_ends_with_one_tool_approved_and_one_blocked(assessed: Assessed, uri: str) -> None:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    assert c.get_run(assessed.fair_run).data.tags["harness.submitter"] == "dana"  # --by
    assert c.get_run(assessed.vendor_run).data.tags["harness.submitter"] == "hal"  # $HARNESS_USER
    r = harness("status", FAIR, "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    assert (f"{FAIR} 1.0.0 is closed: not approved; assessed PASS in run {assessed.fair_run}, no decision yet "
            "(policy 4.1)") in r.stdout
    r = harness_process("gate", FAIR, "--tracking-uri", uri)  # end to end: the exit code a pipeline acts on
    assert (r.returncode, r.stdout) == (1, f"CLOSED: {FAIR} has no approved version: nothing is approved "
                                           "(policy 4.1)\n")

    r = harness("approve", f"{FAIR}:1.0.0", "--run", assessed.fair_run, "--reviewer", "rita",
                "--rationale", "every bias check passes with its whole interval", "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"approved {FAIR} 1.0.0: decision record 3 (sha256 ")
    r = harness("gate", FAIR, "--tracking-uri", uri)
    assert r.exit_code == 0
    assert r.stdout.startswith(f"OPEN: {FAIR} 1.0.0 is approved by rita on ")
    assert r.stdout.endswith(f", on run {assessed.fair_run} (PASS); files verified (fair_tool.yaml and what it "
                             "names)\n")

    r = harness("approve", f"{VENDOR}:2.1", "--run", assessed.vendor_run, "--reviewer", "rita",
                "--rationale", "we need it", "--tracking-uri", uri)
    assert r.exit_code == 2
    assert r.stderr == (
        f"error: approval of {VENDOR} 2.1 refused by rule 'no-approval-of-fail' (policy 4.2): run "
        f"{assessed.vendor_run} assessed {VENDOR} 2.1 as FAIL; a tool that fails the assessment may not be used "
        "unless remediated. Remediate and re-assess, or escalate the risk with `harness waive`\n")
    r = harness("gate", f"{VENDOR}:2.1", "--tracking-uri", uri)
    assert (r.exit_code, r.stdout) == (
        1, f"CLOSED: {VENDOR} 2.1 is closed: not approved; assessed FAIL in run {assessed.vendor_run}, no decision "
           "yet (policy 4.1)\n")

    r = harness("inventory", "--format", "json", "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    rows = {row["tool"]: row for row in json.loads(r.stdout)}
    ran = datetime.fromisoformat(rows[FAIR]["assessed_at"])
    assert rows[FAIR] == {
        "tool": FAIR, "name": "Rental Assistance Screening Baseline", "version": "1.0.0",
        "department": "Housing and Homelessness", "vendor": "City Department of Technology and Innovation (in-house)",
        "category": "decision-support", "risk_tier": "high", "status": "approved", "declared_status": "proposed",
        "latest_verdict": "PASS",
        "latest_run": assessed.fair_run, "assessed_at": rows[FAIR]["assessed_at"], "approval": "approved",
        "gate_open": True, "next_due": (ran + timedelta(days=90)).date().isoformat()}
    assert {k: rows[VENDOR][k] for k in ("vendor", "latest_verdict", "status", "approval", "gate_open",
                                         "next_due")} == {
        "vendor": "Example Analytics", "latest_verdict": "FAIL", "status": "assessed", "approval": "assessed",
        "gate_open": False, "next_due": None}
    r = harness("inventory", "--format", "csv", "--tracking-uri", uri)
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(t["tool"], t["approval"], t["gate_open"]) for t in table] == [
        (FAIR, "approved", "True"), (VENDOR, "assessed", "False")]
    r = harness("inventory", "--tracking-uri", uri)
    assert r.exit_code == 0 and "AI tool inventory (policy 6.2)" in r.stdout and "Example Analytics" in r.stdout

    due_day = (ran + timedelta(days=90)).date()
    r = harness("due", "--as-of", (due_day - timedelta(days=1)).isoformat(), "--tracking-uri", uri)
    assert (r.exit_code, r.stdout) == (0, f"nothing is due by {due_day - timedelta(days=1)}\n")
    r = harness("due", "--as-of", due_day.isoformat(), "--format", "json", "--tracking-uri", uri)
    assert [(i["tool"], i["version"], i["last_run"], i["interval_days"]) for i in json.loads(r.stdout)] == [
        (FAIR, "1.0.0", assessed.fair_run, 90)]


@pytest.mark.slow
def test_refusals_are_exit_2_with_the_rule(assessed: Assessed, uri: str) -> None:
    r = harness("approve", f"{FAIR}:1.0.0", "--run", assessed.fair_run, "--reviewer", "dana",
                "--rationale", "mine", "--tracking-uri", uri)
    assert (r.exit_code, r.stderr) == (
        2, f"error: approval of {FAIR} 1.0.0 refused by rule 'separation-of-duties' (policy 2.3, 4.1): 'dana' "
           f"submitted {FAIR} 1.0.0; the reviewer must be someone else\n")
    policy = load_policy().model_dump(mode="json")
    policy["min_group_size"] = 50
    stricter = uri.removeprefix("sqlite:///").replace("mlflow.db", "stricter.json")
    Path(stricter).write_text(json.dumps(policy))  # JSON is YAML
    r = harness("approve", f"{FAIR}:1.0.0", "--run", assessed.fair_run, "--reviewer", "rita", "--rationale", "ok",
                "--policy", stricter, "--tracking-uri", uri)
    assert r.exit_code == 2
    assert (f"refused by rule 'current-policy' (policy 4.2): the policy given, {load_policy(stricter).label}, is not "
            "the policy in force") in r.stderr
    r = harness("approve", f"{FAIR}:1.0.0", "--run", assessed.vendor_run, "--reviewer", "rita", "--rationale", "ok",
                "--tracking-uri", uri)
    assert r.stderr == (f"error: approval of {FAIR} 1.0.0 refused by rule 'same-version' (policy 4.2): run "
                        f"{assessed.vendor_run} assessed {VENDOR} 2.1, not {FAIR} 1.0.0\n")
    r = harness("approve", FAIR, "--run", assessed.fair_run, "--reviewer", "rita", "--rationale", "ok",
                "--tracking-uri", uri)
    assert (r.exit_code, r.stderr) == (
        2, f"error: '{FAIR}' names no version; write TOOL:VERSION (e.g. {FAIR}:2.1.0), as `harness status {FAIR}` "
           "lists them\n")
    r = harness("suspend", f"{VENDOR}:2.1", "--by", "omar", "--reason", "x", "--tracking-uri", uri)
    assert (r.exit_code, r.stderr) == (
        2, f"error: suspension of {VENDOR} 2.1 refused by rule 'suspend-approved' (policy 4.3): {VENDOR} 2.1 is "
           "assessed; only an approved or waived version can be suspended\n")
    r = harness("status", "no-such-tool", "--tracking-uri", uri)
    assert (r.exit_code, r.stderr) == (2, f"error: no tool 'no-such-tool' is registered in {uri}\n")
    r = harness("gate", "no-such-tool", "--tracking-uri", uri)
    assert (r.exit_code, r.stdout) == (
        1, "CLOSED: no-such-tool is not registered in the tool registry: nothing is approved (policy 4.1)\n")
    assert [d.action for d in gate.history(uri, FAIR).records] == ["submit", "assess"]  # nothing was recorded


@pytest.mark.slow
def test_suspend_and_reject_close_the_gate(assessed: Assessed, uri: str) -> None:
    r = harness("approve", f"{FAIR}:1.0.0", "--run", assessed.fair_run, "--reviewer", "rita", "--rationale", "ok",
                "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    r = harness("suspend", f"{FAIR}:1.0.0", "--by", "omar", "--reason", "Q3 re-assessment failed",
                "--tracking-uri", uri)
    assert r.exit_code == 0 and r.stdout.startswith(f"suspended {FAIR} 1.0.0: decision record 4 (sha256 ")
    r = harness("gate", FAIR, "--tracking-uri", uri)
    assert r.exit_code == 1
    assert r.stdout.startswith(f"CLOSED: {FAIR} 1.0.0 is closed: suspended by omar on ")
    assert r.stdout.endswith(": Q3 re-assessment failed (policy 4.1)\n")
    r = harness("reject", f"{VENDOR}:2.1", "--reviewer", "rita", "--reason", "fails the four-fifths rule for race",
                "--run", assessed.vendor_run, "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    r = harness("gate", f"{VENDOR}:2.1", "--tracking-uri", uri)
    assert r.exit_code == 1 and ": fails the four-fifths rule for race (policy 4.1)" in r.stdout
    r = harness("retire", f"{FAIR}:1.0.0", "--by", "omar", "--reason", "programme ended", "--tracking-uri", uri)
    assert r.exit_code == 0
    r = harness("status", FAIR, "--tracking-uri", uri)
    assert "retired" in r.stdout and "programme ended" in r.stdout


@pytest.mark.slow
def test_a_waiver_opens_the_gate_until_its_date(assessed: Assessed, uri: str) -> None:
    today = datetime.now(UTC).date()
    expires = today + timedelta(days=30)
    args = ["waive", f"{VENDOR}:2.1", "--run", assessed.vendor_run, "--approver", "chief-omar",
            "--rationale", "no alternative before the 2027 procurement",
            "--conditions", "a caseworker reviews every denial", "--tracking-uri", uri]
    r = harness(*args, "--expires", (today + timedelta(days=120)).isoformat())
    assert r.exit_code == 2
    assert "refused by rule 'waiver-limit' (policy 4.2): the waiver would expire on " in r.stderr
    assert "the policy allows at most 90 days (settings.gate.max_waiver_days)" in r.stderr
    r = harness(*args, "--expires", "next week")
    assert (r.exit_code, r.stderr) == (2, "error: --expires 'next week' is not a date: write YYYY-MM-DD or an ISO "
                                           "date-time (2026-12-31T17:00:00+00:00)\n")
    r = harness(*args, "--expires", expires.isoformat())
    assert r.exit_code == 0, r.stderr
    assert r.stdout.endswith(f"the waiver lapses at {expires.isoformat()}T00:00:00+00:00\n")
    r = harness("gate", VENDOR, "--tracking-uri", uri)
    assert r.exit_code == 0
    assert r.stdout.startswith(f"OPEN: {VENDOR} 2.1 is waived by chief-omar on ")
    assert r.stdout.endswith(f" until {expires}; conditions: a caseworker reviews every denial; files verified "
                             "(vendor_tool.yaml and what it names)\n")
    r = harness("gate", VENDOR, "--at", expires.isoformat(), "--tracking-uri", uri)
    assert r.exit_code == 1
    assert r.stdout.endswith(f" expired on {expires} (policy 4.2)\n")
    r = harness("status", VENDOR, "--tracking-uri", uri)
    assert "waived" in r.stdout and str(expires) in r.stdout


@pytest.mark.slow
def test_history_verify_reports_a_tampered_record(assessed: Assessed, uri: str) -> None:
    r = harness("approve", f"{FAIR}:1.0.0", "--run", assessed.fair_run, "--reviewer", "rita", "--rationale", "ok",
                "--tracking-uri", uri)
    assert r.exit_code == 0
    head = gate.verify_history(uri, FAIR).head
    r = harness("history", FAIR, "--verify", "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    assert f"chain verified: 3 records, head sha256 {head}" in r.stdout
    assert "approve" in r.stdout and "rita" in r.stdout

    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    log = f"{FAIR} (decision log)"
    record = json.loads(c.get_model_version(log, "3").tags["harness.decision.record"])
    record["run_id"] = assessed.vendor_run
    c.set_model_version_tag(log, "3", "harness.decision.record", gate.canonical(record))
    r = harness("history", FAIR, "--verify", "--tracking-uri", uri)
    assert r.exit_code == 1
    expected = (f"record 3 (approve of 1.0.0) was altered: its content no longer matches its sha256; changed: run_id "
                f"(written '{assessed.fair_run}', now '{assessed.vendor_run}')")
    assert f"chain broken: {expected}" in " ".join(r.stdout.split())
    r = harness("history", FAIR, "--tracking-uri", uri)
    assert r.exit_code == 0  # listing still works; only --verify fails
    r = harness("gate", FAIR, "--tracking-uri", uri)
    assert r.exit_code == 1
    assert r.stdout == (f"CLOSED: the decision history of '{FAIR}' fails verification ({expected}); the gate is "
                        f"closed. Investigate with `harness history {FAIR} --verify` and restore the store from its "
                        "backup (policy 3.2)\n")


def test_reading_never_creates_a_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}"
    r = harness("inventory", "--format", "json", "--tracking-uri", uri)
    assert (r.exit_code, r.stdout) == (0, "[]\n")
    r = harness("due", "--as-of", date(2027, 1, 1).isoformat(), "--tracking-uri", uri)
    assert (r.exit_code, r.stdout) == (0, "nothing is due by 2027-01-01\n")
    r = harness("gate", "rentrank", "--tracking-uri", uri)
    assert r.exit_code == 1
    assert not (tmp_path / "none").exists()
