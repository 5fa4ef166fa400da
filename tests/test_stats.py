from __future__ import annotations

import numpy as np
import pytest

from harness.stats import percentile_interval, wilson_interval


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    # closed-form Wilson bounds at 95 % (z = 1.959964), checked by hand
    (5, 10, 0.236593, 0.763407),
    (0, 10, 0.0, 0.277533),
    (10, 10, 0.722467, 1.0),
    (81, 263, 0.255289, 0.366210),
])
def test_wilson_matches_closed_form(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n, 0.95)
    assert float(lo) == pytest.approx(low, abs=1e-6)
    assert float(hi) == pytest.approx(high, abs=1e-6)


def test_wilson_is_nan_for_an_empty_group() -> None:
    lo, hi = wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_percentile_interval_ignores_undefined_resamples() -> None:
    samples = np.concatenate([np.linspace(0, 1, 1001), [np.nan] * 50])
    lo, hi = percentile_interval(samples, 0.9)
    assert float(lo) == pytest.approx(0.05) and float(hi) == pytest.approx(0.95)


def test_vectorised_nanquantile_equals_numpy() -> None:
    from harness.stats import nanquantile

    rng = np.random.default_rng(0)
    a = rng.normal(size=(501, 7, 3))
    a[rng.random(a.shape) < 0.2] = np.nan
    a[:, 0, 0] = np.nan  # an all-NaN column
    a[:-1, 1, 1] = np.nan  # a single valid value
    for q in (0.025, 0.5, 0.975):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanquantile(a, q, axis=0)
        np.testing.assert_allclose(nanquantile(a, q), expected, rtol=0, atol=1e-12, equal_nan=True)
