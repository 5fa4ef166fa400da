"""The assessment pipeline behind `harness assess` and `harness demo`: validate every input first,
then run the tool and the suites, then record. Bad input stops before anything is run or recorded;
a tool that fails mid-run is still recorded with verdict ERROR (policy 3.2: keep the record)."""
from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.assessment import AssessmentResult, DataChecks, RecordedOutputs, assess, jsonable
from harness.datasets import load_dataset
from harness.errors import GateError, TrackingError
from harness.gate import is_registered, manifest_digest, on_assessed, preflight
from harness.gate.identity import actor_name
from harness.gate.views import approved_baseline
from harness.manifest import load_manifest
from harness.monitoring import Monitored, monitoring_result, recorded_outputs
from harness.plugins import provenance, resolve
from harness.policy import load_policy
from harness.policy_check import require_valid_settings
from harness.report import write_reports
from harness.tiering import require_tier
from harness.tools import load_tool
from harness.tools.artifacts import artifact_digests, changed, combined
from harness.tracking.evidence import EVIDENCE, evidence_of, evidence_text
from harness.workflows.plan import Plan, dataset_facts, hold_to, load_plan, monitoring_source

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.notify.send import Outcome
    from harness.policy import Policy
    from harness.tools import Tool
    from harness.verdict import SuiteResult
from harness.tracking import AssessmentRun, Store, check_reachable, resolve_uri, tags_of
from harness.tracking.browse import Headlines, browse_tags, data_input, headline_metrics, write_tables
from harness.workflows.transparency import verdict_sentence


def load_current(path: str | Path, reference: ReferenceDataset) -> pd.DataFrame:
    """A current sample of production inputs for drift checks: a CSV with the reference dataset's
    feature columns (its target and id may be absent)."""
    import pandas as pd

    from harness.errors import DatasetError

    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"the current sample {p} (--current) does not exist")
    try:
        frame = pd.read_csv(p)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DatasetError(f"cannot read the current sample {p} as CSV: {e}") from None
    missing = [c for c in reference.card.features if c not in frame.columns]
    if missing:
        raise DatasetError(f"the current sample {p} lacks feature column(s) {missing} of dataset "
                           f"{reference.name!r}; it has {list(frame.columns)}")
    return frame


def _in_force(tracking_uri: str | None) -> Policy:
    """Without --policy, an assessment is judged under the policy the City adopted (`harness policy adopt`),
    so its evidence is what an approval can rest on; the packaged policy when none was adopted."""
    from harness.gate.policies import in_force
    from harness.tracking import sqlite_path

    uri = resolve_uri(tracking_uri)
    if sqlite_path(uri) is None:  # a server: one clear message when it cannot be reached
        check_reachable(uri)
    return in_force(uri).policy


def _reachable(tracking_uri: str | None) -> Store:
    return Store.open(tracking_uri)


def _tracked(result: AssessmentResult, doc: dict[str, Any], headlines: Headlines,
             tables: list[tuple[Path, str]]) -> tuple[dict[str, float], dict[str, str]]:
    """The run's metrics and tags, from the result's plain parts (tracking does not import the assessment): each
    suite's headline figures as metrics (the rest are in `tables`), and the verdict sentence as the run's
    description (issue 15)."""
    sentence = verdict_sentence(result.verdict.value, result.started_at, doc, result.kind)
    return headline_metrics(doc, headlines), tags_of(
        tool=result.tool, policy=result.policy, verdict=result.verdict.value, kind=result.kind,
        suites=[s.suite for s in result.suites], seed=result.seed, datasets=result.datasets, extra=result.extra,
        error=result.error) | browse_tags(sentence, tables)


def _data_inputs(refs: list[ReferenceDataset]) -> list[dict[str, Any]]:
    """The reference datasets as MLflow dataset inputs will show them (a reference to the file, never its rows)."""
    return [data_input(name=ds.name, sha256=ds.sha256, rows=len(ds.frame), path=ds.data_path,
                          columns={str(c): str(t) for c, t in ds.frame.dtypes.items()},
                          card=ds.card.model_dump(mode="json"), card_artifact=f"inputs/{ds.name}.card.yaml")
            for ds in refs]


def _swapped(result: AssessmentResult, before: dict[str, str], after: dict[str, str]) -> AssessmentResult:
    """A file of the tool that changed while it was being assessed makes the run no evidence about either
    version: ERROR, naming the file (policy 4.2)."""
    diff = changed(before, after)
    if not diff:
        return result
    from harness.verdict import Verdict

    message = ("the tool's files changed while it was being assessed (" + "; ".join(diff) + "); the outputs "
               "cannot be attributed to either version. Re-assess with the files left alone")
    return replace(result, verdict=Verdict.ERROR, reasons=[message],
                   error={"type": "ToolChanged", "message": message})


def local_model(manifest: ToolManifest, uri: str, dst: Path) -> Path | None:
    """The local folder of an `mlflow` adapter's `model_uri`, downloaded from the store at `uri` into `dst`; None
    for a tool that names no `model_uri`. The pipeline, not the adapter, reaches the store: the sandboxed
    worker has neither network nor credentials, and no adapter imports the tracking layer."""
    model_uri = getattr(manifest.adapter, "model_uri", None)
    if not model_uri:
        return None
    from harness.tracking.artifacts import download_model

    return download_model(model_uri, uri, dst)


def built_tool(manifest: ToolManifest, obj: Any, uri: str, *, use_cache: bool, policy: Policy) -> Tool:
    """The adapter, built once its `model_uri` (if any) is a local folder; the downloaded copy is removed with
    the tool (or at once when the tool cannot be built)."""
    if not getattr(manifest.adapter, "model_uri", None):
        return load_tool(manifest, obj, use_cache=use_cache, policy=policy)
    dst = Path(tempfile.mkdtemp(prefix="harness-mlflow-model-"))
    try:
        folder = local_model(manifest, uri, dst)
        tool = load_tool(manifest, obj, use_cache=use_cache, policy=policy, model_folder=folder)
    except BaseException:
        shutil.rmtree(dst, ignore_errors=True)
        raise
    weakref.finalize(tool, shutil.rmtree, dst, True)
    return tool


@dataclass(frozen=True)
class Recorded:
    result: AssessmentResult
    out_dir: Path
    tracking_uri: str
    notice: Outcome | None = None  # the FAIL notice (settings.notify), sent after everything was recorded


def run_assessment(
    manifest_path: str | Path,
    datasets: list[str],
    *,
    suites: list[str] | None = None,
    policy_path: str | Path | None = None,
    tracking_uri: str | None = None,
    data_dir: str | Path | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    kind: str = "pre-acquisition",
    tool_obj: Any = None,
    progress: Callable[[str], None] | None = None,
    current: str | Path | None = None,
    submitter: str | None = None,
    plan: Plan | str | None = None,
    use_cache: bool = True,
    monitoring: str | Path | None = None,
    watched: Monitored | None = None,
) -> Recorded:
    """`plan` (a plan id or a `harness.workflows.plan.Plan`) holds the assessment to rules fixed in advance: inputs not
    given are taken from it, and any given input that differs stops the run before anything runs (4.2).
    `use_cache=False` asks a generative endpoint every question afresh (`reassess` always does). `monitoring`: the
    folder of the tool's production samples, recorded in the plan (taken from `plan` when not given); `watched`: the
    production sample a re-assessment runs on (`harness.monitoring`), given by `reassess`."""
    say = progress or (lambda _m: None)
    manifest = load_manifest(manifest_path)
    policy = load_policy(policy_path) if policy_path is not None else _in_force(tracking_uri)
    require_valid_settings(policy, policy_path)  # a misspelt setting stops the run with its line (exit 2)
    # a declared tier below what the impact answers set stops here (exit 2; issue 16), before anything runs
    require_tier(manifest, policy, f"tool manifest {manifest_path}",
                 recorded=lambda: is_registered(resolve_uri(tracking_uri), manifest.id, str(manifest.version)))
    locked: Plan | None = None
    if plan is not None:
        locked = load_plan(_reachable(tracking_uri), plan) if isinstance(plan, str) else plan
        datasets = list(datasets) or [d.ref for d in locked.datasets]
        suites = list(suites or []) or list(locked.suites)
        seed = locked.seed if seed is None else seed
        monitoring = locked.monitoring if monitoring is None else monitoring
    suite_objs = resolve(suites, manifest.category, policy.required_suites)
    if not datasets:
        from harness.errors import ConfigError

        raise ConfigError("no dataset given: pass --dataset NAME (see `harness datasets list`)")
    # what this run will be held to and records (inputs/plan.json), from the cards before any data is read
    inputs = Plan(tool=manifest.id, version=str(manifest.version), manifest_digest=manifest_digest(manifest_path),
                  suites=tuple(s.name for s in suite_objs), datasets=tuple(dataset_facts(list(datasets))),
                  policy=policy.label, policy_digest=policy.digest, seed=policy.seed if seed is None else seed,
                  manifest=str(Path(manifest_path).resolve()), monitoring=monitoring_source(monitoring))
    if locked is not None:
        hold_to(locked, inputs)
    say("verifying datasets")
    refs = [load_dataset(d, data_dir) for d in datasets]
    current_frame = load_current(current, refs[0]) if current is not None else None
    recorded: tuple[RecordedOutputs, ...] = ()
    after: Callable[[list[SuiteResult]], list[SuiteResult]] | None = None
    if watched is not None:  # a production sample: drift against it, bias and performance on its recorded decisions
        if watched.current is not None:
            current_frame = watched.current
        recorded = recorded_outputs(watched.choice)
        choice = watched.choice

        def monitored(results: list[SuiteResult]) -> list[SuiteResult]:
            return [monitoring_result(choice)]

        after = monitored
    # the checks that read only the data (Great Expectations) start now, in a second process when a core is
    # spare, so that their imports and work overlap the store, the tool's load and the checks that call it
    # (harness.background); whatever stops the run before they are collected drops them
    early = DataChecks.start(refs, suite_objs, policy, manifest, seed)
    try:
        store = Store.open(tracking_uri)  # resolved and reached once; the assessment run is recorded through it
        uri = store.uri
        early.idle = lambda: store.client  # MLflow's import and the store's opening, while the worker finishes
        # who starts it (separation of duties, policy 4.1): on a server with authentication the login, checked
        # before anything runs; a `--by` or $HARNESS_USER naming someone else is refused (issue 12)
        who = actor_name(uri, submitter, "person starting the assessment", f"assessment of {manifest.id}")
        baseline = approved_baseline(uri, manifest.id, str(manifest.version))
        # the bytes this version is made of (issue 11): a changed manifest or model under a registered version
        # stops before anything runs; the same digests are taken again after the run to catch a swap meanwhile
        artifacts = artifact_digests(manifest, tool_obj, policy=policy)
        preflight(uri, manifest, manifest_path, artifacts)
        tool = built_tool(manifest, tool_obj, uri, use_cache=use_cache, policy=policy)
        try:
            result = assess(manifest, tool, refs, suite_objs, policy, seed=seed, kind=kind, progress=say,
                            current=current_frame, baseline=baseline[1] if baseline else None,
                            baseline_run=baseline[0] if baseline else None, early=early, recorded=recorded,
                            after=after, current_unverified=watched is not None and watched.unverified)
        finally:  # a sandboxed tool's worker process ends with the assessment, not at garbage collection
            close = getattr(tool, "close", None)
            if callable(close):
                close()
    finally:
        early.cancel()
    # who started it and which manifest: the approval gate's separation of duties and version match
    inputs = replace(inputs, by=who, at=result.started_at)
    result = _swapped(result, artifacts, artifact_digests(manifest, tool_obj, policy=policy))
    cache = getattr(tool, "cache_stats", None)
    from harness.gate.identity import AUTHENTICATED, UNAUTHENTICATED, server_user

    identity = AUTHENTICATED if server_user(uri) is not None else UNAUTHENTICATED
    result = replace(result, extra={**result.extra, "manifest_digest": inputs.manifest_digest, "submitter": who,
                                    "identity": identity,
                                    "suite_provenance": provenance([s.name for s in suite_objs]),
                                    "inputs_sha256": inputs.sha256, "artifacts": artifacts,
                                    "artifacts_digest": combined(artifacts),
                                    **({"cache": dict(cache)} if cache else {}),
                                    **(watched.extra() if watched is not None else {}),
                                    **({"plan": locked.plan_id} if locked is not None and locked.plan_id else {})})

    say("recording the assessment in MLflow")
    run = AssessmentRun(store, manifest.id, f"{manifest.id} {manifest.version} {kind}")
    ok = False
    try:
        result = result.with_run_id(run.run_id)
        out_dir = Path(out) if out else Path("reports") / manifest.id / run.run_id
        # the tool's earlier assessments and, for a re-assessment, what moved since the approval (issue 16)
        from harness.report.view import build_view
        from harness.workflows.trend import history_of

        doc = result.to_dict()  # what assessment.json holds: the trend, the JSON report and the tables read it
        history = history_of(store, doc, baseline[0] if baseline else None)
        view = build_view(result, history)  # the reports' and the memo's
        files: list[tuple[Path, str | None]] = [(p, None) for p in write_reports(result, out_dir, history, doc=doc,
                                                                                  view=view)]
        folder_in = out_dir / "inputs"
        folder_in.mkdir(exist_ok=True)
        shutil.copyfile(manifest_path, folder_in / "tool.yaml")
        (folder_in / "policy.yaml").write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
        (folder_in / "plan.json").write_text(inputs.text, encoding="ascii")
        files += [(folder_in / "tool.yaml", "inputs"), (folder_in / "policy.yaml", "inputs"),
                  (folder_in / "plan.json", "inputs")]
        for ds in [*refs, *(r.dataset for r in recorded)]:
            card_copy = folder_in / f"{ds.name}.card.yaml"
            shutil.copyfile(ds.card_path, card_copy)
            files.append((card_copy, "inputs"))
        for suite in result.suites:
            for name, content in suite.artifacts.items():
                folder = out_dir / "artifacts" / f"{suite.suite}-{suite.dataset}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{name}.json"
                path.write_text(json.dumps(jsonable(content), indent=1, allow_nan=False))
                files.append((path, f"artifacts/{suite.suite}-{suite.dataset}"))
        headlines = {s.name: tuple(s.headline) for s in suite_objs}
        table_files = write_tables(doc, headlines, out_dir)
        files += [(p, folder) for p, folder in table_files]
        evidence_file = out_dir / EVIDENCE
        evidence_file.write_text(evidence_text(files), encoding="ascii")
        files.append((evidence_file, None))
        run.record(*_tracked(result, doc, headlines, table_files), files, datasets=_data_inputs(refs))
        ok = True
    except OSError as e:
        raise TrackingError(f"could not write the reports or artifacts: {e}") from None
    finally:
        run.close(ok and result.error is None)
    say("recording the assessment in the approval gate")
    try:
        on_assessed(uri, manifest, manifest_path, run.run_id, result.verdict.value,
                    evidence=evidence_of(evidence_file, suites=[s.suite for s in result.suites], policy=result.policy,
                                         category=result.tool["category"], kind=result.kind, extra=result.extra,
                                         tool=result.tool))
    except GateError as e:  # the evidence is kept; say so, so nobody re-runs a costly assessment for nothing
        raise GateError(f"the assessment is recorded as run {run.run_id} (verdict {result.verdict.value}, reports in "
                        f"{out_dir}), but the approval gate could not record it: {e}") from None
    say("writing the decision memo")
    # a rendering of the record, not evidence (not in evidence.json): re-rendered when a decision is recorded
    from harness.workflows.memo import record_memo

    record_memo(uri, result, out_dir, view=view, history=history)
    # last, once the run and the gate's record are complete: a notice that cannot be sent changes neither (a line on
    # stderr says so; harness.notify.send)
    from harness.notify.send import notify_failure

    return Recorded(result=result, out_dir=out_dir, tracking_uri=uri, notice=notify_failure(store, result, policy))
