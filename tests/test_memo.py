"""`harness memo` and the memo an assessment logs (issue 15), against a real SQLite MLflow store: the decision is
read from the verified log and the memo is re-logged by every decision. The adversaries: a run nobody decided
on must not read as approved; an approval that was suspended, or lapsed for want of re-assessment, or a waiver
past its expiry, must say so; refreshing the memo must not touch the evidence an approval is bound to."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.assessment import AssessmentResult
from harness.tracking import Store, load_assessment
from tests.conftest import single_user

ROOT = Path(__file__).resolve().parents[1]
FAIR = "rental-screen-baseline"
RATIONALE = "every bias check passes with its whole interval"
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"  # how the gate shows a moment (`harness.gate.show_time`)


def harness(*args: str, env: dict[str, str] | None = None) -> Result:
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250", **(env or {})}, prog_name="harness",
                              catch_exceptions=False)


@dataclass
class Assessed:
    root: Path
    run: str


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Assessed:
    """The bundled baseline screener assessed once through the CLI (every required suite: it can be approved)."""
    root = tmp_path_factory.mktemp("memo")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    r = harness("assess", str(ROOT / "examples/rental_assistance/fair_tool.yaml"), "--dataset", "rental-assistance",
                "--by", "dana", "--tracking-uri", uri, "--out", str(root / "out"))
    assert r.exit_code == 0, r.stdout + r.stderr
    return Assessed(root, json.loads((root / "out" / "assessment.json").read_text())["run_id"])


@pytest.fixture
def uri(assessed: Assessed, tmp_path: Path) -> str:
    shutil.copyfile(assessed.root / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def logged(uri: str, run: str, name: str = "memo.md") -> str:
    text = Store(uri).artifact_text(run, name)
    assert text is not None, f"run {run} has no {name}"
    return text


def decision_section(md: str) -> str:
    """The memo's decision, its heading's "(as of <when>)" checked and taken out."""
    section = md[md.index("## Decision"):md.index("## The record")]
    heading = section.splitlines()[0]
    assert re.fullmatch(rf"## Decision: [a-z ]+ \(as of {WHEN}\)", heading), heading
    return re.sub(r" \(as of [^)]*\)", "", section, count=1)


def run_at(uri: str) -> datetime:
    from harness.gate import status

    vs = status(uri, FAIR, "1.0.0")[0]
    assert vs.covering is not None
    return datetime.fromisoformat(vs.covering.run_at)


@pytest.mark.slow
def test_an_assessment_logs_a_memo_that_claims_no_decision(assessed: Assessed, uri: str) -> None:
    md = logged(uri, assessed.run)
    assert md == (assessed.root / "out" / "memo.md").read_text()  # beside the reports, and in MLflow
    assert md.startswith("# Decision memo: Rental Assistance Screening Baseline\n")
    assert ("Rental Assistance Screening Baseline 1.0.0 passed every check the policy requires; a named reviewer must "
            "still approve it before it is used (policy 4.1).") in md
    section = decision_section(md)
    assert section.startswith("## Decision: none yet\n\nNo decision yet: rental-screen-baseline 1.0.0 is not "
                              "approved and may not be used (policy 4.1).\n")
    assert "Approved by" not in md and "Decision: approved" not in md
    assert "- **Next re-assessment:** none scheduled: the tool is not approved for use" in section
    assert f"- **Run id:** {assessed.run}" in md
    assert '<a href="report.html">report.html</a>' in logged(uri, assessed.run, "memo.html")
    # a rendering, not evidence: evidence.json does not list it, so re-logging it cannot break an approval
    evidence = json.loads(logged(uri, assessed.run, "evidence.json"))["files"]
    assert "report.html" in evidence and "memo.html" not in evidence and "memo.md" not in evidence


@pytest.mark.slow
def test_approval_refreshes_the_memo_and_leaves_the_evidence_intact(assessed: Assessed, uri: str,
                                                                    tmp_path: Path) -> None:
    r = harness("approve", f"{FAIR}:1.0.0", "--run", assessed.run, "--reviewer", "rita", "--rationale", RATIONALE,
                "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    assert f"decision memo of run {assessed.run} refreshed (memo.html, memo.md)\n" in r.stdout
    section = decision_section(logged(uri, assessed.run))
    when = re.search(rf"Approved by rita on ({WHEN}), on this assessment\.", section)
    assert section.startswith("## Decision: approved\n") and when, section
    assert f"- **When:** {when.group(1)}" in section
    assert "- **By:** rita, unauthenticated (name as typed)" in section
    assert f"- **Rationale:** {RATIONALE}" in section
    due = (run_at(uri) + timedelta(days=90)).date().isoformat()  # a high-risk tool: every 90 days (policy 4.3)
    assert f"- **Next re-assessment:** {due}: high-risk tools are re-assessed every 90 days (policy 4.3)" in section
    assert f"- **Gate now:** OPEN: {FAIR} 1.0.0 is approved by rita" in section
    # the memo was re-logged, the evidence was not touched: the gate re-hashes it and stays open
    r = harness("gate", FAIR, "--tracking-uri", uri)
    assert r.exit_code == 0 and r.stdout.startswith("OPEN: "), r.stdout
    # the same memo on demand, by tool or by run, and as a PDF of at most two pages
    r = harness("memo", FAIR, "--format", "md", "--tracking-uri", uri)
    assert r.exit_code == 0 and decision_section(r.stdout).startswith("## Decision: approved\n"), r.stderr
    pdf = tmp_path / "memo.pdf"
    r = harness("memo", assessed.run, "--format", "pdf", "--out", str(pdf), "--page-size", "Letter",
                "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"wrote {pdf} (decision memo of run {assessed.run}: PASS, decision: approved)\n"
    assert pdf.read_bytes().startswith(b"%PDF-")


@pytest.mark.slow
def test_a_suspended_approval_says_so(assessed: Assessed, uri: str) -> None:
    """Adversarial: the approved run's memo must stop reading "approved" once the approval is withdrawn, although
    the suspension names no run."""
    assert harness("approve", f"{FAIR}:1.0.0", "--run", assessed.run, "--reviewer", "rita", "--rationale",
                   RATIONALE, "--tracking-uri", uri).exit_code == 0
    r = harness("suspend", f"{FAIR}:1.0.0", "--by", "omar", "--reason", "caseworkers report wrong rankings",
                "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    assert f"decision memo of run {assessed.run} refreshed" in r.stdout
    section = decision_section(logged(uri, assessed.run))
    assert section.startswith("## Decision: suspended\n"), section
    assert re.search(rf"Approved by rita on {WHEN}, then suspended by omar on {WHEN}: the tool may not be used "
                     r"\(policy 4\.1\)\.", section), section
    assert "- **Reason:** caseworkers report wrong rankings" in section
    assert "- **Gate now:** CLOSED: " in section
    assert "- **Next re-assessment:** none scheduled: the tool is not approved for use" in section


@pytest.mark.slow
def test_an_approval_overdue_for_reassessment_is_lapsed(assessed: Assessed, uri: str) -> None:
    from harness.workflows.memo import decision_of

    assert harness("approve", f"{FAIR}:1.0.0", "--run", assessed.run, "--reviewer", "rita", "--rationale",
                   RATIONALE, "--tracking-uri", uri).exit_code == 0
    result = AssessmentResult.from_dict(load_assessment(Store(uri), assessed.run))
    due = run_at(uri) + timedelta(days=90)
    on_time = decision_of(uri, result, now=due - timedelta(days=1))
    assert on_time.state == "approved" and on_time.approved
    in_grace = decision_of(uri, result, now=due + timedelta(days=29))  # overdue, inside the 30-day grace period
    assert in_grace.state == "approved" and in_grace.next_due.startswith(f"{due.date().isoformat()} (overdue): ")
    late = decision_of(uri, result, now=due + timedelta(days=31))
    assert late.state == "approval lapsed" and not late.approved
    assert late.headline.startswith("Approved by rita on ")
    assert f"It no longer holds: {FAIR} 1.0.0 is closed: its re-assessment was due on " in late.headline
    assert "31 days overdue, past the 30-day grace period (policy 4.3)" in late.headline


@pytest.mark.slow
def test_a_waiver_says_its_conditions_and_when_it_expired(assessed: Assessed, uri: str) -> None:
    from harness.workflows.memo import decision_of

    expires = (datetime.now().date() + timedelta(days=10)).isoformat()
    r = harness("waive", f"{FAIR}:1.0.0", "--run", assessed.run, "--approver", "cio", "--rationale", "needed now",
                "--conditions", "a caseworker reviews every denial", "--expires", expires, "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    section = decision_section(logged(uri, assessed.run))
    assert section.startswith("## Decision: waived\n")
    assert f"the City accepts the risk under conditions until {expires} (policy 4.2)." in section
    assert "- **Conditions:** a caseworker reviews every denial" in section and f"- **Expires:** {expires}" in section
    result = AssessmentResult.from_dict(load_assessment(Store(uri), assessed.run))
    after = decision_of(uri, result, now=datetime.fromisoformat(expires + "T00:00:00+00:00") + timedelta(hours=1))
    assert after.state == "waiver expired" and not after.approved
    expected = rf"The waiver by cio on {WHEN} expired on {expires}: the tool may not be used \(policy 4\.2\)\."
    assert re.fullmatch(expected, after.headline), after.headline


@pytest.mark.slow
def test_a_rejection_is_the_decision(assessed: Assessed, uri: str) -> None:
    r = harness("reject", f"{FAIR}:1.0.0", "--reviewer", "rita", "--reason", "the department withdrew the request",
                "--run", assessed.run, "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    section = decision_section(logged(uri, assessed.run))
    assert section.startswith("## Decision: rejected\n")
    assert re.search(rf"Rejected by rita on {WHEN}: the tool may not be used \(policy 4\.1\)\.", section), section
    assert "- **Reason:** the department withdrew the request" in section and "Approved by" not in section


@pytest.mark.slow
def test_bad_references_get_one_clear_error(uri: str) -> None:
    r = harness("memo", "nosuchtool", "--tracking-uri", uri)
    assert r.exit_code == 2 and "no tool 'nosuchtool' is registered" in r.stderr, r.stderr
    r = harness("memo", "0" * 32, "--tracking-uri", uri)
    assert r.exit_code == 2 and f"no MLflow run {'0' * 32!r}" in r.stderr, r.stderr
    r = harness("memo", FAIR, "--format", "pdf", "--tracking-uri", uri)
    assert (r.exit_code, r.stderr) == (2, "error: --format pdf writes a file: add --out FILE.pdf\n")
