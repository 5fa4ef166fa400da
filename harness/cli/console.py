"""How results look in a terminal: shared by `harness assess` and `harness demo`.

Imports rich at its top, so the commands import it inside their bodies: `--help` does not pay for rich."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console

from harness.cli.common import STYLE

if TYPE_CHECKING:
    from rich.text import Text

    from harness.assessment import AssessmentResult


class MaskingConsole(Console):
    """A rich console that masks personal data in every string it renders (issue 12: "PII masked in every
    ... console line"): printed lines, table cells and titles, status messages. Rich turns every string into
    text through `render_str`, so masking there catches what a table cell or a finding's message holds before
    rich lays it out (a value wrapped over two lines would no longer be recognised afterwards)."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        from harness.redact import mask_pii

        return super().render_str(mask_pii(text), **kwargs)


PIPED_WIDTH = 120
"""Columns when standard output is not a terminal (a log, a pipe, cron) and $COLUMNS does not say: rich's 80
cut every table into slivers and broke finding keys mid-word."""


def make_console(stderr: bool = False) -> Console:
    """The console every command prints through: masking, no automatic highlighting, no soft wrapping; 120
    columns when writing to a file or pipe (unless $COLUMNS sets a width)."""
    console = MaskingConsole(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPED_WIDTH
    return console


WIDE_PIPED_WIDTH = 200
"""Columns of a wide table (compare, trend) when not written to a terminal: as wide as its content, up to this."""


def wide_console() -> Console:
    """`make_console`, but a pipe or a file gets tables as wide as their content (up to WIDE_PIPED_WIDTH)."""
    console = make_console()
    if not console.is_terminal:
        console.width = WIDE_PIPED_WIDTH
    return console


def print_or_write(draw: Callable[[Console], None], fmt: str, out: str | None, html: Callable[[], str],
                   data: Callable[[], Any]) -> None:
    """The one output path of a command with `--format table|html|json` and `--out`: a table drawn by `draw` on
    the terminal (drawn without colour for `--out`), the page `html()` gives, or `data()` as JSON; printed or
    written (`write_or_echo`)."""
    if fmt == "table" and out is None:
        draw(wide_console())
        return
    if fmt == "table":
        import io

        buffer = io.StringIO()
        draw(MaskingConsole(file=buffer, width=WIDE_PIPED_WIDTH, highlight=False, soft_wrap=False,
                            color_system=None))
        text = buffer.getvalue()
    elif fmt == "html":
        text = html()
    else:
        import json

        text = json.dumps(data(), indent=1, allow_nan=False) + "\n"
    write_or_echo(text, out)


def write_or_echo(text: str, out: str | None) -> None:
    """A command's document written to `out` (its folder made; "wrote OUT" said) or printed as it is."""
    import click

    if out:
        from pathlib import Path

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        wide_console().print(f"wrote {out}")
    else:
        click.echo(text, nl=False)


def principal(r: AssessmentResult, titles: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The finding that decided the verdict, in one line: its check's plain name (`Suite.check_titles`; the
    key when no title is given), value and limit. Words, not a 60-character key: a table cell wraps between
    words and never inside one."""
    if r.error:
        return f"ERROR: {r.error['message']}"
    order = {"FAIL": 0, "ERROR": 0, "REVIEW": 1, "INSUFFICIENT": 2}
    # stable sort: among equals, the suite's own order (parity before error rates) decides
    judged = sorted((f for f in r.findings if f.status.value in order),
                    key=lambda f: (f.severity.value != "blocking", order[f.status.value]))
    if not judged:
        return "every judged finding passed"
    f = judged[0]
    if titles is None:
        name = f.key
    else:
        from harness.report.summary import check_title, humane

        grouping, _, group = (f.group or "").partition(".")
        where = humane(grouping) + (f" {' & '.join(group.split('.'))}" if group else "")
        name = check_title(f.suite, f.check, titles) + (f", {where}" if where else "")
    if f.value is None or f.threshold is None:
        return f"{name}: {f.status.value}"
    op = ">=" if f.greater_is_better else "<="
    return f"{name}: {f.value:.2f} (needs {op} {f.threshold:.2f}) {f.status.value}"


def print_verdicts(console: Console, results: list[AssessmentResult], limit: int = 6) -> None:
    """One table row per result and, under it, the first `limit` reasons of each verdict (each on one line, so a
    log keeps it whole and a terminal wraps it)."""
    from rich.table import Table

    from harness.report.view import installed_suites

    installed = installed_suites({s.suite for r in results for s in r.suites})
    titles = {name: suite.check_titles for name, suite in installed.items()}
    table = Table(title="Assessment verdicts", show_lines=False)
    for col in ("tool", "version", "verdict", "findings", "principal finding"):
        table.add_column(col, overflow="fold", no_wrap=col in ("verdict",), ratio=3 if col == "principal finding"
                         else None)
    for r in results:
        stats: dict[str, int] = {}
        for f in r.findings:
            stats[f.status.value] = stats.get(f.status.value, 0) + 1
        counts = ", ".join(f"{v} {k}" for k, v in sorted(stats.items()))
        table.add_row(r.tool["id"], str(r.tool["version"]), f"[{STYLE[r.verdict.value]}]{r.verdict.value}[/]",
                      counts or "-", principal(r, titles))
    console.print(table)
    for r in results:
        if r.reasons:
            console.print(f"[{STYLE[r.verdict.value]}]{r.tool['id']} {r.verdict.value}[/] because:")
            for reason in r.reasons[:limit]:
                console.print(f"  - {reason}", soft_wrap=True)
            if len(r.reasons) > limit:
                console.print(f"  ... and {len(r.reasons) - limit} more (see the report)")
