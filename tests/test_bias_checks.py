"""The bias suite's newer checks against hand-computed figures, oracles and planted effects."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.assessment import run_suite
from harness.check import CheckContext
from harness.datasets import ReferenceDataset, load_dataset
from harness.decision import apply_decision_rule
from harness.findings import Status
from harness.manifest import load_manifest
from harness.measures.significance import holm, selection_test
from harness.policy import load_policy
from harness.stats import wilson_interval
from harness.tools import Predictions, load_tool
from test_suites.bias import BiasSuite
from tests.conftest import ROOT, write_case


def _python_case(tmp_path: Path, seed: int = 61, n: int = 3000):
    tool_path, card = write_case(tmp_path, n=n, seed=seed, kind="python")
    tool_path.write_text(tool_path.read_text().replace("{callable}", "numpy:zeros"))
    return load_manifest(tool_path), load_dataset(str(card))


def _run(ds: ReferenceDataset, manifest, fn=None, labels=None, scores=None, policy=None):
    policy = policy or load_policy().model_copy(update={"bootstrap_samples": 300})
    tool = load_tool(manifest, fn) if fn is not None else None
    preds = tool.predict(ds) if tool is not None else Predictions(labels=labels, scores=scores)
    ctx = CheckContext(dataset=ds, predictions=preds, policy=policy, manifest=manifest, seed=3, tool=tool)
    return run_suite(BiasSuite(), ctx)


def _by_key(result) -> dict:
    return {f.key: f for f in result.findings}


def test_four_fifths_reports_the_ratio_the_test_and_holm(tmp_path: Path) -> None:
    manifest, ds = _python_case(tmp_path)
    frame = ds.frame
    labels = np.where(frame["sex"] == "F", (frame["income"] > 55).astype(int), (frame["income"] > 50).astype(int))
    policy = load_policy().model_copy(update={"bootstrap_samples": 300})
    result = apply_decision_rule([_run(ds, manifest, labels=labels, policy=policy)], policy)[0]
    f = _by_key(result)["bias.four_fifths.adverse_impact_ratio.sex.F"]
    sel_f, n_f = labels[frame["sex"] == "F"].sum(), (frame["sex"] == "F").sum()
    sel_m, n_m = labels[frame["sex"] == "M"].sum(), (frame["sex"] == "M").sum()
    assert f.value == pytest.approx((sel_f / n_f) / (sel_m / n_m), abs=1e-12)
    assert f.reference == "M" and f.status is Status.FAIL
    p, test = selection_test(sel_f, n_f, sel_m, n_m)
    assert f.details["p_value"] == pytest.approx(p) and f.details["test"] == test
    # Holm runs over every blocking finding of the run, not only the four-fifths comparisons
    family = [g for g in result.findings if g.judged_by_policy and g.severity.value == "blocking"]
    all_p = [g.details["p_value"] for g in family]
    assert f.details["blocking_tests"] == len(family) > 1 + 2 + 5  # sex: F; race: B, C; sex x race: 5 cells
    assert f.details["p_adjusted"] == pytest.approx(holm(all_p)[all_p.index(f.details["p_value"])])
    assert "The difference is statistically significant (two-proportion z-test, p " in f.message
    assert f.message.startswith(f"Within sex, 'F' is selected at {f.value:.2f} times the rate of 'M'")


def test_reference_group_from_the_card_else_the_policy_rule(tmp_path: Path) -> None:
    manifest, ds = _python_case(tmp_path)
    labels = (ds.frame["race"] != "A").astype(int).to_numpy() | (ds.frame["income"] > 60).to_numpy()
    card = ds.card.model_copy(update={"protected_attributes": {
        "sex": ds.card.protected_attributes["sex"],
        "race": ds.card.protected_attributes["race"].model_copy(update={"reference": None})}})
    ds2 = ReferenceDataset(card=card, card_path=ds.card_path, data_path=ds.data_path, frame=ds.frame, sha256=ds.sha256)
    largest = _run(ds2, manifest, labels=labels)
    air = [m for m in largest.measurements if m.check == "four_fifths" and m.group.startswith("race.")]
    assert {m.reference for m in air} == {"A"}  # A is the largest race group (50 %)
    assert air[0].details["reference_source"] == "policy rule: largest group"
    policy = load_policy().model_copy(update={"bootstrap_samples": 300, "reference_rule": "most_favourable"})
    fav = _run(ds2, manifest, labels=labels, policy=policy)
    air = [m for m in fav.measurements if m.check == "four_fifths" and m.group.startswith("race.")]
    assert {m.reference for m in air} in ({"B"}, {"C"})  # A is selected least
    card_ref = _run(ds, manifest, labels=labels)
    air = [m for m in card_ref.measurements if m.check == "four_fifths" and m.group.startswith("race.")]
    assert {m.reference for m in air} == {"A"} and air[0].details["reference_source"] == "dataset card"


def test_a_tool_that_uses_race_directly_fails_the_counterfactual_check(tmp_path: Path) -> None:
    manifest, ds = _python_case(tmp_path, n=4000)

    def uses_race(frame: pd.DataFrame) -> np.ndarray:
        return ((frame["income"] - 5 * (frame["race"] == "B")) > 50).astype(int).to_numpy()

    result = _run(ds, manifest, fn=uses_race)
    f = _by_key(result)["bias.counterfactual.flip_rate.race"]
    assert f.status is Status.FAIL and f.severity.value == "blocking"
    # by hand: flipping B -> A (reference) and A -> B changes the rows whose income is within 5 of 50
    race, income = ds.frame["race"], ds.frame["income"]
    expected = (((race == "B") | (race == "A")) & (income > 50) & (income <= 55)).mean()
    assert f.value == pytest.approx(expected, abs=1e-12)
    sex = _by_key(result)["bias.counterfactual.flip_rate.sex"]
    assert sex.value == 0 and sex.status is Status.PASS  # upper Wilson bound of 0 / 4000 is under 1 %


def test_counterfactual_is_skipped_for_a_file_of_outputs(tmp_path: Path) -> None:
    tool_path, card = write_case(tmp_path, n=300, seed=62)
    ds = load_dataset(str(card))
    manifest = load_manifest(tool_path)
    tool = load_tool(manifest)
    ctx = CheckContext(dataset=ds, predictions=tool.predict(ds), policy=load_policy(), manifest=manifest,
                       seed=1, tool=tool)
    f = _by_key(run_suite(BiasSuite(), ctx))["bias.counterfactual.flip_rate"]
    assert f.status is Status.SKIPPED and "supplied as a file" in f.message


def test_scores_are_judged_per_group_and_match_sklearn(tmp_path: Path) -> None:
    from sklearn.metrics import roc_auc_score

    manifest, ds = _python_case(tmp_path, n=3000)
    rng = np.random.default_rng(5)
    y = ds.y_favorable
    scores = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, len(y)), 0, 1)
    result = _run(ds, manifest, labels=(scores > 0.5).astype(int), scores=scores)
    got = {m.key: m for m in result.measurements}
    for sex in ("F", "M"):
        rows = (ds.frame["sex"] == sex).to_numpy()
        assert got[f"bias.scores.auc.sex.{sex}"].value == pytest.approx(roc_auc_score(y[rows], scores[rows]), abs=1e-9)
    assert _by_key(result)["bias.scores.auc_difference.sex"].status in (Status.PASS, Status.REVIEW)
    no_scores = _run(ds, manifest, labels=(scores > 0.5).astype(int))
    assert _by_key(no_scores)["bias.scores.auc_difference"].status is Status.SKIPPED


def test_demo_proxy_is_found_and_the_vendor_gets_a_mitigation_hint() -> None:
    ds = load_dataset("rental-assistance")
    examples = ROOT / "examples" / "rental_assistance"
    manifest = load_manifest(examples / "vendor_tool.yaml")
    tool = load_tool(manifest)
    preds = tool.predict(ds)
    policy = load_policy().model_copy(update={"bootstrap_samples": 200})
    ctx = CheckContext(dataset=ds, predictions=preds, policy=policy, manifest=manifest, seed=1, tool=tool)
    result = run_suite(BiasSuite(), ctx)
    found = _by_key(result)
    proxy = found["bias.proxies.cramers_v.neighbourhood.race"]
    assert proxy.status is Status.FAIL and proxy.severity.value == "advisory"
    assert proxy.message.startswith("neighbourhood predicts race (Cramér's V = 0.65; the policy's limit is 0.30)")
    assert found["bias.counterfactual.proxy_flip_rate.neighbourhood"].status is Status.FAIL
    hint = result.tables["bias.mitigation_hint.race"][0]
    ratio = next(m for m in result.measurements if m.key == "bias.demographic_parity.ratio.race")
    assert hint["selection_rate_ratio_before"] == pytest.approx(ratio.value)
    assert hint["selection_rate_ratio_after"] > 0.9
    assert hint["note"].startswith("An illustration, not a remedy")


def test_a_missing_mitigation_hint_says_why(tmp_path: Path) -> None:
    """Sex fails the four-fifths rule, but one row has no score: no thresholds can be fitted, and the note
    says so in the words of `hint_unavailable_reason`."""
    manifest, ds = _python_case(tmp_path)
    frame = ds.frame
    labels = np.where(frame["sex"] == "F", frame["income"] > 55, frame["income"] > 50).astype(int)
    scores = np.clip(frame["income"].to_numpy(dtype=float) / 100, 0, 1)
    scores[7] = np.nan
    result = _run(ds, manifest, labels=labels, scores=scores)
    (f,) = [f for f in result.findings if f.check == "mitigation_hint"]
    assert f.status is Status.SKIPPED and f.metric == "ratio_after"
    assert f.message == f"no mitigation hint for sex: 1 of {len(frame):,} rows have no numeric score"
    assert not [m for m in result.measurements if m.check == "mitigation_hint"]


def test_weighted_rates_are_weighted_means(tmp_path: Path) -> None:
    manifest, ds = _python_case(tmp_path, n=2000)
    frame = ds.frame.copy()
    frame["w"] = np.random.default_rng(2).uniform(0.5, 3.0, len(frame))
    card = ds.card.model_copy(update={"weight_column": "w"})
    wds = ReferenceDataset(card=card, card_path=ds.card_path, data_path=ds.data_path, frame=frame, sha256=ds.sha256)
    labels = (frame["income"] > 50).astype(int).to_numpy()
    got = {m.key: m for m in _run(wds, manifest, labels=labels).measurements}
    for sex in ("F", "M"):
        rows = (frame["sex"] == sex).to_numpy()
        assert got[f"bias.group_rates.selection_rate.sex.{sex}"].value == pytest.approx(
            np.average(labels[rows], weights=frame["w"][rows]), abs=1e-12)
        assert got[f"bias.group_rates.n.sex.{sex}"].value == rows.sum()  # sizes stay in rows
        # the interval rests on Kish's effective sample size, not on the sum of the weights
        w = frame["w"][rows].to_numpy()
        n_eff = w.sum() ** 2 / (w**2).sum()
        rate = np.average(labels[rows], weights=w)
        lo, hi = wilson_interval(rate * n_eff, n_eff)
        m = got[f"bias.group_rates.selection_rate.sex.{sex}"]
        assert (m.ci_low, m.ci_high) == (pytest.approx(float(lo), abs=1e-12), pytest.approx(float(hi), abs=1e-12))
        assert n_eff < rows.sum() < w.sum()


def test_heavy_weights_do_not_narrow_the_interval(tmp_path: Path) -> None:
    """Census weights run into the thousands per row: summing them as if they were people made a 95 % interval
    of a rate on 1,000 rows as narrow as one on millions. With Kish's effective size, scaling every weight by
    1,000 changes nothing."""
    manifest, ds = _python_case(tmp_path, n=2000)
    frame = ds.frame.copy()
    labels = (frame["income"] > 50).astype(int).to_numpy()
    out = {}
    for scale in (1.0, 1000.0):
        frame["w"] = np.random.default_rng(2).uniform(0.5, 3.0, len(frame)) * scale
        card = ds.card.model_copy(update={"weight_column": "w"})
        wds = ReferenceDataset(card=card, card_path=ds.card_path, data_path=ds.data_path, frame=frame.copy(),
                               sha256=ds.sha256)
        out[scale] = {m.key: (m.ci_low, m.ci_high) for m in _run(wds, manifest, labels=labels).measurements
                      if m.check in ("group_rates", "four_fifths") and m.ci_low is not None}
    assert out[1.0].keys() == out[1000.0].keys() and len(out[1.0]) > 50
    for key, (lo, hi) in out[1.0].items():
        assert out[1000.0][key] == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9)), key


def test_theil_index_through_the_suite_equals_aif360(adult: ReferenceDataset, tmp_path: Path) -> None:
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            from aif360.datasets import BinaryLabelDataset
            from aif360.metrics import ClassificationMetric
        finally:
            logging.disable(logging.NOTSET)
    manifest, _ = _python_case(tmp_path, n=10)
    frame = adult.frame
    labels = np.where((frame["education-num"] >= 13) | (frame["capital-gain"] > 5000), ">50K", "<=50K")
    policy = load_policy().model_copy(update={"bootstrap_samples": 200, "settings": {"bias": {"consistency_rows": 0}}})
    got = {m.key: m.value for m in _run(adult, manifest, labels=labels, policy=policy).measurements}
    df = pd.DataFrame({"sex": (frame["sex"] == "Male").astype(float), "y": adult.y_favorable.astype(float)})
    truth = BinaryLabelDataset(df=df, label_names=["y"], protected_attribute_names=["sex"],
                               favorable_label=1, unfavorable_label=0)
    pred = truth.copy()
    pred.labels = (labels == ">50K").astype(float).reshape(-1, 1)
    metric = ClassificationMetric(truth, pred, unprivileged_groups=[{"sex": 0}], privileged_groups=[{"sex": 1}])
    assert got["bias.individual_fairness.theil_index"] == pytest.approx(metric.theil_index(), abs=1e-9)
    # aif360's group metrics for the same split (unprivileged Female, privileged Male)
    assert got["bias.four_fifths.adverse_impact_ratio.sex.Female"] == pytest.approx(metric.disparate_impact(), abs=1e-9)
    rate = lambda name, g: got[f"bias.group_rates.{name}.sex.{g}"]  # noqa: E731
    assert rate("selection_rate", "Female") - rate("selection_rate", "Male") == pytest.approx(
        metric.statistical_parity_difference(), abs=1e-9)
    for name, fn in (("tpr", metric.true_positive_rate_difference), ("fpr", metric.false_positive_rate_difference),
                     ("fnr", metric.false_negative_rate_difference), ("precision", None),
                     ("npv", None), ("fdr", metric.false_discovery_rate_difference),
                     ("for", metric.false_omission_rate_difference)):
        if fn is not None:
            assert rate(name, "Female") - rate(name, "Male") == pytest.approx(fn(), abs=1e-9), name
    assert rate("precision", "Female") == pytest.approx(metric.positive_predictive_value(privileged=False), abs=1e-9)
    assert rate("npv", "Male") == pytest.approx(metric.negative_predictive_value(privileged=True), abs=1e-9)
    assert got["bias.equalized_odds.difference.sex"] == pytest.approx(
        max(abs(metric.true_positive_rate_difference()), abs(metric.false_positive_rate_difference())), abs=1e-9)
    assert got["bias.individual_fairness.between_group_theil.sex"] == pytest.approx(
        metric.between_group_theil_index(), abs=1e-9)


def test_group_rates_equal_aif360_on_many_groups_with_empty_cells(tmp_path: Path) -> None:
    """aif360 as the second oracle: each of eight race groups taken as aif360's 'privileged' group,
    including a group with no positives and a group never selected."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            from aif360.datasets import BinaryLabelDataset
            from aif360.metrics import ClassificationMetric
        finally:
            logging.disable(logging.NOTSET)
    manifest, ds = _python_case(tmp_path, n=4000, seed=64)
    rng = np.random.default_rng(8)
    frame = ds.frame.copy()
    frame["race"] = rng.choice([f"r{i}" for i in range(8)], len(frame), p=[.3, .2, .15, .1, .1, .1, .04, .01])
    frame.loc[frame["race"] == "r7", "approved"] = 0          # no positives
    labels = rng.binomial(1, 0.5, len(frame))
    labels[(frame["race"] == "r6").to_numpy()] = 0           # never selected
    ds = ReferenceDataset(card=ds.card, card_path=ds.card_path, data_path=ds.data_path, frame=frame, sha256=ds.sha256)
    policy = load_policy().model_copy(update={"bootstrap_samples": 100, "min_group_size": 1,
                                              "settings": {"bias": {"consistency_rows": 0}}})
    got = {m.key: m.value for m in _run(ds, manifest, labels=labels, policy=policy).measurements}
    code = frame["race"].str[1:].astype(float)
    df = pd.DataFrame({"race": code, "y": ds.y_favorable.astype(float)})
    truth = BinaryLabelDataset(df=df, label_names=["y"], protected_attribute_names=["race"],
                               favorable_label=1, unfavorable_label=0)
    pred = truth.copy()
    pred.labels = labels.astype(float).reshape(-1, 1)
    compared = 0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for r in range(8):
            metric = ClassificationMetric(truth, pred, privileged_groups=[{"race": r}],
                                          unprivileged_groups=[{"race": x} for x in range(8) if x != r])
            oracle = {"selection_rate": metric.selection_rate(True), "tpr": metric.true_positive_rate(True),
                      "fpr": metric.false_positive_rate(True), "fnr": metric.false_negative_rate(True),
                      "precision": metric.positive_predictive_value(True),
                      "npv": metric.negative_predictive_value(True), "accuracy": metric.accuracy(True),
                      "base_rate": metric.base_rate(True)}
            for name, expected in oracle.items():
                value = got[f"bias.group_rates.{name}.race.r{r}"]
                if np.isnan(value):
                    # an empty denominator: the harness says undefined; aif360 says NaN for some rates
                    # and 0 for others (PPV with no one selected), fairlearn says 0
                    assert np.isnan(expected) or expected == 0, (name, r)
                    assert (name, r) in {("tpr", 7), ("fnr", 7), ("precision", 6), ("fdr", 6)}, (name, r)
                else:
                    assert value == pytest.approx(expected, abs=1e-9), (name, r)
                compared += 1
    assert compared == 64
    assert np.isnan(got["bias.group_rates.tpr.race.r7"]) and np.isnan(got["bias.group_rates.precision.race.r6"])
