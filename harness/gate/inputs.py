"""What callers hand the gate, made ready for the rules: a `TOOL[:VERSION]` reference, the person acting,
a reason, the store URI and the policy (the packaged one when none is given, and its re-assessment
intervals), and the one sentence a refusal takes (rule and policy section), so every refusal reads alike
wherever it is raised."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import GateError

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.tracking.registry import Registry


def submitter_of(by: str | None = None) -> str:
    """Who started a DTI-initiated assessment: `--by`, else $HARNESS_USER, else the login name."""
    import getpass
    import os

    if by and by.strip():
        return by.strip()
    if os.environ.get("HARNESS_USER", "").strip():
        return os.environ["HARNESS_USER"].strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "unknown"


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`TOOL[:VERSION]` as the command line takes it."""
    tool, _, version = ref.partition(":")
    if not tool:
        raise GateError(f"{ref!r} names no tool; write TOOL or TOOL:VERSION (e.g. rentrank:2.1.0)")
    return tool, (version or None)


def _refuse(what: str, rule: str, section: str, detail: str) -> GateError:
    return GateError(f"{what} refused by rule '{rule}' (policy {section}): {detail}")


def _person(name: str | None, role: str, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise _refuse(what, "accountable-person", "2.3", f"the {role} must be named: a person answers for "
                      "every decision")
    return name


def _same_person(a: str, b: str | None) -> bool:
    return b is not None and a.strip().casefold() == b.strip().casefold()


def _text(value: str | None) -> str:
    return (value or "").strip()


def _registry(uri: str) -> Registry:
    from harness.tracking.registry import Registry

    return Registry(uri)


def _policy(policy: Policy | None, uri: str | None = None) -> Policy:
    """The policy given, else the one in force in the store at `uri` (`harness policy adopt`), else the
    packaged one."""
    if policy is not None:
        return policy
    if uri is not None:
        from harness.gate.policies import in_force

        return in_force(uri).policy
    from harness.policy import load_policy

    return load_policy()


def _interval(policy: Policy, tier: str) -> int:
    return int(policy.reassessment_days.get(tier, min(policy.reassessment_days.values())))  # type: ignore[call-overload]
