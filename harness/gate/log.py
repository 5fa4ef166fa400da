"""Reading the decision log: one consistent read of a tool (`Book`), the verification of its hash chain and
the replay that turns the chain into states. The one writer is `harness.gate.writer` (above the policy in
force, which it needs and which is read from a log); the rules a record must meet live in `versions` and
`decisions`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.gate.records import (
    FIELD_TAG,
    FIELDS,
    GENESIS,
    HASH_TAG,
    RECORD_TAG,
    Decision,
    Verification,
    canonical,
    log_name,
    sha256_text,
)

if TYPE_CHECKING:
    from harness.tracking.registry import Registry, VersionInfo


# -- reading the log -------------------------------------------------------------------------------------


@dataclass
class Book:
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

    @property
    def plan(self) -> Decision | None:
        """The latest inventory entry of the tool as planned or in development (`harness.gate.planned`)."""
        return next((d for d in reversed(self.chain) if d.action == "plan"), None)


def field_tags(record: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k in FIELDS:
        v = record.get(k)
        if v is None:
            continue
        out[FIELD_TAG + k] = canonical(v) if isinstance(v, dict) else str(v)
    return out


def verify_chain(tool: str, entries: list[VersionInfo], versions: list[VersionInfo],
            keys: dict[str, Any] | None = None, uri: str = "",
            anchors: dict[str, Any] | None = None) -> tuple[list[Decision], Verification]:
    """Recompute hashes, links and signatures in number order; stop at the first break (what follows is
    unproven); then hold the chain to this installation's anchor (`harness.gate.signing`). `keys` are the
    trusted public keys (default: `signing.trusted()`)."""
    from harness.gate.signing import SIGNATURE_TAG, anchor, check, scopes, trusted

    limits = scopes() if keys is None else {}
    keys = trusted() if keys is None else keys
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
        written = {k: v for k, v in e.tags.items()
                   if k.startswith(FIELD_TAG) and k not in (RECORD_TAG, HASH_TAG, SIGNATURE_TAG)}
        now_tags = field_tags(rec)
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
        unsigned = check(text, e.tags.get(SIGNATURE_TAG), rec.get("signer"), keys, rec.get("action"), limits)
        if unsigned is not None:
            problems.append(f"{label} was not written by a trusted harness installation: {unsigned}; it was added "
                            "or rewritten through the MLflow API")
            break
        chain.append(Decision(rec, digest))
        prev, last = digest, e.number
    if not problems and chain:
        mark = anchor(uri, log_name(tool), chain[0].sha256, anchors)
        if mark is not None:
            seq, sha = mark
            kept = {d.seq: d.sha256 for d in chain}
            if seq not in kept:
                which = f"record {seq}" if seq == last + 1 else f"records {last + 1}-{seq}"
                problems.append(f"{which} missing: deleted from the end of the decision log (this installation "
                                f"wrote record {seq}, sha256 {sha[:12]}..., and the log now ends at record {last})")
            elif kept[seq] != sha:
                problems.append(f"record {seq} was replaced: this installation wrote it with sha256 {sha[:12]}..., "
                                f"the log now holds {kept[seq][:12]}...")
    if not problems:
        by_seq = {d.seq: d for d in chain}
        for v in versions:
            last_decision = v.tags.get("harness.last_decision")
            if not last_decision or ":" not in last_decision:
                continue
            seq_text, sha = last_decision.split(":", 1)
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
        if d.action == "plan":  # the tool's state before any version exists (`Book.plan`), not a version's
            continue
        s = states.setdefault(d.version, {"submitted": d, "submitters": [], "assessed": None, "completed": None,
                                          "covering": None,
                                          "decision": None, "approval": None, "state": d.state,
                                          "assess_runs": set()})
        s["state"] = d.state
        if d.action == "submit":  # everyone who submitted it, whatever the order (separation of duties)
            s["submitters"].append(d.actor)
        if d.action == "assess":
            s["assessed"] = d
            s["assess_runs"].add(d.run_id)
            if d.verdict != "ERROR":
                s["completed"] = d
                # a run narrowed with --suite is evidence, but not a re-assessment: it never moves the due date
                if (d.details or {}).get("complete", True):
                    s["covering"] = d
        elif d.action in ("approve", "waive", "reject", "suspend", "retire"):
            s["decision"] = d
            if d.action in ("approve", "waive"):
                s["approval"] = d
    return states


def read_book(reg: Registry, tool: str) -> Book:
    from harness.gate.signing import heads

    anchors = heads()  # before the log (see `signing.heads`)
    versions = reg.versions(tool)
    entries = reg.versions(log_name(tool))
    chain, verification = verify_chain(tool, entries, versions, uri=reg.uri, anchors=anchors)
    return Book(tool=tool, versions=versions, entries=entries, chain=chain, verification=verification,
                 states=_replay(chain))


def broken_history(tool: str, v: Verification, consequence: str) -> str:
    return (f"the decision history of {tool!r} fails verification ({v.first_break}); {consequence}. "
            f"Investigate with `harness history {tool} --verify` and restore the store from its backup (policy 3.2)")
