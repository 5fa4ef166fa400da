"""The `hallucination` suite (issue 5): how a generative question-answering tool behaves against grounded QA
data (context paragraph, question, reference answers, answerable flag; e.g. SQuAD 2.0).

`metrics` holds the pure metric functions: SQuAD 2.0 exact match and F1 over the references (built on the
harness's answer normalisation and abstention detection, `harness.measures.answers`, shared with the bias
suite), the hallucination rate (unanswerable questions answered anyway) and over-refusal rate (answerable questions
declined), claim extraction and groundedness against the context, and consistency across repeated or
paraphrased questions. The suite and its checks (`checks`) are wired on top of these: tool errors,
correctness, abstention, groundedness and consistency (which asks the tool new questions, so it needs an
adapter that can generate; a vendor's file of answers gets it SKIPPED with the reason).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from harness.check import Check, CheckContext, Suite
from test_suites.hallucination.checks import Abstention, Consistency, Correctness, Groundedness, ToolErrors


class HallucinationSettings(BaseModel):
    """`settings.hallucination` of the policy; the defaults are those of harness/policies/default.yaml and of
    the checks that read them. A key not listed here is an error before anything runs (fail closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_error_share: float = Field(0.05, ge=0, le=1)
    consistency_repeats: int = Field(3, ge=1)
    consistency_items: int = Field(50, ge=1)


if TYPE_CHECKING:
    from harness.report.sections import ReportContext, Section, SuiteOutcome


class HallucinationSuite(Suite):
    name = "hallucination"
    version = "2"
    description = ("Correctness (SQuAD 2.0 exact match and F1), abstention where the context has no answer (the "
                   "hallucination rate) and over-refusal, claims not grounded in the context, disagreement "
                   "among answers to the same question asked again or in other words, and items the tool failed "
                   "to answer.")
    check_titles: ClassVar[dict[str, str]] = {
        "tool_errors": "Questions the tool failed to answer",
        "correctness": "Correct answers",
        "abstention": "Saying \"I don't know\" when the page has no answer",
        "groundedness": "Claims the page does not support",
        "consistency": "The same answer to a reworded question",
    }
    tasks: ClassVar[tuple[str, ...]] = ("grounded-qa",)
    settings_model: ClassVar[type[BaseModel]] = HallucinationSettings
    produces: ClassVar[frozenset[str]] = frozenset({
        f"{ToolErrors.name}.errored_items",
        *(f"{Correctness.name}.{m}{part}" for m in ("exact_match", "f1") for part in ("", "_answerable")),
        *(f"{Abstention.name}.{m}" for m in ("hallucination_rate", "over_refusal_rate")),
        *(f"{Groundedness.name}.{m}" for m in ("unsupported_claim_rate", "mean_groundedness")),
        *(f"{Consistency.name}.{m}" for m in ("paraphrase_disagreement_rate", "repeat_disagreement_rate")),
    })
    headline: ClassVar[tuple[str, ...]] = (  # what `harness compare` puts side by side
        "correctness.exact_match", "correctness.f1", "abstention.hallucination_rate", "abstention.over_refusal_rate",
        "groundedness.unsupported_claim_rate", "consistency.paraphrase_disagreement_rate")

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [ToolErrors(), Correctness(), Abstention(), Groundedness(), Consistency()]

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """The headline rates beside the answers behind them
        (`report.py`, imported only when a report is drawn)."""
        from test_suites.hallucination.report import report_sections

        return report_sections(result, view)


__all__ = ["HallucinationSettings", "HallucinationSuite"]
