"""The `bias` suite: group fairness of binary decisions (policy 2.1, 4.2, 4.3)."""
from __future__ import annotations

from typing import ClassVar

from harness.check import Check, CheckContext, Suite
from test_suites.bias.checks import DemographicParity, EqualizedOdds, EqualOpportunity, GroupRates


class BiasSuite(Suite):
    name = "bias"
    version = "1"
    description = ("Group rates, demographic parity (four-fifths rule), equalized odds and equal opportunity "
                   "for every protected attribute and their intersections, with bootstrap intervals.")
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [GroupRates(), DemographicParity(), EqualizedOdds(), EqualOpportunity()]


__all__ = ["BiasSuite"]
