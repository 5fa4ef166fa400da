"""The self-contained HTML report: one file with inline CSS and inline SVG plots, no scripts and no
external links, so it opens offline, prints, and can be attached to an approval record as is.

It renders the same view as the Markdown report (`markdown.build_view`), through a Jinja2 template
with autoescaping on: tool names, group names and messages are data, never markup.
"""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from harness.report.markdown import RATE_DEFINITIONS, build_view, how_to_read

if TYPE_CHECKING:
    import jinja2

    from harness.assessment import AssessmentResult
    from harness.report.markdown import ReportView, TableView

TEMPLATE = "report.html.j2"
MANY_PASSES = 5  # more passing findings than this are folded into a <details>


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "report/templates"),
        autoescape=True,  # the template is .html.j2, which select_autoescape would not recognise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _table_plots(table: TableView, salt: str, ratio_limit: float | None) -> list[tuple[str, str]]:
    """(caption, svg) pairs for one group table; a plot that cannot be drawn becomes a note, not a crash."""
    from markupsafe import Markup

    from harness.report import plots

    title = table.title.removeprefix("Groups by ")
    out: list[tuple[str, str]] = []
    try:
        out.append(("", Markup(plots.selection_rate_svg(
            table.raw, title=f"Selection rate by {title}", ratio_limit=ratio_limit, salt=salt))))
        errors = plots.error_rates_svg(table.raw, title=f"Error rates by {title}", salt=salt)
        if errors is not None:
            out.append(("", Markup(errors)))
    except Exception as e:  # a report must still render when one plot cannot be drawn
        out.append((f"The plots for {title} could not be drawn ({type(e).__name__}: {e}); the table above has "
                    "the numbers.", ""))
    return out


def _plots(view: ReportView) -> list[list[list[tuple[str, str]]]]:
    """Plots per suite, per table (empty for tables that are not per-group rates)."""
    return [
        [_table_plots(t, f"{si}/{ti}/{s.suite}/{s.dataset}/{t.key}", view.ratio_limit) if t.kind == "groups" else []
         for ti, t in enumerate(s.tables)]
        for si, s in enumerate(view.suites)
    ]


def render_html(result: AssessmentResult) -> str:
    view = build_view(result)
    return _environment().get_template(TEMPLATE).render(
        v=view, plots=_plots(view), guide=how_to_read(view), rate_definitions=RATE_DEFINITIONS,
        many_passes=MANY_PASSES,
    )
