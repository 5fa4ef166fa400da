"""The approval gate's commands (policy 2.3, 4.1-4.3, 6.2): `status`, `history`, `approve`, `reject`,
`waive`, `suspend`, `retire`, `gate`, `inventory`, `due`, added to the group by `harness.cli.app`.

Thin, like the rest of the CLI: parse, call `harness.gate`, print. mlflow is imported inside the
commands only (through the gate), so `harness --help` stays fast. A refused decision is a GateError:
one message naming the rule and the policy section, exit 2. `harness gate` exits 0 when open and 1
when closed, with the reason; `harness history --verify` exits 1 when the chain is broken.
"""
from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.common import (
    STATE_STYLE,
    format_option,
    handle_errors,
    parse_when,
    person_option,
    policy_option,
    policy_or_default,
    store_uri,
    tool_ref,
    tracking_option,
)
from harness.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from harness.gate import Decision
    from harness.policy import Policy


def _out(stderr: bool = False) -> Console:
    from harness.cli.console import make_console

    return make_console(stderr)


def _recorded(verb: str, tool: str, version: str, d: Decision) -> None:
    """One line saying what was recorded: by whom, how they were known, and (for one signature of several)
    who else must sign before it takes effect."""
    from harness.gate.identity import identity_label

    if d.action == "signoff":  # one signature of several (settings.gate.signoff): nothing takes effect yet
        details = d.details or {}
        verb = f"signed ({details.get('role')}) the {details.get('for')} of"
        tail = f"; awaiting {', '.join(details.get('awaiting') or [])}: the gate stays as it was"
    else:
        tail = ""
    _out().print(f"{verb} {tool} {version}: decision record {d.seq} (sha256 {d.sha256[:12]}...) by {d.actor} "
                 f"({identity_label((d.details or {}).get('identity'))}) at {d.at}{tail}")


def _refresh_memos(uri: str, d: Decision) -> None:
    """Re-render and re-log the decision memo of the runs the decision touches (issue 15); a memo that cannot be
    refreshed is said on stderr and changes nothing about the decision, which is recorded."""
    from harness.workflows.memo import refresh_after

    for run_id, problem in refresh_after(uri, d).items():
        if problem is None:
            _out().print(f"decision memo of run {run_id} refreshed (memo.html, memo.md)")
        else:
            _out(stderr=True).print(f"the decision is recorded, but the memo of run {run_id} could not be refreshed "
                                    f"({problem}); `harness memo {run_id}` renders it from the store")


judged_policy_option = policy_option("the evidence must have been judged under")


@click.command("status")
@click.argument("ref", metavar="TOOL[:VERSION]")
@tracking_option
@handle_errors
def status_cmd(ref: str, tracking_uri: str | None) -> None:
    """Show the state of a tool's versions: verdict, decision, and whether the gate is open."""
    from rich.table import Table

    from harness.gate import show_time, status

    tool, version = tool_ref(ref, need_version=False)
    rows = status(store_uri(tracking_uri, write=False), tool, version)
    table = Table(title=f"{tool}: versions")
    for col in ("version", "MLflow #", "state", "latest verdict", "assessed", "decided by", "on", "expires",
                "gate"):
        table.add_column(col, overflow="fold")
    for vs in rows:
        d = vs.decision
        label = vs.approval_state
        table.add_row(vs.version, str(vs.model_version or "-"), f"[{STATE_STYLE.get(label, '')}]{label}[/]",
                      vs.verdict or "-", show_time(vs.assessed.run_at) if vs.assessed else "-",
                      d.actor if d else "-", show_time(d.at) if d else "-",
                      show_time(vs.expires) if vs.expires else "-",
                      "[green]open[/]" if vs.gate.open else "[red]closed[/]")
    console = _out()
    console.print(table)
    for vs in rows:
        console.print(f"  {vs.gate.reason}")


@click.command("history")
@click.argument("tool")
@click.option("--verify", is_flag=True, help="Recompute the hash chain; exit 1 and name the first break if broken.")
@click.option("--expect", "expect", default=None, metavar="HEAD",
              help="The chain head sha256 published elsewhere (records export, register export; 12 hex digits or "
                   "more): exit 1 unless the verified chain ends there. Implies --verify.")
@format_option("table", "json", default="table",
               help="json: every record as recorded, and the verification, for scripts and auditors.")
@tracking_option
@handle_errors
def history_cmd(tool: str, verify: bool, expect: str | None, fmt: str, tracking_uri: str | None) -> None:
    """List a tool's decision records (submit, assess, approve, ...) in order, with how each person was known:
    a server login (authenticated) or a name typed on an embedded store (unauthenticated; issue 12)."""
    if expect is not None:
        expect = expect.strip().lower()
        if len(expect) < 12 or any(c not in "0123456789abcdef" for c in expect):
            raise ConfigError(f"--expect {expect!r} is not a sha256 head: give at least 12 hex digits, as `harness "
                              "history --verify` or an export prints it")
        verify = True
    from rich.table import Table

    from harness.gate import history, show_time

    h = history(store_uri(tracking_uri, write=False), tool)
    v = h.verification
    if fmt == "json":
        click.echo(json.dumps({"tool": tool, "records": [{**d.record, "sha256": d.sha256} for d in h.records],
                               "verification": {"ok": v.ok, "records": v.records, "head": v.head,
                                                "first_break": None if v.ok else v.first_break}}, indent=1))
        if (verify and not v.ok) or (expect is not None and not v.head.startswith(expect)):
            sys.exit(1)
        return
    table = Table(title=f"{tool}: decision history")
    for col in ("#", "at", "action", "version", "state", "by", "identity", "run", "verdict", "why"):
        table.add_column(col, overflow="fold")
    for d in h.records:
        why = d.reason or ""
        if d.action == "waive":
            why += f" | conditions: {d.conditions} | expires {show_time(d.expires)}"
        if d.action == "signoff":
            awaiting = ", ".join((d.details or {}).get("awaiting") or [])
            why += f" | signed as {(d.details or {}).get('role')}; awaiting {awaiting}"
        known = (d.details or {}).get("identity")
        table.add_row(str(d.seq), show_time(d.at), d.action, d.version, d.state, d.actor,
                      "login" if known == "mlflow-basic-auth" else ("typed" if known else "-"), d.run_id or "-",
                      d.verdict or "-", why)
    console = _out()
    console.print(table)
    if v.ok:
        console.print(f"chain verified: {v.records} records, head sha256 {v.head}")
        if v.superseded:
            console.print(f"[dim]entries {list(v.superseded)} were superseded by concurrent writers and are not "
                          "part of the chain[/]")
        if expect is not None and not v.head.startswith(expect):
            known = [d.seq for d in h.records if d.sha256.startswith(expect)]
            where = (f"record {known[0]} of {v.records}: records were appended after it" if known else
                     "no record of this chain: records were removed or rewritten, or the head is of another store")
            console.print(f"[bold red]unexpected head[/]: the chain ends at {v.head[:12]}..., not the expected "
                          f"{expect[:12]}..., which is {where}")
            sys.exit(1)
        return
    console.print(f"[bold red]chain broken[/]: {v.first_break}")
    if verify:
        sys.exit(1)


@click.command("approve")
@click.argument("ref", metavar="TOOL:VERSION")
@click.option("--run", "run_id", required=True, help="The assessment run the approval rests on.")
@person_option("--reviewer", "Who approves (not the submitter: policy 2.3, 4.1).", "decides")
@click.option("--rationale", required=True, help="Why; required in substance for a NEEDS_REVIEW verdict.")
@judged_policy_option
@tracking_option
@handle_errors
def approve_cmd(ref: str, run_id: str, reviewer: str | None, rationale: str, policy_path: str | None,
                tracking_uri: str | None) -> None:
    """Approve TOOL:VERSION on an assessment run: PASS (or NEEDS_REVIEW with a rationale), of exactly this
    version, under the current policy, younger than the tier's re-assessment interval."""
    from harness.gate import approve

    tool, version = tool_ref(ref, need_version=True)
    assert version is not None
    uri = store_uri(tracking_uri, write=True)
    d = approve(uri, tool, version, run_id=run_id, reviewer=reviewer,
                rationale=rationale, policy=policy_or_default(policy_path))
    _recorded("approved", tool, version, d)
    _refresh_memos(uri, d)


@click.command("reject")
@click.argument("ref", metavar="TOOL:VERSION")
@person_option("--reviewer", "Who rejects.", "decides")
@click.option("--reason", required=True, help="Why (policy 3.1).")
@click.option("--run", "run_id", default=None, help="The assessment run the rejection rests on, if any.")
@tracking_option
@handle_errors
def reject_cmd(ref: str, reviewer: str | None, reason: str, run_id: str | None, tracking_uri: str | None) -> None:
    """Close TOOL:VERSION for good, with a reason."""
    from harness.gate import reject

    tool, version = tool_ref(ref, need_version=True)
    assert version is not None
    uri = store_uri(tracking_uri, write=True)
    d = reject(uri, tool, version, reviewer=reviewer, reason=reason, run_id=run_id)
    _recorded("rejected", tool, version, d)
    _refresh_memos(uri, d)


@click.command("waive")
@click.argument("ref", metavar="TOOL:VERSION")
@click.option("--run", "run_id", required=True, help="The assessment run whose findings are waived.")
@person_option("--approver", "Who accepts the risk (not the submitter).", "decides")
@click.option("--rationale", required=True, help="Why the risk is accepted.")
@click.option("--conditions", required=True, help="What must hold while the waiver runs.")
@click.option("--expires", required=True, help="YYYY-MM-DD (the waiver lapses at the start of that day, UTC) or "
              "an ISO date-time; no later than the policy's settings.gate.max_waiver_days.")
@judged_policy_option
@tracking_option
@handle_errors
def waive_cmd(ref: str, run_id: str, approver: str | None, rationale: str, conditions: str, expires: str,
              policy_path: str | None, tracking_uri: str | None) -> None:
    """Record an escalation (policy 4.2): the gate opens under conditions until the waiver expires."""
    from harness.gate import waive

    tool, version = tool_ref(ref, need_version=True)
    assert version is not None
    uri = store_uri(tracking_uri, write=True)
    d = waive(uri, tool, version, run_id=run_id, approver=approver, rationale=rationale,
              conditions=conditions, expires=parse_when(expires, "--expires"), policy=policy_or_default(policy_path))
    _recorded("waived", tool, version, d)
    _refresh_memos(uri, d)
    _out().print(f"the waiver lapses at {d.expires}")


@click.command("suspend")
@click.argument("ref", metavar="TOOL:VERSION")
@person_option("--by", "Who suspends.", "decides")
@click.option("--reason", required=True, help="Why (e.g. a failed re-assessment, policy 4.3).")
@click.option("--run", "run_id", default=None, help="The run that prompted the suspension, if any.")
@tracking_option
@handle_errors
def suspend_cmd(ref: str, by: str | None, reason: str, run_id: str | None, tracking_uri: str | None) -> None:
    """Withdraw the approval or waiver of TOOL:VERSION: the gate closes until a new approval."""
    from harness.gate import suspend

    tool, version = tool_ref(ref, need_version=True)
    assert version is not None
    uri = store_uri(tracking_uri, write=True)
    d = suspend(uri, tool, version, by=by, reason=reason, run_id=run_id)
    _recorded("suspended", tool, version, d)
    _refresh_memos(uri, d)
    from harness.notify.send import notify_suspension

    notify_suspension(uri, d)  # settings.notify of the policy in force; a failure to send is one line on stderr


@click.command("retire")
@click.argument("ref", metavar="TOOL:VERSION")
@person_option("--by", "Who retires it.", "decides")
@click.option("--reason", required=True, help="Why.")
@tracking_option
@handle_errors
def retire_cmd(ref: str, by: str | None, reason: str, tracking_uri: str | None) -> None:
    """Take TOOL:VERSION out of use for good (it stays in the inventory as retired)."""
    from harness.gate import retire

    tool, version = tool_ref(ref, need_version=True)
    assert version is not None
    uri = store_uri(tracking_uri, write=True)
    d = retire(uri, tool, version, by=by, reason=reason)
    _recorded("retired", tool, version, d)
    _refresh_memos(uri, d)


@click.command("gate")
@click.argument("ref", metavar="TOOL[:VERSION]")
@click.option("--at", "at", default=None, help="Answer for another moment (ISO date-time or date), e.g. to see "
              "when a waiver lapses. Default: now.")
@click.option("--manifest", "manifest", default=None, type=click.Path(dir_okay=False),
              help="The tool.yaml of the copy in use: its bytes and the files it names are re-hashed against the "
                   "approved ones. Default: where the assessment found it.")
@tracking_option
@handle_errors
def gate_cmd(ref: str, at: str | None, manifest: str | None, tracking_uri: str | None) -> None:
    """What deployment pipelines call: exit 0 when TOOL[:VERSION] may be used, else exit 1 with the reason.
    Without a version, the version holding the alias `approved`."""
    from harness.gate import gate

    tool, version = tool_ref(ref, need_version=False)
    when = parse_when(at, "--at") if at else None
    if isinstance(when, date) and not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    answer = gate(store_uri(tracking_uri, write=False), tool, version, now=when,
                  manifest=Path(manifest) if manifest else None)
    click.echo(("OPEN: " if answer.open else "CLOSED: ") + answer.reason)
    sys.exit(0 if answer.open else 1)


@click.group("inventory", invoke_without_command=True)
@format_option("table", "json", "csv", default="table")
@judged_policy_option
@tracking_option
@click.pass_context
@handle_errors
def inventory_cmd(ctx: click.Context, fmt: str, policy_path: str | None, tracking_uri: str | None) -> None:
    """Every tool in the inventory (policy 6.2): department, vendor, category, risk tier, status (the lifecycle
    state from the decision log: planned, in-development, submitted, assessed, approved, waived, suspended,
    rejected, retired), latest verdict, approval state and next re-assessment date. `inventory add` enters a
    planned or in-development tool."""
    if ctx.invoked_subcommand is not None:
        return
    from harness.gate import inventory

    rows = [r.as_dict() for r in inventory(store_uri(tracking_uri, write=False), policy=policy_or_default(policy_path))]
    _emit(rows, fmt, "AI tool inventory (policy 6.2)",
          ["tool", "version", "department", "vendor", "category", "risk_tier", "status", "latest_verdict",
           "approval", "gate_open", "next_due"])


@inventory_cmd.command("add")
@click.argument("tool")
@click.option("--name", required=True, help="The tool's name.")
@click.option("--department", required=True, help="The department that plans or develops it.")
@click.option("--category", required=True, type=click.Choice(["predictive", "generative", "decision-support"]),
              help="Policy 6.4 category.")
@click.option("--status", "status", required=True, type=click.Choice(["planned", "in-development"]),
              help="Its stage (policy 6.2); once a version is submitted, the gate records the rest.")
@click.option("--vendor", default=None, help="The supplier, if known.")
@click.option("--records", "records_path", default=None, type=click.Path(dir_okay=False),
              help="A YAML file holding the tool's records (the manifest's `records:` block: data_collected, purpose, "
                   "retention, privacy_impact_assessment, contact, public_facing, public_disclosure; policy 1.2, 2.4).")
@click.option("--update", is_flag=True, help="Change the entry of a tool already planned (never back from "
              "in-development to planned). Without it, an id already in the inventory is refused.")
@person_option("--by", "Who reports the tool.", "decides")
@tracking_option
@handle_errors
def inventory_add_cmd(tool: str, name: str, department: str, category: str, status: str, vendor: str | None,
                      records_path: str | None, update: bool, by: str | None, tracking_uri: str | None) -> None:
    """Enter TOOL in the inventory as planned or in development, without a submission (policy 6.2). The same entry
    again records nothing."""
    from harness.gate import add_planned
    from harness.manifest import load_records

    records = load_records(records_path) if records_path else None
    d = add_planned(store_uri(tracking_uri, write=True), tool, name=name, department=department, category=category,
                    status=status, by=by, vendor=vendor, records=records, update=update)
    if d is None:
        _out().print(f"{tool} is already in the inventory as {status} with these facts: nothing recorded")
        return
    from harness.gate.identity import identity_label

    _out().print(f"entered {tool} in the inventory as {d.state}: decision record {d.seq} (sha256 {d.sha256[:12]}...) "
                 f"by {d.actor} ({identity_label((d.details or {}).get('identity'))}) at {d.at}")


@click.command("due")
@click.option("--as-of", "as_of", default=None, help="Date (YYYY-MM-DD, the whole day counts) or ISO date-time. "
              "Default: now.")
@click.option("--notify", is_flag=True,
              help="Also send what is due through the policy's settings.notify channels: re-assessments overdue, and "
                   "approvals and waivers lapsing within settings.notify.lapse_days. A notice already sent through a "
                   "channel is not sent again (unless settings.notify.repeat_days have passed). Exit 4 when a notice "
                   "could not be sent (each failure is one line on stderr).")
@format_option("table", "json", "csv", default="table")
@judged_policy_option
@tracking_option
@handle_errors
def due_cmd(as_of: str | None, notify: bool, fmt: str, policy_path: str | None, tracking_uri: str | None) -> None:
    """Tool versions in use whose re-assessment is due by the tier intervals (policy 4.3)."""
    from harness.gate import due

    when = parse_when(as_of, "--as-of") if as_of else None
    uri = store_uri(tracking_uri, write=notify)
    policy = policy_or_default(policy_path)
    if notify:
        from harness.gate.inforce import policy_of
        from harness.notify.send import settings_of

        policy = policy_of(policy, uri)
        if not settings_of(policy).channels:
            raise ConfigError(f"--notify: the policy {policy.label} has no settings.notify channels, so nothing can be "
                              "sent; add a command, email or webhook channel to settings.notify (see the default "
                              "policy's comments)")
    items = due(uri, when, policy=policy)
    rows = [i.as_dict() for i in items]
    if fmt == "table" and not rows:
        _out().print(f"nothing is due by {as_of or 'now'}")
    else:
        _emit(rows, fmt, "Re-assessments due (policy 4.3)",
              ["tool", "version", "risk_tier", "state", "last_assessed", "last_run", "due", "interval_days"])
    if notify:
        assert policy is not None
        _send_due(uri, policy, when, quiet=fmt != "table")


def _send_due(uri: str, policy: Policy, when: datetime | date | None, *, quiet: bool) -> None:
    """`due --notify`: send; say what was sent under a table (with JSON or CSV, nothing: stdout stays parseable and
    stderr holds failures only, one line each, from `harness.notify.send`); exit 4 when any notice could not be
    sent."""
    from datetime import timedelta

    from harness.notify.send import send_due
    from harness.tracking import Store

    if isinstance(when, date) and not isinstance(when, datetime):  # a date counts the whole day, as `due` does
        when = datetime(when.year, when.month, when.day, tzinfo=UTC) + timedelta(days=1, microseconds=-1)
    outcomes = send_due(Store(uri), policy, when)
    if not quiet:
        console = _out()
        for o in outcomes:
            n = o.notice
            if o.sent:
                console.print(f"notified: {n.event} of {n.tool} {n.version} through {', '.join(o.sent)}")
            if o.already:
                console.print(f"already notified: {n.event} of {n.tool} {n.version} through {', '.join(o.already)} "
                              "(not sent again)")
        if not outcomes:
            console.print("no notice is due")
    if any(o.failed for o in outcomes):
        sys.exit(4)


def _emit(rows: list[dict[str, Any]], fmt: str, title: str, columns: list[str]) -> None:
    if fmt == "json":
        import json

        click.echo(json.dumps(rows, indent=1))
        return
    if fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col.replace("_", " "), overflow="fold")
    for r in rows:
        cells = []
        for col in columns:
            v = r.get(col)
            text = "-" if v is None else ("open" if v is True else "closed" if v is False else str(v))
            if col == "approval":
                text = f"[{STATE_STYLE.get(text, '')}]{text}[/]"
            cells.append(text)
        table.add_row(*cells)
    _out().print(table)


COMMANDS: tuple[click.Command, ...] = (status_cmd, history_cmd, approve_cmd, reject_cmd, waive_cmd, suspend_cmd,
                                       retire_cmd, gate_cmd, inventory_cmd, due_cmd)
"""What `harness.cli.app` adds to the group."""
