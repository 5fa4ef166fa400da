"""The fail-closed rule and the verdict, on hand-made cases (DESIGN.md "Verdict rules")."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.check import Measurement
from harness.errors import ConfigError
from harness.findings import Finding, Severity, Status
from harness.policy import load_policy
from harness.verdict import Verdict, decide


def ratio(value: float, lo: float | None, hi: float | None) -> Measurement:
    return Measurement("bias", "four_fifths", "adverse_impact_ratio", value, lo, hi, group="sex.F")


@pytest.mark.parametrize(("value", "lo", "hi", "status"), [
    (0.92, 0.85, 0.99, Status.PASS),      # whole interval above 0.8
    (0.85, 0.78, 0.91, Status.REVIEW),    # point passes, interval crosses 0.8
    (0.79, 0.70, 0.88, Status.FAIL),      # point violates: provisional, harness.decision then asks "chance?"
    (0.80, 0.80, 0.90, Status.PASS),      # the limit itself passes (>= 0.8)
    (0.90, None, None, Status.PASS),      # no interval: judged on the point
    (float("nan"), None, None, Status.INSUFFICIENT),  # undefined: never PASS
])
def test_fail_closed_rule(value: float, lo: float | None, hi: float | None, status: Status) -> None:
    f = load_policy().evaluate(ratio(value, lo, hi), "high", message="m")
    assert f is not None and f.status is status
    assert f.threshold == 0.8 and f.policy_section == "4.3" and f.severity is Severity.BLOCKING


def test_lower_is_better_and_tier_limits() -> None:
    policy = load_policy()
    m = Measurement("bias", "equalized_odds", "difference", 0.12, 0.08, 0.16, group="race")
    assert policy.evaluate(m, "high", message="m").status is Status.FAIL       # limit 0.10
    assert policy.evaluate(m, "medium", message="m").status is Status.REVIEW   # limit 0.15
    assert policy.evaluate(m, "low", message="m").status is Status.PASS        # limit 0.20
    assert policy.evaluate(Measurement("bias", "x", "y", 1.0), "high", message="m") is None


def f(status: Status, severity: Severity = Severity.BLOCKING) -> Finding:
    return Finding(suite="s", check="c", metric="m", status=status, message=status.value, severity=severity)


@pytest.mark.parametrize(("statuses", "verdict"), [
    ([f(Status.PASS), f(Status.PASS)], Verdict.PASS),
    ([f(Status.PASS), f(Status.REVIEW)], Verdict.NEEDS_REVIEW),
    ([f(Status.PASS), f(Status.INSUFFICIENT)], Verdict.NEEDS_REVIEW),
    ([f(Status.PASS), f(Status.FAIL, Severity.ADVISORY)], Verdict.NEEDS_REVIEW),
    ([f(Status.REVIEW), f(Status.FAIL)], Verdict.FAIL),
    ([f(Status.PASS), f(Status.ERROR)], Verdict.FAIL),       # a blocking check that errors counts as FAIL
    ([f(Status.PASS), f(Status.SKIPPED)], Verdict.PASS),
])
def test_overall_verdict(statuses: list[Finding], verdict: Verdict) -> None:
    assert decide(statuses)[0] is verdict


def test_default_policy_digest_is_stable_and_cites_sections() -> None:
    a, b = load_policy(), load_policy()
    assert a.digest == b.digest and len(a.digest) == 64
    assert all(t.policy_section in a.citations for t in a.thresholds.values())
    changed = a.model_copy(update={"min_group_size": 50})
    assert changed.digest != a.digest


def test_a_broken_policy_file_is_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "policy.yaml"
    p.write_text("name: x\nversion: '1'\nthresholds:\n  bias.demographic_parity.ratio:\n"
                 "    limit: high\n    greater_is_better: true\n")
    with pytest.raises(ConfigError) as e:
        load_policy(p)
    assert str(e.value) == (
        f"policy file {p} has 2 problem(s):\n"
        "  - thresholds.bias.demographic_parity.ratio.limit (line 5): Input should be a valid number, "
        "unable to parse string as a number\n"
        "  - thresholds.bias.demographic_parity.ratio.policy_section: required field is missing")


def test_baseline_relative_limits_and_unknown_rules_are_refused(tmp_path: Path) -> None:
    """A mode the policy cannot honour is refused, not ignored (the regression check against the approved
    baseline is the degradation suite's); so is a decision rule that does not exist."""
    p = tmp_path / "policy.yaml"
    p.write_text("name: x\nversion: '1'\ndecision_rule: gut_feeling\nthresholds:\n"
                 "  bias.four_fifths.adverse_impact_ratio:\n    limit: 0.05\n    greater_is_better: true\n"
                 "    mode: baseline_relative\n    policy_section: '4.3'\n")
    with pytest.raises(ConfigError) as e:
        load_policy(p)
    assert str(e.value) == (
        f"policy file {p} has 2 problem(s):\n"
        "  - decision_rule (line 3): Input should be 'significant_violation', 'interval_beyond' or 'point'\n"
        "  - thresholds.bias.four_fifths.adverse_impact_ratio.mode (line 8): Input should be 'absolute'")
    assert load_policy().decision_rule == "significant_violation"
