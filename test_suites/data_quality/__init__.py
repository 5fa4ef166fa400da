"""The `data_quality` suite: the reference data meets the dataset card's declarations (validated with
Great Expectations), holds no undeclared personal data, and the tool's outputs keep their contract
(policy 1.2 and 4.2).

Great Expectations is imported only when a check runs, never when the suite is loaded.
"""
from __future__ import annotations

from typing import ClassVar

from harness.check import Check, CheckContext, Suite
from test_suites.data_quality.checks import Expectations, PersonalData, ToolOutputs


class DataQualitySuite(Suite):
    name = "data_quality"
    version = "1"
    description = ("Great Expectations validation of the dataset card's schema, key columns, sets, ranges, row "
                   "count, protected-group representation, prevalence and duplicates; undeclared personal data "
                   "in text columns; and the tool's outputs (length, labels, scores, NaN, stable schema).")
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [Expectations(), PersonalData(), ToolOutputs()]


__all__ = ["DataQualitySuite"]
