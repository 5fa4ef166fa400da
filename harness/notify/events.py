"""What a notice is about (`Notice`), made from what happened: an assessment's result (`failed`), a suspension
(`suspended`), or the approval gate's dates (`due_notices`: waivers and approvals lapsing within N days,
re-assessments overdue, computed by `harness.gate.due` and `harness.gate.status`, the same answers `harness due`
and `harness status` give).

Each notice has a `key`: what makes two notices the same notice. A due notice's key names the decision or the run
its date rests on (the waiver's record, the run that started the re-assessment interval), so the sent-log
(`harness.notify.sentlog`) recognises a lapse it has already announced, and a new waiver or a new assessment, which
moves the date, is news again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from harness.errors import GateError
from harness.redact import mask_pii

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.gate import Decision, VersionStatus
    from harness.notify.settings import NotifySettings
    from harness.policy import Policy

MAX_REASON_CHARS = 600
MAX_REASONS = 3


def _short(text: str) -> str:
    text = mask_pii(" ".join(str(text).split()))
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 3] + "..."


@dataclass(frozen=True)
class Notice:
    """One thing to tell people. `at` is when it happened (the assessment's start, the suspension's record) or, for
    a due notice, when it was found; `due` the re-assessment due date and `lapses` the moment the gate closes by
    itself (a waiver's expiry, or the end of the overdue grace period). Free text is masked for personal data."""

    event: str
    tool: str
    version: str
    name: str
    department: str
    risk_tier: str
    at: datetime
    key: str
    verdict: str | None = None
    run_id: str | None = None
    due: datetime | None = None
    lapses: datetime | None = None
    by: str | None = None
    reason: str | None = None
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return None if d is None else d.astimezone(UTC).isoformat(timespec="seconds")

        return {"event": self.event, "key": self.key, "tool": self.tool, "version": self.version,
                "name": self.name, "department": self.department, "risk_tier": self.risk_tier, "at": iso(self.at),
                "verdict": self.verdict, "run_id": self.run_id, "due": iso(self.due), "lapses": iso(self.lapses),
                "by": self.by, "reason": self.reason, "reasons": list(self.reasons)}


def failed(result: AssessmentResult) -> Notice:
    """The notice of an assessment whose verdict is FAIL (policy 4.2: the tool may not be used unless remediated)."""
    t = result.tool
    return Notice(event="fail", tool=str(t.get("id", "")), version=str(t.get("version", "")),
                  name=str(t.get("name", "")), department=str(t.get("department", "")),
                  risk_tier=str(t.get("risk_tier", "")), at=_when(result.started_at), verdict=result.verdict.value,
                  run_id=result.run_id, key=f"fail:{t.get('id')}:{t.get('version')}:{result.run_id}",
                  reason=f"{result.kind} assessment", reasons=tuple(_short(r) for r in result.reasons[:MAX_REASONS]))


def suspended(d: Decision, manifest: dict[str, Any]) -> Notice:
    """The notice of a suspension record (`harness suspend`, or a re-assessment that FAILed)."""
    return Notice(event="suspended", tool=str(d.tool), version=str(d.version), name=str(manifest.get("name", "")),
                  department=str(manifest.get("department", "")), risk_tier=str(manifest.get("risk_tier", "")),
                  at=d.when, key=f"suspended:{d.tool}:{d.version}:{d.seq}", verdict=d.verdict, run_id=d.run_id,
                  by=str(d.actor), reason=_short(d.reason or ""))


def _when(text: str) -> datetime:
    if not text:
        return datetime.now(UTC)
    dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _base(vs: VersionStatus, event: str, at: datetime, key: str, **kw: Any) -> Notice:
    m = vs.manifest
    return Notice(event=event, tool=vs.tool, version=vs.version, name=str(m.get("name", "")),
                  department=str(m.get("department", "")), risk_tier=str(m.get("risk_tier", "")), at=at, key=key, **kw)


def due_notices(uri: str, at: datetime, policy: Policy, settings: NotifySettings) -> list[Notice]:
    """What is due to be told at `at`, soonest date first:

    - `reassessment-overdue`: each version `harness.gate.due` lists (its re-assessment date has passed);
    - `approval-lapsing`: a version in use whose gate closes within `lapse_days` because its re-assessment will be
      `settings.gate.overdue_grace_days` overdue (the date `harness gate` starts answering CLOSED);
    - `waiver-lapsing`: a waiver in force that expires within `lapse_days`.

    A version whose history fails verification is closed already and gets none of these (`harness gate` says why).
    """
    from harness import gate
    from harness.gate.records import DEFAULT_OVERDUE_GRACE_DAYS
    from harness.tracking.store import Store

    grace = timedelta(days=int(policy.setting("gate", "overdue_grace_days", DEFAULT_OVERDUE_GRACE_DAYS)))
    window = timedelta(days=settings.lapse_days)
    out: list[Notice] = []
    statuses: dict[tuple[str, str], VersionStatus] = {}

    def status_of(tool: str, version: str) -> VersionStatus:
        if (tool, version) not in statuses:
            statuses[(tool, version)] = gate.status(uri, tool, version, now=at)[0]
        return statuses[(tool, version)]

    for item in gate.due(uri, at, policy=policy):
        vs = status_of(item.tool, item.version)
        out.append(_base(vs, "reassessment-overdue", at, f"reassessment-overdue:{item.tool}:{item.version}:"
                         f"{item.last_run}", run_id=item.last_run, due=item.due, lapses=item.due + grace,
                         verdict=vs.verdict))
    # versions whose gate closes (due + grace) by at + window: due by at + window - grace, and still open at `at`
    for item in gate.due(uri, at + window - grace, policy=policy):
        if item.due + grace <= at:
            continue  # closed already: `harness gate` answers CLOSED, and the overdue notice said when it would
        vs = status_of(item.tool, item.version)
        if not vs.gate.open or vs.state != "approved":
            continue  # a waiver's own lapse comes first, and is announced as such
        out.append(_base(vs, "approval-lapsing", at, f"approval-lapsing:{item.tool}:{item.version}:{item.last_run}",
                         run_id=item.last_run, due=item.due, lapses=item.due + grace, verdict=vs.verdict))
    store = Store(uri)
    if store.exists:
        for tool in store.registry.model_names("tool"):
            try:
                rows = gate.status(uri, tool, now=at)
            except GateError:  # a tool registered by a process that stopped before its first record
                continue
            for vs in rows:
                expires = vs.expires
                if vs.state != "waived" or vs.lapsed or not vs.gate.open or expires is None or vs.approval is None:
                    continue
                if at < expires <= at + window:
                    out.append(_base(vs, "waiver-lapsing", at, f"waiver-lapsing:{tool}:{vs.version}:{vs.approval.seq}",
                                     run_id=vs.approval.run_id, lapses=expires, verdict=vs.approval.verdict,
                                     by=str(vs.approval.actor), reason=_short(vs.approval.conditions or "")))
    order = {"waiver-lapsing": 0, "approval-lapsing": 1, "reassessment-overdue": 2}
    return sorted(out, key=lambda n: (n.lapses or n.due or n.at, order[n.event], n.tool, n.version))


__all__ = ["Notice", "due_notices", "failed", "suspended"]
