"""`harness assess` (assess one tool and record the evidence), `harness demo` (the bundled walk-through) and
`harness report` (re-render a recorded assessment): the commands about one assessment.

Thin like the rest of the CLI: parse, call `harness.workflows.assess` / `harness.workflows.demo` /
`harness.report`, print. Those libraries are imported inside the commands, so `harness --help` stays fast.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.common import (
    data_dir_option,
    format_option,
    handle_errors,
    person_option,
    policy_option,
    seed_option,
    suites_option,
    tracking_option,
)

if TYPE_CHECKING:
    from rich.console import Console


def _progress(console: Console) -> tuple[Any, Callable[[str], None]]:
    """A status line on `console` and the function that updates it, for the pipeline's progress messages."""
    status = console.status("starting", spinner="dots")

    def say(msg: str) -> None:
        status.update(msg)

    return status, say


@click.command("assess")
@click.argument("tool_yaml", type=click.Path(dir_okay=False))
@click.option("--dataset", "datasets", multiple=True,
              help="Catalogue name (see `harness datasets list`) or path to a card.yaml. Repeatable. Required "
                   "unless --plan names them.")
@suites_option
@policy_option("the tool is judged by")
@click.option("--current", type=click.Path(dir_okay=False), default=None,
              help="A current data sample, for drift checks (used by the degradation suite).")
@data_dir_option
@seed_option
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the reports. Default: reports/<tool id>/<run id>/.")
@person_option("--by", "Who starts the assessment (recorded; may not approve it, policy 2.3).", "starts")
@click.option("--plan", "plan_id", default=None,
              help="Hold the assessment to a plan made with `harness plan` (policy 4.2): inputs not given are "
                   "taken from it; any that differ stop the run (exit 2) with every difference listed.")
@click.option("--monitoring", default=None, metavar="DIR",
              help="Record the folder of the tool's production samples in the run's plan: once approved, `harness "
                   "reassess` runs on each new sample there (issue 16, policy 4.3).")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Ask a chat endpoint (adapter kind openai) every question afresh: no cached answer is read or "
                   "written. The report says how many answers came from the cache.")
@tracking_option
@handle_errors
def assess(tool_yaml: str, datasets: tuple[str, ...], suites: tuple[str, ...], policy_path: str | None,
           current: str | None, data_dir: str | None, seed: int | None, out: str | None,
           by: str | None, plan_id: str | None, monitoring: str | None, no_cache: bool,
           tracking_uri: str | None) -> None:
    """Assess the tool described by TOOL_YAML against reference datasets and record the evidence.

    Exit codes: 0 PASS, 1 FAIL, 2 bad input, 3 NEEDS_REVIEW, 4 ERROR.
    """
    from harness.background import prestart

    prestart("pandas", "harness.check")  # the data-only checks' process starts while this one imports
    from harness.cli.console import make_console
    from harness.workflows.assess import run_assessment

    console = make_console()
    status, say = _progress(make_console(stderr=True))
    try:
        with status:
            rec = run_assessment(tool_yaml, list(datasets), suites=list(suites) or None, policy_path=policy_path,
                                 tracking_uri=tracking_uri, data_dir=data_dir, seed=seed, out=out, progress=say,
                                 current=current, submitter=by, plan=plan_id, use_cache=not no_cache,
                                 monitoring=monitoring)
    except BaseException:
        from harness.background import shutdown

        shutdown()  # bad input exits at once, not after the worker's imports
        raise
    from harness.cli.console import print_verdicts

    print_verdicts(console, [rec.result])
    console.print(f"run {rec.result.run_id} in {rec.tracking_uri}")
    console.print(f"reports: {rec.out_dir / 'report.html'}")
    sys.exit(rec.result.exit_code)


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False), default="reports/demo", show_default=True)
@tracking_option
@handle_errors
def demo(out: str, tracking_uri: str | None) -> None:
    """Assess four bundled tools (two rental screeners, two 311 question answerers) on bundled data, then
    approve the passing screener and show the failing one blocked at the gate."""
    from harness.cli.console import make_console
    from harness.workflows.demo import run_demo

    sys.exit(run_demo(make_console(), Path(out), tracking_uri))


@click.command("report")
@click.argument("run_id")
@format_option("html", "md", "json", default="html")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write. Default: print to standard output.")
@tracking_option
@handle_errors
def report(run_id: str, fmt: str, out: str | None, tracking_uri: str | None) -> None:
    """Re-render the report of a recorded assessment from its logged assessment.json."""
    from harness.assessment import AssessmentResult
    from harness.cli.console import write_or_echo
    from harness.report import render
    from harness.tracking import Store, load_assessment
    from harness.workflows.trend import history_of

    store = Store.open(tracking_uri)
    doc = load_assessment(store, run_id)
    # the tool's runs up to this one, and for a re-assessment what moved since the approval (issue 16)
    history = history_of(store, doc, look_up_approval=True) if fmt != "json" else None
    write_or_echo(render(AssessmentResult.from_dict(doc), fmt, history), out)


COMMANDS: tuple[click.Command, ...] = (assess, demo, report)
"""What `harness.cli.app` adds to the group."""
