"""The bias suite's checks. All read one shared `BiasData` (counts and bootstrap draws per grouping),
built once per dataset, so adding a metric costs a few array operations, not a pass over the rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement
from harness.datasets import matches
from harness.findings import Finding, Severity, Status
from harness.stats import percentile_interval, wilson_interval
from test_suites.bias import metrics as M
from test_suites.bias.counts import Grouping, bootstrap_counts, build_groupings, confusion_counts

SUITE = "bias"


@dataclass(frozen=True)
class GroupingData:
    grouping: Grouping
    counts: np.ndarray          # groups x 4
    boot: np.ndarray            # B x groups x 4
    eligible: np.ndarray        # groups: n >= min_group_size

    @property
    def sizes(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @property
    def reference(self) -> int:
        """The card's reference group, else the largest group (named in every finding)."""
        g = self.grouping
        if g.reference is not None and self.eligible[g.reference]:
            return g.reference
        return int(np.argmax(self.sizes))


def bias_data(ctx: CheckContext) -> list[GroupingData]:
    """Counts and bootstrap draws for every grouping, computed once and cached on the context."""
    if "bias" in ctx.cache:
        return ctx.cache["bias"]
    card = ctx.dataset.card
    fav = card.target.favorable_value
    y_true = ctx.dataset.y_favorable
    y_pred = matches(ctx.predictions.labels, fav).astype(np.int8)
    refs = {a: p.reference for a, p in card.protected_attributes.items()}
    rng = ctx.rng("bias.bootstrap")
    out = []
    for g in build_groupings(ctx.frame, refs):
        counts = confusion_counts(g.codes, len(g.labels), y_true, y_pred)
        boot = bootstrap_counts(counts, ctx.policy.bootstrap_samples, rng)
        out.append(GroupingData(g, counts, boot, counts.sum(axis=1) >= ctx.policy.min_group_size))
    ctx.cache["bias"] = out
    return out


def _fmt(x: float) -> str:
    return "undefined" if x != x else f"{x:.2f}"


def _ci(lo: float, hi: float, conf: float) -> str:
    return f"{conf:.0%} CI {_fmt(lo)}–{_fmt(hi)}"


class GroupRates(Check):
    """Per-group rates with Wilson intervals; small groups are flagged INSUFFICIENT (never PASS)."""

    name = "group_rates"
    description = "Selection rate, TPR, FPR, FNR, precision, accuracy and base rate of every group."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf, floor = ctx.policy.confidence_level, ctx.policy.min_group_size
        for gd in bias_data(ctx):
            g, c = gd.grouping, gd.counts
            sel = M.selection_rate(c)
            air = M.ratio_to(sel, gd.reference)
            rows: list[dict[str, Any]] = []
            for i, name in enumerate(g.names):
                n = int(gd.sizes[i])
                row: dict[str, Any] = {"group": name, "n": n, "reference": i == gd.reference,
                                       "insufficient": not gd.eligible[i],
                                       "adverse_impact_ratio": _nan_none(air[i])}
                for metric, (fn, num, den) in M.RATES.items():
                    value = float(fn(c[i]))
                    lo, hi = wilson_interval(c[i, list(num)].sum(), c[i, list(den)].sum(), conf)
                    row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
                        _nan_none(value), _nan_none(lo), _nan_none(hi))
                    out.measurements.append(Measurement(SUITE, self.name, metric, value, float(lo), float(hi),
                                                        group=g.group_key(i), n=n))
                rows.append(row)
                if not gd.eligible[i]:
                    out.findings.append(Finding(
                        suite=SUITE, check=self.name, metric="group_size", status=Status.INSUFFICIENT,
                        severity=Severity.BLOCKING, value=float(n), threshold=float(floor),
                        greater_is_better=True, group=g.group_key(i), n=n, policy_section=self.policy_section,
                        dataset=ctx.dataset.name,
                        message=(f"group '{name}' ({g.key}) has only {n} rows, under the policy minimum of "
                                 f"{floor}: its rates are shown but not judged, and it is left out of the "
                                 f"disparities. Assess it on more data."),
                    ))
            out.tables[f"{SUITE}.group_rates.{g.key}"] = rows
        return out


def _nan_none(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


class _Disparity(Check):
    """Shared plumbing: point estimate and bootstrap interval of a statistic of the counts."""

    def _interval(self, ctx: CheckContext, stat: np.ndarray) -> tuple[float, float]:
        lo, hi = percentile_interval(stat, ctx.policy.confidence_level)
        return float(lo), float(hi)

    def _too_few(self, ctx: CheckContext, gd: GroupingData) -> Finding | None:
        if int(gd.eligible.sum()) >= 2:
            return None
        return Finding(suite=SUITE, check=self.name, metric="difference", status=Status.INSUFFICIENT,
                       group=gd.grouping.key, dataset=ctx.dataset.name, policy_section=self.policy_section,
                       message=(f"fewer than two groups of {gd.grouping.key} have at least "
                                f"{ctx.policy.min_group_size} rows: no comparison can be judged"))

    def _limit(self, ctx: CheckContext, metric: str) -> float | None:
        t = ctx.policy.threshold(SUITE, self.name, metric)
        return None if t is None else t.limit_for(ctx.tier)


class DemographicParity(_Disparity):
    """Selection-rate parity: the EEOC four-fifths rule (adverse impact ratio) and the difference."""

    name = "demographic_parity"
    description = "Lowest/highest group selection rate (four-fifths rule) and the gap between them."
    policy_section = "4.3"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf = ctx.policy.confidence_level
        for gd in bias_data(ctx):
            g = gd.grouping
            if (f := self._too_few(ctx, gd)) is not None:
                out.findings.append(f)
                continue
            diff, ratio = M.demographic_parity(gd.counts, gd.eligible)
            sel = M.selection_rate(gd.counts)
            boot_sel = M.selection_rate(gd.boot)
            r_lo, r_hi, lo_g, hi_g = M.disparity_interval(sel, boot_sel, gd.eligible, "ratio", conf)
            d_lo, d_hi, _, _ = M.disparity_interval(sel, boot_sel, gd.eligible, "difference", conf)
            low, high = g.names[lo_g], g.names[hi_g]
            mr = Measurement(SUITE, self.name, "ratio", float(ratio), r_lo, r_hi, group=g.key,
                             reference=high, details={"lowest": low, "highest": high})
            md = Measurement(SUITE, self.name, "difference", float(diff), d_lo, d_hi, group=g.key,
                             reference=high, details={"lowest": low, "highest": high})
            out.measurements += [mr, md]
            limit = self._limit(ctx, "ratio")
            rule = f"; the four-fifths rule requires at least {limit:.2f}" if limit is not None else ""
            out.messages[mr.key] = (
                f"Within {g.key}, '{low}' is selected at {_fmt(ratio)} times the rate of '{high}', the "
                f"group with the highest rate ({_ci(r_lo, r_hi, conf)}){rule}.")
            dlim = self._limit(ctx, "difference")
            out.messages[md.key] = (
                f"Within {g.key}, selection rates range from {sel[lo_g]:.1%} ('{low}') to {sel[hi_g]:.1%} "
                f"('{high}'), a gap of {diff:.3f} ({_ci(d_lo, d_hi, conf)})"
                + (f"; the policy allows at most {dlim:.2f}." if dlim is not None else "."))
            # each group against the card's reference group: reported, judged through the ratio above
            ref = gd.reference
            air = M.ratio_to(M.selection_rate(gd.counts), ref)
            bair = M.ratio_to(M.selection_rate(gd.boot), ref)
            for i in np.flatnonzero(gd.eligible):
                if i == ref:
                    continue
                lo, hi = self._interval(ctx, bair[:, i])
                out.measurements.append(Measurement(
                    SUITE, self.name, "adverse_impact_ratio", float(air[i]), lo, hi, group=g.group_key(i),
                    reference=g.names[ref], n=int(gd.sizes[i])))
        return out


class EqualizedOdds(_Disparity):
    """Error-rate parity: the larger of the TPR and FPR gaps between groups."""

    name = "equalized_odds"
    description = "Largest between-group gap in true-positive or false-positive rate."
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf = ctx.policy.confidence_level
        for gd in bias_data(ctx):
            g = gd.grouping
            if (f := self._too_few(ctx, gd)) is not None:
                out.findings.append(f)
                continue
            value = float(M.equalized_odds_difference(gd.counts, gd.eligible))
            gaps = {name: M.disparity_interval(fn(gd.counts), fn(gd.boot), gd.eligible, "difference", conf)
                    for name, fn in (("tpr", M.true_positive_rate), ("fpr", M.false_positive_rate))}
            tpr_gap = float(M.spread(M.true_positive_rate(gd.counts), gd.eligible)[0])
            fpr_gap = float(M.spread(M.false_positive_rate(gd.counts), gd.eligible)[0])
            worst = "tpr" if not (fpr_gap > tpr_gap) else "fpr"
            lo = gaps[worst][0]
            hi = float(np.nanmax([gaps["tpr"][1], gaps["fpr"][1]]))
            m = Measurement(SUITE, self.name, "difference", value, lo, hi, group=g.key,
                            details={"tpr_gap": tpr_gap, "fpr_gap": fpr_gap})
            out.measurements.append(m)
            limit = self._limit(ctx, "difference")
            out.messages[m.key] = (
                f"Within {g.key}, true-positive rates differ by up to {tpr_gap:.3f} and false-positive "
                f"rates by up to {fpr_gap:.3f} between groups; equalized-odds difference {value:.3f} "
                f"({_ci(lo, hi, conf)})" + (f"; the policy allows at most {limit:.2f}." if limit is not None else "."))
        return out


class EqualOpportunity(_Disparity):
    """Benefit parity among the qualified: the TPR gap between groups."""

    name = "equal_opportunity"
    description = "Largest between-group gap in true-positive rate."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf = ctx.policy.confidence_level
        for gd in bias_data(ctx):
            g = gd.grouping
            if (f := self._too_few(ctx, gd)) is not None:
                out.findings.append(f)
                continue
            value = float(M.equal_opportunity_difference(gd.counts, gd.eligible))
            lo, hi, _, _ = M.disparity_interval(M.true_positive_rate(gd.counts), M.true_positive_rate(gd.boot),
                                                gd.eligible, "difference", conf)
            m = Measurement(SUITE, self.name, "difference", value, lo, hi, group=g.key)
            out.measurements.append(m)
            limit = self._limit(ctx, "difference")
            out.messages[m.key] = (
                f"Within {g.key}, qualified people are selected at rates that differ by up to {value:.3f} "
                f"between groups ({_ci(lo, hi, conf)})"
                + (f"; the policy allows at most {limit:.2f}." if limit is not None else "."))
        return out
