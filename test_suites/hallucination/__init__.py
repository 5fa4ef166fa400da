"""The `hallucination` suite (issue 5): how a generative question-answering tool behaves against grounded QA
data (context paragraph, question, reference answers, answerable flag; e.g. SQuAD 2.0).

`metrics` holds the pure metric functions: SQuAD 2.0 exact match and F1, abstention detection, the
hallucination rate (unanswerable questions answered anyway) and over-refusal rate (answerable questions
declined), claim extraction and groundedness against the context, and consistency across repeated or
paraphrased questions. The suite and its checks are wired on top of these.
"""
from __future__ import annotations

from typing import ClassVar

from harness.check import Check, CheckContext, Suite
from test_suites.hallucination.checks import Abstention, Correctness, Groundedness


class HallucinationSuite(Suite):
    name = "hallucination"
    version = "1"
    description = ("Correctness (SQuAD 2.0 exact match and F1), abstention where the context has no answer (the "
                   "hallucination rate) and over-refusal, and claims not grounded in the context.")
    tasks: ClassVar[tuple[str, ...]] = ("grounded-qa",)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [Correctness(), Abstention(), Groundedness()]


__all__ = ["HallucinationSuite"]
