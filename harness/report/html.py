"""The self-contained HTML report: one file with inline CSS and inline SVG plots, no scripts and no
external links, so it opens offline, prints, and can be attached to an approval record as is.

It renders the same view model as the Markdown report (`view.build_view`), through a Jinja2 template
with autoescaping on: tool names, group names and messages are data, never markup.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.report.environment import template
from harness.report.formatting import grouping_title
from harness.report.view import build_view, how_to_read

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.report.sections import TableView
    from harness.report.view import ReportView
    from harness.trend import History

TEMPLATE = "report.html.j2"
MANY_PASSES = 5  # more passing findings than this are folded into a <details>


def _draw(table: TableView, salt: str, ratio_limit: float | None) -> list[str | None]:
    """The SVGs that go with one table, by its kind (None for a plot with nothing to draw)."""
    from harness.report import plots

    title = grouping_title(table.grouping)
    if table.kind == "groups":
        return [plots.selection_rate_svg(table.raw, title=f"Selection rate by {title}", ratio_limit=ratio_limit,
                                         salt=salt),
                plots.error_rates_svg(table.raw, title=f"Error rates by {title}", salt=salt)]
    if table.kind == "disparities":
        return [plots.disparity_forest_svg(table.raw, title=f"Disparities within {title}", salt=salt)]
    if table.kind == "four_fifths":
        ref = table.meta.get("reference")
        return [plots.four_fifths_svg(table.raw, title=f"Adverse impact ratio within {title}"
                                      + (f", each group against {ref}" if ref else ""),
                                      threshold=table.meta.get("threshold"), salt=salt)]
    if table.kind == "robustness":
        m = table.meta
        return [plots.robustness_svg(table.raw, severities=m.get("severities") or [], labels=m.get("labels") or [],
                                     judged=m.get("judged"), limits=m.get("limits") or {},
                                     title=f"Robustness curves: {table.title.removeprefix('Robustness to ')}",
                                     salt=salt)]
    if table.kind == "drift":
        m = table.meta
        return [plots.drift_svg(table.raw, moderate=m["moderate"], significant=m["significant"], limit=m.get("limit"),
                                title="PSI per feature, largest first", salt=salt)]
    if table.kind == "scores" and table.aux:
        return [plots.reliability_svg(table.aux, title=f"Calibration by {title}: reliability diagrams", salt=salt)]
    return []


def _table_plots(table: TableView, salt: str, ratio_limit: float | None) -> list[tuple[str, str]]:
    """(caption, svg) pairs for one table; a plot that cannot be drawn becomes a note, not a crash."""
    from markupsafe import Markup

    try:
        return [("", Markup(svg)) for svg in _draw(table, salt, ratio_limit) if svg is not None]
    except Exception as e:  # a report must still render when one plot cannot be drawn
        return [(f"The plot for {table.title} could not be drawn ({type(e).__name__}: {e}); the table has the "
                 "numbers.", "")]


def _plots(view: ReportView) -> dict[str, list[tuple[str, str]]]:
    """Plots by suite index and table key ("0/bias.group_rates.race")."""
    return {
        f"{si}/{t.key}": _table_plots(t, f"{si}/{s.suite}/{s.dataset}/{t.key}", view.ratio_limit)
        for si, s in enumerate(view.suites) for t in s.tables
    }


def render_html(result: AssessmentResult, history: History | None = None) -> str:
    return html_of(build_view(result, history))


def html_of(view: ReportView) -> str:
    """The HTML of a built view (`write_reports` builds the view once for both renderers)."""
    from harness.report.trend import history_context

    return template(TEMPLATE).render(
        v=view, plots=_plots(view), guide=how_to_read(view), many_passes=MANY_PASSES,
        **history_context(view.history),
    )

