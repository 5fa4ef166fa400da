"""The `degradation` suite: how a tool behaves when its inputs are not what it was validated on
(policy 4.3 "potential unintended consequences"; the Safety clause: "degrading gracefully, at worst").

- `graceful_failure`: malformed inputs give a result or a clear error, never a crash or a hang;
  latency per call.
- `robustness`: accuracy, AUC and decision flips under noise, redrawn categories and missing values
  at the policy's severities, overall and per protected group (unequal degradation is a bias too).
- `drift`: PSI, KS and chi-square between the reference data and a current production sample.
- `regression`: this run's figures against the tool version's last approved assessment;
  `compare_to_baseline` does the same for every suite's metrics after an assessment.

Graceful failure runs first, so a tool that hangs on missing values is not then handed a whole
dataset with missing values; regression runs last, as it compares what the others measured.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from harness.check import Check, CheckContext, CheckOutput, Suite
from test_suites.degradation.drift import POPULATION_SHIFT, Drift
from test_suites.degradation.graceful import GracefulFailure
from test_suites.degradation.regression import (
    METRIC,
    Regression,
    RegressionRule,
    compare_other_suites,
    compare_to_baseline,
)
from test_suites.degradation.robustness import Robustness


class DegradationSettings(BaseModel):
    """`settings.degradation` of the policy; the defaults are `test_suites.degradation.common.DEFAULTS`, which
    the checks read (harness/policies/default.yaml documents each). A key not listed here is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severities: dict[str, float] = Field(default_factory=lambda: {"low": 0.1, "medium": 0.25, "high": 0.5},
                                         min_length=1)
    judged_severity: str = "medium"
    perturb_protected: bool = False
    intersections: bool = True
    call_timeout_s: float = Field(30.0, gt=0)
    robustness_timeout_s: float = Field(600.0, gt=0)
    large_batch_rows: int = Field(100_000, ge=1)
    large_batch_timeout_s: float = Field(300.0, gt=0)
    malformed_rows: int = Field(20, ge=1)
    latency_calls: int = Field(5, ge=1)
    latency_batch_rows: int = Field(100, ge=1)
    clear_error: Literal["named", "typed"] = "named"
    psi_bins: int = Field(10, ge=2)
    psi_moderate: float = Field(0.1, ge=0)
    psi_floor: float = Field(1e-4, gt=0, lt=1)
    psi_min_rows: int = Field(100, ge=1)
    regression: list[RegressionRule] = Field(default_factory=list)

    @field_validator("severities")
    @classmethod
    def _levels(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not 0 < x <= 1}
        if bad:
            raise ValueError(f"severities are levels in (0, 1]; got {bad}")
        return v

    @field_validator("judged_severity")
    @classmethod
    def _judged_is_a_severity(cls, v: str, info: ValidationInfo) -> str:
        levels = info.data.get("severities")
        if levels is not None and v not in levels:
            raise ValueError(f"it is not one of the severities {list(levels)}")
        return v


if TYPE_CHECKING:
    from harness.report.sections import ReportContext, Section, SuiteOutcome


class DegradationSuite(Suite):
    name = "degradation"
    version = "1"
    description = ("Graceful failure on malformed inputs, robustness to noisy, miscoded and missing inputs (overall "
                   "and per group), drift against a current sample, and regression against the approved baseline.")
    check_titles: ClassVar[dict[str, str]] = {
        "graceful_failure": "Failing safely on malformed inputs",
        "drift": "Change between the reference data and current data",
        "regression": "Change since the last approved assessment",
        POPULATION_SHIFT: "A production sample's population against the approval's, outcomes not yet known",
        "robustness": "Robustness to noisy, miscoded or missing inputs",
    }
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)
    settings_model: ClassVar[type[BaseModel]] = DegradationSettings
    produces: ClassVar[frozenset[str]] = frozenset({
        *(f"{GracefulFailure.name}.{m}" for m in ("failure", "large_batch_s", "latency_p50_s", "latency_p95_s")),
        *(f"{Robustness.name}.{m}{part}" for m in ("flip_rate", "accuracy_drop") for part in
          ("", "_by_severity", "_gap")),
        *(f"{Robustness.name}.{m}" for m in ("auc_drop", "auc_drop_by_severity", "group_flip_rate",
                                              "group_accuracy_drop")),
        *(f"{Drift.name}.{m}" for m in ("psi", "score_psi", "ks_statistic", "cramers_v", "selection_rate_shift")),
        f"{POPULATION_SHIFT}.psi",
        *(f"{Regression.name}.{m}" for m in ("accuracy", "auc", "selection_rate", METRIC)),
    })
    headline: ClassVar[tuple[str, ...]] = (  # what `harness compare` puts side by side
        "robustness.flip_rate", "robustness.accuracy_drop", "robustness.flip_rate_gap")

    def checks(self, ctx: CheckContext) -> list[Check]:
        if ctx.recorded:  # a production sample's recorded decisions (the tool is not called): its drift only
            return [Drift()]
        return [GracefulFailure(), Robustness(), Drift(), Regression()]

    def after_all(self, ctx: CheckContext, results: list[Any]) -> CheckOutput | None:
        """Every other suite's metrics against the approved baseline (the in-suite regression check
        sees only this suite's own figures)."""
        return compare_other_suites(ctx, results)

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """Robustness curves, drift, graceful failure and the regression against the baseline
        (`report.py`, imported only when a report is drawn)."""
        from test_suites.degradation.report import report_sections

        return report_sections(result, view)


__all__ = ["DegradationSettings", "DegradationSuite", "compare_to_baseline"]
