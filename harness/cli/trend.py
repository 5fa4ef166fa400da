"""`harness trend TOOL`: a tool's headline figures over time (issue 16, section 1), added to the group by
`harness.cli.app`. Reads the store through one `Store` (`harness.workflows.trend`), never creates one; exits 0 once
the trend is drawn, 2 with one line when the tool has no completed assessment.

The terminal table keeps every cell whole, as `harness compare`'s does: one table of runs (date, run id, kind,
version, verdict, the data by name and sha256, "new data" when it changed), then one table per suite with a row per
headline figure and a column per run; piped, it is drawn as wide as it needs rather than cut at 80 columns.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from harness.cli.common import STYLE, format_option, handle_errors, tracking_option

if TYPE_CHECKING:
    from rich.console import Console

    from harness.trend import Trend


def _status(s: str | None) -> str:
    if not s:
        return "not judged"
    return f"[{STYLE[s]}]{s}[/]" if s in STYLE else s


def print_trend(console: Console, t: Trend) -> None:
    from rich.markup import escape
    from rich.table import Table

    from harness.report.formatting import fmt_value
    from harness.report.trend import chart_title, run_rows

    runs = Table(title=f"{t.tool_id}{' ' + t.version if t.version else ''}: {len(t.runs)} completed assessment(s), "
                 "oldest first", title_justify="left")
    for col in ("#", "date (UTC)", "run", "kind", "version", "verdict", "data (sha256)"):
        runs.add_column(col, no_wrap=True)
    for i, r in enumerate(run_rows(t), 1):
        runs.add_row(str(i), r["date"], r["run_id"], r["kind"], escape(r["version"]), _status(r["verdict"]),
                     escape(r["data"]) + (f" [bold red]({r['data_note']})[/]" if r["data_note"] else ""))
    console.print(runs)
    at = {r.run_id: i for i, r in enumerate(t.runs)}
    for suite in t.suites:
        table = Table(title=f"{suite}: headline figures (value, 95% interval, status) by run #", title_justify="left")
        table.add_column("figure", no_wrap=True)
        table.add_column("threshold", no_wrap=True, justify="right")
        for i in range(len(t.runs)):
            table.add_column(f"#{i + 1}", no_wrap=True, justify="right")
        for s in (x for x in t.series if x.suite == suite):
            cells = [""] * len(t.runs)
            for p in s.points:
                f = p.figure
                interval = f"\n[{fmt_value(f.low)}, {fmt_value(f.high)}]" if f.has_interval else ""
                cells[at[p.run_id]] = (("[bold red]new data[/]\n" if p.data_changed else "") + fmt_value(f.value)
                                       + interval + "\n" + _status(p.status))
            first, _, second = chart_title(s).partition("\n")
            name = first + "".join(f"\n  {x}" for x in second.split(" · ")[1:])
            table.add_row(escape(name) + (f"\n  [bold]{escape(s.change)}[/]" if s.change else ""),
                          fmt_value(s.threshold), *cells)
        console.print(table)


@click.command("trend")
@click.argument("tool")
@click.option("--version", "version", default=None, help="Only this version's assessments. Default: every version.")
@format_option("table", "html", "json", default="table",
               help="table: for the terminal; html: a self-contained page with a chart per figure; json: the "
                    "harness.trend/1 record.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write. Default: print to standard output.")
@tracking_option
@handle_errors
def trend(tool: str, version: str | None, fmt: str, out: str | None, tracking_uri: str | None) -> None:
    """Show a tool's headline figures with their intervals across every completed assessment and re-assessment,
    oldest first: the run, its kind, date, verdict and the data it ran on (a change of data is marked: a figure
    on other data is not the same measurement)."""
    from harness.cli.common import store_uri
    from harness.tracking import Store
    from harness.workflows.trend import tool_trend

    t = tool_trend(Store(store_uri(tracking_uri, write=False)), tool, version)
    from harness.cli.console import print_or_write
    from harness.report.trend import render_trend_html

    print_or_write(lambda console: print_trend(console, t), fmt, out, html=lambda: render_trend_html(t), data=t.as_dict)


COMMANDS: tuple[click.Command, ...] = (trend,)
"""What `harness.cli.app` adds to the group."""
