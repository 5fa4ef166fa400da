"""The approval gate: tool versions, their lifecycle, and the signed decisions that move them (policy
2.3, 3.1, 3.2, 4.1, 4.2, 4.3). The evidence (assessment runs) informs a decision a named person makes;
this module enforces the rules a decision must meet and keeps every decision in an append-only,
hash-chained log in MLflow, so the same commands work on the embedded store and on a tracking server.

Data model (all in MLflow, through `harness.tracking.registry`; nothing here imports mlflow):

- Tool: a registered model named by the tool id (tag `harness.kind=tool`).
- Tool version: one model version per tool version string, tagged `harness.tool_version` (MLflow numbers
  versions 1, 2, 3...; we look them up by the tag) and `harness.manifest_digest` (sha256 of the manifest
  file). Its source is the manifest logged in a run, `runs:/<run>/inputs/tool.yaml`: the assessment run,
  the vendor's submission run (`harness submit`), or else a small registration run. One version string
  has one manifest: registering it again with another digest is refused, and so is assessing it.
- Lifecycle: `submitted -> assessed -> approved | rejected | waived -> suspended | retired`. A version
  is re-approved (or waived) after a suspension on fresh evidence; a rejected or retired version is
  closed for good. A re-assessment of a decided version is recorded without changing its state.
- Decision log: a second registered model per tool, `<tool id> (decision log)` (tag
  `harness.kind=decision-log`); each record is one of its model versions. The record is canonical JSON
  (sorted keys, ASCII) in the tag `harness.decision.record`, its sha256 in `harness.decision.sha256`,
  and each field again as a readable tag `harness.decision.<field>`. A record holds `seq`, `prev` (the
  sha256 of the previous record; 64 zeros for the first), `action` (submit, assess, approve, reject,
  waive, suspend, retire), `tool`, `version`, `state` (after the decision), `actor` (who), `at` (when,
  UTC ISO), `reason` (why), `run_id` and `run_at` (the run it rests on and when it ran), `verdict`,
  `policy_digest`, `manifest_digest`, `conditions` and `expires` (waivers), `details`.
  Why model versions rather than runs or tags: MLflow assigns version numbers itself (max + 1 in one
  transaction) and writes the tags in the same call, so appending is atomic; registered-model tags can
  be overwritten by a concurrent writer and runs have no sequence. A writer reads the log, writes its
  record with `seq` = highest number + 1 and `prev` = the sha256 of the last record, and keeps it only
  if MLflow gave it exactly that number; otherwise another writer came first, the record stays as a
  visibly superseded entry outside the chain (`seq` != its number), and the writer re-reads and retries.
- Mirrors for people and searches: each tool version carries `harness.state`, `harness.last_decision`
  (`<seq>:<sha256>`) and the latest decision's fields as tags; the version that is approved (or waived)
  for use holds the alias `approved`; an approved run gets the run tag `harness.approval=approved`
  (`tracking.approved_baseline` reads it). The log is the authority: state, gate and inventory are
  computed by replaying it, and the gate closes when it fails verification.
- Verification recomputes every hash and link and reports the first break: an altered record (content
  no longer matching its sha256, with the fields that differ from the tags written with it), a deleted
  record (a missing number that a later record links across), a version whose tags name a record that
  is gone. A rewrite of the whole tail with fresh hashes cannot be seen from inside one store: keep the
  head sha256 that `harness history --verify` prints somewhere else to anchor it.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import GateError

if TYPE_CHECKING:
    from harness.manifest import ToolManifest
    from harness.policy import Policy
    from harness.tracking.registry import Registry, RunFacts, VersionInfo

SCHEMA = "harness.decision/1"
GENESIS = "0" * 64
STATES = ("submitted", "assessed", "approved", "rejected", "waived", "suspended", "retired")
ACTIONS = ("submit", "assess", "approve", "reject", "waive", "suspend", "retire")
FIELDS = ("schema", "seq", "prev", "tool", "version", "action", "state", "actor", "at", "reason", "run_id",
          "run_at", "verdict", "policy_digest", "manifest_digest", "conditions", "expires", "details")
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
    """One tool in the City's inventory of AI tools (policy 6.2)."""

    tool: str
    name: str
    version: str
    department: str
    vendor: str
    category: str
    risk_tier: str
    status: str
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
                "last_assessed": _iso(self.last_assessed), "last_run": self.last_run, "due": _iso(self.due),
                "interval_days": self.interval_days}


# -- small helpers ---------------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _iso(dt: datetime) -> str:
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


def log_name(tool: str) -> str:
    return tool + LOG_SUFFIX


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


def _policy(policy: Policy | None) -> Policy:
    if policy is not None:
        return policy
    from harness.policy import load_policy

    return load_policy()


def _run_at(run: RunFacts) -> datetime:
    return datetime.fromtimestamp(run.start_ms / 1000, UTC)


# -- reading the log -------------------------------------------------------------------------------------


@dataclass
class _Book:
    """One consistent read of a tool: its versions, its log, the chain and the replayed states."""

    tool: str
    versions: list[VersionInfo]
    entries: list[VersionInfo]
    chain: list[Decision]
    verification: Verification
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    def info(self, version: str) -> VersionInfo | None:
        found = [v for v in self.versions if v.tags.get("harness.tool_version") == version]
        return found[0] if found else None

    @property
    def next_seq(self) -> int:
        return (self.entries[-1].number if self.entries else 0) + 1

    @property
    def head(self) -> str:
        return self.chain[-1].sha256 if self.chain else GENESIS


def _field_tags(record: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k in FIELDS:
        v = record.get(k)
        if v is None:
            continue
        out[FIELD_TAG + k] = canonical(v) if isinstance(v, dict) else str(v)
    return out


def _verify(tool: str, entries: list[VersionInfo], versions: list[VersionInfo]) -> tuple[list[Decision], Verification]:
    """Recompute hashes and links in number order; stop at the first break (what follows is unproven)."""
    numbers = {e.number for e in entries}
    chain: list[Decision] = []
    superseded: list[int] = []
    problems: list[str] = []
    prev, last = GENESIS, 0
    for e in entries:
        text = e.tags.get(RECORD_TAG)
        if text is None:
            problems.append(f"record {e.number} has no {RECORD_TAG} tag: it was altered")
            break
        try:
            rec = json.loads(text)
        except ValueError:
            problems.append(f"record {e.number} is not valid JSON any more: it was altered")
            break
        digest = sha256_text(text)
        label = f"record {e.number} ({rec.get('action')} of {rec.get('version')})"
        written = {k: v for k, v in e.tags.items() if k.startswith(FIELD_TAG) and k not in (RECORD_TAG, HASH_TAG)}
        now_tags = _field_tags(rec)
        changed = sorted(k for k in set(written) | set(now_tags) if written.get(k) != now_tags.get(k))
        if digest != e.tags.get(HASH_TAG) or canonical(rec) != text:
            detail = "; changed: " + ", ".join(
                f"{k[len(FIELD_TAG):]} (written {written.get(k)!r}, now {now_tags.get(k)!r})" for k in changed
            ) if changed else ""
            problems.append(f"{label} was altered: its content no longer matches its sha256{detail}")
            break
        if changed:
            k = changed[0]
            problems.append(f"{label} was altered: tag {k} reads {written.get(k)!r} but the record says "
                            f"{now_tags.get(k)!r}")
            break
        if rec.get("seq") != e.number:
            superseded.append(e.number)  # a concurrent writer took this number first; never part of the chain
            continue
        if rec.get("prev") != prev:
            missing = [n for n in range(last + 1, e.number) if n not in numbers]
            if missing:
                which = ", ".join(str(n) for n in missing)
                problems.append(f"record(s) {which} missing: deleted from the decision log (record {e.number} "
                                f"links to a record whose sha256 is {str(rec.get('prev'))[:12]}..., the last "
                                f"record present is {last or 'none'})")
            else:
                problems.append(f"record {last} was altered after record {e.number} was written: record "
                                f"{e.number}'s prev is {str(rec.get('prev'))[:12]}..., record {last}'s sha256 is "
                                f"{prev[:12]}...")
            break
        chain.append(Decision(rec, digest))
        prev, last = digest, e.number
    if not problems:
        by_seq = {d.seq: d for d in chain}
        for v in versions:
            mark = v.tags.get("harness.last_decision")
            if not mark or ":" not in mark:
                continue
            seq_text, sha = mark.split(":", 1)
            d = by_seq.get(int(seq_text)) if seq_text.isdigit() else None
            name = v.tags.get("harness.tool_version", str(v.number))
            if d is None:
                problems.append(f"version {name}'s tags name decision record {seq_text} (sha256 {sha[:12]}...), "
                                "which is not in the decision log: it was deleted")
                break
            if d.sha256 != sha:
                problems.append(f"version {name}'s tags name decision record {seq_text} with sha256 {sha[:12]}..., "
                                f"but that record's sha256 is {d.sha256[:12]}...: it was replaced")
                break
    return chain, Verification(tool=tool, ok=not problems, records=len(chain),
                               head=chain[-1].sha256 if chain else GENESIS, problems=tuple(problems),
                               superseded=tuple(superseded))


def _replay(chain: list[Decision]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = {}
    for d in chain:
        s = states.setdefault(d.version, {"submitted": d, "assessed": None, "completed": None,
                                          "decision": None, "approval": None, "state": d.state,
                                          "assess_runs": set()})
        s["state"] = d.state
        if d.action == "assess":
            s["assessed"] = d
            s["assess_runs"].add(d.run_id)
            if d.verdict != "ERROR":
                s["completed"] = d
        elif d.action in ("approve", "waive", "reject", "suspend", "retire"):
            s["decision"] = d
            if d.action in ("approve", "waive"):
                s["approval"] = d
    return states


def _read(reg: Registry, tool: str) -> _Book:
    versions = reg.versions(tool)
    entries = reg.versions(log_name(tool))
    chain, verification = _verify(tool, entries, versions)
    return _Book(tool=tool, versions=versions, entries=entries, chain=chain, verification=verification,
                 states=_replay(chain))


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


def _status_of(book: _Book, version: str, now: datetime) -> VersionStatus:
    s = book.states[version]
    info = book.info(version)
    gate_answer = _gate_of(book.tool, version, s, now)
    lapsed = s["state"] == "waived" and s["decision"] is not None and now >= datetime.fromisoformat(
        s["decision"].expires)
    if not book.verification.ok:
        gate_answer = GateDecision(False, _broken(book.tool, book.verification, "the gate is closed"),
                                   book.tool, version)
    return VersionStatus(tool=book.tool, version=version, state=s["state"],
                         model_version=info.number if info else None, submitted=s["submitted"],
                         assessed=s["assessed"], completed=s["completed"], decision=s["decision"],
                         approval=s["approval"], gate=gate_answer, lapsed=lapsed)


def _broken(tool: str, v: Verification, consequence: str) -> str:
    return (f"the decision history of {tool!r} fails verification ({v.first_break}); {consequence}. "
            f"Investigate with `harness history {tool} --verify` and restore the store from its backup (policy 3.2)")


# -- writing the log -------------------------------------------------------------------------------------

Build = Callable[[_Book], dict[str, Any] | None]


def _append(reg: Registry, tool: str, build: Build, at: datetime) -> Decision | None:
    """Append one record built from a fresh read; `build` checks the rules against that read and returns
    the record's fields, or None when there is nothing to add. Retries when a concurrent writer takes
    the number first (the loser's entry stays, superseded, outside the chain)."""
    reg.ensure_model(log_name(tool), {"harness.kind": "decision-log", "harness.tool_id": tool},
                     description=f"Append-only, hash-chained decision log of {tool} (harness.gate).")
    for attempt in range(ATTEMPTS):
        book = _read(reg, tool)
        if not book.verification.ok:
            raise GateError(_broken(tool, book.verification, "no decision is recorded on a broken history"))
        fields = build(book)
        if fields is None:
            return None
        record = {k: None for k in FIELDS}
        record.update(fields)
        record.update(schema=SCHEMA, seq=book.next_seq, prev=book.head, tool=tool, at=_iso(at))
        text = canonical(record)
        if len(text) > MAX_RECORD_CHARS:
            raise _refuse(f"{fields['action']} of {tool} {fields['version']}", "record-size", "3.2",
                          f"the record would be {len(text)} characters; MLflow keeps {MAX_RECORD_CHARS} on every "
                          "backend. Shorten the reason or conditions and cite a document that holds the rest")
        digest = sha256_text(text)
        tags = {"harness.kind": "decision", **_field_tags(record), RECORD_TAG: text, HASH_TAG: digest}
        # a tracking server accepts only an absolute path as a source that is neither a run nor a model (it
        # refuses relative ones); this folder exists nowhere, so no symbolic link can make it resolve elsewhere
        number = reg.create_version(log_name(tool), tags,
                                    source=f"harness-decision:/harness-decision-log/{tool}/{record['seq']}",
                                    run_id=record.get("run_id"))
        if number == record["seq"]:
            return Decision(record, digest)
        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise GateError(f"could not append to the decision log of {tool!r}: {ATTEMPTS} concurrent decisions were "
                    "recorded first; try again")


def _mirror(reg: Registry, tool: str, number: int | None, d: Decision) -> None:
    """Copy the latest decision onto the version's tags, for the MLflow UI and registry searches."""
    if number is None:
        return
    tags: dict[str, str] = {"harness.state": d.state, "harness.last_decision": f"{d.seq}:{d.sha256}",
                            "harness.last_action": d.action, "harness.last_actor": d.actor, "harness.last_at": d.at}
    if d.action == "assess":
        tags |= {"harness.verdict": str(d.verdict), "harness.assessed_run": str(d.run_id),
                 "harness.assessed_at": str(d.run_at)}
    elif d.action in ("approve", "waive"):
        tags |= {"harness.approved_by": d.actor, "harness.approved_at": d.at, "harness.approval_run": str(d.run_id),
                 "harness.approval_reason": str(d.reason), "harness.waiver_expires": str(d.expires or ""),
                 "harness.waiver_conditions": str(d.conditions or "")}
    elif d.action in ("reject", "suspend", "retire"):
        tags |= {"harness.closed_reason": str(d.reason)}
    reg.set_version_tags(tool, number, tags)


# -- registering versions --------------------------------------------------------------------------------


def _find(versions: list[VersionInfo], version: str) -> list[VersionInfo]:
    return sorted((v for v in versions if v.tags.get("harness.tool_version") == version), key=lambda v: v.number)


def preflight(uri: str, manifest: ToolManifest, manifest_path: str | Path) -> None:
    """Before an assessment is run: refuse a manifest that differs from the one its version string was
    registered with, so no evidence is gathered that no decision could ever rest on (policy 4.2)."""
    reg = _registry(uri)
    found = _find(reg.versions(manifest.id), str(manifest.version))
    if found:
        _check_digest(manifest.id, str(manifest.version), found[0], manifest_digest(manifest_path), manifest_path)


def _check_digest(tool: str, version: str, info: VersionInfo, digest: str, path: str | Path) -> None:
    registered = info.tags.get("harness.manifest_digest", "")
    if registered != digest:
        raise _refuse(f"registration of {tool} {version}", "one-manifest-per-version", "4.2",
                      f"{tool} {version} is registered with a manifest whose sha256 is {registered[:12]}..., but "
                      f"{path} has sha256 {digest[:12]}...; a changed tool is a new version: change `version` in "
                      "the manifest")


def register_version(uri: str, manifest: ToolManifest, manifest_path: str | Path, *, submitter: str,
                     files: dict[str, str] | None = None, source_run: str | None = None,
                     now: datetime | None = None) -> VersionRef:
    """Register a tool version (state `submitted`) with its manifest and digest, and record the submission.

    Idempotent for the same version string and manifest digest; another digest under an existing version
    string is a GateError. `files` maps paths in a vendor bundle to their sha256; `source_run` is a run
    that already holds the manifest as `inputs/tool.yaml` (else a registration run is made)."""
    at = _now(now)
    tool, version = manifest.id, str(manifest.version)
    submitter = _person(submitter, "submitter", f"registration of {tool} {version}")
    path = Path(manifest_path)
    digest = manifest_digest(path)
    files_digest = sha256_text(canonical(files)) if files is not None else None
    reg = _registry(uri)
    reg.ensure_model(tool, {"harness.kind": "tool", "harness.tool_id": tool},
                     description=f"{manifest.name} ({manifest.vendor}); versions are tool versions (harness.gate)")
    found = _find(reg.versions(tool), version)
    created = False
    if found:
        info = found[0]
    else:
        facts = {"harness.kind": "tool-version", "harness.tool_id": tool, "harness.tool_version": version,
                 "harness.manifest_digest": digest, "harness.submitter": submitter, "harness.registered_at": _iso(at),
                 "harness.name": manifest.name, "harness.vendor": manifest.vendor,
                 "harness.department": manifest.department, "harness.category": manifest.category,
                 "harness.risk_tier": manifest.risk_tier, "harness.status": manifest.status,
                 "harness.state": "submitted"}
        if files_digest:
            facts["harness.files_digest"] = files_digest
        if source_run is not None:
            run = reg.run(source_run)
            if run is None:
                raise GateError(f"no MLflow run {source_run!r} in {uri} to register {tool} {version} from")
            if not reg.has_artifact(source_run, "inputs/tool.yaml"):
                _log_manifest(reg, source_run, path)
            run_id = source_run
        else:
            run_id = reg.registration_run(tool, f"{tool} {version} registration", {
                "harness.kind": "registration", "harness.tool_id": tool, "harness.tool_version": version,
                "harness.manifest_digest": digest, "harness.submitter": submitter}, path, files)
        mine = reg.create_version(tool, facts, source=f"runs:/{run_id}/inputs/tool.yaml", run_id=run_id)
        # two registrations at once: the lowest number wins, the others give theirs back
        found = _find(reg.versions(tool), version)
        info = found[0]
        if info.number != mine:
            reg.delete_version(tool, mine)
        created = info.number == mine
    _check_digest(tool, version, info, digest, path)

    def build(book: _Book) -> dict[str, Any] | None:
        if version in book.states:
            return None
        return {"action": "submit", "version": version, "state": "submitted",
                "actor": info.tags.get("harness.submitter", submitter), "reason": "registered for assessment",
                "run_id": info.run_id, "manifest_digest": digest,
                "details": {"model_version": info.number, "name": manifest.name, "vendor": manifest.vendor,
                            "department": manifest.department, "category": manifest.category,
                            "risk_tier": manifest.risk_tier, "status": manifest.status,
                            "files_digest": info.tags.get("harness.files_digest", files_digest)}}

    d = _append(reg, tool, build, at)
    if d is not None:
        _mirror(reg, tool, info.number, d)
    return VersionRef(tool=tool, version=version, model_version=info.number, manifest_digest=digest,
                      submitter=info.tags.get("harness.submitter", submitter), created=created)


def _log_manifest(reg: Registry, run_id: str, path: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "tool.yaml"
        copy.write_bytes(path.read_bytes())
        reg.log_file(run_id, copy, "inputs")


def on_assessed(uri: str, manifest: ToolManifest, manifest_path: str | Path, run_id: str, verdict: str,
                *, now: datetime | None = None) -> None:
    """Called by the pipeline once an assessment run is recorded: registers the version if needed (the
    run's `harness.submitter` submits it), moves `submitted` to `assessed`, and appends an assess record.
    A decided version keeps its state: a re-assessment is evidence, suspending is a decision (4.3)."""
    at = _now(now)
    reg = _registry(uri)
    run = reg.run(run_id)
    if run is None:
        raise GateError(f"no MLflow run {run_id!r} in {uri} to record as an assessment")
    submitter = run.tags.get("harness.submitter") or "unknown"
    ref = register_version(uri, manifest, manifest_path, submitter=submitter, source_run=run_id, now=at)

    def build(book: _Book) -> dict[str, Any] | None:
        s = book.states[ref.version]
        if run_id in s["assess_runs"]:
            return None
        state = "assessed" if s["state"] in ("submitted", "assessed") else s["state"]
        return {"action": "assess", "version": ref.version, "state": state, "actor": submitter,
                "reason": f"{run.tags.get('harness.kind', 'pre-acquisition')} assessment", "run_id": run_id,
                "run_at": _iso(_run_at(run)), "verdict": verdict,
                "policy_digest": run.tags.get("harness.policy_digest"),
                "manifest_digest": run.tags.get("harness.manifest_digest", ref.manifest_digest),
                "details": {"kind": run.tags.get("harness.kind"), "policy": run.tags.get("harness.policy")}}

    d = _append(reg, manifest.id, build, at)
    if d is not None:
        _mirror(reg, manifest.id, ref.model_version, d)


# -- decisions -------------------------------------------------------------------------------------------


def _state_of(book: _Book, version: str, what: str) -> dict[str, Any]:
    if version not in book.states:
        known = sorted(book.states)
        raise _refuse(what, "registered-version", "4.2",
                      f"{book.tool} has no registered version {version!r}"
                      + (f" (registered: {', '.join(known)})" if known else "") + "; assess it first")
    return book.states[version]


def _closed_for_good(book: _Book, version: str, s: dict[str, Any], what: str, verb: str) -> None:
    if s["state"] in ("rejected", "retired"):
        d: Decision = s["decision"]
        raise _refuse(what, "open-version", "4.1",
                      f"{book.tool} {version} was {s['state']} by {d.actor} on {show_time(d.at)} ({d.reason}); a "
                      f"{s['state']} version cannot be {verb}. Register a new version")


def _evidence(book: _Book, version: str, s: dict[str, Any], run: RunFacts, what: str) -> None:
    """The run must be about exactly this version and manifest, under the current policy, and recent."""
    tool = book.tool
    run_tool, run_version = run.tags.get("harness.tool_id"), run.tags.get("harness.tool_version")
    if (run_tool, run_version) != (tool, version):
        raise _refuse(what, "same-version", "4.2",
                      f"run {run.run_id} assessed {run_tool} {run_version}, not {tool} {version}")
    registered = s["submitted"].manifest_digest
    assessed = run.tags.get("harness.manifest_digest")
    if assessed != registered:
        raise _refuse(what, "same-manifest", "4.2",
                      f"run {run.run_id} assessed a manifest with sha256 {str(assessed)[:12]}..., but {tool} "
                      f"{version} is registered with sha256 {str(registered)[:12]}...")


def _complete(run: RunFacts, what: str) -> None:
    """A run still RUNNING was killed (or is still being recorded) before it was closed, and a FAILED run
    whose verdict is not ERROR failed while being recorded: neither is complete evidence (policy 3.2)."""
    if run.status == "RUNNING" or (run.status != "FINISHED" and run.tags.get("harness.verdict") != "ERROR"):
        raise _refuse(what, "recorded-evidence", "4.2",
                      f"run {run.run_id} is {run.status}: it was interrupted or is still being recorded, so it is "
                      "not complete evidence; re-assess")


def _current(run: RunFacts, policy: Policy, what: str) -> None:
    if run.tags.get("harness.policy_digest") != policy.digest:
        raise _refuse(what, "current-policy", "4.2",
                      f"run {run.run_id} was judged under {run.tags.get('harness.policy', 'an unknown policy')}, "
                      f"but the current policy is {policy.label}; re-assess under the current policy")


def _fresh(book: _Book, version: str, s: dict[str, Any], run: RunFacts, policy: Policy, at: datetime,
           what: str) -> None:
    tier = run.tags.get("harness.risk_tier") or s["submitted"].details.get("risk_tier", "high")
    days = _interval(policy, tier)
    age = at - _run_at(run)
    if age >= timedelta(days=days):
        raise _refuse(what, "fresh-evidence", "4.3",
                      f"run {run.run_id} ran on {show_time(_run_at(run))}, {age.days} days before this decision; "
                      f"evidence for a {tier}-risk tool must be younger than {days} days (reassessment_days.{tier}). "
                      "Re-assess first")


def _separate(person: str, role: str, book: _Book, version: str, s: dict[str, Any], run: RunFacts,
              what: str) -> None:
    submitter = s["submitted"].actor
    if _same_person(person, submitter):
        raise _refuse(what, "separation-of-duties", "2.3, 4.1",
                      f"{person!r} submitted {book.tool} {version}; the {role} must be someone else")
    if _same_person(person, run.tags.get("harness.submitter")):
        raise _refuse(what, "separation-of-duties", "2.3, 4.1",
                      f"{person!r} started assessment run {run.run_id}; the {role} must be someone else")


def _get_run(reg: Registry, run_id: str, what: str) -> RunFacts:
    run = reg.run(run_id)
    if run is None:
        raise _refuse(what, "recorded-evidence", "4.2", f"there is no MLflow run {run_id!r} in {reg.uri}")
    return run


def _decided(reg: Registry, tool: str, version: str, d: Decision | None, *, alias: bool = False,
             run_tag: str | None = None) -> Decision:
    if d is None:  # pragma: no cover - every decision's build returns fields or raises
        raise GateError(f"no decision was recorded for {tool} {version}")
    book_versions = _find(reg.versions(tool), version)
    number = book_versions[0].number if book_versions else None
    if alias and number is not None:
        reg.set_alias(tool, ALIAS, number)
    if run_tag and d.run_id:
        from harness.tracking import APPROVED_TAG

        reg.set_run_tag(d.run_id, APPROVED_TAG, run_tag)
    _mirror(reg, tool, number, d)
    return d


def approve(uri: str, tool: str, version: str, *, run_id: str, reviewer: str, rationale: str = "",
            policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Approve a tool version on an assessment run (policy 4.1, 4.2). Sets the alias `approved`."""
    at, policy = _now(now), _policy(policy)
    what = f"approval of {tool} {version}"
    reviewer = _person(reviewer, "reviewer", what)
    reg = _registry(uri)
    run = _get_run(reg, run_id, what)

    def build(book: _Book) -> dict[str, Any]:
        s = _state_of(book, version, what)
        _closed_for_good(book, version, s, what, "approved")
        _evidence(book, version, s, run, what)
        verdict = run.tags.get("harness.verdict")
        if verdict == "FAIL":
            raise _refuse(what, "no-approval-of-fail", "4.2",
                          f"run {run_id} assessed {tool} {version} as FAIL; a tool that fails the assessment may "
                          "not be used unless remediated. Remediate and re-assess, or escalate the risk with "
                          "`harness waive`")
        if verdict == "ERROR" or verdict not in ("PASS", "NEEDS_REVIEW"):
            raise _refuse(what, "no-approval-of-fail", "4.2",
                          f"run {run_id} ended in {verdict}: the assessment did not complete, so there is no "
                          "evidence to approve. Re-run the assessment, or escalate the risk with `harness waive`")
        if verdict == "NEEDS_REVIEW" and not _text(rationale):
            raise _refuse(what, "review-rationale", "2.3",
                          f"run {run_id} needs review (NEEDS_REVIEW); approving it needs a rationale that says why "
                          "its open findings are acceptable (--rationale)")
        _complete(run, what)
        _current(run, policy, what)
        _fresh(book, version, s, run, policy, at, what)
        _separate(reviewer, "reviewer", book, version, s, run, what)
        return {"action": "approve", "version": version, "state": "approved", "actor": reviewer,
                "reason": _text(rationale) or None, "run_id": run_id, "run_at": _iso(_run_at(run)),
                "verdict": verdict, "policy_digest": policy.digest,
                "manifest_digest": run.tags.get("harness.manifest_digest"), "details": {"policy": policy.label}}

    return _decided(reg, tool, version, _append(reg, tool, build, at), alias=True, run_tag="approved")


def _expiry(expires: datetime | date) -> datetime:
    if isinstance(expires, datetime):
        return _now(expires)
    return datetime(expires.year, expires.month, expires.day, tzinfo=UTC)


def waive(uri: str, tool: str, version: str, *, run_id: str, approver: str, rationale: str, conditions: str,
          expires: datetime | date, policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Record an escalation (policy 4.2): a named approver accepts a risk the assessment found, under
    conditions, until a date no later than `settings.gate.max_waiver_days` ahead. A date means the
    waiver lapses at the start of that day (UTC). The gate opens until then and closes by itself."""
    at, policy = _now(now), _policy(policy)
    what = f"waiver of {tool} {version}"
    approver = _person(approver, "approver", what)
    until = _expiry(expires)
    limit = int(policy.setting("gate", "max_waiver_days", DEFAULT_MAX_WAIVER_DAYS))
    reg = _registry(uri)
    run = _get_run(reg, run_id, what)

    def build(book: _Book) -> dict[str, Any]:
        s = _state_of(book, version, what)
        _closed_for_good(book, version, s, what, "waived")
        _evidence(book, version, s, run, what)
        if not _text(rationale) or not _text(conditions):
            raise _refuse(what, "waiver-terms", "4.2",
                          "a waiver needs a rationale (why the risk is accepted) and conditions (what must hold "
                          "meanwhile)")
        if until <= at:
            raise _refuse(what, "waiver-expiry", "4.2",
                          f"the waiver must expire in the future; {show_time(until)} is not after {show_time(at)}")
        if until > at + timedelta(days=limit):
            raise _refuse(what, "waiver-limit", "4.2",
                          f"the waiver would expire on {show_time(until)}, {(until - at).days} days from now; the "
                          f"policy allows at most {limit} days (settings.gate.max_waiver_days)")
        _complete(run, what)
        _current(run, policy, what)
        _fresh(book, version, s, run, policy, at, what)
        _separate(approver, "approver", book, version, s, run, what)
        return {"action": "waive", "version": version, "state": "waived", "actor": approver,
                "reason": _text(rationale), "conditions": _text(conditions), "expires": _iso(until),
                "run_id": run_id, "run_at": _iso(_run_at(run)), "verdict": run.tags.get("harness.verdict"),
                "policy_digest": policy.digest, "manifest_digest": run.tags.get("harness.manifest_digest"),
                "details": {"policy": policy.label, "max_waiver_days": limit}}

    return _decided(reg, tool, version, _append(reg, tool, build, at), alias=True, run_tag="waived")


def _close(uri: str, tool: str, version: str, *, action: str, state: str, actor: str, role: str, reason: str,
           allowed: tuple[str, ...], rule: str, section: str, hint: str, run_id: str | None,
           policy: Policy | None, now: datetime | None) -> Decision:
    at, policy = _now(now), _policy(policy)
    noun = {"reject": "rejection", "suspend": "suspension", "retire": "retirement"}[action]
    what = f"{noun} of {tool} {version}"
    actor = _person(actor, role, what)
    if not _text(reason):
        raise _refuse(what, "decision-reason", "3.1",
                      f"a {noun} needs a reason: departments document their decision-making criteria")
    reg = _registry(uri)
    run = _get_run(reg, run_id, what) if run_id is not None else None

    def build(book: _Book) -> dict[str, Any]:
        s = _state_of(book, version, what)
        if s["state"] not in allowed:
            raise _refuse(what, rule, section, f"{tool} {version} is {s['state']}; {hint}")
        if run is not None:
            _evidence(book, version, s, run, what)  # the run it rests on is about this version
        return {"action": action, "version": version, "state": state, "actor": actor, "reason": _text(reason),
                "run_id": run_id, "run_at": _iso(_run_at(run)) if run else None,
                "verdict": run.tags.get("harness.verdict") if run else None, "policy_digest": policy.digest,
                "manifest_digest": s["submitted"].manifest_digest, "details": {"from": s["state"]}}

    return _decided(reg, tool, version, _append(reg, tool, build, at))


def reject(uri: str, tool: str, version: str, *, reviewer: str, reason: str, run_id: str | None = None,
           policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Close a version that has not been approved (or was suspended) for good, with a reason (4.2)."""
    return _close(uri, tool, version, action="reject", state="rejected", actor=reviewer, role="reviewer",
                  reason=reason, allowed=("submitted", "assessed", "suspended"), rule="reject-undecided",
                  section="4.1", hint="an approved or waived version is withdrawn with `harness suspend` or "
                  "`harness retire`, and a closed one stays closed", run_id=run_id, policy=policy, now=now)


def suspend(uri: str, tool: str, version: str, *, by: str, reason: str, run_id: str | None = None,
            policy: Policy | None = None, now: datetime | None = None) -> Decision:
    """Withdraw an approval or waiver (e.g. a failed re-assessment, policy 4.3): the gate closes until a
    new approval on fresh evidence."""
    return _close(uri, tool, version, action="suspend", state="suspended", actor=by, role="person suspending",
                  reason=reason, allowed=USABLE, rule="suspend-approved", section="4.3",
                  hint="only an approved or waived version can be suspended", run_id=run_id, policy=policy, now=now)


def retire(uri: str, tool: str, version: str, *, by: str, reason: str, policy: Policy | None = None,
           now: datetime | None = None) -> Decision:
    """Take a version out of use for good (policy 6.2 keeps it in the inventory as retired)."""
    return _close(uri, tool, version, action="retire", state="retired", actor=by, role="person retiring",
                  reason=reason, allowed=tuple(s for s in STATES if s != "retired"), rule="open-version",
                  section="4.1", hint="it is already retired", run_id=None, policy=policy, now=now)


# -- reading: gate, status, history, inventory, due --------------------------------------------------------


def gate(uri: str, tool: str, version: str | None = None, now: datetime | None = None,
         policy: Policy | None = None) -> GateDecision:
    """What deployment pipelines ask: open only for an approved (or waived, unexpired) version that is not
    suspended, not overdue for re-assessment, on a history that verifies. Without a version, the version
    holding the alias `approved`."""
    at = _now(now)
    reg = _registry(uri)
    if tool not in reg.model_names("tool"):
        return GateDecision(False, f"{tool} is not registered in the tool registry: nothing is approved "
                                   "(policy 4.1)", tool, version)
    if version is None:
        number = reg.alias(tool, ALIAS)
        book = _read(reg, tool)
        match = [v for v in book.versions if v.number == number]
        if number is None or not match:
            return GateDecision(False, f"{tool} has no approved version: nothing is approved (policy 4.1)", tool)
        version = match[0].tags.get("harness.tool_version", "")
    else:
        book = _read(reg, tool)
    if version not in book.states:
        if not book.verification.ok:
            return GateDecision(False, _broken(tool, book.verification, "the gate is closed"), tool, version)
        return GateDecision(False, f"{tool} has no registered version {version!r}: nothing is approved "
                                   "(policy 4.1)", tool, version)
    vs = _status_of(book, version, at)
    return _overdue(vs, _policy(policy), at) or vs.gate


def _overdue(vs: VersionStatus, policy: Policy, at: datetime) -> GateDecision | None:
    """A closed gate when an approval's re-assessment is overdue by more than the grace period: policy 4.3
    requires regular review, and an approval nobody re-checked is no longer evidence (fail closed). The
    grace period (`settings.gate.overdue_grace_days`) leaves time for a failed cron job to be noticed."""
    nd = _next_due(vs, policy)
    if nd is None or vs.completed is None:
        return None
    grace = int(policy.setting("gate", "overdue_grace_days", DEFAULT_OVERDUE_GRACE_DAYS))
    if at < nd[0] + timedelta(days=grace):
        return None
    late = (at - nd[0]).days
    return GateDecision(
        False, f"{vs.tool} {vs.version} is closed: its re-assessment was due on {show_time(nd[0])} ({nd[1]} days "
               f"after run {vs.completed.run_id}) and is {late} days overdue, past the {grace}-day grace period "
               f"(policy 4.3). Re-assess it with `harness reassess {vs.tool}:{vs.version}`", vs.tool, vs.version)


def status(uri: str, tool: str, version: str | None = None, now: datetime | None = None) -> list[VersionStatus]:
    """Every version of a tool (or one), in the order they were submitted."""
    at = _now(now)
    book = _read(_registry(uri), tool)
    if not book.states:
        raise GateError(f"no tool {tool!r} is registered in {uri}"
                        + ("" if book.verification.ok else f" ({book.verification.first_break})"))
    if version is not None:
        _state_of(book, version, f"status of {tool} {version}")
        return [_status_of(book, version, at)]
    return [_status_of(book, v, at) for v in book.states]


def history(uri: str, tool: str) -> History:
    """The decision log of a tool, in order, with its verification (the records up to the first break)."""
    book = _read(_registry(uri), tool)
    if not book.entries:
        raise GateError(f"no decision history for tool {tool!r} in {uri}")
    return History(tool=tool, records=tuple(book.chain), verification=book.verification)


def verify_history(uri: str, tool: str) -> Verification:
    """Recompute the chain of a tool's decision log and report the first break."""
    return history(uri, tool).verification


def _interval(policy: Policy, tier: str) -> int:
    return int(policy.reassessment_days.get(tier, min(policy.reassessment_days.values())))  # type: ignore[call-overload]


def _next_due(vs: VersionStatus, policy: Policy) -> tuple[datetime, int] | None:
    """In use (approved, or waived and unexpired): the latest completed assessment + the tier's interval."""
    if vs.state not in USABLE or not vs.gate.open or vs.completed is None:
        return None
    days = _interval(policy, vs.manifest.get("risk_tier", "high"))
    return datetime.fromisoformat(vs.completed.run_at) + timedelta(days=days), days


def next_due(vs: VersionStatus, policy: Policy | None = None) -> datetime | None:
    """When a version in use falls due for re-assessment (policy 4.3); None when it is not in use."""
    nd = _next_due(vs, _policy(policy))
    return nd[0] if nd else None


def _shown_version(reg: Registry, book: _Book) -> str:
    number = reg.alias(book.tool, ALIAS)
    for v in book.versions:
        if v.number == number and v.tags.get("harness.tool_version") in book.states:
            return v.tags["harness.tool_version"]
    return list(book.states)[-1]


def inventory(uri: str, now: datetime | None = None, policy: Policy | None = None) -> list[InventoryRow]:
    """Every registered tool (policy 6.2): the version approved for use, else the latest submitted."""
    at, policy = _now(now), _policy(policy)
    reg = _registry(uri)
    rows: list[InventoryRow] = []
    for tool in reg.model_names("tool"):
        book = _read(reg, tool)
        if not book.states:
            continue
        vs = _status_of(book, _shown_version(reg, book), at)
        m = vs.manifest
        due = _next_due(vs, policy)
        approval = vs.approval_state if book.verification.ok else "history broken"
        rows.append(InventoryRow(
            tool=tool, name=m.get("name", ""), version=vs.version, department=m.get("department", ""),
            vendor=m.get("vendor", ""), category=m.get("category", ""), risk_tier=m.get("risk_tier", ""),
            status=m.get("status", ""), latest_verdict=vs.verdict,
            latest_run=vs.assessed.run_id if vs.assessed else None,
            assessed_at=vs.assessed.run_at if vs.assessed else None, approval=approval,
            gate_open=vs.gate.open and _overdue(vs, policy, at) is None,
            next_due=due[0].date().isoformat() if due else None))
    return rows


def due(uri: str, as_of: datetime | date | None = None, policy: Policy | None = None) -> list[DueItem]:
    """Versions in use whose re-assessment is due by `as_of` (a date includes the whole day), by the
    tier intervals of the policy (4.3), soonest first."""
    policy = _policy(policy)
    if isinstance(as_of, datetime) or as_of is None:
        at = _now(as_of)
        limit = at
    else:
        at = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
        limit = at + timedelta(days=1) - timedelta(microseconds=1)
    reg = _registry(uri)
    items: list[DueItem] = []
    for tool in reg.model_names("tool"):
        book = _read(reg, tool)
        for version in book.states:
            vs = _status_of(book, version, at)
            nd = _next_due(vs, policy)
            if nd is None or nd[0] > limit or vs.completed is None:
                continue
            items.append(DueItem(tool=tool, version=version, risk_tier=vs.manifest.get("risk_tier", ""),
                                 state=vs.state, last_assessed=datetime.fromisoformat(vs.completed.run_at),
                                 last_run=vs.completed.run_id, due=nd[0], interval_days=nd[1]))
    return sorted(items, key=lambda i: (i.due, i.tool, i.version))
