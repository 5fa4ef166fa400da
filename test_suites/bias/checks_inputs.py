"""Checks that look past group rates, at the tool's inputs: proxies for protected attributes,
counterfactual flips, individual fairness, and what post-processing could reach (a mitigation hint)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement
from harness.datasets import matches
from harness.findings import finite_or_none
from harness.measures.proxies import AUC, CRAMERS_V, score_proxies
from harness.tools import can_call
from test_suites.bias import individual as I
from test_suites.bias import metrics as M
from test_suites.bias.checks import ci_text, limit_of
from test_suites.bias.data import SUITE, bias_data, column_codes, note

if TYPE_CHECKING:
    import pandas as pd


class Proxies(Check):
    """Inputs that stand in for a protected attribute let a tool discriminate without seeing it."""

    name = "proxies"
    description = "How well each input predicts each protected attribute (Cramér's V, or a one-feature AUC)."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        card = ctx.dataset.card
        cols, known = ctx.tool_inputs()
        protected = list(card.protected_attributes)
        features = [c for c in cols if c not in protected]
        limits = {m: lim for m in (CRAMERS_V, AUC) if (lim := limit_of(ctx, self.name, m)) is not None}
        scope = "an input of the tool" if known else "a feature of the dataset (the tool's own inputs are unknown)"
        rows = []
        for s in score_proxies(column_codes(ctx), features, protected, limits):
            m = Measurement(SUITE, self.name, s.measure, s.value, group=f"{s.feature}.{s.protected}", n=s.n,
                            details={"feature": s.feature, "protected": s.protected,
                                     "nmi": finite_or_none(s.nmi) if s.nmi is not None else None})
            out.measurements.append(m)
            out.messages[m.key] = f"{s.message}; {s.feature} is {scope}."
            rows.append({"feature": s.feature, "protected": s.protected, "measure": s.measure,
                         "value": finite_or_none(s.value), "limit": s.limit, "over_limit": s.exceeds,
                         "nmi": finite_or_none(s.nmi) if s.nmi is not None else None})
        out.tables[f"{SUITE}.proxies"] = rows
        return out


class Counterfactual(Check):
    """Change only a protected attribute (or redraw only a declared proxy) and count the decisions
    that change. A tool that uses race directly changes decisions when only race changes."""

    name = "counterfactual"
    description = "Share of decisions that change when only a protected attribute or a declared proxy changes."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        if ctx.tool is None or not can_call(ctx.tool):
            out.findings.append(note(self, ctx, "flip_rate",
                                        "the tool's outputs were supplied as a file, so it cannot be called on "
                                        "changed inputs; the counterfactual test needs a model or an endpoint"))
            return out
        cols, known = ctx.tool_inputs()
        card, frame = ctx.dataset.card, ctx.frame
        assert card.target is not None  # bias_data below reads it
        fav = card.target.favorable_value
        rng = ctx.rng("bias.counterfactual")
        conf = ctx.policy.confidence_level
        sample = Sample.of(ctx)
        base = bias_data(ctx).y_pred if sample.rows is None else bias_data(ctx).y_pred[sample.rows]
        inputs = frame[cols] if sample.rows is None else frame[cols].iloc[sample.rows]
        ran = False
        for attr, spec in card.protected_attributes.items():
            values = frame[attr]
            ref = spec.reference if spec.reference is not None else values.mode().iloc[0]
            if attr in cols:
                changed = inputs.copy(deep=False)  # copy-on-write: the dataset's frame is never changed
                changed[attr] = sample.take(flip(values, ref))  # flipped as the whole column is: same levels
                self._record(out, ctx, "flip_rate", attr, attr, changed, base, fav, conf, sample,
                             f"Changing only {attr} (to '{ref}', and '{ref}' to the next largest group; every "
                             f"other input kept)")
                ran = True
            for proxy in spec.proxies:
                if proxy not in cols:
                    continue
                changed = inputs.copy(deep=False)
                changed[proxy] = redraw(frame[proxy], reference_rows(ctx, attr, ref), len(changed), rng)
                self._record(out, ctx, "proxy_flip_rate", proxy, attr, changed, base, fav, conf, sample,
                             f"Redrawing only {proxy}, a declared proxy for {attr}, as it is distributed among "
                             f"'{ref}' applicants (every other input kept)")
                ran = True
        if not ran:
            names = ", ".join([*card.protected_attributes,
                               *(p for s in card.protected_attributes.values() for p in s.proxies)])
            out.findings.append(note(self, ctx, "flip_rate",
                                        f"the tool takes none of {names} as input, so there is nothing to flip",
                                        not_applicable=known))
        return out

    def _record(self, out: CheckOutput, ctx: CheckContext, metric: str, column: str, attr: str,
                changed: pd.DataFrame, base: np.ndarray, fav: Any, conf: float, sample: Sample,
                what: str) -> None:
        from harness.stats import wilson_interval

        new = matches(ctx.tool.predict_frame(changed).labels, fav).astype(np.int8)  # type: ignore[union-attr]
        flips = new != base
        n, k = len(flips), int(flips.sum())
        lo, hi = wilson_interval(k, n, conf)
        details: dict[str, Any] = {"attribute": attr, "flipped": k}
        if sample.rows is not None:
            details.update(sampled=True, rows=sample.total)
        m = Measurement(SUITE, self.name, metric, k / n, float(lo), float(hi), group=column, n=n, details=details)
        out.measurements.append(m)
        limit = limit_of(ctx, self.name, metric)
        out.messages[m.key] = (f"{what} changes {k:,} of {n:,} decisions "
                               f"({k / n:.1%}, {ci_text(float(lo), float(hi), conf)}{sample.words()})"
                               + (f"; the policy allows at most {limit:.0%}." if limit is not None else "."))
        codes, names = text_groups(ctx, attr)
        codes = sample.take(codes)
        kept = codes >= 0
        codes = codes[kept].astype(np.intp)
        sizes = np.bincount(codes, minlength=len(names))
        # per group: rows, flips, favourable decisions before and after; counts, so k / n is the float
        # that the mean of the group's 0/1 values is
        counts = [np.bincount(codes, weights=v[kept], minlength=len(names)) for v in (flips, base, new)]
        rows = []
        for i, value in enumerate(names):
            n_g, k_g = int(sizes[i]), int(counts[0][i])
            if n_g == 0:  # a group the sample missed
                continue
            glo, ghi = wilson_interval(k_g, n_g, conf)
            rows.append({"group": value, "n": n_g, "flip_rate": k_g / n_g,
                         "flip_rate_low": float(glo), "flip_rate_high": float(ghi),
                         "favourable_before": int(counts[1][i]) / n_g, "favourable_after": int(counts[2][i]) / n_g})
        out.tables[f"{SUITE}.counterfactual.{metric}.{column}"] = rows


@dataclass(frozen=True)
class Sample:
    """The rows the counterfactual check flips: all of them, or, above the policy's
    `bias.counterfactual_max_rows`, a seeded uniform sample of that many (sorted positions).

    A flip rate is a proportion over rows, so a uniform sample estimates it without bias and its Wilson
    interval, computed on the sample's count, is an interval for the whole data's rate (conservative: it
    ignores the finite-population correction). What the sample saves is the tool's own cost: one call per
    flip on the whole data (seconds for a real model at a million rows, minutes for an endpoint). Every
    dataset the harness ships is below the cap and flipped whole, with the same draws as before."""

    rows: np.ndarray | None
    total: int

    @staticmethod
    def of(ctx: CheckContext) -> Sample:
        n = len(ctx.frame)
        cap = int(ctx.policy.setting(SUITE, "counterfactual_max_rows", 100_000))
        if n <= cap:
            return Sample(None, n)
        return Sample(np.sort(ctx.rng("bias.counterfactual.sample").choice(n, cap, replace=False)), n)

    def take(self, values: Any) -> Any:
        """The sampled rows of a column (a Series keeps the sample's index) or of an array."""
        if self.rows is None:
            return values
        return values.iloc[self.rows] if hasattr(values, "iloc") else values[self.rows]

    def words(self) -> str:
        return "" if self.rows is None else f", on a seeded sample of {len(self.rows):,} of {self.total:,} rows"


def text_groups(ctx: CheckContext, attr: str) -> tuple[np.ndarray, list[str]]:
    """The groups `frame[attr].astype(str).groupby(...)` forms: codes of the sorted distinct texts, -1 for a
    missing value (groupby drops it). A text column's codes are the bias checks' shared ones."""
    import pandas as pd

    values = ctx.frame[attr]
    if isinstance(values.dtype, pd.StringDtype):  # astype(str) changes nothing but the missing-value marker
        codes, uniques = column_codes(ctx).sorted(attr)
    else:
        codes, uniques = pd.factorize(values.astype(str), sort=True)
    return codes, [str(u) for u in uniques]


def reference_rows(ctx: CheckContext, attr: str, reference: Any) -> np.ndarray:
    """Positions of the rows whose `attr` matches the reference (`matches`, which is elementwise, applied to
    the column's distinct values and spread by their codes, so a million strings are not stripped)."""
    import pandas as pd

    values = ctx.frame[attr]
    if not isinstance(values.dtype, pd.StringDtype):
        return np.flatnonzero(matches(values, reference))
    codes, uniques = column_codes(ctx).factorized(attr)
    hit = np.append(matches(pd.Series(uniques, dtype=values.dtype), reference),
                    matches(pd.Series([None], dtype=values.dtype), reference))  # the last: a missing value
    wanted = np.flatnonzero(hit)
    wanted[wanted == len(uniques)] = -1  # factorize's code of a missing value
    # the small codes compared with each matching one (usually one): a third of the time of a gather of every row
    rows = np.zeros(len(codes), dtype=bool)
    for code in wanted.tolist():
        rows |= codes == code
    return np.flatnonzero(rows)


def redraw(column: pd.Series, pool: np.ndarray, size: int, rng: np.random.Generator) -> Any:
    """`size` new values, drawn with replacement from the column's values at the `pool` rows: the draws of
    `rng.choice(column.to_numpy()[pool], size)`, taken from the column's own array, so a text column stays
    text without a million Python strings being made and parsed back (0.4 s at a million rows)."""
    if len(pool) == 0:  # rng.choice's own error for an empty population, as before
        return rng.choice(column.to_numpy()[pool], size=size, replace=True)
    rows = pool[rng.choice(len(pool), size=size, replace=True)]
    import pandas as pd

    # the dtypes that come back from numpy draws as they were: numbers, and pandas' default text (which is what
    # a million drawn strings were parsed back into); any other column is drawn as numpy values, as before
    if column.dtype == pd.StringDtype(na_value=np.nan) or (isinstance(column.dtype, np.dtype)
                                                           and column.dtype.kind in "biuf"):
        return column.array.take(rows)  # an array, set by position as the numpy draws were
    return column.to_numpy()[rows]


def flip(values: pd.Series, reference: Any) -> pd.Series:
    """Each value changed to another: two levels swap; with more, every non-reference value becomes
    the reference, and the reference becomes the largest other group."""
    import pandas as pd

    text = values.astype(str)
    ref = str(reference)
    levels = text.value_counts().index.tolist()
    others = [v for v in levels if v != ref]
    if not others:
        return values
    # with two levels this is a swap; with more, others[0] is the largest non-reference group
    if isinstance(values.dtype, pd.StringDtype):  # the two texts taken by position: no million-string array
        two = pd.array([others[0], ref], dtype=values.dtype)
        return pd.Series(two.take((text != ref).to_numpy(dtype=bool, na_value=True).astype(np.intp)),
                         index=values.index)
    typed = pd.Series(np.where(text == ref, others[0], ref), index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        typed = pd.to_numeric(typed)
    return typed.astype(values.dtype)


def estimate_interval(estimate: float, samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """A bootstrap interval that always contains its estimate, for the Theil indices: the hull of the
    percentile interval [q_lo, q_hi] and its reflection about the estimate (the basic bootstrap interval
    [2 est - q_hi, 2 est - q_lo]), cut at 0, below which an entropy index cannot go.

    Why not the percentile interval: the between-group Theil index is a squared-distance-like statistic,
    biased upward, so its bootstrap draws sit above the estimate. With groups whose benefit rates are
    equal (an estimate of exactly 0) nearly every draw is above it, and the percentile interval excludes
    its own estimate (0 against [1.6e-07, 0.0037] for 50 and 73 people with equal rates, a case in
    tests/test_individual_fairness.py); on 1,000 per group it covered a true 0 in 4 % of simulations.
    The reflected interval corrects the bias and reaches 0 when the groups may not differ; the hull
    contains the estimate by construction (an interval and its mirror image about a point enclose the
    point), so nothing is clamped. Measured coverage of the hull's 95 % (two groups of 50 to 5,000,
    true between-group Theil 0 to 0.006, 300 simulations each): between groups 95-100 % (percentile:
    0-98 %; the bias-corrected (BC) percentile interval, the other candidate, 45-96 %, as it cannot
    reach 0), overall Theil 93-96 %. The price is width on the side of 0.
    """
    from harness.stats import percentile_interval

    q_lo, q_hi = percentile_interval(samples, confidence)
    lo, hi = float(q_lo), float(q_hi)
    if not (np.isfinite(estimate) and np.isfinite(lo) and np.isfinite(hi)):
        return float("nan"), float("nan")
    return max(0.0, min(lo, 2 * estimate - hi)), max(hi, 2 * estimate - lo)


class IndividualFairness(Check):
    """aif360's inequality and individual-fairness measures: the Theil index of benefits overall and
    between groups, and kNN consistency (similar people, similar decisions). The Theil intervals are
    `estimate_interval`'s, which contain their estimate (a percentile interval did not, between groups)."""

    name = "individual_fairness"
    description = "Theil index (overall and between groups) and kNN consistency of decisions."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        data = bias_data(ctx)
        conf = ctx.policy.confidence_level
        overall = float(I.theil_index(data.pooled))
        lo, hi = estimate_interval(overall, I.theil_index(data.pooled_boot), conf)
        out.measurements.append(Measurement(SUITE, self.name, "theil_index", overall, lo, hi))
        for gd in data.groupings:
            value = float(I.between_group_theil_index(gd.counts))
            blo, bhi = estimate_interval(value, I.between_group_theil_index(gd.boot), conf)
            out.measurements.append(Measurement(SUITE, self.name, "between_group_theil", value, blo, bhi,
                                                group=gd.key))
        rows = int(ctx.policy.setting(SUITE, "consistency_rows", 5000))
        if rows <= 0:
            return out
        cols, _ = ctx.tool_inputs()
        try:  # features for the sampled rows only: the kNN searches within the sample
            x, y = I.consistency_inputs(ctx.frame, cols, data.y_pred, rows, ctx.rng("bias.consistency"),
                                        codes=column_codes(ctx))
        except ValueError as e:
            out.findings.append(note(self, ctx, "consistency", f"kNN consistency was not computed: {e}"))
            return out
        k = int(ctx.policy.setting(SUITE, "consistency_neighbors", 5))
        value = I.consistency(x, y, k)
        out.measurements.append(Measurement(
            SUITE, self.name, "consistency", value, n=len(x),
            details={"neighbours": k, "sampled": len(ctx.frame) > rows, "features": cols}))
        return out


class MitigationHint(Check):
    """On a four-fifths failure, what fairlearn's ThresholdOptimizer could reach by post-processing
    the tool's own scores (policy 4.2 allows use after remediation). An illustration, never applied."""

    name = "mitigation_hint"
    description = "Selection-rate ratio and accuracy after ThresholdOptimizer post-processing (illustration)."
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        from test_suites.bias.mitigation import hint_unavailable_reason, threshold_optimizer_hint

        out = CheckOutput()
        data = bias_data(ctx)
        limit = limit_of(ctx, "four_fifths", "adverse_impact_ratio")
        singles = [gd for gd in data.groupings if len(gd.grouping.attributes) == 1]
        ratios = {gd.key: float(M.demographic_parity(gd.counts, gd.eligible)[1]) for gd in singles}
        failing = {k: v for k, v in ratios.items() if limit is not None and np.isfinite(v) and v < limit}
        if not failing or data.scores is None:
            return out
        attr = min(failing, key=failing.__getitem__)
        n = len(ctx.frame)
        cap = int(ctx.policy.setting(SUITE, "mitigation_max_rows", 50_000))
        idx = np.sort(ctx.rng("bias.mitigation").choice(n, cap, replace=False)) if n > cap else np.arange(n)
        column = ctx.frame[attr] if n <= cap else ctx.frame[attr].iloc[idx]  # the sample's rows, not a million
        groups = column.astype(str).reset_index(drop=True)  # text, as the hint's groups are
        scores, y, before = data.scores[idx], data.y_true[idx], data.y_pred[idx]
        hint = threshold_optimizer_hint(scores, y, groups, before, seed=ctx.seed)
        if hint is None:  # asked why only then: the hint checks its inputs itself
            why = hint_unavailable_reason(scores, y, groups)
            out.findings.append(note(self, ctx, "ratio_after", f"no mitigation hint for {attr}: {why}"))
            return out
        for metric in ("ratio_before", "ratio_after", "accuracy_before", "accuracy_after",
                       "eo_difference_before", "eo_difference_after"):
            out.measurements.append(Measurement(SUITE, self.name, metric, float(getattr(hint, metric)), group=attr,
                                                n=hint.n))
        out.tables[f"{SUITE}.mitigation_hint.{attr}"] = [{
            "attribute": attr, "rows": hint.n, "sampled": n > cap,
            "selection_rate_ratio_before": hint.ratio_before, "selection_rate_ratio_after": hint.ratio_after,
            "accuracy_before": hint.accuracy_before, "accuracy_after": hint.accuracy_after,
            "equalized_odds_difference_before": hint.eo_difference_before,
            "equalized_odds_difference_after": hint.eo_difference_after,
            "thresholds": "; ".join(t.describe() for t in hint.thresholds), "note": hint.note}]
        return out
