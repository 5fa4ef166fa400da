"""Proxy detection against independent computations: scipy's chi-squared and association, sklearn's
NMI and AUC, and the closed-form AUC of two shifted normals."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, norm
from scipy.stats.contingency import association
from sklearn.metrics import normalized_mutual_info_score, roc_auc_score

from harness.datasets import ReferenceDataset, load_dataset
from harness.measures.proxies import (
    AUC,
    CRAMERS_V,
    contingency_table,
    cramers_v,
    detect_proxies,
    encode_categorical,
    proxy_strength,
)

LIMITS = {CRAMERS_V: 0.3, AUC: 0.7}


@pytest.fixture(scope="module")
def demo() -> ReferenceDataset:
    return load_dataset("rental-assistance")


@pytest.fixture(scope="module")
def demo_scores(demo: ReferenceDataset) -> list:
    return detect_proxies(demo.frame, demo.card.features, list(demo.card.protected_attributes), LIMITS)


def test_neighbourhood_is_the_strongest_proxy_for_race(demo: ReferenceDataset, demo_scores: list) -> None:
    table = pd.crosstab(demo.frame["neighbourhood"], demo.frame["race"]).to_numpy()
    chi2 = chi2_contingency(table, correction=False).statistic
    expected_v = math.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))
    assert expected_v == pytest.approx(0.645, abs=0.001)  # the card's figure

    top = demo_scores[0]
    assert (top.feature, top.protected, top.measure) == ("neighbourhood", "race", CRAMERS_V)
    assert top.value == pytest.approx(expected_v, abs=0.01)
    assert top.n == len(demo.frame) and top.levels == 12
    assert top.exceeds and top.limit == 0.3
    assert top.message == "neighbourhood predicts race (Cramér's V = 0.65; the policy's limit is 0.30)"
    assert top.nmi == pytest.approx(
        normalized_mutual_info_score(demo.frame["race"], demo.frame["neighbourhood"]), abs=1e-12)
    # it is the only pair over its limit: every need feature is drawn independently of race and sex
    assert [s for s in demo_scores if s.exceeds] == [top]
    assert len(demo_scores) == len(demo.card.features) * 2


def test_sex_is_not_proxied_by_any_demo_feature(demo_scores: list) -> None:
    sex = [s for s in demo_scores if s.protected == "sex"]
    assert len(sex) == 9 and not any(s.exceeds for s in sex)
    # the data give at most V 0.026 (household_size) and AUC 0.512 (rent): sampling noise at n = 14,000
    assert max(s.value for s in sex if s.measure == CRAMERS_V) < 0.04
    assert max(s.value for s in sex if s.measure == AUC) < 0.52
    numeric = {s.feature for s in sex if s.measure == AUC}
    assert numeric == {"monthly_income", "income_pct_ami", "rent", "rent_burden"}  # > 10 distinct values


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    """200,000 rows: `income` is shifted by d = 0.5 sd for group B; `noise` and `zone` are independent."""
    rng = np.random.default_rng(11)
    n = 200_000
    group = rng.choice(np.array(["A", "B"]), n)
    return pd.DataFrame({
        "group": group,
        "race": rng.choice(np.array(["r1", "r2", "r3"]), n, p=[0.5, 0.3, 0.2]),
        "income": rng.normal(0.0, 1.0, n) + 0.5 * (group == "B"),
        "noise": rng.normal(0.0, 1.0, n),
        "zone": rng.choice(np.array([f"z{i}" for i in range(10)]), n),
    })


def test_planted_numeric_proxy_has_the_closed_form_auc(planted: pd.DataFrame) -> None:
    score = proxy_strength(planted, "income", "group")
    assert score.measure == AUC and score.n == len(planted)
    expected = norm.cdf(0.5 / math.sqrt(2))  # two unit normals, mean difference d: Phi(d / sqrt 2) = 0.638
    se = 0.002  # sd of the AUC estimate with 100,000 rows per group is about 0.0012
    assert score.value == pytest.approx(expected, abs=2 * se)
    # the same as sklearn on the same inputs (folding makes the choice of positive group irrelevant)
    auc = roc_auc_score(planted["group"] == "B", planted["income"])
    assert score.value == pytest.approx(max(auc, 1 - auc), abs=1e-12)
    assert proxy_strength(planted, "income", "group").with_limit(0.6).exceeds


def test_independent_features_score_near_no_information(planted: pd.DataFrame) -> None:
    scores = detect_proxies(planted, ["noise", "zone", "income"], ["group", "race"], LIMITS)
    by_pair = {(s.feature, s.protected): s for s in scores}
    for p in ("group", "race"):
        assert by_pair["noise", p].measure == AUC and by_pair["noise", p].value < 0.52
        assert by_pair["zone", p].measure == CRAMERS_V and by_pair["zone", p].value < 0.02
    assert scores[0].feature == "income" and scores[0].protected == "group"  # strongest first
    assert not any(s.exceeds for s in scores)  # 0.638 is under the 0.7 limit


def test_multilevel_auc_is_the_size_weighted_one_vs_rest_mean() -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    race = rng.choice(np.array(["a", "b", "c"]), n, p=[0.6, 0.3, 0.1])
    x = rng.normal(0, 1, n) + np.select([race == "b", race == "c"], [0.8, -0.4], 0.0)
    x = np.round(x, 2)  # ties: the rank formula must count them as half, as sklearn does
    frame = pd.DataFrame({"x": x, "race": race})
    expected = 0.0
    for g in ("a", "b", "c"):
        auc = roc_auc_score(race == g, x)
        expected += (race == g).mean() * max(auc, 1 - auc)
    assert proxy_strength(frame, "x", "race").value == pytest.approx(expected, abs=1e-12)


def test_cramers_v_and_nmi_equal_scipy_and_sklearn_on_a_random_table() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 6, 5_000)
    b = (a + rng.integers(0, 3, 5_000)) % 4  # associated, 6 x 4
    table = contingency_table(a, 6, b, 4)
    assert cramers_v(table) == pytest.approx(association(table.astype(int), method="cramer"), abs=1e-12)
    random_table = rng.integers(1, 200, size=(7, 3))
    assert cramers_v(random_table) == pytest.approx(association(random_table, method="cramer"), abs=1e-12)
    frame = pd.DataFrame({"a": a.astype(str), "b": b.astype(str)})
    s = proxy_strength(frame, "a", "b")
    assert s.measure == CRAMERS_V and s.value == pytest.approx(cramers_v(table), abs=1e-12)
    assert s.nmi == pytest.approx(normalized_mutual_info_score(b, a), abs=1e-12)


def test_missing_values() -> None:
    """NaN and "?" are one extra category of a categorical feature (missingness can be the proxy);
    a numeric feature's NaN rows are left out and `n` says so."""
    codes, k = encode_categorical(pd.Series(["x", "?", None, "y", " ?", "x"], dtype="str"))
    assert k == 3 and codes.tolist() == [0, 2, 2, 1, 2, 0]

    rng = np.random.default_rng(2)
    n = 4_000
    race = rng.choice(np.array(["a", "b"]), n)
    answered = np.where(race == "a", "yes", "?")  # only group b leaves the question unanswered
    income = rng.normal(0, 1, n)
    income[:500] = np.nan
    frame = pd.DataFrame({"race": race, "answered": answered, "income": income,
                          "small": rng.integers(0, 4, n).astype(float)})
    assert proxy_strength(frame, "answered", "race").value == pytest.approx(1.0)
    s = proxy_strength(frame, "income", "race")
    assert s.measure == AUC and s.n == n - 500
    kept = ~np.isnan(income)
    auc = roc_auc_score(race[kept] == "a", income[kept])
    assert s.value == pytest.approx(max(auc, 1 - auc), abs=1e-12)
    # a numeric column with few distinct values is a category, and its NaN a category of its own
    frame.loc[:9, "small"] = np.nan
    s = proxy_strength(frame, "small", "race")
    assert s.measure == CRAMERS_V and s.levels == 5 and s.n == n


def test_undefined_scores_are_reported_not_flagged() -> None:
    frame = pd.DataFrame({"race": ["a", "b"] * 50, "constant": ["c"] * 100})
    [s] = detect_proxies(frame, ["constant"], ["race"], LIMITS)
    assert math.isnan(s.value) and not s.exceeds and "cannot be scored" in s.message
    s = proxy_strength(frame, "race", "race")  # the pair is skipped by detect_proxies, scored here
    assert s.value == pytest.approx(1.0)
    assert detect_proxies(frame, ["race"], ["race"], LIMITS) == []
