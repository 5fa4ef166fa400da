"""Regression against the approved baseline: `compare_to_baseline` rule by rule, and the suite's
regression check on a re-assessment."""
from __future__ import annotations

import math

import pytest

from harness.assessment import run_suite
from harness.errors import ConfigError
from harness.findings import Severity, Status
from harness.policy import load_policy
from harness.tracking import metric_key
from test_suites.degradation import DegradationSuite, compare_to_baseline
from test_suites.degradation.regression import RegressionRule, baseline_for_dataset, parse_rules
from tests.test_degradation import by_key, context, make_dataset, missing_breaks_it, robust_tool

HIGHER = {"metric": "bias.demographic_parity.ratio*", "greater_is_better": True, "min_absolute_change": 0.05}


def one(current: float | None, baseline: float, rule: dict) -> object:
    cur = {} if current is None else {"m.x.y": current}
    found = compare_to_baseline(cur, {"m.x.y": baseline}, [{**rule, "metric": "m.x.y"}])
    assert len(found) == 1
    return found[0]


def test_a_metric_that_fell_by_its_tolerance_or_more_is_a_regression() -> None:
    f = compare_to_baseline({"bias.demographic_parity.ratio.sex": 0.78}, {"bias.demographic_parity.ratio.sex": 0.85},
                            [HIGHER], dataset="adult", baseline_run="abc123")[0]
    assert f.status is Status.FAIL and f.severity is Severity.ADVISORY and f.policy_section == "4.3"
    assert f.key == "degradation.regression.vs_baseline.bias.demographic_parity.ratio.sex"
    assert (f.value, f.baseline, f.greater_is_better, f.dataset) == (0.78, 0.85, True, "adult")
    assert f.threshold == pytest.approx(0.80)
    assert f.details["worsening"] == pytest.approx(0.07) and f.details["tolerance"] == 0.05
    assert f.message == ("bias.demographic_parity.ratio.sex moved from 0.85 in the approved assessment (run abc123) "
                         "to 0.78 (-0.07, -8.2%): worse by 0.07, at least the tolerated 0.05: a regression "
                         "(rule 'bias.demographic_parity.ratio*': higher is better, absolute tolerance 0.05).")


@pytest.mark.parametrize(("current", "status", "words"), [
    (0.82, Status.PASS, "within the tolerated 0.05"),
    (0.80, Status.FAIL, "a regression"),       # exactly the tolerance: "at least" counts, float noise or not
    (0.79, Status.FAIL, "a regression"),
    (0.85, Status.PASS, "no worse than approved"),
    (0.95, Status.PASS, "no worse than approved"),
])
def test_higher_is_better_with_an_absolute_tolerance(current: float, status: Status, words: str) -> None:
    f = one(current, 0.85, HIGHER)
    assert f.status is status and words in f.message


def test_both_tolerances_must_be_exceeded_so_small_metrics_are_not_flagged_for_noise() -> None:
    rule = {"greater_is_better": False, "min_absolute_change": 0.02, "min_relative_change": 0.25}
    # near zero the relative tolerance is tiny: the absolute one (0.02) rules; 0.04 -> 0.055 is +37 %
    assert one(0.055, 0.04, rule).status is Status.PASS
    assert one(0.061, 0.04, rule).status is Status.FAIL
    # on a larger value the relative one (25 % of 0.2 = 0.05) rules
    assert one(0.24, 0.2, rule).status is Status.PASS
    f = one(0.26, 0.2, rule)
    assert f.status is Status.FAIL and f.threshold == pytest.approx(0.25)
    assert f.details["tolerance"] == pytest.approx(0.05)
    assert one(0.1, 0.2, rule).status is Status.PASS  # lower is better: it improved


def test_a_metric_with_no_better_side_regresses_either_way() -> None:
    rule = {"greater_is_better": None, "min_absolute_change": 0.02}
    assert one(0.27, 0.30, rule).status is Status.FAIL
    assert one(0.33, 0.30, rule).status is Status.FAIL
    f = one(0.31, 0.30, rule)
    assert f.status is Status.PASS and f.threshold is None and "a change either way counts" in f.message


def test_without_tolerances_any_worsening_counts_and_no_change_passes() -> None:
    rule = {"greater_is_better": True}
    assert one(0.8499, 0.85, rule).status is Status.FAIL
    assert one(0.85, 0.85, rule).status is Status.PASS


def test_a_metric_that_disappeared_cannot_pass() -> None:
    f = one(None, 0.85, HIGHER)
    assert f.status is Status.INSUFFICIENT and "has no value in this one" in f.message
    assert one(math.nan, 0.85, HIGHER).status is Status.INSUFFICIENT


def test_rules_choose_metrics_first_match_wins_and_prefixes_limit_the_scope() -> None:
    rules = [RegressionRule(metric="a.b.c.sex*", greater_is_better=True, min_absolute_change=0.5,
                            severity=Severity.BLOCKING),
             RegressionRule(metric="a.b.c*", greater_is_better=True, min_absolute_change=0.01)]
    baseline = {"a.b.c.sex.F": 1.0, "a.b.c.race.B": 1.0, "x.y.z": 1.0, "d.e.f": 1.0}
    current = {"a.b.c.sex.F": 0.9, "a.b.c.race.B": 0.9, "x.y.z": 0.0, "new.metric.here": 5.0}
    found = {f.group: f for f in compare_to_baseline(current, baseline, rules)}
    # no rule names x.y.z or d.e.f; a metric new in this run has nothing to compare with
    assert set(found) == {"a.b.c.sex.F", "a.b.c.race.B"}
    assert found["a.b.c.sex.F"].status is Status.PASS and found["a.b.c.race.B"].status is Status.FAIL
    assert found["a.b.c.race.B"].severity is Severity.ADVISORY
    scoped = compare_to_baseline(current, baseline, rules, prefixes=("a.b.c.race",))
    assert [f.group for f in scoped] == ["a.b.c.race.B"]


def test_a_malformed_rule_is_one_clear_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        parse_rules([HIGHER, {"metric": "x*", "greater_is_better": True, "min_absolute_change": -1}])
    assert str(e.value).startswith("settings.degradation.regression[1] (")
    assert "min_absolute_change: Input should be greater than or equal to 0" in str(e.value)
    with pytest.raises(ConfigError, match=r"regression\[0\].*threshold: Extra inputs are not permitted"):
        parse_rules([{"metric": "x*", "threshold": 0.8}])


def test_the_default_policy_rules_parse_and_name_real_metrics() -> None:
    rules = parse_rules(load_policy().settings["degradation"]["regression"])
    assert len(rules) >= 8
    names = ["degradation.regression.accuracy", "degradation.regression.selection_rate.sex.F",
             "degradation.robustness.flip_rate.noise", "degradation.graceful_failure.failure.nulls",
             "bias.demographic_parity.ratio.sex", "bias.group_rates.selection_rate.race.B"]
    assert all(any(r.matches(n) for r in rules) for n in names)
    assert not any(r.matches("degradation.robustness.flip_rate_by_severity.noise.low") for r in rules)
    crash = next(r for r in rules if r.matches("degradation.graceful_failure.failure.nulls"))
    assert crash.severity is Severity.BLOCKING


def test_a_baseline_of_several_datasets_is_read_per_dataset() -> None:
    baseline = {"degradation.regression.accuracy.adult": 0.8, "degradation.regression.accuracy.german": 0.7,
                "degradation.regression.auc": 0.9}
    assert baseline_for_dataset(baseline, "adult") == {"degradation.regression.accuracy": 0.8,
                                                       "degradation.regression.accuracy.german": 0.7,
                                                       "degradation.regression.auc": 0.9}


# ---- the suite's regression check -----------------------------------------------------------------


def test_first_assessment_is_skipped_and_a_repeat_of_the_same_tool_holds() -> None:
    ds = make_dataset(n=2000, seed=8)
    first = run_suite(DegradationSuite(), context(ds, robust_tool))
    skipped = by_key(first)["degradation.regression.vs_baseline"]
    assert skipped.status is Status.SKIPPED and skipped.message.startswith("no approved baseline for deg-tool 1.0")
    own = {m.key: m.value for m in first.measurements if m.check == "regression"}
    assert {"degradation.regression.accuracy", "degradation.regression.auc", "degradation.regression.selection_rate",
            "degradation.regression.selection_rate.sex.F", "degradation.regression.selection_rate.race.C"} <= set(own)
    # the approved run's metrics, as MLflow holds them, plus another suite's (not this check's business)
    baseline = {metric_key(m.key): m.value for m in first.measurements if math.isfinite(m.value)}
    baseline["bias.demographic_parity.ratio.sex"] = 0.99
    again = run_suite(DegradationSuite(), context(ds, robust_tool, baseline=baseline, baseline_run="run-1"))
    compared = [f for f in again.findings if f.check == "regression"]
    assert len(compared) > 20 and all(f.status is Status.PASS for f in compared)
    assert not any("bias." in (f.group or "") for f in compared)
    assert "(run run-1)" in compared[0].message
    assert again.tables["degradation.regression"][0]["status"] == "PASS"


def test_a_re_assessment_that_got_worse_is_flagged() -> None:
    ds = make_dataset(n=2000, seed=8)
    first = run_suite(DegradationSuite(), context(ds, robust_tool))
    baseline = {metric_key(m.key): m.value for m in first.measurements if math.isfinite(m.value)}
    baseline["degradation.regression.accuracy"] += 0.10  # the approved version was more accurate
    worse = run_suite(DegradationSuite(), context(ds, missing_breaks_it, baseline=baseline))
    found = by_key(worse)
    acc = found["degradation.regression.vs_baseline.degradation.regression.accuracy"]
    assert acc.status is Status.FAIL and acc.severity is Severity.ADVISORY
    crash = found["degradation.regression.vs_baseline.degradation.graceful_failure.failure.nulls"]
    assert crash.status is Status.FAIL and crash.severity is Severity.BLOCKING  # it used to answer
    gone = found["degradation.regression.vs_baseline.degradation.robustness.flip_rate.missing"]
    assert gone.status is Status.INSUFFICIENT  # the missing-value figures were not measured this time
