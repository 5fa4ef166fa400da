"""Every bias figure equals fairlearn's on the same data (issue 2: to 1e-9)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_negative_rate_ratio,
    false_positive_rate,
    false_positive_rate_ratio,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, confusion_matrix, precision_score

from harness.assessment import run_suite
from harness.check import CheckContext
from harness.datasets import ReferenceDataset, matches
from harness.decision import apply_decision_rule
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.tools import Predictions
from test_suites.bias import BiasSuite
from tests.conftest import write_case


class _WholeColumns:
    """numpy, as fairlearn's metric functions module sees it, with one change (`whole_columns`)."""

    def __getattr__(self, name: str):
        return getattr(np, name)

    @staticmethod
    def stack(arrays, *args, **kwargs):
        if not args and not kwargs and isinstance(arrays, np.ndarray) and arrays.ndim == 1 and arrays.size \
                and arrays.dtype != object:
            return arrays.copy()  # what np.stack makes of it, one 0-d array per row later
        return np.stack(arrays, *args, **kwargs)


@pytest.fixture(autouse=True)
def whole_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """fairlearn 0.15 hands every column to a metric function through np.stack, which rebuilds a column of arrays
    (a 2-D y) into one array; on a 1-D column of numbers it makes a 0-d array of every row and stacks them back:
    the same array, at about 10 s of the Adult comparison. Such a column is passed on as np.stack would return it
    (a copy); anything else still goes through np.stack. fairlearn's grouping, metric functions and aggregation,
    the oracle, are untouched."""
    import fairlearn.metrics._annotated_metric_function as annotated

    for column in (np.array([0, 1, 1]), np.array([0.5, np.nan]), np.array([True, False])):
        whole, stacked = _WholeColumns.stack(column), np.stack(column)
        assert whole.dtype == stacked.dtype and np.array_equal(whole, stacked, equal_nan=True)
    monkeypatch.setattr(annotated, "np", _WholeColumns())


def _cells(yt, yp):
    return confusion_matrix(yt, yp, labels=[0, 1]).ravel()  # tn, fp, fn, tp


def _ratio(num, den):
    return num / den if den else 0.0


FAIRLEARN_RATES = {
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": lambda yt, yp: precision_score(yt, yp, zero_division=0),
    "accuracy": accuracy_score,
    # no fairlearn function for these: sklearn's confusion matrix, with fairlearn's 0 for an empty denominator
    "npv": lambda yt, yp: _ratio(_cells(yt, yp)[0], _cells(yt, yp)[0] + _cells(yt, yp)[2]),
    "fdr": lambda yt, yp: _ratio(_cells(yt, yp)[1], _cells(yt, yp)[1] + _cells(yt, yp)[3]),
    "for": lambda yt, yp: _ratio(_cells(yt, yp)[2], _cells(yt, yp)[0] + _cells(yt, yp)[2]),
    "base_rate": lambda yt, yp: float(np.mean(yt)),
}


def run_bias(ds: ReferenceDataset, labels: np.ndarray, manifest_path: Path, min_group_size: int = 1):
    policy = load_policy().model_copy(update={"min_group_size": min_group_size, "bootstrap_samples": 200})
    ctx = CheckContext(dataset=ds, predictions=Predictions(labels=labels), policy=policy,
                       manifest=load_manifest(manifest_path), seed=1)
    return run_suite(BiasSuite(), ctx)


def assert_matches_fairlearn(ds: ReferenceDataset, labels: np.ndarray, manifest_path: Path) -> int:
    """Compare every group rate and every disparity with fairlearn; return how many were compared."""
    result = run_bias(ds, labels, manifest_path)
    got = {m.key: m.value for m in result.measurements}
    card = ds.card
    y_true = ds.y_favorable
    y_pred = matches(labels, card.target.favorable_value).astype(int)
    attrs = list(card.protected_attributes)
    groupings = [[a] for a in attrs] + [attrs]
    compared = 0
    for cols in groupings:
        key = "_x_".join(cols)
        sf = ds.frame[cols].astype(str) if len(cols) > 1 else ds.frame[cols[0]].astype(str)
        mf = MetricFrame(metrics=FAIRLEARN_RATES, y_true=y_true, y_pred=y_pred, sensitive_features=sf)
        # each row's group as a tuple (a row-wise DataFrame.agg(tuple) takes seconds on Adult)
        group_of = pd.Series(list(zip(*(sf[c] for c in cols), strict=True)) if len(cols) > 1 else [(v,) for v in sf],
                             index=sf.index, dtype=object)
        for group, row in mf.by_group.iterrows():
            parts = group if isinstance(group, tuple) else (group,)
            in_group = (group_of == parts).to_numpy()
            gkey = ".".join([key, *parts])
            for metric, expected in row.items():
                value = got[f"bias.group_rates.{metric}.{gkey}"]
                undefined = {
                    "tpr": not y_true[in_group].any(), "fnr": not y_true[in_group].any(),
                    "fpr": y_true[in_group].all(), "precision": not y_pred[in_group].any(),
                    "fdr": not y_pred[in_group].any(), "npv": y_pred[in_group].all(),
                    "for": y_pred[in_group].all(),
                }.get(metric, False)
                if undefined:
                    # fairlearn and sklearn write 0 for a rate with an empty denominator; we report it
                    # as undefined (NaN), as aif360 does, and leave it out of the disparities
                    assert np.isnan(value) and expected == 0, (metric, gkey)
                    continue
                assert value == pytest.approx(expected, abs=1e-9), (metric, gkey)
                compared += 1
        # predictive parity (no fairlearn function): the spread of fairlearn's per-group precision
        selects = [bool(y_pred[(group_of == (g if isinstance(g, tuple) else (g,))).to_numpy()].any())
                   for g in mf.by_group.index]
        prec = mf.by_group["precision"][selects]
        assert got[f"bias.predictive_parity.difference.{key}"] == pytest.approx(prec.max() - prec.min(), abs=1e-9)
        compared += 1
        # disparities: fairlearn on the groups whose rates are all defined
        defined = np.ones(len(sf), dtype=bool)
        for parts in group_of.unique():
            in_group = (group_of == parts).to_numpy()
            if y_true[in_group].all() or not y_true[in_group].any():
                defined &= ~in_group
        yt, yp, sfd = y_true[defined], y_pred[defined], sf[defined]
        oracle = {
            "demographic_parity.ratio": demographic_parity_ratio(yt, yp, sensitive_features=sfd),
            "demographic_parity.difference": demographic_parity_difference(yt, yp, sensitive_features=sfd),
            "equalized_odds.difference": equalized_odds_difference(yt, yp, sensitive_features=sfd),
            "equal_opportunity.difference": equal_opportunity_difference(yt, yp, sensitive_features=sfd),
            "equalized_odds.ratio": equalized_odds_ratio(yt, yp, sensitive_features=sfd),
            "equal_opportunity.ratio": equal_opportunity_ratio(yt, yp, sensitive_features=sfd),
            "fnr_parity.ratio": false_negative_rate_ratio(yt, yp, sensitive_features=sfd),
            "fpr_parity.ratio": false_positive_rate_ratio(yt, yp, sensitive_features=sfd),
        }
        if defined.all():
            for name, expected in oracle.items():
                assert got[f"bias.{name}.{key}"] == pytest.approx(expected, abs=1e-9), (name, key)
                compared += 1
        else:
            # selection rates are defined for every group: demographic parity still uses all of them
            for name in ("demographic_parity.ratio", "demographic_parity.difference"):
                full = {"demographic_parity.ratio": demographic_parity_ratio,
                        "demographic_parity.difference": demographic_parity_difference}[name]
                assert got[f"bias.{name}.{key}"] == pytest.approx(full(y_true, y_pred, sensitive_features=sf),
                                                                  abs=1e-9), (name, key)
            for name in ("equal_opportunity.difference",):
                assert got[f"bias.{name}.{key}"] == pytest.approx(oracle[name], abs=1e-9), (name, key)
            compared += 3
    return compared


@pytest.fixture(scope="module")
def adult_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tool, _ = write_case(tmp_path_factory.mktemp("adult-tool"), n=10)
    return tool


def adult_rule(frame: pd.DataFrame) -> np.ndarray:
    """A transparent screening rule standing in for a tool: degree or capital gains -> '>50K'."""
    return np.where((frame["education-num"] >= 13) | (frame["capital-gain"] > 5000), ">50K", "<=50K")


def test_adult_matches_fairlearn(adult: ReferenceDataset, adult_manifest: Path) -> None:
    compared = assert_matches_fairlearn(adult, adult_rule(adult.frame), adult_manifest)
    # 2 sexes + 5 races + 10 intersections, 10 rates each, plus 8 disparities x 3 groupings
    assert compared >= 17 * 10 - 10 + 24


def test_adult_reproduces_a_known_disparity(adult: ReferenceDataset, adult_manifest: Path) -> None:
    """Using the true label as the 'prediction' gives the published base rates: 10.9 % of women vs
    30.6 % of men earn >50K, a selection-rate ratio of 0.358."""
    result = run_bias(adult, adult.frame["income"].to_numpy(), adult_manifest)
    got = {m.key: m.value for m in result.measurements}
    assert got["bias.group_rates.selection_rate.sex.Female"] == pytest.approx(1179 / 10771, abs=1e-12)
    assert got["bias.group_rates.selection_rate.sex.Male"] == pytest.approx(6662 / 21790, abs=1e-12)
    assert got["bias.demographic_parity.ratio.sex"] == pytest.approx((1179 / 10771) / (6662 / 21790), abs=1e-12)
    policy = load_policy().model_copy(update={"min_group_size": 1, "bootstrap_samples": 200})
    ratio = next(f for f in apply_decision_rule([result], policy)[0].findings
                 if f.key == "bias.four_fifths.adverse_impact_ratio.sex.Female")
    assert ratio.value == pytest.approx((1179 / 10771) / (6662 / 21790), abs=1e-12)
    assert ratio.status.value == "FAIL"
    assert ratio.reference == "Male"
    assert "'Female' is selected at 0.36 times the rate of 'Male'" in ratio.message
    assert "The difference is statistically significant (two-proportion z-test" in ratio.message


def test_generated_data_with_many_groups_matches_fairlearn(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 4000
    tool, card = write_case(tmp_path / "g", n=n, seed=3)
    from harness.datasets import load_dataset

    ds = load_dataset(str(card))
    frame = ds.frame.copy()
    frame["race"] = rng.choice([f"r{i}" for i in range(8)], n, p=[.3, .2, .15, .1, .1, .1, .04, .01])
    # a group with no positives at all
    frame.loc[frame["race"] == "r7", "approved"] = 0
    ds = ReferenceDataset(card=ds.card, card_path=ds.card_path, data_path=ds.data_path, frame=frame,
                          sha256=ds.sha256)
    labels = rng.binomial(1, np.where(frame["race"].isin(["r1", "r2"]), 0.3, 0.5))
    assert assert_matches_fairlearn(ds, labels, tool) > 50


def test_small_groups_are_insufficient_and_left_out(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "s", n=400, seed=4)
    from harness.datasets import load_dataset

    ds = load_dataset(str(card))
    frame = ds.frame.copy()
    frame.loc[frame.index[:12], "race"] = "D"  # 12 rows: under the minimum of 30
    ds = ReferenceDataset(card=ds.card, card_path=ds.card_path, data_path=ds.data_path, frame=frame,
                          sha256=ds.sha256)
    labels = np.where(frame["race"] == "D", 0, 1)  # group D is never selected
    result = run_bias(ds, labels, tool, min_group_size=30)
    insufficient = [f for f in result.findings if f.status.value == "INSUFFICIENT"]
    assert "bias.group_rates.group_size.race.D" in {f.key for f in insufficient}
    d = next(f for f in insufficient if f.key == "bias.group_rates.group_size.race.D")
    assert d.n == 12 and "only 12 rows, under the policy minimum of 30" in d.message
    # D would give a ratio of 0; left out, every eligible group is selected at the same rate
    ratio = next(m for m in result.measurements if m.key == "bias.demographic_parity.ratio.race")
    assert ratio.value == 1.0


def test_demo_tools_match_fairlearn_and_the_vendor_fails_the_four_fifths_rule() -> None:
    from harness.datasets import load_dataset
    from tests.conftest import ROOT

    ds = load_dataset("rental-assistance")
    examples = ROOT / "examples" / "rental_assistance"
    from harness.tools import load_tool

    for name in ("vendor_tool.yaml", "fair_tool.yaml"):
        manifest = load_manifest(examples / name)
        labels = load_tool(manifest).predict(ds).labels
        assert assert_matches_fairlearn(ds, labels, examples / name) > 100
    vendor = load_tool(load_manifest(examples / "vendor_tool.yaml")).predict(ds).labels
    result = run_bias(ds, vendor, examples / "vendor_tool.yaml", min_group_size=30)
    ratio = next(m for m in result.measurements if m.key == "bias.demographic_parity.ratio.race")
    black = next(f for f in result.findings if f.key == "bias.four_fifths.adverse_impact_ratio.race.Black")
    assert black.status.value == "FAIL"
    assert ratio.value == pytest.approx(
        demographic_parity_ratio(ds.y_favorable, vendor, sensitive_features=ds.frame["race"]), abs=1e-12)
