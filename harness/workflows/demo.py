"""`harness demo`: the main job on bundled data, with nothing to set up.

Assesses four bundled tools, each pair a tool that must FAIL beside a baseline that should PASS (or get
NEEDS_REVIEW with the reason):

- two rental-assistance screening tools on the synthetic applications: a vendor model that learned a
  neighbourhood penalty from biased historical decisions, and a baseline built on the programme's
  eligibility rules alone (the bias suite);
- two 311 question-answering tools on city-services-qa: a careless one that answers everything and garbles
  figures and names, and an extractive baseline that quotes the page or says it does not know (the
  hallucination suite and whatever else the policy requires of generative tools).

Then the decision the evidence is for (policy 2.3, 4.1, 4.2): a named reviewer, not the analyst who started
the assessments, approves the rental baseline on its run; approving the vendor tool is refused (a FAIL
cannot be approved); and the gate answers for both as a deployment pipeline would ask it: the baseline
OPEN, the vendor tool CLOSED.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from harness.assessment import AssessmentResult
    from harness.gate import GateDecision

ROOT = Path(__file__).resolve().parents[2]
CURRENT = ROOT / "datasets" / "rental-assistance" / "current_2026q3.csv"


@dataclass(frozen=True)
class DemoTool:
    """One demo assessment: a manifest under examples/, its dataset, and the verdicts it should get."""

    folder: str
    manifest: str
    dataset: str
    expected: frozenset[str]
    current: Path | None = None

    @property
    def path(self) -> Path:
        return ROOT / "examples" / self.folder / self.manifest

    @property
    def out_name(self) -> str:
        return self.manifest.removesuffix(".yaml")


PASS_OR_REVIEW = frozenset({"PASS", "NEEDS_REVIEW"})
# the demo's gate ending (policy 2.3, 4.1): one person starts the assessments, another decides
DEMO_ANALYST = "Dana Analyst (demo)"
DEMO_REVIEWER = "Rita Reviewer (demo)"
APPROVE = ("rental_assistance", "fair_tool.yaml")  # approved on its assessment: the gate opens
REFUSE = ("rental_assistance", "vendor_tool.yaml")  # a FAIL cannot be approved: the gate stays closed
RATIONALE = ("No required bias, data-quality, degradation or explainability check failed on the synthetic "
             "rental-assistance data; caseworkers decide every application (demo approval).")
TOOLS: tuple[DemoTool, ...] = (
    DemoTool("rental_assistance", "vendor_tool.yaml", "rental-assistance", frozenset({"FAIL"}), CURRENT),
    DemoTool("rental_assistance", "fair_tool.yaml", "rental-assistance", PASS_OR_REVIEW, CURRENT),
    DemoTool("city_services_qa", "careless_tool.yaml", "city-services-qa", frozenset({"FAIL"})),
    DemoTool("city_services_qa", "baseline_tool.yaml", "city-services-qa", PASS_OR_REVIEW),
)


def hallucination_line(result: AssessmentResult) -> str | None:
    """The hallucination rate in one line (unanswerable questions answered anyway), when it was measured."""
    for f in result.findings:
        if f.key == "hallucination.abstention.hallucination_rate" and f.value is not None and f.n:
            count = f.details.get("count", round(f.value * f.n))
            return (f"hallucination rate {f.value:.1%} ({count:,} of {f.n:,} unanswerable questions answered "
                    f"anyway; limit {f.threshold:.0%} for a {result.tool['risk_tier']}-risk tool): {f.status.value}")
    return None


def gate_line(answer: GateDecision) -> str:
    """`gate: TOOL OPEN (approved by ...)` / `gate: TOOL CLOSED (not approved; ...)`: the gate's answer with
    its reason, minus the `TOOL VERSION is [closed: ]` the reason starts with."""
    reason = answer.reason
    for prefix in (f"{answer.tool} {answer.version} is closed: ", f"{answer.tool} {answer.version} is "):
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
            break
    return f"gate: {answer.tool} {'OPEN' if answer.open else 'CLOSED'} ({reason})"


def gate_ending(console: Console, uri: str, approve_it: AssessmentResult, refuse_it: AssessmentResult) -> bool:
    """The human decision the evidence is for (policy 4.1, 4.2): a reviewer who did not start the assessments
    approves the baseline on its run; the vendor tool's FAIL cannot be approved; then the gate answers for
    both as a deployment pipeline would ask it. True when it ends as it should (baseline open, vendor closed)."""
    from rich.markup import escape

    from harness.errors import GateError
    from harness.gate import approve, gate

    console.print("\n[bold]Approval gate[/] (policy 4.1, 4.2): assessments started by "
                  f"{escape(DEMO_ANALYST)}; decisions by {escape(DEMO_REVIEWER)}")
    ok = True
    tool, version = approve_it.tool["id"], str(approve_it.tool["version"])
    try:
        d = approve(uri, tool, version, run_id=str(approve_it.run_id), reviewer=DEMO_REVIEWER, rationale=RATIONALE)
        console.print(f"approved {tool} {version} on run {approve_it.run_id} ({approve_it.verdict.value}): decision "
                      f"record {d.seq}, sha256 {d.sha256[:12]}...", soft_wrap=True)
    except GateError as e:
        ok = False
        console.print(f"[bold red]refused[/]: {escape(str(e))}", soft_wrap=True)
    other, other_version = refuse_it.tool["id"], str(refuse_it.tool["version"])
    try:
        approve(uri, other, other_version, run_id=str(refuse_it.run_id), reviewer=DEMO_REVIEWER,
                rationale="The vendor says the tool saves caseworkers time.")
        ok = False
        console.print(f"[bold red]{other} {other_version} was approved although it failed its assessment[/]")
    except GateError as e:
        console.print(f"refused, as it must be: {escape(str(e))}", soft_wrap=True)
    for t, v, should_open in ((tool, version, True), (other, other_version, False)):
        answer = gate(uri, t, v)
        ok = ok and answer.open == should_open
        style = "bold green" if answer.open else "bold red"
        console.print(f"[{style}]{escape(gate_line(answer))}[/]", soft_wrap=True)
    return ok


def single_user_store(console: Console, uri: str) -> None:
    """The packaged policy lets only a server-confirmed login approve a high-risk tool, with two signatures
    (issue 12); the demo's embedded store has no server. So the demo does what a City installation without a
    server must do: adopt the single-user policy as a recorded, acknowledged weakening, and say so."""
    import tempfile

    from harness.gate import adopt, in_force
    from harness.policy import SINGLE_USER_WEAKENING, single_user_policy_text
    from harness.tracking import sqlite_path

    if sqlite_path(uri) is None or in_force(uri).record is not None:
        return  # a server keeps the City's policy; a store that adopted one keeps it
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "single-user-policy.yaml"
        path.write_text(single_user_policy_text())
        d = adopt(uri, path, by="Demo Administrator", reason="the demo runs on an embedded store with no server",
                  acknowledge_weakening=SINGLE_USER_WEAKENING)
    console.print(f"[dim]policy adopted for this embedded store: {d.version}, weakening acknowledged: "
                  f"{SINGLE_USER_WEAKENING}[/]", soft_wrap=True)


def memos(console: Console, uri: str, out: Path, results: list[AssessmentResult]) -> None:
    """The decision memo of each demo tool after the decisions (issue 15): beside its reports (HTML, Markdown and
    a PDF to print) and logged again with its run, so the approved baseline's memo names its reviewer."""
    from harness.report.memo import build_memo
    from harness.tracking import Store
    from harness.workflows.memo import decision_of, log_memo, write_memo

    store = Store(uri)
    for r, tool in zip(results, TOOLS, strict=True):
        memo = build_memo(r, decision_of(uri, r), report="report.html")
        write_memo(memo, out / tool.out_name, ("html", "md", "pdf"))
        log_memo(store, str(r.run_id), memo)
        console.print(f"[dim]memo: {out / tool.out_name / 'memo.pdf'} ({memo.verdict_title}; decision: "
                      f"{memo.decision.state})[/]", soft_wrap=True)


def run_demo(console: Console, out: Path, tracking_uri: str | None) -> int:
    from harness.cli.console import print_verdicts
    from harness.tracking import resolve_uri, sqlite_path
    from harness.tracking.browse import UI_QUERY
    from harness.workflows.assess import run_assessment

    missing = [str(t.path.relative_to(ROOT)) for t in TOOLS if not t.path.is_file()]
    if missing:
        raise ConfigError(f"the demo tools {missing} are missing from {ROOT / 'examples'}; is this a full checkout?")
    results, outcome = [], 0
    runs: dict[tuple[str, str], AssessmentResult] = {}
    single_user_store(console, resolve_uri(tracking_uri))
    with console.status("demo", spinner="dots") as status:
        for tool in TOOLS:
            rec = run_assessment(tool.path, [tool.dataset], tracking_uri=tracking_uri, current=tool.current,
                                 out=out / tool.out_name, progress=status.update, submitter=DEMO_ANALYST)
            results.append(rec.result)
            runs[(tool.folder, tool.manifest)] = rec.result
            if rec.result.verdict.value not in tool.expected:
                outcome = 1
            console.print(f"[dim]{rec.result.tool['id']}: {rec.result.verdict.value}, run {rec.result.run_id}, "
                          f"report {rec.out_dir / 'report.html'}[/]")
            line = hallucination_line(rec.result)
            if line:
                console.print(f"[dim]  {line}[/]")
    print_verdicts(console, results)
    uri = resolve_uri(tracking_uri)
    gate_ok = gate_ending(console, uri, runs[APPROVE], runs[REFUSE])
    memos(console, uri, out, results)
    console.print(f"\nReports: {out}/<tool>/report.html (open in a browser), report.md, assessment.json; the decision "
                  f"memos: {out}/<tool>/memo.pdf, memo.html, memo.md", soft_wrap=True)
    db = sqlite_path(uri)
    mlflow_cmd = Path(sys.executable).with_name("mlflow")
    if db is not None:
        # the UI is a process of its own: it does not import the harness, so it is told to send nothing out
        console.print("Browse the evidence in the MLflow UI (telemetry off, listening on this machine only):\n"
                      f"  MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true {mlflow_cmd} ui --backend-store-uri "
                      f"sqlite:///{db.resolve().as_posix()} --host 127.0.0.1 --port 5000\n"
                      f"  then open http://127.0.0.1:5000/#/experiments?{UI_QUERY} (experiments harness/<tool id>; "
                      "the query opens MLflow's machine-learning view, where the runs, their datasets and tables are)",
                      soft_wrap=True)  # a command to copy: never broken across lines
    else:
        console.print(f"The runs are on the tracking server {uri}.")
    if outcome:
        console.print("[bold red]The demo's tools did not get their expected verdicts (rentrank and quickanswer "
                      "FAIL, the two baselines PASS or NEEDS_REVIEW).[/]")
    if not gate_ok:
        console.print("[bold red]The demo did not end as it should at the gate (rental-screen-baseline approved and "
                      "open, rentrank refused and closed).[/]")
    return outcome or (0 if gate_ok else 1)
