"""Perturbations of a tool's inputs, vectorised and seeded: the degradation suite's robustness check measures
how decisions change under them, and the explainability suite whether a decision is still explained the same
way (moved here from the degradation suite unchanged, so both suites perturb alike without importing each other).

Three kinds, each at a `level` in [0, 1] (the policy's severities):

- ``noise``: Gaussian noise with a standard deviation of `level` times each numeric feature's own
  standard deviation (so a feature in dollars and one in years are disturbed alike), clipped to the
  range seen in the reference data and rounded for integer columns. Clipping keeps the inputs
  plausible: out-of-range values are the graceful-failure check's question, not this one's.
- ``categorical``: a share `level` of each categorical feature's values redrawn from that feature's
  own distribution (a redraw can give the same value back, as a real recording error can).
- ``missing``: a share `level` of all perturbed cells removed (NaN).

Only the columns the tool reads are perturbed, and protected attributes are left alone unless the
policy says otherwise: changing a protected attribute is the bias suite's counterfactual test, and
keeping group membership fixed is what lets degradation be compared between groups.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ColumnSpec

KINDS: tuple[str, ...] = ("noise", "categorical", "missing")
KIND_TEXT = {
    "noise": "Gaussian noise of {level:g} standard deviations on each numeric input",
    "categorical": "{level:.0%} of each categorical input's values redrawn at random",
    "missing": "{level:.0%} of input values removed",
}
CATEGORICAL_TYPES = ("string", "category", "boolean")


@dataclass(frozen=True)
class ColumnPlan:
    """What each perturbed column is, measured once on the reference data."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    sd: np.ndarray                # per numeric column
    low: np.ndarray
    high: np.ndarray
    integer: np.ndarray           # bool per numeric column: round after adding noise
    codes: dict[str, np.ndarray]  # categorical column -> integer codes of its values (-1: missing)
    levels: dict[str, pd.Index]   # ... the values the codes stand for, in the column's own dtype
    probs: dict[str, np.ndarray]  # ... and each value's share among the non-missing values

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def applies(self, kind: str) -> bool:
        return bool({"noise": self.numeric, "categorical": self.categorical, "missing": self.columns}[kind])


def is_numeric(values: pd.Series, spec: ColumnSpec | None = None) -> bool:
    """Numeric unless the card's column spec says the column is categorical (a code stored as a number)."""
    import pandas as pd

    if spec is not None and spec.type in CATEGORICAL_TYPES:
        return False
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def plan_columns(frame: pd.DataFrame, columns: list[str], specs: dict[str, ColumnSpec] | None = None) -> ColumnPlan:
    import pandas as pd

    specs = specs or {}
    numeric = tuple(c for c in columns if is_numeric(frame[c], specs.get(c)))
    categorical = tuple(c for c in columns if c not in numeric)
    x = frame[list(numeric)].to_numpy(dtype=float, na_value=np.nan) if numeric else np.empty((len(frame), 0))
    with np.errstate(all="ignore"):
        sd = np.nan_to_num(np.nanstd(x, axis=0, ddof=1), nan=0.0) if len(frame) > 1 else np.zeros(x.shape[1])
        low, high = (np.nanmin(x, axis=0), np.nanmax(x, axis=0)) if len(frame) else (sd, sd)
    integer = np.array([pd.api.types.is_integer_dtype(frame[c]) for c in numeric], dtype=bool)
    codes: dict[str, np.ndarray] = {}
    levels: dict[str, pd.Index] = {}
    probs: dict[str, np.ndarray] = {}
    for c in categorical:  # codes once: redrawing codes and mapping back is ~10x cheaper than object arrays
        codes[c], levels[c] = pd.factorize(frame[c])
        counts = np.bincount(codes[c][codes[c] >= 0], minlength=len(levels[c])).astype(float)
        probs[c] = counts / counts.sum() if counts.sum() else counts
    return ColumnPlan(numeric, categorical, sd, low, high, integer, codes, levels, probs)


def perturb(frame: pd.DataFrame, plan: ColumnPlan, kind: str, level: float, rng: np.random.Generator) -> pd.DataFrame:
    """A perturbed copy of `frame` (the tool's input columns); untouched columns are shared, not copied."""
    import pandas as pd

    if kind not in KINDS:
        raise ValueError(f"unknown perturbation kind {kind!r}; expected one of {KINDS}")
    out = frame.copy(deep=False)  # copy-on-write: only the columns assigned below are new
    n = len(frame)
    if kind == "noise" and plan.numeric:
        # one draw for every numeric column (rows x columns, the stream it always was), then column by
        # column: each new column is made once, with no rows x columns copies of the frame in between
        z = rng.standard_normal((n, len(plan.numeric)))
        scale = plan.sd * level
        for j, c in enumerate(plan.numeric):
            col = frame[c].to_numpy(dtype=float, na_value=np.nan) + z[:, j] * scale[j]
            np.clip(col, plan.low[j], plan.high[j], out=col)
            if plan.integer[j]:
                np.round(col, out=col)
            new = pd.Series(col, index=frame.index, copy=False)
            out[c] = new.astype(frame[c].dtype) if plan.integer[j] and not np.isnan(col).any() else new
    elif kind == "categorical":
        for c in plan.categorical:
            if not len(plan.levels[c]):
                continue
            hit = np.flatnonzero(rng.random(n) < level)
            codes = plan.codes[c].copy()
            codes[hit] = rng.choice(len(plan.levels[c]), size=len(hit), p=plan.probs[c])
            out[c] = pd.Series(plan.levels[c].take(codes, allow_fill=True, fill_value=None), index=frame.index)
    elif kind == "missing":
        cols = list(plan.columns)
        gone = rng.random((n, len(cols))) < level
        for j, c in enumerate(cols):
            out[c] = frame[c].mask(gone[:, j])
    return out


def describe(kind: str, level: float) -> str:
    return KIND_TEXT[kind].format(level=level)
