"""Statistical significance of selection-rate differences, as the EEOC guidelines read the
four-fifths rule: a ratio under 0.8 is the practical test, a significance test the statistical one,
and both are reported (29 CFR 1607.4(D); EEOC Q&A 20-22 on small samples).

Fisher's exact test where a 2x2 table has an expected count under 5 (the normal approximation is
unreliable there), the pooled two-proportion z-test otherwise; Holm's step-down adjustment across all
comparisons of a run, so testing many groups and intersections does not manufacture significance (the bias
suite's four-fifths tests, the degradation suite's drift tests and the decision rule's group tests use it).
"""
from __future__ import annotations

import numpy as np

__all__ = ["BINOMIAL_ABOVE", "CHI_SQUARE", "FISHER", "MONTE_CARLO", "Z_TEST", "binomial_above", "holm",
           "homogeneity_test", "selection_test"]


def holm(pvalues: list[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN. It controls the
    chance of any false FAIL across a family of tests without assuming they are independent (the bias
    suite's tests share groups and rows)."""
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


FISHER = "Fisher's exact test"
Z_TEST = "two-proportion z-test"


def selection_test(selected_a: float, n_a: float, selected_b: float, n_b: float) -> tuple[float, str]:
    """Two-sided p-value that groups a and b have the same selection rate, and the test used."""
    from scipy import stats  # here, not with the module: `holm` (the decision rule's) needs only numpy

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


BINOMIAL_ABOVE = "one-sided exact binomial test"


def binomial_above(successes: int, n: int, rate: float) -> float:
    """p-value of H0 "the true rate is at most `rate`" given `successes` of `n` independent rows: P(X >= successes)
    for X ~ Binomial(n, rate), exact, so it holds its level at 60 rows as at 60,000 (a normal approximation does not
    near a rate of 1, where the question "is this share too high to be chance?" is asked: harness.monitoring)."""
    from scipy import stats

    if n <= 0:
        return float("nan")
    return float(stats.binom.sf(successes - 1, n, rate))


CHI_SQUARE = "chi-square test of equal rates"
MONTE_CARLO = "exact test of equal rates (Monte Carlo, fixed margins)"


def homogeneity_test(successes: np.ndarray, totals: np.ndarray, rng: np.random.Generator,
                     draws: int = 4000) -> tuple[float, str]:
    """p-value that every group has the same rate, and the test used: the test behind a max-minus-min or
    min/max disparity, which does not depend on which pair of groups came out extreme (a pairwise test of
    the extreme pair, picked after looking, would reject far too often with many groups).

    Two groups: Fisher / z test as for the four-fifths rule. More: Pearson's chi-square on the groups x 2
    table; when an expected count is under 5 and the counts are whole (unweighted), the same statistic's
    exact distribution given the margins, by Monte Carlo (multivariate hypergeometric draws)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(totals, dtype=float)
    keep = n > 0
    k, n = k[keep], n[keep]
    if len(n) < 2:
        return float("nan"), CHI_SQUARE
    if len(n) == 2:
        return selection_test(k[0], n[0], k[1], n[1])
    total, hits = n.sum(), k.sum()
    if hits <= 0 or hits >= total:
        return 1.0, CHI_SQUARE
    stat = _chi_square(k, n, hits / total)
    expected = np.minimum(n * hits / total, n * (1 - hits / total))
    whole = np.allclose(k, np.rint(k)) and np.allclose(n, np.rint(n))
    if (expected < 5).any() and whole:
        sims = rng.multivariate_hypergeometric(np.rint(n).astype(np.int64), round(hits), size=draws)
        null = _chi_square(sims.astype(float), n, hits / total)
        return float((1 + np.sum(null >= stat - 1e-9)) / (draws + 1)), MONTE_CARLO
    from scipy import stats

    return float(stats.chi2.sf(stat, len(n) - 1)), CHI_SQUARE


def _chi_square(k: np.ndarray, n: np.ndarray, pooled: float) -> np.ndarray:
    """Pearson's statistic of a groups x 2 table (along the last axis), given the pooled rate."""
    e1, e0 = n * pooled, n * (1 - pooled)
    return np.sum((k - e1) ** 2 / e1 + ((n - k) - e0) ** 2 / e0, axis=-1)
