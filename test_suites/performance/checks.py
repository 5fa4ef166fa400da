"""The performance suite's checks: does the tool beat chance, does it do what its vendor claims, and does it
work for every protected group (Code of Ethics, "Safety, Security, and Validity"; policy 4.2).

A tool can be perfectly fair and useless: a coin flip treats every group alike. The bias suite cannot see
that, so this suite asks first whether the tool's decisions carry any information about the outcome at all.
Every figure is closed-form (metrics.py), so it has an interval and, against a policy margin or a vendor's
claim, a one-sided p-value from the same interval family.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.check import Check, CheckContext, CheckOutput, Measurement
from harness.datasets import matches
from harness.findings import Finding, Severity, Status, finite_or_none
from test_suites.performance.metrics import (
    Performance,
    Rate,
    bonferroni_confidence,
    finite,
    measure,
    p_value_below,
    z_for,
)

if TYPE_CHECKING:
    import pandas as pd

SUITE = "performance"
CHANCE = 0.5
"""Balanced accuracy and AUC of both trivial rules: the majority class (one decision for everyone) and a
random rule at the tool's own selection rate (decisions independent of the outcome)."""


class PerformanceSettings(BaseModel):
    """`settings.performance` of the policy. `intersections`: judge intersections of protected attributes
    (sex x race) as groups too, as the bias suite does, so a tool that fails only Black women is seen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intersections: bool = True


def settings(ctx: CheckContext) -> PerformanceSettings:
    return PerformanceSettings.model_validate(ctx.policy.settings.get(SUITE, {}))


@dataclass(frozen=True)
class Outcomes:
    """Truth and decisions as booleans (True = the favourable outcome), scores, weights: read once."""

    y: np.ndarray
    yhat: np.ndarray
    scores: np.ndarray | None
    weights: np.ndarray | None
    missing_scores: int  # scores that are NaN: AUC is then not computed (data_quality reports them)


def outcomes(ctx: CheckContext) -> Outcomes:
    if SUITE in ctx.cache:
        return ctx.cache[SUITE]
    fav = ctx.dataset.card.target.favorable_value  # type: ignore[union-attr]
    y = ctx.dataset.y_favorable.astype(bool)
    yhat = matches(ctx.predictions.labels, fav).astype(bool)
    if yhat.shape != y.shape:
        raise ValueError(f"the tool gave {yhat.size:,} decisions for {y.size:,} rows")
    scores, missing = ctx.predictions.scores, 0
    if scores is not None:
        scores = np.asarray(scores, dtype=float).ravel()
        missing = int(np.isnan(scores).sum())
        if missing:
            scores = None
    data = Outcomes(y=y, yhat=yhat, scores=scores, weights=ctx.dataset.weights, missing_scores=missing)
    ctx.cache[SUITE] = data
    return data


def measure_rows(o: Outcomes, rows: np.ndarray | None = None) -> Performance:
    if rows is None:
        return measure(o.y, o.yhat, o.scores, o.weights)
    return measure(o.y[rows], o.yhat[rows], None if o.scores is None else o.scores[rows],
                   None if o.weights is None else o.weights[rows])


def fmt(x: float | None, digits: int = 3) -> str:
    return "undefined" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def ci_text(lo: float | None, hi: float | None, conf: float, digits: int = 3) -> str:
    return f"{conf:.0%} CI {fmt(lo, digits)}–{fmt(hi, digits)}"


def _undefined_why(perf: Performance) -> str | None:
    if perf.positives == 0 or perf.negatives == 0:
        which = "favourable" if perf.positives == 0 else "unfavourable"
        return f"the data has no {which} outcomes, so balanced accuracy and AUC are undefined"
    return None


def _test_name(what: str, limit: float) -> str:
    return f"one-sided test of H0 '{what} >= {limit:.3g}' ({'DeLong' if 'AUC' in what else 'MOVER-Wilson'})"


class Baselines(Check):
    """Balanced accuracy and AUC against two trivial rules, the majority class and a random rule at the
    tool's own selection rate, which both score exactly 0.5; the lift over 0.5 must reach the policy's
    margin. Accuracy is recorded but not judged: on data with 76 % negatives, "no to everyone" is 76 %
    accurate, which is why the judged figures are the ones a trivial rule cannot inflate."""

    name = "baselines"
    description = ("Balanced accuracy and AUC with intervals, their lift over the majority-class rule and a "
                   "random rule at the tool's selection rate (both 0.5), and a one-sided test against the "
                   "policy's margin.")
    policy_section = "Safety"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        o = outcomes(ctx)
        perf = measure_rows(o)
        conf = ctx.policy.confidence_level
        z = z_for(conf)
        undefined = _undefined_why(perf)
        counts = {"positives": perf.positives, "negatives": perf.negatives}

        def rate(metric: str, r: Rate, what: str) -> None:
            lo, hi = r.interval(z)
            m = Measurement(SUITE, self.name, metric, r.value, finite(lo), finite(hi), n=perf.n,
                            details={"denominator": r.rows})
            out.measurements.append(m)
            out.messages[m.key] = f"{what} {fmt(r.value)} ({ci_text(lo, hi, conf)}, {r.rows:,} rows)"

        ba = perf.balanced_accuracy
        lo, hi = perf.balanced_accuracy_interval(z)
        m = Measurement(SUITE, self.name, "balanced_accuracy", ba, finite(lo), finite(hi), n=perf.n,
                        details={**counts, "tpr": finite(perf.tpr.value), "tnr": finite(perf.tnr.value)})
        out.measurements.append(m)
        out.messages[m.key] = (f"balanced accuracy {fmt(ba)} ({ci_text(lo, hi, conf)}): the mean of the true-positive "
                               f"rate {fmt(perf.tpr.value)} and the true-negative rate {fmt(perf.tnr.value)}")
        rate("true_positive_rate", perf.tpr, "true-positive rate (favourable outcomes the tool recognised)")
        rate("true_negative_rate", perf.tnr, "true-negative rate (unfavourable outcomes the tool recognised)")
        rate("accuracy", perf.accuracy, "accuracy")
        rate("selection_rate", perf.selection_rate, "selection rate (share given the favourable decision)")
        self._lift(out, ctx, perf, "balanced_accuracy_lift", "balanced accuracy", ba, (lo, hi),
                   perf.balanced_accuracy_p_value, undefined)

        if o.scores is not None or o.missing_scores:
            alo, ahi = perf.auc_interval(z)
            m = Measurement(SUITE, self.name, "auc", perf.auc, finite(alo), finite(ahi), n=perf.n,
                            details={**counts, "se": finite(perf.auc_se)})
            out.measurements.append(m)
            why = undefined or (f"{o.missing_scores:,} of the tool's {perf.n:,} scores are missing, so AUC is not "
                                f"computed" if o.missing_scores else None)
            out.messages[m.key] = why or f"AUC {fmt(perf.auc)} ({ci_text(alo, ahi, conf)}, DeLong)"
            self._lift(out, ctx, perf, "auc_lift", "AUC", perf.auc, (alo, ahi), perf.auc_p_value, why)

        out.tables[f"{SUITE}.baselines"] = self._table(perf, o)
        return out

    def _lift(self, out: CheckOutput, ctx: CheckContext, perf: Performance, metric: str, label: str, value: float,
              interval: tuple[float, float], p_of: Any, undefined: str | None) -> None:
        conf = ctx.policy.confidence_level
        margin = ctx.limit(SUITE, self.name, metric)
        lo, hi = (finite(b - CHANCE) if finite(b) is not None else None for b in interval)
        details: dict[str, Any] = {"chance": CHANCE, "margin": margin, label.replace(" ", "_"): finite(value),
                                   "positives": perf.positives, "negatives": perf.negatives}
        p = float("nan")
        if margin is not None and np.isfinite(value):
            p = p_of(CHANCE + margin)
            details |= {"p_value": p, "test": _test_name(label, CHANCE + margin)}
        m = Measurement(SUITE, self.name, metric, value - CHANCE, lo, hi, n=perf.n, details=details)
        out.measurements.append(m)
        if undefined is not None:
            out.messages[m.key] = f"{undefined}; the tool's {label} cannot be judged on this data"
            return
        # the test that the shortfall is real is in details["p_value"]; the decision rule states it in words
        ask = (f"; the policy asks for a lift of at least {margin:.2f} at the {ctx.tier} risk tier"
               if margin is not None else "")
        out.messages[m.key] = (
            f"{label} {fmt(value)} ({ci_text(*interval, conf)}) is {value - CHANCE:+.3f} over the 0.5 of a "
            f"majority-class rule and of a random rule at the tool's own selection rate "
            f"({perf.selection_rate.value:.1%}){ask}.")

    @staticmethod
    def _table(perf: Performance, o: Outcomes) -> list[dict[str, Any]]:
        prev, sel = perf.prevalence.value, perf.selection_rate.value
        auc = finite(perf.auc) if o.scores is not None else None
        chance_auc = CHANCE if o.scores is not None else None
        majority_yes = bool(np.isfinite(prev) and prev >= 0.5)
        return [
            {"rule": "the tool", "balanced_accuracy": finite(perf.balanced_accuracy), "auc": auc,
             "accuracy": finite(perf.accuracy.value), "selection_rate": finite(sel)},
            {"rule": f"majority class ({'favourable' if majority_yes else 'unfavourable'} decision for everyone)",
             "balanced_accuracy": CHANCE, "auc": chance_auc, "accuracy": finite(max(prev, 1 - prev)),
             "selection_rate": 1.0 if majority_yes else 0.0},
            {"rule": "random decisions at the tool's selection rate", "balanced_accuracy": CHANCE,
             "auc": chance_auc, "accuracy": finite(sel * prev + (1 - sel) * (1 - prev)), "selection_rate": finite(sel)},
        ]


# ------------------------------------------------------------------------------------------------ claims

CLAIM_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "auc": "AUC",
    "recall": "recall (true-positive rate)",
    "specificity": "specificity (true-negative rate)",
    "precision": "precision",
}


def observed(perf: Performance, claim: str, z: float, limit: float) -> tuple[float, float, float, float, str]:
    """(value, low, high, one-sided p of "true value >= limit", test) of one claimable figure."""
    if claim == "balanced_accuracy":
        lo, hi = perf.balanced_accuracy_interval(z)
        return perf.balanced_accuracy, lo, hi, perf.balanced_accuracy_p_value(limit), "MOVER-Wilson"
    if claim == "auc":
        lo, hi = perf.auc_interval(z)
        return perf.auc, lo, hi, perf.auc_p_value(limit), "DeLong"
    r: Rate = {"accuracy": perf.accuracy, "recall": perf.tpr, "specificity": perf.tnr,
               "precision": perf.precision}[claim]
    lo, hi = r.interval(z)
    return r.value, lo, hi, p_value_below(r.interval, r.value, limit), "Wilson score"


class Claims(Check):
    """What the vendor's manifest claims (`claims: {auc: 0.82}`) against what the tool does on the
    reference data. The limit is the vendor's own number, so this check judges itself: FAIL when the whole
    interval lies below the claim, REVIEW when it includes the claim, PASS when it lies at or above."""

    name = "claims"
    description = "Each performance figure the vendor claims in the manifest, measured with its interval."
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        claims = getattr(ctx.manifest, "claims", None)
        stated = {k: v for k, v in (claims.model_dump() if claims is not None else {}).items() if v is not None}
        if not stated:
            return out
        o = outcomes(ctx)
        perf = measure_rows(o)
        conf = ctx.policy.confidence_level
        z = z_for(conf)
        rows = []
        for claim, claimed in stated.items():
            label = CLAIM_LABELS.get(claim, claim.replace("_", " "))
            value, lo, hi, p, test = observed(perf, claim, z, float(claimed))
            said = f"the vendor claims {label} {claimed:g}"
            if claim == "auc" and o.scores is None:
                status = Status.INSUFFICIENT
                why = "some of its scores are missing" if o.missing_scores else "the tool gives no scores"
                message = f"{said}, but {why}, so the claim cannot be checked"
            elif not np.isfinite(value):
                status = Status.INSUFFICIENT
                message = f"{said}, but {label} is undefined on this data, so the claim cannot be checked"
            else:
                measured = f"measured {fmt(value)} ({ci_text(lo, hi, conf)})"
                if hi < claimed:
                    status, verdict = Status.FAIL, "the claim is not met"
                elif lo >= claimed:
                    status, verdict = Status.PASS, "the claim is met"
                else:
                    status, verdict = Status.REVIEW, ("the interval includes the claim, so this data neither "
                                                      "confirms nor refutes it")
                message = f"{said}; {measured}: {verdict}"
            details: dict[str, Any] = {"claim": float(claimed)}
            if np.isfinite(p):
                details |= {"p_value": p, "test": f"one-sided {test} test of H0 '{label} >= {claimed:g}'"}
            out.findings.append(Finding(
                suite=SUITE, check=self.name, metric=claim, status=status, message=message,
                severity=Severity.BLOCKING, value=finite_or_none(value), ci_low=finite_or_none(lo),
                ci_high=finite_or_none(hi), threshold=float(claimed), greater_is_better=True, n=perf.n,
                policy_section=self.policy_section, benchmark="the vendor's own claim in the tool manifest",
                dataset=ctx.dataset.name, details=details))
            rows.append({"claim": claim, "claimed": float(claimed), "measured": finite_or_none(value),
                         "low": finite_or_none(lo), "high": finite_or_none(hi), "status": status.value})
        out.tables[f"{SUITE}.claims"] = rows
        return out


# ---------------------------------------------------------------------------------------------- per group


def safe(value: str) -> str:
    """A group value in a metric key: MLflow accepts letters, digits, _ - . space and /; '.' separates."""
    return re.sub(r"[^A-Za-z0-9_\- /]", "_", str(value)).strip() or "_"


@dataclass(frozen=True)
class Group:
    grouping: str          # "sex" or "sex_x_race"
    name: str              # "Female" or "Female & Black"
    key: str               # "sex.Female" or "sex_x_race.Female.Black"
    rows: np.ndarray


def groups_of(frame: pd.DataFrame, attributes: list[str], intersections: bool) -> list[Group]:
    """Each protected attribute's groups, then (optionally) every intersection of two or more attributes;
    a missing value is a group of its own ("missing"), never dropped."""
    import pandas as pd

    coded = {a: frame[a].astype(object).where(frame[a].notna(), "missing").astype(str) for a in attributes}
    sizes = range(1, len(attributes) + 1) if intersections else range(1, 2)
    out = []
    for size in sizes:
        for combo in combinations(attributes, size):
            keys = pd.DataFrame({a: coded[a].to_numpy() for a in combo})
            for values, rows in keys.groupby(list(combo), sort=True).indices.items():
                labels = values if isinstance(values, tuple) else (values,)
                grouping = "_x_".join(combo)
                out.append(Group(grouping=grouping, name=" & ".join(map(str, labels)),
                                 key=".".join([grouping, *(safe(v) for v in labels)]), rows=np.asarray(rows)))
    return out


class PerGroup(Check):
    """Balanced accuracy and AUC in every protected group and intersection, with the counts they rest on.
    The worst group's lift over chance is judged (blocking at the high tier): a tool that works for men
    and guesses for women is not valid for women, whatever its overall figure."""

    name = "per_group"
    description = ("Balanced accuracy and AUC per protected group and intersection with intervals and class "
                   "counts; the worst group's lift over chance, with a Bonferroni interval and test.")
    policy_section = "Safety"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        o = outcomes(ctx)
        conf, floor = ctx.policy.confidence_level, ctx.policy.min_group_size
        z = z_for(conf)
        attrs = list(ctx.dataset.card.protected_attributes)
        margin = ctx.limit(SUITE, self.name, "worst_lift")
        table: list[dict[str, Any]] = []
        judged: list[tuple[Group, Performance]] = []
        for g in groups_of(ctx.frame, attrs, settings(ctx).intersections):
            perf = measure_rows(o, g.rows)
            eligible = perf.positives >= floor and perf.negatives >= floor
            lo, hi = perf.balanced_accuracy_interval(z)
            counts = {"positives": perf.positives, "negatives": perf.negatives, "eligible": eligible}
            out.measurements.append(Measurement(SUITE, self.name, "balanced_accuracy", perf.balanced_accuracy,
                                                finite(lo), finite(hi), group=g.key, n=perf.n, details=counts))
            alo, ahi = perf.auc_interval(z)
            if o.scores is not None:
                out.measurements.append(Measurement(SUITE, self.name, "auc", perf.auc, finite(alo), finite(ahi),
                                                    group=g.key, n=perf.n, details=counts))
            table.append({
                "grouping": g.grouping, "group": g.name, "n": perf.n, "positives": perf.positives,
                "negatives": perf.negatives, "insufficient": not eligible,
                "balanced_accuracy": finite(perf.balanced_accuracy), "balanced_accuracy_low": finite(lo),
                "balanced_accuracy_high": finite(hi), "auc": finite(perf.auc), "auc_low": finite(alo),
                "auc_high": finite(ahi),
            })
            if eligible:
                judged.append((g, perf))
            else:
                out.findings.append(Finding(
                    suite=SUITE, check=self.name, metric="class_size", status=Status.INSUFFICIENT,
                    severity=Severity.BLOCKING, value=float(min(perf.positives, perf.negatives)),
                    threshold=float(floor), greater_is_better=True, group=g.key, n=perf.n,
                    policy_section=self.policy_section, dataset=ctx.dataset.name, details=counts,
                    message=(f"group '{g.name}' ({g.grouping}) has {perf.positives:,} favourable and "
                             f"{perf.negatives:,} unfavourable outcomes; balanced accuracy and AUC need at least "
                             f"{floor} of each (the policy's minimum group size), so its performance is shown "
                             f"but not judged. Assess it on more data.")))
        out.tables[f"{SUITE}.per_group"] = table
        self._worst(out, ctx, judged, margin)
        return out

    def _worst(self, out: CheckOutput, ctx: CheckContext, judged: list[tuple[Group, Performance]],
               margin: float | None) -> None:
        """The smallest lift over chance among the judged groups. Its interval is simultaneous over the K
        groups (Bonferroni: every group's interval at level 1 - alpha / K, so the minimum of the true lifts
        lies between the minimum lower and the minimum upper bound), and its p-value is Bonferroni's for
        "every group's lift reaches the margin": K times the smallest one-sided p-value, at most 1."""
        conf, k = ctx.policy.confidence_level, len(judged)
        if not judged:
            m = Measurement(SUITE, self.name, "worst_lift", float("nan"), details={"groups_judged": 0})
            out.measurements.append(m)
            out.messages[m.key] = (f"no protected group has at least {ctx.policy.min_group_size} favourable and "
                                   f"as many unfavourable outcomes, so no group's performance can be judged")
            return
        zk = z_for(bonferroni_confidence(conf, k))
        bounds = [perf.balanced_accuracy_interval(zk) for _, perf in judged]
        lifts = [perf.balanced_accuracy - CHANCE for _, perf in judged]
        worst = int(np.argmin(lifts))
        g, perf = judged[worst]
        lo = min(b[0] for b in bounds) - CHANCE
        hi = min(b[1] for b in bounds) - CHANCE
        details: dict[str, Any] = {"group": g.key, "group_name": g.name, "groups_judged": k, "margin": margin,
                                   "positives": perf.positives, "negatives": perf.negatives,
                                   "interval": f"simultaneous over {k} groups (Bonferroni)"}
        ask = ""
        if margin is not None:
            ps = [p.balanced_accuracy_p_value(CHANCE + margin) for _, p in judged]
            best = int(np.nanargmin(ps))
            p = float(min(1.0, k * ps[best]))
            details |= {"p_value": p, "p_value_group": judged[best][0].key,
                        "test": (f"one-sided MOVER-Wilson test of H0 'every group's balanced accuracy >= "
                                 f"{CHANCE + margin:.3g}', Bonferroni over {k} groups")}
            ask = f"; the policy asks every group for a lift of at least {margin:.2f} at the {ctx.tier} risk tier"
        m = Measurement(SUITE, self.name, "worst_lift", lifts[worst], finite(lo), finite(hi), n=perf.n,
                        details=details)
        out.measurements.append(m)
        out.messages[m.key] = (
            f"the worst of {k} groups judged is '{g.name}' ({g.grouping}): balanced accuracy "
            f"{fmt(perf.balanced_accuracy)}, a lift of {lifts[worst]:+.3f} over chance ({conf:.0%} CI {lo:+.3f} "
            f"to {hi:+.3f}, simultaneous over the {k} groups){ask}.")
