"""The `bias` suite: group and individual fairness of binary decisions and risk scores
(policy 2.1, 4.2, 4.3), every figure with an interval and every verdict fail-closed. On grounded-QA
data (a generative tool) it runs the counterfactual prompts instead (`generative`)."""
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
from test_suites.bias.generative import CounterfactualPrompts


class BiasSuite(Suite):
    name = "bias"
    version = "3"
    description = ("Group rates, parity disparities, the four-fifths rule with significance tests, score "
                   "calibration and ranking, individual fairness, proxies and counterfactual flips, for every "
                   "protected attribute and their intersections, with intervals; for generative tools, "
                   "counterfactual prompts with names, pronouns and stated ethnicity swapped.")
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification", "grounded-qa")

    def checks(self, ctx: CheckContext) -> list[Check]:
        if ctx.dataset.card.task == "grounded-qa":  # a generative tool: no labels to count, ask it instead
            return [CounterfactualPrompts()]
        return [GroupRates(), DemographicParity(), FourFifths(), EqualizedOdds(), EqualOpportunity(),
                PredictiveParity(), FnrParity(), FprParity(), ScoreMetrics(), IndividualFairness(), Proxies(),
                Counterfactual(), MitigationHint()]


__all__ = ["BiasSuite"]
