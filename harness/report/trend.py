"""How a tool's trend (`harness.trend`) is written: the texts every form shares (the runs, each figure's points,
what moved since the approval), the small-multiple charts (`plots.trend_svg`), the parts of the report's HTML
section (its Markdown is `markdown.history_markdown`), and the self-contained page of `harness trend --format
html` (`templates/trend.html.j2`, drawn by the shared template environment in the report's style). The terminal
table is drawn by `harness.cli.trend` from the same texts; the JSON form is `Trend.as_dict`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.report.formatting import DASH, fmt_value

if TYPE_CHECKING:
    from harness.comparison import Comparison, MetricRow
    from harness.trend import History, Series, Trend, TrendPoint

TEMPLATE = "trend.html.j2"
MEMO_CHARTS = 3  # the memo stays one page: at most this many figures, those that failed or moved


def sha(h: str) -> str:
    return h[:12] if h else "?"


def data_text(datasets: tuple[tuple[str, str], ...]) -> str:
    """"case-0 sha256 0e13d07d8f05": the data a run assessed, by name and the start of its sha256."""
    return "; ".join(f"{n} sha256 {sha(h)}" for n, h in datasets) or "none recorded"


def run_rows(trend: Trend) -> list[dict[str, str]]:
    """One row per run, oldest first; `data_note` says when a run assessed other data than the run before it."""
    rows, before = [], None
    for r in trend.runs:
        note = "new data" if before is not None and r.datasets != before else ""
        rows.append({"date": r.started_at[:19].replace("T", " "), "run_id": r.run_id, "kind": r.kind,
                     "version": r.tool_version, "verdict": r.verdict, "data": data_text(r.datasets),
                     "data_note": note})
        before = r.datasets
    return rows


def point_text(p: TrendPoint) -> str:
    """"0.912 [0.880, 0.940] PASS": one point in words."""
    f = p.figure
    interval = f" [{fmt_value(f.low)}, {fmt_value(f.high)}]" if f.has_interval else ""
    return f"{fmt_value(f.value)}{interval} {p.status or 'not judged'}" + (" (new data)" if p.data_changed else "")


def chart_title(s: Series) -> str:
    """The check's metric on one line; its suite, group (and dataset) on the next."""
    check, _, rest = s.key.removeprefix(s.suite + ".").partition(".")
    metric, _, group = rest.partition(".")
    second = " · ".join(x for x in (s.suite, group, f"on {s.slot}" if s.slot else "") if x)
    return f"{check}.{metric}\n{second}"


def chart(trend: Trend, s: Series, height: float | None = None) -> str | None:
    from harness.report.plots import TREND_H, trend_svg

    at = {r.run_id: i for i, r in enumerate(trend.runs)}
    rows: list[dict[str, Any]] = [
        {"x": at[p.run_id], "value": p.figure.value, "ci_low": p.figure.low, "ci_high": p.figure.high,
         "status": p.status, "new_data": p.data_changed, "date": trend.run(p.run_id).date}
        for p in s.points if p.run_id in at]
    return trend_svg(rows, title=chart_title(s), runs=len(trend.runs), threshold=s.threshold,
                     greater_is_better=s.greater_is_better, height=height or TREND_H)


def charts(trend: Trend, series: list[Series] | None = None, height: float | None = None) -> list[tuple[str, Any]]:
    """(label, SVG markup) of each series (all of them by default); a chart that cannot be drawn is left out with
    its label kept, so the table still names the figure."""
    from markupsafe import Markup

    out = []
    for s in trend.series if series is None else series:
        try:
            svg = chart(trend, s, height)
        except Exception as e:  # one chart's bug must not lose the report
            out.append((f"{s.label}: the chart could not be drawn ({type(e).__name__}: {e})", ""))
            continue
        out.append((s.label, Markup(svg) if svg else ""))
    return out


# -- since the approval -----------------------------------------------------------------------------------------

def moved_rows(c: Comparison) -> list[MetricRow]:
    """The headline figures whose difference since the approved run has an interval that excludes zero."""
    return [r for r in c.metrics if r.difference is not None and r.difference.low is not None
            and r.difference.high is not None and (r.difference.low > 0 or r.difference.high < 0)]


def since_sentence(c: Comparison) -> str:
    moved = moved_rows(c)
    changed = [d for d in c.datasets if not d.same]
    data = "on the same data" if not changed else "on other data (" + "; ".join(
        f"{d.name}: sha256 {sha(d.a_sha256 or '')} then {sha(d.b_sha256 or '')}" for d in changed) + ")"
    return (f"Since the approved run {c.a.run_id} ({c.a.started_at[:10]}, {c.a.verdict}), {data}: "
            f"{len(c.changed)} finding(s) changed status and {len(moved)} of {len(c.metrics)} headline figures moved "
            "by more than both runs' intervals allow.")


def history_context(h: History | None) -> dict[str, Any]:
    """The parts of the report's "Over time" section (issue 16): the runs, the charts (from the second run on),
    what moved since the approval, and the texts of each figure (`harness.report.comparison`'s, so the two pages
    agree)."""
    from harness.report.comparison import difference_text, figure_text

    parts: dict[str, Any] = {"history": h, "trend_runs": [], "trend_charts": [], "moved": [], "since": "",
                             "figure": figure_text, "difference": difference_text}
    if h is None or h.trend is None:
        return parts
    c = h.since_approval
    # one run: the charts would repeat the findings above one point each (`harness trend` still draws them)
    return parts | {"trend_runs": run_rows(h.trend), "trend_charts": charts(h.trend) if len(h.trend.runs) > 1 else [],
                    "moved": moved_rows(c) if c is not None else [],
                    "since": since_sentence(c) if c is not None else ""}


def render_trend_html(t: Trend) -> str:
    """The trend as one self-contained HTML page (inline CSS and SVG, no scripts, no external links)."""
    from harness.report.environment import template

    def cell(s: Series, run_id: str) -> str:
        return next((point_text(p) for p in s.points if p.run_id == run_id), DASH)

    return template(TEMPLATE).render(t=t, runs=run_rows(t), charts=charts(t), cell=cell, dash=DASH)


__all__ = ["MEMO_CHARTS", "chart", "chart_title", "charts", "data_text", "history_context", "moved_rows",
           "point_text", "render_trend_html", "run_rows", "since_sentence"]
