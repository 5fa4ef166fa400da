"""A third party's suite that ships what a reviewer reads, too: its own settings model (`settings.selection` in a
policy, validated when the policy loads) and its own report section (`report_sections`), installed through the
`harness.suites` entry point like any plugin. It imports only the harness's declared plugin API."""
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from harness.api import (
    Check,
    CheckContext,
    CheckOutput,
    Measurement,
    ReportContext,
    Section,
    Suite,
    SuiteOutcome,
    TableView,
    count,
    matches,
    pct,
)


class SelectionSettings(BaseModel):
    """`settings.selection`: the share of favourable decisions below which the section flags the tool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    floor: float = Field(0.1, ge=0, le=1, description="the lowest expected share of favourable decisions")


class SelectionShare(Check):
    name = "share"
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        fav = ctx.dataset.card.target.favorable_value
        chosen = matches(ctx.predictions.labels, fav)
        share = float(chosen.mean())
        n = len(chosen)
        return CheckOutput(measurements=[Measurement("selection", self.name, "overall", share, n=n)],
                           tables={"selection.counts": [{"outcome": "favourable", "rows": int(chosen.sum())},
                                                        {"outcome": "other", "rows": n - int(chosen.sum())}]})


class SelectionSuite(Suite):
    name = "selection"
    version = "0.1"
    description = "Third-party plugin with its own settings and report section, used by the harness's tests."
    settings_model: ClassVar[type[BaseModel]] = SelectionSettings
    produces = frozenset({"share.overall"})

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [SelectionShare()]

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        share = next((m for m in result.measurements if m.key == "selection.share.overall"), None)
        floor = SelectionSettings.model_validate(view.document.get("settings", {}).get("selection", {})).floor
        rows = view.tables.get("selection.counts") or []
        view.claim("selection.counts")
        value = share.value if share is not None else None
        below = value is not None and value < floor
        return [Section("Selection at a glance", f"s{view.index}-selection", [TableView(
            key="selection.counts", kind="selection", title="How often the tool selects",
            columns=["Outcome", "Rows"], rows=[[str(r["outcome"]), count(r["rows"])] for r in rows],
            marks=["bad" if below and r["outcome"] == "favourable" else "" for r in rows],
            intro=f"The tool selects {pct(value)} of the reference rows; the policy's floor is {pct(floor)}"
                  + (" and the share is below it." if below else "."))])]
