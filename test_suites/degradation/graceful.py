"""Graceful failure: what the tool does with malformed input (policy, Safety: "avoids unexpected
failures, degrading gracefully, at worst").

Each case is one call on a small batch built from real reference rows with one kind of damage:
missing values, out-of-range numbers, unseen categories, wrong types, an empty batch, and a very
large batch. A result or a clear error is graceful; a crash (an untyped exception, or a typed one
that does not say what was wrong: see `calls`), an unusable output or a hang is not, and fails the
check. Every call has the policy's timeout; a hung call is abandoned in a daemon thread (`calls`).
Latency p50/p95 per call is timed on several ordinary small batches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.check import CheckContext, CheckOutput, Measurement
from harness.measures.perturb import ColumnPlan, plan_columns
from harness.tools import input_frame
from test_suites.degradation.calls import (
    CLEAR_ERROR,
    FAILURES,
    HANG,
    INVALID_OUTPUT,
    PROBLEM_WORDS,
    RESULT,
    CallOutcome,
    call_tool,
)
from test_suites.degradation.common import (
    GRACEFUL,
    NOT_CALLABLE,
    SUITE,
    DegradationCheck,
    callable_tool,
    clear_mode,
    setting,
    skipped,
    tool_inputs,
)

if TYPE_CHECKING:
    import pandas as pd

UNSEEN = "__unseen_category__"
NOT_A_NUMBER = "not-a-number"


@dataclass(frozen=True)
class Case:
    """One malformed batch and what a clear error about it would mention."""

    name: str
    description: str
    frame: pd.DataFrame
    hints: tuple[str, ...] = ()
    timeout: float = 30.0
    details: dict[str, Any] = field(default_factory=dict)


def malformed_cases(frame: pd.DataFrame, plan: ColumnPlan, rows: int, large_rows: int, rng: np.random.Generator,
                    timeout: float, large_timeout: float) -> list[Case]:
    """The malformed batches, each from `rows` real rows (drawn with the check's seed)."""
    import pandas as pd

    base = frame.iloc[rng.choice(len(frame), size=rows, replace=len(frame) < rows)].reset_index(drop=True)
    cols = list(frame.columns)
    cases = []

    nulls = base.copy()
    for j, c in enumerate(cols):
        hit = np.zeros(len(base), dtype=bool)
        hit[j % len(base)] = True
        nulls[c] = base[c].mask(hit)
    cases.append(Case("nulls", f"a batch of {rows} rows with a missing value in each of its {len(cols)} columns",
                      nulls, (*cols, *PROBLEM_WORDS["nulls"]), timeout))

    if plan.numeric:
        wild = base.copy()
        span = np.maximum(plan.sd, 1.0) * 100
        sign = np.where(np.arange(len(base)) % 2 == 0, 1.0, -1.0)
        for j, c in enumerate(plan.numeric):
            values = np.where(sign > 0, plan.high[j] + span[j], plan.low[j] - span[j])
            wild[c] = pd.Series(np.round(values) if plan.integer[j] else values).astype(
                base[c].dtype if plan.integer[j] else float)
        cases.append(Case("out_of_range", f"a batch of {rows} rows whose {len(plan.numeric)} numeric inputs lie "
                          f"100 standard deviations outside the range seen in the reference data", wild,
                          (*plan.numeric, *PROBLEM_WORDS["out_of_range"]), timeout))

    if plan.categorical:
        unseen = base.copy()
        for c in plan.categorical:
            unseen[c] = pd.Series([UNSEEN] * len(base), dtype=object)
        cases.append(Case("unseen_categories", f"a batch of {rows} rows whose {len(plan.categorical)} categorical "
                          f"inputs hold a category never seen before ({UNSEEN!r})", unseen,
                          (*plan.categorical, UNSEEN, *PROBLEM_WORDS["unseen_categories"]), timeout))

    typed = base.copy()
    for c in plan.numeric:
        typed[c] = pd.Series([NOT_A_NUMBER] * len(base), dtype=object)
    for c in plan.categorical:
        typed[c] = pd.Series(np.arange(len(base)) + 12345, dtype=np.int64)
    cases.append(Case("wrong_types", f"a batch of {rows} rows with text ({NOT_A_NUMBER!r}) in the numeric inputs "
                      f"and numbers in the categorical ones", typed,
                      (*plan.columns, NOT_A_NUMBER, *PROBLEM_WORDS["wrong_types"]), timeout))

    cases.append(Case("empty", "an empty batch (the input columns, no rows)", base.iloc[:0].copy(),
                      PROBLEM_WORDS["empty"], timeout))

    if large_rows > 0:
        big = frame.iloc[rng.integers(0, len(frame), size=large_rows)].reset_index(drop=True)
        cases.append(Case("large_batch", f"a batch of {large_rows:,} ordinary rows (drawn from the reference data)",
                          big, PROBLEM_WORDS["large_batch"], max(timeout, large_timeout),
                          {"rows": large_rows}))
    return cases


def judge(case: Case, call: CallOutcome) -> tuple[bool, str]:
    """(failed, why): a crash, unusable output or hang fails; an ordinary batch must also get answers."""
    if case.name == "normal" and call.outcome == CLEAR_ERROR:
        return True, "the tool refused ordinary inputs"
    if call.outcome == RESULT:
        return False, "graceful: it answered every row"
    if call.outcome == CLEAR_ERROR:
        return False, "graceful: a clear, typed error that says what was wrong"
    if call.outcome == HANG:
        return True, "not graceful: the call hung"
    if call.outcome == INVALID_OUTPUT:
        return True, "not graceful: the output is not one answer per row"
    return True, ("not graceful: a crash (an untyped error, or one that does not say what was wrong), so the whole "
                  "batch got no answer")


class GracefulFailure(DegradationCheck):
    """Malformed inputs must give a result or a clear error, never a crash or a hang."""

    name = "graceful_failure"
    description = ("Calls the tool with nulls, out-of-range values, unseen categories, wrong types, an empty and a "
                   "very large batch; records result, clear error, crash or hang, and latency p50/p95 per call.")
    policy_section = "Safety"

    def measure(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        if not callable_tool(ctx):
            out.findings.append(skipped(self, ctx, "failure", NOT_CALLABLE))
            return out
        card = ctx.dataset.card
        cols = tool_inputs(ctx)
        frame = input_frame(ctx.dataset, cols)
        plan = plan_columns(frame, cols, card.columns)
        timeout = float(setting(ctx, "call_timeout_s"))
        mode = clear_mode(ctx)
        rng = ctx.rng("degradation.graceful_failure")
        outcomes: dict[str, str] = {}
        ctx.cache[GRACEFUL] = outcomes
        rows: list[dict[str, Any]] = []

        normal = self._latency(ctx, out, frame, rng, timeout, mode, rows)
        outcomes["normal"] = normal.outcome
        if normal.outcome == HANG:
            out.tables[f"{SUITE}.graceful_failure"] = rows
            return out  # a tool that hangs on ordinary inputs is not asked anything else
        cases = malformed_cases(frame, plan, max(int(setting(ctx, "malformed_rows")), 1),
                                int(setting(ctx, "large_batch_rows")), rng, timeout,
                                float(setting(ctx, "large_batch_timeout_s")))
        for case in cases:
            call = call_tool(ctx.tool, case.frame, case.timeout, case.hints, mode)
            outcomes[case.name] = call.outcome
            self._record(ctx, out, case, call, rows)
            if case.name == "large_batch" and call.answered:
                out.measurements.append(Measurement(
                    SUITE, self.name, "large_batch_s", call.seconds, n=len(case.frame),
                    details={"rows_per_s": len(case.frame) / call.seconds if call.seconds > 0 else None}))
        out.tables[f"{SUITE}.graceful_failure"] = rows
        return out

    def _latency(self, ctx: CheckContext, out: CheckOutput, frame: pd.DataFrame, rng: np.random.Generator,
                 timeout: float, mode: str, rows: list[dict[str, Any]]) -> CallOutcome:
        """Several ordinary small batches: p50/p95 seconds per call; a failure here is a failure."""
        calls, size = max(int(setting(ctx, "latency_calls")), 1), max(int(setting(ctx, "latency_batch_rows")), 1)
        times: list[float] = []
        last: CallOutcome | None = None
        for _ in range(calls):
            batch = frame.iloc[rng.integers(0, len(frame), size=size)].reset_index(drop=True)
            last = call_tool(ctx.tool, batch, timeout, mode=mode)
            if not last.answered:
                break
            times.append(last.seconds)
        assert last is not None
        case = Case("normal", f"{calls} ordinary batches of {size} rows", frame.iloc[:size], timeout=timeout)
        self._record(ctx, out, case, last, rows)
        if len(times) == calls:
            p50, p95 = np.percentile(times, [50, 95])
            details = {"calls": calls, "batch_rows": size, "seconds": [round(t, 6) for t in times]}
            out.measurements += [
                Measurement(SUITE, self.name, "latency_p50_s", float(p50), n=calls, details=details),
                Measurement(SUITE, self.name, "latency_p95_s", float(p95), n=calls, details=details)]
            out.messages[f"{SUITE}.{self.name}.latency_p95_s"] = (
                f"95th percentile of {calls} calls on {size} rows: {p95:.3f} s (median {p50:.3f} s).")
        return last

    def _record(self, ctx: CheckContext, out: CheckOutput, case: Case, call: CallOutcome,
                rows: list[dict[str, Any]]) -> None:
        failed, why = judge(case, call)
        m = Measurement(SUITE, self.name, "failure", 1.0 if failed else 0.0, group=case.name, n=len(case.frame),
                        details={"outcome": call.outcome, "seconds": round(call.seconds, 4),
                                 "error": call.error_type, "message": call.message, "timeout_s": case.timeout,
                                 **case.details})
        out.measurements.append(m)
        out.messages[m.key] = f"Given {case.description}, the tool {call.describe()}: {why}."
        rows.append({"case": case.name, "input": case.description, "rows": len(case.frame),
                     "outcome": call.outcome, "failed": failed, "seconds": round(call.seconds, 4),
                     "error": call.error_type, "message": call.message, "timeout_s": case.timeout})


__all__ = ["FAILURES", "Case", "GracefulFailure", "judge", "malformed_cases"]
