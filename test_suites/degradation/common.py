"""What every degradation check shares: the suite's settings, the tool's input columns, favourable
labels, SKIPPED findings, and the record of this run's measurements that the regression check reads."""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement, note
from harness.datasets import matches
from harness.errors import ConfigError
from harness.findings import Finding, Severity, Status, finite_or_none  # noqa: F401  (re-exported)
from harness.tools import can_call

SUITE = "degradation"
MEASURED = "degradation.measurements"  # ctx.cache key: measurement key -> value, for the regression check
GRACEFUL = "degradation.graceful"  # ctx.cache key: malformed-input case -> call outcome, for robustness
REFERENCE_AUC = "degradation.reference_auc"  # ctx.cache key: (predictions, AUC on the reference rows), for regression

# defaults of settings.degradation; the policy file overrides each one
DEFAULTS: dict[str, Any] = {
    "severities": {"low": 0.1, "medium": 0.25, "high": 0.5},
    "judged_severity": "medium",
    "perturb_protected": False,
    "intersections": True,
    "call_timeout_s": 30.0,
    "robustness_timeout_s": 600.0,
    "large_batch_rows": 100_000,
    "large_batch_timeout_s": 300.0,
    "malformed_rows": 20,
    "latency_calls": 5,
    "latency_batch_rows": 100,
    "clear_error": "named",
    "psi_bins": 10,
    "psi_moderate": 0.1,
    "psi_floor": 1e-4,
    "psi_min_rows": 100,
    "regression": [],
}


def setting(ctx: CheckContext, name: str) -> Any:
    return ctx.policy.setting(SUITE, name, DEFAULTS[name])


def clear_mode(ctx: CheckContext) -> str:
    """`named` or `typed`: what counts as a clear error (see `calls`)."""
    mode = str(setting(ctx, "clear_error"))
    if mode not in ("named", "typed"):
        raise ConfigError(f"settings.degradation.clear_error must be 'named' or 'typed'; got {mode!r}")
    return mode


def callable_tool(ctx: CheckContext) -> bool:
    return ctx.tool is not None and can_call(ctx.tool)


def tool_inputs(ctx: CheckContext) -> list[str]:
    return ctx.tool_inputs()[0]


def favourable(ctx: CheckContext, labels: np.ndarray) -> np.ndarray:
    """1 where a decision is the favourable outcome: every rate here is on the favourable side.
    `matches` runs on the few distinct labels, not on every row (text labels made it a hot spot)."""
    import pandas as pd

    target = ctx.dataset.card.target
    assert target is not None  # the suite runs on binary-classification cards, which must give a target
    codes, uniques = pd.factorize(np.asarray(labels), use_na_sentinel=True)
    hit = np.append(matches(np.asarray(uniques), target.favorable_value), False)
    return hit[codes].astype(np.int8)  # code -1 (a missing label) picks the appended False


def limit_of(ctx: CheckContext, check: str, metric: str) -> float | None:
    return ctx.limit(SUITE, check, metric)


def skipped(check: Check, ctx: CheckContext, metric: str, why: str, *, not_applicable: bool = False) -> Finding:
    return note(SUITE, check, ctx, metric, why, not_applicable=not_applicable)


NOT_CALLABLE = ("the tool's outputs were supplied as a file, so it cannot be called on new inputs; this check "
                "needs a model, a callable or an endpoint")


def pct(x: float) -> str:
    return "undefined" if not np.isfinite(x) else f"{x:.1%}"


def ci_pct(lo: float, hi: float, conf: float) -> str:
    return f"{conf:.0%} CI {pct(lo)} to {pct(hi)}"


class DegradationCheck(Check):
    """Base class: runs `measure` and records the measurements in the context, so the regression
    check (which runs last) can compare this run's degradation figures with the approved baseline;
    a check never sees another check's output otherwise."""

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = self.measure(ctx)
        remember(ctx, out.measurements)
        return out

    def measure(self, ctx: CheckContext) -> CheckOutput:  # pragma: no cover - abstract
        raise NotImplementedError


def remember(ctx: CheckContext, measurements: list[Measurement]) -> None:
    seen: dict[str, float] = ctx.cache.setdefault(MEASURED, {})
    for m in measurements:
        if m.value is not None and np.isfinite(m.value):
            seen[m.key] = float(m.value)
