"""The City's policy in force, as a recorded fact (policy 4.2, 3.1; issue 11, section 2).

Policy 4.2 has DTI define the standard tools are approved against, and 3.1 has the criteria of every
decision documented. If the standard were whatever file an approver passes with `--policy`, anyone
could approve a four-fifths failure under a copy of the default policy that keeps its name and version
but makes every threshold advisory. So a policy is in force only when a named policy administrator
adopts it (`harness policy adopt`), and `approve` and `waive` judge against that policy (`check_current`).

- The adoption is a record of a decision log like a tool's (`harness.gate.writer.append_record`: the same hash
  chain, and whatever else `append_record` and `verify_chain` check), kept under the fixed id `POLICY_LOG`. That id
  cannot be a tool id (tool ids match `^[a-z0-9][a-z0-9._-]*$`), so no vendor can register a tool whose
  decision log is the policy log; its registered model is tagged `harness.kind=decision-log`, never
  `tool`, so inventory, `reassess` and the gate never list it as a tool.
- The adopted file itself is an artifact (`policy.yaml`) of a small MLflow run, named by the record's
  `run_id`; the record holds the file's sha256 and the policy's digest, and `in_force` loads the file back
  and checks both, so the policy in force is the same bytes on every machine and an edited copy is refused.
- Adopting a policy that is weaker than the one in force (`weakenings`) is refused unless the
  administrator says why (`--acknowledge-weakening`); the record keeps the list and the reason given.
- Re-adopting the policy already in force (same digest) records nothing and returns the record in force:
  nothing changed, and a second record would make the history say it had.
- With nothing adopted, the policy shipped with the harness is in force.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.gate.identity import acting, not_an_account
from harness.gate.inforce import (
    PACKAGED,
    POLICY_FILE,
    POLICY_LOG,
    POLICY_STATE,
    InForce,
    adoptions,
    check_current,
    in_force,
    in_force_of,
)
from harness.gate.inputs import reassessment_interval, refuse, registry_at, store_of, stripped
from harness.gate.log import Book
from harness.gate.records import DEFAULT_MAX_WAIVER_DAYS, DEFAULT_OVERDUE_GRACE_DAYS, Decision, now_utc
from harness.gate.writer import append_record

if TYPE_CHECKING:
    from harness.policy import Policy, Threshold

TIER_ORDER = ("high", "medium", "low")
# strictness of the decision rules for a blocking violation (PASS does not depend on them: it needs the whole
# interval on the passing side whatever the rule). `point` FAILs every violation of the point estimate, so
# it is the strictest; the other two turn a violation that could be chance into REVIEW, and neither is
# stricter than the other for every finding (a check's own test can be weaker or stronger than its interval),
# so a change to anything but `point` is listed as a weakening.
STRICTEST_RULE = "point"


# -- what is weaker --------------------------------------------------------------------------------------


def _tiers(tiers: list[str]) -> str:
    if len(tiers) == len(TIER_ORDER):
        return "all risk tiers"
    return ("risk tiers " if len(tiers) > 1 else "risk tier ") + ", ".join(tiers)


def _blocking(t: Threshold) -> list[str]:
    return [tier for tier in TIER_ORDER if t.severity_for(tier) == "blocking"]


def _severity(t: Threshold) -> str:
    tiers = _blocking(t)
    return "advisory" if not tiers else "blocking" if len(tiers) == len(TIER_ORDER) else f"blocking for {_tiers(tiers)}"


def _threshold_weakenings(key: str, old: Threshold, new: Threshold | None) -> list[str]:
    if new is None:
        return [f"threshold {key} ({_severity(old)}) is removed"]
    if new.greater_is_better != old.greater_is_better:
        return [f"threshold {key} reverses direction: {'higher' if new.greater_is_better else 'lower'} is now better"]
    out = []
    advisory = [tier for tier in _blocking(old) if new.severity_for(tier) != "blocking"]
    if advisory:
        out.append(f"threshold {key} is advisory instead of blocking for {_tiers(advisory)}")
    looser: dict[tuple[float, float], list[str]] = {}
    for tier in TIER_ORDER:
        a, b = old.limit_for(tier), new.limit_for(tier)
        if (b < a) if old.greater_is_better else (b > a):
            looser.setdefault((a, b), []).append(tier)
    better = "higher" if old.greater_is_better else "lower"
    out += [f"threshold {key}: limit loosened from {a:g} to {b:g} for {_tiers(tiers)} ({better} is better)"
            for (a, b), tiers in looser.items()]
    return out


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def weakenings(old: Policy, new: Policy) -> list[str]:
    """Every way `new` judges tools more leniently than `old`, one sentence each (empty: not weaker).

    Listed: a threshold removed, made advisory for a tier where it blocked, its limit loosened for a tier
    (respecting `greater_is_better`) or its direction reversed; a suite no longer required for a category; a
    longer re-assessment interval (4.3); a lower minimum tier in `settings.tiers` for any answer (issue 16); a
    higher `settings.gate.max_waiver_days` or `overdue_grace_days`; a host
    added to `settings.endpoints.allowed_hosts` (one removed is stricter);
    `decision_rule` changed to anything but `point` (see STRICTEST_RULE); `reference_rule` from
    `most_favourable` to `largest` (ratios against the largest group are never lower than against the
    most favoured one). Some changes weaken either way and are always listed: `min_group_size` (lowered:
    groups are judged on fewer rows; raised: a failing small group becomes INSUFFICIENT instead of FAIL) and
    `confidence_level` (lowered: narrower intervals PASS sooner; raised: fewer violations are shown real,
    unless the rule is `point`). A suite's settings change (e.g. `hallucination.max_error_share`) is listed
    too, since the harness cannot tell their direction: the administrator says why in the acknowledgement.
    Not listed: `seed`, `bootstrap_samples`, `settings.register` (what is published, not how tools are judged),
    texts, and added thresholds or suites (stricter). `settings.notify` is listed only where fewer people are told
    (`_notify_weakenings`)."""
    from harness.decision import RULES

    out: list[str] = []
    for key, t in old.thresholds.items():
        out += _threshold_weakenings(key, t, new.thresholds.get(key))
    for category, suites in old.required_suites.items():
        dropped = [s for s in suites if s not in new.required_suites.get(category, [])]
        if dropped:
            out.append(f"required_suites.{category} no longer requires {', '.join(dropped)}")
    if new.decision_rule != old.decision_rule and new.decision_rule != STRICTEST_RULE:
        out.append(f"decision_rule changed from {old.decision_rule} to {new.decision_rule}: "
                   f"{RULES[new.decision_rule]}")
    if old.reference_rule == "most_favourable" and new.reference_rule == "largest":
        out.append("reference_rule changed from most_favourable to largest: ratios are taken against the largest "
                   "group instead of the most favoured one, so they are higher")
    a, b = old.min_group_size, new.min_group_size
    if b < a:
        out.append(f"min_group_size lowered from {a} to {b}: groups of {b} to {a - 1} rows are judged instead of "
                   "INSUFFICIENT")
    elif b > a:
        out.append(f"min_group_size raised from {a} to {b}: groups of {a} to {b - 1} rows are INSUFFICIENT, so a "
                   "failing small group is no longer a FAIL")
    c, d = old.confidence_level, new.confidence_level
    if d < c:
        out.append(f"confidence_level lowered from {c:g} to {d:g}: intervals are narrower, so a measurement "
                   "PASSes on less evidence")
    elif d > c and new.decision_rule != STRICTEST_RULE:
        out.append(f"confidence_level raised from {c:g} to {d:g}: a violation must be more certain to FAIL, so "
                   "more violations are REVIEW")
    for tier in TIER_ORDER:
        a, b = reassessment_interval(old, tier), reassessment_interval(new, tier)
        if b > a:
            out.append(f"reassessment_days.{tier} lengthened from {a} to {b} days (policy 4.3)")
    for name, default, why in (("max_waiver_days", DEFAULT_MAX_WAIVER_DAYS, "a waiver may stay in force longer "
                                "(policy 4.2)"),
                               ("overdue_grace_days", DEFAULT_OVERDUE_GRACE_DAYS, "an overdue approval keeps the "
                                "gate open longer (policy 4.3)")):
        a, b = int(old.setting("gate", name, default)), int(new.setting("gate", name, default))
        if b > a:
            out.append(f"settings.gate.{name} raised from {a} to {b}: {why}")
    out += _gate_weakenings(old, new)
    was_hosts, now_hosts = (list(p.setting("endpoints", "allowed_hosts", []) or []) for p in (old, new))
    added = [h for h in now_hosts if h not in was_hosts]
    if added:
        out.append(f"settings.endpoints.allowed_hosts now also allows {', '.join(added)}: City data may be sent to "
                   f"more hosts (policy 1.3, 1.4)")
    out += _notify_weakenings(old, new)
    from harness.tiering import weaker_tiers

    out += weaker_tiers(old, new)  # a lower minimum tier for the same answers (issue 16)
    for section in sorted((set(old.settings) | set(new.settings)) - {"endpoints", "gate", "notify", "register",
                                                                       "tiers"}):
        was, now = old.settings.get(section, {}), new.settings.get(section, {})
        for key in sorted(set(was) | set(now)):
            if was.get(key) == now.get(key):
                continue
            change = "changed"  # a list or mapping (e.g. degradation.regression) is too long to quote here
            if _scalar(was.get(key)) and _scalar(now.get(key)):
                frm, to = (repr(d[key]) if key in d else "the suite's default" for d in (was, now))
                change += f" from {frm} to {to}"
            out.append(f"settings.{section}.{key} {change}: the harness cannot tell whether this is weaker")
    return out


def _notify_weakenings(old: Policy, new: Policy) -> list[str]:
    """Fewer people told (issue 15): a channel no longer told of an event it was told of, or a shorter warning before
    a lapse. A channel added, or one of the same name sent elsewhere, is not listed: notices do not judge tools."""
    if old.settings.get("notify") == new.settings.get("notify"):
        return []
    from harness.notify.settings import EVENTS, notify_settings

    a, b = notify_settings(old.settings), notify_settings(new.settings)
    out = []
    for event in EVENTS:
        still = {c.label for c in b.channels_for(event)}
        lost = [c.label for c in a.channels_for(event) if c.label not in still]
        if lost:
            out.append(f"settings.notify no longer tells channel(s) {', '.join(lost)} of {event}: fewer people are "
                       "told (policy 4.2, 4.3)")
    if b.lapse_days < a.lapse_days:
        out.append(f"settings.notify.lapse_days lowered from {a.lapse_days} to {b.lapse_days}: a lapse is announced "
                   "later")
    return out


def _gate_weakenings(old: Policy, new: Policy) -> list[str]:
    """Who may decide (issue 12): a tier no longer needing an authenticated approver, a role no longer signing
    a tier's approvals, a role allowed an action it was not, and any change of who holds a role (the harness
    cannot tell whether the new person should)."""
    from harness.gate import roles as r

    out: list[str] = []
    dropped = [t for t in r.authenticated_tiers(old) if t not in r.authenticated_tiers(new)]
    if dropped:
        out.append(f"settings.gate.authenticated_approval no longer covers {', '.join(dropped)}: a name typed on an "
                   "embedded store can approve those tiers")
    for tier in TIER_ORDER:
        gone = [x for x in r.signoff(old, tier) if x not in r.signoff(new, tier)]
        if len(r.signoff(new, tier)) < len(r.signoff(old, tier)) or (gone and r.roles(new)):
            out.append(f"settings.gate.signoff.{tier} changed from {r.signoff(old, tier)} to {r.signoff(new, tier)}: "
                       "fewer people sign an approval")
    for action in r.DEFAULT_MAY:
        added = [x for x in r.may(new, action) if x not in r.may(old, action)]
        if added and r.roles(new):
            out.append(f"settings.gate.may.{action} now also allows {', '.join(added)}")
    if r.roles(old) != r.roles(new):
        out.append("settings.gate.roles changed: who holds a role decides who may approve, and the harness cannot "
                   "tell whether that is weaker")
    return out


def adopt(uri: str, policy_path: str | Path, *, by: str | None, reason: str, acknowledge_weakening: str | None = None,
          now: datetime | None = None) -> Decision:
    """Put the policy file in force (policy 4.2) as a record of the policy log, by a named policy administrator
    (2.3) with a reason (3.1). Refused: a policy the installed harness cannot apply as written (`harness policy
    check`), and a policy weaker than the one in force without `acknowledge_weakening`. Adopting the policy
    already in force records nothing and returns its record."""
    from harness.plugins import load_suites
    from harness.policy import load_policy
    from harness.policy_check import check_policy, describe, policy_text

    at = now_utc(now)
    path = Path(policy_path)
    policy = load_policy(path)
    what = f"adoption of policy {policy.label}"
    who = acting(uri, by, "policy administrator", what)
    not_an_account(who, "policy administrator", what)
    actor = who.name
    if not stripped(reason):
        raise refuse(what, "decision-reason", "3.1", "an adoption needs a reason: the City documents why its "
                      "standard changed")
    text, source = policy_text(path)
    problems = check_policy(policy, load_suites(), text)
    if problems:
        raise refuse(what, "valid-policy", "4.2", f"the installed harness cannot apply it as written "
                      f"({len(problems)} problem(s); `harness policy check {path}` lists them):\n"
                      + describe(problems, source))
    ack = stripped(acknowledge_weakening) or None
    reg = registry_at(uri)

    def judged(current: InForce) -> list[str] | None:
        """The weakenings against the policy in force; None when this policy is already in force."""
        if current.record is not None and current.policy.digest == policy.digest:
            return None
        weak = weakenings(current.policy, policy)
        if weak and ack is None:
            raise refuse(what, "acknowledged-weakening", "4.2",
                          f"it is weaker than the policy in force, {current.policy.label} ({current.adopted}):\n"
                          + "\n".join(f"  - {w}" for w in weak)
                          + "\nIf that is intended, re-run with --acknowledge-weakening \"why\"; the record keeps "
                            "the list and your words")
        return weak

    before = in_force(uri)
    if judged(before) is None:
        assert before.record is not None
        return before.record
    data = path.read_bytes()
    with store_of(reg).finished_run(POLICY_LOG, f"policy {policy.name}@{policy.version}",
                                {"harness.kind": "policy", "harness.policy": policy.label,
                                 "harness.policy_digest": policy.digest, "harness.policy.by": actor},
                                what="a policy run") as run:
        run.log_bytes(POLICY_FILE, data)  # byte for byte: anyone with the store fetches the adopted file back
    run_id = run.run_id

    def build(book: Book) -> dict[str, Any] | None:
        current = in_force_of(reg, book)  # another adoption may have come first: judge against it
        weak = judged(current)
        if weak is None:
            return None
        return {"action": "adopt", "version": f"{policy.name}@{policy.version}", "state": POLICY_STATE,
                "actor": actor, "reason": stripped(reason), "run_id": run_id, "policy_digest": policy.digest,
                "details": {"policy": policy.label, "file_sha256": hashlib.sha256(data).hexdigest(),
                            "replaces": current.policy.label,
                            "weakenings": weak, "acknowledged": ack}}

    d = append_record(reg, POLICY_LOG, build, at)
    if d is None:
        record = in_force(uri).record
        assert record is not None
        return record
    return d


__all__ = ["PACKAGED", "POLICY_FILE", "POLICY_LOG", "POLICY_STATE", "InForce", "adopt", "adoptions",
           "check_current", "in_force", "weakenings"]
