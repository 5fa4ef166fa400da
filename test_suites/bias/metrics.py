"""Group rates and disparities as functions of confusion counts.

Every function takes an array whose last axis is [TN, FP, FN, TP] and any leading axes (groups, or
bootstrap samples x groups), so the point estimate and all resamples share one code path.
Undefined rates (a group with no positives has no TPR) are NaN and are left out of disparities,
which is what fairlearn does when it drops such a group's undefined value. The interval of the largest
gap between groups is a shared measure (`harness.measures.disparity.disparity_interval`).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.measures.counts import FN, FP, TN, TP
from harness.measures.disparity import divide


def selection_rate(c: np.ndarray) -> np.ndarray:
    return divide(c[..., TP] + c[..., FP], c.sum(axis=-1))


def true_positive_rate(c: np.ndarray) -> np.ndarray:
    return divide(c[..., TP], c[..., TP] + c[..., FN])


def false_positive_rate(c: np.ndarray) -> np.ndarray:
    return divide(c[..., FP], c[..., FP] + c[..., TN])


def false_negative_rate(c: np.ndarray) -> np.ndarray:
    return divide(c[..., FN], c[..., TP] + c[..., FN])


def precision(c: np.ndarray) -> np.ndarray:
    return divide(c[..., TP], c[..., TP] + c[..., FP])


def negative_predictive_value(c: np.ndarray) -> np.ndarray:
    return divide(c[..., TN], c[..., TN] + c[..., FN])


def false_discovery_rate(c: np.ndarray) -> np.ndarray:
    return divide(c[..., FP], c[..., TP] + c[..., FP])


def false_omission_rate(c: np.ndarray) -> np.ndarray:
    return divide(c[..., FN], c[..., TN] + c[..., FN])


def accuracy(c: np.ndarray) -> np.ndarray:
    return divide(c[..., TP] + c[..., TN], c.sum(axis=-1))


def base_rate(c: np.ndarray) -> np.ndarray:
    return divide(c[..., TP] + c[..., FN], c.sum(axis=-1))


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
    return hi - lo, divide(lo, hi)


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
    return divide(rates, np.take(rates, [ref], axis=-1))
