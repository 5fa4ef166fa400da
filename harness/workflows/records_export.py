"""`harness records export TOOL --out DIR`: everything the City holds about one tool, in one folder that
can be archived and checked years later without MLflow (policy 3.2: "Departments must maintain records
sufficient to comply with the retention schedule").

What is exported, all read-only from the store:

- every run of the tool: the runs of its experiment `harness/<tool id>` (assessments, re-assessments,
  vendor submissions, registrations, plans; deleted runs too), plus any run a decision record or a tool
  version cites from elsewhere. Each run's info, params, tags and metrics go to `runs/<run id>/run.json`
  and every artifact it holds is downloaded under `runs/<run id>/artifacts/`;
- the tool's versions as registered (`registry/tool_versions.json`: MLflow numbers, tags, and the
  model's aliases, e.g. which version holds `approved`);
- the decision log as stored (`decisions/log_entries.json`: every entry of `<tool> (decision log)` with
  its tags, superseded entries included) and as verified (`decisions/history.json`: the records of the
  chain in order with their sha256, and the result of recomputing the hash chain, `harness.gate`);
- `records.json`: the records policy 1.2 asks for, gathered in one place: each registered version's `records:`
  block and its top-level `x-` extension fields exactly as its manifest (`inputs/tool.yaml` of the run it was
  registered from) declares them, and every `plan` record of the tool (`harness inventory add`: a planned or
  in-development tool's facts and records). The register publishes only part of them; this keeps them all;
- `manifest.json` (what was exported, from where, when, with every file's sha256 and size) and
  `SHA256SUMS` over every file including manifest.json, in the format `sha256sum -c` reads, so the
  archive can be checked with standard tools alone.

The export goes into a new or empty folder, so the checksums cover exactly what is there.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.digests import sha256_file
from harness.errors import ConfigError, GateError

if TYPE_CHECKING:
    from harness.gate import Verification
    from harness.tracking.store import RunRecord, Store

SCHEMA = "harness.workflows.records_export/1"
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
RECORDS = "records.json"


@dataclass(frozen=True)
class RecordsExport:
    """What one export wrote."""

    tool: str
    folder: Path
    runs: tuple[str, ...]
    artifacts: int
    decisions: int
    verification: Verification | None
    files: int

    evidence_problems: tuple[str, ...] = ()

    @property
    def chain_ok(self) -> bool:
        """True when the decision history verifies (or there is none to verify)."""
        return self.verification is None or self.verification.ok

    @property
    def evidence_ok(self) -> bool:
        """True when every assessment's files are the bytes it wrote (evidence.json, issue 11)."""
        return not self.evidence_problems



def sums_line(digest: str, name: str) -> str:
    """One line of `sha256sum` output (text mode); a name with a backslash or a newline is escaped the way
    GNU coreutils escapes it, with a leading backslash on the line."""
    if "\\" in name or "\n" in name:
        return "\\" + digest + "  " + name.replace("\\", "\\\\").replace("\n", "\\n")
    return f"{digest}  {name}"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n",
                    encoding="utf-8")


def _jsonable_metrics(metrics: dict[str, float]) -> dict[str, float | str]:
    """JSON has no NaN or infinity; such a metric is kept as its name ('nan', 'inf')."""
    import math

    return {k: (v if math.isfinite(v) else str(v)) for k, v in metrics.items()}


def _empty_folder(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} is not an empty folder; records are exported into a new or empty folder so that "
                          "the checksum manifest covers exactly what is in it")


def _runs(store: Store, tool: str, cited: list[str]) -> list[RunRecord]:
    """The tool's experiment's runs, then any run cited from elsewhere, oldest first."""
    runs = {r.run_id: r for r in store.runs(tool)}
    for run_id in cited:
        if run_id and run_id not in runs:
            r = store.run(run_id)
            if r is not None:
                runs[run_id] = r
    return sorted(runs.values(), key=lambda r: (r.start_ms, r.run_id))


def export_records(uri: str, tool: str, out: str | Path, *, now: datetime | None = None) -> RecordsExport:
    """Export every run, artifact and decision of `tool` from the store at `uri` into `out`."""
    from harness.gate import history, log_name
    from harness.tracking.export import download_run_artifacts
    from harness.tracking.store import Store

    at = (now or datetime.now(UTC)).astimezone(UTC)
    folder = Path(out)
    _empty_folder(folder)
    store = Store(uri)
    reg = store.registry
    versions = reg.versions(tool)
    entries = reg.versions(log_name(tool))
    try:
        h = history(uri, tool)
        records, verification = h.records, h.verification
    except GateError:  # no decision log: runs only (e.g. an assessment that never reached the gate)
        records, verification = (), None
    cited = [v.run_id for v in versions + entries if v.run_id] + [d.run_id for d in records if d.run_id]
    runs = _runs(store, tool, cited)
    if not runs and not versions and not entries:
        raise ConfigError(f"no tool {tool!r} in {uri}: it has no runs, no registered versions and no decision log "
                          "(check the tool id with `harness inventory`)")

    folder.mkdir(parents=True, exist_ok=True)
    listing: list[dict[str, Any]] = []
    artifacts = 0
    for r in runs:
        base = folder / "runs" / r.run_id
        info = r.as_dict()
        info["metrics"] = _jsonable_metrics(r.metrics)
        files = download_run_artifacts(store, r.run_id, base / "artifacts")
        info["artifacts"] = [p.relative_to(base / "artifacts").as_posix() for p in files]
        _write_json(base / "run.json", info)
        artifacts += len(files)
        listing.append({"run_id": r.run_id, "kind": r.kind, "status": r.status, "lifecycle_stage": r.lifecycle_stage,
                        "run_name": r.run_name, "start_ms": r.start_ms, "artifacts": len(files)})
    _write_json(folder / "registry" / "tool_versions.json",
                {"model": tool, "aliases": reg.aliases(tool), "versions": [asdict(v) for v in versions]})
    _write_json(folder / "decisions" / "log_entries.json", [asdict(v) for v in entries])
    _write_json(folder / RECORDS, records_of(tool, versions, records, folder))
    evidence = _evidence_problems(records, folder)
    checked = None if verification is None else {
        "ok": verification.ok, "records": verification.records, "head": verification.head,
        "problems": list(verification.problems), "superseded": list(verification.superseded),
        # the public keys of the installations that signed the records, and the head to anchor elsewhere:
        # `harness history TOOL --verify --expect HEAD` fails on any other head (issue 11)
        "signers": _signers(records), "evidence_ok": not evidence, "evidence_problems": evidence}
    _write_json(folder / "decisions" / "history.json", {
        "tool": tool, "records": [{"seq": d.seq, "sha256": d.sha256, "record": d.record} for d in records],
        "verification": checked})

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    table = [{"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in files]
    _write_json(folder / MANIFEST, {
        "schema": SCHEMA, "tool": tool, "exported_at": at.isoformat(timespec="seconds"), "tracking_uri": uri,
        "retention": "City AI policy 3.2: records sufficient to comply with the City's retention schedule",
        "runs": listing, "tool_versions": len(versions), "decision_log_entries": len(entries),
        "decisions": checked, "files": table,
        "check": f"sha256sum -c {SUMS} (in this folder) verifies every file, this manifest included"})
    lines = [sums_line(str(t["sha256"]), str(t["path"])) for t in table]
    lines.append(sums_line(sha256_file(folder / MANIFEST), MANIFEST))
    (folder / SUMS).write_text("\n".join(sorted(lines, key=lambda s: s.split("  ", 1)[1])) + "\n", encoding="utf-8")
    return RecordsExport(tool=tool, folder=folder, runs=tuple(r.run_id for r in runs), artifacts=artifacts,
                         decisions=len(records), verification=verification, files=len(table) + 2,
                         evidence_problems=tuple(evidence))


def _jsonable(value: Any) -> Any:
    """YAML gives dates and times where JSON has text: an extension field written `x-reviewed: 2026-01-05` is kept
    as "2026-01-05"."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def records_of(tool: str, versions: list[Any], decisions: tuple[Any, ...] | list[Any], folder: Path) -> dict[str, Any]:
    """`records.json`: the records and extension fields of every registered version, read from the manifest as
    exported (`runs/<run>/artifacts/inputs/tool.yaml`), and the facts of every plan record. A manifest that is
    missing or unreadable is said so, never skipped."""
    import yaml

    from harness.manifest import EXTENSION_PREFIX
    from harness.yamlio import safe_yaml

    out: list[dict[str, Any]] = []
    for v in versions:
        entry: dict[str, Any] = {"version": v.tags.get("harness.tool_version"), "model_version": v.number,
                                 "manifest_sha256": v.tags.get("harness.manifest_digest"), "source_run": v.run_id}
        path = folder / "runs" / str(v.run_id) / "artifacts" / "inputs" / "tool.yaml"
        try:
            data = safe_yaml(path.read_text(encoding="utf-8")) if v.run_id and path.is_file() else None
        except (yaml.YAMLError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            entry["problem"] = f"no readable manifest at runs/{v.run_id}/artifacts/inputs/tool.yaml"
            out.append(entry)
            continue
        entry["records"] = _jsonable(data.get("records"))
        entry["extensions"] = _jsonable({k: x for k, x in data.items()
                                         if isinstance(k, str) and k.startswith(EXTENSION_PREFIX)})
        out.append(entry)
    planned = [{"seq": d.seq, "sha256": d.sha256, "state": d.state, "actor": d.actor, "at": d.at,
                **{k: (d.details or {}).get(k) for k in ("name", "department", "vendor", "category", "records")}}
               for d in decisions if d.action == "plan"]
    return {"tool": tool, "policy": "City AI policy 1.2 (what data, how used, why), 2.4 (disclosure), 3.2 (retention)",
            "versions": out, "planned": planned}


def _evidence_problems(records: tuple[Any, ...] | list[Any], folder: Path) -> list[str]:
    """Every assessment's files re-hashed, as exported, against the digest its assess record keeps
    (harness.tracking.evidence): an artifact rewritten after the assessment is named here."""
    from harness.tracking.evidence import check_folder

    problems: list[str] = []
    for d in records:
        if d.action != "assess" or not d.run_id or (d.details or {}).get("evidence_sha256") is None:
            continue
        problems += check_folder(folder / "runs" / d.run_id / "artifacts", d.details["evidence_sha256"], d.run_id)
    return problems


def _signers(records: tuple[Any, ...] | list[Any]) -> dict[str, str | None]:
    """fingerprint -> public key (base64) of each signer of the chain, as this installation trusts it."""
    from harness.gate.signing import public_text, trusted

    keys = trusted()
    return {fp: (public_text(keys[fp]) if fp in keys else None)
            for fp in dict.fromkeys(str(d.signer) for d in records if d.signer)}
