"""Regression against the tool version's last approved assessment (policy 4.3: regular re-assessment).

Rules come from the policy (`settings.degradation.regression`), one per metric pattern, in the
vocabulary of MLflow's `MetricThreshold`:

    - {metric: "bias.demographic_parity.ratio*", greater_is_better: true,
       min_absolute_change: 0.05, min_relative_change: 0.10, severity: blocking}

`metric` is an `fnmatch` pattern on the MLflow metric name (`<suite>.<check>.<metric>[.<group>]`,
as `harness.tracking.metrics_of` writes them); the first rule that matches a metric applies.

The numbers mean what they mean in MLflow, asked the other way round. MLflow's champion/challenger
validation requires a candidate to *improve* on its baseline by at least `min_absolute_change`
(and by `min_relative_change` x |baseline|) to pass. A re-assessment of the same tool version is
expected to stay put, not to improve, so here they are the smallest *worsening* that counts as a
regression: a metric regresses when it moved in its worse direction by at least
max(min_absolute_change, min_relative_change x |baseline|) — both tolerances must be exceeded, so a
metric near zero (where any wobble is a large relative change) is not flagged for noise. With
neither set, any worsening is a regression. `greater_is_better: null` (absent) means the metric has
no better side (a selection rate): a change either way beyond the tolerance is a regression. A
regression is a FAIL of the rule's severity (advisory by default: a human looks at what changed).

Baseline values are points (MLflow keeps no intervals), so the comparison is of points.

Where it runs. The checks of one suite cannot see other suites' measurements, so `Regression`
(the suite's last check) compares only what this suite measured in this run — the robustness,
graceful-failure and its own figures (accuracy, AUC and selection rates on the reference data) —
with the baseline's `degradation.*` metrics. `compare_to_baseline` is the general form: called by the
assessment after all suites ran, with `metrics_of(result)` and the baseline, it compares every
metric the rules name (bias, data quality, degradation).
"""
from __future__ import annotations

import math
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.check import CheckContext, CheckOutput, Measurement
from harness.errors import ConfigError
from harness.findings import Finding, Severity, Status
from harness.measures.counts import build_groupings
from harness.tracking import metric_key
from test_suites.degradation.common import (
    MEASURED,
    REFERENCE_AUC,
    SUITE,
    DegradationCheck,
    favourable,
    setting,
    skipped,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

CHECK = "regression"
METRIC = "vs_baseline"
EPS = 1e-12  # float noise: 0.8 - 0.79 is not quite 0.01


class RegressionRule(BaseModel):
    """How far one metric (pattern) may move from the approved baseline before it is a regression."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(min_length=1)
    greater_is_better: bool | None = None
    min_absolute_change: float | None = Field(None, ge=0)
    min_relative_change: float | None = Field(None, ge=0)
    severity: Severity = Severity.ADVISORY
    policy_section: str = "4.3"

    def matches(self, name: str) -> bool:
        return fnmatchcase(name, self.metric)

    def tolerance(self, baseline: float) -> float:
        """The smallest worsening that counts: both tolerances must be exceeded."""
        return max(self.min_absolute_change or 0.0, (self.min_relative_change or 0.0) * abs(baseline))

    def worsening(self, baseline: float, current: float) -> float:
        """How much worse the metric got (negative: better); two-sided rules count any change."""
        change = current - baseline
        if self.greater_is_better is None:
            return abs(change)
        return -change if self.greater_is_better else change

    def describe(self) -> str:
        side = {True: "higher is better", False: "lower is better", None: "a change either way counts"}
        parts = [f"rule {self.metric!r}: {side[self.greater_is_better]}"]
        if self.min_absolute_change:
            parts.append(f"absolute tolerance {self.min_absolute_change:g}")
        if self.min_relative_change:
            parts.append(f"relative tolerance {self.min_relative_change:.0%}")
        return ", ".join(parts)


def parse_rules(raw: Iterable[Any] | None) -> list[RegressionRule]:
    """Rules from the policy's settings; a malformed rule is a ConfigError naming it."""
    rules = []
    for i, r in enumerate(raw or []):
        if isinstance(r, RegressionRule):
            rules.append(r)
            continue
        try:
            rules.append(RegressionRule.model_validate(r))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'rule'}: {err['msg']}" for err in e.errors())
            raise ConfigError(f"settings.degradation.regression[{i}] ({r!r}) is not a valid rule: {problems}. "
                              f"A rule is {{metric: PATTERN, greater_is_better: true|false|null, "
                              f"min_absolute_change: X, min_relative_change: Y, severity: advisory|blocking}}"
                              ) from None
    return rules


def rule_for(name: str, rules: list[RegressionRule]) -> RegressionRule | None:
    return next((r for r in rules if r.matches(name)), None)


def compare_to_baseline(current_metrics: Mapping[str, float], baseline: Mapping[str, float],
                        rules: Iterable[RegressionRule | Mapping[str, Any]], *, dataset: str | None = None,
                        baseline_run: str | None = None, prefixes: tuple[str, ...] | None = None) -> list[Finding]:
    """One finding per baseline metric that a rule names (and that starts with one of `prefixes`):
    FAIL when it regressed beyond the rule's tolerance, PASS when it held or improved, INSUFFICIENT
    when this assessment has no value for it (fail closed: a figure that disappeared is not a pass).
    Metrics new in this assessment have nothing to compare with and get no finding."""
    parsed = parse_rules(rules)
    run = f" (run {baseline_run})" if baseline_run else ""
    out: list[Finding] = []
    for name in sorted(baseline):
        if prefixes is not None and not name.startswith(prefixes):
            continue
        rule = rule_for(name, parsed)
        if rule is None:
            continue
        before = float(baseline[name])
        now = current_metrics.get(name)
        common: dict[str, Any] = {
            "suite": SUITE, "check": CHECK, "metric": METRIC, "group": name, "severity": rule.severity,
            "baseline": before, "greater_is_better": rule.greater_is_better, "policy_section": rule.policy_section,
            "benchmark": "MLflow MetricThreshold (min_absolute_change, min_relative_change), as a regression "
                         "tolerance", "dataset": dataset}
        if now is None or not math.isfinite(float(now)) or not math.isfinite(before):
            out.append(Finding(status=Status.INSUFFICIENT, **common,
                               details={"rule": rule.metric, "baseline_run": baseline_run},
                               message=(f"{name} was {before:.4g} in the approved assessment{run} but has no value "
                                        f"in this one, so whether it regressed cannot be judged.")))
            continue
        now = float(now)
        tol = rule.tolerance(before)
        worse = rule.worsening(before, now)
        regressed = worse > EPS and worse >= tol - EPS
        change = now - before
        rel = change / abs(before) if before else float("nan")
        threshold = {None: None, True: before - tol, False: before + tol}[rule.greater_is_better]
        if regressed:
            verdict = f"worse by {worse:.4g}, at least the tolerated {tol:.4g}: a regression"
        elif worse > EPS:
            verdict = f"worse by {worse:.4g}, within the tolerated {tol:.4g}"
        else:
            verdict = "no worse than approved"
        rel_text = "" if not math.isfinite(rel) else f", {rel:+.1%}"
        out.append(Finding(
            status=Status.FAIL if regressed else Status.PASS, value=now, threshold=threshold, **common,
            details={"rule": rule.metric, "change": change, "relative_change": rel if math.isfinite(rel) else None,
                     "worsening": worse, "tolerance": tol, "baseline_run": baseline_run,
                     "min_absolute_change": rule.min_absolute_change,
                     "min_relative_change": rule.min_relative_change},
            message=(f"{name} moved from {before:.4g} in the approved assessment{run} to {now:.4g} "
                     f"({change:+.4g}{rel_text}): {verdict} ({rule.describe()}).")))
    return out


def baseline_for_dataset(baseline: Mapping[str, float], dataset: str) -> dict[str, float]:
    """The baseline's metrics of one dataset: an assessment of several datasets appends the dataset's
    name to every metric (`metrics_of`), so those keys are read without it, ahead of unsuffixed ones."""
    suffix = f".{metric_key(dataset)}"
    out = {k: float(v) for k, v in baseline.items() if not k.endswith(suffix)}
    out.update({k[: -len(suffix)]: float(v) for k, v in baseline.items() if k.endswith(suffix)})
    return out


class Regression(DegradationCheck):
    """The suite's own figures against the approved baseline; runs last, after the other checks."""

    name = CHECK
    description = ("Accuracy, AUC and selection rates on the reference data, and this suite's degradation figures, "
                   "against the tool version's last approved assessment, with per-metric tolerances.")
    policy_section = "4.3"

    def measure(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        out.measurements.extend(reference_metrics(ctx))
        if ctx.baseline is None:
            m = ctx.manifest
            out.findings.append(skipped(self, ctx, METRIC, f"no approved baseline for {m.id} {m.version}: no "
                                        f"earlier assessment of this version was approved, so there is nothing to "
                                        f"compare with; this run's figures can become the baseline"))
            return out
        rules = parse_rules(setting(ctx, "regression"))
        current = {metric_key(k): v for k, v in ctx.cache.get(MEASURED, {}).items()}
        current.update({metric_key(m.key): float(m.value) for m in out.measurements if np.isfinite(m.value)})
        baseline = baseline_for_dataset(ctx.baseline, ctx.dataset.name)
        found = compare_to_baseline(current, baseline, rules, dataset=ctx.dataset.name,
                                    baseline_run=ctx.baseline_run, prefixes=(f"{SUITE}.",))
        if not found:
            out.findings.append(skipped(self, ctx, METRIC, "the approved assessment has no degradation metric that "
                                        "a regression rule of the policy names; nothing was compared"))
        out.findings.extend(found)
        out.tables[f"{SUITE}.regression"] = [
            {"metric": f.group, "baseline": f.baseline, "current": f.value, "status": f.status.value,
             "change": f.details.get("change"), "tolerance": f.details.get("tolerance"), "rule": f.details.get("rule")}
            for f in found]
        return out


def reference_metrics(ctx: CheckContext) -> list[Measurement]:
    """Accuracy, AUC and favourable-decision rates (overall and per protected group) on the reference
    data: the same tool version on the same data should give the same figures, so a change means the
    tool (an endpoint, a retrained model behind the same version) or the data changed."""
    y = ctx.dataset.y_favorable
    pred = favourable(ctx, ctx.predictions.labels)
    n = len(y)
    out = [Measurement(SUITE, CHECK, "accuracy", float((pred == y).mean()) if n else float("nan"), n=n),
           Measurement(SUITE, CHECK, "selection_rate", float(pred.mean()) if n else float("nan"), n=n)]
    scores = ctx.predictions.scores
    if scores is not None and 0 < y.sum() < n:
        from test_suites.degradation.robustness import auc_and_components

        s = np.asarray(scores, dtype=float)
        ok = np.isfinite(s)
        if 0 < y[ok].sum() < ok.sum():
            known = ctx.cache.get(REFERENCE_AUC)
            if known is not None and known[0] is ctx.predictions and ok.all():
                auc = known[1]  # robustness sorted these very scores already: one sort of a million, not two
            else:
                auc = auc_and_components(s[ok], y[ok])[0]
            out.append(Measurement(SUITE, CHECK, "auc", auc, n=int(ok.sum())))
    refs: dict[str, object] = {a: p.reference for a, p in ctx.dataset.card.protected_attributes.items()}
    for g in build_groupings(ctx.frame, refs) if refs else []:
        if len(g.attributes) != 1:
            continue
        sizes = np.bincount(g.codes, minlength=len(g.labels))
        chosen = np.bincount(g.codes, weights=pred, minlength=len(g.labels))
        for i in range(len(g.labels)):
            if sizes[i]:
                out.append(Measurement(SUITE, CHECK, "selection_rate", float(chosen[i] / sizes[i]),
                                       group=g.group_key(i), n=int(sizes[i])))
    return out


def compare_other_suites(ctx: CheckContext, results: list[Any]) -> CheckOutput | None:
    """The other suites' metrics of this dataset (bias, data quality ...) against the approved
    baseline, once they have all run; this suite's own figures are compared by `Regression`."""
    if ctx.baseline is None:
        return None
    current = {metric_key(m.key): float(m.value) for r in results if r.suite != SUITE
               for m in r.measurements if m.value is not None and np.isfinite(m.value)}
    prefixes = tuple(f"{r.suite}." for r in results if r.suite != SUITE)
    if not prefixes:
        return None
    found = compare_to_baseline(current, baseline_for_dataset(ctx.baseline, ctx.dataset.name),
                                parse_rules(setting(ctx, "regression")), dataset=ctx.dataset.name,
                                baseline_run=ctx.baseline_run, prefixes=prefixes)
    out = CheckOutput(findings=found)
    out.tables[f"{SUITE}.regression.other_suites"] = [
        {"metric": f.group, "baseline": f.baseline, "current": f.value, "status": f.status.value,
         "change": f.details.get("change"), "tolerance": f.details.get("tolerance"), "rule": f.details.get("rule")}
        for f in found]
    return out
