"""The `data_quality` suite: the reference data meets the dataset card's declarations (validated with
Great Expectations), holds no undeclared personal data, and the tool's outputs keep their contract
(policy 1.2 and 4.2).

Great Expectations is imported only when a check runs, never when the suite is loaded.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from harness.check import Check, CheckContext, Suite
from harness.measures.pii import KINDS as PII_KINDS
from test_suites.data_quality.checks import Expectations, PersonalData, ToolOutputs
from test_suites.data_quality.rules import DEFAULTS


class DataQualitySettings(BaseModel):
    """`settings.data_quality` of the policy: the suite takes none (its limits are thresholds), so any key is
    an error rather than a setting silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


if TYPE_CHECKING:
    from harness.report.sections import ReportContext, Section, SuiteOutcome


class DataQualitySuite(Suite):
    name = "data_quality"
    version = "1"
    description = ("Great Expectations validation of the dataset card's schema, key columns, sets, ranges, row "
                   "count, protected-group representation, prevalence and duplicates; undeclared personal data "
                   "in text columns; and the tool's outputs (length, labels, scores, NaN, stable schema).")
    check_titles: ClassVar[dict[str, str]] = {
        "expectations": "The reference data matches its description",
        "pii": "Undeclared personal data in the reference data",
        "outputs": "The tool's outputs are well formed",
        "profile": "A profile of the reference data (counts, no judgement)",
    }
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)
    settings_model: ClassVar[type[BaseModel]] = DataQualitySettings
    # findings add the column to the metric (expectations.values_in_set.workclass, pii.ssn.notes), and the
    # unthresholded figures are filed under `profile` the same way
    produces: ClassVar[frozenset[str]] = frozenset({
        *(f"{check}.{kind}" for check, kind in DEFAULTS),
        *(f"profile.{kind}" for check, kind in DEFAULTS if check == Expectations.name),
        *(f"{PersonalData.name}.{kind}" for kind in PII_KINDS),
        "profile.pii",
    })
    # what `harness compare` puts side by side: the data's own size (the rest is findings, shown when they change)
    headline: ClassVar[tuple[str, ...]] = ("profile.row_count", "profile.duplicate_rows")

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [Expectations(), PersonalData(), ToolOutputs()]

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """The expectations, the personal-data scan and the tool-output checks
        (`report.py`, imported only when a report is drawn)."""
        from test_suites.data_quality.report import report_sections

        return report_sections(result, view)


__all__ = ["DataQualitySettings", "DataQualitySuite"]
