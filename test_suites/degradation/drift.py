"""Drift between the reference data and a current production sample (`harness assess --current`).

A tool validated on last year's applicants can go wrong on this year's without a line of it changing
(policy 4.3: "potential unintended consequences"). Per feature and for the tool's score: the
population stability index (PSI, the credit-scoring convention: under 0.1 stable, 0.1-0.2 a moderate
shift, over 0.2 a significant one), with a two-sample Kolmogorov-Smirnov test for numeric features
and a chi-square test of homogeneity for categorical ones. PSI is judged; the tests are reported,
Holm-adjusted, because on tens of thousands of rows a test finds a trivial shift "significant" while
PSI measures how large it is.

PSI bins: the reference's deciles for numeric values (fewer when values repeat), each category for
categorical ones (categories only one side has get a bin of their own), and a bin for missing values.
Empty bins get a floor share (`psi_floor`), as PSI is infinite otherwise.

PSI on a small current sample is biased upward: 50 rows drawn from the reference distribution itself
exceed 0.2 on decile bins 45 % of the time. So each PSI is judged against its own sampling
distribution (`psi_test`, multinomial simulation, so it costs the same at any row count): the finding
carries `details["p_value"]`, a one-sided test that the true PSI exceeds the limit, which the decision
rule needs before a PSI over the limit FAILs; an interval for the true PSI by inverting that test (no
clamp: its lower end shows the bias); and the mean PSI of same-size samples from the reference, in
the message. Below `psi_min_rows` current rows the PSI is reported but its finding is INSUFFICIENT.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.check import CheckContext, CheckOutput, Measurement
from harness.findings import Finding, Severity, Status
from harness.measures.perturb import is_numeric
from test_suites.degradation.calls import call_tool
from test_suites.degradation.common import (
    SUITE,
    DegradationCheck,
    callable_tool,
    clear_mode,
    favourable,
    finite_or_none,
    limit_of,
    setting,
    skipped,
    tool_inputs,
)

if TYPE_CHECKING:
    import pandas as pd

NO_CURRENT = "no --current sample given"
# the drift check's PSI judged as the approval's question on a production sample without outcomes (harness.monitoring):
# under a check name of its own, so a run without such a sample has nothing of it "not tested"
POPULATION_SHIFT = "population_shift"
SHIFT_DRAWS = 20_000  # simulated PSIs behind a population-shift p-value at least (see Drift._population_shift)


def psi(expected: np.ndarray, actual: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    """Population stability index of histograms along the last axis: sum (a - e) ln(a / e) over bins,
    shares floored at `floor` so an empty bin does not make it infinite."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / e.sum(axis=-1, keepdims=True), floor)
    a = np.maximum(a / a.sum(axis=-1, keepdims=True), floor)
    return ((a - e) * np.log(a / e)).sum(axis=-1)


@dataclass(frozen=True)
class PsiTest:
    """An observed PSI next to what sampling alone gives at the current sample's size."""

    value: float        # the observed PSI
    ci_low: float       # interval for the true PSI (`psi_test`); always contains `value`
    ci_high: float
    p_value: float      # one-sided, H0 "the true PSI is at most the limit" (1.0 when the PSI is within it)
    p_no_shift: float   # H0 "the current sample is drawn from the reference distribution"
    null_mean: float    # mean PSI of samples of the current size drawn from the reference distribution
    raised: bool        # the interval's upper end was raised to the estimate (see `psi_test`)


MIN_NULL_DRAWS = 2000  # simulated PSIs per p-value at least (the policy's bootstrap_samples when larger): p >= 1/2001
SEARCH_DRAWS = 1000  # simulated PSIs per step of the interval's search (at most the p-value's draws)
BISECTIONS = 8  # steps of each interval end's search: 1/256 of the bracket, finer than the simulation's own noise
T_CAP = 1024.0  # the ray is followed at most this far past the reference (its PSI levels off long before)


def psi_test(expected: np.ndarray, actual: np.ndarray, floor: float, limit: float | None, draws: int,
             rng: np.random.Generator, confidence: float) -> PsiTest:
    """The observed PSI judged against its own sampling distribution, by simulation.

    PSI is biased upward on a small current sample: every bin's share is off by chance and PSI adds
    the squares, so 50 rows drawn from the reference distribution itself give about 0.2 on decile bins
    (45 % of them over 0.2). Each simulated PSI compares a multinomial redraw of the reference histogram
    (its own size) with a multinomial draw of the current sample's size from a candidate distribution
    q(t) = e + t w (a - e) on a ray from the reference shares e in the direction the current shares a
    moved (negative shares cut to 0 and the rest rescaled past the simplex's edge). Its true PSI grows
    with t from 0. The weights w = n e / (n e + 1) shrink the move of bins where the current sample
    expects under one row (a chance 0 or 1 among 42 rare countries is noise, not a direction; a real
    move of a common bin keeps its weight, and equal bins keep the plain ray); a bin the reference never
    saw keeps weight 1.

    * `p_no_shift` and `null_mean`: q = e, the current sample drawn from the reference distribution.
    * `p_value`: q at the limit (true PSI = limit) on that ray, the least favourable point of the null
      "the true PSI is at most the limit" in the direction the data moved: the design's one-sided test of
      one quantity against its limit. Testing "no shift at all" instead would call a moderate true shift
      (PSI 0.1) significant half the time on 100 rows, through the bias alone. p = (1 + draws at or above
      the observed PSI) / (1 + draws); 1 when the observed PSI is within the limit.
    * The interval: the true PSIs on the ray that the observed value does not reject at (1 - confidence)
      / 2 on either side (test inversion, as for an RMSEA interval), found by bisection in t. Its lower
      end reaches 0 when the observed PSI is what chance alone gives, so the bias is shown, not hidden
      (the old percentile bootstrap sat above the estimate and was clamped down to it). Where the sample's
      bias exceeds its noise, every true PSI the data allow lies below the observed value; the upper end
      is then raised to the observed value (`raised`), which only widens the interval (PASS gets harder,
      FAIL no easier). With identical histograms there is no ray: the interval runs from 0 to the
      (1 + confidence) / 2 quantile of the no-shift PSI.
    """
    e_counts, a_counts = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    m, n = round(float(e_counts.sum())), round(float(a_counts.sum()))
    e, a = e_counts / e_counts.sum(), a_counts / a_counts.sum()
    obs = float(psi(e_counts, a_counts, floor))
    at_least = obs - 1e-12 * max(obs, 1.0)  # a draw equal to the observed PSI (rounding aside) counts as large
    ref = np.maximum(rng.multinomial(m, e, size=draws) / m, floor)  # psi()'s floored shares, computed once
    log_ref = np.log(ref)
    direction = np.where(e > 0, n * e / (n * e + 1), 1.0) * (a - e)

    def q_at(t: float) -> np.ndarray:
        q = np.clip(e + t * direction, 0.0, None)
        return q / q.sum()

    def simulate(t: float, size: int = draws) -> np.ndarray:
        cur = np.maximum(rng.multinomial(n, q_at(t), size=size) / n, floor)
        return ((cur - ref[:size]) * (np.log(cur) - log_ref[:size])).sum(axis=-1)

    def true_psi(t: float) -> float:
        return float(psi(e, q_at(t), floor))

    def at_or_above(t: float) -> float:
        return float(np.mean(simulate(t, min(draws, SEARCH_DRAWS)) >= at_least))

    def at_or_below(t: float) -> float:
        return float(np.mean(simulate(t, min(draws, SEARCH_DRAWS)) <= obs))

    def reaching(value: float) -> float:
        """The t whose true PSI is `value` (T_CAP when the ray levels off below it)."""
        from scipy import optimize

        hi = 1.0
        while true_psi(hi) < value and hi < T_CAP:
            hi *= 2
        return hi if true_psi(hi) < value else float(optimize.brentq(lambda t: true_psi(t) - value, 0.0, hi))

    null = simulate(0.0)
    null_mean = float(null.mean())
    p_no_shift = float((1 + np.count_nonzero(null >= at_least)) / (1 + draws))
    half = (1 - confidence) / 2
    if not np.any(np.abs(direction) > 1e-15):
        return PsiTest(obs, 0.0, max(float(np.quantile(null, 1 - half)), obs), 1.0, p_no_shift, null_mean, False)

    p_value = 1.0
    if limit is not None and obs > limit:
        p_value = float((1 + np.count_nonzero(simulate(reaching(limit)) >= at_least)) / (1 + draws))

    t_obs = reaching(obs)  # the point of the ray whose true PSI is the observed one
    # lower end: the smallest true PSI under which a value as large as the observed one is not rare
    if np.mean(null >= at_least) >= half:
        ci_low = 0.0
    else:
        t_lo, t_hi = 0.0, t_obs
        while t_hi < T_CAP and at_or_above(t_hi) < half:
            t_lo, t_hi = t_hi, 2 * t_hi
        ci_low = true_psi(_bisect(t_lo, t_hi, lambda t: at_or_above(t) >= half))
    # upper end: the largest true PSI under which a value as small as the observed one is not rare
    raised = at_or_below(t_obs) <= half
    if raised:
        ci_high = obs
    else:
        t_lo, t_hi = t_obs, 2 * t_obs
        while t_hi < T_CAP and at_or_below(t_hi) > half:
            t_lo, t_hi = t_hi, 2 * t_hi
        ci_high = true_psi(_bisect(t_lo, t_hi, lambda t: at_or_below(t) <= half))
    # min/max only absorb the search's simulation noise at the edges; the raise above is the real widening
    return PsiTest(obs, min(ci_low, obs), max(ci_high, obs), p_value, p_no_shift, null_mean, raised)


def _bisect(lo: float, hi: float, right_side: Callable[[float], bool]) -> float:
    """The t in [lo, hi] where `right_side` turns true (a simulated, so slightly noisy, boundary)."""
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if right_side(mid) else (mid, hi)
    return (lo + hi) / 2


@dataclass(frozen=True)
class Histograms:
    """Reference and current counts over the same bins, with the bins' names."""

    reference: np.ndarray
    current: np.ndarray
    bins: list[str]


def quantile_edges(finite: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles. Where a value repeats so often that quantiles
    coincide (0 in capital gains for 90 % of people), the edges collapse; the other values are then
    cut at their own quantiles, so a shift among the few non-zero values is still seen."""
    if not len(finite):
        return np.array([])
    inner = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.quantile(finite, inner))
    if len(edges) < len(inner):
        rest = finite[~np.isin(finite, edges)]
        if len(rest):
            edges = np.unique(np.concatenate([edges, np.quantile(rest, inner)]))
    return edges


def numeric_histograms(ref: np.ndarray, cur: np.ndarray, bins: int) -> Histograms:
    """Bins at the reference's quantiles (`quantile_edges`), plus one for missing values."""
    edges = quantile_edges(ref[np.isfinite(ref)], bins)

    def count(x: np.ndarray) -> np.ndarray:
        codes = np.where(np.isnan(x), len(edges) + 1, np.searchsorted(edges, x, side="right"))
        return np.bincount(codes, minlength=len(edges) + 2)

    names = [f"< {edges[0]:g}"] if len(edges) else ["all"]
    names += [f"[{lo:g}, {hi:g})" for lo, hi in pairwise(edges)]
    names += [f">= {edges[-1]:g}"] if len(edges) else []
    return Histograms(count(ref), count(cur), [*names, "missing"])


def categorical_histograms(ref: pd.Series, cur: pd.Series) -> Histograms:
    """One bin per category seen on either side (compared as trimmed text), and one for missing.
    Each side is coded once; the trimming runs on its distinct values, not on every row (`_coded_text`)."""
    import pandas as pd

    r_codes, r_text = _coded_text(ref)
    c_codes, c_text = _coded_text(cur)
    cats = pd.Index(pd.unique(r_text)).union(pd.Index(pd.unique(c_text)))

    def count(codes: np.ndarray, text: np.ndarray) -> np.ndarray:
        bins = np.append(cats.get_indexer(text), len(cats))  # code -1 (missing) picks the last bin
        return np.bincount(bins[codes], minlength=len(cats) + 1)

    return Histograms(count(r_codes, r_text), count(c_codes, c_text), [*map(str, cats), "missing"])


def _coded_text(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code (-1: missing) into the trimmed text of the column's distinct values, in order of
    first appearance (an object array; two values can trim to the same text). Distinct strings are
    distinct values, so trimming the distinct strings is trimming every row; a column holding anything
    else (1 and 1.0 are one value but two texts) is trimmed row by row, as it always was."""
    import pandas as pd

    codes, uniques = pd.factorize(s)
    if not all(isinstance(u, str) for u in uniques):
        codes, uniques = pd.factorize(_text(s))
    return codes, _text(pd.Series(uniques)).to_numpy(dtype=object)


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().astype(object).where(s.notna(), None)


def shift_test(h: Histograms, ref: np.ndarray | None, cur: np.ndarray | None) -> tuple[str, float, float]:
    """(test, statistic, p-value): KS on the numeric values when given, else chi-square on the bins."""
    from scipy import stats

    if ref is not None and cur is not None:
        r, c = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        if len(r) and len(c):
            res = stats.ks_2samp(r, c)
            return "Kolmogorov-Smirnov D", float(res.statistic), float(res.pvalue)
        return "Kolmogorov-Smirnov D", float("nan"), float("nan")
    table = np.vstack([h.reference, h.current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return "Cramér's V (chi-square)", float("nan"), float("nan")
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    return "Cramér's V (chi-square)", float(np.sqrt(chi2 / table.sum())), float(p)


def most_changed(h: Histograms) -> str:
    e, a = h.reference / max(h.reference.sum(), 1), h.current / max(h.current.sum(), 1)
    i = int(np.argmax(np.abs(a - e)))
    return f"{h.bins[i]}: {e[i]:.1%} -> {a[i]:.1%}"


class Drift(DegradationCheck):
    """PSI per feature and for the tool's score between the reference data and a current sample."""

    name = "drift"
    description = ("Population stability index per input feature and for the tool's score between the reference "
                   "data and a current sample, with KS and chi-square tests; features that moved most first.")
    policy_section = "4.3"

    def measure(self, ctx: CheckContext) -> CheckOutput:
        from harness.measures.significance import holm

        out = CheckOutput()
        current = ctx.current
        if current is None:
            out.findings.append(skipped(self, ctx, "psi", NO_CURRENT))
            return out
        if len(current) == 0:
            out.findings.append(self._insufficient(ctx, "psi", "the current sample (--current) has no rows"))
            return out
        card = ctx.dataset.card
        cols = tool_inputs(ctx) if callable_tool(ctx) else list(card.features)
        present = [c for c in cols if c in current.columns and c in ctx.frame.columns]
        absent = [c for c in cols if c not in present]
        if absent:
            out.findings.append(self._insufficient(ctx, "psi", f"the current sample lacks the input column(s) "
                                                   f"{absent}; their drift was not measured"))
        rows = [self._feature(ctx, out, c) for c in present]
        if not ctx.recorded:  # between two production samples (harness.monitoring) the tool is not called
            self._score(ctx, out, rows, present, absent)
        adjusted = holm([r["p_value"] if r["p_value"] is not None else np.nan for r in rows])
        for r, p in zip(rows, adjusted, strict=True):
            r["p_adjusted"] = finite_or_none(p)
        rows.sort(key=lambda r: -(r["psi"] if r["psi"] is not None else -1.0))
        out.tables[f"{SUITE}.drift"] = rows
        return out

    def _insufficient(self, ctx: CheckContext, metric: str, why: str) -> Finding:
        return Finding(suite=SUITE, check=self.name, metric=metric, status=Status.INSUFFICIENT,
                       severity=Severity.ADVISORY, dataset=ctx.dataset.name, policy_section=self.policy_section,
                       message=why)

    def _feature(self, ctx: CheckContext, out: CheckOutput, col: str) -> dict[str, Any]:
        import pandas as pd

        ref, cur = ctx.frame[col], ctx.current[col]  # type: ignore[index]
        if is_numeric(ref, ctx.dataset.card.columns.get(col)):
            r = ref.to_numpy(dtype=float, na_value=np.nan)
            c = pd.to_numeric(cur, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            h = numeric_histograms(r, c, int(setting(ctx, "psi_bins")))
            test = shift_test(h, r, c)
            kind, unparsed = "numeric", int((cur.notna() & np.isnan(c)).sum())
        else:
            h = categorical_histograms(ref, cur)
            test = shift_test(h, None, None)
            kind, unparsed = "categorical", 0
        return self._record(ctx, out, "psi", col, h, kind, test, unparsed)

    def _record(self, ctx: CheckContext, out: CheckOutput, metric: str, col: str | None, h: Histograms, kind: str,
                test: tuple[str, float, float], unparsed: int = 0) -> dict[str, Any]:
        """Judge one PSI (`psi_test`). Below `psi_min_rows` current rows the PSI is reported but not judged:
        its finding is INSUFFICIENT, so a small sample's upward bias can neither FAIL nor PASS a tool."""
        floor = float(setting(ctx, "psi_floor"))
        conf = ctx.policy.confidence_level
        limit = limit_of(ctx, self.name, metric)
        moderate = float(setting(ctx, "psi_moderate"))
        significant = limit if limit is not None else 0.2
        rng = ctx.rng(f"degradation.drift.{metric}.{col}")
        draws = max(ctx.policy.bootstrap_samples, MIN_NULL_DRAWS)
        t = psi_test(h.reference, h.current, floor, significant, draws, rng, conf)
        value, lo, hi = t.value, t.ci_low, t.ci_high
        n_ref, n_cur = int(h.reference.sum()), int(h.current.sum())
        min_rows = int(setting(ctx, "psi_min_rows"))
        band = "significant" if value > significant else "moderate" if value > moderate else "stable"
        name, stat, p = test
        changed = most_changed(h)
        details = {"kind": kind, "band": band, "p_value": t.p_value,
                   "test": f"simulated PSI of {n_cur:,} rows drawn at a true PSI of {significant:g} (one-sided)",
                   "p_no_shift": t.p_no_shift, "null_mean_psi": t.null_mean, "ci_raised": t.raised,
                   "shift_test": name, "shift_statistic": finite_or_none(stat), "shift_p_value": finite_or_none(p),
                   "reference_n": n_ref, "bins": len(h.bins), "most_changed": changed, "unparsed": unparsed}
        what = "the tool's score" if col is None else f"{col}"
        test_text = "" if not np.isfinite(stat) else f"; {name} = {stat:.3f}, p {_p(p)}"
        raised = (" (its upper end raised to the estimate: at this size the PSI's bias exceeds its noise)"
                  if t.raised else "")
        beyond = f"; p {_p(t.p_value)} against a true PSI of at most {significant:g}" if value > significant else ""
        text = (f"PSI {value:.3f} ({conf:.0%} CI {lo:.3f} to {hi:.3f}{raised}) between the reference ({n_ref:,} rows) "
                f"and the current sample ({n_cur:,} rows), a {band} shift (moderate above {moderate:g}, significant "
                f"above {significant:g}); a sample of {n_cur:,} rows from the reference distribution itself gives "
                f"{t.null_mean:.3f} on average{beyond}; largest change in {changed}{test_text}")
        if metric == "psi" and ctx.current_unverified and n_cur >= min_rows:
            self._population_shift(ctx, out, h, t, what, draws, details)
        if n_cur < min_rows:
            th = ctx.policy.threshold(SUITE, self.name, metric)
            out.findings.append(Finding(
                suite=SUITE, check=self.name, metric=metric, status=Status.INSUFFICIENT,
                severity=th.severity_for(ctx.tier) if th is not None else Severity.ADVISORY, value=value, ci_low=lo,
                ci_high=hi, threshold=limit, greater_is_better=False, group=col, n=n_cur, dataset=ctx.dataset.name,
                policy_section=self.policy_section, details=details,
                message=(f"{what}: not judged, the current sample has {n_cur:,} rows and PSI needs at least "
                         f"{min_rows:,} (settings.degradation.psi_min_rows): on fewer rows chance alone moves PSI "
                         f"toward the significant band; give a larger --current sample. Measured: {text}.")))
        else:
            m = Measurement(SUITE, self.name, metric, value, lo, hi, group=col, n=n_cur, details=details)
            out.measurements.append(m)
            out.messages[m.key] = f"{what}: {text}."
        if np.isfinite(stat) and name.startswith("Kolmogorov"):
            out.measurements.append(Measurement(SUITE, self.name, "ks_statistic", stat, group=col or "score",
                                                n=n_cur, details={"p_value": finite_or_none(p)}))
        elif np.isfinite(stat):
            out.measurements.append(Measurement(SUITE, self.name, "cramers_v", stat, group=col or "score",
                                                n=n_cur, details={"p_value": finite_or_none(p)}))
        return {"feature": col if col is not None else "(tool score)", "kind": kind, "psi": value, "psi_low": lo,
                "psi_high": hi, "band": band, "psi_p_value": t.p_value, "psi_p_no_shift": t.p_no_shift,
                "null_mean_psi": t.null_mean, "judged": n_cur >= min_rows, "test": name,
                "statistic": finite_or_none(stat), "p_value": finite_or_none(p), "reference_n": n_ref,
                "current_n": n_cur, "current_missing_share": float(h.current[-1] / max(n_cur, 1)),
                "most_changed": changed, "unparsed": unparsed}

    def _population_shift(self, ctx: CheckContext, out: CheckOutput, h: Histograms, t: PsiTest, what: str,
                          draws: int, details: dict[str, Any]) -> None:
        """The same PSI judged as the approval's question (harness.monitoring): the current data are a production
        sample whose outcomes are not known, so nothing shows the tool works on it; a shift beyond the policy's
        `population_shift.psi` limit, shown real (its own p-value at that limit), means the approval's evidence no
        longer describes the population the tool decides for. Its interval is the PSI's own."""
        limit = limit_of(ctx, POPULATION_SHIFT, "psi")
        if limit is None:
            return
        rng = ctx.rng(f"degradation.drift.population_shift.{what}")
        # blocking, this p-value is Holm-adjusted over the run's blocking tests (about 50): with 2,000 draws its floor
        # of 1/2,001 would leave a shift shown beyond doubt at p 0.025 after adjustment; 20,000 draws cost milliseconds
        p = psi_test(h.reference, h.current, float(setting(ctx, "psi_floor")), limit, max(draws, SHIFT_DRAWS), rng,
                     ctx.policy.confidence_level).p_value
        m = Measurement(SUITE, POPULATION_SHIFT, "psi", t.value, t.ci_low, t.ci_high, group=what,
                        n=int(h.current.sum()), details={**details, "p_value": p,
                                                         "test": f"simulated PSI drawn at a true PSI of {limit:g}"})
        out.measurements.append(m)
        out.messages[m.key] = (
            f"{what}: PSI {t.value:.3f} ({ctx.policy.confidence_level:.0%} CI {t.ci_low:.3f} to {t.ci_high:.3f}) "
            f"between the reference data the approval rests on and a production sample whose outcomes are not known "
            f"yet (p {_p(p)} against a true PSI of at most {limit:g}): if the shift is real, the approval's evidence "
            "no longer describes the population the tool decides for, and nothing yet shows the tool works on it.")

    def _score(self, ctx: CheckContext, out: CheckOutput, rows: list[dict[str, Any]], present: list[str],
               absent: list[str]) -> None:
        """Score the current sample with the tool (one call) and compare the score distribution."""
        if not callable_tool(ctx):
            out.findings.append(skipped(self, ctx, "score_psi", "the tool's outputs were supplied as a file, so "
                                        "the current sample cannot be scored; only the inputs' drift was measured"))
            return
        if absent:
            out.findings.append(self._insufficient(ctx, "score_psi", f"the current sample lacks the tool's input "
                                                   f"column(s) {absent}, so it cannot be scored"))
            return
        timeout = float(setting(ctx, "robustness_timeout_s"))
        call = call_tool(ctx.tool, ctx.current[present], timeout, mode=clear_mode(ctx))  # type: ignore[index]
        if not call.answered or call.predictions is None:
            out.findings.append(self._insufficient(ctx, "score_psi", f"scoring the current sample failed: the tool "
                                                   f"{call.describe()}"))
            return
        ref_scores, cur_scores = ctx.predictions.scores, call.predictions.scores
        ref_fav = favourable(ctx, ctx.predictions.labels)
        cur_fav = favourable(ctx, call.predictions.labels)
        if ref_scores is not None and cur_scores is not None:
            r, c = np.asarray(ref_scores, float), np.asarray(cur_scores, float)
            h = numeric_histograms(r, c, int(setting(ctx, "psi_bins")))
            rows.append(self._record(ctx, out, "score_psi", None, h, "score", shift_test(h, r, c)))
        else:  # labels only: the share of favourable decisions is the whole distribution
            h = Histograms(np.bincount(ref_fav, minlength=2), np.bincount(cur_fav, minlength=2),
                           ["unfavourable", "favourable"])
            rows.append(self._record(ctx, out, "score_psi", None, h, "decision", shift_test(h, None, None)))
        shift = float(cur_fav.mean() - ref_fav.mean()) if len(cur_fav) else float("nan")
        out.measurements.append(Measurement(SUITE, self.name, "selection_rate_shift", shift, n=len(cur_fav),
                                            details={"reference": float(ref_fav.mean()),
                                                     "current": finite_or_none(cur_fav.mean())}))


def _p(p: float) -> str:
    return "undefined" if not np.isfinite(p) else "< 0.001" if p < 0.001 else f"= {p:.3f}"
