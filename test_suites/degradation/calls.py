"""Calling the tool with a timeout, and telling a clear refusal from a crash.

Every call of the degradation suite goes through `call_tool`: the call runs in a daemon worker thread
and the suite waits on a `concurrent.futures.Future` for at most the policy's timeout. Python cannot
kill a thread, so a call that does not return in time is recorded as a *hang* and abandoned: its
thread keeps running in the background (it is a daemon, so it never keeps the process alive at exit)
and whatever it returns later is ignored. A tool that hangs on purpose therefore costs one idle
thread, not a stuck assessment. (`ThreadPoolExecutor` is not used because its workers are joined at
interpreter exit, which a hung call would block forever.)

What counts as a *clear* error (policy "Safety": "degrading gracefully, at worst"): the tool refused
the batch with a typed validation error — `ValueError` or `TypeError` (Python's conventions for "this
input is wrong", used by scikit-learn, pandas and pydantic) — whose message says what was wrong: it
names an affected input column, the offending value, or the kind of problem (e.g. "NaN", "unknown
category", "empty"). With `settings.degradation.clear_error: typed` any `ValueError`/`TypeError`
counts. Anything else is a *crash*: `KeyError`, `IndexError`, `ZeroDivisionError`, `RuntimeError`,
a bare `Exception`, a typed error that says nothing useful, or an output that is not one answer per
input row (*invalid output*). A crash means a caseworker gets no answer and no reason for a whole
batch because of one bad field.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import ToolError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import pandas as pd

    from harness.tools import Predictions

RESULT, CLEAR_ERROR, INVALID_OUTPUT, CRASH, HANG = "result", "clear_error", "invalid_output", "crash", "hang"
FAILURES = frozenset({INVALID_OUTPUT, CRASH, HANG})
TYPED = (ValueError, TypeError)

# words that say what kind of problem a message is about, per kind of malformed input
PROBLEM_WORDS: dict[str, tuple[str, ...]] = {
    "nulls": ("nan", "null", "missing", "na", "none", "empty value", "not finite", "non-finite", "impute"),
    "out_of_range": ("range", "bound", "bounds", "out of", "limit", "too large", "too small", "exceed", "exceeds",
                     "maximum", "minimum", "invalid value", "outside"),
    "unseen_categories": ("unknown", "unseen", "category", "categories", "not in", "invalid value", "unexpected",
                          "not one of", "allowed"),
    "wrong_types": ("type", "dtype", "convert", "numeric", "number", "float", "integer", "int", "str", "string",
                    "parse", "literal", "could not"),
    "empty": ("empty", "no rows", "0 rows", "zero rows", "0 sample", "0 samples", "0 sample(s)", "at least one",
              "minimum of 1"),
    "large_batch": ("too large", "too many", "batch size", "maximum", "limit", "rows"),
}


@dataclass(frozen=True)
class CallOutcome:
    """What one call did: `outcome` is one of result, clear_error, invalid_output, crash, hang."""

    outcome: str
    seconds: float
    predictions: Predictions | None = None
    error_type: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.outcome in FAILURES

    @property
    def answered(self) -> bool:
        return self.outcome == RESULT

    def describe(self) -> str:
        if self.outcome == RESULT:
            return f"returned a result in {self.seconds:.2f} s"
        if self.outcome == HANG:
            return f"did not return within {self.seconds:.1f} s (a hang; the call was abandoned)"
        if self.outcome == INVALID_OUTPUT:
            return f"returned unusable output: {self.message}"
        kind = "a clear error" if self.outcome == CLEAR_ERROR else "a crash"
        return f"raised {self.error_type}: {self.message} ({kind})"


def timed_call(fn: Callable[[Any], Any], arg: Any, timeout: float) -> tuple[str, Any, float]:
    """("returned", value, s), ("raised", exception, s) or ("hung", None, timeout)."""
    fut: Future[Any] = Future()

    def work() -> None:
        if not fut.set_running_or_notify_cancel():  # pragma: no cover - nothing cancels it
            return
        try:
            fut.set_result(fn(arg))
        except BaseException as e:  # the tool's failure, whatever it is, is the evidence
            fut.set_exception(e)

    worker = threading.Thread(target=work, name="harness-degradation-call", daemon=True)
    t0 = time.perf_counter()
    worker.start()
    done, _ = wait_for([fut], timeout=timeout)
    elapsed = time.perf_counter() - t0
    if not done:
        return "hung", None, float(timeout)
    exc = fut.exception()
    return ("raised", exc, elapsed) if exc is not None else ("returned", fut.result(), elapsed)


def root_error(e: BaseException) -> BaseException | None:
    """The tool's own exception: adapters wrap it in a ToolError raised `from` it. A ToolError with no
    cause is the adapter's verdict on the output (wrong length, not labels): None."""
    if isinstance(e, ToolError):
        return e.__cause__
    return e


def is_clear(e: BaseException, hints: Iterable[str], mode: str = "named") -> bool:
    """A typed validation error that says what was wrong (see the module docstring)."""
    if not isinstance(e, TYPED):
        return False
    text = str(e).strip()
    if mode == "typed":
        return bool(text)
    low = text.lower()
    for h in hints:
        h = str(h).strip().lower()
        if not h:
            continue
        if re.fullmatch(r"[\w ]+", h):  # a word or phrase: match it whole, so "na" does not match "name"
            if re.search(rf"(?<![\w]){re.escape(h)}(?![\w])", low):
                return True
        elif h in low:
            return True
    return False


def call_tool(tool: Any, frame: pd.DataFrame, timeout: float, hints: Iterable[str] = (),
              mode: str = "named") -> CallOutcome:
    """Call `tool.predict_frame(frame)` with a timeout and classify what happened."""
    status, value, seconds = timed_call(tool.predict_frame, frame, timeout)
    if status == "hung":
        return CallOutcome(HANG, seconds)
    if status == "raised":
        root = root_error(value)
        if root is None:  # the adapter refused the output
            return CallOutcome(INVALID_OUTPUT, seconds, error_type=type(value).__name__, message=_short(value))
        outcome = CLEAR_ERROR if is_clear(root, hints, mode) else CRASH
        return CallOutcome(outcome, seconds, error_type=type(root).__name__, message=_short(root))
    preds: Predictions = value
    n = len(frame)
    labels = getattr(preds, "labels", None)
    if labels is None or len(labels) != n:
        got = "no labels" if labels is None else f"{len(labels)} labels"
        return CallOutcome(INVALID_OUTPUT, seconds, message=f"{got} for {n} input rows; expected one per row")
    scores = getattr(preds, "scores", None)
    if scores is not None and len(scores) != n:
        return CallOutcome(INVALID_OUTPUT, seconds, message=f"{len(scores)} scores for {n} input rows")
    return CallOutcome(RESULT, seconds, predictions=preds)


def _short(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or "(no message)"
    return text if len(text) <= limit else text[: limit - 1] + "…"
