"""Score-based measures (per-group AUC, DeLong interval, calibration, KS) against sklearn/scipy oracles,
closed-form cases and a coverage simulation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score

from harness.stats import wilson_interval
from test_suites.bias.scores import (
    KSTWO_MAX_N,
    auc_by_group,
    auc_interval_by_group,
    calibration_by_group,
    delong_auc_by_group,
    ks_by_group,
)

G = 12
SIZES = [1, 2, 3, 7, 25, 60, 150, 400, 900, 1500, 3000, 40]  # group 11: negatives only
ALL_NEGATIVE = 11


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """12 groups of very different sizes (1 and 2 rows included), rows shuffled, scores rounded to 2
    decimals so ties (and scores exactly on bin edges) are everywhere, group 11 with no positives."""
    rng = np.random.default_rng(20240501)
    codes = np.repeat(np.arange(G), SIZES)
    rng.shuffle(codes)
    y = (rng.random(codes.size) < 0.2 + 0.05 * (codes % 5)).astype(int)
    y[codes == ALL_NEGATIVE] = 0
    raw = rng.normal(0.8 * y + 0.03 * codes, 1.0)
    scores = np.round(1 / (1 + np.exp(-raw)), 2)
    return scores, y, codes


def _naive_delong(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """DeLong by definition: the full positives x negatives kernel matrix psi."""
    pos, neg = scores[y == 1], scores[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)


# ---------------------------------------------------------------- AUC

def test_auc_matches_sklearn_per_group(data) -> None:
    scores, y, codes = data
    auc = auc_by_group(scores, y, codes, G)
    assert auc.shape == (G,)
    for g in range(G):
        yg, sg = y[codes == g], scores[codes == g]
        if len(np.unique(yg)) < 2:
            assert np.isnan(auc[g]), g
        else:
            assert auc[g] == pytest.approx(roc_auc_score(yg, sg), abs=1e-9), g
    assert np.isnan(auc[0]) and np.isnan(auc[ALL_NEGATIVE])  # one row; negatives only
    assert np.isfinite(auc[8:11]).all()


def test_auc_accepts_bool_labels_and_empty_groups(data) -> None:
    scores, y, codes = data
    auc = auc_by_group(scores, y.astype(bool), codes, G + 2)  # codes 12 and 13 have no rows
    assert np.array_equal(auc[:G], auc_by_group(scores, y, codes, G), equal_nan=True)
    assert np.isnan(auc[G:]).all()


def test_delong_variance_matches_kernel_definition(data) -> None:
    scores, y, codes = data
    auc, var = delong_auc_by_group(scores, y, codes, G)
    for g in range(G):
        yg, sg = y[codes == g], scores[codes == g]
        n_pos, n_neg = int(yg.sum()), int((1 - yg).sum())
        if n_pos >= 2 and n_neg >= 2:
            a, v = _naive_delong(sg, yg)
            assert auc[g] == pytest.approx(a, abs=1e-12)
            assert var[g] == pytest.approx(v, rel=1e-9, abs=1e-15), g
        else:
            assert np.isnan(var[g]), g


def test_auc_closed_forms() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1, 0, 1])
    codes = np.array([0] * 6 + [1] * 4)
    separating = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 0.2, 0.6, 0.3, 0.9])
    auc = auc_by_group(separating, y, codes, 2)
    assert auc.tolist() == [1.0, 1.0]
    assert auc_by_group(1 - separating, y, codes, 2).tolist() == [0.0, 0.0]
    assert auc_by_group(np.full(10, 0.4), y, codes, 2).tolist() == [0.5, 0.5]


def test_auc_interval_contains_estimate_and_is_clipped(data) -> None:
    scores, y, codes = data
    auc = auc_by_group(scores, y, codes, G)
    lo, hi = auc_interval_by_group(scores, y, codes, G)
    ok = np.isfinite(lo)
    assert ok[8:11].all()
    assert (lo[ok] <= auc[ok]).all() and (auc[ok] <= hi[ok]).all()
    assert (lo[ok] >= 0).all() and (hi[ok] <= 1).all()
    assert np.isnan(lo[ALL_NEGATIVE]) and np.isnan(hi[ALL_NEGATIVE])
    # a wider confidence gives a wider interval
    lo99, hi99 = auc_interval_by_group(scores, y, codes, G, confidence=0.99)
    assert (lo99[ok] <= lo[ok]).all() and (hi99[ok] >= hi[ok]).all()
    # perfectly separated data: clipped to [0, 1], degenerate at AUC 1
    lo1, hi1 = auc_interval_by_group(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]),
                                     np.zeros(4, dtype=int), 1)
    assert lo1.tolist() == [1.0] and hi1.tolist() == [1.0]


def test_delong_interval_covers_known_auc() -> None:
    """Negatives ~ N(0, 1) and positives ~ N(d, 1) have AUC = Phi(d / sqrt 2). Over 200 seeds of 200 rows
    (two groups of 100 per seed, evaluated in one call) the 95 % DeLong interval covers it >= 90 %."""
    d = 1.0
    true_auc = float(stats.norm.cdf(d / np.sqrt(2)))  # ~0.760
    rng = np.random.default_rng(7)
    seeds, per_seed = 200, 200
    codes = np.repeat(np.arange(seeds), per_seed)
    y = rng.integers(0, 2, codes.size)
    scores = rng.normal(d * y, 1.0)
    lo, hi = auc_interval_by_group(scores, y, codes, seeds)
    coverage = float(np.mean((lo <= true_auc) & (true_auc <= hi)))
    assert coverage >= 0.90
    assert coverage <= 0.99  # and not trivially wide


def test_auc_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="binary"):
        auc_by_group(np.array([0.1, 0.2]), np.array([0, 2]), np.array([0, 0]), 1)
    with pytest.raises(ValueError, match="codes"):
        auc_by_group(np.array([0.1, 0.2]), np.array([0, 1]), np.array([0, 1]), 1)
    with pytest.raises(ValueError, match="NaN"):
        auc_by_group(np.array([0.1, np.nan]), np.array([0, 1]), np.array([0, 0]), 1)


# ---------------------------------------------------------------- calibration

def test_ece_matches_direct_loop(data) -> None:
    scores, y, codes = data
    ece, table = calibration_by_group(scores, y, codes, G, n_bins=10)
    edges = np.linspace(0, 1, 11)
    for g in range(G):
        sg, yg = scores[codes == g], y[codes == g]
        total = 0.0
        for b in range(10):
            lo_e, hi_e = edges[b], edges[b + 1]
            inside = ((sg > lo_e) | (b == 0)) & (sg <= hi_e)  # (low, high], first bin closed
            if inside.any():
                total += inside.sum() / sg.size * abs(yg[inside].mean() - sg[inside].mean())
        assert ece[g] == pytest.approx(total, abs=1e-12), g
    assert len(table) == G * 10
    assert sum(row["n"] for row in table) == scores.size


def test_reliability_table_matches_calibration_curve(data) -> None:
    scores, y, codes = data
    _, table = calibration_by_group(scores, y, codes, G, n_bins=10)
    for g in range(G):
        rows = [r for r in table if r["group"] == g and r["n"] > 0]  # calibration_curve drops empty bins
        if not (y[codes == g] == 1).any():
            continue  # calibration_curve needs the positive label present
        prob_true, prob_pred = calibration_curve(y[codes == g], scores[codes == g], n_bins=10,
                                                 strategy="uniform")
        assert np.allclose([r["observed_rate"] for r in rows], prob_true, rtol=0, atol=1e-12), g
        assert np.allclose([r["mean_score"] for r in rows], prob_pred, rtol=0, atol=1e-12), g


def test_reliability_table_rows_and_wilson(data) -> None:
    scores, y, codes = data
    _, table = calibration_by_group(scores, y, codes, G, n_bins=5)
    row = next(r for r in table if r["group"] == 10 and r["bin"] == 2)
    assert (row["bin_low"], row["bin_high"]) == pytest.approx((0.4, 0.6))
    lo, hi = wilson_interval(row["positives"], row["n"])
    assert (row["observed_low"], row["observed_high"]) == (float(lo), float(hi))
    assert row["observed_rate"] == row["positives"] / row["n"]
    empty = [r for r in table if r["n"] == 0]
    assert empty and all(np.isnan(r["mean_score"]) and np.isnan(r["observed_rate"]) for r in empty)


def test_bin_edges_zero_one_and_inner_edge() -> None:
    scores = np.array([0.0, 0.1, 0.1000001, 1.0])
    _, table = calibration_by_group(scores, np.array([0, 1, 0, 1]), np.zeros(4, dtype=int), 1, n_bins=10)
    counts = [r["n"] for r in table]
    assert counts == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]  # 0.1 sits in (0, 0.1], 1.0 in the last bin


def test_ece_perfect_and_shifted_calibration() -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    scores = rng.uniform(0.0, 0.9, n)
    y = (rng.random(n) < scores).astype(int)
    codes = rng.integers(0, 2, n)
    ece, _ = calibration_by_group(scores, y, codes, 2)
    assert (ece < 0.01).all()
    shifted, _ = calibration_by_group(scores + 0.1, y, codes, 2)
    assert shifted == pytest.approx([0.1, 0.1], abs=0.01)


def test_calibration_rejects_out_of_range_scores() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration_by_group(np.array([0.5, 1.2]), np.array([0, 1]), np.array([0, 0]), 1)


def test_calibration_empty_group_is_nan(data) -> None:
    scores, y, codes = data
    ece, _ = calibration_by_group(scores, y, codes, G + 1)
    assert np.isnan(ece[G]) and np.isfinite(ece[:G]).all()


# ---------------------------------------------------------------- KS

@pytest.mark.parametrize("reference", [9, 0, 4])
def test_ks_matches_scipy(data, reference: int) -> None:
    scores, _, codes = data
    stat, pvalue = ks_by_group(scores, codes, G + 1, reference)  # code 12 is empty
    ref = scores[codes == reference]
    for g in range(G):
        if g == reference:
            assert np.isnan(stat[g]) and np.isnan(pvalue[g])
            continue
        res = stats.ks_2samp(scores[codes == g], ref, method="asymp")
        assert stat[g] == pytest.approx(res.statistic, abs=1e-9), g
        if np.isnan(res.pvalue):  # scipy: 1 row vs 1 row rounds the effective n to 0
            assert np.isnan(pvalue[g])
        else:
            assert pvalue[g] == pytest.approx(res.pvalue, abs=1e-9), g
    assert np.isnan(stat[G]) and np.isnan(pvalue[G])


def test_ks_continuous_scores_and_exact_method() -> None:
    rng = np.random.default_rng(5)
    codes = np.repeat([0, 1, 2], [300, 120, 45])
    scores = rng.beta(2 + codes, 3)
    stat, p = ks_by_group(scores, codes, 3, reference=0, method="exact")
    ref = scores[codes == 0]
    for g in (1, 2):
        res = stats.ks_2samp(scores[codes == g], ref, method="exact")
        assert stat[g] == pytest.approx(res.statistic, abs=1e-9)
        assert p[g] == pytest.approx(res.pvalue, abs=1e-9)


def test_ks_large_groups_use_kolmogorov_limit() -> None:
    """Above KSTWO_MAX_N the p-value is the Kolmogorov limit, close to ks_2samp's finite-n asymp value."""
    rng = np.random.default_rng(6)
    n = 3 * KSTWO_MAX_N
    codes = np.repeat([0, 1], n)
    scores = np.concatenate([rng.normal(0, 1, n), rng.normal(0.02, 1, n)])
    stat, p = ks_by_group(scores, codes, 2, reference=0)
    res = stats.ks_2samp(scores[codes == 1], scores[codes == 0], method="asymp")
    assert stat[1] == pytest.approx(res.statistic, abs=1e-12)
    assert p[1] == pytest.approx(res.pvalue, rel=0.03)
    assert p[1] == stats.kstwobign.sf(np.sqrt(n / 2) * stat[1])


def test_ks_identical_and_disjoint_distributions() -> None:
    codes = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    scores = np.array([0.1, 0.2, 0.3, 0.3, 0.1, 0.2, 0.7, 0.8, 0.9])
    stat, _ = ks_by_group(scores, codes, 3, reference=0)
    assert np.isnan(stat[0]) and stat[1] == 0.0 and stat[2] == 1.0


def test_ks_empty_reference_gives_nan() -> None:
    stat, p = ks_by_group(np.array([0.1, 0.2]), np.array([0, 0]), 2, reference=1)
    assert np.isnan(stat).all() and np.isnan(p).all()
    with pytest.raises(ValueError, match="reference"):
        ks_by_group(np.array([0.1, 0.2]), np.array([0, 0]), 2, reference=2)


def test_ks_with_a_global_index_equals_scipy_with_ties() -> None:
    """The cumulative-count path (one global sort) gives the same statistic as scipy, ties included."""
    from scipy.stats import ks_2samp

    from test_suites.bias.scores import global_index, group_sort, ks_by_group

    rng = np.random.default_rng(11)
    n = 5000
    scores = np.round(rng.beta(2, 3, n), 2)  # many ties
    codes = rng.choice(6, n, p=[0.4, 0.2, 0.2, 0.1, 0.09, 0.01])
    by_score = np.argsort(scores).astype(np.int32)
    index = global_index(scores, by_score)
    for ref in (0, 3):
        prepared = group_sort(scores, codes, 6, by_score)
        stat, _ = ks_by_group(scores, codes, 6, ref, prepared=prepared, index=index)
        for g in range(6):
            if g == ref:
                assert np.isnan(stat[g])
                continue
            expected = ks_2samp(scores[codes == g], scores[codes == ref]).statistic
            assert stat[g] == pytest.approx(expected, abs=1e-12), (ref, g)


@pytest.mark.parametrize("decimals", [2, None])
def test_group_sorts_read_off_the_global_order_are_the_same(data, decimals: int | None) -> None:
    """A group sort made from the shared global order (the scores check's path) has the same arrays as one made
    alone, and AUC, DeLong variance and KS read from it are the same floats, with ties (rounded scores) or
    without; KS takes each block's global position from the permutation instead of a per-row inverse."""
    from test_suites.bias.scores import global_index, group_sort

    scores, y, codes = data
    if decimals is None:
        scores = scores + np.random.default_rng(3).normal(0, 1e-4, scores.size).clip(-0.004, 0.004)
    by_score = np.argsort(scores).astype(np.int32)
    index = global_index(scores, by_score)
    alone, shared = group_sort(scores, codes, G, by_score), group_sort(scores, codes, G, index=index)
    for name in ("order", "sizes", "starts", "s_sorted", "g_sorted", "block", "first"):
        got, want = getattr(shared, name), getattr(alone, name)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), name
    assert shared.perm is not None and (index.pos_of_row[shared.order] == shared.perm).all()
    for prepared in (alone, shared):
        auc, var = delong_auc_by_group(scores, y, codes, G, prepared=prepared)
        want_auc, want_var = delong_auc_by_group(scores, y, codes, G)
        assert auc.tobytes() == want_auc.tobytes() and var.tobytes() == want_var.tobytes()
        for ref in (0, 9):
            got_ks = ks_by_group(scores, codes, G, ref, prepared=prepared, index=index)
            want_ks = ks_by_group(scores, codes, G, ref)
            np.testing.assert_array_equal(got_ks[0], want_ks[0])
            np.testing.assert_array_equal(got_ks[1], want_ks[1])


def test_binary_labels_are_checked_without_hashing() -> None:
    from test_suites.bias.scores import _binary

    assert _binary(np.array([0, 1, 1], dtype=np.int8)) and _binary(np.array([], dtype=np.int64))
    assert not _binary(np.array([0, 2])) and not _binary(np.array([-1, 0]))
    assert _binary(np.array([0.0, 1.0])) and not _binary(np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match="binary"):
        delong_auc_by_group(np.array([0.1, 0.2]), np.array([0, 2]), np.array([0, 0]), 1)


def test_counted_blocks_give_the_sorted_blocks_figures(data) -> None:
    """With few distinct scores the blocks are counted (one bincount of group x value), not sorted: AUC,
    DeLong variance and KS (statistic and p-value) are the same floats as from the row sort, on 12 groups
    of 1 to 3,000 rows, one without positives, and an empty one."""
    from test_suites.bias.scores import ValueBlocks, ValueRanks

    scores, y, codes = data
    ranks = ValueRanks.of(scores, 1000)
    assert ranks is not None and len(ranks.values) == len(np.unique(scores)) <= 101
    for n_groups in (G, G + 1):  # the last: a group with no rows
        blocks = ValueBlocks.of(ranks, codes, n_groups, y)
        auc, var = delong_auc_by_group(scores, y, codes, n_groups, prepared=blocks)
        want_auc, want_var = delong_auc_by_group(scores, y, codes, n_groups)
        assert auc.tobytes() == want_auc.tobytes() and var.tobytes() == want_var.tobytes()
        for ref in (0, 5, ALL_NEGATIVE):
            got = ks_by_group(scores, codes, n_groups, ref, prepared=blocks)
            want = ks_by_group(scores, codes, n_groups, ref)
            assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes()
        # exact p-values need the rows: the counted blocks are set aside, not misread
        exact = ks_by_group(scores, codes, n_groups, 0, method="exact", prepared=blocks)
        np.testing.assert_array_equal(exact[1], ks_by_group(scores, codes, n_groups, 0, method="exact")[1])
        # calibration's rows and positives per bin, summed from the blocks' tables: the same ECE and table
        for n_bins in (1, 7, 10):
            counted = blocks.bin_counts(ranks.value_bins(n_bins), n_bins)
            got_ece, got_table = calibration_by_group(scores, y, codes, n_groups, n_bins, counted=counted)
            want_ece, want_table = calibration_by_group(scores, y, codes, n_groups, n_bins)
            assert got_ece.tobytes() == want_ece.tobytes() and repr(got_table) == repr(want_table)
    np.testing.assert_array_equal(ranks.bins(10), calibration_bins(scores, 10))


def test_a_coarser_groupings_blocks_are_the_sums_of_a_finer_ones(data) -> None:
    """Groups merged three ways (pairs, a large group with small ones, everything into one): the merged
    tables give every array of the blocks counted from the merged groups' rows."""
    from test_suites.bias.scores import ValueBlocks, ValueRanks

    scores, y, codes = data
    ranks = ValueRanks.of(scores, 1000)
    assert ranks is not None
    fine = ValueBlocks.of(ranks, codes, G, y)
    for into in (np.arange(G) // 2, np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 3]), np.zeros(G, dtype=int)):
        k = int(into.max()) + 1
        merged, counted = fine.merged(into, k), ValueBlocks.of(ranks, into[codes], k, y)
        for field in ValueBlocks.__dataclass_fields__:
            got, want = getattr(merged, field), getattr(counted, field)
            assert np.asarray(got).dtype == np.asarray(want).dtype and np.array_equal(got, want), field


def calibration_bins(scores: np.ndarray, n_bins: int) -> np.ndarray:
    from test_suites.bias.scores import score_bins

    return score_bins(scores, n_bins)


def test_value_ranks_only_for_few_distinct_scores() -> None:
    from test_suites.bias.scores import ValueRanks

    rng = np.random.default_rng(2)
    continuous = rng.random(50_000)
    assert ValueRanks.of(continuous, 5_000) is None  # the first rows alone hold too many values
    late = np.r_[np.zeros(30_000), rng.random(20_000)]
    assert ValueRanks.of(late, 5_000) is None  # found by hashing every row
    zeros = np.r_[np.zeros(10), -np.zeros(10), np.full(5, 0.5)]
    r = ValueRanks.of(zeros, 10)
    assert r is not None and r.values.tolist() == [0.0, 0.5] and r.ranks.tolist() == [0] * 20 + [1] * 5
    assert ValueRanks.of(np.array([0.1, np.nan]), 10) is None


def test_the_score_check_gives_the_same_figures_counted_or_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole scores check (AUC, intervals, ECE, KS, reliability tables, messages) on rounded scores,
    once through counted blocks and once forced through the sort."""
    import json

    from harness.check import CheckContext
    from harness.datasets import DatasetCard, ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.policy import load_policy
    from harness.tools import Predictions
    from test_suites.bias import scores as S
    from test_suites.bias.checks_scores import ScoreMetrics

    rng = np.random.default_rng(9)
    n = 40_000
    frame = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "race": rng.choice(["A", "B", "C", "D"], n),
                          "y": rng.integers(0, 2, n)})
    scores = np.round(np.clip(rng.normal(0.35 + 0.3 * frame["y"], 0.2), 0, 1), 3)
    card = DatasetCard(name="s", version="1", task="binary-classification", file="x.csv", sha256="0" * 64,
                       source="generated", license="CC0-1.0", target={"column": "y", "positive": 1},
                       features=["sex"], protected_attributes={"sex": {"reference": "M"}, "race": {"reference": "A"}})
    ds = ReferenceDataset(card=card, card_path=Path("card.yaml"), data_path=Path("x.csv"), frame=frame, sha256="0")
    manifest = ToolManifest.model_validate({
        "id": "t", "name": "t", "version": "1", "vendor": "v", "department": "d", "category": "predictive",
        "status": "proposed", "risk_tier": "high", "intended_use": "x", "automation_level": "x",
        "human_oversight": "x", "disclosure": {k: "x" for k in ("model_type", "training_data_source",
                                                                 "data_access_basis", "known_limitations",
                                                                 "bias_mitigation")},
        "adapter": {"kind": "python", "callable": "numpy:zeros"}})

    def run() -> str:
        ctx = CheckContext(dataset=ds, predictions=Predictions(labels=(scores > 0.5).astype(int), scores=scores),
                           policy=load_policy(), manifest=manifest, seed=1)
        out = ScoreMetrics().run(ctx)
        return json.dumps({"m": [repr(vars(m)) for m in out.measurements], "t": repr(out.tables),
                           "msg": out.messages}, sort_keys=True)

    calls: list[object] = []
    real = S.ValueBlocks.of
    monkeypatch.setattr(S.ValueBlocks, "of", staticmethod(lambda *a: calls.append(a) or real(*a)))
    counted = run()
    assert len(calls) == 1  # sex x race from the rows; sex and race are sums of its tables
    monkeypatch.setattr(S.ValueRanks, "of", staticmethod(lambda *a: None))
    assert run() == counted
