"""Statistical significance of selection-rate differences, as the EEOC guidelines read the
four-fifths rule: a ratio under 0.8 is the practical test, a significance test the statistical one,
and both are reported (29 CFR 1607.4(D); EEOC Q&A 20-22 on small samples).

Fisher's exact test where a 2x2 table has an expected count under 5 (the normal approximation is
unreliable there), the pooled two-proportion z-test otherwise; Holm's step-down adjustment across all
comparisons of a run, so testing many groups and intersections does not manufacture significance.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

FISHER = "Fisher's exact test"
Z_TEST = "two-proportion z-test"


def selection_test(selected_a: float, n_a: float, selected_b: float, n_b: float) -> tuple[float, str]:
    """Two-sided p-value that groups a and b have the same selection rate, and the test used."""
    table = np.array([[selected_a, n_a - selected_a], [selected_b, n_b - selected_b]], dtype=float)
    if n_a <= 0 or n_b <= 0:
        return float("nan"), Z_TEST
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if (expected < 5).any():
        return float(stats.fisher_exact(np.rint(table).astype(np.int64), alternative="two-sided")[1]), FISHER
    pooled = (selected_a + selected_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0, Z_TEST
    z = (selected_a / n_a - selected_b / n_b) / se
    return float(2 * stats.norm.sf(abs(z))), Z_TEST


def holm(pvalues: list[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out
