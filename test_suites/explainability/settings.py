"""`settings.explainability` of the policy: how much of the reference data the suite explains, and how.

The defaults are what harness/policies/default.yaml writes out; a key not listed here stops the policy from
loading (fail closed), and every check reads its values through `settings_of`, so the defaults live here once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from harness.check import CheckContext

SUITE = "explainability"


class ExplainabilitySettings(BaseModel):
    """What the explainability suite does, and at what cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rows: int = Field(2000, ge=100, description="global importance on a seeded sample of at most this many "
                                                    "reference rows (each input costs one call of repeats x rows)")
    repeats: int = Field(10, ge=2, le=100, description="permutations per input; the interval is Student's t over them")
    scoring: Literal["balanced_accuracy", "accuracy", "roc_auc"] = Field(
        "balanced_accuracy", description="the score whose drop against the outcome is reported beside the share of "
                                         "decisions that change (roc_auc needs the tool's scores)")
    top_k: int = Field(10, ge=1, description="inputs listed in the report's importance table")
    reason_rows: int = Field(500, ge=20, description="individual decisions explained (a seeded sample)")
    reason_count: int = Field(3, ge=1, le=10, description="reasons given per decision, most important first")
    stability_noise: float = Field(0.1, gt=0, le=1, description="Gaussian noise, in standard deviations of each "
                                                                "numeric input, under which reasons must hold (the "
                                                                "degradation suite's noise at its low severity)")
    shap_rows: int = Field(50, ge=0, description="decisions given SHAP values when the shap package is installed "
                                                 "(about two tool calls each); 0 turns SHAP off")
    shap_background: int = Field(50, ge=1, description="reference rows SHAP's masker draws replacement values from")


def settings_of(ctx: CheckContext) -> ExplainabilitySettings:
    """The policy's settings for this suite (validated again here, so a check never reads an unchecked value)."""
    return ExplainabilitySettings.model_validate(ctx.policy.settings.get(SUITE, {}))
