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

from typing import Any, ClassVar

from harness.check import Check, CheckContext, CheckOutput, Suite
from test_suites.degradation.drift import Drift
from test_suites.degradation.graceful import GracefulFailure
from test_suites.degradation.regression import Regression, compare_other_suites, compare_to_baseline
from test_suites.degradation.robustness import Robustness


class DegradationSuite(Suite):
    name = "degradation"
    version = "1"
    description = ("Graceful failure on malformed inputs, robustness to noisy, miscoded and missing inputs (overall "
                   "and per group), drift against a current sample, and regression against the approved baseline.")
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [GracefulFailure(), Robustness(), Drift(), Regression()]

    def after_all(self, ctx: CheckContext, results: list[Any]) -> CheckOutput | None:
        """Every other suite's metrics against the approved baseline (the in-suite regression check
        sees only this suite's own figures)."""
        return compare_other_suites(ctx, results)


__all__ = ["DegradationSuite", "compare_to_baseline"]
