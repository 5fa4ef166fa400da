"""Reason codes for individual decisions, by occlusion: replace one input at a time by a reference value and see
how far the tool's score moves.

One method, chosen because it needs nothing but the tool's `predict_frame` (a vendor's endpoint, a sandboxed
pickle, a City callable all qualify), costs one batch of rows x inputs per sample, and reads the way a
caseworker explains a decision ("your income, compared with a typical applicant's, lowered the score by 0.21"):

- the reference value of an input is the reference data's median (numeric inputs, rounded for integer
  columns) or its most common value (everything else), so "typical applicant" is fixed for the assessment;
- the strength of input j for a decision is how much that person's own value of j moved the favourable score
  towards the decision taken: s(x) - s(x with j at its reference value) for a favourable decision, the
  negative of that for an unfavourable one. s is the score's log-odds, the scale of a scorecard's points, on
  which a score near 0 or 1 still moves (in probability a saturated score would give every input a strength
  of about 0); without scores, s is the decision itself, 0 or 1, so only an input whose replacement reverses
  the decision is a reason;
- the reasons for a decision are the inputs of positive strength, strongest first, at most `count` of them
  (ties broken by input order). An input already at its reference value cannot be a reason.

Occlusion explains one input at a time and misses what only several inputs do together; SHAP values (when the
shap package is installed) share a prediction out among inputs with that interaction accounted for.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

TOLERANCE = 1e-9  # a score that moves by less (in log-odds) is not moved: floating-point noise of a pipeline
SCORE_EDGE = 1e-9  # scores are clipped to [SCORE_EDGE, 1 - SCORE_EDGE] before taking log-odds


def reference_values(frame: pd.DataFrame, numeric: Sequence[str]) -> dict[str, Any]:
    """Each column's reference value: the median of a numeric column (rounded for integers), else the most
    common value (ties: the first in sorted order, so the choice does not depend on row order)."""
    import pandas as pd

    out: dict[str, Any] = {}
    for c in frame.columns:
        values = frame[c]
        if c in numeric:
            median = float(values.median())
            out[c] = round(median) if pd.api.types.is_integer_dtype(values) else median
        else:
            modes = values.dropna().mode()
            out[c] = modes.iloc[0] if len(modes) else None
    return out


def strengths(predict: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray | None]], frame: pd.DataFrame,
              reference: dict[str, Any], decisions: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    """rows x inputs: how much each input's own value moved the score towards the decision taken (see the
    module docstring). One call of the tool on len(frame) x len(inputs) rows."""
    import pandas as pd

    n, cols = len(frame), list(frame.columns)
    if n == 0 or not cols:
        return np.zeros((n, len(cols)))
    copies = []
    for c in cols:
        occluded = frame.copy()
        occluded[c] = pd.Series([reference[c]] * n, index=frame.index, dtype=frame[c].dtype)
        copies.append(occluded)
    labels, new_scores = predict(pd.concat(copies))  # each copy keeps the rows' own labels
    if scores is not None and new_scores is not None:
        before, after = log_odds(scores), log_odds(new_scores)
    else:
        before, after = np.asarray(decisions, dtype=float), np.asarray(labels, dtype=float)
    delta = before[:, None] - after.reshape(len(cols), n).T
    delta[np.abs(delta) < TOLERANCE] = 0.0
    return np.where(np.asarray(decisions)[:, None] == 1, delta, -delta)


def log_odds(scores: np.ndarray) -> np.ndarray:
    """log(s / (1 - s)), with s kept within [1e-9, 1 - 1e-9]: on this scale a score of 0.000001 can still move,
    where in probability it would be stuck at 0 and every input would look like no reason at all."""
    s = np.clip(np.asarray(scores, dtype=float), SCORE_EDGE, 1 - SCORE_EDGE)
    return np.asarray(np.log(s) - np.log1p(-s))


def top_reasons(strength: np.ndarray, features: Sequence[str], count: int) -> list[tuple[str, ...]]:
    """Per row, the inputs of positive strength, strongest first (ties in input order), at most `count`."""
    out = []
    for row in np.asarray(strength, dtype=float):
        order = sorted((j for j in range(len(row)) if row[j] > 0), key=lambda j: (-row[j], j))
        out.append(tuple(features[j] for j in order[:count]))
    return out


def overlap(a: Sequence[str], b: Sequence[str]) -> float:
    """Top-k overlap of two reason lists: the share of the longer list the other one also gives (1 when both
    are empty: no reason either time is the same explanation)."""
    if not a and not b:
        return 1.0
    return len(set(a) & set(b)) / max(len(a), len(b))

