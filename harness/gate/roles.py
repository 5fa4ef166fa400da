"""Roles and sign-offs, as the policy in force sets them (`settings.gate`; issue 12, section 2; policy 2.3:
"designate individuals responsible for decisions", 4.1: separation of duties, 4.2: the approval).

- `roles`: role name -> the MLflow user names that hold it (`dti: [dana]`). Empty (the packaged policy) means
  no role is checked: the store has no user list to check against.
- `may`: action -> the roles that may record it (submit, assess, approve, waive, reject, suspend, retire,
  adopt, plan). Checked on every record when `roles` is set.
- `signoff`: tier -> the roles that must each sign an approval (or waiver) before it takes effect. The last
  signature makes it; the earlier ones are `signoff` records. When `roles` is empty, the roles are counted:
  as many different people as roles listed.
- `authenticated_approval`: the tiers whose approvals and waivers need an identity the MLflow server
  confirmed (`harness.gate.identity`); an embedded store can never give one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from harness.gate.inputs import person_key, refuse, same_person

if TYPE_CHECKING:
    from harness.gate.identity import Identity
    from harness.policy import Policy

Action = Literal["submit", "assess", "approve", "waive", "reject", "suspend", "retire", "adopt", "plan"]
Tier = Literal["high", "medium", "low"]
DEFAULT_MAY: dict[Action, list[str]] = {
    "submit": ["vendor", "dti"], "assess": ["dti"], "approve": ["dti", "department"],
    "waive": ["dti", "department"], "reject": ["dti", "department"], "suspend": ["dti"], "retire": ["dti"],
    "adopt": ["dti"],
    "plan": ["dti", "department"],  # policy 6.2: departments report planned tools, DTI coordinates the inventory
}
DEFAULT_SIGNOFF: dict[Tier, list[str]] = {"high": ["dti", "department"], "medium": ["dti"], "low": ["dti"]}
DEFAULT_AUTHENTICATED: list[Tier] = ["high"]


def roles(policy: Policy) -> dict[str, list[str]]:
    value = policy.setting("gate", "roles", {}) or {}
    return {str(k): [str(p) for p in (v or [])] for k, v in dict(value).items()}


def held(policy: Policy, name: str) -> list[str]:
    """The roles `name` holds (compared as `person_key`, so spacing and case do not matter)."""

    key = person_key(name)
    return [r for r, people in roles(policy).items() if any(person_key(p) == key for p in people)]


def may(policy: Policy, action: str) -> list[str]:
    table: dict[str, Any] = dict(DEFAULT_MAY.items())
    table.update(policy.setting("gate", "may", {}) or {})
    return [str(r) for r in table.get(action, [])]


def signoff(policy: Policy, tier: str) -> list[str]:
    table: dict[str, Any] = policy.setting("gate", "signoff", DEFAULT_SIGNOFF) or {}
    return [str(r) for r in table.get(tier, ["dti"])] or ["dti"]


def authenticated_tiers(policy: Policy) -> list[str]:
    return [str(t) for t in (policy.setting("gate", "authenticated_approval", DEFAULT_AUTHENTICATED) or [])]


def check_may(policy: Policy, who: Identity, action: str, what: str) -> None:
    """Refuse a record by someone whose roles do not allow the action (only when the policy lists roles)."""

    if not roles(policy):
        return
    allowed = may(policy, action)
    mine = held(policy, who.name)
    if not set(mine) & set(allowed):
        holds = f"holds the role(s) {', '.join(mine)}" if mine else "holds no role"
        raise refuse(what, "role", "2.3",
                      f"{who.name!r} {holds} in {policy.label}; recording '{action}' needs one of "
                      f"{', '.join(allowed) or 'no role (nobody may)'} (settings.gate.may.{action})")


def check_authenticated(policy: Policy, who: Identity, tier: str, what: str) -> None:

    if tier in authenticated_tiers(policy) and not who.authenticated:
        raise refuse(what, "authenticated-identity", "2.3, 4.2",
                      f"{policy.label} requires an identity confirmed by the MLflow server to approve a {tier}-risk "
                      f"tool (settings.gate.authenticated_approval), and {who.name!r} is only a name typed on this "
                      "machine: record the decision on the City's tracking server with your own login (see "
                      "deploy/README.md)")


def next_role(policy: Policy, who: Identity, required: list[str], signed: list[tuple[str, str]],
              what: str) -> str:
    """The role `who` signs for: one of the required roles not yet signed that they hold (or, with no roles
    set, the next one in order). `signed` is (person, role) of the earlier sign-offs on the same run."""

    for person, role in signed:
        if same_person(who.name, person):
            raise refuse(what, "dual-signoff", "2.3, 4.1",
                          f"{who.name!r} already signed this decision (as {role}); it awaits "
                          f"{', '.join(r for r in required if r not in {x for _, x in signed})} from someone else")
    open_roles = [r for r in required if r not in {x for _, x in signed}]
    if not roles(policy):
        return open_roles[0]
    mine = [r for r in open_roles if r in held(policy, who.name)]
    if not mine:
        raise refuse(what, "dual-signoff", "2.3, 4.1",
                      f"{who.name!r} holds {', '.join(held(policy, who.name)) or 'no role'}; this decision awaits "
                      f"{', '.join(open_roles)} (settings.gate.signoff)")
    return mine[0]


__all__ = ["DEFAULT_AUTHENTICATED", "DEFAULT_MAY", "DEFAULT_SIGNOFF", "authenticated_tiers", "check_authenticated",
           "check_may", "held", "may", "next_role", "roles", "signoff"]
