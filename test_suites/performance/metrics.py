"""Closed-form estimates of a binary tool's performance, each with an interval and a one-sided test.

Everything here is a function of the labels, decisions, scores and (optional) sample weights of one set of
rows, so the whole population and each protected group share one code path. No bootstrap: the intervals are
closed-form, so a figure is the same on every seed and a p-value can be computed for any limit.

- Rates (TPR, TNR, accuracy, ...) get Wilson score intervals, which keep their coverage near 0 and 1 and
  never collapse to a point; with weights, on Kish's effective sample size, not the sum of weights.
- Balanced accuracy, the mean of TPR and TNR (two independent binomials given the class counts), gets the
  MOVER interval of Zou and Donner (2008) built from the two Wilson intervals: unlike the Wald interval it
  stays wide when one arm is exactly 0 or 1 (a tool that says yes to everyone has TPR 1 and TNR 0).
- AUC is the Mann-Whitney probability (ties count one half), exactly sklearn's `roc_auc_score`, with
  DeLong's variance (DeLong, DeLong and Clarke-Pearson 1988), which needs no model of the score
  distribution and handles ties.

A p-value of "the true value is at least `limit`" comes from the same family of intervals, by finding the
confidence level at which the interval's upper bound just reaches the limit, so a test and its interval
never disagree.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Z_MAX = 40.0
"""Largest z searched when inverting an interval: norm.sf(40) underflows to 0, so beyond it p is 0."""


@functools.lru_cache(maxsize=64)
def z_for(confidence: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95), kept per level: scipy's ppf costs
    about 0.1 ms a call and every interval asks for it."""
    from scipy import stats

    return float(stats.norm.ppf(0.5 + confidence / 2))


def bonferroni_confidence(confidence: float, k: int) -> float:
    """The level each of k intervals needs so that all k hold together at `confidence`."""
    return 1 - (1 - confidence) / max(int(k), 1)


def kish(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2: what a weighted share is worth in rows."""
    w = np.asarray(weights, dtype=float)
    sq = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / sq if sq > 0 else 0.0


def finite(x: float | None) -> float | None:
    """None for an undefined figure (NaN, infinity), so an interval bound is a number or absent."""
    return x if x is not None and math.isfinite(x) else None


@dataclass(frozen=True)
class Rate:
    """A (weighted) share of a denominator set; `n` is its effective sample size and `rows` the row count."""

    value: float
    n: float
    rows: int

    @classmethod
    def of(cls, hits: np.ndarray, weights: np.ndarray | None) -> Rate:
        """The share of True in `hits`, weighted when weights are given."""
        hits = np.asarray(hits, dtype=bool)
        rows = int(hits.size)
        if rows == 0:
            return cls(float("nan"), 0.0, 0)
        if weights is None:
            return cls(float(hits.mean()), float(rows), rows)
        w = np.asarray(weights, dtype=float)
        total = float(w.sum())
        if total <= 0:
            return cls(float("nan"), 0.0, rows)
        return cls(float(w[hits].sum() / total), kish(w), rows)

    def interval(self, z: float) -> tuple[float, float]:
        return wilson(self.value, self.n, z)


def wilson(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score interval of a share p on n (effective) trials at normal quantile z. A share of exactly
    0 (1) has lower (upper) bound exactly 0 (1) and a non-degenerate other bound; NaN when n is 0."""
    if not (n > 0 and math.isfinite(p)):
        return float("nan"), float("nan")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if p <= 0 else min(max(centre - half, 0.0), p)
    hi = 1.0 if p >= 1 else max(min(centre + half, 1.0), p)
    return lo, hi


def balanced_accuracy_interval(tpr: Rate, tnr: Rate, z: float) -> tuple[float, float]:
    """MOVER interval (Zou and Donner 2008) of (TPR + TNR) / 2 from the two arms' Wilson intervals."""
    ba = (tpr.value + tnr.value) / 2
    if not math.isfinite(ba):
        return float("nan"), float("nan")
    l1, u1 = tpr.interval(z)
    l2, u2 = tnr.interval(z)
    lo = ba - math.hypot(tpr.value - l1, tnr.value - l2) / 2
    hi = ba + math.hypot(u1 - tpr.value, u2 - tnr.value) / 2
    return lo, hi


def p_value_below(bounds: Callable[[float], tuple[float, float]], point: float, limit: float) -> float:
    """One-sided p-value of H0 "the true value is at least `limit`", from a family of intervals indexed by
    the normal quantile z (`bounds(z)` = (low, high), equal to the point at z = 0 and widening with z).

    When the point lies below the limit, the p-value is the one-sided level at which the upper bound just
    reaches the limit: p = 1 - Phi(z*) with high(z*) = limit. When it lies above, symmetrically from the
    lower bound (p >= 0.5). So "the interval at level 1 - 2 alpha lies wholly below the limit" and
    "p < alpha" are the same statement."""
    from scipy import optimize, stats

    if not (math.isfinite(point) and math.isfinite(limit)):
        return float("nan")
    if point == limit:
        return 0.5
    if point < limit:
        def gap(z: float) -> float:
            return bounds(z)[1] - limit
        if gap(Z_MAX) < 0:
            return float(stats.norm.sf(Z_MAX))
        return float(stats.norm.sf(optimize.brentq(gap, 0.0, Z_MAX, xtol=1e-10)))

    def over(z: float) -> float:
        return bounds(z)[0] - limit
    if over(Z_MAX) > 0:
        return float(stats.norm.cdf(Z_MAX))
    return float(stats.norm.cdf(optimize.brentq(over, 0.0, Z_MAX, xtol=1e-10)))


def _weighted_variance(v: np.ndarray, w: np.ndarray) -> float:
    """Unbiased variance with reliability weights (the sample variance, ddof 1, for unit weights)."""
    total = float(w.sum())
    if v.size < 2 or total <= 0:
        return float("nan")
    mean = float(np.dot(w, v) / total)
    denom = total - float(np.dot(w, w)) / total
    return float(np.dot(w, (v - mean) ** 2) / denom) if denom > 0 else float("nan")


def auc_delong(scores: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """ROC AUC of `scores` for the positives `y` and its DeLong standard error; (NaN, NaN) without both
    classes, a NaN error when a class has a single row.

    One sort: per distinct score, the (weighted) positives and negatives there; a positive's placement value
    is the share of negatives strictly below its score plus half those tied with it, a negative's the share
    of positives strictly above plus half those tied. AUC is the mean placement of the positives; DeLong's
    variance is Var(V10) / n_pos + Var(V01) / n_neg (with weights: weighted variances over Kish's effective
    sizes). With unit weights this is the textbook estimator and the AUC equals sklearn's to rounding."""
    s = np.asarray(scores, dtype=float).ravel()
    pos = np.asarray(y).astype(bool).ravel()
    w = np.ones(s.size) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not pos.any() or pos.all():
        return float("nan"), float("nan")
    uniq, inv = np.unique(s, return_inverse=True)
    wp = np.bincount(inv, weights=w * pos, minlength=uniq.size)
    wn = np.bincount(inv, weights=w * ~pos, minlength=uniq.size)
    total_p, total_n = float(wp.sum()), float(wn.sum())
    if total_p <= 0 or total_n <= 0:
        return float("nan"), float("nan")
    v10 = (np.cumsum(wn) - wn + wn / 2) / total_n   # a positive at this score: negatives below + half the ties
    v01 = (total_p - np.cumsum(wp) + wp / 2) / total_p  # a negative at this score: positives above + half the ties
    auc = float(np.dot(wp, v10) / total_p)
    w10, w01 = w[pos], w[~pos]
    var = (_weighted_variance(v10[inv[pos]], w10) / kish(w10)
           + _weighted_variance(v01[inv[~pos]], w01) / kish(w01))
    return auc, math.sqrt(var) if math.isfinite(var) and var >= 0 else float("nan")


def wald_interval(value: float, se: float, z: float, low: float = 0.0, high: float = 1.0) -> tuple[float, float]:
    """value -/+ z * se, kept within [low, high] (an AUC is a probability)."""
    if not (math.isfinite(value) and math.isfinite(se)):
        return float("nan"), float("nan")
    return max(low, value - z * se), min(high, value + z * se)


def wald_p_value_below(value: float, se: float, limit: float) -> float:
    """One-sided p-value of H0 "the true value is at least `limit`" for a normal estimate. A zero standard
    error (a constant score has AUC exactly 0.5 whatever the data) decides on the value itself."""
    from scipy import stats

    if not (math.isfinite(value) and math.isfinite(se) and math.isfinite(limit)):
        return float("nan")
    if se == 0:
        return 0.0 if value < limit else (0.5 if value == limit else 1.0)
    return float(stats.norm.cdf((value - limit) / se))


@dataclass(frozen=True)
class Performance:
    """What a tool achieved on one set of rows: class counts, the rates behind balanced accuracy, accuracy,
    selection rate and precision, and the AUC of its scores (NaN without scores)."""

    n: int
    positives: int
    negatives: int
    tpr: Rate
    tnr: Rate
    accuracy: Rate
    selection_rate: Rate
    precision: Rate
    prevalence: Rate
    auc: float = float("nan")
    auc_se: float = float("nan")

    @property
    def balanced_accuracy(self) -> float:
        return (self.tpr.value + self.tnr.value) / 2

    def balanced_accuracy_interval(self, z: float) -> tuple[float, float]:
        return balanced_accuracy_interval(self.tpr, self.tnr, z)

    def balanced_accuracy_p_value(self, limit: float) -> float:
        """One-sided p-value of H0 "balanced accuracy >= limit" (MOVER-Wilson inverted)."""
        return p_value_below(self.balanced_accuracy_interval, self.balanced_accuracy, limit)

    def auc_interval(self, z: float) -> tuple[float, float]:
        return wald_interval(self.auc, self.auc_se, z)

    def auc_p_value(self, limit: float) -> float:
        return wald_p_value_below(self.auc, self.auc_se, limit)


def measure(y: np.ndarray, yhat: np.ndarray, scores: np.ndarray | None = None,
            weights: np.ndarray | None = None) -> Performance:
    """The performance of decisions `yhat` (and scores) against outcomes `y`, both 1 = favourable."""
    y = np.asarray(y).astype(bool)
    yhat = np.asarray(yhat).astype(bool)
    w = None if weights is None else np.asarray(weights, dtype=float)

    def sub(mask: np.ndarray) -> np.ndarray | None:
        return None if w is None else w[mask]

    every = np.ones(y.size, dtype=bool)
    auc, se = (float("nan"), float("nan")) if scores is None else auc_delong(scores, y, w)
    return Performance(
        n=int(y.size), positives=int(y.sum()), negatives=int((~y).sum()),
        tpr=Rate.of(yhat[y], sub(y)), tnr=Rate.of(~yhat[~y], sub(~y)),
        accuracy=Rate.of(yhat == y, sub(every)), selection_rate=Rate.of(yhat, sub(every)),
        precision=Rate.of(y[yhat], sub(yhat)), prevalence=Rate.of(y, sub(every)), auc=auc, auc_se=se,
    )
