"""`harness check tool.yaml --dataset NAME`: a dry run of a tool before its assessment, recording nothing.

Thin like the rest of the CLI: `harness.workflows.dry_run` does the work. Exit 0 when the tool is ready to be
assessed; 2 (one line) for anything wrong with the manifest, the dataset or the tool's outputs; 4 when the tool
could not be called at all (an endpoint that is down, a model that crashes), as for an assessment.
"""
from __future__ import annotations

from pathlib import Path

import click

from harness.cli.common import data_dir_option, handle_errors, policy_option, suites_option


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    return f"{s / 60:.0f} min" if s < 3600 else f"{s / 3600:.1f} h"


@click.command("check")
@click.argument("tool_yaml", type=click.Path(dir_okay=False))
@click.option("--dataset", "dataset", required=True,
              help="Catalogue name (see `harness datasets list`) or path to a card.yaml.")
@click.option("--rows", type=int, default=None,
              help="Rows a model, callable or endpoint is asked (default 20); a file of outputs is read whole.")
@suites_option
@policy_option("the tool would be judged by")
@data_dir_option
@handle_errors
def check(tool_yaml: str, dataset: str, rows: int | None, suites: tuple[str, ...], policy_path: str | None,
          data_dir: str | None) -> None:
    """Dry-run TOOL_YAML on a few rows of a dataset: validate the manifest, build the tool, check its labels,
    scores and input columns, and say what an assessment would run. Records nothing (no MLflow run, no cache,
    no report).

    Exit codes: 0 ready, 2 a problem (one line naming each), 4 the tool could not be called.
    """
    from harness.cli.console import make_console
    from harness.workflows.dry_run import DEFAULT_ROWS, dry_run, refuse_problems

    console = make_console()

    def say(line: str) -> None:  # a tool's labels and the data's names are not rich markup
        console.print(line, markup=False)

    run = dry_run(tool_yaml, dataset, rows=DEFAULT_ROWS if rows is None else rows, suites=list(suites) or None,
                  policy_path=policy_path, data_dir=data_dir)
    say(f"{Path(tool_yaml).name}: {run.tool} {run.version} ({run.category}, adapter {run.kind}): manifest valid")
    scored = "every row" if run.rows_scored == run.rows_total else f"{run.rows_scored:,} of {run.rows_total:,} rows"
    say(f"dataset {run.dataset}: sha256 verified; {scored} scored in {run.seconds:.2f} s")
    if run.inputs is not None:
        say(f"  inputs the tool reads: {', '.join(run.inputs)}")
    if run.label_space:
        scores = "; scores given" if run.scores else "; no scores (checks on scores will be SKIPPED)"
        say(f"  labels: {run.labels!r}, the target's values are {run.label_space!r}{scores}")
    if run.answers is not None:
        say(f"  answers: {run.answers}")
    for note in run.notes:
        say(f"  note: {note}")
    runs = [p.name for p in run.suites if p.skipped is None]
    say(f"an assessment under {run.policy} would run {', '.join(runs) or 'no suite'} on {run.rows_total:,} rows")
    for p in run.suites:
        if p.skipped is not None:
            say(f"  {p.name} would be SKIPPED: {p.skipped}")
    if run.estimate_s is not None:
        say(f"  the tool's scoring of all rows: at most about {_seconds(run.estimate_s)}, in proportion to the "
            f"{run.rows_scored:,} scored (a model scoring rows together takes less; checks that call it again add "
            "more)")
    refuse_problems(run)
    say("ready to be assessed; nothing was recorded")


COMMANDS: tuple[click.Command, ...] = (check,)
"""What `harness.cli.app` adds to the group."""
