"""The decision log itself: one consistent read of a tool (`_Book`), the verification of its hash chain,
the replay that turns the chain into states, the only writer (`_append`, which retries when a concurrent
writer takes the number first) and the mirror of the latest decision onto the version's tags. The rules a
record must meet live in `versions` and `decisions`; this module keeps the chain sound."""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.errors import GateError
from harness.gate.inputs import _refuse
from harness.gate.records import (
    ATTEMPTS,
    FIELD_TAG,
    FIELDS,
    GENESIS,
    HASH_TAG,
    MAX_RECORD_CHARS,
    RECORD_TAG,
    SCHEMA,
    Decision,
    Verification,
    _iso,
    canonical,
    log_name,
    sha256_text,
)

if TYPE_CHECKING:
    from harness.tracking.registry import Registry, VersionInfo


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


def _verify(tool: str, entries: list[VersionInfo], versions: list[VersionInfo],
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


def _read(reg: Registry, tool: str) -> _Book:
    from harness.gate.signing import heads

    anchors = heads()  # before the log (see `signing.heads`)
    versions = reg.versions(tool)
    entries = reg.versions(log_name(tool))
    chain, verification = _verify(tool, entries, versions, uri=reg.uri, anchors=anchors)
    return _Book(tool=tool, versions=versions, entries=entries, chain=chain, verification=verification,
                 states=_replay(chain))


def _broken(tool: str, v: Verification, consequence: str) -> str:
    return (f"the decision history of {tool!r} fails verification ({v.first_break}); {consequence}. "
            f"Investigate with `harness history {tool} --verify` and restore the store from its backup (policy 3.2)")


# -- writing the log -------------------------------------------------------------------------------------


Build = Callable[[_Book], dict[str, Any] | None]


def _append(reg: Registry, tool: str, build: Build, at: datetime) -> Decision | None:
    """Append one record built from a fresh read; `build` checks the rules against that read and returns
    the record's fields, or None when there is nothing to add. Retries when a concurrent writer takes
    the number first (the loser's entry stays, superseded, outside the chain)."""
    from harness.gate.signing import SIGNATURE_TAG, load_signer, move_anchor

    signer = load_signer()  # before anything is written: a key that cannot be read stops the decision
    reg.ensure_model(log_name(tool), {"harness.kind": "decision-log", "harness.tool_id": tool},
                     description=f"Append-only, hash-chained decision log of {tool} (harness.gate).")
    checked: dict[str, Any] = {}
    for attempt in range(ATTEMPTS):
        book = _read(reg, tool)
        if not book.verification.ok:
            raise GateError(_broken(tool, book.verification, "no decision is recorded on a broken history"))
        fields = build(book)
        if fields is None:
            return None
        fields = _attested(reg.uri, book, fields, checked)
        record = {k: None for k in FIELDS}
        record.update(fields)
        record.update(schema=SCHEMA, seq=book.next_seq, prev=book.head, tool=tool, at=_iso(at),
                      signer=signer.fingerprint)
        text = canonical(record)
        if len(text) > MAX_RECORD_CHARS:
            raise _refuse(f"{fields['action']} of {tool} {fields['version']}", "record-size", "3.2",
                          f"the record would be {len(text)} characters; MLflow keeps {MAX_RECORD_CHARS} on every "
                          "backend. Shorten the reason or conditions and cite a document that holds the rest")
        digest = sha256_text(text)
        tags = {"harness.kind": "decision", **_field_tags(record), RECORD_TAG: text, HASH_TAG: digest,
                SIGNATURE_TAG: signer.sign(text)}
        # a tracking server accepts only an absolute path as a source that is neither a run nor a model (it
        # refuses relative ones); this folder exists nowhere, so no symbolic link can make it resolve elsewhere
        number = reg.create_version(log_name(tool), tags,
                                    source=f"harness-decision:/harness-decision-log/{tool}/{record['seq']}",
                                    run_id=record.get("run_id"))
        if number == record["seq"]:
            move_anchor(reg.uri, log_name(tool), book.chain[0].sha256 if book.chain else digest, number, digest)
            return Decision(record, digest)
        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise GateError(f"could not append to the decision log of {tool!r}: {ATTEMPTS} concurrent decisions were "
                    "recorded first; try again")


def _attested(uri: str, book: _Book, fields: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    """Every record, whatever its action, passes here (issue 12, section 2): the actor is confirmed with the
    server when it has authentication (`identity.acting`), the record keeps how the actor is known
    (`details.identity`), a name written like another person already in this log but not the same is refused
    (two spellings of one name split the separation of duties, policy 4.1), and the actor's roles must allow the
    action under the policy in force (`roles.check_may`)."""
    from harness.gate.identity import acting
    from harness.gate.inputs import _same_person
    from harness.gate.roles import check_may

    action, actor = str(fields["action"]), str(fields.get("actor") or "")
    what = f"{action} of {book.tool} {fields.get('version')}"
    who = acting(uri, actor, "person acting", what)
    for earlier in dict.fromkeys(str(d.actor) for d in book.chain if d.actor):
        if earlier != who.name and _same_person(who.name, earlier):
            raise _refuse(what, "distinct-names", "2.3, 4.1",
                          f"{who.name!r} is written like {earlier!r}, already recorded in this log, but is not the "
                          f"same text: write the name exactly as recorded ({earlier!r}) if it is the same person, "
                          "or a distinguishable name if not")
    if "policy" not in checked:
        from harness.gate.policies import POLICY_LOG, _in_force_of, in_force

        checked["policy"] = (_in_force_of(_registry_of(uri), book) if book.tool == POLICY_LOG
                             else in_force(uri)).policy
    role_action = str((fields.get("details") or {}).get("for", action)) if action == "signoff" else action
    check_may(checked["policy"], who, role_action, what)
    return {**fields, "actor": who.name, "details": {**(fields.get("details") or {}), "identity": who.identity}}


def _registry_of(uri: str) -> Registry:
    from harness.tracking.store import Store

    return Store(uri).registry


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
