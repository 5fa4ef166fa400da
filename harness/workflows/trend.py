"""`harness trend TOOL` and the "Over time" section of a report and a memo (issue 16, section 1), read through the
command's one `Store`.

The runs are the tool's completed assessments and re-assessments (`tracking.completed_assessments`: FINISHED,
not deleted, of the tool's own experiment and naming the tool), ordered by the time they started. A report of
one run shows the runs up to and including it (`history_of`), so re-rendering an old run does not show its
future; a re-assessment's report also shows what moved since the approval: `harness.comparison.compare` of the
approved run the gate's approval rests on (the approved run as A, the re-assessment as B).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.comparison import compare, suite_names
from harness.errors import ConfigError, HarnessError
from harness.trend import History, Trend, build_trend

if TYPE_CHECKING:
    from harness.tracking import Store

REASSESSMENT = "reassessment"


def _headlines(docs: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    from harness.workflows.compare import headlines

    return headlines(list(dict.fromkeys(n for d in docs for n in suite_names(d))))


def tool_trend(store: Store, tool_id: str, version: str | None = None) -> Trend:
    """Every completed assessment of the tool (or of one version), oldest first; one clear error when none is."""
    from harness.tracking import completed_assessments

    docs = [doc for _, doc in completed_assessments(store, tool_id, version)]
    if not docs:
        what = f"{tool_id} {version}" if version else tool_id
        raise ConfigError(f"no completed assessment of {what} is recorded in {store.uri} (a FAILED or unfinished run "
                          "does not count); `harness status` lists the tools, `harness assess` records one")
    return build_trend(tool_id, docs, _headlines(docs), version)


def _at(doc: Mapping[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(doc.get("started_at"))).timestamp()
    except ValueError:
        return float("inf")


def _approved_run(store: Store, tool: str, version: str) -> str | None:
    """The run the version's latest approval rests on, as the verified decision log has it."""
    from harness.gate import status

    approval = status(store.uri, tool, version)[0].approval
    return str(approval.run_id) if approval is not None and approval.run_id else None


def history_of(store: Store, doc: Mapping[str, Any], approved_run: str | None = None,
               look_up_approval: bool = False) -> History:
    """What a report of the run `doc` (its assessment.json, recorded or being recorded) shows of the tool's past:
    the tool's completed assessments that started no later than it, then it; and, when it is a re-assessment,
    the comparison with `approved_run` (the pipeline knows it: `gate.views.approved_baseline`), or with the run
    the version's approval rests on (`look_up_approval`, for a report or memo rendered later). Reading the store
    can fail (a server down); the report then says so instead of leaving the section out silently."""
    from harness.tracking import completed_assessments, load_assessment

    tool = doc.get("tool") or {}
    tool_id, version, run_id = str(tool.get("id", "")), str(tool.get("version", "")), doc.get("run_id")
    try:
        when = _at(doc)
        docs = [d for _, d in completed_assessments(store, tool_id) if d.get("run_id") != run_id and _at(d) <= when]
        docs.append(dict(doc))
        trend = build_trend(tool_id, docs, _headlines(docs))
        since = None
        if doc.get("kind") == REASSESSMENT:
            if approved_run is None and look_up_approval:
                approved_run = _approved_run(store, tool_id, version)
            if approved_run and approved_run != run_id:
                approved = load_assessment(store, approved_run)
                since = compare(approved, doc, _headlines([approved, doc]))
    except HarnessError as e:
        return History(trend=None, problem=f"{type(e).__name__}: {e}")
    return History(trend=trend, since_approval=since)


__all__ = ["history_of", "tool_trend"]
