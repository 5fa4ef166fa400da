"""The counts engine and its bootstrap against direct computation on rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.measures.counts import bootstrap_counts, build_groupings, confusion_counts
from harness.measures.disparity import disparity_interval, divide, pairwise
from harness.stats import percentile_interval
from test_suites.bias import metrics as M


def test_groupings_cover_attributes_and_their_intersection() -> None:
    frame = pd.DataFrame({"sex": ["F", "M", "F", "M", "F"], "race": ["A", "A", "B", "B", "B"]})
    gs = build_groupings(frame, {"sex": "M", "race": "A"})
    assert [g.key for g in gs] == ["sex", "race", "sex_x_race"]
    inter = gs[2]
    assert inter.names == ["F & A", "F & B", "M & A", "M & B"]
    assert inter.codes.tolist() == [0, 2, 1, 3, 1]
    assert inter.reference == 2  # M & A
    assert inter.group_key(1) == "sex_x_race.F.B"


def test_a_finer_groupings_groups_map_onto_each_coarser_grouping() -> None:
    """Each sex x race x age group belongs to one sex group, one race group and one sex x race group (a
    missing value included): its rows carry exactly those codes there."""
    frame = pd.DataFrame({"sex": ["F", "M", "F", "M", "F", None, "M"], "race": ["A", "A", "B", "B", "C", "A", "C"],
                          "age": ["y", "o", "o", "y", "y", "o", "o"]})
    gs = {g.key: g for g in build_groupings(frame, {"sex": "M", "race": "A", "age": "o"})}
    finest = gs["sex_x_race_x_age"]
    for key in ("sex", "race", "age", "sex_x_race", "race_x_age"):
        into = gs[key].groups_of(finest)
        assert into.tolist() == [gs[key].codes[finest.codes == i][0] for i in range(len(finest.labels))]
        np.testing.assert_array_equal(into[finest.codes], gs[key].codes)
    missing = finest.labels.index(("missing", "A", "o"))
    assert gs["sex"].groups_of(finest)[missing] == gs["sex"].labels.index(("missing",))


def test_confusion_counts_by_hand() -> None:
    codes = np.array([0, 0, 0, 1, 1, 1])
    y = np.array([1, 1, 0, 1, 0, 0])
    p = np.array([1, 0, 0, 1, 1, 0])
    c = confusion_counts(codes, 2, y, p)
    # [TN, FP, FN, TP]
    assert c.tolist() == [[1, 0, 1, 1], [1, 1, 0, 1]]
    assert M.selection_rate(c).tolist() == [1 / 3, 2 / 3]
    assert M.true_positive_rate(c).tolist() == [0.5, 1.0]


def test_count_bootstrap_equals_row_resampling_bootstrap() -> None:
    """A multinomial draw of each group's cells is the stratified row bootstrap: the interval bounds
    of the selection-rate ratio agree within Monte Carlo error."""
    rng = np.random.default_rng(3)
    n = np.array([400, 250])
    codes = np.repeat([0, 1], n)
    y = rng.binomial(1, 0.4, n.sum())
    p = rng.binomial(1, np.where(codes == 0, 0.5, 0.38))
    counts = confusion_counts(codes, 2, y, p)
    eligible = np.array([True, True])
    B = 4000
    fast = M.demographic_parity(bootstrap_counts(counts, B, np.random.default_rng(1)), eligible)[1]
    naive = np.empty(B)
    r2 = np.random.default_rng(2)
    idx = [np.flatnonzero(codes == g) for g in (0, 1)]
    for b in range(B):
        rows = np.concatenate([r2.choice(i, len(i), replace=True) for i in idx])
        naive[b] = M.demographic_parity(confusion_counts(codes[rows], 2, y[rows], p[rows]), eligible)[1]
    lo_f, hi_f = percentile_interval(fast)
    lo_n, hi_n = percentile_interval(naive)
    assert float(lo_f) == pytest.approx(float(lo_n), abs=0.015)
    assert float(hi_f) == pytest.approx(float(hi_n), abs=0.015)
    assert float(np.std(fast)) == pytest.approx(float(np.std(naive)), rel=0.08)


def test_divide_is_nan_where_the_rate_is_undefined() -> None:
    """A group with no rows in a rate's denominator has no rate (NaN), never an error, 0 or inf."""
    got = divide(np.array([1.0, 0.0, 3.0, 2.0]), np.array([4.0, 0.0, 0.0, -1.0]))
    assert got[0] == 0.25 and np.isnan(got[1:]).all()
    assert pairwise(np.array([0.2, 0.4, 0.0]), "ratio")[0].tolist()[:2] == [1.0, 0.5]
    assert np.isnan(pairwise(np.array([0.2, 0.4, 0.0]), "ratio")[0, 2])


def test_disparity_interval_for_two_groups_is_the_pair_interval() -> None:
    """With two groups the bounds are exactly the percentile interval of the one pair."""
    rng = np.random.default_rng(9)
    counts = np.array([[120, 80, 30, 70], [150, 40, 50, 60]])  # selection rates 0.5 and 0.333
    eligible = np.array([True, True])
    boot = bootstrap_counts(counts, 3000, rng)
    point, bsel = M.selection_rate(counts), M.selection_rate(boot)
    lo, hi, low_g, high_g = disparity_interval(point, bsel, eligible, "difference", 0.95)
    assert (low_g, high_g) == (1, 0)
    plo, phi = percentile_interval(bsel[:, 0] - bsel[:, 1])
    assert (lo, hi) == (float(plo), float(phi))
    lo, hi, _, _ = disparity_interval(point, bsel, eligible, "ratio", 0.95)
    rlo, rhi = percentile_interval(bsel[:, 1] / bsel[:, 0])
    assert (lo, hi) == (float(rlo), float(rhi))


def test_disparity_interval_holds_the_estimate_when_groups_are_alike() -> None:
    """The percentile interval of max - min excludes its own estimate when groups are alike; the
    pairwise interval does not, and its passing-side bound covers every pair."""
    rng = np.random.default_rng(4)
    counts = np.tile([[300, 200, 200, 300]], (10, 1))  # ten identical groups
    boot = bootstrap_counts(counts, 2000, rng)
    point, bsel = M.selection_rate(counts), M.selection_rate(boot)
    eligible = np.ones(10, dtype=bool)
    naive_lo, _ = percentile_interval(M.demographic_parity(boot, eligible)[1])
    assert naive_lo < 1.0 and float(percentile_interval(M.demographic_parity(boot, eligible)[1])[1]) < 1.0
    lo, hi, _, _ = disparity_interval(point, bsel, eligible, "ratio", 0.95)
    assert lo <= 1.0 <= hi == 1.0
    pairs_lo, _ = percentile_interval(pairwise(bsel, "ratio"))
    assert lo == float(np.nanmin(np.where(~np.eye(10, dtype=bool), pairs_lo, np.nan)))
    dlo, dhi, _, _ = disparity_interval(point, bsel, eligible, "difference", 0.95)
    # each pair's gap has sd sqrt(2 * 0.25 / 1000) = 0.0224, so its 97.5 % point is about 0.044;
    # the largest of 90 such bounds is a little above that
    assert dlo == 0.0 and 0.043 < dhi < 0.052
