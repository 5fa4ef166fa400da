"""A third party's suite: one check that measures the tool's overall selection rate."""
from __future__ import annotations

from harness.api import Check, CheckContext, CheckOutput, Measurement, Suite, matches


class SelectionShare(Check):
    name = "selection_share"
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        fav = ctx.dataset.card.target.favorable_value
        share = float(matches(ctx.predictions.labels, fav).mean())
        return CheckOutput(measurements=[Measurement("fake", self.name, "overall", share)])


class FakeSuite(Suite):
    name = "fake"
    version = "0.1"
    description = "Third-party plugin used by the harness's tests."
    produces = frozenset({"selection_share.overall"})

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [SelectionShare()]
