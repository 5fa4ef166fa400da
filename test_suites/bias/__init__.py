"""The `bias` suite: group and individual fairness of binary decisions and risk scores
(policy 2.1, 4.2, 4.3), every figure with an interval and every verdict fail-closed. On grounded-QA
data (a generative tool) it runs the counterfactual prompts instead (`generative`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from harness.check import Check, CheckContext, Suite
from harness.measures.proxies import AUC, CRAMERS_V
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
from test_suites.bias.metrics import RATES


class BiasSettings(BaseModel):
    """`settings.bias` of the policy; the defaults are those of harness/policies/default.yaml and of the checks
    that read them. A key not listed here is an error before anything runs (fail closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consistency_rows: int = Field(5000, ge=0, description="kNN consistency on a seeded sample of this many rows; "
                                                            "0 leaves it out")
    consistency_neighbors: int = Field(5, ge=1)
    calibration_bins: int = Field(10, ge=1)
    mitigation_max_rows: int = Field(50_000, ge=1)
    counterfactual_max_rows: int = Field(100_000, ge=1, description=(
        "counterfactual flips on a seeded sample of this many rows when the data have more; the flip rates' "
        "intervals are the sample's and the findings say so. Above the largest reference dataset (Adult, 48,842 "
        "rows), so every dataset the harness ships is flipped whole"))


DISPARITIES = (DemographicParity, EqualizedOdds, EqualOpportunity, PredictiveParity, FnrParity, FprParity)


if TYPE_CHECKING:
    from harness.report.sections import ReportContext, Section, SuiteOutcome


class BiasSuite(Suite):
    name = "bias"
    version = "3"
    description = ("Group rates, parity disparities, the four-fifths rule with significance tests, score "
                   "calibration and ranking, individual fairness, proxies and counterfactual flips, for every "
                   "protected attribute and their intersections, with intervals; for generative tools, "
                   "counterfactual prompts with names, pronouns and stated ethnicity swapped.")
    check_titles: ClassVar[dict[str, str]] = {
        "group_rates": "Groups large enough to judge",
        "demographic_parity": "Selection rates across groups",
        "equalized_odds": "Error rates across groups (equalized odds)",
        "equal_opportunity": "Qualified people approved alike across groups (equal opportunity)",
        "predictive_parity": "Precision across groups",
        "fnr_parity": "Qualified people missed, across groups",
        "fpr_parity": "Unqualified people approved, across groups",
        "four_fifths": "The four-fifths rule (adverse impact)",
        "scores": "Scores and their calibration across groups",
        "proxies": "Inputs that stand in for a protected attribute",
        "counterfactual": "Decisions that change with a protected attribute or its stand-in",
        "individual_fairness": "Similar people treated alike",
        "mitigation_hint": "What a post-processing fix would change (illustration)",
        "counterfactual_prompts": "Answers that change with a name, pronoun or stated ethnicity",
    }
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification", "grounded-qa")
    settings_model: ClassVar[type[BaseModel]] = BiasSettings
    produces: ClassVar[frozenset[str]] = frozenset({
        *(f"{GroupRates.name}.{m}" for m in (*RATES, "n", "group_size", "rate_denominator")),
        *(f"{c.name}.{m}" for c in DISPARITIES for m in c.measures),
        f"{FourFifths.name}.adverse_impact_ratio", f"{FourFifths.name}.p_adjusted",
        *(f"{ScoreMetrics.name}.{m}" for m in ("auc", "ece", "ks", "auc_difference")),
        *(f"{IndividualFairness.name}.{m}" for m in ("theil_index", "between_group_theil", "consistency")),
        *(f"{Proxies.name}.{m}" for m in (CRAMERS_V, AUC)),
        *(f"{Counterfactual.name}.{m}" for m in ("flip_rate", "proxy_flip_rate")),
        *(f"{MitigationHint.name}.{m}_{when}" for m in ("ratio", "accuracy", "eo_difference")
          for when in ("before", "after")),
        *(f"{CounterfactualPrompts.name}.{m}" for m in ("decision_change_rate", "refusal_rate_difference",
                                                         "length_difference", "token_overlap")),
    })
    # the civil-rights figures a reader puts side by side (`harness compare`)
    headline: ClassVar[tuple[str, ...]] = (
        "four_fifths.adverse_impact_ratio", "demographic_parity.difference", "equalized_odds.difference",
        "scores.auc_difference", "counterfactual.flip_rate", "counterfactual_prompts.decision_change_rate",
        "counterfactual_prompts.refusal_rate_difference")

    def checks(self, ctx: CheckContext) -> list[Check]:
        if ctx.dataset.card.task == "grounded-qa":  # a generative tool: no labels to count, ask it instead
            return [CounterfactualPrompts()]
        if ctx.recorded:  # a production sample's recorded decisions: group counts only (the tool is not called)
            if not ctx.dataset.outcomes_known:  # selection rates need no outcome; error rates do
                return [DemographicParity(), FourFifths()]
            return [GroupRates(), DemographicParity(), FourFifths(), EqualizedOdds(), EqualOpportunity(),
                    PredictiveParity(), FnrParity(), FprParity()]
        return [GroupRates(), DemographicParity(), FourFifths(), EqualizedOdds(), EqualOpportunity(),
                PredictiveParity(), FnrParity(), FprParity(), ScoreMetrics(), IndividualFairness(), Proxies(),
                Counterfactual(), MitigationHint()]

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """The group tables, disparities, four-fifths rule, scores, proxies, counterfactuals and prompts
        (`report.py`, imported only when a report is drawn)."""
        from test_suites.bias.report import report_sections

        return report_sections(result, view)


__all__ = ["BiasSettings", "BiasSuite"]
