"""The decision memo: one page (two at most) for a department head and the public record (issue 15).

What the tool is for, the verdict in one sentence, the three most important reasons in plain words, what was
not tested, the decision a named person made (or that none was made yet) and when the tool must be assessed
again, with the run id and a link to the full report. It is made of the report's own view model
(`view.build_view`: the plain summary, the title, the masked tool facts), so the memo and the report cannot
disagree; the decision comes in as plain data (`DecisionView`), read from the gate's verified log by
`harness.workflows.memo`, so this module needs no store.

Markdown, self-contained HTML (no scripts, no external links) and PDF (WeasyPrint, imported only for PDF).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError
from harness.report.formatting import DASH
from harness.report.formatting import text as text_or
from harness.tiering import tier_text

if TYPE_CHECKING:
    import jinja2

    from harness.assessment import AssessmentResult
    from harness.report.summary import Summary
    from harness.report.view import ReportView
    from harness.trend import History

TEMPLATE = "memo.html.j2"
FORMATS = ("html", "md", "pdf")
FILENAMES = {"html": "memo.html", "md": "memo.md", "pdf": "memo.pdf"}
TOP_REASONS = 3
PAGE_SIZES = ("A4", "Letter")


@dataclass(frozen=True)
class DecisionView:
    """The human decision on the assessed version, as the verified decision log has it at `as_of`."""

    state: str  # approved, waived, rejected, suspended, retired, waiver expired, approval lapsed, none yet, unknown
    headline: str  # the decision in one sentence
    rows: list[tuple[str, str]] = field(default_factory=list)  # by, when, rationale, conditions, expiry, ...
    gate: str = ""  # the gate's answer now, in words
    next_due: str = ""  # the next re-assessment, or why none is scheduled
    as_of: str = ""

    @property
    def approved(self) -> bool:
        return self.state in ("approved", "waived")


UNKNOWN = DecisionView(state="unknown", headline="The decision was not read: this memo was made from the assessment "
                       "alone. `harness memo RUN_ID` on the store that recorded it adds the decision.",
                       next_due="unknown (no decision log was read)")


@dataclass(frozen=True)
class MemoView:
    title: str
    subtitle: str
    facts: list[tuple[str, str]]  # purpose, category, risk tier, oversight (version, vendor, department: subtitle)
    verdict: str
    verdict_title: str
    summary: Summary
    decision: DecisionView
    run_id: str
    assessed: str
    report: str  # where the full report is: a relative link beside the memo, or a path
    record: list[tuple[str, str]]  # run id, policy, data, harness version: for the public record
    top: int = TOP_REASONS  # reasons shown; the rest are counted ("2 more checks: see the full report")
    # the tool's figures over time (issue 16): at most `trend.MEMO_CHARTS` charts, those that failed or moved, once
    # the tool has been assessed more than once; and for a re-assessment what moved since the approval
    trend: list[tuple[str, Any]] = field(default_factory=list)
    trend_note: str = ""


def _glance(view: ReportView, label: str) -> str:
    for k, v in view.glance:
        if k == label:
            return "; ".join(v) if isinstance(v, list) else v
    return DASH


def build_memo(result: AssessmentResult, decision: DecisionView | None = None, *, report: str = "report.html",
               view: ReportView | None = None, history: History | None = None) -> MemoView:
    """The memo of one recorded assessment; `view` when the report's view model is already built (an
    assessment writes both from one), `history` when the tool's trend was read (`workflows.trend.history_of`)."""
    from harness.redact import mask_tree
    from harness.report.view import build_view

    view = view or build_view(result, history)
    history = history or view.history
    tool = mask_tree(dict(result.tool or {}))
    decision = _masked(decision or UNKNOWN)
    facts = [
        ("Purpose", text_or(tool.get("intended_use"))),
        ("Category", text_or(tool.get("category"))),
        ("Risk tier", tier_text(tool)),  # and why (issue 16)
        ("Human oversight", text_or(tool.get("human_oversight"))),
    ]
    record = [
        ("Run id", text_or(result.run_id, "not recorded")),
        ("Assessed", _glance(view, "Date")),
        ("Data", _glance(view, "Datasets")),
        ("Policy", _glance(view, "Policy")),
        ("Harness", text_or(result.harness_version)),
    ]
    return MemoView(title=view.title, subtitle=view.subtitle, facts=facts, verdict=view.verdict,
                    verdict_title=view.verdict_title, summary=view.summary, decision=decision,
                    run_id=text_or(result.run_id, "not recorded"), assessed=_glance(view, "Date"), report=report,
                    record=record, **_over_time(history))


def _over_time(history: History | None) -> dict[str, Any]:
    """The memo's few trend charts and one short paragraph: a one-page memo shows at most `MEMO_CHARTS` figures,
    those whose finding failed or that moved since the run before, and only once there is a "before" (a single
    run's trend says no more than its verdict). For a re-assessment the paragraph says what moved since the
    approval (the report has the table)."""
    from harness.report.plots import TREND_H_MEMO
    from harness.report.trend import MEMO_CHARTS, charts, moved_rows

    if history is None:
        return {}
    parts, chosen = [], []
    t, c = history.trend, history.since_approval
    if t is not None and len(t.runs) > 1:
        chosen = t.important(MEMO_CHARTS)
        changed = len({r.datasets for r in t.runs}) > 1
        parts.append(f"{len(t.runs)} assessments, {t.runs[0].date} to {t.runs[-1].date}"
                     + (" (the data changed)" if changed else "") + ".")
    if c is not None:
        parts.append(f"Since the approval ({c.a.started_at[:10]}): {len(c.changed)} finding(s) changed status, "
                     f"{len(moved_rows(c))} of {len(c.metrics)} figures moved beyond both intervals.")
    if chosen:
        parts.append(f"Below: {len(chosen)} that failed or moved.")
    return {"trend": charts(t, chosen, TREND_H_MEMO) if t is not None and chosen else [],
            "trend_note": " ".join(parts)}


def _masked(d: DecisionView) -> DecisionView:
    """The decision's free text (a rationale, conditions, a reason) is typed by people: masked like every other
    string a report shows (issue 12), so a resident's phone number in a rationale never reaches the memo."""
    from harness.redact import mask_pii

    return replace(d, headline=mask_pii(d.headline), rows=[(k, mask_pii(v)) for k, v in d.rows],
                   gate=mask_pii(d.gate))


# -- renderers ------------------------------------------------------------------------------------------


def memo_markdown(m: MemoView) -> str:
    from harness.report.markdown import md, summary_markdown

    out = [f"# Decision memo: {md(m.title)}", ""]
    if m.subtitle:
        out += [md(m.subtitle), ""]
    out += [f"- **{label}:** {md(value)}" for label, value in m.facts] + [""]
    out += [f"## Verdict: {m.verdict_title}", "", md(m.summary.sentence), ""]
    if m.summary.tested:
        out += [f"Tested: {md('; '.join(m.summary.tested))}.", ""]
    out += summary_markdown(m.summary, limit=m.top, brief=True)
    d = m.decision
    out += [f"## Decision: {md(d.state)}" + (f" (as of {md(d.as_of)})" if d.as_of else ""), "", md(d.headline), ""]
    out += [f"- **{label}:** {md(value)}" for label, value in d.rows]
    if d.gate:
        out.append(f"- **Gate now:** {md(d.gate)}")
    out += [f"- **Next re-assessment:** {md(d.next_due)}"]
    if m.trend_note:
        out += ["", "## Over time", "", md(m.trend_note)]
        out += [f"- {md(label)}" for label, _ in m.trend]
    out += ["", "## The record", ""]
    out += [f"- **{label}:** {md(value)}" for label, value in m.record]
    out += [f"- **Full report:** {md(m.report)} (every finding, figure and table; `harness report {md(m.run_id)}` "
            "prints it again)", ""]
    return "\n".join(out)


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "report/templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def memo_html(m: MemoView) -> str:
    return _environment().get_template(TEMPLATE).render(m=m)


def memo_pdf(m: MemoView, page_size: str = "A4") -> bytes:
    """The memo as PDF, through WeasyPrint (Pango and HarfBuzz from the system: `make sysdeps`)."""
    data: bytes = pdf_document(memo_html(m), page_size).write_pdf()
    return data


def pdf_document(html: str, page_size: str = "A4") -> Any:
    """The laid-out document of an HTML page on `page_size` paper (its `.pages` are the printed pages)."""
    if page_size not in PAGE_SIZES:
        raise ConfigError(f"unknown page size {page_size!r}; choose one of {', '.join(PAGE_SIZES)}")
    try:
        import weasyprint
    except (ImportError, OSError) as e:  # OSError: the Python package is there, Pango is not
        raise ConfigError(f"PDF needs WeasyPrint and its system libraries ({type(e).__name__}: {e}); install them "
                          "with `make sysdeps` (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
                          "libharfbuzz-subset0), or choose --format html") from None
    return weasyprint.HTML(string=html).render(
        stylesheets=[weasyprint.CSS(string=f"@page {{ size: {page_size}; }}")])


def render_memo(m: MemoView, fmt: str, page_size: str = "A4") -> str | bytes:
    if fmt == "md":
        return memo_markdown(m)
    if fmt == "html":
        return memo_html(m)
    if fmt == "pdf":
        return memo_pdf(m, page_size)
    raise ConfigError(f"unknown memo format {fmt!r}; choose one of {', '.join(FORMATS)}")
