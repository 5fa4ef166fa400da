"""The bias suite's group checks: rates per group, parity disparities and the four-fifths rule.

All read one shared `BiasData` (counts and bootstrap draws per grouping, built once per dataset), so
a metric costs a few array operations on a groups x 4 table, never a pass over the rows.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement
from harness.findings import Finding, Severity, Status, finite_or_none
from harness.measures.disparity import divide
from test_suites.bias import metrics as M
from test_suites.bias.data import SUITE, GroupingData, bias_data

LABELS = {
    "selection_rate": "selection rate",
    "tpr": "true-positive rate (qualified people given the favourable outcome)",
    "fpr": "false-positive rate (unqualified people given the favourable outcome)",
    "fnr": "false-negative rate (qualified people refused)",
    "precision": "precision (favourable decisions that were right)",
}


def fmt(x: float | None) -> str:
    return "undefined" if x is None or not np.isfinite(x) else f"{x:.2f}"


def ci_text(lo: float | None, hi: float | None, conf: float) -> str:
    return f"{conf:.0%} CI {fmt(lo)}–{fmt(hi)}"


def limit_of(ctx: CheckContext, check: str, metric: str) -> float | None:
    return ctx.limit(SUITE, check, metric)


JUDGED = ("selection_rate", "tpr", "fpr", "precision")  # the rates the disparity checks compare (fnr: tpr's rows)
DENOMINATOR = {"selection_rate": "rows", "tpr": "qualified people (true-positive rate)",
               "fpr": "unqualified people (false-positive rate)", "precision": "favourable decisions (precision)"}


class GroupRates(Check):
    """Per-group rates with Wilson intervals and their denominators; a group, or one of its rates, resting on
    fewer rows than the policy's minimum is flagged INSUFFICIENT (never PASS) and left out of comparisons."""

    name = "group_rates"
    description = "Ten confusion-matrix rates of every group and intersection, with Wilson intervals."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        from harness.stats import wilson_interval

        out = CheckOutput()
        conf, floor = ctx.policy.confidence_level, ctx.policy.min_group_size
        for gd in bias_data(ctx).groupings:
            g, c = gd.grouping, gd.counts
            air = M.ratio_to(M.selection_rate(c), gd.reference)
            # every rate, its Wilson bounds (Kish's effective size for weighted data) and its denominator
            rates = {metric: (fn(c), *wilson_interval(*gd.effective(metric), conf), gd.denominators(metric))
                     for metric, (fn, _, _) in M.RATES.items()}
            rows: list[dict[str, Any]] = []
            for i, name in enumerate(g.names):
                n = int(gd.sizes[i])
                key = g.group_key(i)
                row: dict[str, Any] = {"group": name, "n": n, "reference": i == gd.reference,
                                       "insufficient": not gd.eligible[i],
                                       "adverse_impact_ratio": finite_or_none(air[i])}
                out.measurements.append(Measurement(SUITE, self.name, "n", float(n), group=key, n=n))
                for metric, (value, lo, hi, den) in rates.items():
                    row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = (
                        finite_or_none(value[i]), finite_or_none(lo[i]), finite_or_none(hi[i]))
                    row[f"{metric}_n"] = int(den[i])
                    out.measurements.append(Measurement(SUITE, self.name, metric, float(value[i]), float(lo[i]),
                                                        float(hi[i]), group=key, n=int(den[i])))
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
                    continue
                thin = [m for m in JUDGED if rates[m][3][i] < floor]
                if thin:
                    parts = ", ".join(f"{int(rates[m][3][i])} {DENOMINATOR[m]}" for m in thin)
                    out.findings.append(Finding(
                        suite=SUITE, check=self.name, metric="rate_denominator", status=Status.INSUFFICIENT,
                        severity=Severity.BLOCKING, value=float(min(rates[m][3][i] for m in thin)),
                        threshold=float(floor), greater_is_better=True, group=g.group_key(i), n=n,
                        policy_section=self.policy_section, dataset=ctx.dataset.name,
                        details={"rates": thin},
                        message=(f"group '{name}' ({g.key}) has {n} rows, but only {parts}, under the policy "
                                 f"minimum of {floor}: those rates are shown but not judged, and the group is "
                                 f"left out of their comparisons. Assess it on more data."),
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


def homogeneity(ctx: CheckContext, gd: GroupingData, component: str) -> tuple[float, str]:
    """The test that a component's rate is the same in every eligible group (cached: several checks share it)."""
    from harness.measures.significance import homogeneity_test

    cache = ctx.cache.setdefault("bias.homogeneity", {})
    if (gd.key, component) not in cache:
        k, n = gd.effective(component)
        use = gd.eligible_for(component)
        cache[(gd.key, component)] = homogeneity_test(k[use], n[use], ctx.rng(f"bias.homogeneity.{gd.key}.{component}"))
    return cache[(gd.key, component)]


def simultaneous_spread(gd: GroupingData, component: str, measure: str, confidence: float
                        ) -> tuple[float, float, float, int, int, int]:
    """(value, low, high, lowest group, highest group, pairs) of max - min ("difference") or min / max
    ("ratio") of one rate over the eligible groups. The interval holds for the extreme pair whichever pair
    that turns out to be: Newcombe / MOVER-R intervals for every pair at the Bonferroni level
    1 - alpha / pairs, combined through the max (min), which is monotone, so the statistic's interval
    covers at least at the stated level (the interval of the pair that came out extreme, alone, would not:
    with six equal groups the observed gap is never 0)."""
    from harness.stats import mover_difference, mover_ratio, wilson_interval

    idx = np.flatnonzero(gd.eligible_for(component))
    k, n = gd.effective(component)
    p = M.RATES[component][0](gd.counts)[idx]
    if len(idx) < 2 or not np.isfinite(p).all():
        return float("nan"), float("nan"), float("nan"), -1, -1, 0
    pairs = len(idx) * (len(idx) - 1) // 2
    lo_w, hi_w = wilson_interval(k[idx], n[idx], 1 - (1 - confidence) / pairs)
    a, b = (slice(None), None), (None, slice(None))  # ordered pairs (i, j): i along rows, j along columns
    off = ~np.eye(len(idx), dtype=bool)
    lo_g, hi_g = int(np.argmin(p)), int(np.argmax(p))
    if measure == "difference":
        low, high = mover_difference(p[a], lo_w[a], hi_w[a], p[b], lo_w[b], hi_w[b])
        value = float(p[hi_g] - p[lo_g])
        bounds = (max(float(np.max(low[off])), 0.0), float(np.max(high[off])))
    else:
        low, high = mover_ratio(p[a], lo_w[a], hi_w[a], p[b], lo_w[b], hi_w[b])
        value = float(divide(p[lo_g], p[hi_g]))
        bounds = (float(np.nanmin(low[off])), min(float(np.min(high[off])), 1.0))
    return value, min(bounds[0], value), max(bounds[1], value), int(idx[lo_g]), int(idx[hi_g]), pairs


class Disparity(Check):
    """A between-group disparity of one or more rates (fairlearn's between-groups aggregation):
    "difference" is the largest max - min gap over the components, "ratio" the smallest min / max.
    Groups under the policy's minimum size, or whose rate rests on fewer rows than that, are left out.

    Its interval is simultaneous over the pairs of groups and the components, and its `p_value` is a test
    of equal rates over all eligible groups (for several components, the smallest p times their number),
    so a FAIL never rests on which pair came out extreme by chance (DESIGN.md "Verdict rules")."""

    components: ClassVar[tuple[str, ...]]
    measures: ClassVar[tuple[str, ...]] = ("difference", "ratio")

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        conf = ctx.policy.confidence_level
        for gd in bias_data(ctx).groupings:
            if (f := too_few(self, ctx, gd)) is not None:
                out.findings.append(f)
                continue
            testable = [c for c in self.components if gd.eligible_for(c).sum() >= 2]
            untested = [c for c in self.components if c not in testable]
            if untested:
                out.findings.append(self._untested(ctx, gd, untested))
            if not testable:
                continue
            for measure in self.measures:
                m = self._measure(ctx, gd, measure, testable, conf)
                out.measurements.append(m)
                out.messages[m.key] = self.message(ctx, gd, m, conf)
        return out

    def _untested(self, ctx: CheckContext, gd: GroupingData, components: list[str]) -> Finding:
        what = " and ".join(LABELS[c].split(" (")[0] for c in components)
        return Finding(suite=SUITE, check=self.name, metric="difference", status=Status.INSUFFICIENT,
                       group=gd.key, dataset=ctx.dataset.name, policy_section=self.policy_section,
                       details={"components": components},
                       message=(f"Within {gd.key}, fewer than two groups have a {what} resting on at least "
                                f"{ctx.policy.min_group_size} rows: that part of the "
                                f"{self.name.replace('_', ' ')} check is not judged. Assess it on more data."))

    def _measure(self, ctx: CheckContext, gd: GroupingData, measure: str, components: list[str],
                 conf: float) -> Measurement:
        level = 1 - (1 - conf) / len(components)  # Bonferroni over the components, then over the pairs
        found = {c: simultaneous_spread(gd, c, measure, level) for c in components}
        defined = {c: v for c, v in found.items() if np.isfinite(v[0])}
        if not defined:
            return Measurement(SUITE, self.name, measure, float("nan"), group=gd.key,
                               details={"reason": "the rate is undefined in every group"})
        pick = max if measure == "difference" else min
        worst = pick(defined, key=lambda c: defined[c][0])
        value, _, _, lo_g, hi_g, pairs = defined[worst]
        low = pick(v[1] for v in defined.values())
        high = pick(v[2] for v in defined.values())
        tests = {c: homogeneity(ctx, gd, c) for c in defined}
        p_value = min(1.0, len(tests) * min(p for p, _ in tests.values()))
        test = tests[worst][1] if len(tests) == 1 else (
            f"{' and '.join(sorted({t for _, t in tests.values()}))} per rate, the smaller p times {len(tests)}")
        p = M.RATES[worst][0](gd.counts)
        den = gd.denominators(worst)
        return Measurement(SUITE, self.name, measure, value, low, high, group=gd.key, reference=gd.names[hi_g],
                           details={"component": worst, "lowest": gd.names[lo_g], "highest": gd.names[hi_g],
                                    "lowest_rate": float(p[lo_g]), "highest_rate": float(p[hi_g]),
                                    "lowest_n": int(den[lo_g]), "highest_n": int(den[hi_g]),
                                    "p_value": p_value, "test": test, "pairs": pairs,
                                    "interval": f"simultaneous over {pairs} pairs of groups"
                                                + (f" and {len(defined)} rates" if len(defined) > 1 else "")
                                                + " (Newcombe / MOVER-R, Bonferroni)",
                                    **{f"{c}_{measure}": v[0] for c, v in found.items()}})

    def message(self, ctx: CheckContext, gd: GroupingData, m: Measurement, conf: float) -> str:
        limit = limit_of(ctx, self.name, m.metric)
        if not np.isfinite(m.value):
            return f"Within {gd.key}, the {self.name.replace('_', ' ')} {m.metric} is undefined: {m.details['reason']}."
        d = m.details
        label = LABELS[d["component"]]
        both = " (the larger of the two gaps)" if len(self.components) > 1 else ""
        low = f"'{d['lowest']}', {d['lowest_rate']:.1%} of {d['lowest_n']:,}"
        high = f"'{d['highest']}', {d['highest_rate']:.1%} of {d['highest_n']:,}"
        if m.metric == "difference":
            text = (f"Within {gd.key}, the {label} ranges from {d['lowest_rate']:.1%} ('{d['lowest']}', of "
                    f"{d['lowest_n']:,}) to {d['highest_rate']:.1%} ('{d['highest']}', of {d['highest_n']:,}), a gap "
                    f"of {m.value:.3f}{both} ({ci_text(m.ci_low, m.ci_high, conf)})")
            return text + (f"; the policy allows at most {limit:.2f}." if limit is not None else ".")
        text = (f"Within {gd.key}, the lowest {label} ({low}) is {fmt(m.value)} times the highest ({high}){both} "
                f"({ci_text(m.ci_low, m.ci_high, conf)})")
        return text + (f"; the policy requires at least {limit:.2f}." if limit is not None else ".")


class DemographicParity(Disparity):
    """Selection-rate parity between the lowest- and highest-rate groups. Informational by default: the
    four-fifths rule is judged once, by `four_fifths` against the reference group, as the EEOC reads it."""

    name = "demographic_parity"
    description = "Lowest / highest group selection rate and the gap between them (informational)."
    policy_section = "2.1"
    components = ("selection_rate",)

    def message(self, ctx: CheckContext, gd: GroupingData, m: Measurement, conf: float) -> str:
        if m.metric != "ratio" or not np.isfinite(m.value):
            return super().message(ctx, gd, m, conf)
        limit = limit_of(ctx, self.name, "ratio")
        rule = f"; the policy requires at least {limit:.2f}" if limit is not None else ""
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
    """The civil-rights benchmark, counted once: each group's selection rate against the reference group's,
    read as the EEOC guidelines do, practically (the ratio, against 0.8) and statistically (Fisher's exact or
    the two-proportion z test of equal rates, in `p_value`; the decision rule adjusts it by Holm's method
    across the run's blocking findings, so a FAIL needs both, 29 CFR 1607.4(D)). The ratio's interval is
    MOVER-R on the two Wilson intervals (Donner and Zou 2012), informative even at 0 of 156 selected."""

    name = "four_fifths"
    description = "Adverse impact ratio of every group against the reference group, with a significance test."
    policy_section = "4.3"

    def run(self, ctx: CheckContext) -> CheckOutput:
        from harness.measures.significance import selection_test
        from harness.stats import mover_ratio, wilson_interval

        out = CheckOutput()
        conf = ctx.policy.confidence_level
        limit = limit_of(ctx, self.name, "adverse_impact_ratio")
        for gd in bias_data(ctx).groupings:
            if (f := too_few(self, ctx, gd)) is not None:
                out.findings.append(f)
                continue
            ref = gd.reference
            sel = M.selection_rate(gd.counts)
            k, n = gd.effective("selection_rate")
            lo_w, hi_w = wilson_interval(k, n, conf)
            lo_all, hi_all = mover_ratio(sel, lo_w, hi_w, sel[ref], lo_w[ref], hi_w[ref])
            for i in np.flatnonzero(gd.eligible):
                if i == ref:
                    continue
                p, test = selection_test(k[i], n[i], k[ref], n[ref])
                value, lo, hi = float(divide(sel[i], sel[ref])), float(lo_all[i]), float(hi_all[i])
                lo, hi = min(lo, value), max(hi, value)
                ref_name, name = gd.names[ref], gd.names[i]
                m = Measurement(SUITE, self.name, "adverse_impact_ratio", value, lo, hi,
                                group=gd.grouping.group_key(int(i)), reference=ref_name, n=int(gd.sizes[i]),
                                details={"p_value": p, "test": test, "reference_source": gd.reference_source,
                                         "selection_rate": float(sel[i]), "reference_rate": float(sel[ref]),
                                         "reference_n": int(gd.sizes[ref])})
                out.measurements.append(m)
                practical = (f"'{name}' is selected at {fmt(value)} times the rate of '{ref_name}' "
                             f"({sel[i]:.1%} of {int(gd.sizes[i]):,} against {sel[ref]:.1%} of "
                             f"{int(gd.sizes[ref]):,}; {ci_text(lo, hi, conf)})")
                rule = f"; the four-fifths rule requires at least {limit:.2f}" if limit is not None else ""
                out.messages[m.key] = f"Within {gd.key}, {practical}{rule}."
                out.tables.setdefault(f"{SUITE}.four_fifths", []).append({
                    "grouping": gd.key, "group": name, "reference": ref_name, "n": int(gd.sizes[i]),
                    "adverse_impact_ratio": finite_or_none(value), "ci_low": finite_or_none(lo),
                    "ci_high": finite_or_none(hi), "test": test, "p_value": finite_or_none(p)})
        return out
