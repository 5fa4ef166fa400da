"""Tool versions entering the log: registering a version with its manifest digest (one manifest per
version string, policy 4.2), the check before an assessment runs (`preflight`), and recording a finished
assessment (`on_assessed`). These are the records the pipeline and `harness submit` write, not a person's
decision."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import GateError
from harness.gate.identity import acting
from harness.gate.inputs import refuse, registry_at, same_person, store_of
from harness.gate.log import Book, broken_history, read_book
from harness.gate.records import VersionRef, canonical, iso, manifest_digest, now_utc, run_started, sha256_text
from harness.gate.writer import append_record, mirror_tags

if TYPE_CHECKING:
    from harness.manifest import ToolManifest
    from harness.tracking.registry import Registry, VersionInfo


def find_version(versions: list[VersionInfo], version: str) -> list[VersionInfo]:
    return sorted((v for v in versions if v.tags.get("harness.tool_version") == version), key=lambda v: v.number)


def is_registered(uri: str, tool: str, version: str) -> bool:
    """Whether the version is already in the registry (`harness.tiering.require_tier`: a version recorded before
    impact questionnaires existed keeps its declared tier)."""
    return bool(find_version(registry_at(uri).versions(tool), version))


def preflight(uri: str, manifest: ToolManifest, manifest_path: str | Path,
              artifacts: dict[str, str] | None = None) -> None:
    """Before an assessment is run: refuse a manifest, or a file the adapter reads, that differs from what its
    version string was registered with, so no evidence is gathered that no decision could ever rest on (4.2)."""
    reg = registry_at(uri)
    found = find_version(reg.versions(manifest.id), str(manifest.version))
    if found:
        _check_digest(manifest.id, str(manifest.version), found[0], manifest_digest(manifest_path), manifest_path)
        if artifacts is not None:
            _check_artifacts(reg, manifest.id, str(manifest.version), found[0], artifacts)


def _check_digest(tool: str, version: str, info: VersionInfo, digest: str, path: str | Path) -> None:
    registered = info.tags.get("harness.manifest_digest", "")
    if registered != digest:
        raise refuse(f"registration of {tool} {version}", "one-manifest-per-version", "4.2",
                      f"{tool} {version} is registered with a manifest whose sha256 is {registered[:12]}..., but "
                      f"{path} has sha256 {digest[:12]}...; a changed tool is a new version: change `version` in "
                      "the manifest")


def _submitted(reg: Registry, tool: str, version: str) -> dict[str, Any] | None:
    """The details of the version's submit record in the (verified) log, or None before it has one."""

    book = read_book(reg, tool)
    if not book.verification.ok:
        raise GateError(broken_history(tool, book.verification,
                                       "nothing is assessed or registered on a broken history"))
    s = book.states.get(version)
    return None if s is None else dict(s["submitted"].details or {})


def _check_artifacts(reg: Registry, tool: str, version: str, info: VersionInfo, artifacts: dict[str, str]) -> None:
    """The version's files must be the ones it was registered with: an overwritten model under an unchanged
    manifest is a new tool (issue 11), refused naming the file, the registered digest and the digest found.
    The registered digests are read from the submit record in the log; the version's tag
    `harness.artifacts_digest` is a mirror, used only before the first record exists."""
    from harness.tools.artifacts import changed, combined

    details = _submitted(reg, tool, version)
    registered = (details or {}).get("artifacts_digest") if details is not None else \
        info.tags.get("harness.artifacts_digest")
    if registered is None and details is not None:
        registered = info.tags.get("harness.artifacts_digest", "")  # a record from before files were bound
    if registered is None or registered == combined(artifacts):
        return
    listed = (details or {}).get("artifacts")
    diff = changed(listed, artifacts) if listed is not None else [
        f"the tool's files have combined sha256 {combined(artifacts)[:12]}..., registered {registered[:12]}..."]
    raise refuse(f"registration of {tool} {version}", "same-files", "4.2",
                  f"{tool} {version} was registered with other files than it has now ({'; '.join(diff)}); a "
                  "changed tool is a new version: change `version` in the manifest")


def register_version(uri: str, manifest: ToolManifest, manifest_path: str | Path, *, submitter: str,
                     files: dict[str, str] | None = None, source_run: str | None = None,
                     artifacts: dict[str, str] | None = None, resubmit: bool = False,
                     now: datetime | None = None) -> VersionRef:
    """Register a tool version (state `submitted`) with its manifest and digest, and record the submission.

    Idempotent for the same version string and manifest digest; another digest under an existing version
    string is a GateError, and so are other artifact digests. `files` maps paths in a vendor bundle to their
    sha256; `artifacts` the files the adapter reads to theirs (`harness.tools.artifacts`, computed here when
    not given); `source_run` is a run that already holds the manifest as `inputs/tool.yaml` (else a
    registration run is made)."""
    from harness.tools.artifacts import artifact_digests, combined, listed

    at = now_utc(now)
    tool, version = manifest.id, str(manifest.version)
    submitter = acting(uri, submitter, "submitter", f"registration of {tool} {version}").name
    path = Path(manifest_path)
    digest = manifest_digest(path)
    files_digest = sha256_text(canonical(files)) if files is not None else None
    artifacts = artifact_digests(manifest, ask_endpoint=False) if artifacts is None else artifacts
    reg = registry_at(uri)
    reg.ensure_model(tool, {"harness.kind": "tool", "harness.tool_id": tool},
                     description=f"{manifest.name} ({manifest.vendor}); versions are tool versions (harness.gate)")
    found = find_version(reg.versions(tool), version)
    created = False
    if found:
        info = found[0]
    else:
        facts = {"harness.kind": "tool-version", "harness.tool_id": tool, "harness.tool_version": version,
                 "harness.manifest_digest": digest, "harness.submitter": submitter, "harness.registered_at": iso(at),
                 "harness.name": manifest.name, "harness.vendor": manifest.vendor,
                 "harness.department": manifest.department, "harness.category": manifest.category,
                 "harness.risk_tier": manifest.risk_tier, "harness.status": manifest.status,
                 "harness.state": "submitted"}
        if files_digest:
            facts["harness.files_digest"] = files_digest
        facts["harness.artifacts_digest"] = combined(artifacts)
        if source_run is not None:
            run = store_of(reg).run(source_run)
            if run is None:
                raise GateError(f"no MLflow run {source_run!r} in {uri} to register {tool} {version} from")
            if not store_of(reg).has_artifact(source_run, "inputs/tool.yaml"):
                _log_manifest(reg, source_run, path)
            run_id = source_run
        else:
            run_id = _registration_run(reg, tool, version, {
                "harness.kind": "registration", "harness.tool_id": tool, "harness.tool_version": version,
                "harness.manifest_digest": digest, "harness.submitter": submitter}, path, files)
        mine = reg.create_version(tool, facts, source=f"runs:/{run_id}/inputs/tool.yaml", run_id=run_id)
        # two registrations at once: the lowest number wins, the others give theirs back
        found = find_version(reg.versions(tool), version)
        info = found[0]
        if info.number != mine:
            reg.delete_version(tool, mine)
        created = info.number == mine
    _check_digest(tool, version, info, digest, path)
    _check_artifacts(reg, tool, version, info, artifacts)

    def build(book: Book) -> dict[str, Any] | None:
        if version in book.states:
            # a vendor submitting a version DTI registered first (by assessing it) is recorded too, so the vendor
            # can never decide on it (policy 4.1); an assessment's own registration never adds a submitter
            s = book.states[version]
            if not resubmit or any(same_person(submitter, who) for who in s["submitters"]):
                return None
            return {"action": "submit", "version": version, "state": s["state"], "actor": submitter,
                    "reason": "submitted again (the version was registered earlier)", "run_id": source_run,
                    "manifest_digest": digest, "details": {"vendor": manifest.vendor}}
        return {"action": "submit", "version": version, "state": "submitted",
                "actor": info.tags.get("harness.submitter", submitter), "reason": "registered for assessment",
                "run_id": info.run_id, "manifest_digest": digest,
                "details": {"model_version": info.number, "name": manifest.name, "vendor": manifest.vendor,
                            "department": manifest.department, "category": manifest.category,
                            "risk_tier": manifest.risk_tier, "status": manifest.status,
                            "files_digest": info.tags.get("harness.files_digest", files_digest),
                            # the version's identity beyond its manifest: the files it is made of (issue 11)
                            "artifacts_digest": info.tags.get("harness.artifacts_digest", combined(artifacts)),
                            "artifacts": listed(artifacts),
                            # the impact answers (issue 16): `harness plan` holds the version's tier to them
                            **({"impact": manifest.impact.model_dump(mode="json")} if manifest.impact else {})}}

    d = append_record(reg, tool, build, at)
    if d is not None:
        mirror_tags(reg, tool, info.number, d)
    return VersionRef(tool=tool, version=version, model_version=info.number, manifest_digest=digest,
                      submitter=info.tags.get("harness.submitter", submitter), created=created)


def _log_manifest(reg: Registry, run_id: str, path: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "tool.yaml"
        copy.write_bytes(path.read_bytes())
        store_of(reg).log_file(run_id, copy, "inputs")


def _registration_run(reg: Registry, tool: str, version: str, tags: dict[str, str], manifest_path: Path,
                      files: dict[str, str] | None) -> str:
    """A small finished run in the tool's submissions experiment holding the manifest (`inputs/tool.yaml`)
    and the digests of the submitted files (`registration/files.json`), for a version no assessment
    run carries yet."""
    import json

    from harness.tracking.runs import SUBMISSIONS

    with store_of(reg).finished_run(tool, f"{tool} {version} registration", tags, part=SUBMISSIONS,
                                what="a registration run") as run:
        run.log_bytes("tool.yaml", manifest_path.read_bytes(), "inputs")
        if files is not None:
            run.log_bytes("files.json", json.dumps(files, indent=1, sort_keys=True).encode(), "registration")
    return run.run_id


def on_assessed(uri: str, manifest: ToolManifest, manifest_path: str | Path, run_id: str, verdict: str,
                *, evidence: dict[str, Any] | None = None, now: datetime | None = None) -> None:
    """Called by the pipeline once an assessment run is recorded: registers the version if needed (the
    run's `harness.submitter` submits it), moves `submitted` to `assessed`, and appends an assess record.
    A decided version keeps its state: a re-assessment is evidence, suspending is a decision (4.3).
    `evidence` (`harness.tracking.evidence.evidence_of`) binds the record to the run's files and the tool's."""
    at = now_utc(now)
    reg = registry_at(uri)
    run = store_of(reg).run(run_id)
    if run is None:
        raise GateError(f"no MLflow run {run_id!r} in {uri} to record as an assessment")
    ev = dict(evidence or {})
    # what the pipeline knows first-hand wins over the run's tags, which are mirrors
    submitter = ev.pop("submitter", None) or run.tags.get("harness.submitter") or "unknown"
    policy_digest = ev.pop("policy_digest", None) or run.tags.get("harness.policy_digest")
    policy_label = ev.pop("policy", None) or run.tags.get("harness.policy")
    kind = ev.pop("kind", None) or run.tags.get("harness.kind")
    suites = ev.pop("suites", None)
    suites = run.tags.get("harness.suites", "") if suites is None else suites
    ref = register_version(uri, manifest, manifest_path, submitter=submitter, source_run=run_id,
                           artifacts=ev.get("artifacts"), now=at)

    def build(book: Book) -> dict[str, Any] | None:
        s = book.states[ref.version]
        if run_id in s["assess_runs"]:
            return None
        state = "assessed" if s["state"] in ("submitted", "assessed") else s["state"]
        return {"action": "assess", "version": ref.version, "state": state, "actor": submitter,
                "reason": f"{kind or 'pre-acquisition'} assessment", "run_id": run_id,
                "run_at": iso(run_started(run)), "verdict": verdict, "policy_digest": policy_digest,
                "manifest_digest": ref.manifest_digest,
                "details": {"kind": kind, "policy": policy_label,
                            # what the evidence covers, kept in the log (the run's tag is only a mirror)
                            "suites": suites,
                            # where the manifest was, so `gate` can re-hash the files in use
                            "manifest_path": str(Path(manifest_path).resolve()), **ev}}

    d = append_record(reg, manifest.id, build, at)
    if d is not None:
        mirror_tags(reg, manifest.id, ref.model_version, d)
