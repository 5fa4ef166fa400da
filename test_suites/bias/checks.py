"""The bias suite's group checks: rates per group, parity disparities and the four-fifths rule.

All read one shared `BiasData` (counts and bootstrap draws per grouping, built once per dataset), so
a metric costs a few array operations on a groups x 4 table, never a pass over the rows.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement
from harness.findings import Finding, Severity, Status, finite_or_none
from harness.stats import percentile_interval, wilson_interval
from test_suites.bias import metrics as M
from test_suites.bias.data import SUITE, GroupingData, bias_data
from test_suites.bias.significance import holm, selection_test

LABELS = {
    "selection_rate": "selection rate",
    "tpr": "true-positive rate (qualified people given the favourable outcome)",
    "fpr": "false-positive rate (unqualified people given the favourable outcome)",
    "fnr": "false-negative rate (qualified people refused)",
    "precision": "precision (favourable decisions that were right)",
}


def fmt(x: float) -> str:
    return "undefined" if not np.isfinite(x) else f"{x:.2f}"


def ci_text(lo: float, hi: float, conf: float) -> str:
    return f"{conf:.0%} CI {fmt(lo)}–{fmt(hi)}"


def limit_of(ctx: CheckContext, check: str, metric: str) -> float | None:
    return ctx.limit(SUITE, check, metric)


class GroupRates(Check):
    """Per-group rates with Wilson intervals; small groups are flagged INSUFFICIENT (never PASS)."""

    name = "group_rates"
    description = "Ten confusion-matrix rates of every group and intersection, with Wilson intervals."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf, floor = ctx.policy.confidence_level, ctx.policy.min_group_size
        for gd in bias_data(ctx).groupings:
            g, c = gd.grouping, gd.counts
            air = M.ratio_to(M.selection_rate(c), gd.reference)
            # every rate and its Wilson bounds for all groups at once
            rates = {metric: (fn(c), *wilson_interval(c[:, list(num)].sum(axis=1), c[:, list(den)].sum(axis=1), conf))
                     for metric, (fn, num, den) in M.RATES.items()}
            rows: list[dict[str, Any]] = []
            for i, name in enumerate(g.names):
                n = int(gd.sizes[i])
                key = g.group_key(i)
                row: dict[str, Any] = {"group": name, "n": n, "reference": i == gd.reference,
                                       "insufficient": not gd.eligible[i],
                                       "adverse_impact_ratio": finite_or_none(air[i])}
                out.measurements.append(Measurement(SUITE, self.name, "n", float(n), group=key, n=n))
                for metric, (value, lo, hi) in rates.items():
                    row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
                        finite_or_none(value[i]), finite_or_none(lo[i]), finite_or_none(hi[i]))
                    out.measurements.append(Measurement(SUITE, self.name, metric, float(value[i]), float(lo[i]),
                                                        float(hi[i]), group=key, n=n))
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


def too_few(check: Check, ctx: CheckContext, gd: GroupingData) -> Finding | None:
    if int(gd.eligible.sum()) >= 2:
        return None
    return Finding(suite=SUITE, check=check.name, metric="difference", status=Status.INSUFFICIENT,
                   group=gd.key, dataset=ctx.dataset.name, policy_section=check.policy_section,
                   message=(f"fewer than two groups of {gd.key} have at least {ctx.policy.min_group_size} "
                            f"rows: no comparison can be judged"))


class Disparity(Check):
    """A between-group disparity of one or more rates (fairlearn's between-groups aggregation):
    "difference" is the largest max - min gap over the components, "ratio" the smallest min / max.
    Groups under the policy's minimum size and undefined rates are left out."""

    components: ClassVar[tuple[str, ...]]
    measures: ClassVar[tuple[str, ...]] = ("difference", "ratio")

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf = ctx.policy.confidence_level
        for gd in bias_data(ctx).groupings:
            if (f := too_few(self, ctx, gd)) is not None:
                out.findings.append(f)
                continue
            rates = {c: (M.RATES[c][0](gd.counts), M.RATES[c][0](gd.boot)) for c in self.components}
            for measure in self.measures:
                m = self._measure(ctx, gd, measure, rates, conf)
                if m is not None:
                    out.measurements.append(m)
                    out.messages[m.key] = self.message(ctx, gd, m, conf)
        return out

    def _measure(self, ctx: CheckContext, gd: GroupingData, measure: str,
                 rates: dict[str, tuple[np.ndarray, np.ndarray]], conf: float) -> Measurement | None:
        cache = ctx.cache.setdefault("bias.disparity_interval", {})
        found = {}
        for c, (p, b) in rates.items():
            if (gd.key, c, measure) not in cache:
                cache[(gd.key, c, measure)] = M.disparity_interval(p, b, gd.eligible, measure, conf)
            found[c] = cache[(gd.key, c, measure)]
        values = {}
        for c, (_, _, lo_g, hi_g) in found.items():
            p = rates[c][0]
            if lo_g < 0:
                continue
            values[c] = float(p[hi_g] - p[lo_g]) if measure == "difference" else float(M._div(p[lo_g], p[hi_g]))
        defined = {c: v for c, v in values.items() if np.isfinite(v)}
        if not defined:
            return Measurement(SUITE, self.name, measure, float("nan"), group=gd.key,
                               details={"reason": "the rate is undefined in every group"})
        worst = max(defined, key=defined.get) if measure == "difference" else min(defined, key=defined.get)
        lo_c, hi_c, lo_g, hi_g = found[worst]
        if measure == "difference":  # no pair of any component confidently above the upper bound
            hi = float(np.nanmax([found[c][1] for c in defined]))
            lo = lo_c
        else:  # no pair of any component confidently below the lower bound
            lo = float(np.nanmin([found[c][0] for c in defined]))
            hi = hi_c
        p = rates[worst][0]
        return Measurement(SUITE, self.name, measure, defined[worst], lo, hi, group=gd.key,
                           reference=gd.names[hi_g],
                           details={"component": worst, "lowest": gd.names[lo_g], "highest": gd.names[hi_g],
                                    "lowest_rate": float(p[lo_g]), "highest_rate": float(p[hi_g]),
                                    **{f"{c}_{measure}": v for c, v in values.items()}})

    def message(self, ctx: CheckContext, gd: GroupingData, m: Measurement, conf: float) -> str:
        limit = limit_of(ctx, self.name, m.metric)
        if not np.isfinite(m.value):
            return f"Within {gd.key}, the {self.name.replace('_', ' ')} {m.metric} is undefined: {m.details['reason']}."
        d = m.details
        label = LABELS[d["component"]]
        both = " (the larger of the two gaps)" if len(self.components) > 1 else ""
        if m.metric == "difference":
            text = (f"Within {gd.key}, the {label} ranges from {d['lowest_rate']:.1%} ('{d['lowest']}') to "
                    f"{d['highest_rate']:.1%} ('{d['highest']}'), a gap of {m.value:.3f}{both} "
                    f"({ci_text(m.ci_low, m.ci_high, conf)})")
            return text + (f"; the policy allows at most {limit:.2f}." if limit is not None else ".")
        text = (f"Within {gd.key}, the lowest {label} ('{d['lowest']}', {d['lowest_rate']:.1%}) is "
                f"{fmt(m.value)} times the highest ('{d['highest']}', {d['highest_rate']:.1%}){both} "
                f"({ci_text(m.ci_low, m.ci_high, conf)})")
        return text + (f"; the policy requires at least {limit:.2f}." if limit is not None else ".")


class DemographicParity(Disparity):
    """Selection-rate parity: the EEOC four-fifths rule read against the highest-rate group."""

    name = "demographic_parity"
    description = "Lowest / highest group selection rate (four-fifths rule) and the gap between them."
    policy_section = "4.3"
    components = ("selection_rate",)

    def message(self, ctx: CheckContext, gd: GroupingData, m: Measurement, conf: float) -> str:
        if m.metric != "ratio" or not np.isfinite(m.value):
            return super().message(ctx, gd, m, conf)
        limit = limit_of(ctx, self.name, "ratio")
        rule = f"; the four-fifths rule requires at least {limit:.2f}" if limit is not None else ""
        return (f"Within {gd.key}, '{m.details['lowest']}' is selected at {fmt(m.value)} times the rate of "
                f"'{m.details['highest']}', the group with the highest rate "
                f"({ci_text(m.ci_low, m.ci_high, conf)}){rule}.")


class EqualizedOdds(Disparity):
    """Error-rate parity: the larger of the TPR and FPR gaps (ratios) between groups."""

    name = "equalized_odds"
    description = "Largest between-group gap in true-positive or false-positive rate, and the smallest ratio."
    policy_section = "4.2"
    components = ("tpr", "fpr")


class EqualOpportunity(Disparity):
    """Benefit parity among the qualified: the TPR gap between groups."""

    name = "equal_opportunity"
    description = "Largest between-group gap in true-positive rate, and the smallest ratio."
    policy_section = "2.1"
    components = ("tpr",)


class PredictiveParity(Disparity):
    """Equal precision: a favourable decision is equally often right whoever receives it."""

    name = "predictive_parity"
    description = "Largest between-group gap in precision."
    policy_section = "2.1"
    components = ("precision",)
    measures = ("difference",)


class FnrParity(Disparity):
    name = "fnr_parity"
    description = "Smallest ratio of false-negative rates between groups."
    policy_section = "2.1"
    components = ("fnr",)
    measures = ("ratio",)


class FprParity(Disparity):
    name = "fpr_parity"
    description = "Smallest ratio of false-positive rates between groups."
    policy_section = "2.1"
    components = ("fpr",)
    measures = ("ratio",)


class FourFifths(Check):
    """The civil-rights benchmark: each group's selection rate against the reference group's, read as
    the EEOC guidelines do, practically (the ratio, against 0.8) and statistically (a test of equal
    rates, Holm-adjusted across every comparison of the run)."""

    name = "four_fifths"
    description = "Adverse impact ratio of every group against the reference group, with a significance test."
    policy_section = "4.3"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf = ctx.policy.confidence_level
        limit = limit_of(ctx, self.name, "adverse_impact_ratio")
        pending: list[tuple[GroupingData, int, float, float, float, float, str]] = []
        for gd in bias_data(ctx).groupings:
            if (f := too_few(self, ctx, gd)) is not None:
                out.findings.append(f)
                continue
            ref = gd.reference
            sel = M.selection_rate(gd.counts)
            air = M.ratio_to(sel, ref)
            lo_all, hi_all = percentile_interval(M.ratio_to(M.selection_rate(gd.boot), ref), conf)
            selected = gd.rows[:, 1] + gd.rows[:, 3]
            for i in np.flatnonzero(gd.eligible):
                if i == ref:
                    continue
                p, test = selection_test(selected[i], gd.sizes[i], selected[ref], gd.sizes[ref])
                pending.append((gd, int(i), float(air[i]), float(lo_all[i]), float(hi_all[i]), p, test))
        adjusted = holm([x[5] for x in pending])
        alpha = 1 - conf
        for (gd, i, value, lo, hi, p, test), p_adj in zip(pending, adjusted, strict=True):
            ref_name, name = gd.names[gd.reference], gd.names[i]
            m = Measurement(SUITE, self.name, "adverse_impact_ratio", value, lo, hi, group=gd.grouping.group_key(i),
                            reference=ref_name, n=int(gd.sizes[i]),
                            details={"p_value": p, "p_adjusted": float(p_adj), "test": test,
                                     "comparisons": len(pending), "reference_source": gd.reference_source,
                                     "selection_rate": float(M.selection_rate(gd.counts[i])),
                                     "reference_rate": float(M.selection_rate(gd.counts[gd.reference]))})
            out.measurements.append(m)
            out.measurements.append(Measurement(SUITE, self.name, "p_adjusted", float(p_adj),
                                                group=gd.grouping.group_key(i), reference=ref_name))
            significant = p_adj < alpha
            practical = (f"'{name}' is selected at {fmt(value)} times the rate of '{ref_name}' "
                         f"({m.details['selection_rate']:.1%} against {m.details['reference_rate']:.1%}; "
                         f"{ci_text(lo, hi, conf)})")
            rule = f"; the four-fifths rule requires at least {limit:.2f}" if limit is not None else ""
            stat = (f"The difference in selection rates is {'' if significant else 'not '}statistically "
                    f"significant ({test}, Holm-adjusted p = {p_adj:.3g} over {len(pending)} comparisons)")
            if not significant and limit is not None and value < limit:
                stat += ("; at this sample size the shortfall could be chance, but the rule is judged on the "
                         "measured ratio (fail closed)")
            out.messages[m.key] = f"Within {gd.key}, {practical}{rule}. {stat}."
            out.tables.setdefault(f"{SUITE}.four_fifths", []).append({
                "grouping": gd.key, "group": name, "reference": ref_name, "n": int(gd.sizes[i]),
                "adverse_impact_ratio": finite_or_none(value), "ci_low": finite_or_none(lo),
                "ci_high": finite_or_none(hi), "test": test, "p_value": finite_or_none(p),
                "p_adjusted": finite_or_none(p_adj), "significant": bool(significant)})
        return out
