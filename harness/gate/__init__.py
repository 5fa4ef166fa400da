"""The approval gate: tool versions, their lifecycle, and the signed decisions that move them (policy
2.3, 3.1, 3.2, 4.1, 4.2, 4.3). The evidence (assessment runs) informs a decision a named person makes;
this package enforces the rules a decision must meet and keeps every decision in an append-only,
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
  waive, suspend, retire; plan: a tool entered as planned or in development, with no version), `tool`,
  `version`, `state` (after the decision), `actor` (who), `at` (when, UTC ISO), `reason` (why), `run_id` and
  `run_at` (the run it rests on and when it ran), `verdict`,
  `policy_digest`, `manifest_digest`, `conditions` and `expires` (waivers), `details`, and `signer` (the
  fingerprint of the installation key whose Ed25519 signature over the canonical JSON is in the tag
  `harness.decision.signature`, `signing`). An assess record's details keep what the evidence is bound to:
  the suites run, the sha256 of the run's `evidence.json` (which lists every artifact's sha256) and of
  `assessment.json`, and the digests of the files the tool is made of (`harness.tools.artifacts`).
  Why model versions rather than runs or tags: MLflow assigns version numbers itself (max + 1 in one
  transaction) and writes the tags in the same call, so appending is atomic; registered-model tags can
  be overwritten by a concurrent writer and runs have no sequence. A writer reads the log, writes its
  record with `seq` = highest number + 1 and `prev` = the sha256 of the last record, and keeps it only
  if MLflow gave it exactly that number; otherwise another writer came first, the record stays as a
  visibly superseded entry outside the chain (`seq` != its number), and the writer re-reads and retries.
- Mirrors for people and searches: each tool version carries `harness.state`, `harness.last_decision`
  (`<seq>:<sha256>`) and the latest decision's fields as tags; the version that is approved (or waived)
  for use holds the alias `approved`; an approved run gets the run tag `harness.approval=approved`
  (a mirror: `views.approved_baseline` reads the log). The log is the authority: state, gate and inventory are
  computed by replaying it, and the gate closes when it fails verification.
- Verification recomputes every hash and link and reports the first break: an altered record (content
  no longer matching its sha256, with the fields that differ from the tags written with it), a deleted
  record (a missing number that a later record links across), a version whose tags name a record that
  is gone, a record without a valid signature by a trusted key (appended or rewritten through the MLflow
  API), and a log that no longer holds the last record this installation wrote (its anchor, `heads.json`
  beside the key: a deleted tail). For a verifier elsewhere, `harness history --verify --expect HEAD`
  checks the head that the exports publish.

Modules, one job each (this package re-exports every public name, so `harness.gate.X` stays the interface):

- `records`: the data model's constants, the value objects, canonical JSON and sha256.
- `inputs`: what callers pass (references, persons, reasons, store, policy) and how a refusal reads.
- `log`: reading, verifying and replaying the decision log; `writer`: the one writer that appends, and the
  mirror tags.
- `versions`: registering tool versions, the pre-assessment check, recording assessments.
- `signing`: the installation's Ed25519 key, trusted keys, and the anchor of each log's last record.
- `binding`: is the tool on disk still the one assessed (manifest and artifact digests re-hashed)?
- `decisions`: approve, waive, reject, suspend, retire and the rules each must meet.
- `planned`: a tool entered in the inventory as planned or in development, before any version (policy 6.2).
- `views`: gate, status, history, verification, inventory, due dates.
- `inforce`: the City's policy in force, read from its own log; `policies`: adopting one (by a named
  administrator, as a record of that log) and what makes a policy weaker.

The modules depend one way (issue 13): `inputs` (refusals, names of people, the store's registry) at the
bottom, then `identity` and `roles`, `records`, `log` (reading and verifying), `inforce`, `writer` (the one
writer of the log), and `versions`, `decisions`, `policies` and `views` on top. No module imports another's
private names.
"""
from __future__ import annotations

from harness.gate.decisions import (
    approve,
    reject,
    retire,
    suspend,
    waive,
)
from harness.gate.inforce import (
    POLICY_LOG,
    InForce,
    adoptions,
    check_current,
    in_force,
)
from harness.gate.inputs import (
    parse_ref,
    submitter_of,
)
from harness.gate.planned import add_planned
from harness.gate.policies import (
    adopt,
    weakenings,
)
from harness.gate.records import (
    ACTIONS,
    ALIAS,
    ATTEMPTS,
    DEFAULT_MAX_WAIVER_DAYS,
    DEFAULT_OVERDUE_GRACE_DAYS,
    FIELD_TAG,
    FIELDS,
    GENESIS,
    HASH_TAG,
    LIFECYCLE,
    LOG_SUFFIX,
    MAX_RECORD_CHARS,
    MAX_TEXT_CHARS,
    RECORD_TAG,
    SCHEMA,
    STATES,
    USABLE,
    Decision,
    DueItem,
    GateDecision,
    History,
    InventoryRow,
    Verification,
    VersionRef,
    VersionStatus,
    canonical,
    log_name,
    manifest_digest,
    sha256_text,
    show_time,
)
from harness.gate.versions import (
    is_registered,
    on_assessed,
    preflight,
    register_version,
)
from harness.gate.views import (
    due,
    gate,
    history,
    inventory,
    next_due,
    status,
    verify_history,
)
from harness.gate.writer import Build

__all__ = [
    "ACTIONS",
    "ALIAS",
    "ATTEMPTS",
    "DEFAULT_MAX_WAIVER_DAYS",
    "DEFAULT_OVERDUE_GRACE_DAYS",
    "FIELDS",
    "FIELD_TAG",
    "GENESIS",
    "HASH_TAG",
    "LIFECYCLE",
    "LOG_SUFFIX",
    "MAX_RECORD_CHARS",
    "MAX_TEXT_CHARS",
    "POLICY_LOG",
    "RECORD_TAG",
    "SCHEMA",
    "STATES",
    "USABLE",
    "Build",
    "Decision",
    "DueItem",
    "GateDecision",
    "History",
    "InForce",
    "InventoryRow",
    "Verification",
    "VersionRef",
    "VersionStatus",
    "add_planned",
    "adopt",
    "adoptions",
    "approve",
    "canonical",
    "check_current",
    "due",
    "gate",
    "history",
    "in_force",
    "inventory",
    "is_registered",
    "log_name",
    "manifest_digest",
    "next_due",
    "on_assessed",
    "parse_ref",
    "preflight",
    "register_version",
    "reject",
    "retire",
    "sha256_text",
    "show_time",
    "status",
    "submitter_of",
    "suspend",
    "verify_history",
    "waive",
    "weakenings",
]
