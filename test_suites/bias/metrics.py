"""Group rates and disparities as functions of confusion counts.

Every function takes an array whose last axis is [TN, FP, FN, TP] and any leading axes (groups, or
bootstrap samples x groups), so the point estimate and all resamples share one code path.
Undefined rates (a group with no positives has no TPR) are NaN and are left out of disparities,
which is what fairlearn does when it drops such a group's undefined value.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from test_suites.bias.counts import FN, FP, TN, TP


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def selection_rate(c: np.ndarray) -> np.ndarray:
    return _div(c[..., TP] + c[..., FP], c.sum(axis=-1))


def true_positive_rate(c: np.ndarray) -> np.ndarray:
    return _div(c[..., TP], c[..., TP] + c[..., FN])


def false_positive_rate(c: np.ndarray) -> np.ndarray:
    return _div(c[..., FP], c[..., FP] + c[..., TN])


def false_negative_rate(c: np.ndarray) -> np.ndarray:
    return _div(c[..., FN], c[..., TP] + c[..., FN])


def precision(c: np.ndarray) -> np.ndarray:
    return _div(c[..., TP], c[..., TP] + c[..., FP])


def negative_predictive_value(c: np.ndarray) -> np.ndarray:
    return _div(c[..., TN], c[..., TN] + c[..., FN])


def false_discovery_rate(c: np.ndarray) -> np.ndarray:
    return _div(c[..., FP], c[..., TP] + c[..., FP])


def false_omission_rate(c: np.ndarray) -> np.ndarray:
    return _div(c[..., FN], c[..., TN] + c[..., FN])


def accuracy(c: np.ndarray) -> np.ndarray:
    return _div(c[..., TP] + c[..., TN], c.sum(axis=-1))


def base_rate(c: np.ndarray) -> np.ndarray:
    return _div(c[..., TP] + c[..., FN], c.sum(axis=-1))


# name -> (function, numerator cells, denominator cells) for Wilson intervals
RATES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], tuple[int, ...], tuple[int, ...]]] = {
    "selection_rate": (selection_rate, (TP, FP), (TN, FP, FN, TP)),
    "tpr": (true_positive_rate, (TP,), (TP, FN)),
    "fpr": (false_positive_rate, (FP,), (FP, TN)),
    "fnr": (false_negative_rate, (FN,), (TP, FN)),
    "precision": (precision, (TP,), (TP, FP)),
    "npv": (negative_predictive_value, (TN,), (TN, FN)),
    "fdr": (false_discovery_rate, (FP,), (TP, FP)),
    "for": (false_omission_rate, (FN,), (TN, FN)),
    "accuracy": (accuracy, (TP, TN), (TN, FP, FN, TP)),
    "base_rate": (base_rate, (TP, FN), (TN, FP, FN, TP)),
}


def spread(rates: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(max - min, min / max) over the eligible groups along the last axis, ignoring NaN rates."""
    r = np.where(eligible, rates, np.nan)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hi, lo = np.nanmax(r, axis=-1), np.nanmin(r, axis=-1)
    return hi - lo, _div(lo, hi)


def demographic_parity(c: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fairlearn's demographic_parity_difference and demographic_parity_ratio (between groups)."""
    return spread(selection_rate(c), eligible)


def equalized_odds_difference(c: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """fairlearn's equalized_odds_difference: the larger of the TPR and FPR between-group gaps."""
    return np.fmax(spread(true_positive_rate(c), eligible)[0], spread(false_positive_rate(c), eligible)[0])


def equal_opportunity_difference(c: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    return spread(true_positive_rate(c), eligible)[0]


def ratio_to(rates: np.ndarray, ref: int) -> np.ndarray:
    """Each group's rate over the reference group's (the adverse impact ratio for selection rates)."""
    return _div(rates, np.take(rates, [ref], axis=-1))


def pairwise(rates: np.ndarray, kind: str) -> np.ndarray:
    """All ordered pairs along the last axis: rates[..., i] - rates[..., j] or rates[..., i] / rates[..., j]."""
    a, b = rates[..., :, None], rates[..., None, :]
    if kind == "difference":
        return a - b
    return _div(a, b)


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
        value = float(_div(p[lo_g], p[hi_g]))
    return min(low, value), max(high, value), int(idx[lo_g]), int(idx[hi_g])


def _nan_extreme(a: np.ndarray, fn: Callable[[np.ndarray], float]) -> float:
    """nanmax / nanmin that answer NaN for an all-NaN array instead of warning."""
    return float(fn(a)) if np.isfinite(a).any() else float("nan")
