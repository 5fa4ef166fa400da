"""The decision memo of a recorded assessment (issue 15): which run, what was decided about its tool version, and
the memo's files, logged with the run and refreshed when a decision is recorded.

The decision is read from the gate's verified log (`harness.gate.status`, `gate`, `next_due`, `history`), never
from run tags, and is about the *version*: the memo says whether the approval rests on this run or on another
assessment of the same version, and whether it still holds (a suspension, an expired waiver, an overdue
re-assessment close the gate, and the memo says so). The memo is a rendering of `assessment.json` and of the
log, not evidence: it is logged beside the run's reports (`memo.html`, `memo.md`) but not listed in
`evidence.json`, so refreshing it after a decision leaves the evidence an approval is bound to untouched.
"""
from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError, GateError, HarnessError
from harness.report.memo import FILENAMES, DecisionView, MemoView, build_memo, render_memo

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.gate import Decision, VersionStatus
    from harness.gate.log import Book
    from harness.policy import Policy
    from harness.report.view import ReportView
    from harness.tracking import Store
    from harness.trend import History

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
LOGGED = ("html", "md")  # what an assessment and a decision log with the run (PDF on demand: `harness memo`)


def _who(d: Decision) -> str:
    from harness.gate import show_time

    return f"{d.actor} on {show_time(d.at)}"


def _rests_on(d: Decision, run_id: str | None) -> str:
    if d.run_id and d.run_id == run_id:
        return "on this assessment"
    return f"on run {d.run_id}, another assessment of this version" if d.run_id else "without naming a run"


def _next_due(vs: VersionStatus, policy: Policy, now: datetime) -> str:
    from harness.gate import next_due
    from harness.gate.inputs import reassessment_interval

    due = next_due(vs, policy)
    tier = str(vs.manifest.get("risk_tier") or "high")
    if due is None:
        return "none scheduled: the tool is not approved for use"
    days = reassessment_interval(policy, tier)
    late = " (overdue)" if due < now else ""
    return f"{due.date().isoformat()}{late}: {tier}-risk tools are re-assessed every {days} days (policy 4.3)"


def decision_of(uri: str, result: AssessmentResult, now: datetime | None = None) -> DecisionView:
    """What was decided about the assessed version, as the verified log has it at `now`: the tool's log and the policy
    in force are each read once, for the version's status, its gate, its due date and its pending sign-offs."""
    from harness.gate import gate, in_force, show_time, status
    from harness.gate.identity import identity_label
    from harness.gate.inputs import registry_at
    from harness.gate.log import read_book
    from harness.gate.records import now_utc

    at = now_utc(now)
    tool, version, run_id = str(result.tool["id"]), str(result.tool["version"]), result.run_id
    as_of = show_time(at)
    try:
        book = read_book(registry_at(uri), tool)
        vs = status(uri, tool, version, now=at, book=book)[0]
        policy = in_force(uri).policy
        answer = gate(uri, tool, version, now=at, policy=policy, book=book)
    except GateError as e:
        return DecisionView(state="unknown", headline=f"No decision can be read from the decision log: {e}",
                            next_due="unknown", as_of=as_of)
    gate_now = ("OPEN: " if answer.open else "CLOSED: ") + answer.reason
    name = f"{tool} {version}"
    d, approval = vs.decision, vs.approval
    rows: list[tuple[str, str]] = []
    if d is None:
        # the gate's "not approved; no decision yet" would say the headline again: shown only when it says more
        said = "not approved;" in answer.reason and not answer.open
        return DecisionView(
            state="none yet", headline=f"No decision yet: {name} is not approved and may not be used (policy 4.1).",
            gate="" if said else gate_now, next_due=_next_due(vs, policy, at), as_of=as_of)
    rows.append(("By", f"{d.actor}, {identity_label((d.details or {}).get('identity'))}"))
    rows.append(("When", show_time(d.at)))
    if d.action == "approve":
        state = "approved" if answer.open else "approval lapsed"
        headline = f"Approved by {_who(d)}, {_rests_on(d, run_id)}."
        rows.append(("Rationale", str(d.reason or "none given")))
        rows.append(("Expiry", "none: the approval holds while the re-assessments below pass (policy 4.3)"))
    elif d.action == "waive":
        state = "waiver expired" if vs.lapsed else ("waived" if answer.open else "approval lapsed")
        headline = (f"Waived by {_who(d)}, {_rests_on(d, run_id)}: the City accepts the risk under conditions "
                    f"until {show_time(d.expires)} (policy 4.2).")
        if vs.lapsed:
            headline = (f"The waiver by {_who(d)} expired on {show_time(d.expires)}: the tool may not be used "
                        "(policy 4.2).")
        rows += [("Rationale", str(d.reason or "none given")), ("Conditions", str(d.conditions or "none")),
                 ("Expires", show_time(d.expires))]
    else:  # reject, suspend, retire: the tool may not be used
        state = {"reject": "rejected", "suspend": "suspended", "retire": "retired"}.get(d.action, d.action)
        headline = f"{state.capitalize()} by {_who(d)}: the tool may not be used (policy 4.1)."
        if approval is not None and d.action != "reject":
            headline = (f"{'Approved' if approval.action == 'approve' else 'Waived'} by {_who(approval)}, then "
                        f"{state} by {_who(d)}: the tool may not be used (policy 4.1).")
        rows.append(("Reason", str(d.reason or "none given")))
        if d.run_id:
            rows.append(("Run", f"{d.run_id}" + (" (this assessment)" if d.run_id == run_id else "")))
    if state == "approval lapsed":
        headline += f" It no longer holds: {answer.reason}"
    awaiting = _awaiting(uri, book, version, d)
    if awaiting:
        rows.append(("Sign-off", awaiting))
    return DecisionView(state=state, headline=headline, rows=rows, gate=gate_now, next_due=_next_due(vs, policy, at),
                        as_of=as_of)


def _awaiting(uri: str, book: Book, version: str, last: Decision) -> str:
    """Signatures recorded after the last decision that do not take effect until every role signs."""
    from harness.gate import history

    later = [d for d in history(uri, book.tool, book=book).records if d.version == version and d.action == "signoff"
             and d.seq > last.seq]
    if not later:
        return ""
    details = later[-1].details or {}
    return (f"signed as {details.get('role')} by {later[-1].actor} for a {details.get('for')}; awaiting "
            f"{', '.join(details.get('awaiting') or [])}, so nothing changes until they sign")


# -- which run ------------------------------------------------------------------------------------------


def resolve_run(store: Store, ref: str) -> str:
    """A run id as given (32 hex digits), else TOOL[:VERSION]: the latest assessment recorded for that version,
    or, with no version, for the version approved for use (else the latest version assessed)."""
    if RUN_ID.match(ref):
        return ref
    from harness.gate import USABLE, parse_ref, status

    tool, version = parse_ref(ref)
    rows = [vs for vs in status(store.uri, tool, version) if vs.assessed is not None]
    if not rows:
        raise ConfigError(f"{ref}: no assessment of {tool}{' ' + version if version else ''} is recorded in "
                          f"{store.uri}; run `harness assess` first")
    usable = [vs for vs in rows if vs.state in USABLE]
    chosen = (usable or rows)[-1]
    assert chosen.assessed is not None
    return str(chosen.assessed.run_id)


def load_result(store: Store, run_id: str) -> AssessmentResult:
    from harness.assessment import AssessmentResult
    from harness.tracking import load_assessment

    return AssessmentResult.from_dict(load_assessment(store, run_id))


def memo_of(store: Store, ref: str, now: datetime | None = None, report: str | None = None) -> MemoView:
    """The memo of a run (or of a tool's latest assessment), with its decision read from the store's log."""
    run_id = resolve_run(store, ref)
    result = load_result(store, run_id)
    where = report or f"report.html of MLflow run {run_id} in {store.uri}"
    return build_memo(result, decision_of(store.uri, result, now), report=where, history=_history(store, result))


def _history(store: Store, result: AssessmentResult) -> History:
    """The tool's trend up to this run, and for a re-assessment what moved since the approval (issue 16)."""
    from harness.workflows.trend import history_of

    return history_of(store, result.to_dict(), look_up_approval=True)


# -- writing and logging --------------------------------------------------------------------------------


def write_memo(memo: MemoView, folder: Path, formats: tuple[str, ...] = LOGGED) -> list[Path]:
    """memo.html / memo.md (/ memo.pdf) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        data = render_memo(memo, fmt)
        path = folder / FILENAMES[fmt]
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        paths.append(path)
    return paths


def log_memo(store: Store, run_id: str, memo: MemoView) -> list[str]:
    """Render the memo and log it at the root of the run, beside report.html (whose relative link it keeps),
    replacing the one logged before; returns the artifact paths."""
    with tempfile.TemporaryDirectory(prefix="harness-memo-") as tmp:
        paths = write_memo(memo, Path(tmp))
        for p in paths:
            store.log_file(run_id, p)
    return [p.name for p in paths]


def record_memo(uri: str, result: AssessmentResult, out_dir: Path, view: ReportView | None = None,
                history: History | None = None) -> list[Path]:
    """At the end of an assessment: the memo beside the reports in `out_dir`, and logged with the run."""
    from harness.tracking import Store

    memo = build_memo(result, decision_of(uri, result), report="report.html", view=view, history=history)
    paths = write_memo(memo, out_dir)
    store = Store(uri)
    for p in paths:
        store.log_file(str(result.run_id), p)
    return paths


def refresh_memo(uri: str, run_id: str | None, now: datetime | None = None) -> str | None:
    """After a decision on `run_id`: re-render the memo with the decision and log it again. Returns None when
    refreshed, else why not (the decision itself is recorded either way: a memo is a rendering, never a
    precondition of a decision)."""
    if not run_id:
        return "the decision names no run"
    from harness.tracking import Store

    store = Store(uri)
    try:
        result = load_result(store, run_id)
        log_memo(store, run_id, build_memo(result, decision_of(uri, result, now), report="report.html",
                                           history=_history(store, result)))
    except (HarnessError, OSError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def refresh_after(uri: str, decision: Decision, now: datetime | None = None) -> dict[str, str | None]:
    """After any decision on a version: refresh the memo of the run it names and of the run the version's
    approval or waiver rests on (a suspension or retirement names no run, but the approved run's memo must stop
    saying "approved"). Run id -> None when refreshed, else why not."""
    from harness.gate import status

    runs = [decision.run_id] if decision.run_id else []
    try:
        approval = status(uri, decision.tool, decision.version, now=now)[0].approval
    except GateError:
        approval = None
    if approval is not None and approval.run_id:
        runs.append(approval.run_id)
    return {str(r): refresh_memo(uri, str(r), now) for r in dict.fromkeys(runs)}
