"""The policy in force (policy 4.2): the latest adoption in the City's policy log, its file fetched from the
store and checked byte for byte against the record; the packaged policy when none was adopted. Below the
writer (`harness.gate.writer` judges every record against it) and above the reading of the log
(`harness.gate.log`); adopting a policy is `harness.gate.policies`."""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import GateError
from harness.gate.inputs import refuse, registry_at, store_of
from harness.gate.log import Book, read_book
from harness.gate.records import Decision, show_time

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.tracking.registry import Registry

POLICY_LOG = "_city-policy"
POLICY_STATE = "in force"
POLICY_FILE = "policy.yaml"
PACKAGED = "the harness's packaged policy (none adopted)"

@dataclass(frozen=True)
class InForce:
    """The policy approvals and waivers are judged against, the adoption record that put it in force (None
    for the packaged policy) and where it came from, in words."""

    policy: Policy
    record: Decision | None
    source: str

    @property
    def adopted(self) -> str:
        """'adopted by Dana Admin on 2026-12-06', or that none was adopted."""
        if self.record is None:
            return "none has been adopted: the harness's packaged policy applies"
        return f"adopted by {self.record.actor} on {show_time(self.record.at)}"


# -- the policy in force ---------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _broken_log(book: Book, consequence: str) -> str:
    return (f"the City's policy log fails verification ({book.verification.first_break}); {consequence}. "
            f"Investigate with `harness history {POLICY_LOG} --verify` and restore the store from its backup "
            "(policy 3.2)")


def _load(reg: Registry, d: Decision) -> Policy:
    """The adopted file, fetched from its run and checked against the record, byte for byte and by digest."""
    from harness.policy import load_policy

    label = f"the policy in force, {(d.details or {}).get('policy', d.version)} (policy log record {d.seq})"
    data = store_of(reg).artifact_bytes(str(d.run_id), POLICY_FILE)
    expected = str((d.details or {}).get("file_sha256"))
    if data is None:
        raise GateError(f"{label} cannot be loaded: {POLICY_FILE} of run {d.run_id} is missing from the store. "
                        "Restore the store from its backup (policy 3.2)")
    if _sha(data) != expected:
        raise GateError(f"{label} cannot be trusted: {POLICY_FILE} of run {d.run_id} has sha256 "
                        f"{_sha(data)[:12]}..., but the adoption record says {expected[:12]}...: the file was "
                        "altered after adoption. Restore the store from its backup (policy 3.2)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / POLICY_FILE
        path.write_bytes(data)
        policy = load_policy(path)
    if policy.digest != d.policy_digest:
        raise GateError(f"{label} reads as digest {policy.digest[:12]}... with this harness, but was adopted with "
                        f"{str(d.policy_digest)[:12]}...; re-adopt it with this harness (`harness policy adopt`)")
    return policy


def in_force_of(reg: Registry, book: Book) -> InForce:
    adopted = [d for d in book.chain if d.action == "adopt"]
    if not adopted:
        from harness.policy import load_policy

        return InForce(load_policy(), None, PACKAGED)
    d = adopted[-1]
    return InForce(_load(reg, d), d, f"adopted by {d.actor} on {show_time(d.at)} (policy log record {d.seq})")


def _book(reg: Registry, consequence: str) -> Book:
    book = read_book(reg, POLICY_LOG)
    if not book.verification.ok:
        raise GateError(_broken_log(book, consequence))
    return book


def in_force(uri: str) -> InForce:
    """The policy in force: the latest adoption's file, loaded from the store and checked; the packaged
    policy when none was adopted. A policy log that fails verification, or an adopted file that no longer
    matches its record, is an error: nothing can be judged against a standard nobody can vouch for."""
    reg = registry_at(uri)
    return in_force_of(reg, _book(reg, "no policy is in force on a broken history"))


def adoptions(uri: str) -> list[Decision]:
    """Every adoption, oldest first (the verified chain)."""
    book = _book(registry_at(uri), "its adoptions cannot be listed")
    return [d for d in book.chain if d.action == "adopt"]


def check_current(uri: str, policy: Policy | None, what: str) -> Policy:
    """The policy a decision is judged against: the one in force. A policy passed in is accepted only when it
    is the one in force (same digest); anything else is refused (rule 'current-policy', 4.2)."""
    current = in_force(uri)
    if policy is None or policy.digest == current.policy.digest:
        return current.policy
    raise refuse(what, "current-policy", "4.2",
                  f"the policy given, {policy.label}, is not the policy in force; the policy in force is "
                  f"{current.policy.label} ({current.adopted}); approvals and waivers are judged against the "
                  "policy in force. Adopt this policy first with `harness policy adopt`")


def policy_of(policy: Policy | None, uri: str | None = None) -> Policy:
    """The policy given, else the one in force in the store at `uri` (`harness policy adopt`), else the
    packaged one."""
    if policy is not None:
        return policy
    if uri is not None:
        return in_force(uri).policy
    from harness.policy import load_policy

    return load_policy()
