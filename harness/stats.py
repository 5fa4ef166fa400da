"""Interval estimates shared by every suite. Small, closed-form and tested against known answers."""
from __future__ import annotations

import numpy as np
from scipy import stats


def z_value(confidence: float) -> float:
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
