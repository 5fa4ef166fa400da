"""Assessment runs: their metrics, tags and files, and reading their `assessment.json` back.

Takes plain data (metric rows, tag values, dicts), never `harness.assessment.AssessmentResult`: the pipeline
converts, so tracking sits below the assessment in the import graph (issue 13 closed the cycle
assessment -> tools -> tracking -> assessment).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, TrackingError
from harness.names import metric_key
from harness.tracking.store import OpenRun, RunRecord, Store

Measured = tuple[str, str, "float | None"]  # (measurement key, dataset name, value)


def metrics_of(measured: Iterable[Measured], several_datasets: bool) -> dict[str, float]:
    """`<suite>.<check>.<metric>[.<group>]`; with several datasets the dataset name is appended. Every measurement:
    the names the regression rules match (`recorded_metrics`); the run's MLflow metrics are the headline subset
    (`harness.tracking.browse.headline_metrics`), the rest are in its tables."""
    out: dict[str, float] = {}
    for key, dataset, value in measured:
        if value is None or not math.isfinite(value):
            continue  # undefined for this data (e.g. a rate of a group with no positives)
        out[metric_key(key + (f".{dataset}" if several_datasets else ""))] = float(value)
    return out


def measured_in(doc: Mapping[str, Any]) -> list[Measured]:
    """The (key, dataset, value) rows of an `assessment.json`, keyed as `harness.check.Measurement.key` is."""
    rows: list[Measured] = []
    for s in doc["suites"]:
        for m in s["measurements"]:
            base = f"{m['suite']}.{m['check']}.{m['metric']}"
            rows.append((f"{base}.{m['group']}" if m.get("group") else base, s["dataset"], m["value"]))
    return rows


def tags_of(*, tool: Mapping[str, Any], policy: Mapping[str, Any], verdict: str, kind: str, suites: Iterable[str],
            seed: int, datasets: Iterable[Mapping[str, Any]], extra: Mapping[str, Any],
            error: Mapping[str, Any] | None) -> dict[str, str]:
    """The tags of an assessment run, from the parts of its result (`assessment.json`'s fields of those names;
    `suites` are the suite names in order)."""
    from harness import __version__

    tags = {
        "harness.tool_id": tool["id"],
        "harness.tool_version": str(tool["version"]),
        "harness.verdict": verdict,
        "harness.policy": policy["label"],
        "harness.policy_digest": policy["digest"],
        # the rule that turned measurements into this verdict (harness.decision), named on every run
        "harness.decision_rule": str(policy.get("decision_rule") or
                                     (policy.get("document") or {}).get("decision_rule") or "point"),
        "harness.kind": kind,
        "harness.version": __version__,
        "harness.risk_tier": tool["risk_tier"],
        "harness.category": tool["category"],
        "harness.suites": ",".join(dict.fromkeys(suites)),
        "harness.seed": str(seed),
    }
    for d in datasets:
        tags[f"harness.dataset.{d['name']}"] = d["sha256"]
    for name, p in (extra.get("suite_provenance") or {}).items():  # which plugin build measured it
        tags[f"harness.suite.{name}"] = f"{p.get('distribution')} {p.get('version')} ({p.get('entry_point')})"
    # set by the pipeline: the approval gate matches a run to a registered version by the manifest's
    # sha256 and keeps who started the assessment apart from who approves it (policy 2.3, 4.1); the plan
    # it was held to and the sha256 of its recorded inputs/plan.json (harness.plan, policy 4.2, 4.3)
    # and the combined sha256 of the tool's files (harness.tools.artifacts, issue 11)
    # and the production sample a re-assessment ran on (harness.monitoring: never taken as new again)
    for key in ("manifest_digest", "submitter", "plan", "inputs_sha256", "artifacts_digest", "sample_sha256",
                "sample_name", "sample_period"):
        if extra.get(key):
            tags[f"harness.{key}"] = str(extra[key])
    if error:
        # free text from the tool: masked before it is cut, so the cut never leaves half a value unrecognised
        # (issue 12); the other tags are identifiers the gate compares (submitter, digests) and stay as they are
        from harness.redact import mask_pii

        tags["harness.error"] = mask_pii(str(error["message"]))[:4000]
    return tags


class AssessmentRun:
    """An open MLflow run for one assessment (`Store.finished_run`, held open across the pipeline's steps).
    Created before the reports are written (they carry the run id) and closed after every artifact is logged;
    a failure in between marks the run FAILED."""

    def __init__(self, store: Store, tool_id: str, run_name: str) -> None:
        self._open = ExitStack()
        self.run: OpenRun = self._open.enter_context(store.finished_run(tool_id, run_name, {}))
        self.run_id = self.run.run_id

    def record(self, metrics: dict[str, float], tags: dict[str, str], files: list[tuple[Path, str | None]],
               datasets: Iterable[Mapping[str, Any]] = ()) -> None:
        """Log tags, metrics, the reference datasets as dataset inputs (`browse.data_input`: a reference to the
        file, never its rows) and artifacts (file, folder in the run or None for the root)."""
        from harness.tracking.browse import dataset_inputs

        self.run.log_metrics(metrics, tags)
        self.run.log_inputs(dataset_inputs(datasets))
        for f, folder in files:
            self.run.log_file(f, folder)

    def close(self, ok: bool) -> None:
        """FINISHED when `ok`, else FAILED."""
        if not ok:
            self.run.fail()
        self._open.close()


def load_assessment(store: Store, run_id: str) -> dict[str, Any]:
    """Download and parse a run's `assessment.json` (to re-render reports)."""
    from harness.yamlio import MAX_RECORD_JSON_BYTES, read_json

    if store.run(run_id) is None:
        raise TrackingError(f"no MLflow run {run_id!r} in {store.uri}")
    data = store.artifact_bytes(run_id, "assessment.json")
    if data is None:
        raise TrackingError(f"run {run_id!r} in {store.uri} has no assessment.json artifact")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "assessment.json"
        path.write_bytes(data)
        # the store can be rewritten like any file: a deep or huge record is bad input, not our crash (issue 12)
        return read_json(path, f"assessment.json of run {run_id}", MAX_RECORD_JSON_BYTES, error=TrackingError)


def recorded_metrics(store: Store, run_id: str) -> dict[str, float]:
    """A run's metrics as its own assessment.json has them (the bytes `harness.tracking.evidence` checks),
    not as the run's metric table holds them: metrics can be logged again by anyone with store access."""
    doc = load_assessment(store, run_id)
    if not str(doc.get("schema", "")).startswith("harness.assessment/"):
        raise HarnessError("this JSON is not a harness assessment (no 'schema' field)")
    return metrics_of(measured_in(doc), len(doc["datasets"]) > 1)


ASSESSMENT_KINDS = ("pre-acquisition", "reassessment")


def completed_assessments(store: Store, tool_id: str, version: str | None = None,
                          kinds: tuple[str, ...] = ASSESSMENT_KINDS) -> list[tuple[RunRecord, dict[str, Any]]]:
    """Every completed assessment of a tool (of one version, or all), with its `assessment.json`, oldest first by
    the time it started (the record's `started_at`, then MLflow's start time), never by run id. Only runs that
    ended FINISHED and are not deleted count: a FAILED or still RUNNING run is never evidence (policy 3.2). The
    experiment is the tool's own (`harness/<tool id>`), and each record must name the tool and version asked for,
    so a tool whose id merely starts the same, or a record moved between experiments, is not counted."""
    from datetime import datetime

    out: list[tuple[RunRecord, dict[str, Any]]] = []
    for r in store.runs(tool_id):
        if r.status != "FINISHED" or r.lifecycle_stage != "active" or r.kind not in kinds:
            continue
        if r.tags.get("harness.tool_id") != tool_id or (version is not None and
                                                         r.tags.get("harness.tool_version") != version):
            continue
        if not store.has_artifact(r.run_id, "assessment.json"):
            continue
        doc = load_assessment(store, r.run_id)
        tool = doc.get("tool") or {}
        if not str(doc.get("schema", "")).startswith("harness.assessment/") or tool.get("id") != tool_id or (
                version is not None and str(tool.get("version")) != version) or doc.get("run_id") != r.run_id:
            continue
        out.append((r, doc))

    def when(item: tuple[RunRecord, dict[str, Any]]) -> tuple[float, int]:
        try:
            at = datetime.fromisoformat(str(item[1].get("started_at"))).timestamp()
        except ValueError:
            at = item[0].start_ms / 1000
        return at, item[0].start_ms

    return sorted(out, key=when)


__all__ = ["ASSESSMENT_KINDS", "AssessmentRun", "Measured", "completed_assessments", "load_assessment", "measured_in",
           "metrics_of", "recorded_metrics", "tags_of"]
