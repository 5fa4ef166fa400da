"""A fast version of benchmarks/bench_calibration.py and bench_nulls.py (issue 10, section 2).

Fewer seeds than the benchmarks' 1,000 per cell and 200 shuffles, so the bounds are looser than the
5 % / 95 % / 93 % targets, but each is far from what the first release's rule (FAIL on the point
estimate) gave: two groups of 50 with no disparity FAILed 73 % of seeds at the high tier, six equal
groups of 100 FAILed 99 %, shuffling Adult's protected columns FAILed 100 % and German credit's 84 %,
and the disparity intervals covered their true value 47-65 % of the time. Seeds are fixed, so every
figure here is reproducible; the benchmarks print the full grid.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_calibration import (
    DISPARITY_COMPONENTS,
    TIERS,
    Tally,
    air_cell,
    bench_policy,
    coverage,
    coverage_cells,
    judge,
    judge_tiers,
    run_bias,
    simulate,
    six_cell,
    stand_in,
    verdict_rates,
    with_rule,
)
from benchmarks.bench_nulls import null_rates


def policy():
    return bench_policy(2000, None)


def test_the_simulated_tool_can_pass_where_a_file_of_the_same_outputs_is_capped_at_review() -> None:
    from harness.decision import not_tested

    cell, pol = air_cell(2000, 1.0), policy()
    seed = cell.seed(0)
    ds, pred = simulate(cell, seed)
    # a file of outputs: the counterfactual check (blocking) cannot call it, so nothing can PASS
    as_file = run_bias(ds, pred, pol, seed)
    assert [v for v, _ in judge_tiers(as_file, pol)] == ["NEEDS_REVIEW"] * 3
    skipped = not_tested(judge([as_file], pol, "high"), pol.model_copy(update={"required_suites": {}}), "high",
                         "decision-support")
    assert len(skipped) == 1 and skipped[0].startswith("not tested: bias.counterfactual"), skipped
    # the callable stand-in answers with the same decisions and reads no group: nothing left untested
    called = run_bias(ds, pred, pol, seed, stand_in(pred))
    assert [v for v, _ in judge_tiers(called, pol)] == ["PASS"] * 3
    (cf,) = [f for f in called.findings if f.check == "counterfactual"]
    assert cf.details == {"not_applicable": True}, cf
    assert cf.message == "the tool takes none of group as input, so there is nothing to flip"
    # with group among its inputs the check flips group on all 4,000 rows: 0 flips, and the 95 % Wilson
    # interval of 0 of n is [0, z^2 / (n + z^2)], z^2 = 1.959964^2 = 3.841459
    ds, pred = simulate(cell, seed, group_input=True)
    flipped = run_bias(ds, pred, pol, seed, stand_in(pred))
    (m,) = [m for m in flipped.measurements if m.check == "counterfactual"]
    assert (m.metric, m.value, m.n, m.ci_low) == ("flip_rate", 0.0, 4000, 0.0)
    assert m.ci_high == pytest.approx(3.841459 / 4003.841459, rel=1e-6)
    assert [v for v, _ in judge_tiers(flipped, pol)] == ["PASS"] * 3


@pytest.mark.slow
def test_two_groups_of_50_with_no_disparity_rarely_fail_where_the_point_rule_failed_most() -> None:
    cell, seeds = air_cell(50, 1.0), 300
    calibrated, point = policy(), with_rule(policy(), "point")
    now = {tier: Tally() for tier in TIERS}
    before = Tally()
    for i in range(seeds):  # one suite per seed, judged under both rules
        ds, pred = simulate(cell, cell.seed(i))
        result = run_bias(ds, pred, calibrated, cell.seed(i))
        for tier, outcome in zip(TIERS, judge_tiers(result, calibrated), strict=True):
            now[tier].add(*outcome)
        before.add(*judge_tiers(result, point)[0])
    for tier, t in now.items():  # the benchmark: 3.6 % at every tier over 1,000 seeds
        assert t.n == seeds
        assert t.share("FAIL") <= 0.08, (tier, t.verdicts, t.causes)
    # the same seeds judged on the point estimate FAIL 22 % at the high tier (73 % in the first release,
    # before rates on fewer than min_group_size people became INSUFFICIENT): the test tells the rules apart
    assert before.share("FAIL") >= 0.15, before.verdicts


@pytest.mark.slow
def test_an_adverse_impact_ratio_of_0_7_with_500_per_group_fails_at_the_high_and_medium_tiers() -> None:
    cell = air_cell(500, 0.7)
    rates = verdict_rates([cell], 200, policy())
    for tier in ("high", "medium"):  # the benchmark: 99.5 % and 97.6 % over 1,000 seeds
        t = rates[(cell.label, tier)]
        assert t.n == 200
        assert t.share("FAIL") >= 0.92, (tier, t.verdicts)
        # the civil-rights benchmark itself catches it, not only equalized odds
        assert t.causes["four_fifths.adverse_impact_ratio"] / t.n >= 0.85, (tier, t.causes)


@pytest.mark.slow
@pytest.mark.parametrize("size", [50, 100])
def test_six_equal_groups_with_no_disparity_rarely_fail_at_any_tier(size: int) -> None:
    cell = six_cell(size)
    rates = verdict_rates([cell], 150, policy())
    for tier in TIERS:  # the benchmark: 3.3 % (50 per group) and 2.6 % (100) over 1,000 seeds
        t = rates[(cell.label, tier)]
        assert t.n == 150
        assert t.share("FAIL") <= 0.08, (tier, t.verdicts, t.causes)


@pytest.mark.slow
def test_every_reported_interval_covers_its_true_value_and_holds_its_own_estimate() -> None:
    kinds = {f"{c}.{m}" for c in DISPARITY_COMPONENTS for m in ("difference", "ratio")}
    for cell in coverage_cells():  # six groups of 100: equal rates, and graded rates
        cov = coverage(cell, 300, policy())
        judged = {k: v for k, v in cov.items()
                  if k.startswith("group_rates.") or k == "four_fifths.adverse_impact_ratio" or k in kinds}
        assert {"group_rates.selection_rate", "four_fifths.adverse_impact_ratio",
                "demographic_parity.difference", "equalized_odds.difference"} <= set(judged), sorted(cov)
        for kind, (covered, counted, _, _) in judged.items():
            assert counted >= 300, (cell.scenario, kind, counted)
            assert covered / counted >= 0.91, (cell.scenario, kind, f"{covered / counted:.1%}")
        for kind, (_, counted, inside, _) in cov.items():
            assert inside == counted, (cell.scenario, kind, f"estimate outside its interval {counted - inside}x")


@pytest.mark.slow
@pytest.mark.parametrize("card", ["adult", "german-credit"])
def test_shuffling_the_protected_columns_of_real_data_jointly_rarely_fails(mirror: Path, card: str) -> None:
    shuffles = 40
    rates = null_rates([card], shuffles, policy(), mirror)
    for tier in TIERS:  # the benchmark, 200 shuffles: adult 0 %, german-credit 1 % at every tier
        t = rates[(card, tier)]
        assert t.n == shuffles
        assert t.verdicts["FAIL"] <= 3, (tier, t.verdicts, t.causes)
