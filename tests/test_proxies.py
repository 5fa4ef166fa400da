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
from harness.measures.coding import ColumnCodes
from harness.measures.proxies import (
    AUC,
    CRAMERS_V,
    MAX_CATEGORICAL_LEVELS,
    ProxyScore,
    contingency_table,
    cramers_v,
    detect_proxies,
    encode_categorical,
    folded_auc,
    normalized_mutual_info,
    proxy_strength,
    score_proxies,
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


# ---------------------------------------------------------------- the fast coding gives the sorted ranks' scores

def reference_detect_proxies(frame: pd.DataFrame, features: list[str], protected: list[str],
                             limits: dict[str, float]) -> list[ProxyScore]:
    """detect_proxies as it was (commit 3365921), verbatim in substance: each numeric column sorted by
    value (np.argsort) for its mid-ranks, one bincount of per-row ranks per pair, one contingency bincount
    per categorical pair. The oracle for the coded version, which must give the same floats."""
    def encode(values: pd.Series) -> tuple[bool, int, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            codes, k = encode_categorical(values)
            return True, k, codes, None, None
        x = values.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(x)
        order = np.flatnonzero(~missing)[np.argsort(x[~missing])] if missing.any() else np.argsort(x)
        xs = x[order]
        starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]]) if len(xs) else np.array([], dtype=np.int64)
        if len(starts) <= MAX_CATEGORICAL_LEVELS:
            codes, k = encode_categorical(values)
            return True, k, codes, None, None
        ends = np.r_[starts[1:], len(xs)]
        return False, len(starts), None, order, np.repeat((starts + 1 + ends) / 2.0, ends - starts)

    groups = {p: encode_categorical(frame[p]) for p in protected}
    out = []
    for feature in features:
        categorical, levels, codes, order, ranks = encode(frame[feature])
        for p in protected:
            if p == feature:
                continue
            g, k = groups[p]
            if categorical:
                assert codes is not None
                table = contingency_table(codes, levels, g, k)
                s = ProxyScore(feature, p, CRAMERS_V, cramers_v(table), len(g), nmi=normalized_mutual_info(table),
                               levels=levels)
            else:
                assert order is not None and ranks is not None
                s = ProxyScore(feature, p, AUC, folded_auc(ranks, g[order], k), len(order), levels=levels)
            out.append(s.with_limit(limits.get(s.measure)))
    return sorted(out, key=lambda s: (math.isnan(s.strength), 0.0 if math.isnan(s.strength) else -s.strength))


def bits(scores: list[ProxyScore]) -> list[tuple]:
    """Every field, floats as their bytes (NaN equal to NaN, -0.0 apart from 0.0)."""
    return [tuple(np.float64(v).tobytes() if isinstance(v, float) else v for v in vars(s).values()) for s in scores]


def numeric_kinds(n: int, seed: int) -> pd.DataFrame:
    """Every numeric path of the coding: small-range ints (ranked, and categories whose last value first
    appears late in the column), wide ints, ints beyond float64's exact range, unsigned ints, floats with
    ties, NaN and -0.0, a nullable integer, a float with few levels, booleans; and protected attributes
    with "?" and NaN, one with many levels."""
    rng = np.random.default_rng(seed)
    late = np.zeros(n, dtype=np.int64)
    late[-3:] = [7, 8, 9]  # three values appear only in the last rows: the prefix that orders them must grow
    zeros = np.round(rng.normal(0, 1, n), 1)
    zeros[rng.random(n) < 0.2] = -0.0
    zeros[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "race": rng.choice(np.array(["a", "b", "c", "?"]), n, p=[0.5, 0.3, 0.15, 0.05]),
        "sex": pd.array(np.where(rng.random(n) < 0.05, None, rng.choice(["F", "M"], n)), dtype="str"),
        "zip": rng.choice(np.array([f"z{i:03d}" for i in range(300)]), n),
        "small": rng.integers(0, 60, n), "late": late, "wide": rng.integers(0, 10 * n, n),
        "huge": 2**60 + rng.integers(0, 40, n).astype(np.int64), "unsigned": rng.integers(0, 30, n).astype(np.uint16),
        "ties": np.round(rng.normal(0, 1, n), 2), "zeros": zeros,
        "nullable": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 50, n)), dtype="Int64"),
        "levels": rng.integers(0, 5, n) * 0.25, "flag": rng.random(n) < 0.4,
        "continuous": rng.normal(0, 1, n),
        # small integers from a negative minimum, and far from 0 (years): counted shifted, or shifted by cells dropped
        "negative": rng.integers(-30, 30, n), "years": 1990 + rng.integers(0, 30, n),
    })


NUMERIC_KINDS = ["small", "late", "wide", "huge", "unsigned", "ties", "zeros", "nullable", "levels", "flag",
                 "continuous", "zip", "sex", "negative", "years"]


@pytest.mark.parametrize("seed", [0, 1])
def test_coded_scores_are_the_sorted_ranks_scores_bit_for_bit(seed: int) -> None:
    frame = numeric_kinds(20_000, seed)
    for protected in (["race", "sex"], ["race", "sex", "zip"], ["sex"]):
        want = reference_detect_proxies(frame, NUMERIC_KINDS, protected, LIMITS)
        assert bits(detect_proxies(frame, NUMERIC_KINDS, protected, LIMITS)) == bits(want)
        assert bits(score_proxies(ColumnCodes(frame), NUMERIC_KINDS, protected, LIMITS)) == bits(want)
    for feature in NUMERIC_KINDS:
        want = reference_detect_proxies(frame, [feature], ["race"], {})[0]
        assert bits([proxy_strength(frame, feature, "race")]) == bits([want])


def test_every_table_path_gives_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    """One joint bincount for all attributes, one bincount per attribute, per-row ranks: the same floats."""
    import harness.measures.proxies as P

    frame = numeric_kinds(8_000, 3)
    want = bits(reference_detect_proxies(frame, NUMERIC_KINDS, ["race", "sex"], LIMITS))
    monkeypatch.setattr(P, "JOINT_MAX_GROUPS", 1)  # no joint code: a table (or ranks) per attribute
    assert bits(detect_proxies(frame, NUMERIC_KINDS, ["race", "sex"], LIMITS)) == want


def test_shared_codes_are_used_and_not_recomputed(monkeypatch: pytest.MonkeyPatch) -> None:
    """score_proxies on the bias checks' ColumnCodes hashes no text column another measure has coded, and
    leaves the ones it codes for the next measure."""
    frame = numeric_kinds(5_000, 4)
    codes = ColumnCodes(frame)
    codes.factorized("race")
    hashed: list[int] = []
    real = pd.factorize
    monkeypatch.setattr(pd, "factorize", lambda values, *a, **k: hashed.append(len(values)) or real(values, *a, **k))
    scores = score_proxies(codes, ["zip", "small"], ["race"], LIMITS)
    assert hashed == [len(frame)]  # zip; race was coded, small is a bincount of small integers
    codes.factorized("zip")
    assert hashed == [len(frame)]
    monkeypatch.setattr(pd, "factorize", real)
    assert bits(scores) == bits(reference_detect_proxies(frame, ["zip", "small"], ["race"], LIMITS))
