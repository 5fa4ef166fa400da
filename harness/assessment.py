"""One assessment: tool x datasets x suites -> findings -> verdict (DESIGN.md "One assessment").

The result is immutable and serialises to `assessment.json`, which holds everything needed to
re-render every report without the tool, the data or the suites.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from harness import __version__
from harness.check import CheckContext, CheckOutput, Measurement
from harness.decision import apply_decision_rule, not_tested
from harness.errors import HarnessError, ToolConfigError, ToolError
from harness.findings import Finding, Severity, Status
from harness.redact import mask_tree
from harness.tools.labels import check_labels
from harness.verdict import SuiteResult, Verdict, decide

if TYPE_CHECKING:
    import pandas as pd

    from harness.background import Pending
    from harness.check import Check, Suite
    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.policy import Policy
    from harness.tools.base import Predictions, Tool

SCHEMA = "harness.assessment/1"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AssessmentResult:
    tool: dict[str, Any]
    policy: dict[str, Any]
    datasets: list[dict[str, Any]]
    suites: tuple[SuiteResult, ...]
    verdict: Verdict
    reasons: list[str]
    seed: int
    kind: str = "pre-acquisition"
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    error: dict[str, str] | None = None
    run_id: str | None = None
    harness_version: str = __version__
    schema: str = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.suites for f in s.findings]

    @property
    def measurements(self) -> list[Measurement]:
        return [m for s in self.suites for m in s.measurements]

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def with_run_id(self, run_id: str) -> AssessmentResult:
        return replace(self, run_id=run_id)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "schema": self.schema, "harness_version": self.harness_version, "run_id": self.run_id,
            "kind": self.kind, "started_at": self.started_at, "finished_at": self.finished_at,
            "duration_s": self.duration_s, "seed": self.seed, "tool": self.tool, "policy": self.policy,
            "datasets": self.datasets, "verdict": self.verdict.value, "exit_code": self.exit_code,
            "reasons": self.reasons, "error": self.error,
            "suites": [s.to_dict() for s in self.suites], "extra": self.extra,
        })

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AssessmentResult:
        if not str(d.get("schema", "")).startswith("harness.assessment/"):
            raise HarnessError("this JSON is not a harness assessment (no 'schema' field)")
        return cls(
            tool=d["tool"], policy=d["policy"], datasets=d["datasets"],
            suites=tuple(SuiteResult.from_dict(s) for s in d["suites"]), verdict=Verdict(d["verdict"]),
            reasons=d["reasons"], seed=d["seed"], kind=d["kind"], started_at=d["started_at"],
            finished_at=d["finished_at"], duration_s=d["duration_s"], error=d.get("error"),
            run_id=d.get("run_id"), harness_version=d["harness_version"], schema=d["schema"],
            extra=d.get("extra", {}),
        )


def jsonable(obj: Any) -> Any:
    """JSON has no NaN or infinity: an undefined figure anywhere (details, tables) becomes null, and
    numpy scalars become plain numbers, so assessment.json is strict JSON. Everything written as JSON passes
    here (assessment.json, each suite's artifacts), so this is also where personal data in text is masked
    (`harness.redact.mask_tree`, issue 12): answers, item ids and error messages, never a number."""
    return mask_tree(_plain(obj))


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool | str) or obj is None:
        return obj
    if isinstance(obj, int | float) or hasattr(obj, "item"):
        value = obj.item() if hasattr(obj, "item") else obj
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    return obj


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_key(check: Check) -> str:
    return f"{type(check).__module__}.{type(check).__qualname__}:{check!r}"


class DataChecks:
    """The data-only checks (`Check.data_only`) of every suite and dataset, started before the tool is loaded
    so that their imports and work overlap the tool's (`harness.background`); each suite takes its outcomes
    when it runs. A check the suite no longer lists when it runs (its list depends on the context) is simply
    run there; an outcome nobody takes is dropped."""

    def __init__(self) -> None:
        self._started: dict[tuple[str, str], tuple[list[str], Pending[list[CheckOutput | Exception]]]] = {}
        self.idle: Callable[[], object] | None = None
        """Work the caller needs later anyway, done (once) instead of waiting idle for the worker: the pipeline
        opens the tracking store here. Its errors are left for the later use to raise."""

    @classmethod
    def start(cls, datasets: list[ReferenceDataset], suites: list[Suite], policy: Policy, manifest: ToolManifest,
              seed: int | None = None) -> DataChecks:
        from harness.background import submit
        from harness.check import run_data_checks

        early = cls()
        seed = policy.seed if seed is None else seed
        for ds in datasets:
            ctx = CheckContext(dataset=ds, predictions=cast("Predictions", None), policy=policy, manifest=manifest,
                               seed=seed)
            for suite in suites:
                if suite.applies_to(ds):
                    continue
                try:
                    checks = [c for c in suite.checks(ctx) if c.data_only]
                except Exception:  # the suite decides with the full context when it runs
                    continue
                if checks:
                    early._started[(ds.name, suite.name)] = ([_check_key(c) for c in checks],
                                                             submit(run_data_checks, checks, ctx))
        return early

    def take(self, dataset: str, suite: str) -> dict[str, CheckOutput | Exception]:
        """The outcomes of `suite`'s data-only checks on `dataset`, by check key (waits for them)."""
        started = self._started.pop((dataset, suite), None)
        if started is None:
            return {}
        keys, pending = started
        if self.idle is not None and not pending.done():
            idle, self.idle = self.idle, None
            with contextlib.suppress(Exception):  # raised again, where it belongs, when the work is used
                idle()
        return dict(zip(keys, pending.result(), strict=True))

    def discard(self, dataset: str) -> None:
        """Forget what was started on `dataset`: the checks will run in place on the data as it now is (the rows
        a tool answered, `answered_rows`), not on the data they were started with."""
        for key in [k for k in self._started if k[0] == dataset]:
            self._started.pop(key)[1].cancel()

    def cancel(self) -> None:
        for _keys, pending in self._started.values():
            pending.cancel()
        self._started.clear()


def run_suite(suite: Suite, ctx: CheckContext, early: DataChecks | None = None) -> SuiteResult:
    """Run every check of a suite; a check that raises becomes an ERROR finding, not a crash. A data-only
    check started early (`DataChecks`) contributes its outcome in its place in the suite's order, so the result
    is the one running it here would give."""
    findings: list[Finding] = []
    measurements: list[Measurement] = []
    tables: dict[str, list[dict[str, Any]]] = {}
    artifacts: dict[str, Any] = {}
    outcomes = early.take(ctx.dataset.name, suite.name) if early is not None else {}
    for check in suite.checks(ctx):
        try:
            done = outcomes.get(_check_key(check))
            if isinstance(done, Exception):
                raise done
            out: CheckOutput = done if done is not None else check.run(ctx)
        except Exception as e:  # one broken check must not hide the others' evidence
            findings.append(Finding(
                suite=suite.name, check=check.name, metric="error", status=Status.ERROR,
                severity=Severity.BLOCKING, dataset=ctx.dataset.name, policy_section=check.policy_section,
                message=f"check {check.name!r} could not compute: {type(e).__name__}: {e}",
            ))
            continue
        measurements.extend(out.measurements)
        findings.extend(out.findings)
        tables.update(out.tables)
        artifacts.update(out.artifacts)
        for m in out.measurements:
            msg = out.messages.get(m.key, f"{m.key} = {m.value:.4g}")
            f = ctx.policy.evaluate(m, ctx.tier, message=msg, dataset=ctx.dataset.name)
            if f is not None:
                findings.append(f)
    return SuiteResult(suite=suite.name, suite_version=suite.version, dataset=ctx.dataset.name,
                       findings=tuple(findings), measurements=tuple(measurements), tables=tables,
                       artifacts=artifacts)


def merge_output(result: SuiteResult, out: CheckOutput, ctx: CheckContext) -> SuiteResult:
    """Add a late check's output (`Suite.after_all`) to a suite's result, judged like any check's."""
    findings = list(out.findings)
    for m in out.measurements:
        f = ctx.policy.evaluate(m, ctx.tier, message=out.messages.get(m.key, f"{m.key} = {m.value:.4g}"),
                                dataset=ctx.dataset.name)
        if f is not None:
            findings.append(f)
    return replace(result, findings=(*result.findings, *findings),
                   measurements=(*result.measurements, *out.measurements),
                   tables={**result.tables, **out.tables}, artifacts={**result.artifacts, **out.artifacts})


@dataclass(frozen=True)
class RecordedOutputs:
    """A production sample with the decisions the tool recorded on it (harness.monitoring, issue 16): assessed by
    the named suites on those decisions, as they reached residents, without calling the tool."""

    dataset: ReferenceDataset
    predictions: Predictions
    suites: tuple[str, ...]
    current: pd.DataFrame | None = None  # the data the drift check compares this sample with


def assess(
    manifest: ToolManifest,
    tool: Tool,
    datasets: list[ReferenceDataset],
    suites: list[Suite],
    policy: Policy,
    *,
    seed: int | None = None,
    kind: str = "pre-acquisition",
    progress: Progress | None = None,
    current: pd.DataFrame | None = None,
    baseline: dict[str, float] | None = None,
    baseline_run: str | None = None,
    early: DataChecks | None = None,
    recorded: tuple[RecordedOutputs, ...] = (),
    after: Callable[[list[SuiteResult]], list[SuiteResult]] | None = None,
    current_unverified: bool = False,
) -> AssessmentResult:
    """Run the assessment. A tool that fails to predict yields verdict ERROR with the error kept,
    so the attempt is still recorded (policy 3.2). `early`: the data-only checks the pipeline started before
    loading the tool (`DataChecks.start`, same datasets, suites, policy, manifest and seed). `recorded`: production
    samples judged on their recorded decisions, after the datasets; `after`: results added from the others' (the
    monitoring findings), judged with them by the decision rule."""
    say = progress or (lambda _msg: None)
    seed = policy.seed if seed is None else seed
    started, t0 = _now(), time.perf_counter()
    results: list[SuiteResult] = []
    error: dict[str, str] | None = None
    if hasattr(tool, "progress") and tool.progress is None:  # adapters that call out report "x/y answered"
        tool.progress = say
    for ds in datasets:
        say(f"predicting {ds.name} ({len(ds.frame):,} rows) with {manifest.id}")
        try:
            preds: Predictions = check_labels(tool.predict(ds), ds, manifest)  # 0/1 against ">50K": exit 2
        except ToolConfigError:
            raise  # the user's input is wrong (a missing id, a bad file): exit 2, nothing to record
        except ToolError as e:
            error = {"type": type(e).__name__, "message": str(e), "dataset": ds.name}
            if early is not None:
                early.cancel()
            break
        # rows the tool gave no usable output for (an endpoint's per-row errors): every check sees the answered
        # rows only, and the rows left out are one blocking ERROR finding (see answered_rows)
        ds, preds, unanswered = answered_rows(ds, preds, manifest.category)
        if unanswered is not None and early is not None:
            early.discard(ds.name)
        ctx = CheckContext(dataset=ds, predictions=preds, policy=policy, manifest=manifest, seed=seed, tool=tool,
                           current=current, baseline=baseline, baseline_run=baseline_run,
                           current_unverified=current_unverified)
        for suite in suites:
            reason = suite.applies_to(ds)
            if reason:
                results.append(SuiteResult(suite=suite.name, suite_version=suite.version,
                                           dataset=ds.name, skipped_reason=reason))
                continue
            say(f"suite {suite.name} on {ds.name}")
            results.append(run_suite(suite, ctx, early))
        here = [r for r in results if r.dataset == ds.name]
        for suite in suites:
            extra = suite.after_all(ctx, here)
            if extra is not None:
                i = next(i for i, r in enumerate(results) if r.dataset == ds.name and r.suite == suite.name)
                results[i] = merge_output(results[i], extra, ctx)
        if unanswered is not None:
            results.append(unanswered)
    for rec in recorded if error is None else ():
        say(f"suites {', '.join(rec.suites)} on the recorded decisions of {rec.dataset.name}")
        ctx = CheckContext(dataset=rec.dataset, predictions=rec.predictions, policy=policy, manifest=manifest,
                           seed=seed, recorded=True, current=rec.current)
        for suite in suites:
            if suite.name in rec.suites and not suite.applies_to(rec.dataset):
                results.append(run_suite(suite, ctx))
    if after is not None and error is None:
        results += after(results)
    notes = [str(n) for n in getattr(tool, "notes", None) or []]
    isolation = isolation_result(notes, [d.name for d in datasets])
    if isolation is not None:
        results.append(isolation)
    results = apply_decision_rule(results, policy)
    findings = [f for r in results for f in r.findings]
    if error is not None:
        verdict, reasons = Verdict.ERROR, [error["message"]]
    else:
        verdict, reasons = decide(findings, not_tested(results, policy, manifest.risk_tier, manifest.category))
        if not findings and verdict is Verdict.PASS:
            verdict, reasons = Verdict.NEEDS_REVIEW, ["no check produced a finding; nothing was judged"]
    return AssessmentResult(
        tool=tool_block(manifest, policy),
        policy={"name": policy.name, "version": policy.version, "digest": policy.digest,
                "label": policy.label, "decision_rule": policy.decision_rule,
                "document": policy.model_dump(mode="json")},
        datasets=[d.summary() for d in datasets] + [{**r.dataset.summary(), "recorded_decisions": True}
                                                    for r in recorded], suites=tuple(results), verdict=verdict,
        reasons=reasons, seed=seed, kind=kind, started_at=started, finished_at=_now(),
        duration_s=round(time.perf_counter() - t0, 3), error=error,
        extra={"tool_notes": notes} if notes else {},
    )


def tool_block(manifest: ToolManifest, policy: Policy) -> dict[str, Any]:
    """assessment.json's `tool`: the manifest, and with an impact questionnaire the tier its answers set under this
    policy (`tier`: declared, minimum, reasons; issue 16), so the evidence an approval rests on says why the tool
    was held to its tier. Without one the block is the manifest alone, as before questionnaires existed."""
    block = manifest.model_dump(mode="json")
    if manifest.impact is not None:
        from harness.tiering import floor

        block["tier"] = floor(manifest, policy).as_dict()
    return block


UNANSWERED_SHOWN = 5  # rows named in the finding's message and details


def answered_rows(ds: ReferenceDataset, preds: Predictions, category: str,
                  ) -> tuple[ReferenceDataset, Predictions, SuiteResult | None]:
    """The dataset and predictions restricted to the rows a predictive tool answered, and a `tool` result with one
    blocking ERROR finding naming the rows it did not (None, and the inputs unchanged, when it answered every row).

    A predictive tool reports rows it has no usable output for in `Predictions.errors` (the `http` adapter: a batch
    that failed after its retries, a result missing for its id, a label outside the classes). No check may read a
    placeholder as a decision, so every check sees the answered rows only (ids and row numbers kept). And the rows
    left out are blocking (a blocking ERROR counts as FAIL): a vendor must not pass by failing exactly the rows
    that would show a disparity. Generative tools report failed items through their own suites
    (`harness.check.unanswered`), so they pass through unchanged."""
    import numpy as np
    import pandas as pd

    errors = preds.errors
    if category == "generative" or preds.answers is not None or errors is None or all(e is None for e in errors):
        return ds, preds, None
    keep = np.array([e is None for e in errors], dtype=bool)
    if len(keep) != len(ds.frame):
        raise ToolError(f"the tool returned {len(keep):,} row errors for {len(ds.frame):,} rows; expected one per row")
    ids = ds.ids.astype(str).to_numpy()
    bad = np.flatnonzero(~keep)
    first = [{"id": str(ids[i]), "error": str(errors[i])} for i in bad[:UNANSWERED_SHOWN]]
    named = ", ".join(f["id"] for f in first) + (", ..." if len(bad) > UNANSWERED_SHOWN else "")
    n, k = len(keep), len(bad)
    finding = Finding(
        suite="tool", check="outputs", metric="row_errors", status=Status.ERROR, severity=Severity.BLOCKING,
        policy_section="4.2", dataset=ds.name, value=k / n, threshold=0.0, greater_is_better=False, n=n,
        message=(f"The tool gave no usable output for {k:,} of {n:,} rows ({k / n:.1%}: {named}; first error: "
                 f"{errors[bad[0]]}). "
                 f"Every other figure is computed on the {n - k:,} rows it answered; since the rows left out could be "
                 f"the ones that would show a disparity, this counts as a failure until the tool answers every row."),
        details={"rows": k, "of": n, "first": first})
    result = SuiteResult(suite="tool", suite_version=__version__, dataset=ds.name, findings=(finding,))
    labels = np.asarray(preds.labels)[keep]
    if labels.dtype == object:  # the dtype the labels would have had with no row missing (0/1 as int64)
        labels = pd.Series(labels.tolist(), dtype=None).to_numpy() if len(labels) else labels
    scores = None if preds.scores is None else np.asarray(preds.scores)[keep]
    answered = replace(ds, frame=ds.frame.loc[keep])
    return answered, replace(preds, labels=labels, scores=scores, errors=None), result


def isolation_result(notes: list[str], datasets: list[str]) -> SuiteResult | None:
    """A tool whose code ran without the sandbox (the subprocess fallback of `harness.sandbox`) gets an
    advisory FAIL, so the verdict is at best NEEDS_REVIEW: a reviewer must accept that the vendor's code
    ran with the harness user's file-system and network access (policy 1.3, 1.4)."""
    from harness.sandbox.mode import FALLBACK_PREFIX

    fallback = [n for n in notes if n.startswith(FALLBACK_PREFIX)]
    if not fallback:
        return None
    finding = Finding(suite="tool", check="isolation", metric="sandbox", status=Status.FAIL,
                      severity=Severity.ADVISORY, policy_section="1.3", dataset=", ".join(datasets) or None,
                      message=fallback[0])
    return SuiteResult(suite="tool", suite_version=__version__, dataset=", ".join(datasets), findings=(finding,))
