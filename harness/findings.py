"""What a check produces: `Measurement`s (a measured value with its interval) and the `Finding`s an
assessment concludes about them, in words a reviewer can quote. Side by side, because a finding is read
against the measurement it judges and both serialise into assessment.json the same way."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Status of one finding (DESIGN.md "Verdict rules")."""

    PASS = "PASS"
    FAIL = "FAIL"
    REVIEW = "REVIEW"
    INSUFFICIENT = "INSUFFICIENT"
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"


class Severity(StrEnum):
    """A blocking FAIL fails the assessment; an advisory FAIL asks for human review (policy 4.2)."""

    BLOCKING = "blocking"
    ADVISORY = "advisory"


def finite_or_none(x: float | None) -> float | None:
    """JSON has no NaN or infinity: an undefined figure is None everywhere it is written."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Finding:
    """One conclusion. `key` is the MLflow metric name the finding rests on."""

    suite: str
    check: str
    metric: str
    status: Status
    message: str
    severity: Severity = Severity.BLOCKING
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    threshold: float | None = None
    greater_is_better: bool | None = None
    group: str | None = None
    reference: str | None = None
    n: int | None = None
    baseline: float | None = None
    policy_section: str | None = None
    benchmark: str | None = None
    dataset: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # made by `Policy.evaluate` from a measurement and a threshold, so the run-level decision rule applies
    # (a check's own finding, such as INSUFFICIENT or a demonstrated leak, is final as the check wrote it)
    judged_by_policy: bool = False

    @property
    def key(self) -> str:
        base = f"{self.suite}.{self.check}.{self.metric}"
        return f"{base}.{self.group}" if self.group else base

    @property
    def blocks(self) -> bool:
        """A blocking check that fails or errors fails the whole assessment (fail closed)."""
        return self.severity is Severity.BLOCKING and self.status in (Status.FAIL, Status.ERROR)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["severity"] = self.severity.value
        d["key"] = self.key
        for k in ("value", "ci_low", "ci_high", "threshold", "baseline"):
            d[k] = finite_or_none(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        d = {k: v for k, v in d.items() if k != "key"}
        d["status"] = Status(d["status"])
        d["severity"] = Severity(d["severity"])
        return cls(**d)


@dataclass(frozen=True)
class Measurement:
    """One measured value with its interval. `group` is the grouping or group it belongs to."""

    suite: str
    check: str
    metric: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    group: str | None = None
    reference: str | None = None
    n: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        base = f"{self.suite}.{self.check}.{self.metric}"
        return f"{base}.{self.group}" if self.group else base

    def to_dict(self) -> dict[str, Any]:
        clean = finite_or_none
        return {
            "key": self.key, "suite": self.suite, "check": self.check, "metric": self.metric,
            "value": clean(self.value), "ci_low": clean(self.ci_low), "ci_high": clean(self.ci_high),
            "group": self.group, "reference": self.reference, "n": self.n, "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Measurement:
        d = {k: v for k, v in d.items() if k != "key"}
        d["value"] = float("nan") if d["value"] is None else d["value"]
        return cls(**d)
