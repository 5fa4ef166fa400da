"""The `bias` suite: group and individual fairness of binary decisions and risk scores
(policy 2.1, 4.2, 4.3), every figure with an interval and every verdict fail-closed."""
from __future__ import annotations

from typing import ClassVar

from harness.check import Check, CheckContext, Suite
from test_suites.bias.checks import (
    DemographicParity,
    EqualizedOdds,
    EqualOpportunity,
    FnrParity,
    FourFifths,
    FprParity,
    GroupRates,
    PredictiveParity,
)
from test_suites.bias.checks_inputs import Counterfactual, IndividualFairness, MitigationHint, Proxies
from test_suites.bias.checks_scores import ScoreMetrics


class BiasSuite(Suite):
    name = "bias"
    version = "2"
    description = ("Group rates, parity disparities, the four-fifths rule with significance tests, score "
                   "calibration and ranking, individual fairness, proxies and counterfactual flips, for every "
                   "protected attribute and their intersections, with intervals.")
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [GroupRates(), DemographicParity(), FourFifths(), EqualizedOdds(), EqualOpportunity(),
                PredictiveParity(), FnrParity(), FprParity(), ScoreMetrics(), IndividualFairness(), Proxies(),
                Counterfactual(), MitigationHint()]


__all__ = ["BiasSuite"]
