"""`harness memo`: the one-page decision memo of an assessment, for a department head and the public record
(issue 15). Thin: resolve the run, read its decision, render (`harness.workflows.memo`, `harness.report.memo`)."""
from __future__ import annotations

from pathlib import Path

import click

from harness.cli.common import format_option, handle_errors, tracking_option
from harness.errors import ConfigError


@click.command("memo")
@click.argument("ref", metavar="TOOL[:VERSION]|RUN_ID")
@format_option("html", "md", "pdf", default="html")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write (required for pdf). Default: print html or md to standard output.")
@click.option("--page-size", type=click.Choice(["A4", "Letter"]), default="A4", show_default=True,
              help="Paper for --format pdf.")
@tracking_option
@handle_errors
def memo(ref: str, fmt: str, out: str | None, page_size: str, tracking_uri: str | None) -> None:
    """The decision memo of a recorded assessment: the tool and its purpose, the verdict in one sentence, the
    three most important reasons, what was not tested, the decision (approved, waived, rejected, or none yet:
    by whom, when, conditions, expiry) and the next re-assessment date, with the run id.

    REF is a run id, or TOOL[:VERSION] for its latest assessment (of the version approved for use, when there
    is one). The decision is read from the verified decision log now; every assessment logs its memo with the
    run, and approve, waive, reject, suspend and retire re-log it.
    """
    from harness.cli.console import make_console
    from harness.report.memo import render_memo
    from harness.tracking import Store
    from harness.workflows.memo import memo_of

    if fmt == "pdf" and not out:
        raise ConfigError("--format pdf writes a file: add --out FILE.pdf")
    view = memo_of(Store.open(tracking_uri), ref)
    data = render_memo(view, fmt, page_size)
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        make_console().print(f"wrote {out} (decision memo of run {view.run_id}: {view.verdict_title}, "
                             f"decision: {view.decision.state})")
    else:
        assert isinstance(data, str)
        click.echo(data, nl=False)


COMMANDS: tuple[click.Command, ...] = (memo,)
"""What `harness.cli.app` adds to the group."""
