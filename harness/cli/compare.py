"""`harness compare RUN_A RUN_B`: two recorded assessments side by side (issue 15, section 2), added to the group
by `harness.cli.app`. Reads the store through one `Store` (`harness.workflows.compare`), never creates one, and
exits 0 once the comparison is drawn (whatever the verdicts: it informs, the gate decides) or 2 with one line
when the runs cannot be compared (an unknown run, a run that is not an assessment, runs of different suites).

The terminal table keeps every cell whole: figure names are split into the check's metric and its group (two
short lines, never folded mid-word), numbers never wrap, and when the output is not a terminal (a pipe, a log)
the table is drawn as wide as it needs rather than cut at 80 columns.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from harness.cli.common import STYLE, format_option, handle_errors, tracking_option

if TYPE_CHECKING:
    from rich.console import Console

    from harness.comparison import Comparison


def _status(s: str | None) -> str:
    if s is None:
        return "[dim]absent[/]"
    return f"[{STYLE[s]}]{s}[/]" if s in STYLE else s


def _label(key: str) -> str:
    """"four_fifths.adverse_impact_ratio.sex.Female" as two lines: the check's metric, then its group."""
    check, _, rest = key.partition(".")
    metric, _, group = rest.partition(".")
    return f"{check}.{metric}" + (f"\n  [dim]{group}[/]" if group else "")


def print_comparison(console: Console, c: Comparison) -> None:
    """Verdicts, the data and the method, one table of headline figures per suite, the findings that changed."""
    from rich.markup import escape
    from rich.table import Table

    from harness.report.comparison import change_values, dataset_line, difference_text, figure_text, method_line

    runs = Table(title="Runs compared", title_justify="left")
    for col in ("", "run A", "run B"):
        runs.add_column(col, no_wrap=True)
    runs.add_row("run", c.a.run_id, c.b.run_id)
    runs.add_row("tool", escape(c.a.tool_id), escape(c.b.tool_id))
    runs.add_row("version", escape(c.a.tool_version), escape(c.b.tool_version))
    runs.add_row("verdict", _status(c.a.verdict), _status(c.b.verdict))
    runs.add_row("kind", c.a.kind, c.b.kind)
    runs.add_row("started", c.a.started_at[:19], c.b.started_at[:19])
    runs.add_row("policy", escape(c.a.policy), escape(c.b.policy))
    console.print(runs)
    for d in c.datasets:
        console.print(f"data: {escape(dataset_line(d))}")
    console.print(escape(method_line(c)))
    several = len(c.datasets) > 1
    for suite in c.suites:
        table = Table(title=f"{suite}: headline figures", title_justify="left")
        table.add_column("figure", no_wrap=True)
        if several:
            table.add_column("dataset", no_wrap=True)
        for col in ("run A", "run B", "B - A"):
            table.add_column(col, no_wrap=True, justify="right")
        for r in c.rows(suite):
            fa, fb, diff = figure_text(r.a), figure_text(r.b), difference_text(r)
            cells = [_label(escape(r.label)), *([escape(r.dataset)] if several else []),
                     "\n".join(x for x in fa if x), "\n".join(x for x in fb if x),
                     "\n".join(escape(x) for x in diff if x)]
            table.add_row(*cells)
        console.print(table)
    if c.changed:
        table = Table(title="Findings that changed status", title_justify="left")
        table.add_column("finding", no_wrap=True)
        for col in ("run A", "run B", "value A -> B"):
            table.add_column(col, no_wrap=True)
        for f in c.changed:
            where = f"\n  [dim]on {escape(f.dataset)}[/]" if several else ""
            table.add_row(escape(f.key) + where, _status(f.a_status), _status(f.b_status),
                          change_values(f.a_value, f.b_value))
        console.print(table)
    console.print(f"{len(c.changed)} finding(s) changed status; {c.unchanged} kept it.")


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@format_option("table", "html", "json", default="table",
               help="table: for the terminal; html: a self-contained page; json: the harness.comparison/1 record.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write. Default: print to standard output.")
@tracking_option
@handle_errors
def compare(run_a: str, run_b: str, fmt: str, out: str | None, tracking_uri: str | None) -> None:
    """Put two assessment runs side by side: two tools on the same data, or two versions of one tool. Shows both
    verdicts, each suite's headline figures with their intervals, the findings that changed status and, where both
    runs assessed the same data (the same sha256), the difference B - A with a conservative interval."""
    from harness.cli.common import store_uri
    from harness.tracking import Store
    from harness.workflows.compare import compare_runs

    c = compare_runs(Store(store_uri(tracking_uri, write=False)), run_a, run_b)
    from harness.cli.console import print_or_write
    from harness.report.comparison import render_comparison_html

    print_or_write(lambda console: print_comparison(console, c), fmt, out, html=lambda: render_comparison_html(c),
                   data=c.as_dict)


COMMANDS: tuple[click.Command, ...] = (compare,)
"""What `harness.cli.app` adds to the group."""
