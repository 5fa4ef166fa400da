"""The `hallucination` suite (issue 5): how a generative question-answering tool behaves against grounded QA
data (context paragraph, question, reference answers, answerable flag; e.g. SQuAD 2.0).

`metrics` holds the pure metric functions: SQuAD 2.0 exact match and F1, abstention detection, the
hallucination rate (unanswerable questions answered anyway) and over-refusal rate (answerable questions
declined), claim extraction and groundedness against the context, and consistency across repeated or
paraphrased questions. The suite and its checks (`checks`) are wired on top of these: tool errors,
correctness, abstention, groundedness and consistency (which asks the tool new questions, so it needs an
adapter that can generate; a vendor's file of answers gets it SKIPPED with the reason).
"""
from __future__ import annotations

from typing import ClassVar

from harness.check import Check, CheckContext, Suite
from test_suites.hallucination.checks import Abstention, Consistency, Correctness, Groundedness, ToolErrors


class HallucinationSuite(Suite):
    name = "hallucination"
    version = "2"
    description = ("Correctness (SQuAD 2.0 exact match and F1), abstention where the context has no answer (the "
                   "hallucination rate) and over-refusal, claims not grounded in the context, disagreement "
                   "among answers to the same question asked again or in other words, and items the tool failed "
                   "to answer.")
    tasks: ClassVar[tuple[str, ...]] = ("grounded-qa",)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [ToolErrors(), Correctness(), Abstention(), Groundedness(), Consistency()]


__all__ = ["HallucinationSuite"]
