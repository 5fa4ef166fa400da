"""The decision rule: when a blocking limit violation is a FAIL, and what was not tested (DESIGN.md
"Verdict rules"; policy 4.2: "tools that fail the assessment may not be used").

A FAIL blocks a purchase, so it must survive "could this be chance?". `Policy.evaluate` marks a blocking
finding FAIL when its point estimate violates the limit; this module, run once over the whole run's
findings, keeps that FAIL only when the violation is shown to be real:

- `significant_violation` (default): by a test that the violation is real, Holm-adjusted across the run's
  blocking findings. The test is the measurement's own `details["p_value"]` when the check computed one (a
  homogeneity test over the eligible groups for max-minus-min and min/max statistics, the pairwise Fisher /
  z test for one group against the reference), else it is read from the finding's interval (a normal
  approximation on the side of the limit, so a 95 % interval that just touches the limit gives p = 0.05).
  This is how the EEOC reads the four-fifths rule: practical and statistical significance together
  (29 CFR 1607.4(D)).
- `interval_beyond`: only when the interval, widened for the number of blocking findings (Bonferroni),
  lies wholly beyond the limit.
- `point`: on the point estimate alone (the first release's rule; it FAILs fair tools on small groups
  most of the time, and is kept only for comparison).

A violation that could be chance becomes REVIEW, and its message says so in words. A finding with neither
a test nor an interval (a deterministic count, such as a missing column) is judged on its value.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.findings import Finding, Severity, Status
from harness.measures.significance import holm
from harness.stats import z_value

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.verdict import SuiteResult

RULES = {
    "significant_violation": "FAIL only when the point estimate violates the limit and a test says the violation "
                             "is real (Holm-adjusted across the run's blocking findings)",
    "interval_beyond": "FAIL only when the interval, widened for the number of blocking findings (Bonferroni), "
                       "lies wholly beyond the limit",
    "point": "FAIL whenever the point estimate violates the limit (comparison only: not calibrated)",
}
INTERVAL_TEST = "a test read from the interval, normal approximation"


def describe(rule: str) -> str:
    """The rule in words, for reports and the MLflow run."""
    return f"{rule}: {RULES[rule]}"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _violates(f: Finding, value: float) -> bool:
    assert f.threshold is not None and f.greater_is_better is not None
    return value < f.threshold if f.greater_is_better else value > f.threshold


def _near_bound(f: Finding) -> float | None:
    """The interval's bound on the side of the limit (the upper bound of a rate that must stay low, ...)."""
    bound = f.ci_high if f.greater_is_better else f.ci_low
    return bound if _finite(bound) else None


def interval_p_value(f: Finding, confidence: float) -> float | None:
    """Two-sided-equivalent p-value that the value lies on the passing side of the limit, read from the
    interval's half-width on the limit's side; 1 when the estimate passes. None without an interval."""
    bound, value = _near_bound(f), f.value
    if bound is None or not _finite(value) or f.threshold is None:
        return None
    assert value is not None
    if not _violates(f, value):
        return 1.0
    se = abs(bound - value) / z_value(confidence)
    if se == 0:
        return 0.0
    from scipy import stats as st  # imported when a finding is tested, not with the module (~1 s)

    return float(min(1.0, 2 * st.norm.sf(abs(value - f.threshold) / se)))


def _p_value(f: Finding, confidence: float) -> tuple[float | None, str]:
    p = f.details.get("p_value")
    if isinstance(p, int | float) and math.isfinite(p):
        return float(p), str(f.details.get("test") or "the check's significance test")
    return interval_p_value(f, confidence), INTERVAL_TEST


def _undecided(f: Finding) -> bool:
    """A finding of `Policy.evaluate` not yet judged by the rule (judging twice would be Holm over a family
    that includes itself, and would repeat the reason)."""
    return (f.judged_by_policy and "decision_rule" not in f.details and f.threshold is not None
            and f.greater_is_better is not None)


def _in_family(f: Finding) -> bool:
    return (_undecided(f) and f.severity is Severity.BLOCKING
            and f.status in (Status.PASS, Status.REVIEW, Status.FAIL))


def apply_decision_rule(results: Sequence[SuiteResult], policy: Policy) -> list[SuiteResult]:
    """Re-judge every provisional blocking FAIL of the run under `policy.decision_rule`; every finding of the
    family records its p-value, adjusted p-value and the rule in `details`."""
    rule, conf = policy.decision_rule, policy.confidence_level
    alpha = 1 - conf
    family = [(i, j) for i, r in enumerate(results) for j, f in enumerate(r.findings) if _in_family(f)]
    tests = [_p_value(results[i].findings[j], conf) for i, j in family]
    raw = [float("nan") if p is None else p for p, _ in tests]
    adjusted = holm(raw)
    m = sum(p is not None for p, _ in tests)
    changed: dict[tuple[int, int], Finding] = {}
    for (i, j), (p, test), p_adj in zip(family, tests, adjusted, strict=True):
        f = results[i].findings[j]
        details = {**f.details, "decision_rule": rule, "blocking_tests": m, "measured": f.message}
        if p is not None:
            details |= {"p_value": p, "p_adjusted": float(p_adj), "test": test}
        status, message = f.status, f.message
        if f.status is Status.FAIL and rule != "point":
            status, message = _judge(f, rule, p, float(p_adj), test, m, alpha)
        changed[(i, j)] = replace(f, status=status, message=message, details=details)
    # an advisory violation that could be chance is REVIEW too (the verdict is NEEDS_REVIEW either way, but a
    # finding labelled FAIL must not rest on noise); advisory findings are not a family, so unadjusted
    for i, r in enumerate(results):
        for j, f in enumerate(r.findings):
            if _undecided(f) and f.severity is Severity.ADVISORY and f.status is Status.FAIL and rule != "point":
                p, test = _p_value(f, conf)
                status, message = _judge(f, rule, p, p if p is not None else float("nan"), test, None, alpha)
                details = {**f.details, "decision_rule": rule, "measured": f.message} | (
                    {"p_value": p, "test": test} if p is not None else {})
                changed[(i, j)] = replace(f, status=status, message=message, details=details)
    out = []
    for i, r in enumerate(results):
        findings = tuple(changed.get((i, j), f) for j, f in enumerate(r.findings))
        out.append(replace(r, findings=findings))
    return out


def _judge(f: Finding, rule: str, p: float | None, p_adj: float, test: str, m: int | None,
           alpha: float) -> tuple[Status, str]:
    """FAIL or REVIEW for a provisional FAIL, with the reason appended in words; `m` is the size of the
    Holm family (None for an advisory finding, judged on its own)."""
    body = f.message.rstrip()
    if rule == "interval_beyond":
        bound = _near_bound(f)
        if bound is None:
            return Status.FAIL, body
        assert f.value is not None
        widened = f.value + (bound - f.value) * z_value(1 - alpha / max(m or 1, 1)) / z_value(1 - alpha)
        how = f"widened for {m} blocking findings (Bonferroni)" if m else "(advisory, not widened)"
        if _violates(f, widened):
            return Status.FAIL, f"{body} The interval {how} still lies wholly beyond the limit (bound {widened:.3g})."
        return Status.REVIEW, (f"{body} At this sample size the violation could be chance: the interval {how} "
                               f"reaches {widened:.3g}, across the limit; a reviewer must judge it.")
    if p is None:  # a deterministic figure: no chance involved
        return Status.FAIL, body
    where = (f"{test}, p {_p(p)}, Holm-adjusted p {_p(p_adj)} over {m} blocking tests" if m is not None
             else f"{test}, p {_p(p)}")
    if p_adj < alpha:
        return Status.FAIL, f"{body} The difference is statistically significant ({where})."
    after = " after adjustment" if m is not None else ""
    return Status.REVIEW, (f"{body} At this sample size the violation could be chance ({where}; FAIL needs "
                           f"p < {alpha:.2g}{after}): a reviewer must judge it.")


def _p(p: float) -> str:
    """'= 0.012', or '< 1e-16' where double precision cannot tell the p-value from 0."""
    return "< 1e-16" if p < 1e-16 else f"= {p:.2g}"


def not_tested(results: Sequence[SuiteResult], policy: Policy, tier: str, category: str) -> list[str]:
    """What the policy requires and this run did not test: a required suite (policy 6.4) that was run but
    could apply to none of the datasets, and a SKIPPED check whose metrics the policy judges as blocking at
    this tier (unless the check found the question cannot arise for this tool). Each caps the verdict at
    NEEDS_REVIEW: a PASS must be able to answer "was this actually tested?". A required suite left out with
    `--suite` is named in the run's `harness.suites` tag; whether such a run can be approved is the gate's
    question."""
    out = []
    for name in policy.required_suites.get(category, []):
        mine = [r for r in results if r.suite == name]
        if not mine or any(not r.skipped_reason for r in mine):
            continue
        why = "; ".join(sorted({r.skipped_reason for r in mine if r.skipped_reason}))
        out.append(f"not tested: suite {name!r}, required for {category} tools by policy 6.4 ({why})")
    blocking_checks = {
        key.rsplit(".", 1)[0] for key, t in policy.thresholds.items() if t.severity_for(tier) is Severity.BLOCKING
    }
    for r in results:
        for f in r.findings:
            if f.status is Status.SKIPPED and not f.details.get("not_applicable") and (
                    f.severity is Severity.BLOCKING or f"{f.suite}.{f.check}" in blocking_checks):
                where = f" on {f.dataset}" if f.dataset else ""
                out.append(f"not tested: {f.suite}.{f.check}{where}: {f.message}")
    return out


def judge(results: Sequence[SuiteResult], policy: Policy, tier: str) -> list[SuiteResult]:
    """The run's results judged afresh at another risk tier under `policy` (its limits, severities and
    decision rule), from the measured values alone: simulation benchmarks measure once and judge three tiers."""
    from harness.check import Measurement

    decided = ("decision_rule", "blocking_tests", "p_adjusted", "measured")
    out = []
    for r in results:
        findings = []
        for f in r.findings:
            if not f.judged_by_policy:
                findings.append(f)
                continue
            details = {k: v for k, v in f.details.items() if k not in decided}
            if details.get("test") == INTERVAL_TEST:
                details = {k: v for k, v in details.items() if k not in ("p_value", "test")}
            m = Measurement(f.suite, f.check, f.metric, float("nan") if f.value is None else f.value, f.ci_low,
                            f.ci_high, group=f.group, reference=f.reference, n=f.n, details=details)
            g = policy.evaluate(m, tier, message=f.details.get("measured", f.message), dataset=f.dataset)
            if g is not None:
                findings.append(g)
        out.append(replace(r, findings=tuple(findings)))
    return apply_decision_rule(out, policy)
