"""`harness plan` (a pre-registered assessment plan, policy 4.2) and `harness reassess` (scheduled
re-assessment, policy 4.3), added to the group by `harness.cli.app`.

Thin like the rest of the CLI: parse, call `harness.workflows.plan` / `harness.workflows.reassess`, print.
`harness reassess` exits with the worst outcome (FAIL 1 over ERROR 4 over NEEDS_REVIEW 3 over PASS 0), so cron and
CI see a closed gate first; a SIGTERM (cron's timeout, a shutdown) is turned into an interrupt, so the run being
recorded is closed FAILED instead of being left open.
"""
from __future__ import annotations

import json
import signal
import sys
from types import FrameType

import click

from harness.cli.common import (
    STATE_STYLE,
    VERDICT_STYLE,
    data_dir_option,
    format_option,
    handle_errors,
    parse_when,
    person_option,
    policy_option,
    policy_or_default,
    seed_option,
    store_uri,
    suites_option,
    tool_ref,
    tracking_option,
)


@click.command("plan")
@click.argument("ref", metavar="TOOL:VERSION")
@click.option("--dataset", "datasets", multiple=True, required=True,
              help="Catalogue name or path to a card.yaml (repeatable); its data is verified and its sha256 locked.")
@suites_option
@policy_option("whose digest is locked")
@seed_option
@data_dir_option
@click.option("--monitoring", default=None, metavar="DIR",
              help="The folder where the department drops each period's production sample with its card; "
                   "`harness reassess` runs on the newest one not yet assessed (issue 16, policy 4.3).")
@person_option("--by", "Who fixes the plan (recorded with it).", "fixes")
@tracking_option
@handle_errors
def plan_cmd(ref: str, datasets: tuple[str, ...], suites: tuple[str, ...], policy_path: str | None,
             seed: int | None, data_dir: str | None, monitoring: str | None, by: str,
             tracking_uri: str | None) -> None:
    """Lock the plan of an assessment of a registered TOOL:VERSION before any result is seen (policy 4.2):
    suites, dataset hashes, policy digest, seed and manifest digest. `harness assess --plan ID` then
    refuses to run on any other inputs."""
    from harness.cli.console import make_console
    from harness.workflows.plan import make_plan

    tool, version = tool_ref(ref, need_version=True)
    assert version is not None
    p = make_plan(store_uri(tracking_uri, write=True), tool, version, datasets=list(datasets), by=by,
                  suites=list(suites) or None, policy=policy_or_default(policy_path), seed=seed, data_dir=data_dir,
                  monitoring=monitoring)
    console = make_console()
    console.print(f"plan {p.plan_id} for {tool} {version} fixed by {p.by} at {p.at} (sha256 {p.sha256[:12]}...)",
                  soft_wrap=True)
    console.print(f"  locks: {p.describe()}", soft_wrap=True)
    if p.assessments_before:
        console.print(f"[yellow]note:[/] {p.assessments_before} assessment(s) of {tool} {version} were recorded "
                      "before this plan; it binds the assessments that cite it, not those", soft_wrap=True)
    console.print(f"next: harness assess TOOL_YAML --plan {p.plan_id}", soft_wrap=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@click.command("reassess")
@click.argument("ref", metavar="[TOOL[:VERSION]]", required=False)
@click.option("--due", "due_only", is_flag=True, help="Re-assess every version in use whose re-assessment is due "
              "(policy 4.3); with TOOL[:VERSION], only those of that tool.")
@click.option("--as-of", "as_of", default=None, help="With --due: what is due by this date (YYYY-MM-DD, the whole "
              "day counts) or ISO date-time. Default: now.")
@person_option("--by", "Who runs it (recorded on the runs and any suspension).", "starts")
@policy_option("in force now; it must be the one the approved run was judged under")
@data_dir_option
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the reports (OUT/<tool>/<version>-<time>/). Default: reports/<tool id>/<run id>/.")
@click.option("--sample", "sample", default=None, metavar="CARD",
              help="The production sample to run on (its card), instead of the newest not yet assessed in the plan's "
                   "monitoring folder; needs one TOOL:VERSION.")
@format_option("table", "json", default="table")
@tracking_option
@handle_errors
def reassess_cmd(ref: str | None, due_only: bool, as_of: str | None, by: str | None, policy_path: str | None,
                 data_dir: str | None, out: str | None, sample: str | None, fmt: str, tracking_uri: str | None) -> None:
    """Re-run tool versions in use by the plan of their approval (same suites, datasets by hash, policy and
    seed) and compare with the approved baseline; a FAIL suspends the approval (the gate closes).

    Exit codes: 0 all PASS (or nothing due), 1 a FAIL (an approval was suspended), 4 an ERROR (that tool
    was not re-assessed; the others were), 3 NEEDS_REVIEW, 2 bad usage.
    """
    from harness.cli.console import make_console
    from harness.workflows.reassess import exit_code, reassess

    when = parse_when(as_of, "--as-of") if as_of else None
    err = make_console(stderr=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with err.status("selecting", spinner="dots") as status:
            outcomes = reassess(store_uri(tracking_uri, write=True), ref, due_only=due_only, as_of=when, by=by,
                                policy_path=policy_path, data_dir=data_dir, out=out, progress=status.update,
                                sample=sample)
    finally:  # called in-process (tests, notebooks), the caller's handler comes back
        signal.signal(signal.SIGTERM, previous)
    if fmt == "json":
        click.echo(json.dumps([o.as_dict() for o in outcomes], indent=1))
        sys.exit(exit_code(outcomes))
    console = make_console()
    if not outcomes:
        console.print(f"nothing is due by {as_of or 'now'}")
        sys.exit(0)
    from rich.table import Table

    table = Table(title="Re-assessment (policy 4.3)")
    for col in ("tool", "version", "verdict", "run", "approval", "next due", "reason"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        style = STATE_STYLE["suspended"] if o.approval.startswith("suspended") else ""
        table.add_row(o.tool, o.version, f"[{VERDICT_STYLE[o.verdict]}]{o.verdict}[/]", o.run_id or "-",
                      f"[{style}]{o.approval}[/]" if style else o.approval, o.next_due or "-", o.reason)
    console.print(table)
    counts = {v: sum(o.verdict == v for o in outcomes) for v in VERDICT_STYLE}
    console.print("re-assessed: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    sys.exit(exit_code(outcomes))


COMMANDS: tuple[click.Command, ...] = (plan_cmd, reassess_cmd)
"""What `harness.cli.app` adds to the group."""
