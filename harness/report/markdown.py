"""The Markdown report: GitHub-flavoured Markdown of the report's view model (`harness.report.view`), the
HTML report's content and order without the plots.

User-controlled text (tool names, group names, messages, answers) is written on one line with raw HTML
neutralised and table pipes escaped, so a value can never change the page's structure.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from harness.report.formatting import DASH
from harness.report.sections import GroupRow, TableView
from harness.report.view import ReportView, build_view, how_to_read

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.report.summary import Summary
    from harness.trend import History

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

__all__ = ["markdown_of", "md", "md_cell", "render_markdown", "summary_markdown"]


def md(text: Any) -> str:
    """User-controlled text on one line, with raw HTML neutralised for Markdown renderers ("<=" stays)."""
    return _TAG_START.sub("&lt;", " ".join(str(text).split()))


def md_cell(text: Any) -> str:
    return md(text).replace("|", "\\|")


def _md_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
    return lines


def _md_group_name(r: GroupRow) -> str:
    marks = (["**reference**"] if r.reference else []) + (["too few rows to judge"] if r.insufficient else [])
    return r.name + (f" ({', '.join(marks)})" if marks else "")


def _md_table_view(t: TableView) -> list[str]:
    """One table under its heading, with its introduction and note, and a blank line after."""
    out: list[str] = []
    if t.kind == "mitigation":
        out += [f"> **Illustration, not a remedy.** {md(t.intro)}", ">", f"> {md(t.note)}", ""]
    elif t.intro:
        out += [md(t.intro), ""]
    if t.group_rows:
        out += _md_table(t.columns, [[_md_group_name(r), *r.cells] for r in t.group_rows])
    elif t.rows:
        marks = t.marks or [""] * len(t.rows)
        subs = t.subs or [""] * len(t.rows)
        rows = [[f"{r[0]} ({sub})" if sub else r[0], *r[1:]] for r, sub in zip(t.rows, subs, strict=False)]
        out += _md_table(t.columns, [[f"**{c}**" if mark and c != DASH else c for c in r]
                                     for r, mark in zip(rows, marks, strict=False)])
    if t.items:
        out += ["", "Per-group thresholds (a mix of two thresholds where the optimiser randomises):", ""]
        out += [f"- {md(i)}" for i in t.items]
    if t.note and t.kind != "mitigation":
        out += ["", md(t.note)] if out and out[-1] else [md(t.note)]
    return [*out, ""]


def summary_markdown(summary: Summary, limit: int | None = None, brief: bool = False) -> list[str]:
    """The plain summary's reasons and what was not tested, as Markdown lines (the report shows every reason;
    the memo the first `limit`, and with `brief` names the checks that did not apply without saying why)."""
    out: list[str] = []
    shown = summary.reasons[:limit] if limit is not None else summary.reasons
    if shown:
        out += ["Reasons for this verdict:", ""]
        out += [f"- **{md(r.title)}.** {md(r.text)}" for r in shown]
        hidden = len(summary.reasons) - len(shown)
        if hidden:
            out.append(f"- {hidden} more check{'s' if hidden > 1 else ''}: see the full report.")
        out.append("")
    if summary.not_tested:
        out += ["Not tested:", ""]
        out += [f"- **{md(u.what)}** ({md(u.where)}): {md(u.why)}"
                + (" *Required: the verdict can be at best NEEDS REVIEW.*" if u.required else "")
                for u in summary.not_tested] + [""]
    if summary.not_applicable and brief:
        named = "; ".join(f"{md(u.what)} ({md(u.where)})" for u in summary.not_applicable)
        out += [f"Did not apply to this tool: {named}. The full report says why.", ""]
    elif summary.not_applicable:
        out += ["Did not apply to this tool:", ""]
        out += [f"- **{md(u.what)}** ({md(u.where)}): {md(u.why)}" for u in summary.not_applicable] + [""]
    return out


def history_markdown(h: History) -> list[str]:
    """The report's "Over time" section in Markdown (the charts are in the HTML report)."""
    from harness.report.comparison import difference_text, figure_text
    from harness.report.trend import moved_rows, run_rows, since_sentence

    out = ["## Over time", ""]
    if h.problem:
        return [*out, f"The tool's earlier assessments could not be read: {md(h.problem)}", ""]
    t = h.trend
    if t is None:
        return []
    out += [f"{len(t.runs)} completed assessment(s) of {md(t.tool_id)}, oldest first (the charts are in the HTML "
            "report; `harness trend` prints every figure).", "",
            "| date | run | kind | version | verdict | data |", "|---|---|---|---|---|---|"]
    for r in run_rows(t):
        out.append(f"| {r['date']} | {r['run_id']} | {r['kind']} | {md(r['version'])} | {r['verdict']} | "
                   f"{md(r['data'])}{' **(new data)**' if r['data_note'] else ''} |")
    out.append("")
    c = h.since_approval
    if c is not None:
        out += ["### What moved since the approval", "", md(since_sentence(c)), ""]
        moved = moved_rows(c)
        if moved:
            out += ["| figure | approved | now | now - approved |", "|---|---|---|---|"]
            for m in moved:
                a, b, d = figure_text(m.a), figure_text(m.b), difference_text(m)
                out.append(f"| {md(m.key)} | {' '.join(a)} | {' '.join(b)} | {' '.join(d)} |")
            out.append("")
        if c.changed:
            out += ["| finding | approved | now |", "|---|---|---|"]
            out += [f"| {md(f.key)} | {f.a_status or 'absent'} | {f.b_status or 'absent'} |" for f in c.changed]
            out.append("")
    return out


def render_markdown(result: AssessmentResult, history: History | None = None) -> str:
    """GitHub-flavoured Markdown: the HTML report's content and order, without the plots."""
    return markdown_of(build_view(result, history))


def markdown_of(v: ReportView) -> str:
    """The Markdown of a built view (`write_reports` builds the view once for both renderers)."""
    out: list[str] = [f"# AI risk assessment: {md(v.title)}", ""]
    if v.subtitle:
        out += [md(v.subtitle), ""]
    out += [f"> **Verdict: {v.verdict_title}.** {md(v.summary.sentence)}", ">", f"> {v.verdict_meaning}", ">"]
    if v.error:
        out += [f"> **The assessment could not complete:** {md(v.error)}", ">"]
    out.pop()
    out.append("")
    out += summary_markdown(v.summary)

    out += ["## At a glance", ""]
    for label, value in v.glance:
        out.append(f"- **{label}:** " + ("; ".join(md(x) for x in value) if isinstance(value, list) else md(value)))
    out.append("")

    out += [f"## Findings ({v.n_findings})", ""]
    if not v.finding_groups:
        out += ["No finding was recorded." if v.verdict != "ERROR"
                else "No finding was recorded: the assessment stopped before any check could run.", ""]
    for g in v.finding_groups:
        out += [f"### {g.heading} ({len(g.findings)})", ""]
        for f in g.findings:
            facts = [f.value, f.ci, f.threshold, f"**{f.status}**", f.severity, f.section]
            if f.benchmark:
                facts.append(f"benchmark: {md(f.benchmark)}")
            where = f"`{md(f.key)}`" + (f" on {md(f.dataset)}" if f.dataset else "")
            out += [f"- {md(f.message)}  ", f"  {' · '.join(facts)} · {where}"]
        out.append("")

    if v.history is not None:
        out += history_markdown(v.history)

    out += ["## Results by suite and dataset", ""]
    if not v.suites:
        out += ["No suite ran.", ""]
    else:
        kinds = {t.kind for s in v.suites for t in s.tables}
        extra = [what for kind, what in (("robustness", "robustness curves of each group against the severity of "
                                          "each perturbation"), ("drift", "a chart of the drift of each feature"))
                 if kind in kinds]
        out += ["The HTML report (report.html) shows the same tables with plots: each group's selection rate "
                "and error rates, a forest plot of every disparity and of the four-fifths ratios, and reliability "
                "diagrams of the scores" + (f"; and {' and '.join(extra)}" if extra else "") + ".", ""]
    for s in v.suites:
        out += [f"### Suite `{md(s.suite)}` (version {md(s.version)}) on {md(s.dataset)}: {s.status}", ""]
        if s.skipped_reason:
            out += [f"Skipped: {md(s.skipped_reason)}", ""]
            continue
        out += [s.summary + ".", ""]
        if not s.tables:
            out += ["This suite recorded no tables; its findings are listed above.", ""]
        for sec in s.sections:
            level = "#####" if sec.title else "####"
            if sec.title:
                out += [f"#### {md(sec.title)}", ""]
            for t in sec.tables:
                out += [f"{level} {md(t.title)}", "", *_md_table_view(t)]
        for definitions in s.glossary:
            out += [" ".join(definitions), ""]

    out += ["## Tool disclosure", "",
            "As declared in the tool manifest, not verified by this assessment. The City's transparency "
            "principle asks every AI system to disclose its model type, training source and legal access to "
            "data and to document its limitations; policy 2.1 asks vendors how they mitigate bias.", ""]
    out += [f"- **{label}:** {md(value)}" for label, value in v.disclosure] + [""]

    out += ["## How to read this report", ""] + [f"- {md(p)}" for p in how_to_read(v)]
    if v.citations:
        out += ["", "Policy sections cited:", ""] + [f"- **{md(k)}** {md(t)}" for k, t in v.citations]
    out += ["", "---", "", f"*{md(v.footer)}*", ""]
    return "\n".join(out)
