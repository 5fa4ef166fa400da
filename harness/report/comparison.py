"""How a comparison of two runs is written (`harness compare`): the words and numbers every form shares
(`figure_text`, `difference_text`, `dataset_line`, `method_line`), and the self-contained HTML page, drawn through
the report's template environment in the report's style (`templates/compare.html.j2`). The terminal table is
drawn by `harness.cli.compare` from the same texts; the JSON form is `Comparison.as_dict`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.report.formatting import DASH, fmt_value, num

if TYPE_CHECKING:
    from harness.comparison import Comparison, DatasetMatch, Difference, Figure, MetricRow, RunSide

TEMPLATE = "compare.html.j2"


def _bound(x: float | None, signed: bool = False) -> str:
    v = num(x)
    if v is None:
        return DASH
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def figure_text(f: Figure | None) -> tuple[str, str]:
    """(value, "[low, high]" or "") of one run's figure; a dash for a figure the run does not have."""
    if f is None or f.value is None:
        return DASH, ""
    interval = f"[{_bound(f.low)}, {_bound(f.high)}]" if f.has_interval else ""
    return fmt_value(f.value), interval


def difference_text(row: MetricRow) -> tuple[str, str]:
    """(B - A signed, its "[low, high]" or the reason there is none)."""
    d: Difference | None = row.difference
    if d is None:
        return DASH, row.note
    if d.low is None or d.high is None:
        counts = all(f is not None and f.value is not None and f.value.is_integer() and abs(f.value) >= 2
                     for f in (row.a, row.b))  # a row count: written as one, like fmt_value writes it
        return (f"{int(d.value):+,}" if counts else _bound(d.value, signed=True)), row.note
    return _bound(d.value, signed=True), f"[{_bound(d.low, signed=True)}, {_bound(d.high, signed=True)}]"


def run_line(side: RunSide, which: str) -> str:
    """"run A 1a2b...: rental-screen-baseline 1.0.0, PASS (pre-acquisition, 2026-...)"."""
    return (f"run {which} {side.run_id}: {side.tool_id} {side.tool_version}, {side.verdict} "
            f"({side.kind}, {side.started_at[:19]}, policy {side.policy})")


def dataset_line(d: DatasetMatch) -> str:
    return f"{d.name}: {d.note}"


def method_line(c: Comparison) -> str:
    """How the differences and their intervals were made, in words (the same text in every form)."""
    levels = list(dict.fromkeys(f"{x * 100:g} %" for x in (c.a.confidence_level, c.b.confidence_level)
                                if x is not None))
    return (f"Differences are {c.method['description']} The runs' own intervals are "
            f"{' and '.join(levels) or 'of a level not recorded'}.")


def change_values(value_a: float | None, value_b: float | None) -> str:
    return f"{fmt_value(value_a)} -> {fmt_value(value_b)}"


def render_comparison_html(c: Comparison) -> str:
    """The comparison as one self-contained HTML page (inline CSS, no scripts, no external links)."""
    from harness.report.environment import template

    return template(TEMPLATE).render(
        c=c, suites=[(s, c.rows(s)) for s in c.suites], figure=figure_text, difference=difference_text,
        run_line=run_line, dataset_line=dataset_line, method=method_line(c), values=change_values,
    )


__all__ = ["change_values", "dataset_line", "difference_text", "figure_text", "method_line",
           "render_comparison_html", "run_line"]
