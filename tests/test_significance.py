from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from test_suites.bias.significance import FISHER, Z_TEST, holm, selection_test


def test_holm_by_hand() -> None:
    # sorted p: 0.01, 0.02, 0.03, 0.04 with m = 4 -> 0.04, 0.06, 0.06 (monotone), 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]).tolist() == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # 2 x 0.5 = 1.0, and monotone
    out = holm([np.nan, 0.01])
    assert np.isnan(out[0]) and out[1] == 0.01


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
