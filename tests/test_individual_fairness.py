"""The generalized entropy indices and consistency equal aif360's on the same data (to 1e-9).

aif360 is the oracle only: test_suites/bias/individual.py computes everything from confusion counts
(or, for consistency, a feature matrix) without importing it.
"""
from __future__ import annotations

import logging
import math
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.assessment import run_suite
from harness.check import Check, CheckContext, Suite
from harness.datasets import DatasetCard, ReferenceDataset
from harness.manifest import ToolManifest
from harness.measures.counts import FN, FP, TN, TP, bootstrap_counts, confusion_counts
from harness.policy import load_policy
from harness.stats import percentile_interval
from harness.tools import Predictions
from test_suites.bias.checks_inputs import IndividualFairness, estimate_interval
from test_suites.bias.individual import (
    between_group_generalized_entropy_index,
    between_group_theil_index,
    consistency,
    consistency_inputs,
    consistency_rows,
    consistency_sample,
    generalized_entropy_index,
    numeric_feature_matrix,
    theil_index,
)
from tests.conftest import MANIFEST

ALPHAS = [0.0, 0.5, 1.0, 2.0]
ADULT_NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
RACES = ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"]  # codes 0..4


@pytest.fixture(scope="module")
def aif() -> SimpleNamespace:
    """aif360's classes, imported with its import-time noise silenced: it logs (root logger) and
    warns that tensorflow / inFairness back-ends are unavailable, which these tests do not need."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from aif360.datasets import BinaryLabelDataset
            from aif360.metrics import BinaryLabelDatasetMetric, ClassificationMetric
    finally:
        logging.disable(previous)
    return SimpleNamespace(BinaryLabelDataset=BinaryLabelDataset, ClassificationMetric=ClassificationMetric,
                           BinaryLabelDatasetMetric=BinaryLabelDatasetMetric)


def binary_dataset(aif: SimpleNamespace, columns: dict[str, np.ndarray], labels: np.ndarray,
                   protected: list[str]):
    df = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    df["label"] = np.asarray(labels, dtype=float)
    return aif.BinaryLabelDataset(df=df, label_names=["label"], protected_attribute_names=protected,
                                  favorable_label=1, unfavorable_label=0)


def classification_metric(aif: SimpleNamespace, attr: str, codes: np.ndarray, y_true: np.ndarray,
                          y_pred: np.ndarray, privileged: list[dict], unprivileged: list[dict]):
    truth = binary_dataset(aif, {attr: codes}, y_true, [attr])
    pred = binary_dataset(aif, {attr: codes}, y_pred, [attr])
    return aif.ClassificationMetric(truth, pred, unprivileged_groups=unprivileged, privileged_groups=privileged)


def oracle(fn: Callable[..., object], *args: object) -> float:
    """An aif360 figure; its log(0) and 0/0 warnings are expected where the value is inf or NaN."""
    with np.errstate(all="ignore"):
        return float(np.asarray(fn(*args)).ravel()[0])


def assert_same(got: object, expected: float) -> None:
    got = float(np.asarray(got))
    if math.isnan(expected):
        assert math.isnan(got), (got, expected)
    elif math.isinf(expected):
        assert got == expected
    else:
        assert got == pytest.approx(expected, rel=0, abs=1e-9)


def textbook_between_group(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, alpha: float) -> float:
    """Direct row-level computation: each row's benefit replaced by its group's mean, then
    GE(alpha) = mean((b/mu)**alpha - 1) / (alpha (alpha - 1)), or mean((b/mu) ln(b/mu)) at alpha 1."""
    b = (y_pred - y_true + 1).astype(float)
    means = np.bincount(codes, weights=b) / np.bincount(codes)
    r = means[codes] / means[codes].mean()
    if alpha == 1:
        return float(np.mean(r * np.log(r)))
    return float(np.mean(r**alpha - 1) / (alpha * (alpha - 1)))


@pytest.fixture(scope="module")
def adult_rule(adult) -> SimpleNamespace:
    frame = adult.frame
    y = np.asarray(adult.y_favorable, dtype=np.int64)
    yhat = ((frame["education-num"] >= 13) | (frame["capital-gain"] > 5000)).to_numpy().astype(np.int64)
    male = (frame["sex"] == "Male").to_numpy().astype(np.int64)
    race = pd.Categorical(frame["race"], categories=RACES).codes.astype(np.int64)
    assert (race >= 0).all()
    return SimpleNamespace(frame=frame, y=y, yhat=yhat, male=male, race=race)


# (a) Adult, sex as the binary protected attribute, a transparent rule as the prediction

def test_adult_sex_matches_aif360(aif, adult_rule) -> None:
    d = adult_rule
    counts = confusion_counts(d.male, 2, d.y, d.yhat)  # rows [Female, Male] = [unprivileged, privileged]
    metric = classification_metric(aif, "sex", d.male, d.y, d.yhat, privileged=[{"sex": 1}],
                                   unprivileged=[{"sex": 0}])
    assert_same(theil_index(counts.sum(axis=-2)), oracle(metric.theil_index))
    assert_same(between_group_theil_index(counts), oracle(metric.between_group_theil_index))
    for alpha in ALPHAS:
        assert_same(generalized_entropy_index(counts.sum(axis=-2), alpha),
                    oracle(metric.generalized_entropy_index, alpha))
        assert_same(between_group_generalized_entropy_index(counts, alpha),
                    oracle(metric.between_group_generalized_entropy_index, alpha))
        # with a binary attribute, "all groups" and "privileged vs unprivileged" are the same two groups
        assert_same(between_group_generalized_entropy_index(counts, alpha),
                    oracle(metric.between_all_groups_generalized_entropy_index, alpha))
    # the rule has false negatives, so aif360's alpha = 0 is +inf (log 0); the between-group one is finite
    assert generalized_entropy_index(counts.sum(axis=-2), 0.0) == np.inf
    assert np.isfinite(between_group_generalized_entropy_index(counts, 0.0))
    # and the Theil index stays finite: aif360 takes b = 0 to contribute 0 (log(r**0) = 0)
    assert 0 < theil_index(counts.sum(axis=-2)) < 1


def test_adult_race_five_groups(aif, adult_rule) -> None:
    """Five race groups: our index on the (5, 4) table is the row-level between-group index and
    aif360's between_ALL_groups index; aif360's between_group index with privileged White and the
    other four races unprivileged pools those four into one group (a two-row table)."""
    d = adult_rule
    counts = confusion_counts(d.race, 5, d.y, d.yhat)
    white = RACES.index("White")
    others = [{"race": code} for code in range(5) if code != white]
    metric = classification_metric(aif, "race", d.race, d.y, d.yhat, privileged=[{"race": white}],
                                   unprivileged=others)
    pooled = np.stack([np.delete(counts, white, axis=0).sum(axis=0), counts[white]])
    for alpha in ALPHAS:
        five = between_group_generalized_entropy_index(counts, alpha)
        if alpha != 0:  # aif360's alpha = 0 has an extra 1/mu (tested separately); the textbook has not
            assert_same(five, textbook_between_group(d.race, d.y, d.yhat, alpha))
        assert_same(five, oracle(metric.between_all_groups_generalized_entropy_index, alpha))
        assert_same(between_group_generalized_entropy_index(pooled, alpha),
                    oracle(metric.between_group_generalized_entropy_index, alpha))
    assert_same(between_group_theil_index(pooled), oracle(metric.between_group_theil_index))
    # pooling hides between-race differences inside "non-White": the 5-group index is larger
    assert between_group_theil_index(counts) > between_group_theil_index(pooled)


def test_aif360_rows_outside_both_sides_count_as_benefit_zero(aif, adult_rule) -> None:
    """aif360 quirk: rows matching neither privileged nor unprivileged conditions keep benefit 0 in its
    between-group index, which is our index with those rows as an extra group of false negatives."""
    d = adult_rule
    counts = confusion_counts(d.race, 5, d.y, d.yhat)
    white, black = RACES.index("White"), RACES.index("Black")
    metric = classification_metric(aif, "race", d.race, d.y, d.yhat, privileged=[{"race": white}],
                                   unprivileged=[{"race": black}])
    rest = np.zeros(4)
    rest[FN] = np.delete(counts, [white, black], axis=0).sum()
    table = np.stack([counts[black], counts[white], rest])
    for alpha in [0.5, 1.0, 2.0]:
        assert_same(between_group_generalized_entropy_index(table, alpha),
                    oracle(metric.between_group_generalized_entropy_index, alpha))


# (b) generated data with degenerate groups

@pytest.fixture(scope="module")
def degenerate() -> SimpleNamespace:
    """Group 0 has no positives, group 1 no predicted positives, group 2 is ordinary, group 3 is
    all false negatives (mean benefit 0)."""
    rng = np.random.default_rng(3)
    sizes = [120, 150, 200, 30]
    codes = np.repeat(np.arange(4), sizes)
    y = rng.binomial(1, 0.4, codes.size)
    yhat = rng.binomial(1, 0.5, codes.size)
    y[codes == 0] = 0
    yhat[codes == 1] = 0
    y[codes == 3], yhat[codes == 3] = 1, 0
    return SimpleNamespace(codes=codes, y=y, yhat=yhat)


def test_degenerate_groups_match_aif360(aif, degenerate) -> None:
    d = degenerate
    counts = confusion_counts(d.codes, 4, d.y, d.yhat)
    assert counts[0, FN] + counts[0, TP] == 0 and counts[1, FP] + counts[1, TP] == 0
    metric = classification_metric(aif, "g", d.codes, d.y, d.yhat, privileged=[{"g": 2}],
                                   unprivileged=[{"g": 0}, {"g": 1}, {"g": 3}])
    pooled = np.stack([counts[[0, 1, 3]].sum(axis=0), counts[2]])
    per_group = [binary_dataset(aif, {"g": d.codes[d.codes == g]}, labels[d.codes == g], ["g"])
                 for g in range(4) for labels in (d.y, d.yhat)]
    for alpha in [*ALPHAS, -1.0, 3.0]:
        assert_same(generalized_entropy_index(counts.sum(axis=-2), alpha),
                    oracle(metric.generalized_entropy_index, alpha))
        assert_same(between_group_generalized_entropy_index(pooled, alpha),
                    oracle(metric.between_group_generalized_entropy_index, alpha))
        assert_same(between_group_generalized_entropy_index(counts, alpha),
                    oracle(metric.between_all_groups_generalized_entropy_index, alpha))
        # a (groups, 4) table gives each group's own index in one call
        own = generalized_entropy_index(counts, alpha)
        for g in range(4):
            m = aif.ClassificationMetric(per_group[2 * g], per_group[2 * g + 1])
            assert_same(own[g], oracle(m.generalized_entropy_index, alpha))
    # group 0 has no false negatives, so even alpha = 0 is finite there; group 3 (mean benefit 0) is NaN
    assert np.isfinite(generalized_entropy_index(counts[0], 0.0))
    assert np.isnan(generalized_entropy_index(counts[3], 1.0))


def test_empty_groups_and_tables() -> None:
    counts = np.array([[5, 1, 2, 4], [0, 0, 0, 0], [3, 0, 1, 6]], dtype=float)
    assert_same(between_group_theil_index(counts), float(between_group_theil_index(counts[[0, 2]])))
    assert np.isnan(theil_index(np.zeros(4)))
    assert np.isnan(between_group_theil_index(np.zeros((2, 4))))


def test_vectorises_over_bootstrap_samples(degenerate) -> None:
    d = degenerate
    counts = confusion_counts(d.codes, 4, d.y, d.yhat)
    boot = bootstrap_counts(counts, 50, np.random.default_rng(0))
    for alpha in [0.5, 1.0, 2.0]:
        whole = generalized_entropy_index(boot.sum(axis=-2), alpha)
        between = between_group_generalized_entropy_index(boot, alpha)
        assert whole.shape == between.shape == (50,)
        for s in (0, 17, 49):
            assert whole[s] == pytest.approx(float(generalized_entropy_index(boot[s].sum(axis=0), alpha)), abs=1e-12)
            assert between[s] == pytest.approx(float(between_group_generalized_entropy_index(boot[s], alpha)),
                                               abs=1e-12)


def test_weighted_counts_equal_replicated_rows(degenerate) -> None:
    d = degenerate
    w = np.random.default_rng(1).integers(1, 4, d.codes.size)
    weighted = confusion_counts(d.codes, 4, d.y, d.yhat, weights=w.astype(float))
    rep = np.repeat(np.arange(d.codes.size), w)
    replicated = confusion_counts(d.codes[rep], 4, d.y[rep], d.yhat[rep])
    for alpha in [0.5, 1.0, 2.0]:
        assert_same(generalized_entropy_index(weighted.sum(axis=-2), alpha),
                    float(generalized_entropy_index(replicated.sum(axis=-2), alpha)))
        assert_same(between_group_generalized_entropy_index(weighted, alpha),
                    float(between_group_generalized_entropy_index(replicated, alpha)))


# (d) closed forms

def test_theil_closed_form(aif) -> None:
    """Benefits [0, 1, 1, 2] (one FN, one TN, one TP, one FP): mu = 1, so
    Theil = 1/4 * (0 [b = 0 contributes 0] + 1 ln 1 + 1 ln 1 + 2 ln 2) = ln(2) / 2 ~ 0.3466, and
    GE(2) = 1/(4 * 2) * ((0 - 1) + 0 + 0 + (4 - 1)) = 1/4."""
    counts = np.zeros(4)
    counts[[TN, FP, FN, TP]] = 1
    assert_same(theil_index(counts), math.log(2) / 2)
    assert_same(generalized_entropy_index(counts, 2.0), 0.25)
    y_true, y_pred = np.array([1, 0, 1, 0]), np.array([0, 0, 1, 1])  # FN, TN, TP, FP
    metric = classification_metric(aif, "g", np.zeros(4), y_true, y_pred, [{"g": 0}], [{"g": 1}])
    assert_same(theil_index(counts), oracle(metric.theil_index))


def test_alpha_zero_follows_aif360_extra_mu(aif) -> None:
    """Benefits [1, 1, 2, 2] (two TN, two FP): mu = 3/2. The textbook mean log deviation is
    -1/4 (2 ln(2/3) + 2 ln(4/3)) = ln(9/8) / 2; aif360 divides by mu once more: ln(9/8) / 3."""
    counts = np.zeros(4)
    counts[[TN, FP]] = 2
    assert_same(generalized_entropy_index(counts, 0.0), math.log(9 / 8) / 3)
    y_true, y_pred = np.zeros(4), np.array([0, 0, 1, 1])
    metric = classification_metric(aif, "g", np.zeros(4), y_true, y_pred, [{"g": 0}], [{"g": 1}])
    assert_same(generalized_entropy_index(counts, 0.0), oracle(metric.generalized_entropy_index, 0))


# (c) consistency

def test_consistency_matches_aif360_on_adult_sample(aif, adult_rule) -> None:
    d = adult_rule
    rows = np.sort(np.random.default_rng(11).choice(len(d.frame), 2000, replace=False))
    sample = d.frame.iloc[rows]
    x = numeric_feature_matrix(sample, [*ADULT_NUMERIC, "sex"])  # 6 z-scores, then sex_Female, sex_Male
    assert x.shape == (2000, 8)
    yhat = d.yhat[rows]
    names = [f"f{i}" for i in range(x.shape[1])]
    dataset = binary_dataset(aif, dict(zip(names, x.T, strict=True)), yhat, protected=[names[-1]])
    expected = oracle(aif.BinaryLabelDatasetMetric(dataset).consistency, 5)
    got = consistency(x, yhat, n_neighbors=5)
    assert_same(got, expected)
    assert 0.5 < got <= 1.0
    assert consistency_sample(x, yhat, 5, max_rows=5000, rng=0) == got


def test_consistency_sample_is_seeded_subsample() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1500, 3))
    y = (x[:, 0] > 0).astype(int)
    est = consistency_sample(x, y, 5, max_rows=400, rng=9)
    assert est == consistency_sample(x, y, 5, max_rows=400, rng=np.random.default_rng(9))
    rows = np.sort(np.random.default_rng(9).choice(1500, 400, replace=False))
    assert est == consistency(x[rows], y[rows], 5)
    # each row is its own first neighbour: with one neighbour, consistency is exactly 1
    assert consistency(x, y, n_neighbors=1) == 1.0


def test_numeric_feature_matrix() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": ["x", "y", "x", None], "k": [7, 7, 7, 7]})
    m = numeric_feature_matrix(frame, ["a", "c", "k"])
    assert m.shape == (4, 4) and m.dtype == np.float64
    assert m[:, 0].mean() == pytest.approx(0) and m[:, 0].std() == pytest.approx(1)
    np.testing.assert_array_equal(m[:, 1:3], [[1, 0], [0, 1], [1, 0], [0, 0]])  # missing -> no indicator
    np.testing.assert_array_equal(m[:, 3], 0)  # zero variance
    with pytest.raises(ValueError, match="missing"):
        numeric_feature_matrix(pd.DataFrame({"a": [1.0, np.nan]}), ["a"])
    with pytest.raises(ValueError, match="rows x columns"):
        consistency(np.zeros((3, 2)), np.zeros(4))


# (g) intervals that contain their estimate (issue 10: between-group Theil's percentile interval did not)

# 50 and 73 people with the same benefit rates: FP = FN in both, so every mean benefit is 1 and the
# between-group Theil index is exactly 0; a bootstrap draw is 0 only when both draws keep FP = FN
EQUAL_RATES = np.zeros((2, 4), dtype=np.int64)
EQUAL_RATES[0, [TN, FP, FN, TP]] = [20, 5, 5, 20]
EQUAL_RATES[1, [TN, FP, FN, TP]] = [30, 6, 6, 31]


def test_between_group_theil_interval_contains_its_zero_estimate() -> None:
    assert float(between_group_theil_index(EQUAL_RATES)) == 0.0
    draws = between_group_theil_index(bootstrap_counts(EQUAL_RATES, 2000, np.random.default_rng(0)))
    assert 0.005 < np.mean(draws == 0.0) < 0.025  # too few exact zeros to reach the 2.5th percentile
    old_lo, old_hi = (float(x) for x in percentile_interval(draws, 0.95))
    assert 0.0 < old_lo < 1e-6  # the old interval excluded its own estimate
    assert estimate_interval(0.0, draws, 0.95) == (0.0, old_hi)


def test_estimate_interval_is_the_hull_of_percentile_and_reflected_intervals() -> None:
    draws = np.linspace(0.6, 1.0, 401)  # numpy's 2.5th / 97.5th percentiles: 0.61 and 0.99
    # an estimate below every draw: [min(0.61, 2 x 0.5 - 0.99), max(0.99, 2 x 0.5 - 0.61)]
    assert estimate_interval(0.5, draws, 0.95) == pytest.approx((0.01, 0.99))
    # inside the draws: the reflection [0.61, 0.99] about 0.8 is itself, nothing changes
    assert estimate_interval(0.8, draws, 0.95) == pytest.approx((0.61, 0.99))
    # never below 0, the least an entropy index can be; undefined draws give an undefined interval
    assert estimate_interval(0.1, draws, 0.95) == pytest.approx((0.0, 0.99))
    assert all(math.isnan(x) for x in estimate_interval(0.1, np.full(10, np.nan), 0.95))


def test_individual_fairness_check_reports_intervals_that_contain_the_estimates() -> None:
    cell_truth = {TN: (0, 0), FP: (0, 1), FN: (1, 0), TP: (1, 1)}
    rows = [(sex, *cell_truth[cell]) for sex, table in zip(("F", "M"), EQUAL_RATES, strict=True)
            for cell in (TN, FP, FN, TP) for _ in range(table[cell])]
    frame = pd.DataFrame(rows, columns=["sex", "approved", "predicted"])
    frame["x"] = np.arange(len(frame), dtype=float)
    card = DatasetCard.model_validate({
        "name": "equal-rates", "version": "1", "task": "binary-classification", "file": "data.csv",
        "sha256": "0" * 64, "source": "https://example.org/generated", "license": "CC0-1.0",
        "target": {"column": "approved", "positive": 1}, "features": ["sex", "x"],
        "protected_attributes": {"sex": {"reference": "M"}}})
    ds = ReferenceDataset(card=card, card_path=Path("card.yaml"), data_path=Path("data.csv"),
                          frame=frame.drop(columns="predicted"), sha256="0" * 64)
    text = MANIFEST.format(id="theil-tool") + "adapter:\n  kind: predictions\n  path: predictions.csv\n"
    manifest = ToolManifest.model_validate(yaml.safe_load(text))
    ctx = CheckContext(dataset=ds, predictions=Predictions(frame["predicted"].to_numpy(), None),
                       policy=load_policy(), manifest=manifest, seed=4)

    class One(Suite):
        name = "bias"

        def checks(self, ctx: CheckContext) -> list[Check]:
            return [IndividualFairness()]

    found = {m.key: m for m in run_suite(One(), ctx).measurements}
    between = found["bias.individual_fairness.between_group_theil.sex"]
    assert between.value == 0.0 and between.ci_low == 0.0 and between.ci_high > 0.0
    overall = found["bias.individual_fairness.theil_index"]
    assert overall.value == pytest.approx(float(theil_index(EQUAL_RATES.sum(axis=0))))
    assert overall.ci_low <= overall.value <= overall.ci_high


# (h) features for the sampled rows only (issue 13, section 5): the same bits as the full matrix, indexed


def reference_numeric_feature_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """numeric_feature_matrix as it was before it could build sampled rows only (commit ce8a17e),
    verbatim: the full rows x features matrix."""
    parts: list[np.ndarray] = []
    for col in columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values):
            v = values.to_numpy(dtype=np.float64)
            if np.isnan(v).any():
                raise ValueError(f"column {col!r} has missing values; impute or drop them first")
            sd = v.std()
            parts.append(((v - v.mean()) / sd if sd > 0 else np.zeros_like(v))[:, None])
        else:
            parts.append(pd.get_dummies(values.astype("string"), dtype=float).to_numpy())
    if not parts:
        return np.zeros((len(frame), 0))
    return np.hstack(parts)


def reference_consistency_sample(features: np.ndarray, y_pred: np.ndarray, n_neighbors: int, max_rows: int,
                                 rng: np.random.Generator | int | None) -> float:
    """consistency_sample as it was (commit ce8a17e), verbatim: sample the rows of the full matrix."""
    x = np.asarray(features)
    y = np.asarray(y_pred).ravel()
    if x.shape[0] <= max_rows:
        return consistency(x, y, n_neighbors)
    rows = np.sort(np.random.default_rng(rng).choice(x.shape[0], size=max_rows, replace=False))
    return consistency(x[rows], y[rows], n_neighbors)


def mixed_frame(n: int, seed: int = 3) -> pd.DataFrame:
    """Every kind of column the matrix meets, with missing categories, on a shuffled non-default index
    (rows are positions, not labels): floats with a wide range, ints, bools, a constant, text of
    pandas' default str dtype with NaN, object text with None, a categorical with an unused and a
    missing value (text coding drops the unused one, as get_dummies of the text did), mixed object
    values that coincide as strings (1 and "1"), and an all-missing column."""
    rng = np.random.default_rng(seed)
    text = rng.choice(np.array(["b", "a", "c", "Zeta", "é"]), n).astype(object)
    text[rng.random(n) < 0.1] = np.nan
    obj = rng.choice(np.array(["x", "y", "w"], dtype=object), n)
    obj[rng.random(n) < 0.15] = None
    cat = pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["unused", "lo", "mid", "hi"])
    cat[rng.random(n) < 0.05] = np.nan
    mixed = rng.choice(np.array([1, "1", 2.5, "q"], dtype=object), n)
    frame = pd.DataFrame({
        "income": rng.lognormal(10, 1.5, n), "age": rng.integers(18, 90, n), "flag": rng.random(n) < 0.3,
        "constant": np.full(n, 7.25), "text": pd.array(text, dtype="str"), "obj": obj, "cat": cat,
        "mixed": mixed, "none": np.full(n, None, dtype=object), "score": rng.normal(0.1, 3e-9, n),
    }, index=rng.permutation(np.arange(10 * n, 11 * n)))
    assert frame["text"].isna().any() and frame["obj"].isna().any() and frame["cat"].isna().any()
    return frame


MIXED_COLUMNS = ["income", "text", "age", "obj", "flag", "cat", "constant", "mixed", "none", "score"]


def assert_bitwise_equal(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()  # bit for bit: -0.0 differs from 0.0 here, NaN equals NaN


def test_feature_rows_are_the_full_matrix_rows_bit_for_bit() -> None:
    frame = mixed_frame(3000)
    full = reference_numeric_feature_matrix(frame, MIXED_COLUMNS)
    # income, 5 text levels, age, 3 obj, flag, 3 cat (not "unused"), constant, 3 mixed ("1" once), none: 0, score
    assert full.shape == (3000, 1 + 5 + 1 + 3 + 1 + 3 + 1 + 3 + 0 + 1)
    assert_bitwise_equal(numeric_feature_matrix(frame, MIXED_COLUMNS), full)
    for rows in (np.sort(np.random.default_rng(1).choice(3000, 500, replace=False)),
                 np.random.default_rng(2).permutation(3000)[:700],  # unsorted
                 np.arange(3000), np.array([2999, 0, 0, 17]), np.array([], dtype=np.int64)):
        assert_bitwise_equal(numeric_feature_matrix(frame, MIXED_COLUMNS, rows), full[rows])
    # a sample without some category still has its column (levels come from every row), all zero
    rows = np.flatnonzero(frame["text"].to_numpy() != "é")[:50]
    part = numeric_feature_matrix(frame, ["text"], rows)
    assert part.shape == (50, 5) and not part[:, 4].any()
    assert_bitwise_equal(numeric_feature_matrix(frame, [], rows), np.zeros((50, 0)))


def test_consistency_inputs_give_the_old_estimate_exactly() -> None:
    frame = mixed_frame(3000)
    y_pred = (frame["income"].to_numpy() > 30_000).astype(np.int64) ^ (frame["age"].to_numpy() % 7 == 0)
    full = reference_numeric_feature_matrix(frame, MIXED_COLUMNS)
    for max_rows, seed in ((400, 9), (2999, 1), (3000, 2), (10_000, 3)):
        x, y = consistency_inputs(frame, MIXED_COLUMNS, y_pred, max_rows, np.random.default_rng(seed))
        rows = consistency_rows(3000, max_rows, seed)
        assert (rows is None) == (max_rows >= 3000)
        assert_bitwise_equal(x, full if rows is None else full[rows])
        assert_bitwise_equal(y, y_pred if rows is None else y_pred[rows])
        expected = reference_consistency_sample(full, y_pred, 5, max_rows, np.random.default_rng(seed))
        assert consistency(x, y, 5) == expected
        assert consistency_sample(full, y_pred, 5, max_rows, seed) == expected


def test_missing_number_outside_the_sample_is_still_refused() -> None:
    frame = mixed_frame(3000)
    frame.iloc[5, frame.columns.get_loc("income")] = np.nan
    with pytest.raises(ValueError, match="column 'income' has missing values; impute or drop them first"):
        reference_numeric_feature_matrix(frame, MIXED_COLUMNS)
    rows = consistency_rows(3000, 100, 0)
    assert rows is not None and 5 not in rows
    with pytest.raises(ValueError, match="column 'income' has missing values; impute or drop them first"):
        consistency_inputs(frame, MIXED_COLUMNS, np.zeros(3000), 100, 0)


def traced_peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sampled_rows_never_build_the_full_matrix() -> None:
    """200,000 rows, 3 numbers and a 40-level category: the full matrix is 65.6 MiB and the old code
    peaked above it (the one-hot part and the stacked copy); the sampled rows need a column at a time."""
    n = 200_000
    rng = np.random.default_rng(0)
    levels = np.array([f"L{i:02d}" for i in range(40)])
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 9, n), "c": rng.random(n),
                          "d": pd.Series(rng.choice(levels, n), dtype="str")})
    full_bytes = n * 43 * 8
    rows = consistency_rows(n, 5000, 1)
    assert rows is not None
    assert traced_peak(lambda: reference_numeric_feature_matrix(frame, list("abcd"))) > full_bytes
    assert traced_peak(lambda: numeric_feature_matrix(frame, list("abcd"), rows)) < full_bytes / 8


def test_individual_fairness_check_consistency_equals_the_full_matrix_estimate() -> None:
    """The check end to end on 6,000 rows (the policy samples 5,000): its consistency figure is the
    old computation's on the full matrix, to the bit, with the check's own generator."""
    frame = mixed_frame(6000, seed=8).drop(columns=["none"]).reset_index(drop=True)
    frame["approved"] = (frame["income"] > 25_000).astype(int)
    predicted = ((frame["income"] > 20_000) ^ (frame["age"] % 5 == 0)).astype(int).to_numpy()
    features = [c for c in MIXED_COLUMNS if c != "none"]
    card = DatasetCard.model_validate({
        "name": "mixed", "version": "1", "task": "binary-classification", "file": "data.csv",
        "sha256": "0" * 64, "source": "https://example.org/generated", "license": "CC0-1.0",
        "target": {"column": "approved", "positive": 1}, "features": features,
        "protected_attributes": {"flag": {"reference": True}}})
    ds = ReferenceDataset(card=card, card_path=Path("card.yaml"), data_path=Path("data.csv"),
                          frame=frame, sha256="0" * 64)
    text = MANIFEST.format(id="knn-tool") + "adapter:\n  kind: predictions\n  path: predictions.csv\n"
    manifest = ToolManifest.model_validate(yaml.safe_load(text))
    ctx = CheckContext(dataset=ds, predictions=Predictions(predicted, None), policy=load_policy(),
                       manifest=manifest, seed=4)
    out = IndividualFairness().run(ctx)
    (m,) = [m for m in out.measurements if m.metric == "consistency"]
    expected = reference_consistency_sample(reference_numeric_feature_matrix(frame, features), predicted, 5,
                                            5000, ctx.rng("bias.consistency"))
    assert m.value == expected and m.n == 5000
    assert m.details == {"neighbours": 5, "sampled": True, "features": features}


# (h) the neighbours are the ball tree's, found faster

def ball_tree_means(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """What consistency used (and aif360 uses): the ball tree's k nearest rows, queried with the same rows."""
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=k, algorithm="ball_tree").fit(x).kneighbors(x)
    return np.asarray(y, dtype=np.float64)[idx].mean(axis=1)


def tied_and_untied(seed: int) -> dict[str, np.ndarray]:
    """Feature matrices where neighbours are unique (continuous), tied at every distance (a coarse integer
    grid, one-hot categories), duplicated (every row four times) and mixed (z-scores beside indicators)."""
    rng = np.random.default_rng(seed)
    mixed = numeric_feature_matrix(mixed_frame(600, seed), ["income", "text", "obj", "flag", "cat"])
    return {"continuous": rng.normal(size=(600, 6)), "grid": rng.integers(0, 3, size=(600, 4)).astype(float),
            "duplicates": np.repeat(rng.normal(size=(150, 3)), 4, axis=0),
            "one_hot": np.eye(5)[rng.integers(0, 5, 600)], "mixed": mixed}


@pytest.mark.parametrize("seed", [0, 1])
def test_neighbour_means_are_the_ball_trees_on_tied_and_untied_data(seed: int) -> None:
    from test_suites.bias.individual import nearest_neighbour_means

    for name, x in tied_and_untied(seed).items():
        y = (np.random.default_rng(seed + 7).random(len(x)) < 0.4).astype(np.int64)
        for k in (1, 5, 10):
            got = nearest_neighbour_means(x, y.astype(np.float64), k)
            assert got.tobytes() == ball_tree_means(x, y, k).tobytes(), (name, k)
            assert consistency(x, y, k) == float(1 - np.mean(np.abs(y - ball_tree_means(x, y, k)))), (name, k)


def test_tied_rows_go_to_the_ball_tree_and_only_they(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the k-th and (k+1)-th distances tie, the neighbours are not unique and the ball tree's choice
    is kept; where they differ, the brute-force search's set is the only possible one."""
    import sklearn.neighbors

    from test_suites.bias import individual

    queried: list[int] = []
    real = sklearn.neighbors.NearestNeighbors

    class Counting(real):  # type: ignore[misc, valid-type]
        def kneighbors(self, X=None, n_neighbors=None, return_distance=True):  # type: ignore[no-untyped-def]
            if self.algorithm == "ball_tree":
                queried.append(len(X))
            return super().kneighbors(X, n_neighbors, return_distance)

    monkeypatch.setattr(sklearn.neighbors, "NearestNeighbors", Counting)
    data = tied_and_untied(3)
    individual.nearest_neighbour_means(data["continuous"], np.zeros(600), 5)
    assert queried == []
    individual.nearest_neighbour_means(data["duplicates"], np.zeros(600), 5)  # every row has 3 exact twins
    assert queried == [600]
    queried.clear()
    individual.nearest_neighbour_means(data["duplicates"], np.zeros(600), 3)  # itself and its 3 twins: 4 at 0
    assert queried == [600]
    queried.clear()
    individual.nearest_neighbour_means(data["duplicates"], np.zeros(600), 4)  # exactly the 4 copies, then a gap
    assert queried == []


def test_screen_float64_and_ball_tree_each_decide_rows_and_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows whose k-th and (k+1)-th distances differ by less than the float32 screen can tell apart (points
    10**-4 apart on a line) are measured again in float64; those closer than the float64 margin go to the ball
    tree. Each route decides some rows here, over ten blocks of 100 rows, and every mean is the ball tree's own
    to the bit."""
    from test_suites.bias import individual

    exact: list[tuple[int, int]] = []
    real = individual._exact_among

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        found, ok = real(*args, **kwargs)
        exact.append((len(ok), int(ok.sum())))
        return found, ok

    monkeypatch.setattr(individual, "_exact_among", counting)
    monkeypatch.setattr(individual, "SCREEN_VALUES", 100_000)  # 100 rows of 1,000 at a time
    rng = np.random.default_rng(5)
    line = np.hstack([rng.uniform(0.9, 0.985, size=(600, 1)), np.full((600, 1), 0.5)])
    x = np.vstack([line, rng.normal(size=(400, 2))])
    y = (rng.random(len(x)) < 0.4).astype(np.float64)
    assert individual.nearest_neighbour_means(x, y, 5).tobytes() == ball_tree_means(x, y, 5).tobytes()
    measured, passed = (sum(c) for c in zip(*exact, strict=True))
    assert 0 < measured < len(x)          # the screen decided the others
    assert 0 < passed < measured          # float64 decided some, the ball tree the rest


def test_neighbour_means_are_the_ball_trees_whatever_the_scale() -> None:
    """The screen scales the features by a power of two before float32: values of 1e-30 or 1e30, and columns
    of very different scales side by side, neither overflow nor lose the neighbours."""
    from test_suites.bias.individual import nearest_neighbour_means

    rng = np.random.default_rng(11)
    base = rng.normal(size=(700, 4))
    y = (rng.random(700) < 0.5).astype(np.float64)
    for x in (base * 1e-30, base * 1e30, base * np.array([1e12, 1.0, 1e-12, 3.0])):
        for k in (1, 5):
            assert nearest_neighbour_means(x, y, k).tobytes() == ball_tree_means(x, y, k).tobytes()
