"""The largest gap between groups' rates, with an interval that fails closed.

Any suite that compares a rate across groups (the bias suite's selection rates and error rates, the
degradation suite's flip rates under perturbation) asks the same question: how far apart are the groups
furthest apart, and how sure is that. The rates arrive as arrays with groups along the last axis (and
bootstrap samples along the first, for the interval); undefined rates are NaN and are left out.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den is not positive (an undefined rate, never an error or inf)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def pairwise(rates: np.ndarray, kind: str) -> np.ndarray:
    """All ordered pairs along the last axis: rates[..., i] - rates[..., j] or rates[..., i] / rates[..., j]."""
    a, b = rates[..., :, None], rates[..., None, :]
    if kind == "difference":
        return a - b
    return divide(a, b)


def disparity_interval(point: np.ndarray, boot: np.ndarray, eligible: np.ndarray, kind: str,
                       confidence: float) -> tuple[float, float, int, int]:
    """Interval for the largest gap (kind "difference": max - min) or the smallest ratio (kind "ratio":
    min / max) between eligible groups, with the pair (low, high) that attains it.

    The percentile interval of a max-minus-min statistic is biased (it can exclude its own point
    estimate when groups are alike), so the bounds come from the pairs instead, failing closed:
    the bound on the passing side covers every pair (no pair's gap is confidently worse), the other
    bound is that of the pair that attains the point estimate. The interval always holds the estimate.
    """
    from harness.stats import percentile_interval

    idx = np.flatnonzero(eligible & ~np.isnan(point))
    if len(idx) < 2:
        return float("nan"), float("nan"), -1, -1
    p, b = point[idx], boot[:, idx]
    lo_g, hi_g = int(np.argmin(p)), int(np.argmax(p))
    pairs_lo, pairs_hi = percentile_interval(pairwise(b, kind), confidence)
    off_diagonal = ~np.eye(len(idx), dtype=bool)
    if kind == "difference":
        # gap of the attaining pair: at least its lower bound; no pair's gap confidently above the max bound
        low = max(float(pairs_lo[hi_g, lo_g]), 0.0)
        high = _nan_extreme(np.where(off_diagonal, pairs_hi, np.nan), np.nanmax)
        value = float(p[hi_g] - p[lo_g])
    else:
        low = _nan_extreme(np.where(off_diagonal, pairs_lo, np.nan), np.nanmin)
        high = min(float(pairs_hi[lo_g, hi_g]), 1.0)
        value = float(divide(p[lo_g], p[hi_g]))
    return min(low, value), max(high, value), int(idx[lo_g]), int(idx[hi_g])


def _nan_extreme(a: np.ndarray, fn: Callable[[np.ndarray], float]) -> float:
    """nanmax / nanmin that answer NaN for an all-NaN array instead of warning."""
    return float(fn(a)) if np.isfinite(a).any() else float("nan")
