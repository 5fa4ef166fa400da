"""Permutation importance through a tool's own `predict_frame`, equal to scikit-learn's.

`sklearn.inspection.permutation_importance` needs an estimator with `fit`; a vendor's endpoint, a sandboxed
pickle or a City callable has only `predict_frame`. This module repeats scikit-learn's algorithm on that
interface, step for step, so that for a scikit-learn model the two give the same numbers (the tests hold them
to 1e-12):

- one `RandomState(random_state)` draws a single seed, and every column is permuted by a fresh
  `RandomState(seed)`, so every column sees the same sequence of shuffles;
- each repeat shuffles the index array in place and applies it to the already-permuted column (the
  permutations compose, as in scikit-learn's `_calculate_permutation_scores`);
- the importance of a repeat is the baseline score minus the permuted score; `mean` and `std` (ddof 0) are
  scikit-learn's `importances_mean` and `importances_std`.

What differs is only how the tool is called: all repeats of one column go to the tool in one stacked batch
(n x repeats rows), which a remote or sandboxed tool answers far faster than `repeats` separate calls, and
gives the same predictions for any tool that scores rows independently. Each copy keeps the rows' own labels
(the frame's index), as the bias suite's counterfactual check does: only the permuted column changes.

Two targets share the same permuted predictions, so the second costs no extra call:

- the outcome (the card's target): the drop in balanced accuracy, accuracy or AUC, the usual permutation
  importance of Breiman (2001) and scikit-learn;
- the tool's own decisions: with accuracy as the score and the tool's unpermuted decisions as `y`, the
  importance is the share of decisions that change when the column is scrambled. That is what "the tool
  relies on this input" means for a person: how many decisions would come out differently. A feature can
  change many decisions and barely move accuracy (when it flips right and wrong decisions alike).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# a scorer takes (favourable labels 0/1, favourable scores or None) and returns a number, higher is better
Scorer = Callable[[np.ndarray, "np.ndarray | None"], float]
Predict = Callable[["pd.DataFrame"], "tuple[np.ndarray, np.ndarray | None]"]

SCORINGS = ("balanced_accuracy", "accuracy", "roc_auc")


def scorer(name: str, y: np.ndarray) -> Scorer:
    """A scorer against `y` (0/1) by scikit-learn's metric of that name; "roc_auc" reads the scores.

    Accuracy and balanced accuracy are computed here as scikit-learn computes them (the mean of the matches; the
    mean over the classes present in `y` of each class's recall, class 0 first), without its input validation,
    which cost more than the arithmetic at repeats x inputs calls per assessment; the tests hold them equal."""
    from sklearn.metrics import roc_auc_score

    truth = np.asarray(y).astype(np.int8)
    if name == "accuracy":
        return lambda labels, _scores: float(np.mean(np.asarray(labels) == truth))
    if name == "balanced_accuracy":
        classes = [truth == c for c in (0, 1) if (truth == c).any()]

        def balanced(labels: np.ndarray, _scores: np.ndarray | None) -> float:
            hit = np.asarray(labels) == truth
            return float(np.mean([hit[c].sum() / c.sum() for c in classes]))
        return balanced
    if name == "roc_auc":
        def auc(_labels: np.ndarray, scores: np.ndarray | None) -> float:
            if scores is None:
                raise ValueError("roc_auc needs the tool's scores")
            return float(roc_auc_score(y, scores))
        return auc
    raise ValueError(f"unknown scoring {name!r}; expected one of {SCORINGS}")


@dataclass(frozen=True)
class Importances:
    """Per target: importances[target] is features x repeats (baseline score minus permuted score)."""

    features: tuple[str, ...]
    baseline: dict[str, float]
    importances: dict[str, np.ndarray]
    random_state: int
    repeats: int
    rows: int

    def mean(self, target: str) -> np.ndarray:
        return np.asarray(self.importances[target].mean(axis=1))

    def std(self, target: str) -> np.ndarray:
        """scikit-learn's `importances_std`: the population standard deviation (ddof 0) over repeats."""
        return np.asarray(self.importances[target].std(axis=1))

    def interval(self, target: str, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """`repeat_interval` of each feature's repeats."""
        return repeat_interval(self.importances[target], confidence)


def repeat_interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Student's t interval for the mean over repeats (last axis): mean -/+ t(1 - a/2, R - 1) s / sqrt(R), with s
    the sample standard deviation (ddof 1). It says how far the mean of R permutations may lie from the mean
    over every possible permutation of these rows, which is what the repeats leave uncertain; it does not
    cover the choice of the rows themselves (a wider sample narrows that, and the policy's floors sit above
    the importance a feature gets by fitting noise). All repeats equal: an interval of width 0."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    r = v.shape[-1]
    mean = v.mean(axis=-1)
    if r < 2:
        return np.full(mean.shape, np.nan), np.full(mean.shape, np.nan)
    half = stats.t.ppf(0.5 + confidence / 2, r - 1) * v.std(axis=-1, ddof=1) / np.sqrt(r)
    return mean - half, mean + half


def permutation_importance(predict: Predict, frame: pd.DataFrame, baseline_labels: np.ndarray,
                           baseline_scores: np.ndarray | None, scorers: Mapping[str, Scorer], *,
                           repeats: int, random_state: int) -> Importances:
    """Permutation importance of every column of `frame` for every scorer, through `predict` (a frame ->
    favourable labels 0/1 and scores). `baseline_*` are the tool's outputs on `frame` as it is (computed once by
    the assessment, not asked again)."""
    import pandas as pd

    n, cols = len(frame), list(frame.columns)
    seed = int(np.random.RandomState(random_state).randint(np.iinfo(np.int32).max + 1))
    base = {name: s(baseline_labels, baseline_scores) for name, s in scorers.items()}
    out = {name: np.empty((len(cols), repeats)) for name in scorers}
    stacked_index = np.tile(np.arange(n), repeats)
    for j, col in enumerate(cols):
        rs = np.random.RandomState(seed)
        idx = np.arange(n)
        values = frame[col].to_numpy()
        columns = []
        for _ in range(repeats):
            rs.shuffle(idx)
            values = values[idx]
            columns.append(values)
        batch = frame.iloc[stacked_index]  # every copy keeps the rows' own labels, as a changed input would
        batch[col] = pd.Series(np.concatenate(columns), index=batch.index, dtype=frame[col].dtype)
        labels, scores = predict(batch)
        for r in range(repeats):
            part = slice(r * n, (r + 1) * n)
            for name, s in scorers.items():
                out[name][j, r] = base[name] - s(labels[part], None if scores is None else scores[part])
    return Importances(features=tuple(cols), baseline=base, importances=out, random_state=random_state,
                       repeats=repeats, rows=n)
