"""The decision rule (harness.decision): a blocking violation is FAIL only when it is shown to be real, and
what the policy requires but the run did not test caps the verdict. Closed-form cases and the adversary:
a vendor who hands in a file that cannot be asked new questions, or runs only the suites it passes."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.check import Measurement
from harness.decision import apply_decision_rule, interval_p_value, judge, not_tested
from harness.findings import Finding, Severity, Status
from harness.measures.significance import holm
from harness.policy import load_policy
from harness.stats import mover_difference, mover_ratio, wilson_interval
from harness.verdict import SuiteResult, Verdict, decide


def eo(value: float, lo: float | None, hi: float | None, p: float | None = None, group: str = "race") -> Measurement:
    details = {} if p is None else {"p_value": p, "test": "chi-square test of equal rates"}
    return Measurement("bias", "equalized_odds", "difference", value, lo, hi, group=group, details=details)


def judged(measurements: list[Measurement], rule: str = "significant_violation", tier: str = "high") -> list[Finding]:
    policy = load_policy().model_copy(update={"decision_rule": rule})
    findings = [policy.evaluate(m, tier, message="Gap.", dataset="d") for m in measurements]
    result = SuiteResult(suite="bias", suite_version="3", dataset="d", findings=tuple(f for f in findings if f))
    return list(apply_decision_rule([result], policy)[0].findings)


def test_a_violation_that_could_be_chance_is_review_in_words() -> None:
    (f,) = judged([eo(0.14, 0.02, 0.25, p=0.21)])
    assert f.status is Status.REVIEW
    assert f.message == ("Gap. At this sample size the violation could be chance (chi-square test of equal rates, "
                         "p = 0.21, Holm-adjusted p = 0.21 over 1 blocking tests; FAIL needs p < 0.05 after "
                         "adjustment): a reviewer must judge it.")
    assert f.details["decision_rule"] == "significant_violation"


def test_a_significant_violation_fails_and_holm_runs_over_the_run() -> None:
    found = judged([eo(0.14, 0.11, 0.17, p=0.004, group="race"), eo(0.03, 0.0, 0.06, p=0.3, group="sex"),
                    eo(0.12, 0.10, 0.15, p=0.03, group="sex_x_race")])
    by = {f.group: f for f in found}
    adjusted = holm([0.004, 0.3, 0.03])
    assert [by[g].details["p_adjusted"] for g in ("race", "sex", "sex_x_race")] == pytest.approx(adjusted)
    assert by["race"].status is Status.FAIL  # 3 x 0.004 = 0.012 < 0.05
    assert by["race"].message.endswith("(chi-square test of equal rates, p = 0.004, Holm-adjusted p = 0.012 over "
                                       "3 blocking tests).")
    assert by["sex"].status is Status.PASS  # its interval lies under 0.10: the test is not asked
    assert by["sex_x_race"].status is Status.REVIEW  # 0.03 alone would FAIL; 2 x 0.03 = 0.06 does not


def test_without_a_test_the_interval_decides_and_without_an_interval_the_value() -> None:
    near, far, bare = judged([eo(0.12, 0.09, 0.15, group="a"), eo(0.12, 0.105, 0.135, group="b"),
                              eo(0.12, None, None, group="c")])
    assert near.status is Status.REVIEW and "a test read from the interval, normal approximation" in near.message
    assert far.status is Status.FAIL
    assert bare.status is Status.FAIL and bare.message == "Gap."  # a deterministic figure: no chance involved


def test_an_interval_that_touches_the_limit_reads_as_p_of_alpha() -> None:
    f = Finding(suite="s", check="c", metric="m", status=Status.FAIL, message="", value=0.15, ci_low=0.10,
                ci_high=0.2, threshold=0.10, greater_is_better=False, judged_by_policy=True)
    assert interval_p_value(f, 0.95) == pytest.approx(0.05, abs=1e-12)
    passing = Finding(suite="s", check="c", metric="m", status=Status.PASS, message="", value=0.05, ci_low=0.0,
                      ci_high=0.08, threshold=0.10, greater_is_better=False, judged_by_policy=True)
    assert interval_p_value(passing, 0.95) == 1.0


def test_the_point_rule_is_kept_for_comparison_and_interval_beyond_widens_for_the_family() -> None:
    (f,) = judged([eo(0.14, 0.02, 0.25, p=0.21)], rule="point")
    assert f.status is Status.FAIL
    # one finding: the widened bound is the interval itself
    (g,) = judged([eo(0.14, 0.11, 0.17)], rule="interval_beyond")
    assert g.status is Status.FAIL
    # three findings: 0.14 - (0.03 * z(1 - 0.05/3) / z(0.975)) = 0.1042 > 0.10 still, but 0.13 - 0.03 * 1.2 is not
    z = stats.norm.ppf(1 - 0.05 / 6) / stats.norm.ppf(0.975)
    found = judged([eo(0.14, 0.11, 0.17, group="a"), eo(0.13, 0.10 + 1e-9, 0.16, group="b"),
                    eo(0.02, 0.0, 0.05, group="c")], rule="interval_beyond")
    by = {f.group: f for f in found}
    assert 0.14 - 0.03 * z > 0.10 and by["a"].status is Status.FAIL
    assert by["b"].status is Status.REVIEW and "widened for 3 blocking findings (Bonferroni)" in by["b"].message


def test_check_made_findings_and_figures_without_chance_are_left_as_they_are() -> None:
    policy = load_policy()
    adv = policy.evaluate(Measurement("bias", "equal_opportunity", "difference", 0.3), "high", message="m")
    own = Finding(suite="privacy", check="canary", metric="leak_count", status=Status.FAIL, message="leaked",
                  value=1.0, threshold=0.0, greater_is_better=False)
    result = SuiteResult(suite="x", suite_version="1", dataset="d", findings=(adv, own))
    out = apply_decision_rule([result], policy)[0].findings
    assert [f.status for f in out] == [Status.FAIL, Status.FAIL]
    assert decide(list(out))[0] is Verdict.FAIL


def test_judge_rejudges_the_same_measurements_at_another_tier() -> None:
    policy = load_policy()
    m = eo(0.12, 0.08, 0.16, p=0.001)
    result = SuiteResult(suite="bias", suite_version="3", dataset="d",
                         findings=(policy.evaluate(m, "high", message="m"),))
    by_tier = {t: judge([result], policy, t)[0].findings[0] for t in ("high", "medium", "low")}
    assert by_tier["high"].status is Status.FAIL and by_tier["high"].threshold == 0.10
    assert by_tier["medium"].status is Status.REVIEW and by_tier["medium"].threshold == 0.15
    assert by_tier["low"].status is Status.PASS and by_tier["low"].threshold == 0.20


def skipped(check: str, severity: Severity = Severity.ADVISORY, suite: str = "bias") -> Finding:
    return Finding(suite=suite, check=check, metric="x", status=Status.SKIPPED, severity=severity, dataset="d",
                   message=f"{check} could not run")


def test_what_was_not_tested_caps_the_verdict() -> None:
    policy = load_policy()
    bias = SuiteResult(suite="bias", suite_version="3", dataset="d",
                       findings=(skipped("counterfactual"), skipped("scores"), skipped("mitigation_hint")))
    quality = SuiteResult(suite="data_quality", suite_version="1", dataset="d", skipped_reason="not for this task")
    gaps = not_tested([bias, quality], policy, "high", "decision-support")
    # counterfactual.flip_rate is blocking; scores.auc_difference is advisory; mitigation_hint has no threshold
    assert "not tested: bias.counterfactual on d: counterfactual could not run" in gaps
    assert not any("scores" in g or "mitigation_hint" in g for g in gaps)
    assert ("not tested: suite 'data_quality', required for decision-support tools by policy 6.4 (not for this "
            "task)") in gaps
    assert not any("'degradation'" in g for g in gaps)  # left out with --suite: named in the run's tags
    inapplicable = Finding(suite="bias", check="counterfactual", metric="flip_rate", status=Status.SKIPPED,
                           message="nothing to flip", details={"not_applicable": True})
    assert not_tested([SuiteResult(suite="bias", suite_version="3", dataset="d", findings=(inapplicable,))],
                      policy, "high", "x") == []
    verdict, reasons = decide([], gaps)
    assert verdict is Verdict.NEEDS_REVIEW and reasons == gaps
    # a check of its own marked blocking caps too, whatever the policy's thresholds
    assert not_tested([SuiteResult(suite="bias", suite_version="3", dataset="d",
                                   findings=(skipped("scores", Severity.BLOCKING),))], policy, "high", "x")


def test_newcombe_interval_matches_the_published_example() -> None:
    """Newcombe (1998), Stat Med 17:873, Table II, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339."""
    l1, u1 = wilson_interval(56, 70)
    l2, u2 = wilson_interval(48, 80)
    lo, hi = mover_difference(56 / 70, l1, u1, 48 / 80, l2, u2)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.0524, 0.3339)


def test_mover_ratio_is_informative_at_zero_and_covers() -> None:
    l1, u1 = wilson_interval(0, 156)
    l2, u2 = wilson_interval(60, 150)
    lo, hi = mover_ratio(0.0, l1, u1, 0.4, l2, u2)
    assert float(lo) == 0.0 and 0.02 < float(hi) < 0.1  # the old bootstrap interval was [0, 0]
    rng = np.random.default_rng(5)
    k1, k2 = rng.binomial(100, 0.28, 4000), rng.binomial(100, 0.4, 4000)
    w1, w2 = wilson_interval(k1, 100), wilson_interval(k2, 100)
    lo, hi = mover_ratio(k1 / 100, *w1, k2 / 100, *w2)
    coverage = float(np.mean((lo <= 0.7) & (hi >= 0.7)))
    assert 0.935 <= coverage <= 0.965


def test_holm_is_the_textbook_step_down() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(holm([float("nan"), 0.01])[0])


def test_an_advisory_violation_that_could_be_chance_is_labelled_review() -> None:
    policy = load_policy()
    noisy = policy.evaluate(Measurement("bias", "equal_opportunity", "difference", 0.14, 0.02, 0.25,
                                        details={"p_value": 0.3, "test": "chi-square test of equal rates"}),
                            "high", message="Gap.")
    clear = policy.evaluate(Measurement("bias", "equal_opportunity", "difference", 0.3, 0.2, 0.4,
                                        details={"p_value": 1e-6, "test": "chi-square test of equal rates"}),
                            "high", message="Gap.")
    result = SuiteResult(suite="bias", suite_version="3", dataset="d", findings=(noisy, clear))
    a, b = apply_decision_rule([result], policy)[0].findings
    assert a.status is Status.REVIEW and a.message == (
        "Gap. At this sample size the violation could be chance (chi-square test of equal rates, p = 0.3; FAIL "
        "needs p < 0.05): a reviewer must judge it.")
    assert b.status is Status.FAIL and b.message.endswith("(chi-square test of equal rates, p = 1e-06).")
    assert decide([a, b])[0] is Verdict.NEEDS_REVIEW


def test_the_rule_is_applied_once_and_judge_starts_from_the_measured_message() -> None:
    policy = load_policy()
    result = SuiteResult(suite="bias", suite_version="3", dataset="d",
                         findings=(policy.evaluate(eo(0.14, 0.11, 0.17, p=0.004), "high", message="Gap."),))
    once = apply_decision_rule([result], policy)
    twice = apply_decision_rule(once, policy)
    assert twice[0].findings == once[0].findings
    assert once[0].findings[0].message.count("statistically significant") == 1
    again = judge(once, policy, "high")[0].findings[0]
    assert again.message == once[0].findings[0].message and again.details["measured"] == "Gap."
