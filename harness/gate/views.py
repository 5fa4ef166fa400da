"""The read side: what `harness gate`, `status`, `history`, `inventory` and `due` answer, all computed by
replaying the verified log (never from the mirrored tags), so a broken history closes the gate. It also
decides when an approval is overdue for re-assessment (policy 4.3) and the gate closes for that."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import GateError
from harness.gate.decisions import state_of
from harness.gate.inforce import policy_of
from harness.gate.inputs import reassessment_interval, registry_at, store_of
from harness.gate.log import Book, broken_history, read_book
from harness.gate.records import (
    ALIAS,
    DEFAULT_OVERDUE_GRACE_DAYS,
    USABLE,
    Decision,
    DueItem,
    GateDecision,
    History,
    InventoryRow,
    Verification,
    VersionStatus,
    now_utc,
    show_time,
)

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.tracking.registry import Registry


# -- answers from the replayed log -----------------------------------------------------------------------


def _gate_of(tool: str, version: str, s: dict[str, Any], now: datetime) -> GateDecision:
    state = s["state"]
    d: Decision | None = s["decision"]
    who = f"by {d.actor} on {show_time(d.at)}" if d else ""
    name = f"{tool} {version}"
    if state == "approved" and d is not None:
        return GateDecision(True, f"{name} is approved {who}, on run {d.run_id} ({d.verdict})", tool, version)
    if state == "waived" and d is not None:
        expires = datetime.fromisoformat(d.expires)
        if now < expires:
            return GateDecision(True, f"{name} is waived {who} until {show_time(expires)}; conditions: {d.conditions}",
                                tool, version)
        return GateDecision(False, f"{name} is closed: the waiver {who} expired on {show_time(expires)} (policy 4.2)",
                            tool, version)
    if state in ("suspended", "rejected", "retired") and d is not None:
        return GateDecision(False, f"{name} is closed: {state} {who}: {d.reason} (policy 4.1)", tool, version)
    if state == "assessed" and s["assessed"] is not None:
        a: Decision = s["assessed"]
        return GateDecision(False, f"{name} is closed: not approved; assessed {a.verdict} in run {a.run_id}, "
                                   "no decision yet (policy 4.1)", tool, version)
    return GateDecision(False, f"{name} is closed: not approved; submitted, not yet assessed (policy 4.1)",
                        tool, version)


def _status_of(book: Book, version: str, now: datetime) -> VersionStatus:
    s = book.states[version]
    info = book.info(version)
    gate_answer = _gate_of(book.tool, version, s, now)
    lapsed = s["state"] == "waived" and s["decision"] is not None and now >= datetime.fromisoformat(
        s["decision"].expires)
    if not book.verification.ok:
        gate_answer = GateDecision(False, broken_history(book.tool, book.verification, "the gate is closed"),
                                   book.tool, version)
    return VersionStatus(tool=book.tool, version=version, state=s["state"],
                         model_version=info.number if info else None, submitted=s["submitted"],
                         assessed=s["assessed"], completed=s["completed"], decision=s["decision"],
                         approval=s["approval"], gate=gate_answer, lapsed=lapsed, covering=s["covering"])


def gate(uri: str, tool: str, version: str | None = None, now: datetime | None = None,
         policy: Policy | None = None, manifest: Path | None = None, book: Book | None = None) -> GateDecision:
    """What deployment pipelines ask: open only for an approved (or waived, unexpired) version that is not
    suspended, not overdue for re-assessment, on a history that verifies, whose mirror tags agree with the
    log, and whose files are still the ones assessed (re-hashed from `manifest`, else from where the
    assessment found them). Without a version, the version holding the alias `approved`. `book`: the tool's
    log as the caller has just read it (`read_book`), for several answers from one reading."""
    at = now_utc(now)
    reg = registry_at(uri)
    if tool not in reg.model_names("tool"):
        return GateDecision(False, f"{tool} is not registered in the tool registry: nothing is approved "
                                   "(policy 4.1)", tool, version)
    if version is None:
        number = reg.alias(tool, ALIAS)
        book = read_book(reg, tool) if book is None else book
        match = [v for v in book.versions if v.number == number]
        logged = aliased_version(book)
        if number is None or not match:
            if logged is None or not book.verification.ok:
                return GateDecision(False, f"{tool} has no approved version: nothing is approved (policy 4.1)", tool)
            return GateDecision(False, _alias_moved(tool, None, logged), tool)
        version = match[0].tags.get("harness.tool_version", "")
        if book.verification.ok and logged != version:
            return GateDecision(False, _alias_moved(tool, version, logged), tool)
    elif book is None:
        book = read_book(reg, tool)
    if version not in book.states:
        if not book.verification.ok:
            return GateDecision(False, broken_history(tool, book.verification, "the gate is closed"), tool, version)
        return GateDecision(False, f"{tool} has no registered version {version!r}: nothing is approved "
                                   "(policy 4.1)", tool, version)
    vs = _status_of(book, version, at)
    answer = _overdue(vs, policy_of(policy, uri), at) or vs.gate
    if not answer.open:
        return answer
    return (_mirrored(book, version, answer) or _evidence_intact(uri, book, version)
            or _files(book, version, answer, manifest))


def aliased_version(book: Book) -> str | None:
    """The version the alias `approved` must name: that of the log's latest approval or waiver (the decisions that
    set it, `harness.gate.decisions`); None when the log holds neither. The alias is a registry mirror any user with
    EDIT on the model can move; the log is signed and chained."""
    return next((str(d.version) for d in reversed(book.chain) if d.action in ("approve", "waive")), None)


def _alias_moved(tool: str, names: str | None, logged: str | None) -> str:
    what = f"names version {names}" if names is not None else "names no version"
    log = (f"the decision log's latest approval or waiver is of {logged}" if logged is not None else
           "the decision log records no approval or waiver")
    return (f"{tool} is closed: the alias {ALIAS!r} {what} but {log}; the alias was moved outside the harness. "
            f"Ask for the version (harness gate {tool}:VERSION) or have a reviewer record the decision again "
            "(policy 3.2)")


def _evidence_intact(uri: str, book: Book, version: str) -> GateDecision | None:
    """The approval's evidence is still the bytes its assessment wrote (evidence.json, whose digest the
    approval record keeps): a report or assessment.json rewritten after approval closes the gate."""
    from harness.tracking.evidence import check_run

    approval: Decision | None = book.states[version]["approval"]
    bound = (approval.details or {}).get("evidence_sha256") if approval is not None else None
    if approval is None or not bound:
        return None
    problems = check_run(store_of(registry_at(uri)), str(approval.run_id), bound)
    if not problems:
        return None
    return GateDecision(False, f"{book.tool} {version} is closed: the evidence its approval rests on was altered "
                               f"({'; '.join(problems[:3])}); restore the store from its backup (policy 3.2)",
                        book.tool, version)


def _mirrored(book: Book, version: str, answer: GateDecision) -> GateDecision | None:
    """Tags are mirrors of the log: one that disagrees was edited (or a record deleted and the tag reset),
    so the gate closes and says which (issue 11)."""
    info = book.info(version)
    tagged = info.tags.get("harness.state") if info else None
    state = book.states[version]["state"]
    if tagged is not None and tagged != state:
        return GateDecision(False, f"{book.tool} {version} is closed: its tag harness.state reads {tagged!r} but the "
                                   f"decision log says {state!r}; a mirror was edited. Check `harness history "
                                   f"{book.tool} --verify` (policy 3.2)", book.tool, version)
    return None


def _files(book: Book, version: str, answer: GateDecision, manifest: Path | None) -> GateDecision:
    """The approved bytes: a model or outputs file overwritten after approval closes the gate, naming it."""
    from harness.errors import ConfigError
    from harness.gate.binding import bound, file_changes, manifest_path_of

    s = book.states[version]
    if not bound(s["submitted"]):
        return GateDecision(True, f"{answer.reason} (its files were not re-hashed: it was assessed as a live object, "
                                  "with no file to bind)", book.tool, version)
    path = manifest if manifest is not None else manifest_path_of(s)
    if path is None or not path.is_file():
        if manifest is not None:
            raise ConfigError(f"--manifest {manifest} does not exist")
        where = f"{path} is not on this machine" if path is not None else "no manifest location was recorded"
        return GateDecision(True, f"{answer.reason} (its files were not re-hashed: {where}; pass --manifest to check "
                                  "the copy in use)", book.tool, version)
    diff = file_changes(s["submitted"], path)
    if diff:
        return GateDecision(False, f"{book.tool} {version} is closed: its files are not the ones assessed "
                                   f"({'; '.join(diff)}); a changed tool is a new version and needs its own "
                                   "assessment and approval (policy 4.2)", book.tool, version)
    return GateDecision(True, f"{answer.reason}; files verified ({path.name} and what it names)", book.tool, version)


def _overdue(vs: VersionStatus, policy: Policy, at: datetime) -> GateDecision | None:
    """A closed gate when an approval's re-assessment is overdue by more than the grace period: policy 4.3
    requires regular review, and an approval nobody re-checked is no longer evidence (fail closed). The
    grace period (`settings.gate.overdue_grace_days`) leaves time for a failed cron job to be noticed."""
    nd = _next_due(vs, policy)
    if nd is None or vs.covering is None:
        return None
    grace = int(policy.setting("gate", "overdue_grace_days", DEFAULT_OVERDUE_GRACE_DAYS))
    if at < nd[0] + timedelta(days=grace):
        return None
    late = (at - nd[0]).days
    return GateDecision(
        False, f"{vs.tool} {vs.version} is closed: its re-assessment was due on {show_time(nd[0])} ({nd[1]} days "
               f"after run {vs.covering.run_id}) and is {late} days overdue, past the {grace}-day grace period "
               f"(policy 4.3). Re-assess it with `harness reassess {vs.tool}:{vs.version}`", vs.tool, vs.version)


def status(uri: str, tool: str, version: str | None = None, now: datetime | None = None,
           book: Book | None = None) -> list[VersionStatus]:
    """Every version of a tool (or one), in the order they were submitted. `book`: as for `gate`."""
    at = now_utc(now)
    book = read_book(registry_at(uri), tool) if book is None else book
    if not book.states:
        raise GateError(f"no tool {tool!r} is registered in {uri}"
                        + ("" if book.verification.ok else f" ({book.verification.first_break})"))
    if version is not None:
        state_of(book, version, f"status of {tool} {version}")
        return [_status_of(book, version, at)]
    return [_status_of(book, v, at) for v in book.states]


def history(uri: str, tool: str, book: Book | None = None) -> History:
    """The decision log of a tool, in order, with its verification (the records up to the first break). `book`: as
    for `gate`."""
    book = read_book(registry_at(uri), tool) if book is None else book
    if not book.entries:
        raise GateError(f"no decision history for tool {tool!r} in {uri}")
    return History(tool=tool, records=tuple(book.chain), verification=book.verification)


def verify_history(uri: str, tool: str) -> Verification:
    """Recompute the chain of a tool's decision log and report the first break."""
    return history(uri, tool).verification


def _next_due(vs: VersionStatus, policy: Policy) -> tuple[datetime, int] | None:
    """In use (approved, or waived and unexpired): the latest completed assessment of every required suite (a
    narrowed run does not count, issue 11) + the tier's interval."""
    if vs.state not in USABLE or not vs.gate.open or vs.covering is None:
        return None
    days = reassessment_interval(policy, vs.manifest.get("risk_tier", "high"))
    return datetime.fromisoformat(vs.covering.run_at) + timedelta(days=days), days


def next_due(vs: VersionStatus, policy: Policy | None = None) -> datetime | None:
    """When a version in use falls due for re-assessment (policy 4.3); None when it is not in use."""
    nd = _next_due(vs, policy_of(policy))
    return nd[0] if nd else None


def _shown_version(reg: Registry, book: Book) -> str:
    logged = aliased_version(book) if book.verification.ok else None
    if logged in book.states:
        return str(logged)
    number = reg.alias(book.tool, ALIAS)
    for v in book.versions:
        if v.number == number and v.tags.get("harness.tool_version") in book.states:
            return v.tags["harness.tool_version"]
    return list(book.states)[-1]


def _broken_row(tool: str, book: Book) -> InventoryRow:
    """A tool whose decision log fails verification from its first record (e.g. records signed by a key this
    installation does not trust): listed from its version's tags, closed, and said to be broken, never dropped
    from the inventory (policy 6.2)."""
    t = book.versions[-1].tags if book.versions else {}
    return InventoryRow(tool=tool, name=t.get("harness.name", ""), version=t.get("harness.tool_version") or None,
                        department=t.get("harness.department", ""), vendor=t.get("harness.vendor", ""),
                        category=t.get("harness.category", ""), risk_tier=t.get("harness.risk_tier", ""),
                        status="history broken", declared_status=t.get("harness.status") or None,
                        latest_verdict=None, latest_run=None, assessed_at=None, approval="history broken",
                        gate_open=False, next_due=None)


def _planned_row(tool: str, plan: Decision) -> InventoryRow:
    """A tool entered as planned or in development (`harness.gate.planned`): no version, nothing assessed, closed."""
    d = plan.details or {}
    return InventoryRow(tool=tool, name=str(d.get("name") or ""), version=None,
                        department=str(d.get("department") or ""), vendor=str(d.get("vendor") or ""),
                        category=str(d.get("category") or ""), risk_tier="", status=str(plan.state),
                        declared_status=None, latest_verdict=None, latest_run=None, assessed_at=None,
                        approval=str(plan.state), gate_open=False, next_due=None)


def inventory(uri: str, now: datetime | None = None, policy: Policy | None = None) -> list[InventoryRow]:
    """Every registered tool (policy 6.2): the version approved for use, else the latest submitted, else the tool
    as planned or in development. Its `status` is the lifecycle state the decision log replays to, never the
    manifest's `status` field (a vendor's word: `declared_status`). When the policy log itself fails
    verification, every tool is still listed, each gate closed and no due date given: nothing can be judged
    against a standard nobody can vouch for, but nothing drops out of the inventory."""
    at = now_utc(now)
    try:
        in_force: Policy | None = policy_of(policy, uri)
    except GateError:
        in_force = None
    reg = registry_at(uri)
    rows: list[InventoryRow] = []
    for tool in reg.model_names("tool"):
        book = read_book(reg, tool)
        if not book.states:
            if not book.verification.ok and (book.versions or book.entries):  # broken at its first record: listed
                rows.append(_broken_row(tool, book))
            elif book.plan is not None:
                rows.append(_planned_row(tool, book.plan))
            continue
        vs = _status_of(book, _shown_version(reg, book), at)
        m = vs.manifest
        due = _next_due(vs, in_force) if in_force is not None else None
        approval = vs.approval_state if book.verification.ok else "history broken"
        rows.append(InventoryRow(
            tool=tool, name=m.get("name", ""), version=vs.version, department=m.get("department", ""),
            vendor=m.get("vendor", ""), category=m.get("category", ""), risk_tier=m.get("risk_tier", ""),
            status=vs.state if book.verification.ok else "history broken",
            declared_status=m.get("status") or None, latest_verdict=vs.verdict,
            latest_run=vs.assessed.run_id if vs.assessed else None,
            assessed_at=vs.assessed.run_at if vs.assessed else None, approval=approval,
            gate_open=in_force is not None and vs.gate.open and _overdue(vs, in_force, at) is None,
            next_due=due[0].date().isoformat() if due else None))
    return rows


def due(uri: str, as_of: datetime | date | None = None, policy: Policy | None = None) -> list[DueItem]:
    """Versions in use whose re-assessment is due by `as_of` (a date includes the whole day), by the
    tier intervals of the policy (4.3), soonest first."""
    policy = policy_of(policy, uri)
    if isinstance(as_of, datetime) or as_of is None:
        at = now_utc(as_of)
        limit = at
    else:
        at = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
        limit = at + timedelta(days=1) - timedelta(microseconds=1)
    reg = registry_at(uri)
    items: list[DueItem] = []
    for tool in reg.model_names("tool"):
        book = read_book(reg, tool)
        for version in book.states:
            vs = _status_of(book, version, at)
            nd = _next_due(vs, policy)
            if nd is None or nd[0] > limit or vs.covering is None:
                continue
            items.append(DueItem(tool=tool, version=version, risk_tier=vs.manifest.get("risk_tier", ""),
                                 state=vs.state, last_assessed=datetime.fromisoformat(vs.covering.run_at),
                                 last_run=vs.covering.run_id, due=nd[0], interval_days=nd[1]))
    return sorted(items, key=lambda i: (i.due, i.tool, i.version))


def approved_baseline(uri: str, tool: str, version: str) -> tuple[str, dict[str, float]] | None:
    """The regression baseline of a re-assessment (policy 4.3): the run of the version's latest approval in the
    decision log (a waived FAIL is none), its metrics read from its own assessment.json after its files are
    re-hashed against the digest the approval keeps. Not a run tag: anyone with store access can set one, or
    log a metric again, and so move the baseline a regression is measured against."""
    from harness.tracking import recorded_metrics, sqlite_path
    from harness.tracking.evidence import check_run

    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        return None  # no store yet: nothing approved, and looking must not create one
    reg = registry_at(uri)
    if tool not in reg.model_names("tool"):
        return None
    book = read_book(reg, tool)
    if not book.verification.ok:
        raise GateError(broken_history(tool, book.verification, "no regression baseline can be read from it"))
    approvals = [d for d in book.chain if d.action == "approve" and d.version == version]
    if not approvals:
        return None
    d = approvals[-1]
    bound = (d.details or {}).get("evidence_sha256")
    problems = check_run(store_of(reg), str(d.run_id), bound) if bound else []
    if problems:
        raise GateError(f"the approved run {d.run_id} of {tool} {version}, the baseline of a re-assessment, was "
                        f"altered after approval ({'; '.join(problems[:3])}); restore the store from its backup "
                        "(policy 3.2)")
    return str(d.run_id), recorded_metrics(store_of(reg), str(d.run_id))
