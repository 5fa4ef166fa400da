"""The decision record and the values the gate hands back: the constants of the data model, the frozen
value objects, and the one canonical serialisation and sha256 that every record's hash rests on. Nothing
here reads or writes the store, so the record format can be read (and checked) on its own."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.tracking.store import RunRecord


SCHEMA = "harness.decision/1"
GENESIS = "0" * 64
STATES = ("submitted", "assessed", "approved", "rejected", "waived", "suspended", "retired")
PLANNED_STATES = ("planned", "in-development")
"""A tool reported before any version is submitted (policy 6.2, `harness.gate.planned`): a tool's state, not a
version's, so it never enters the replayed version states the gate decides on."""
LIFECYCLE = (*PLANNED_STATES, "submitted", "assessed", "approved", "waived", "suspended", "rejected", "retired")
"""Every state the inventory shows, in lifecycle order, all read from the decision log."""
ACTIONS = ("submit", "assess", "signoff", "approve", "reject", "waive", "suspend", "retire", "adopt", "plan")
# adopt: policy log; signoff: one of several signatures an approval or waiver needs (harness.gate.roles);
# plan: a planned or in-development tool entered in the inventory (harness.gate.planned)
FIELDS = ("schema", "seq", "prev", "tool", "version", "action", "state", "actor", "at", "reason", "run_id",
          "run_at", "verdict", "policy_digest", "manifest_digest", "conditions", "expires", "details", "signer")
ALIAS = "approved"
LOG_SUFFIX = " (decision log)"
RECORD_TAG = "harness.decision.record"
HASH_TAG = "harness.decision.sha256"
FIELD_TAG = "harness.decision."
MAX_RECORD_CHARS = 5000  # MLflow guarantees registry tag values up to 5,000 bytes on every backend
MAX_TEXT_CHARS = 2000
DEFAULT_MAX_WAIVER_DAYS = 90
DEFAULT_OVERDUE_GRACE_DAYS = 30
ATTEMPTS = 25
USABLE = ("approved", "waived")


# -- value objects ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRef:
    """A registered tool version: the tool id, the version string, MLflow's number for it."""

    tool: str
    version: str
    model_version: int
    manifest_digest: str
    submitter: str
    created: bool


@dataclass(frozen=True)
class Decision:
    """One record of the decision log, with its sha256."""

    record: dict[str, Any]
    sha256: str

    def __getattr__(self, name: str) -> Any:
        if name in FIELDS:
            return self.record.get(name)
        raise AttributeError(name)

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.record["at"])


@dataclass(frozen=True)
class GateDecision:
    """What `harness gate` answers: open or closed, and why in one sentence."""

    open: bool
    reason: str
    tool: str = ""
    version: str | None = None


@dataclass(frozen=True)
class Verification:
    """The result of recomputing the chain. `problems[0]` is the first break."""

    tool: str
    ok: bool
    records: int
    head: str
    problems: tuple[str, ...] = ()
    superseded: tuple[int, ...] = ()

    @property
    def first_break(self) -> str | None:
        return self.problems[0] if self.problems else None


@dataclass(frozen=True)
class VersionStatus:
    """A tool version's state as the decision log has it, with the gate's answer at a given time."""

    tool: str
    version: str
    state: str
    model_version: int | None
    submitted: Decision
    assessed: Decision | None  # the latest assessment recorded
    completed: Decision | None  # the latest assessment that completed (verdict other than ERROR)
    decision: Decision | None  # the latest human decision (approve, reject, waive, suspend, retire)
    approval: Decision | None  # the approve or waive record in force (or last in force)
    gate: GateDecision
    lapsed: bool = False  # a waiver past its expiry at the time asked
    covering: Decision | None = None  # the latest completed assessment of every required suite: the due date's start

    @property
    def manifest(self) -> dict[str, Any]:
        return dict(self.submitted.details or {})

    @property
    def submitter(self) -> str:
        return str(self.submitted.actor)

    @property
    def verdict(self) -> str | None:
        return self.assessed.verdict if self.assessed else None

    @property
    def expires(self) -> datetime | None:
        if self.state == "waived" and self.approval is not None and self.approval.expires:
            return datetime.fromisoformat(self.approval.expires)
        return None

    @property
    def approval_state(self) -> str:
        """The state, with a lapsed waiver called what it is."""
        if self.lapsed:
            return "waiver expired"
        return self.state


@dataclass(frozen=True)
class History:
    tool: str
    records: tuple[Decision, ...]
    verification: Verification


@dataclass(frozen=True)
class InventoryRow:
    """One tool in the City's inventory of AI tools (policy 6.2). `status` is the lifecycle state from the decision
    log (`LIFECYCLE`, or "history broken"), never the manifest's `status` field, which a vendor writes; that one is
    kept as `declared_status` (None for a tool with no manifest yet). `version` is None for a planned tool."""

    tool: str
    name: str
    version: str | None
    department: str
    vendor: str
    category: str
    risk_tier: str
    status: str
    declared_status: str | None
    latest_verdict: str | None
    latest_run: str | None
    assessed_at: str | None
    approval: str
    gate_open: bool
    next_due: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class DueItem:
    """A tool version in use whose re-assessment is due (policy 4.3)."""

    tool: str
    version: str
    risk_tier: str
    state: str
    last_assessed: datetime
    last_run: str | None
    due: datetime
    interval_days: int

    def as_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "version": self.version, "risk_tier": self.risk_tier, "state": self.state,
                "last_assessed": iso(self.last_assessed), "last_run": self.last_run, "due": iso(self.due),
                "interval_days": self.interval_days}


# -- hashing, time and names -----------------------------------------------------------------------------


def now_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def show_time(value: str | datetime | None) -> str:
    """A time for a sentence: the date alone at midnight, else date and minutes, in UTC."""
    if value is None:
        return "-"
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    dt = dt.astimezone(UTC)
    if (dt.hour, dt.minute, dt.second) == (0, 0, 0):
        return dt.date().isoformat()
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def canonical(record: dict[str, Any]) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, ASCII only."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest_digest(path: str | Path) -> str:
    """sha256 of the manifest file's bytes: the identity of what was declared for a version."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def log_name(tool: str) -> str:
    return tool + LOG_SUFFIX


def run_started(run: RunRecord) -> datetime:
    return datetime.fromtimestamp(run.start_ms / 1000, UTC)
