from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness.measures.significance import (
    CHI_SQUARE,
    FISHER,
    MONTE_CARLO,
    Z_TEST,
    binomial_above,
    holm,
    homogeneity_test,
    selection_test,
)


def test_holm_by_hand() -> None:
    # sorted p: 0.01, 0.02, 0.03, 0.04 with m = 4 -> 0.04, 0.06, 0.06 (monotone), 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]).tolist() == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # 2 x 0.5 = 1.0, and monotone
    out = holm([np.nan, 0.01])
    assert np.isnan(out[0]) and out[1] == 0.01


def test_the_exact_binomial_tail_is_the_chance_of_at_least_that_many() -> None:
    assert binomial_above(300, 300, 0.98) == pytest.approx(0.98 ** 300, rel=1e-12)  # all agree: 0.0023
    assert binomial_above(9, 10, 0.5) == pytest.approx(11 / 1024, rel=1e-12)  # 9 or 10 of 10: (10 + 1) / 2^10
    assert binomial_above(0, 50, 0.3) == 1.0
    assert binomial_above(2934, 3000, 0.9725) == pytest.approx(
        stats.binomtest(2934, 3000, 0.9725, alternative="greater").pvalue, rel=1e-9)


def test_z_test_matches_the_closed_form() -> None:
    # 30 of 100 vs 50 of 100: pooled 0.4, se = sqrt(0.24 * 0.02) = 0.069282, z = -2.88675
    p, test = selection_test(30, 100, 50, 100)
    assert test == Z_TEST
    assert p == pytest.approx(2 * stats.norm.sf(0.2 / np.sqrt(0.24 * 0.02)), abs=1e-12)
    assert p == pytest.approx(0.003892, abs=1e-6)


def test_small_cells_use_fishers_exact_test() -> None:
    p, test = selection_test(1, 10, 6, 10)
    assert test == FISHER
    assert p == pytest.approx(stats.fisher_exact([[1, 9], [6, 4]])[1], abs=1e-12)
    assert p == pytest.approx(0.057275, abs=1e-6)


def test_homogeneity_is_pearsons_chi_square_of_the_groups_by_outcome_table() -> None:
    k, n = np.array([30, 45, 50, 61.0]), np.array([100, 120, 110, 130.0])
    p, test = homogeneity_test(k, n, np.random.default_rng(0))
    assert test == CHI_SQUARE
    assert p == pytest.approx(stats.chi2_contingency(np.c_[k, n - k], correction=False)[1], abs=1e-12)
    # two groups: the same test as the four-fifths comparison
    assert homogeneity_test(k[:2], n[:2], np.random.default_rng(0)) == selection_test(30, 100, 45, 120)
    # no variation at all: nothing to test
    assert homogeneity_test(np.zeros(3), n[:3], np.random.default_rng(0)) == (1.0, CHI_SQUARE)


def _exact_p(k: np.ndarray, n: np.ndarray) -> float:
    """The exact conditional p-value of Pearson's statistic given both margins, by enumerating every table."""
    from itertools import product
    from math import comb

    total, hits = n.sum(), k.sum()
    pooled = hits / total

    def chi(x: np.ndarray) -> float:
        e1, e0 = n * pooled, n * (1 - pooled)
        return float(np.sum((x - e1) ** 2 / e1 + ((n - x) - e0) ** 2 / e0))

    observed, p = chi(k), 0.0
    for x in product(*(range(int(m) + 1) for m in n[:-1])):
        last = hits - sum(x)
        if 0 <= last <= n[-1]:
            table = np.array([*x, last], dtype=float)  # its multivariate hypergeometric probability:
            prob = np.prod([comb(int(m), int(t)) for m, t in zip(n, table, strict=True)]) / comb(int(total), int(hits))
            if chi(table) >= observed - 1e-9:
                p += prob
    return float(p)


def test_small_counts_use_the_exact_distribution_by_monte_carlo() -> None:
    """Expected counts under 5 make the chi-square approximation unreliable: the Monte Carlo p-value of the
    same statistic given the margins agrees with full enumeration to within its simulation error."""
    k, n = np.array([0, 2, 5.0]), np.array([12, 15, 14.0])
    p, test = homogeneity_test(k, n, np.random.default_rng(1), draws=20000)
    exact = _exact_p(k, n)
    assert test == MONTE_CARLO
    assert p == pytest.approx(exact, abs=3 * np.sqrt(exact * (1 - exact) / 20000) + 1e-4)
    assert abs(stats.chi2_contingency(np.c_[k, n - k], correction=False)[1] - exact) > 0.005  # why it matters


def test_the_homogeneity_test_holds_its_level_with_six_small_groups() -> None:
    rng = np.random.default_rng(3)
    n = np.full(6, 40.0)
    rejections = sum(homogeneity_test(rng.binomial(40, 0.08, 6).astype(float), n, rng, draws=999)[0] < 0.05
                     for _ in range(400))
    assert rejections / 400 <= 0.07
