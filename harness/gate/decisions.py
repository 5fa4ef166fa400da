"""The decisions a named person makes (approve, waive, reject, suspend, retire; policy 2.3, 4.1, 4.2,
4.3) and the rules each must meet before its record is appended: a registered, still open version,
evidence about exactly this version and manifest, complete, under the current policy and fresh, and a
decider who is neither the submitter nor the one who started the run. Each refusal names its rule."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from harness.errors import GateError
from harness.gate.identity import Identity, acting, not_an_account
from harness.gate.inforce import check_current, policy_of
from harness.gate.inputs import reassessment_interval, refuse, registry_at, same_person, store_of, stripped
from harness.gate.log import Book
from harness.gate.records import (
    ALIAS,
    DEFAULT_MAX_WAIVER_DAYS,
    STATES,
    USABLE,
    Decision,
    canonical,
    iso,
    now_utc,
    run_started,
    sha256_text,
    show_time,
)
from harness.gate.roles import check_authenticated, check_may, next_role, signoff
from harness.gate.versions import find_version
from harness.gate.writer import append_record, mirror_tags

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.tracking.registry import Registry
    from harness.tracking.store import RunRecord


def state_of(book: Book, version: str, what: str) -> dict[str, Any]:
    if version not in book.states:
        known = sorted(book.states)
        raise refuse(what, "registered-version", "4.2",
                      f"{book.tool} has no registered version {version!r}"
                      + (f" (registered: {', '.join(known)})" if known else "") + "; assess it first")
    return book.states[version]


def _closed_for_good(book: Book, version: str, s: dict[str, Any], what: str, verb: str) -> None:
    if s["state"] in ("rejected", "retired"):
        d: Decision = s["decision"]
        raise refuse(what, "open-version", "4.1",
                      f"{book.tool} {version} was {s['state']} by {d.actor} on {show_time(d.at)} ({d.reason}); a "
                      f"{s['state']} version cannot be {verb}. Register a new version")


def _evidence(book: Book, version: str, s: dict[str, Any], run: RunRecord, what: str) -> None:
    """The run must be about exactly this version and manifest, under the current policy, and recent."""
    tool = book.tool
    run_tool, run_version = run.tags.get("harness.tool_id"), run.tags.get("harness.tool_version")
    if (run_tool, run_version) != (tool, version):
        raise refuse(what, "same-version", "4.2",
                      f"run {run.run_id} assessed {run_tool} {run_version}, not {tool} {version}")
    registered = s["submitted"].manifest_digest
    assessed = run.tags.get("harness.manifest_digest")
    if assessed != registered:
        raise refuse(what, "same-manifest", "4.2",
                      f"run {run.run_id} assessed a manifest with sha256 {str(assessed)[:12]}..., but {tool} "
                      f"{version} is registered with sha256 {str(registered)[:12]}...")


RANK = {"PASS": 0, "NEEDS_REVIEW": 1, "FAIL": 2}  # worse verdicts rank higher; ERROR is no evidence


def _logged(book: Book, version: str, run: RunRecord, what: str) -> Decision:
    """The decision log's own record of the run (issue 11: decide from the log, not from tags). A run the log
    never recorded as an assessment of this version (a run made up with copied tags, or one recorded for
    another version) is no evidence; a verdict tag that disagrees with the logged verdict was edited."""
    tool = book.tool
    record = next((d for d in book.chain if d.action == "assess" and d.version == version
                   and d.run_id == run.run_id), None)
    if record is None:
        raise refuse(what, "logged-assessment", "4.2",
                      f"run {run.run_id} is not an assessment of {tool} {version} in its decision log; only a run "
                      "the harness recorded when it assessed this version is evidence. Assess it with `harness "
                      "assess`")
    tagged = run.tags.get("harness.verdict")
    if tagged != record.verdict:
        raise refuse(what, "logged-assessment", "4.2",
                      f"run {run.run_id} carries the verdict tag {tagged}, but the decision log recorded it as "
                      f"{record.verdict} (record {record.seq}): the tag was changed after the assessment")
    return record


def _no_worse_since(book: Book, version: str, record: Decision, what: str) -> None:
    """Evidence cannot be picked: a later complete assessment of the same version with a worse verdict
    supersedes the run offered (a tool that FAILs cannot be approved on an older PASS)."""
    for d in book.chain:
        if (d.action == "assess" and d.version == version and d.seq > record.seq and d.verdict in RANK
                and RANK[d.verdict] > RANK.get(str(record.verdict), 0)):
            raise refuse(what, "latest-evidence", "4.2",
                          f"run {d.run_id} assessed {book.tool} {version} as {d.verdict} on {show_time(d.when)}, "
                          f"after run {record.run_id} ({record.verdict}); a decision rests on the latest "
                          "evidence. Remediate and re-assess")


def _covers(book: Book, version: str, s: dict[str, Any], logged: Decision, policy: Policy, what: str) -> None:
    """An approval rests on a run of every suite the policy requires for the tool's category (policy 4.2): a
    run narrowed with `--suite` is partial evidence, and its PASS says nothing about what it left out."""
    category = str(s["submitted"].details.get("category", ""))
    ran = [x for x in str((logged.details or {}).get("suites", "")).split(",") if x]
    missing = [x for x in policy.required_suites.get(category, []) if x not in ran]
    if missing:
        raise refuse(what, "complete-evidence", "4.2",
                      f"run {logged.run_id} ran {', '.join(ran) or 'no suite'}, but {policy.label} requires "
                      f"{', '.join(policy.required_suites[category])} for a {category} tool; missing: "
                      f"{', '.join(missing)}. Assess it with every required suite (leave out --suite)")


def _intact(reg: Registry, logged: Decision, what: str) -> None:
    """The run's files (assessment.json, reports, input copies) are the bytes the assessment wrote: their
    digests are fixed by `evidence.json`, whose sha256 the assess record keeps (harness.tracking.evidence)."""
    from harness.tracking.evidence import check_run

    problems = check_run(store_of(reg), str(logged.run_id), (logged.details or {}).get("evidence_sha256"))
    if problems:
        raise refuse(what, "intact-evidence", "3.2, 4.2", "; ".join(problems[:5])
                      + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""))


def _same_files(book: Book, version: str, s: dict[str, Any], what: str) -> None:
    """The tool on this machine is still the one assessed: its manifest and files re-hashed (issue 11)."""
    from harness.gate.binding import bound, file_changes, manifest_path_of

    path = manifest_path_of(s)
    if not bound(s["submitted"]) or path is None or not path.is_file():
        return  # assessed elsewhere: `harness gate --manifest` checks the copy in use
    diff = file_changes(s["submitted"], path)
    if diff:
        raise refuse(what, "same-files", "4.2",
                      f"{book.tool} {version}'s files changed since they were assessed ({'; '.join(diff)}); a "
                      "changed tool is a new version: change `version` in the manifest and assess it")


def _complete(run: RunRecord, what: str) -> None:
    """A run still RUNNING was killed (or is still being recorded) before it was closed, and a FAILED run
    whose verdict is not ERROR failed while being recorded: neither is complete evidence (policy 3.2)."""
    if run.status == "RUNNING" or (run.status != "FINISHED" and run.tags.get("harness.verdict") != "ERROR"):
        raise refuse(what, "recorded-evidence", "4.2",
                      f"run {run.run_id} is {run.status}: it was interrupted or is still being recorded, so it is "
                      "not complete evidence; re-assess")


def _current(logged: Decision, policy: Policy, what: str) -> None:
    """The policy the run was judged under, as its assess record has it (a run's tag can be edited)."""
    if logged.policy_digest != policy.digest:
        judged = (logged.details or {}).get("policy") or f"the policy with digest {str(logged.policy_digest)[:12]}"
        raise refuse(what, "current-policy", "4.2",
                      f"run {logged.run_id} was judged under {judged}, but the current policy is {policy.label}; "
                      "re-assess under the current policy")


def _fresh(book: Book, version: str, s: dict[str, Any], logged: Decision, policy: Policy, at: datetime,
           what: str) -> None:
    """The run's age is read from its assess record (`run_at`), never from the run's start time, which anyone
    with write access to the store can move forward to revive stale evidence."""
    tier = s["submitted"].details.get("risk_tier", "high")
    days = reassessment_interval(policy, tier)
    ran = datetime.fromisoformat(str(logged.run_at))
    age = at - ran
    if age >= timedelta(days=days):
        raise refuse(what, "fresh-evidence", "4.3",
                      f"run {logged.run_id} ran on {show_time(ran)}, {age.days} days before this decision; "
                      f"evidence for a {tier}-risk tool must be younger than {days} days (reassessment_days.{tier}). "
                      "Re-assess first")


def _separate(person: str, role: str, book: Book, version: str, s: dict[str, Any], logged: Decision,
              what: str) -> None:
    """Who submitted and who ran the assessment, as the log recorded them (never the run's editable tags)."""
    for submitter in s["submitters"] or [s["submitted"].actor]:
        if same_person(person, submitter):
            raise refuse(what, "separation-of-duties", "2.3, 4.1",
                          f"{person!r} submitted {book.tool} {version}; the {role} must be someone else")
    vendor = str(s["submitted"].details.get("vendor") or "")
    if vendor and any(same_person(part, vendor) for part in [person, *person.split(",")]):
        raise refuse(what, "separation-of-duties", "2.3, 4.1",
                      f"{person!r} names the vendor of {book.tool} {version}, {vendor}; the {role} must be someone "
                      "at the City")
    if same_person(person, logged.actor):
        raise refuse(what, "separation-of-duties", "2.3, 4.1",
                      f"{person!r} started assessment run {logged.run_id}; the {role} must be someone else")


def _get_run(reg: Registry, run_id: str, what: str) -> RunRecord:
    run = store_of(reg).run(run_id)
    if run is None:
        raise refuse(what, "recorded-evidence", "4.2", f"there is no MLflow run {run_id!r} in {reg.uri}")
    return run


def _decided(reg: Registry, tool: str, version: str, d: Decision | None, *, alias: bool = False,
             run_tag: str | None = None) -> Decision:
    if d is None:  # pragma: no cover - every decision's build returns fields or raises
        raise GateError(f"no decision was recorded for {tool} {version}")
    book_versions = find_version(reg.versions(tool), version)
    number = book_versions[0].number if book_versions else None
    if d.action == "signoff":  # one signature of several: nothing takes effect yet (harness.gate.roles)
        alias, run_tag = False, None
    if alias and number is not None:
        reg.set_alias(tool, ALIAS, number)
    if run_tag and d.run_id:
        from harness.tracking import APPROVED_TAG

        store_of(reg).set_run_tag(d.run_id, APPROVED_TAG, run_tag)
    mirror_tags(reg, tool, number, d)
    return d


def approve(uri: str, tool: str, version: str, *, run_id: str, reviewer: str | None, rationale: str = "",
            policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Approve a tool version on an assessment run (policy 4.1, 4.2). Sets the alias `approved` once every
    role the policy requires for the tool's tier has signed (`settings.gate.signoff`); until then the record is
    a `signoff` and the version keeps its state. `reviewer` may be None on a server with authentication."""
    at = now_utc(now)
    what = f"approval of {tool} {version}"
    policy = check_current(uri, policy, what)  # the policy in force, a recorded fact (harness.gate.policies)
    who = acting(uri, reviewer, "reviewer", what)
    not_an_account(who, "reviewer", what)
    check_may(policy, who, "approve", what)  # before anything is read: a vendor hears its role, not a 403
    reviewer = who.name
    reg = registry_at(uri)
    run = _get_run(reg, run_id, what)

    def build(book: Book) -> dict[str, Any]:
        s = state_of(book, version, what)
        _closed_for_good(book, version, s, what, "approved")
        _evidence(book, version, s, run, what)
        _complete(run, what)  # an interrupted run never reached the log: say that, not only that it is missing
        logged = _logged(book, version, run, what)
        verdict = logged.verdict
        if verdict == "FAIL":
            raise refuse(what, "no-approval-of-fail", "4.2",
                          f"run {run_id} assessed {tool} {version} as FAIL; a tool that fails the assessment may "
                          "not be used unless remediated. Remediate and re-assess, or escalate the risk with "
                          "`harness waive`")
        if verdict == "ERROR" or verdict not in ("PASS", "NEEDS_REVIEW"):
            raise refuse(what, "no-approval-of-fail", "4.2",
                          f"run {run_id} ended in {verdict}: the assessment did not complete, so there is no "
                          "evidence to approve. Re-run the assessment, or escalate the risk with `harness waive`")
        if verdict == "NEEDS_REVIEW" and not stripped(rationale):
            raise refuse(what, "review-rationale", "2.3",
                          f"run {run_id} needs review (NEEDS_REVIEW); approving it needs a rationale that says why "
                          "its open findings are acceptable (--rationale)")
        _no_worse_since(book, version, logged, what)
        _current(logged, policy, what)
        _covers(book, version, s, logged, policy, what)
        _fresh(book, version, s, logged, policy, at, what)
        _separate(reviewer, "reviewer", book, version, s, logged, what)
        tier = str(s["submitted"].details.get("risk_tier", "high"))
        check_authenticated(policy, who, tier, what)
        _intact(reg, logged, what)
        _same_files(book, version, s, what)
        return _signed(book, version, s, who, policy, tier, what, {
            "action": "approve", "version": version, "state": "approved", "actor": reviewer,
            "reason": stripped(rationale) or None, "run_id": run_id, "run_at": logged.run_at,
            "verdict": verdict, "policy_digest": policy.digest,
            "manifest_digest": logged.manifest_digest, "details": _bound(policy, logged)})

    return _decided(reg, tool, version, append_record(reg, tool, build, at), alias=True, run_tag="approved")


def _signed(book: Book, version: str, s: dict[str, Any], who: Identity, policy: Policy, tier: str, what: str,
            fields: dict[str, Any], terms: str | None = None) -> dict[str, Any]:
    """Dual sign-off (issue 12; policy 2.3, 4.1): the approval or waiver in `fields` takes effect only with the
    signature of every role `settings.gate.signoff` lists for the tier, each by a different person, all on the
    same run (and, for a waiver, the same terms) since the version's last decision. Before the last signature
    the record is a `signoff` that changes nothing."""
    action, run_id = str(fields["action"]), fields["run_id"]
    since = max((d.seq for d in book.chain if d.version == version
                 and d.action in ("approve", "waive", "reject", "suspend", "retire")), default=0)
    prior = [d for d in book.chain if d.action == "signoff" and d.version == version and d.seq > since
             and d.run_id == run_id and (d.details or {}).get("for") == action]
    for d in prior:
        if (d.details or {}).get("terms") != terms:
            raise refuse(what, "dual-signoff", "2.3, 4.2",
                          f"{d.actor} signed this waiver with other conditions or another expiry (record {d.seq}); "
                          "every signature must be on the same terms")
    required = signoff(policy, tier)  # the caller checked the signer's role before reading anything (check_may)
    signed = [(str(d.actor), str((d.details or {}).get("role"))) for d in prior]
    role = next_role(policy, who, required, signed, what)
    signed.append((who.name, role))
    awaiting = [r for r in required if r not in {r for _, r in signed}]
    details = {**fields["details"], "role": role, "signoffs": [{"actor": p, "role": r} for p, r in signed]}
    if not awaiting:
        return {**fields, "details": details}
    return {**fields, "action": "signoff", "state": s["state"], "conditions": None, "expires": None,
            "details": {**details, "for": action, "awaiting": awaiting, **({"terms": terms} if terms else {})}}


def _bound(policy: Policy, logged: Decision) -> dict[str, Any]:
    """What an approval or waiver is bound to, copied from the assess record it rests on: the policy, the
    evidence files' digest and the tool's files' digest (issue 11)."""
    details = logged.details or {}
    return {"policy": policy.label, "assess_record": logged.seq, "evidence_sha256": details.get("evidence_sha256"),
            "artifacts_digest": details.get("artifacts_digest")}


def _expiry(expires: datetime | date) -> datetime:
    if isinstance(expires, datetime):
        return now_utc(expires)
    return datetime(expires.year, expires.month, expires.day, tzinfo=UTC)


def waive(uri: str, tool: str, version: str, *, run_id: str, approver: str | None, rationale: str, conditions: str,
          expires: datetime | date, policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Record an escalation (policy 4.2): a named approver accepts a risk the assessment found, under
    conditions, until a date no later than `settings.gate.max_waiver_days` ahead. A date means the
    waiver lapses at the start of that day (UTC). The gate opens until then and closes by itself."""
    at = now_utc(now)
    what = f"waiver of {tool} {version}"
    policy = check_current(uri, policy, what)
    who = acting(uri, approver, "approver", what)
    not_an_account(who, "approver", what)
    check_may(policy, who, "waive", what)
    approver = who.name
    until = _expiry(expires)
    limit = int(policy.setting("gate", "max_waiver_days", DEFAULT_MAX_WAIVER_DAYS))
    reg = registry_at(uri)
    run = _get_run(reg, run_id, what)

    def build(book: Book) -> dict[str, Any]:
        s = state_of(book, version, what)
        _closed_for_good(book, version, s, what, "waived")
        _evidence(book, version, s, run, what)
        _complete(run, what)
        logged = _logged(book, version, run, what)
        if not stripped(rationale) or not stripped(conditions):
            raise refuse(what, "waiver-terms", "4.2",
                          "a waiver needs a rationale (why the risk is accepted) and conditions (what must hold "
                          "meanwhile)")
        if until <= at:
            raise refuse(what, "waiver-expiry", "4.2",
                          f"the waiver must expire in the future; {show_time(until)} is not after {show_time(at)}")
        if until > at + timedelta(days=limit):
            raise refuse(what, "waiver-limit", "4.2",
                          f"the waiver would expire on {show_time(until)}, {(until - at).days} days from now; the "
                          f"policy allows at most {limit} days (settings.gate.max_waiver_days)")
        _current(logged, policy, what)
        _covers(book, version, s, logged, policy, what)  # a risk accepted must be a risk that was looked for
        _fresh(book, version, s, logged, policy, at, what)
        _separate(approver, "approver", book, version, s, logged, what)
        tier = str(s["submitted"].details.get("risk_tier", "high"))
        check_authenticated(policy, who, tier, what)  # a waiver opens the gate like an approval
        _intact(reg, logged, what)
        _same_files(book, version, s, what)
        return _signed(book, version, s, who, policy, tier, what, {
            "action": "waive", "version": version, "state": "waived", "actor": approver,
            "reason": stripped(rationale), "conditions": stripped(conditions), "expires": iso(until),
            "run_id": run_id, "run_at": logged.run_at, "verdict": logged.verdict,
            "policy_digest": policy.digest, "manifest_digest": logged.manifest_digest,
            "details": {**_bound(policy, logged), "max_waiver_days": limit}},
            terms=sha256_text(canonical({"conditions": stripped(conditions), "expires": iso(until)})))

    return _decided(reg, tool, version, append_record(reg, tool, build, at), alias=True, run_tag="waived")


def _close(uri: str, tool: str, version: str, *, action: str, state: str, actor: str | None, role: str, reason: str,
           allowed: tuple[str, ...], rule: str, section: str, hint: str, run_id: str | None,
           policy: Policy | None, now: datetime | None) -> Decision:
    at, policy = now_utc(now), policy_of(policy, uri)
    noun = {"reject": "rejection", "suspend": "suspension", "retire": "retirement"}[action]
    what = f"{noun} of {tool} {version}"
    who = acting(uri, actor, role, what)
    check_may(policy, who, action, what)
    actor = who.name
    if not stripped(reason):
        raise refuse(what, "decision-reason", "3.1",
                      f"a {noun} needs a reason: departments document their decision-making criteria")
    reg = registry_at(uri)
    run = _get_run(reg, run_id, what) if run_id is not None else None

    def build(book: Book) -> dict[str, Any]:
        s = state_of(book, version, what)
        if s["state"] not in allowed:
            raise refuse(what, rule, section, f"{tool} {version} is {s['state']}; {hint}")
        if run is not None:
            _evidence(book, version, s, run, what)  # the run it rests on is about this version
        return {"action": action, "version": version, "state": state, "actor": actor, "reason": stripped(reason),
                "run_id": run_id, "run_at": iso(run_started(run)) if run else None,
                "verdict": run.tags.get("harness.verdict") if run else None, "policy_digest": policy.digest,
                "manifest_digest": s["submitted"].manifest_digest, "details": {"from": s["state"]}}

    return _decided(reg, tool, version, append_record(reg, tool, build, at))


def reject(uri: str, tool: str, version: str, *, reviewer: str | None, reason: str, run_id: str | None = None,
           policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Close a version that has not been approved (or was suspended) for good, with a reason (4.2)."""
    return _close(uri, tool, version, action="reject", state="rejected", actor=reviewer, role="reviewer",
                  reason=reason, allowed=("submitted", "assessed", "suspended"), rule="reject-undecided",
                  section="4.1", hint="an approved or waived version is withdrawn with `harness suspend` or "
                  "`harness retire`, and a closed one stays closed", run_id=run_id, policy=policy, now=now)


def suspend(uri: str, tool: str, version: str, *, by: str | None, reason: str, run_id: str | None = None,
            policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Withdraw an approval or waiver (e.g. a failed re-assessment, policy 4.3): the gate closes until a
    new approval on fresh evidence."""
    return _close(uri, tool, version, action="suspend", state="suspended", actor=by, role="person suspending",
                  reason=reason, allowed=USABLE, rule="suspend-approved", section="4.3",
                  hint="only an approved or waived version can be suspended", run_id=run_id, policy=policy, now=now)


def retire(uri: str, tool: str, version: str, *, by: str | None, reason: str, policy: Policy | None = None,
           now: datetime | None = None) -> Decision:
    """Take a version out of use for good (policy 6.2 keeps it in the inventory as retired)."""
    return _close(uri, tool, version, action="retire", state="retired", actor=by, role="person retiring",
                  reason=reason, allowed=tuple(s for s in STATES if s != "retired"), rule="open-version",
                  section="4.1", hint="it is already retired", run_id=None, policy=policy, now=now)
