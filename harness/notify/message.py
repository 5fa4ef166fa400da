"""The words of a notice: one subject line and a plain-text body for e-mail, and the JSON document a webhook or a
command receives (the same facts, with the subject and body, so a chat integration can post the text as it is).

Written for the person who must act, not for a log parser: what happened to which tool, when, what it means for
its use (the gate, policy 4.1-4.3), and the command that shows more. Dates are UTC, a midnight shown as the date.
"""
from __future__ import annotations

import json
from typing import Any

from harness import __version__
from harness.gate.records import show_time
from harness.notify.events import Notice

PREFIX = "[AI Risk Harness]"
SCHEMA = "harness.notice/1"


def subject(n: Notice) -> str:
    """One line: the event, the tool and version, and the date that matters."""
    who = f"{n.name} ({n.tool} {n.version})" if n.name else f"{n.tool} {n.version}"
    if n.event == "fail":
        return f"{PREFIX} FAIL: {who} failed its assessment"
    if n.event == "suspended":
        return f"{PREFIX} Suspended: {who} may not be used"
    if n.event == "waiver-lapsing":
        return f"{PREFIX} Waiver of {who} lapses on {show_time(n.lapses)}"
    if n.event == "approval-lapsing":
        return f"{PREFIX} Approval of {who} lapses on {show_time(n.lapses)} unless re-assessed"
    if n.event == "reassessment-overdue":
        return f"{PREFIX} Re-assessment of {who} overdue since {show_time(n.due)}"
    raise ValueError(f"no subject for event {n.event!r}")


def _what(n: Notice) -> list[str]:
    ref = f"{n.tool}:{n.version}"
    if n.event == "fail":
        return [f"The {n.reason or 'assessment'} of {n.tool} {n.version} ended with verdict FAIL.",
                "A tool that fails its assessment may not be used unless remediated (policy 4.2).",
                *(["Reasons:", *(f"  - {r}" for r in n.reasons)] if n.reasons else []),
                f"Read the report: harness report {n.run_id}"]
    if n.event == "suspended":
        return [f"{n.tool} {n.version} was suspended by {n.by} on {show_time(n.at)}: the gate is closed until it is "
                "approved again on fresh evidence (policy 4.1, 4.3).", f"Reason: {n.reason}",
                f"History: harness history {n.tool}"]
    if n.event == "waiver-lapsing":
        return [f"The waiver of {n.tool} {n.version} (by {n.by}, on run {n.run_id}) lapses on {show_time(n.lapses)}; "
                "from then on the gate is closed (policy 4.2).", f"Conditions: {n.reason}",
                f"Re-assess it before then (harness reassess {ref}) and decide again; see harness status {ref}"]
    if n.event == "approval-lapsing":
        return [f"The re-assessment of {n.tool} {n.version} was due on {show_time(n.due)} (policy 4.3). Unless it is "
                f"re-assessed, its gate closes on {show_time(n.lapses)}, at the end of the grace period.",
                f"Re-assess it: harness reassess {ref}"]
    return [f"The re-assessment of {n.tool} {n.version} was due on {show_time(n.due)} (policy 4.3; last assessed "
            f"in run {n.run_id}). Its gate closes on {show_time(n.lapses)} unless it is re-assessed.",
            f"Re-assess it: harness reassess {ref}"]


def body(n: Notice) -> str:
    """The plain-text body: the facts in labelled lines, then what it means and what to run."""
    facts = [("Tool", f"{n.name} ({n.tool})" if n.name else n.tool), ("Version", n.version),
             ("Department", n.department), ("Risk tier", n.risk_tier), ("Verdict", n.verdict),
             ("Run", n.run_id), ("Date", show_time(n.at)), ("Re-assessment due", show_time(n.due) if n.due else None),
             ("Lapses", show_time(n.lapses) if n.lapses else None)]
    lines = [f"{label}: {value}" for label, value in facts if value]
    return "\n".join([*lines, "", *_what(n), "", f"-- sent by the AI Risk Harness {__version__} (settings.notify of "
                      "the policy in force)", ""])


def document(n: Notice) -> dict[str, Any]:
    """What a webhook is POSTed and a command reads on its standard input."""
    return {"schema": SCHEMA, "harness_version": __version__, **n.as_dict(), "subject": subject(n), "text": body(n)}


def document_bytes(n: Notice) -> bytes:
    return json.dumps(document(n), sort_keys=True, ensure_ascii=False).encode("utf-8")


__all__ = ["PREFIX", "SCHEMA", "body", "document", "document_bytes", "subject"]
