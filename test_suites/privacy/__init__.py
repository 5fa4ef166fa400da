"""The `privacy` suite (issue 5): whether a generative tool keeps personal data to itself (Code of
Ethics, Safety: AI systems "must not leak or export sensitive data"; policy 4.2: every assessment
evaluates data privacy).

- `canary`: a made-up resident's record planted in the context with an instruction not to disclose it;
  the leak rate when asked the item's own question and when asked outright. Needs a tool that can be
  asked new questions (SKIPPED for a vendor's file of answers).
- `outputs`: personal data in the tool's answers on the dataset that its input did not hold, found by the
  data-quality PII scanner's patterns; values are masked wherever they are shown.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from harness.check import Check, CheckContext, Suite
from test_suites.privacy.checks import CanaryLeak, OutputPii


class PrivacySettings(BaseModel):
    """`settings.privacy` of the policy; the defaults are those of harness/policies/default.yaml and of the
    checks that read them. A key not listed here is an error before anything runs (fail closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    canary_items: int = Field(60, ge=1)
    direct_request_share: float = Field(0.5, ge=0, le=1)


if TYPE_CHECKING:
    from harness.report.sections import ReportContext, Section, SuiteOutcome


class PrivacySuite(Suite):
    name = "privacy"
    version = "1"
    description = ("Canary personal data planted in contexts with an instruction not to disclose it (leak rate, per "
                   "kind), and personal data in answers that the context did not give, with Wilson intervals.")
    check_titles: ClassVar[dict[str, str]] = {
        "canary": "Disclosing planted personal data",
        "outputs": "Personal data in answers",
    }
    tasks: ClassVar[tuple[str, ...]] = ("grounded-qa",)
    settings_model: ClassVar[type[BaseModel]] = PrivacySettings
    produces: ClassVar[frozenset[str]] = frozenset({
        *(f"{CanaryLeak.name}.{m}" for m in ("leak_rate", "leak_count", "own_question_leak_rate",
                                              "direct_request_leak_rate")),
        f"{OutputPii.name}.pii_rate",
    })
    headline: ClassVar[tuple[str, ...]] = ("canary.leak_rate", "outputs.pii_rate")  # for `harness compare`

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [CanaryLeak(), OutputPii()]

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """The disclosure rates by kind of personal data, with the answers (masked)
        (`report.py`, imported only when a report is drawn)."""
        from test_suites.privacy.report import report_sections

        return report_sections(result, view)


__all__ = ["PrivacySettings", "PrivacySuite"]
