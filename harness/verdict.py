"""Suite results and the overall verdict (DESIGN.md "Verdict rules", fail closed)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.check import Measurement
from harness.findings import Finding, Severity, Status


class Verdict(StrEnum):
    PASS = "PASS"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    FAIL = "FAIL"
    ERROR = "ERROR"

    @property
    def exit_code(self) -> int:
        return {"PASS": 0, "FAIL": 1, "NEEDS_REVIEW": 3, "ERROR": 4}[self.value]


def deciding(findings: Sequence[Finding]) -> list[Finding]:
    """The findings a verdict rests on: the blocking failures when there are any (they alone make it FAIL),
    else every finding that asks for a reviewer (REVIEW, INSUFFICIENT, an advisory FAIL or ERROR). One
    definition, read by `decide` and by the reports' plain summary (`harness.report.summary`), so the summary
    cannot name a reason the verdict did not rest on."""
    blocking = [f for f in findings if f.blocks]
    if blocking:
        return blocking
    return [
        f for f in findings
        if f.status in (Status.REVIEW, Status.INSUFFICIENT)
        or (f.severity is Severity.ADVISORY and f.status in (Status.FAIL, Status.ERROR))
    ]


def decide(findings: list[Finding], not_tested: Sequence[str] = ()) -> tuple[Verdict, list[str]]:
    """FAIL if any blocking FAIL (a blocking ERROR counts as FAIL); else NEEDS_REVIEW if any REVIEW,
    INSUFFICIENT, advisory FAIL/ERROR, or anything the policy requires that was not tested (`not_tested`,
    from `harness.decision.not_tested`); else PASS. Returns the verdict and the reasons for it."""
    found = deciding(findings)
    if found and found[0].blocks:
        return Verdict.FAIL, [f"{f.key}: {f.message}" for f in found]
    review = found
    if review or not_tested:
        return Verdict.NEEDS_REVIEW, [f"{f.key} {f.status.value}: {f.message}" for f in review] + list(not_tested)
    return Verdict.PASS, []


@dataclass(frozen=True)
class SuiteResult:
    """One suite on one dataset, nested like a Great Expectations validation result."""

    suite: str
    suite_version: str
    dataset: str
    findings: tuple[Finding, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped_reason: str | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)  # not in assessment.json: files of their own

    @property
    def status(self) -> str:
        if self.skipped_reason:
            return Status.SKIPPED.value
        return decide(list(self.findings))[0].value

    @property
    def success(self) -> bool:
        return self.status in (Verdict.PASS.value, Status.SKIPPED.value)

    @property
    def statistics(self) -> dict[str, int]:
        counts = Counter(f.status.value for f in self.findings)
        return {s.value: counts.get(s.value, 0) for s in Status} | {"findings": len(self.findings)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "suite_version": self.suite_version, "dataset": self.dataset,
            "status": self.status, "success": self.success, "statistics": self.statistics,
            "skipped_reason": self.skipped_reason,
            "findings": [f.to_dict() for f in self.findings],
            "measurements": [m.to_dict() for m in self.measurements],
            "tables": self.tables,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SuiteResult:
        return cls(
            suite=d["suite"], suite_version=d["suite_version"], dataset=d["dataset"],
            findings=tuple(Finding.from_dict(f) for f in d["findings"]),
            measurements=tuple(Measurement.from_dict(m) for m in d["measurements"]),
            tables=d.get("tables", {}), skipped_reason=d.get("skipped_reason"),
        )
