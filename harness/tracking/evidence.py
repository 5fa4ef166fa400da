"""The evidence of one assessment, bound to its bytes (issue 11, policy 3.2, 4.2).

Every file an assessment logs (assessment.json, the reports, the copies of its inputs, the suites'
artifacts) is listed with its sha256 in `evidence.json`, logged with them; the decision log's assess record
keeps the sha256 of `evidence.json` itself (and of `assessment.json`). A decision record cannot hold forty
digests within MLflow's 5,000-byte tag limit, but it can hold one that fixes forty: whoever rewrites a report
or `assessment.json` after the assessment must also rewrite `evidence.json`, whose digest is in the signed
record. `approve`, `waive` and `records export` re-hash what the store holds against it (`check_run`,
`check_folder`).
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.digests import sha256_file

if TYPE_CHECKING:
    from harness.tracking.store import Store

EVIDENCE = "evidence.json"
SCHEMA = "harness.evidence/1"


def _artifact_path(path: Path, folder: str | None) -> str:
    return f"{folder}/{path.name}" if folder else path.name


def evidence_text(files: list[tuple[Path, str | None]]) -> str:
    """Canonical JSON listing each file's path in the run and its sha256 (sorted, so equal runs agree)."""
    listing = {_artifact_path(p, folder): sha256_file(p) for p, folder in files}
    return json.dumps({"schema": SCHEMA, "files": dict(sorted(listing.items()))}, sort_keys=True, indent=1,
                      ensure_ascii=True) + "\n"


def evidence_of(evidence_file: Path, *, suites: Iterable[str], policy: Mapping[str, Any], category: str, kind: str,
                extra: Mapping[str, Any], tool: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the assess record keeps about the evidence: the two digests that fix every file, and the tool's
    identity (its artifacts' digests; listed one by one when few enough to fit in the record). Takes the
    result's parts as plain data (`suites`: the suite names in order; `category`: the tool's; `tool`:
    assessment.json's tool block, whose impact answers and computed tier the record keeps, issue 16)."""
    from harness.tools.artifacts import listed

    listing = json.loads(evidence_file.read_text(encoding="ascii"))["files"]
    artifacts = extra.get("artifacts") or {}
    names = list(dict.fromkeys(suites))
    required = ((policy.get("document") or {}).get("required_suites") or {}).get(category, [])
    return {"evidence_sha256": sha256_file(evidence_file), "assessment_sha256": listing.get("assessment.json"),
            "artifacts_digest": extra.get("artifacts_digest"), "artifacts": listed(artifacts),
            # from the result itself, not from the run's tags (which anyone with store access can edit)
            "suites": ",".join(names), "policy": policy["label"], "policy_digest": policy["digest"],
            "submitter": extra.get("submitter"), "kind": kind,
            # whether it ran every suite its policy requires: only such a run moves the re-assessment clock
            "complete": all(x in names for x in required), **_tier_of(tool or {})}


def _tier_of(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The computed tier and the sha256 of the answers it was computed from (canonical JSON), for a tool with an
    impact questionnaire: the decision log then names the facts the tier rests on, not only the tier."""
    tier, impact = tool.get("tier"), tool.get("impact")
    if not isinstance(tier, Mapping) or not isinstance(impact, Mapping):
        return {}
    import hashlib

    text = json.dumps(impact, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return {"tier": {"declared": tier.get("declared"), "minimum": tier.get("minimum")},
            "impact_sha256": hashlib.sha256(text.encode("ascii")).hexdigest()}


def check_folder(folder: Path, evidence_sha256: str | None, run_id: str) -> list[str]:
    """Problems with a downloaded run's artifacts against the digest its record keeps; [] when intact."""
    if not evidence_sha256:
        return [f"run {run_id}'s assess record keeps no evidence digest: its artifacts cannot be checked"]
    ev = folder / EVIDENCE
    if not ev.is_file():
        return [f"run {run_id} has no {EVIDENCE}: its artifacts were removed or the run was made up"]
    found = sha256_file(ev)
    if found != evidence_sha256:
        return [f"run {run_id}'s {EVIDENCE} has sha256 {found[:12]}..., but its assess record says "
                f"{evidence_sha256[:12]}...: the evidence was rewritten after the assessment"]
    from harness.errors import ConfigError
    from harness.yamlio import read_json

    try:  # its digest matched the record's, but a forged record can hold the digest of anything (issue 12)
        listing: dict[str, str] = read_json(ev, f"run {run_id}'s {EVIDENCE}")["files"]
    except ConfigError as e:
        return [str(e)]
    except (ValueError, KeyError, TypeError):
        return [f"run {run_id}'s {EVIDENCE} is not readable"]
    problems = []
    for name, digest in listing.items():
        p = folder / name
        if not p.is_file():
            problems.append(f"run {run_id}'s artifact {name} is missing (recorded sha256 {digest[:12]}...)")
        elif (now := sha256_file(p)) != digest:
            problems.append(f"run {run_id}'s artifact {name} has sha256 {now[:12]}..., recorded {digest[:12]}...: "
                            "it was rewritten after the assessment")
    return problems


def check_run(store: Store, run_id: str, evidence_sha256: str | None) -> list[str]:
    """Download a run's artifacts and re-hash them against its record's evidence digest."""
    from harness.tracking.export import download_run_artifacts

    with tempfile.TemporaryDirectory(prefix="harness-evidence-") as tmp:
        download_run_artifacts(store, run_id, Path(tmp))
        return check_folder(Path(tmp), evidence_sha256, run_id)
