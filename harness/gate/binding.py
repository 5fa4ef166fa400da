"""Is the tool in use still the tool that was assessed? (issue 11, policy 4.2). A version is its manifest
and the files its adapter reads (`harness.tools.artifacts`); the decision log keeps their digests from the
version's registration. `approve` and `waive` refuse, and `gate` closes, when the files found now differ,
naming each file with the recorded digest and the digest found."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.gate.records import Decision


def manifest_path_of(s: dict[str, Any]) -> Path | None:
    """Where the latest completed assessment found the manifest (recorded in its assess record)."""
    for d in (s.get("completed"), s.get("assessed")):
        if d is not None and (d.details or {}).get("manifest_path"):
            return Path(d.details["manifest_path"])
    return None


def bound(submitted: Decision) -> bool:
    """False when the version was registered from a live object (a notebook's estimator): there were no
    bytes to bind, so there are none to re-hash; the gate says so rather than pretend."""
    from harness.tools.artifacts import LIVE_OBJECT

    return (submitted.details or {}).get("artifacts") != {"tool": LIVE_OBJECT}


def file_changes(submitted: Decision, path: Path) -> list[str]:
    """How the manifest at `path`, and the files it names, differ from what the version was registered with;
    [] when they are the same bytes."""
    from harness.errors import HarnessError
    from harness.gate.records import manifest_digest
    from harness.manifest import load_manifest
    from harness.tools.artifacts import artifact_digests, changed, combined

    out: list[str] = []
    digest = manifest_digest(path)
    if digest != submitted.manifest_digest:
        out.append(f"{path.name}: recorded sha256 {str(submitted.manifest_digest)[:12]}..., found {digest[:12]}...")
        return out
    try:
        found = artifact_digests(load_manifest(path), ask_endpoint=False)
    except HarnessError as e:  # pragma: no cover - the manifest's bytes were the registered ones
        return [f"{path}: {e}"]
    details = submitted.details or {}
    listed, registered = details.get("artifacts"), details.get("artifacts_digest")
    if listed is not None:
        out += changed(listed, found)
    elif registered is not None and registered != combined(found):
        out.append(f"the tool's files have combined sha256 {combined(found)[:12]}..., recorded {registered[:12]}...")
    return out
