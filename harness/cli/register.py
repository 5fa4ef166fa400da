"""Publishing and records commands, added to the group by `harness.cli.app`:

- `harness register export --out DIR`: the public transparency register (policy 6.7), `harness.workflows.transparency`;
- `harness records export TOOL --out DIR`: every run, artifact and decision of a tool with a checksum
  manifest, for the retention schedule (policy 3.2), `harness.workflows.records_export`.

Thin like the rest of the CLI; mlflow is imported inside the commands only. Both read the store and
never create one. `records export` exits 1 when the tool's decision history fails verification (the
export is still written: it is the evidence), like `harness history --verify`.
"""
from __future__ import annotations

import sys

import click

from harness.cli.common import handle_errors, policy_option, tracking_option


def _uri(tracking_uri: str | None) -> str:
    """Reading never creates an embedded store: a missing one is a clear error, not an empty register."""
    from harness.errors import TrackingError
    from harness.tracking import check_reachable, resolve_uri, sqlite_path

    uri = resolve_uri(tracking_uri)
    db = sqlite_path(uri)
    if db is None:
        check_reachable(uri)
    elif not db.is_file():
        raise TrackingError(f"there is no MLflow store at {db}; run the commands from the folder that holds "
                            "mlruns/, or pass --tracking-uri")
    return uri


@click.group("register")
def register_group() -> None:
    """The public transparency register of the City's AI tools (policy 6.7)."""


@register_group.command("export")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for register.json and index.html.")
@click.option("--feedback-url", default=None, help="The public feedback form the register links to. Default: the "
              "policy's settings.register.feedback_url.")
@policy_option("whose settings.register (feedback_url, min_cell) apply")
@tracking_option
@handle_errors
def register_export(out: str, feedback_url: str | None, policy_path: str | None, tracking_uri: str | None) -> None:
    """Write the public register: one entry per tool in use or in pilot, and every approved tool, with its
    purpose, department, vendor, oversight, latest assessment and approval in plain language. No run ids,
    paths or figures on fewer than settings.register.min_cell rows."""
    from harness.cli.console import make_console
    from harness.policy import load_policy
    from harness.workflows.transparency import export_register

    done = export_register(_uri(tracking_uri), out, feedback_url=feedback_url,
                           policy=load_policy(policy_path) if policy_path else None)
    reg = done.register
    console = make_console()
    if reg.entries:
        console.print(f"transparency register: {len(reg.entries)} tool(s): "
                      + ", ".join(f"{e.name} ({e.approval_state})" for e in reg.entries))
    else:
        console.print("transparency register: no tool is in use, in pilot or approved")
    console.print(f"wrote {done.json_path} and {done.html_path}")


@click.group("records")
def records_group() -> None:
    """Records of a tool for the City's retention schedule (policy 3.2)."""


@records_group.command("export")
@click.argument("tool")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="A new or empty folder.")
@tracking_option
@handle_errors
def records_export(tool: str, out: str, tracking_uri: str | None) -> None:
    """Export every run (assessments, submissions, plans), artifact and decision of TOOL, with SHA256SUMS and
    manifest.json. Exit 1 when the decision history fails verification or an assessment's files were
    rewritten after it (re-hashed against the digests the decision log keeps)."""
    from harness.cli.console import make_console
    from harness.workflows.records_export import SUMS, export_records

    done = export_records(_uri(tracking_uri), tool, out)
    console = make_console()
    console.print(f"exported {len(done.runs)} run(s), {done.artifacts} artifact(s) and {done.decisions} decision "
                  f"record(s) of {tool} to {done.folder} ({done.files} files; check with `sha256sum -c {SUMS}`)")
    v = done.verification
    if v is None:
        console.print("no decision history to verify")
    elif v.ok:
        console.print(f"decision history verified: {v.records} records, head sha256 {v.head}")
    else:
        console.print(f"[bold red]decision history broken[/]: {v.first_break}")
    for problem in done.evidence_problems:
        console.print(f"[bold red]evidence altered[/]: {problem}")
    if done.evidence_ok and (v is None or v.ok):
        console.print("evidence verified: every assessment's files match the digests its record keeps")
    if not done.chain_ok or not done.evidence_ok:
        sys.exit(1)


COMMANDS: tuple[click.Command, ...] = (register_group, records_group)
"""What `harness.cli.app` adds to the group."""
