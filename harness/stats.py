"""Interval estimates shared by every suite. Small, closed-form and tested against known answers."""
from __future__ import annotations

import numpy as np


def z_value(confidence: float) -> float:
    from scipy import stats  # here, not at the top: scipy.stats takes ~1 s to import and the harness's light
    # paths (policy, decision rule, the pipeline before the suites run) import this module

    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: np.ndarray | float, n: np.ndarray | float,
                    confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion: unlike the Wald interval it stays inside [0, 1] and
    keeps its coverage for small groups and rates near 0 or 1. NaN where n == 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # at k = 0 (k = n) the closed form gives a lower (upper) bound of 0 (1) only up to rounding, and a
    # threshold of exactly 0 must compare with an exact 0
    lo = np.where((k == 0) & (n > 0), 0.0, np.clip(centre - half, 0, 1))
    hi = np.where((k == n) & (n > 0), 1.0, np.clip(centre + half, 0, 1))
    return lo, hi


def nanquantile(samples: np.ndarray, q: float, axis: int = 0) -> np.ndarray:
    """`np.nanquantile` (linear interpolation) along `axis`, vectorised: one sort instead of numpy's
    per-column loop, which made bootstrap intervals over many group pairs the suite's slowest step."""
    a = np.sort(np.moveaxis(np.asarray(samples, dtype=float), axis, 0), axis=0)  # NaN sort last
    valid = (~np.isnan(a)).sum(axis=0)
    pos = q * (valid - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(valid - 1, 0))
    lo = np.maximum(lo, 0)
    a_lo = np.take_along_axis(a, lo[None], axis=0)[0]
    a_hi = np.take_along_axis(a, hi[None], axis=0)[0]
    out = a_lo + (pos - np.floor(pos)) * (a_hi - a_lo)
    return np.where(valid > 0, out, np.nan)


def percentile_interval(samples: np.ndarray, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval; resamples where the statistic is undefined are ignored."""
    alpha = (1 - confidence) / 2
    return nanquantile(samples, alpha, axis), nanquantile(samples, 1 - alpha, axis)


def mover_difference(p1: np.ndarray, l1: np.ndarray, u1: np.ndarray, p2: np.ndarray, l2: np.ndarray,
                     u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval for p1 - p2 from each proportion's own (Wilson) interval: Newcombe's hybrid score method
    (Newcombe 1998, method 10; MOVER-D in Zou and Donner 2008). Unlike a bootstrap it stays informative at
    0/n and needs no resampling, so it can be taken at a Bonferroni-adjusted level for many pairs."""
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def mover_ratio(p1: np.ndarray, l1: np.ndarray, u1: np.ndarray, p2: np.ndarray, l2: np.ndarray,
                u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval for p1 / p2 from each proportion's own (Wilson) interval: MOVER-R (Donner and Zou 2012).
    A rate of 0/156 gets a lower bound of 0 and a finite, non-degenerate upper bound. Where the closed form
    does not apply (p2 = 0, or a denominator that turns non-positive for a tiny p2) it falls back to the
    crude but valid l1 / u2 and u1 / l2 (infinite when l2 = 0)."""
    p1, l1, u1, p2, l2, u2 = (np.asarray(a, dtype=float) for a in (p1, l1, u1, p2, l2, u2))
    with np.errstate(invalid="ignore", divide="ignore"):
        prod = p1 * p2
        den_lo = u2 * (2 * p2 - u2)
        den_hi = l2 * (2 * p2 - l2)
        lo = (prod - np.sqrt(np.maximum(prod**2 - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2), 0))) / den_lo
        hi = (prod + np.sqrt(np.maximum(prod**2 - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2), 0))) / den_hi
        crude_lo = np.where(u2 > 0, l1 / u2, np.nan)
        crude_hi = np.where(l2 > 0, u1 / np.where(l2 > 0, l2, 1), np.inf)
    ok_lo = (p2 > 0) & (den_lo > 0) & np.isfinite(lo)
    ok_hi = (p2 > 0) & (den_hi > 0) & np.isfinite(hi)
    lo = np.where(ok_lo, np.maximum(lo, 0.0), crude_lo)
    hi = np.where(ok_hi, hi, crude_hi)
    return lo, hi


def effective_size(weights_sum: np.ndarray | float, weights_sq_sum: np.ndarray | float) -> np.ndarray:
    """Kish's effective sample size (sum w)^2 / sum w^2: what a weighted proportion's interval rests on.
    The sum of the weights is not a sample size (census weights run into the thousands per row)."""
    w, w2 = np.asarray(weights_sum, dtype=float), np.asarray(weights_sq_sum, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(w2 > 0, w**2 / np.where(w2 > 0, w2, 1), 0.0)


def difference_bounds(a: float, a_low: float, a_high: float, b: float, b_low: float,
                      b_high: float) -> tuple[float, float, float]:
    """`a - b` and an interval for it from each estimate's own interval, when nothing is known about how the two
    estimates move together: two assessment runs on the same rows, whose per-row outputs are not recorded, so no
    paired resampling is possible (`harness compare`). The interval is `a_low - b_high` to `a_high - b_low`: it
    holds the difference whenever both intervals hold their values, so it covers at least `1 - 2 alpha` whatever
    the dependence (Bonferroni); for estimates that are close to normal it covers at least `1 - alpha`, since the
    standard error of a difference is never more than the sum of the two (it is exact when the estimates are
    perfectly negatively correlated). The usual combination for independent estimates (Newcombe's
    `mover_difference`, the root of the summed squares) is narrower and would be too narrow when two tools' errors
    on the same rows move in opposite directions."""
    return a - b, a_low - b_high, a_high - b_low
