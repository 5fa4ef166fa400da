"""The one writer of the decision log: `append_record` appends a record built from a fresh read, after
`attested` has confirmed the actor, refused a name written like another person's and checked the actor's roles
under the policy in force; `mirror_tags` copies the latest decision onto the version's tags. It sits above
`harness.gate.inforce` (the policy in force is read from the policy log, and every record is judged against it),
which sits above `harness.gate.log` (reading)."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.errors import GateError
from harness.gate.identity import acting
from harness.gate.inforce import POLICY_LOG, in_force, in_force_of
from harness.gate.inputs import refuse, registry_at, same_person
from harness.gate.log import Book, broken_history, field_tags, read_book
from harness.gate.records import (
    ATTEMPTS,
    FIELDS,
    HASH_TAG,
    MAX_RECORD_CHARS,
    RECORD_TAG,
    SCHEMA,
    Decision,
    canonical,
    iso,
    log_name,
    sha256_text,
)
from harness.gate.roles import check_may

if TYPE_CHECKING:
    from harness.tracking.registry import Registry


Build = Callable[[Book], dict[str, Any] | None]


def append_record(reg: Registry, tool: str, build: Build, at: datetime) -> Decision | None:
    """Append one record built from a fresh read; `build` checks the rules against that read and returns
    the record's fields, or None when there is nothing to add. Retries when a concurrent writer takes
    the number first (the loser's entry stays, superseded, outside the chain)."""
    from harness.gate.signing import SIGNATURE_TAG, load_signer, move_anchor

    signer = load_signer()  # before anything is written: a key that cannot be read stops the decision
    reg.ensure_model(log_name(tool), {"harness.kind": "decision-log", "harness.tool_id": tool},
                     description=f"Append-only, hash-chained decision log of {tool} (harness.gate).")
    checked: dict[str, Any] = {}
    for attempt in range(ATTEMPTS):
        book = read_book(reg, tool)
        if not book.verification.ok:
            raise GateError(broken_history(tool, book.verification, "no decision is recorded on a broken history"))
        fields = build(book)
        if fields is None:
            return None
        fields = attested(reg.uri, book, fields, checked)
        record: dict[str, Any] = dict.fromkeys(FIELDS)
        record.update(fields)
        record.update(schema=SCHEMA, seq=book.next_seq, prev=book.head, tool=tool, at=iso(at),
                      signer=signer.fingerprint)
        text = canonical(record)
        if len(text) > MAX_RECORD_CHARS:
            raise refuse(f"{fields['action']} of {tool} {fields['version']}", "record-size", "3.2",
                          f"the record would be {len(text)} characters; MLflow keeps {MAX_RECORD_CHARS} on every "
                          "backend. Shorten the reason or conditions and cite a document that holds the rest")
        digest = sha256_text(text)
        tags = {"harness.kind": "decision", **field_tags(record), RECORD_TAG: text, HASH_TAG: digest,
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


def attested(uri: str, book: Book, fields: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    """Every record, whatever its action, passes here (issue 12, section 2): the actor is confirmed with the
    server when it has authentication (`identity.acting`), the record keeps how the actor is known
    (`details.identity`), a name written like another person already in this log but not the same is refused
    (two spellings of one name split the separation of duties, policy 4.1), and the actor's roles must allow the
    action under the policy in force (`roles.check_may`)."""
    action, actor = str(fields["action"]), str(fields.get("actor") or "")
    what = f"{action} of {book.tool} {fields.get('version')}"
    who = acting(uri, actor, "person acting", what)
    for earlier in dict.fromkeys(str(d.actor) for d in book.chain if d.actor):
        if earlier != who.name and same_person(who.name, earlier):
            raise refuse(what, "distinct-names", "2.3, 4.1",
                          f"{who.name!r} is written like {earlier!r}, already recorded in this log, but is not the "
                          f"same text: write the name exactly as recorded ({earlier!r}) if it is the same person, "
                          "or a distinguishable name if not")
    if "policy" not in checked:
        checked["policy"] = (in_force_of(registry_at(uri), book) if book.tool == POLICY_LOG
                             else in_force(uri)).policy
    role_action = str((fields.get("details") or {}).get("for", action)) if action == "signoff" else action
    check_may(checked["policy"], who, role_action, what)
    return {**fields, "actor": who.name, "details": {**(fields.get("details") or {}), "identity": who.identity}}


def mirror_tags(reg: Registry, tool: str, number: int | None, d: Decision) -> None:
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
