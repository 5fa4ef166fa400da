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
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def percentile_interval(samples: np.ndarray, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval; resamples where the statistic is undefined are ignored."""
    alpha = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN bounds
            lo = np.nanquantile(samples, alpha, axis=axis)
            hi = np.nanquantile(samples, 1 - alpha, axis=axis)
    return lo, hi
