"""`harness policy check [POLICY]`: is this policy file one the installed harness can apply as written?

Registered onto `harness.cli.main` by an import at the end of `harness/cli.py`. Exit 0 when every threshold
is produced by an installed suite, every setting is one its suite takes and every required suite is installed;
exit 2 listing each problem with its line otherwise, so a policy can be checked before it is adopted (and in CI)
rather than discovered wrong in a verdict.
"""
from __future__ import annotations

import sys

import click

from harness.cli import handle_errors, main


@main.group("policy")
def policy_group() -> None:
    """Policy files: check one against the installed suites."""


@policy_group.command("check")
@click.argument("policy_path", metavar="[POLICY]", required=False, type=click.Path(dir_okay=False))
@handle_errors
def policy_check_cmd(policy_path: str | None) -> None:
    """List the thresholds of POLICY that no installed suite produces, settings that are not a suite's
    (misspelt or unknown) or not valid, and required suites that are not installed; exit 2 if there are any.
    Default: the policy shipped with the harness."""
    from harness.policy import load_policy
    from harness.policy_check import check_policy, policy_text
    from harness.registry import load_suites

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
