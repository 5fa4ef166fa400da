"""`harness policy check [POLICY]`: is this policy file one the installed harness can apply as written?

`harness policy adopt POLICY` puts a policy in force as a recorded decision (policy 4.2, 3.1;
`harness.gate.policies`) and `harness policy show` says which is in force, adopted by whom, when and why.

Added to the group by `harness.cli.app`. Exit 0 when every threshold
is produced by an installed suite, every setting is one its suite takes and every required suite is installed;
exit 2 listing each problem with its line otherwise, so a policy can be checked before it is adopted (and in CI)
rather than discovered wrong in a verdict.
"""
from __future__ import annotations

import sys

import click

from harness.cli.common import handle_errors, person_option, store_uri, tracking_option


@click.group("policy")
def policy_group() -> None:
    """Policy files: check one against the installed suites, adopt one as the City's policy in force, show it."""


@policy_group.command("check")
@click.argument("policy_path", metavar="[POLICY]", required=False, type=click.Path(dir_okay=False))
@handle_errors
def policy_check_cmd(policy_path: str | None) -> None:
    """List the thresholds of POLICY that no installed suite produces, settings that are not a suite's
    (misspelt or unknown) or not valid, and required suites that are not installed; exit 2 if there are any.
    Default: the policy shipped with the harness."""
    from harness.plugins import load_suites
    from harness.policy import load_policy
    from harness.policy_check import check_policy, policy_text

    policy = load_policy(policy_path)
    suites = load_suites()
    text, source = policy_text(policy_path)
    problems = check_policy(policy, suites, text)
    name = f"{policy.name}@{policy.version}"
    if not problems:
        click.echo(f"{name}: {len(policy.thresholds)} thresholds, all produced by installed suites; settings valid")
        return
    counts = {kind: sum(p.kind == kind for p in problems) for kind in ("threshold", "setting", "suite")}
    what = {"threshold": "threshold(s) no installed suite produces", "setting": "settings problem(s)",
            "suite": "required suite(s) not installed"}
    summary = "; ".join(f"{n} {what[k]}" for k, n in counts.items() if n)
    lines = [f"{source} ({name}): {summary}"]
    in_file_order = sorted(problems, key=lambda p: (p.line is None, p.line or 0))
    lines += [f"  line {p.line}: {p}" if p.line else f"  {p}" for p in in_file_order]
    click.echo("\n".join(lines), err=True)
    sys.exit(2)


@policy_group.command("adopt")
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@person_option("--by", "The policy administrator adopting it: a named person (policy 2.3).", "decides")
@click.option("--reason", required=True, help="Why the City adopts this standard (policy 3.1).")
@click.option("--acknowledge-weakening", "acknowledgement", default=None, metavar="TEXT",
              help="Why adopting a policy weaker than the one in force is intended; required when it is, and kept "
                   "in the record with the list of weakenings.")
@tracking_option
@handle_errors
def policy_adopt_cmd(policy_path: str, by: str | None, reason: str, acknowledgement: str | None,
                     tracking_uri: str | None) -> None:
    """Put POLICY in force: approvals and waivers are judged against it from now on (policy 4.2). Refused
    (exit 2) when the installed harness cannot apply it as written, or when it is weaker than the policy in
    force and --acknowledge-weakening does not say why. Adopting the policy already in force records nothing."""
    from harness.gate import adopt, in_force
    from harness.gate.records import show_time

    uri = store_uri(tracking_uri, write=True)
    before = in_force(uri).record
    d = adopt(uri, policy_path, by=by, reason=reason, acknowledge_weakening=acknowledgement)
    if before is not None and d.sha256 == before.sha256:
        click.echo(f"{d.details['policy']} is already in force (policy log record {d.seq}, adopted by {d.actor} "
                   f"on {show_time(d.at)}); nothing recorded")
        return
    weak = d.details.get("weakenings") or []
    click.echo(f"adopted {d.version} as record {d.seq} of the policy log: policy sha256 {d.policy_digest}, "
               f"record sha256 {d.sha256}")
    if weak:
        click.echo(f"{len(weak)} weakening(s) acknowledged ({d.details['acknowledged']}):")
        click.echo("\n".join(f"  - {w}" for w in weak))


@policy_group.command("show")
@tracking_option
@handle_errors
def policy_show_cmd(tracking_uri: str | None) -> None:
    """The policy in force, who adopted it, when and why, the weakenings acknowledged, and every adoption."""
    from harness.gate import POLICY_LOG, adoptions, in_force
    from harness.gate.records import show_time

    uri = store_uri(tracking_uri, write=False)
    current = in_force(uri)
    click.echo(f"policy in force: {current.policy.label}")
    d = current.record
    if d is None:
        click.echo(f"  {current.source}; a policy administrator adopts one with `harness policy adopt POLICY --by "
                   "NAME --reason TEXT`")
        return
    weak = d.details.get("weakenings") or []
    click.echo(f"  adopted by {d.actor} on {show_time(d.at)} (record {d.seq} of the policy log {POLICY_LOG!r})")
    click.echo(f"  reason: {d.reason}")
    click.echo(f"  replaces: {d.details.get('replaces')}")
    click.echo(f"  file: policy.yaml of run {d.run_id} (sha256 {d.details.get('file_sha256')})")
    if weak:
        click.echo(f"  weakenings acknowledged ({d.details.get('acknowledged')}):")
        click.echo("\n".join(f"    - {w}" for w in weak))
    else:
        click.echo("  weakenings: none")
    history = adoptions(uri)
    click.echo(f"adoption history ({len(history)}, oldest first):")
    for a in history:
        n = len(a.details.get("weakenings") or [])
        click.echo(f"  {a.seq}  {show_time(a.at)}  {a.details.get('policy')}  by {a.actor}: {a.reason}"
                   + (f" ({n} weakening(s) acknowledged)" if n else ""))


COMMANDS: tuple[click.Command, ...] = (policy_group,)
"""What `harness.cli.app` adds to the group."""
