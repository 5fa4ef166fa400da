"""The tool's outputs as a contract: one prediction per input row, labels from the target's label
space, scores in [0, 1], nothing missing, and the same output schema every time it is called.

Every other check reads these outputs; a tool that returns a NaN, an unknown label or a score of 1.3
would make those figures quietly wrong, so a violation blocks (policy 4.2, and the Safety clause's
"correct results ... avoids unexpected failures"). Findings name the first few rows by id.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.findings import Finding, Status
from harness.tools import Predictions, can_call, input_frame
from harness.tools.labels import quoted
from test_suites.data_quality.rules import SUITE, label, pct, rule

if TYPE_CHECKING:
    from harness.check import CheckContext

CHECK = "outputs"
NAMED = 5          # ids named in a message
SAMPLE_ROWS = 64   # rows the tool is called on, twice, to test its schema


def allowed_labels(ctx: CheckContext) -> list[Any]:
    """The label space: the target's observed values, plus any the card declares for it."""
    card = ctx.dataset.card
    assert card.target is not None  # the suite runs on binary-classification cards, which must give a target
    target = ctx.frame.get(card.target.column)
    values = [] if target is None else list(pd.unique(target.dropna()))
    spec = card.columns.get(card.target.column)
    if spec is not None and spec.values:
        values += list(spec.values)
    return list(dict.fromkeys(label(v) for v in values))


def missing_mask(x: np.ndarray) -> np.ndarray:
    return pd.isna(pd.Series(x)).to_numpy()


def _as_number(value: str) -> float | None:
    if value in ("True", "False"):
        return float(value == "True")
    try:
        return float(value)
    except ValueError:
        return None


def unknown_mask(labels: np.ndarray, allowed: list[str]) -> np.ndarray:
    """True where a present label is outside the label space (1, 1.0 and "1" are one label).

    `known` is updated in place, so it is always a copy: under pandas 3's copy-on-write `to_numpy()` may hand
    out a read-only view, and "yes" among 0/1 labels would end the check with an error instead of a FAIL."""
    s = pd.Series(labels)
    present = s.notna().to_numpy()
    numbers = [x for x in map(_as_number, allowed) if x is not None]
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        known = s.astype(float).isin(numbers).to_numpy(copy=True) if numbers else np.zeros(len(s), bool)
        if pd.api.types.is_bool_dtype(s.dtype):
            known |= s.map(label).isin(allowed).to_numpy()
        return present & ~known
    text = s.astype(str).str.strip()
    known = text.isin(allowed).to_numpy(copy=True)
    todo = present & ~known
    if todo.any() and numbers:
        as_num = pd.to_numeric(text[todo], errors="coerce")
        known[todo] = as_num.isin(numbers).to_numpy()
    return present & ~known


def _ids(ctx: CheckContext, positions: np.ndarray, aligned: bool) -> list[Any]:
    """The first few rows' ids (row numbers when the card has no id, the id is personal data, or
    the outputs do not line up with the rows)."""
    card = ctx.dataset.card
    pos = positions[:NAMED]
    if not aligned or not card.id_column or card.id_column in card.pii_columns:
        return [int(p) for p in pos]
    ids = ctx.dataset.ids.to_numpy()
    return [ids[p].item() if hasattr(ids[p], "item") else ids[p] for p in pos]


def _finding(ctx: CheckContext, metric: str, bad: int, total: int, message: str, **details: Any) -> Finding:
    rl = rule(ctx.policy, ctx.tier, CHECK, metric)
    share = bad / total if total else 0.0
    status = Status.PASS if share <= rl.limit else Status.FAIL
    return Finding(suite=SUITE, check=CHECK, metric=metric, status=status, message=message, severity=rl.severity,
                   value=share, threshold=rl.limit, greater_is_better=False, n=total,
                   policy_section=rl.policy_section, benchmark=rl.benchmark or None, dataset=ctx.dataset.name,
                   details={"count": bad, **details})


def output_findings(ctx: CheckContext, preds: Predictions | None = None) -> list[Finding]:
    """Length, labels, missing values and score range of the shared predictions, plus schema stability."""
    preds = ctx.predictions if preds is None else preds
    n = len(ctx.frame)
    labels = np.asarray(preds.labels)
    scores = None if preds.scores is None else np.asarray(preds.scores)
    out: list[Finding] = []
    m = len(labels)
    aligned = m == n and (scores is None or len(scores) == n)
    lengths = f"{m:,} labels" + ("" if scores is None else f" and {len(scores):,} scores")
    out.append(_finding(ctx, "length", 0 if aligned else abs(m - n) or 1, n,
                        f"the tool returned {lengths} for {n:,} input rows" +
                        ("" if aligned else "; every row needs exactly one prediction, so no output can be "
                                            "matched to its row"), labels=m, rows=n,
                        scores=None if scores is None else len(scores)))
    where = "rows" if aligned else "output positions"

    out.append(label_space(ctx, labels, aligned, where))

    nan_labels = missing_mask(labels)
    nan_scores = np.zeros(0, bool) if scores is None else missing_mask(scores)
    k_l, k_s = int(nan_labels.sum()), int(nan_scores.sum())
    pos = np.union1d(np.flatnonzero(nan_labels), np.flatnonzero(nan_scores))
    total = m + (0 if scores is None else len(scores))
    out.append(_finding(
        ctx, "no_nan", k_l + k_s, total,
        "no label or score is missing (NaN)" if k_l + k_s == 0 else
        f"{k_l:,} labels and {k_s:,} scores are missing (NaN); {where} {_ids(ctx, pos, aligned)}",
        labels=k_l, scores=k_s, ids=_ids(ctx, pos, aligned)))

    if scores is None:
        out.append(Finding(suite=SUITE, check=CHECK, metric="scores_in_range", status=Status.SKIPPED,
                           message="the tool returns no scores", dataset=ctx.dataset.name,
                           policy_section=rule(ctx.policy, ctx.tier, CHECK, "scores_in_range").policy_section))
    else:
        with np.errstate(invalid="ignore"):
            x = pd.to_numeric(pd.Series(scores), errors="coerce").to_numpy(dtype=float)
            bad = ~np.isnan(x) & ((x < 0) | (x > 1))
        pos = np.flatnonzero(bad)
        k = int(bad.sum())
        out.append(_finding(
            ctx, "scores_in_range", k, len(scores),
            f"every score lies in [0, 1] (range {np.nanmin(x):.3g} to {np.nanmax(x):.3g})"
            if k == 0 and np.isfinite(x).any() else
            "every score lies in [0, 1]" if k == 0 else
            f"{k:,} scores ({pct(k / len(scores))}) lie outside [0, 1], e.g. "
            f"{', '.join(f'{v:g}' for v in x[pos[:NAMED]])}; {where} {_ids(ctx, pos, aligned)}",
            ids=_ids(ctx, pos, aligned), examples=[float(v) for v in x[pos[:NAMED]]]))
    out.append(schema_stability(ctx))
    return out


def label_space(ctx: CheckContext, labels: np.ndarray, aligned: bool, where: str) -> Finding:
    """Labels outside the target's label space (missing labels are left to the NaN check). The first few are
    quoted cut short and scrubbed (`harness.tools.labels.quoted`): a python tool's or a predictions file's labels
    are the tool's own text, not scrubbed on the way in, and could carry what it read into the report."""
    allowed = allowed_labels(ctx)
    m = len(labels)
    if not allowed:
        assert ctx.dataset.card.target is not None  # allowed_labels read it
        return Finding(suite=SUITE, check=CHECK, metric="labels_in_set", status=Status.SKIPPED,
                       message=f"the label space is unknown: the data has no target column "
                               f"{ctx.dataset.card.target.column!r} and the card declares no values for it",
                       dataset=ctx.dataset.name,
                       policy_section=rule(ctx.policy, ctx.tier, CHECK, "labels_in_set").policy_section)
    unknown = unknown_mask(labels, allowed)
    k = int(unknown.sum())
    pos = np.flatnonzero(unknown)
    seen = list(dict.fromkeys(quoted(label(v)) for v in labels[pos[:200]]))[:NAMED]
    ids = _ids(ctx, pos, aligned)
    message = (f"all {m:,} labels are in the label space {allowed}" if k == 0 else
               f"{k:,} labels ({pct(k / m)}) are outside the label space {allowed}, e.g. "
               f"{', '.join(repr(v) for v in seen)}; {where} {ids}")
    return _finding(ctx, "labels_in_set", k, m, message, allowed=allowed, unknown=seen, ids=ids)


def _describe(p: Predictions) -> dict[str, Any]:
    labels = np.asarray(p.labels)
    d: dict[str, Any] = {"labels_dtype": str(labels.dtype), "labels_shape": list(labels.shape)}
    if p.scores is not None:
        s = np.asarray(p.scores)
        d.update(scores_dtype=str(s.dtype), scores_shape=list(s.shape))
    else:
        d.update(scores_dtype=None, scores_shape=None)
    return d


def _differs(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Which of k outputs differ between two calls (all of them when the shapes differ)."""
    if a.shape != b.shape or len(a) != k:
        return np.ones(k, bool)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return ~np.isclose(a, b, rtol=0, atol=1e-9, equal_nan=True)
    return np.asarray([label(x) != label(y) for x, y in zip(a, b, strict=True)], dtype=bool)


def schema_stability(ctx: CheckContext) -> Finding:
    """Call the tool twice on the same small sample; dtype, shape and values must agree, and the
    dtype must match the assessment's own call."""
    rl = rule(ctx.policy, ctx.tier, CHECK, "schema_stable")
    base: dict[str, Any] = {"suite": SUITE, "check": CHECK, "metric": "schema_stable", "dataset": ctx.dataset.name,
            "severity": rl.severity, "policy_section": rl.policy_section}
    tool = ctx.tool
    if tool is None or not can_call(tool):
        return Finding(**base, status=Status.SKIPPED,
                       message="the tool cannot be called on new inputs (its outputs were supplied as a file): "
                               "the stability of its output schema across calls cannot be tested")
    n = len(ctx.frame)
    k = min(SAMPLE_ROWS, n)
    rows = np.sort(ctx.rng("data_quality.outputs").choice(n, size=k, replace=False))
    cols = tool.input_columns(ctx.dataset) if hasattr(tool, "input_columns") else None
    try:
        sample = input_frame(ctx.dataset, cols).iloc[rows].reset_index(drop=True)
        first, second = tool.predict_frame(sample), tool.predict_frame(sample)
    except Exception as e:  # the tool's own failure on a sample fails this check; it must not hide the rest
        return Finding(**base, status=Status.FAIL, value=1.0, threshold=rl.limit,
                       message=f"calling the tool twice on a sample of {k} rows failed: {type(e).__name__}: {e}")
    d1, d2, d0 = _describe(first), _describe(second), _describe(ctx.predictions)
    problems = [f"{key} {d1[key]} then {d2[key]}" for key in d1 if d1[key] != d2[key]]
    main_kind = np.asarray(ctx.predictions.labels).dtype.kind
    if np.asarray(first.labels).dtype.kind != main_kind:
        problems.append(f"labels dtype {d1['labels_dtype']} on the sample but {d0['labels_dtype']} on the dataset")
    if (first.scores is None) != (ctx.predictions.scores is None):
        had = "with" if ctx.predictions.scores is not None else "without"
        problems.append(f"the dataset's outputs came {had} scores, the sample's did not")
    changed = _differs(np.asarray(first.labels), np.asarray(second.labels), k)
    if first.scores is not None and second.scores is not None:
        changed |= _differs(np.asarray(first.scores, float), np.asarray(second.scores, float), k)
    pos = np.flatnonzero(changed)
    if len(pos):
        ids = _ids(ctx, rows[pos], True)
        problems.append(f"{len(pos)} of {k} outputs changed between two identical calls, rows {ids}")
    details = {"first": d1, "second": d2, "assessment": d0, "rows": k}
    if problems:
        return Finding(**base, status=Status.FAIL, value=1.0, threshold=rl.limit, n=k, details=details,
                       message="the tool's outputs are not stable across calls: " + "; ".join(problems))
    what = "labels and scores" if first.scores is not None else "labels"
    return Finding(**base, status=Status.PASS, value=0.0, threshold=rl.limit, n=k, details=details,
                   message=f"two calls on the same {k} rows returned the same {what} with the same dtype "
                           f"({d1['labels_dtype']}) and shape")


__all__ = ["allowed_labels", "output_findings", "schema_stability", "unknown_mask"]
