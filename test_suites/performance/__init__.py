"""The `performance` suite: does the tool work at all (Code of Ethics, "Safety, Security, and Validity";
policy 4.2). A coin flip is perfectly fair and perfectly useless, and the bias suite cannot tell it from a
good tool; this suite can: the tool must beat trivial rules by the policy's margin, meet its vendor's own
claims, and work for every protected group, not only on average."""
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from harness.check import Check, CheckContext, Suite
from test_suites.performance.checks import CLAIM_LABELS, Baselines, Claims, PerformanceSettings, PerGroup


class PerformanceSuite(Suite):
    name = "performance"
    version = "1"
    description = ("Balanced accuracy and AUC with intervals against the majority-class rule and a random rule at "
                   "the tool's selection rate, the vendor's claimed figures checked, and performance in every "
                   "protected group and intersection, the worst group judged.")
    check_titles: ClassVar[dict[str, str]] = {
        "baselines": "Better than trivial rules",
        "claims": "The vendor's performance claims",
        "per_group": "Accuracy within each group",
    }
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)
    settings_model: ClassVar[type[BaseModel]] = PerformanceSettings
    produces: ClassVar[frozenset[str]] = frozenset({
        *(f"{Baselines.name}.{m}" for m in ("balanced_accuracy", "balanced_accuracy_lift", "auc", "auc_lift",
                                            "accuracy", "selection_rate", "true_positive_rate",
                                            "true_negative_rate")),
        *(f"{Claims.name}.{m}" for m in CLAIM_LABELS),
        *(f"{PerGroup.name}.{m}" for m in ("balanced_accuracy", "auc", "class_size", "worst_lift")),
    })
    headline: ClassVar[tuple[str, ...]] = (  # what `harness compare` puts side by side
        "baselines.balanced_accuracy", "baselines.auc", "baselines.balanced_accuracy_lift", "baselines.auc_lift",
        "per_group.worst_lift")

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [Baselines(), Claims(), PerGroup()]


__all__ = ["PerformanceSettings", "PerformanceSuite"]
