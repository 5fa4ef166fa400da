"""The `explainability` suite: what a predictive or decision-support tool's decisions rest on, and whether a
caseworker can tell a resident why (Code of Ethics, Transparency: systems "should be able to justify their
outputs"; policy 2.1 for reliance on protected attributes and their proxies).

- `importance`: permutation importance of every input through the tool's own predict, equal to scikit-learn's
  `permutation_importance` for a scikit-learn model: the share of decisions that change when the input is
  scrambled, and the drop in the outcome score, with Student's t intervals over the repeats;
- `protected_reliance` and `proxy_reliance`: a protected attribute, or an input that is a proxy for one over the
  policy's proxy limits (the bias suite's), whose scrambling changes more decisions than the policy allows
  (blocking at the high tier);
- `reason_codes`: the top reasons for a seeded sample of decisions (occlusion, or the vendor's reason codes), their
  stability under the degradation suite's noise, and whether a protected attribute or proxy is the top reason
  more often for some groups;
- `shap`: SHAP values, when the optional shap package is installed.

A tool that is only a file of outputs without reason codes cannot be explained: the suite reports "explanations
not available" as one blocking SKIPPED finding, which caps the verdict at NEEDS_REVIEW.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from harness.check import Check, CheckContext, Suite
from test_suites.explainability.checks import (
    Explanations,
    GlobalImportance,
    ProtectedReliance,
    ProxyReliance,
)
from test_suites.explainability.data import callable_tool
from test_suites.explainability.reason_codes import ReasonCodes
from test_suites.explainability.settings import ExplainabilitySettings
from test_suites.explainability.shap_values import ShapValues

if TYPE_CHECKING:
    from harness.report.sections import ReportContext, Section, SuiteOutcome


class ExplainabilitySuite(Suite):
    name = "explainability"
    version = "1"
    description = ("Permutation importance of each input (equal to scikit-learn's), reliance on protected attributes "
                   "and their proxies, reason codes for individual decisions with their stability and differences "
                   "between groups, and SHAP values when shap is installed.")
    check_titles: ClassVar[dict[str, str]] = {
        "explanations": "Whether the tool's decisions can be explained",
        "importance": "What the decisions rest on",
        "protected_reliance": "Reliance on protected attributes",
        "proxy_reliance": "Reliance on stand-ins for protected attributes",
        "reason_codes": "Reasons given for individual decisions",
        "shap": "SHAP values (optional)",
    }
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)
    settings_model: ClassVar[type[BaseModel]] = ExplainabilitySettings
    produces: ClassVar[frozenset[str]] = frozenset({
        f"{GlobalImportance.name}.decision_share", f"{GlobalImportance.name}.score_drop",
        f"{ProtectedReliance.name}.decision_share", f"{ProxyReliance.name}.decision_share",
        *(f"{ReasonCodes.name}.{m}" for m in ("sensitive_top_reason_share", "sensitive_share_gap", "stability",
                                              "unknown_codes")),
        f"{ShapValues.name}.mean_abs", f"{Explanations.name}.available",
    })
    headline: ClassVar[tuple[str, ...]] = (  # what `harness compare` puts side by side
        "protected_reliance.decision_share", "proxy_reliance.decision_share", "reason_codes.sensitive_share_gap",
        "reason_codes.stability")

    def checks(self, ctx: CheckContext) -> list[Check]:
        if callable_tool(ctx) is None and ctx.predictions.reasons is None:
            return [Explanations()]  # a file of outputs and nothing else: nothing to explain it with
        return [GlobalImportance(), ProtectedReliance(), ProxyReliance(), ReasonCodes(), ShapValues()]

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """Importance, reliance, reason codes and SHAP (`report.py`, imported only when a report is drawn)."""
        from test_suites.explainability.report import report_sections

        return report_sections(result, view)


__all__ = ["ExplainabilitySettings", "ExplainabilitySuite"]
