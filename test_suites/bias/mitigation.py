"""What post-processing could do: a threshold-optimizer illustration on the tool's own scores.

When a tool fails a disparity check, the question that follows is whether the disparity is cheap
to remove. Fairlearn's `ThresholdOptimizer` answers it for one family of fixes: keep the tool's
scores, choose a (randomised) decision threshold per group so that the chosen fairness constraint
holds, and maximise accuracy under it. Comparing the tool's own decisions with those gives a rough
price of fairness in accuracy.

It is a hint, never a remedy: the thresholds are fitted and evaluated on the same rows (so the
"after" figures are optimistic), they need the protected attribute at decision time (which may be
unlawful to use), they randomise between thresholds, and the accuracy is measured against the
dataset's labels, which may themselves be biased. `MitigationHint.note` says so in every result.

The tool's scores enter fairlearn through `_ScorePassthrough`, an already-fitted estimator whose
`predict_proba` returns the score column as it is, so no model is refitted and the tool need not
be loadable (a predictions file with a score column suffices).

Fairlearn fits the thresholds; it no longer measures them. The before/after figures depend on the
rows only through each group's confusion counts, so `parity_figures` takes them from one bincount
(`counts.confusion_counts`, the suite's counts engine) and does fairlearn's arithmetic on them in
fairlearn's order: MetricFrame took about 3 s of the check on its 50,000-row sample, the counts take
milliseconds, and the figures are bit-identical (tests/test_mitigation.py compares them with `==`).

Under the demographic-parity constraint (the one the bias suite asks for) fairlearn no longer fits the
thresholds either: `fit_demographic_parity` and `predict_thresholds` take its steps on arrays (one sort per
group, cumulative counts, the upper convex hull, the interpolation on the grid, the randomised decisions),
because fairlearn walks the sorted rows and the hull in Python through dataframe rows, 0.4 s of the 0.5 s
the check took on its 50,000-row sample. fairlearn stays the oracle: tests/test_mitigation.py holds the rules
(probabilities, operators, thresholds) and the decisions to `ThresholdOptimizer`'s with `==`. Equalized odds
still goes through fairlearn.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin

from harness.measures.counts import FN, FP, TN, TP, confusion_counts

CONSTRAINTS = ("demographic_parity", "equalized_odds")
SCORE_COLUMN = "score"

NOTE = (
    "An illustration, not a remedy: it shows what per-group thresholds on the tool's own scores "
    "could reach on this data under the {constraint} constraint. Nothing was applied to the tool. "
    "The thresholds were fitted and evaluated on the same rows, so the 'after' figures are "
    "optimistic; they use the protected attribute at decision time and randomise some decisions, "
    "which may be unlawful or unacceptable in practice; and accuracy is measured against the "
    "dataset's labels, which may carry bias of their own."
)


class _ScorePassthrough(ClassifierMixin, BaseEstimator):
    """A fitted 'model' whose probability of the favourable class is the score column of X.

    ThresholdOptimizer wants an estimator; this lets it threshold scores that already exist."""

    def __init__(self) -> None:
        self.classes_ = np.array([0, 1])        # fitted on construction: check_is_fitted passes
        self.n_features_in_ = 1

    def fit(self, X: Any, y: Any = None) -> _ScorePassthrough:
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        s = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0]
        return np.column_stack([1.0 - s, s])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


@dataclass(frozen=True)
class GroupThreshold:
    """The randomised rule fairlearn chose for one group: with probability `p0` decide by
    `score <operator0> threshold0`, otherwise by `score <operator1> threshold1`. Under equalized
    odds a share `p_ignore` of the group instead gets a constant positive decision with probability
    `prediction_constant`."""

    group: str
    p0: float
    operator0: str
    threshold0: float
    p1: float
    operator1: str
    threshold1: float
    p_ignore: float = 0.0
    prediction_constant: float = 0.0

    def describe(self) -> str:
        parts = [f"{p:.0%}: select when score {op} {t:.3f}"
                 for p, op, t in ((self.p0, self.operator0, self.threshold0),
                                  (self.p1, self.operator1, self.threshold1)) if p > 0]
        text = f"{self.group}: " + "; ".join(parts)
        if self.p_ignore > 0:
            text += (f" (and {self.p_ignore:.0%} of the group decided at random, selected with probability "
                     f"{self.prediction_constant:.2f})")
        return text


@dataclass(frozen=True)
class MitigationHint:
    """Before (the tool's own decisions) and after (the fitted per-group thresholds) on the same rows.

    `ratio_*` is the selection-rate ratio (lowest / highest group), `dp_difference_*` the
    demographic-parity difference, `eo_difference_*` the equalized-odds difference (reported for
    every constraint, since enforcing one kind of parity can worsen the other)."""

    constraint: str
    n: int
    seed: int
    ratio_before: float
    ratio_after: float
    dp_difference_before: float
    dp_difference_after: float
    eo_difference_before: float
    eo_difference_after: float
    accuracy_before: float
    accuracy_after: float
    selection_rates_before: Mapping[str, float]
    selection_rates_after: Mapping[str, float]
    thresholds: tuple[GroupThreshold, ...]
    note: str


@dataclass(frozen=True)
class ParityFigures:
    """One side (before or after) of a hint: the selection-rate ratio and demographic-parity
    difference, the equalized-odds difference, the accuracy and each group's selection rate."""

    ratio: float
    dp_difference: float
    eo_difference: float
    accuracy: float
    selection_rates: Mapping[str, float]


def parity_figures(y_true: np.ndarray, y_pred: np.ndarray, groups: pd.Series,
                   coded: tuple[np.ndarray, pd.Index] | None = None) -> ParityFigures:
    """The figures fairlearn's `demographic_parity_ratio` / `_difference`, `equalized_odds_difference`
    (worst case) and sklearn's `accuracy_score` give, from the groups x [TN, FP, FN, TP] counts.

    Each step is the one fairlearn takes, so the floats are the same to the bit: a group's rate is
    count / total (`selection_rate` divides a dot product of 0/1 by the row count; TPR and FPR are
    sklearn's `confusion_matrix(normalize="true")`, whose 0/0 becomes 0 through `nan_to_num`); a
    difference is max - min over groups (MetricFrame's max |rate - min|, the same number since float
    subtraction is monotonic); the ratio is min / max (NaN when every rate is 0, as in fairlearn, sign
    bit and all); the equalized-odds difference is the larger of the TPR and FPR differences. Integer
    counts below 2**53 convert to float exactly, so no summation order can differ either. `coded`:
    `pd.factorize(groups, sort=True)`, when the caller has made it."""
    y = np.asarray(y_true)
    pred = np.asarray(y_pred)
    for name, values in (("outcomes", y), ("decisions", pred)):
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"parity figures: the {name} must be 0 or 1 (1 the favourable one); "
                             f"found {sorted(set(np.unique(values).tolist()) - {0, 1})[:5]}")
    # the sorted group order of fairlearn and groupby
    codes, names = coded if coded is not None else pd.factorize(groups, sort=True)
    counts = confusion_counts(codes, len(names), y.astype(np.int64), pred.astype(np.int64))
    rows = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        selection = (counts[:, FP] + counts[:, TP]) / rows
        tpr = np.nan_to_num(counts[:, TP] / (counts[:, TP] + counts[:, FN]))
        fpr = np.nan_to_num(counts[:, FP] / (counts[:, FP] + counts[:, TN]))
    # every rate 0: 0/0, which fairlearn returns as pandas' NaN (0x7ff8...), not numpy's (0xfff8... on x86)
    ratio = float(selection.min() / selection.max()) if selection.max() > 0 else float("nan")
    return ParityFigures(
        ratio=ratio,
        dp_difference=float(selection.max() - selection.min()),
        eo_difference=float(max(tpr.max() - tpr.min(), fpr.max() - fpr.min())),
        accuracy=float((counts[:, TN].sum() + counts[:, TP].sum()) / rows.sum()),
        selection_rates={str(g): float(r) for g, r in zip(names, selection, strict=True)},
    )


def _hull(x: list[float], y: list[float]) -> list[int]:
    """fairlearn's `_filter_points_to_get_convex_hull`: Andrew's monotone chain over points sorted by x,
    keeping the upper hull, with its comparison written as it writes it (the same floats, so the same
    points are kept where three are collinear to the last bit). The last two kept points are held in locals
    (x0, y0 below x1, y1), so each step compares without reading the stack: the loop runs once per distinct
    score of each group (thousands), and this is most of the hint's time."""
    kept: list[int] = []
    x0 = y0 = x1 = y1 = 0.0
    for i, (x2, y2) in enumerate(zip(x, y, strict=True)):
        while len(kept) >= 2 and (y1 - y0) * (x2 - x0) <= (y2 - y0) * (x1 - x0):
            kept.pop()
            x1, y1 = x0, y0
            if len(kept) >= 2:
                j = kept[-2]
                x0, y0 = x[j], y[j]
        kept.append(i)
        x0, y0, x1, y1 = x1, y1, x2, y2
    return kept


@dataclass(frozen=True)
class _Curve:
    """One group's accuracy against its selection rate, interpolated on the grid (fairlearn's
    `_interpolate_curve` output): at grid point j, decide by `score > thresholds0[j]` with probability
    p0[j], else by `score > thresholds1[j]`."""

    y: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    thresholds0: np.ndarray
    thresholds1: np.ndarray


def _group_curve(scores: np.ndarray, y: np.ndarray, x_grid: np.ndarray) -> _Curve:
    """fairlearn's `_calculate_tradeoff_points` (selection rate against accuracy, flip off), the upper hull
    and `_interpolate_curve`, for one group.

    fairlearn walks the rows in descending score order; after each run of equal scores the threshold is the
    midpoint of that score and the next lower one (-inf after the last), and the point is (predicted
    positives / n, correct / n) with integer counts. Here the runs come from `np.unique` and the counts from
    cumulative sums, so every point is the same integer quotient; the points are already in increasing
    selection rate (each run adds rows), the order fairlearn sorts them into."""
    values, inverse = np.unique(scores, return_inverse=True)     # ascending; fairlearn walks them descending
    n_at = np.bincount(inverse, minlength=len(values))[::-1]
    pos_at = np.bincount(inverse, weights=y, minlength=len(values)).astype(np.int64)[::-1]
    n = len(scores)
    n_pos = int(y.sum())
    n_neg = n - n_pos
    fp = np.r_[0, np.cumsum(n_at - pos_at)]
    tp = np.r_[0, np.cumsum(pos_at)]
    x = (tp + fp) / n
    acc = (tp + (n_neg - fp)) / n
    desc = values[::-1]
    thresholds = np.r_[np.inf, (desc + np.r_[desc[1:], -np.inf]) / 2]
    kept = np.asarray(_hull(x.tolist(), acc.tolist()), dtype=np.int64)
    xs, ys, ts = x[kept], acc[kept], thresholds[kept]
    # _get_interpolation_indices: xs[i] < grid <= xs[i + 1], the first grid point kept in bounds
    i = np.searchsorted(xs, x_grid, side="right") - 1
    i[1:] = np.where(x_grid[1:] == xs[i[1:]], i[1:] - 1, i[1:])
    p0 = (xs[i + 1] - x_grid) / (xs[i + 1] - xs[i])
    p1 = 1 - p0
    return _Curve(y=p0 * ys[i] + p1 * ys[i + 1], p0=p0, p1=p1, thresholds0=ts[i], thresholds1=ts[i + 1])


def fit_demographic_parity(scores: np.ndarray, y: np.ndarray, groups: pd.Series, grid_size: int = 1000,
                           coded: tuple[np.ndarray, pd.Index] | None = None) -> tuple[GroupThreshold, ...]:
    """The per-group rules `ThresholdOptimizer(constraints="demographic_parity", objective="accuracy_score",
    flip=False)` fits on `scores` (the probability of the favourable decision) and 0/1 outcomes `y`: every
    group's accuracy curve on a grid of `grid_size` + 1 selection rates, the rate where their size-weighted
    sum is highest (the first, on ties), and each group's interpolation there. Groups in sorted order, as
    fairlearn's groupby. Every group needs both outcomes (`hint_unavailable_reason`). `coded`:
    `pd.factorize(groups, sort=True)`, when the caller has made it."""
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(y).astype(np.int64)
    codes, names = coded if coded is not None else pd.factorize(groups, sort=True)
    x_grid = np.linspace(0, 1, grid_size + 1)
    members = [codes == g for g in range(len(names))]
    curves = [_group_curve(s[m], t[m], x_grid) for m in members]
    shares = [int(m.sum()) / len(s) for m in members]
    # fairlearn's own pandas sum, so the weighted curve and its argmax are the same floats
    overall = pd.concat([p * pd.Series(c.y) for p, c in zip(shares, curves, strict=True)], axis=1).sum(axis=1)
    best = int(overall.idxmax())
    return tuple(GroupThreshold(group=str(name), p0=float(c.p0[best]), operator0=">",
                                threshold0=float(c.thresholds0[best]), p1=float(c.p1[best]), operator1=">",
                                threshold1=float(c.thresholds1[best]))
                 for name, c in zip(names, curves, strict=True))


def predict_thresholds(rules: tuple[GroupThreshold, ...], scores: np.ndarray, groups: pd.Series,
                       seed: int, coded: tuple[np.ndarray, pd.Index] | None = None) -> np.ndarray:
    """fairlearn's `InterpolatedThresholder.predict(..., random_state=seed)` for `GroupThreshold` rules with
    operator ">": each row's probability of the favourable decision, p0 [score > t0] + p1 [score > t1] for
    its group (0 for a group without a rule), then 1 where it is at least a uniform draw of
    `np.random.RandomState(seed)`, one per row in row order. `coded`: a factorization of `groups` when they are
    text already (`_groups`), in either order, when the caller has made it."""
    s = np.asarray(scores, dtype=np.float64)
    if coded is None:
        text = groups.astype(str) if isinstance(groups, pd.Series) else pd.Series(np.asarray(groups)).astype(str)
        coded = pd.factorize(text)
    codes, names = coded
    code_of = {str(g): i for i, g in enumerate(names)}
    positive = 0.0 * s
    for r in rules:
        if r.operator0 != ">" or r.operator1 != ">" or r.p_ignore:
            raise ValueError(f"predict_thresholds takes demographic-parity rules (score > t), not {r.describe()!r}")
        rows = codes == code_of.get(r.group, -2)
        positive[rows] = (r.p0 * (s > r.threshold0) + r.p1 * (s > r.threshold1))[rows]
    return (positive >= np.random.RandomState(seed).rand(len(positive))) * 1


def _as_array(values: Any) -> np.ndarray:
    return np.asarray(values.to_numpy() if isinstance(values, pd.Series | pd.DataFrame) else values)


def _groups(sensitive: Any) -> pd.Series:
    """The sensitive attribute as strings, missing values as their own group "missing". A text Series
    is filled in place of the round trip through Python objects (the same strings, a fraction of the time)."""
    if isinstance(sensitive, pd.Series) and isinstance(sensitive.dtype, pd.StringDtype):
        return sensitive.fillna("missing").astype(str).reset_index(drop=True).rename(None)
    s = pd.Series(_as_array(sensitive))
    return s.astype(object).where(s.notna(), "missing").astype(str).reset_index(drop=True)


def hint_unavailable_reason(scores: Any, y_true: Any, sensitive: Any) -> str | None:
    """Why no hint can be computed for these inputs, or None when it can.

    Post-processing thresholds scores, so it needs a score for every row, and it trades off rates
    within each group, so every group needs both outcomes in `y_true`."""
    if scores is None:
        return "the tool gives no scores, only decisions, so there is nothing to re-threshold"
    s = pd.to_numeric(pd.Series(_as_array(scores)), errors="coerce")
    if len(s) == 0:
        return "there are no rows to fit thresholds on"
    if s.isna().any():
        return f"{int(s.isna().sum()):,} of {len(s):,} rows have no numeric score"
    y = _as_array(y_true)
    if len(y) != len(s) or len(sensitive if isinstance(sensitive, pd.Series) else _as_array(sensitive)) != len(s):
        return "scores, outcomes and the sensitive attribute have different numbers of rows"
    groups = _groups(sensitive)
    single = [str(g) for g, v in pd.Series(y).groupby(groups).nunique().items() if v < 2]
    if single:
        return (f"group(s) {', '.join(single)} have only one outcome in the data, so their thresholds "
                f"cannot be traded off")
    return None


def threshold_optimizer_hint(scores: Any, y_true: Any, sensitive: Any, labels_before: Any,
                             constraint: str = "demographic_parity", grid_size: int = 1000,
                             seed: int = 0) -> MitigationHint | None:
    """Fit fairlearn's ThresholdOptimizer (objective: accuracy) to the tool's `scores` and report the
    disparity and accuracy of the tool's own decisions (`labels_before`, 0/1 with 1 the favourable
    decision) against those of the fitted thresholds, on the same rows.

    `y_true` is 0/1 with 1 the favourable outcome; `sensitive` one protected attribute per row.
    Returns None when `hint_unavailable_reason` gives a reason. The randomised decisions are drawn
    with `seed`, so the same inputs give the same hint."""
    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {', '.join(CONSTRAINTS)}, not {constraint!r}")
    if hint_unavailable_reason(scores, y_true, sensitive) is not None:
        return None
    x = pd.DataFrame({SCORE_COLUMN: pd.to_numeric(pd.Series(_as_array(scores))).to_numpy(dtype=np.float64)})
    y = _as_array(y_true).astype(int)
    before = _as_array(labels_before).astype(int)
    groups = _groups(sensitive)
    coded = pd.factorize(groups, sort=True)  # once, for the fit, its decisions and both sides' figures

    if constraint == "demographic_parity":
        thresholds = fit_demographic_parity(x[SCORE_COLUMN].to_numpy(), y, groups, grid_size, coded)
        after = predict_thresholds(thresholds, x[SCORE_COLUMN].to_numpy(), groups, seed, coded).astype(int)
    else:
        optimizer = ThresholdOptimizer(estimator=_ScorePassthrough(), constraints=constraint,
                                       objective="accuracy_score", grid_size=grid_size, prefit=True,
                                       predict_method="predict_proba")
        optimizer.fit(x, y, sensitive_features=groups)
        after = np.asarray(optimizer.predict(x, sensitive_features=groups, random_state=seed)).astype(int)
        thresholds = _thresholds(optimizer)

    b, a = parity_figures(y, before, groups, coded), parity_figures(y, after, groups, coded)
    return MitigationHint(
        constraint=constraint, n=len(y), seed=seed,
        ratio_before=b.ratio, ratio_after=a.ratio,
        dp_difference_before=b.dp_difference, dp_difference_after=a.dp_difference,
        eo_difference_before=b.eo_difference, eo_difference_after=a.eo_difference,
        accuracy_before=b.accuracy, accuracy_after=a.accuracy,
        selection_rates_before=b.selection_rates, selection_rates_after=a.selection_rates,
        thresholds=thresholds,
        note=NOTE.format(constraint=constraint.replace("_", " ")),
    )


def _thresholds(optimizer: ThresholdOptimizer) -> tuple[GroupThreshold, ...]:
    """The per-group rules from fairlearn's fitted InterpolatedThresholder (a documented attribute,
    `interpolated_thresholder_.interpolation_dict`); empty if a fairlearn version stops exposing it."""
    rules = getattr(getattr(optimizer, "interpolated_thresholder_", None), "interpolation_dict", None)
    if not isinstance(rules, Mapping):
        return ()
    out = []
    for group, rule in rules.items():
        out.append(GroupThreshold(
            group=str(group),
            p0=float(rule["p0"]), operator0=rule["operation0"].operator,
            threshold0=float(rule["operation0"].threshold),
            p1=float(rule["p1"]), operator1=rule["operation1"].operator,
            threshold1=float(rule["operation1"].threshold),
            p_ignore=float(rule.get("p_ignore", 0.0)),
            prediction_constant=float(rule.get("prediction_constant", 0.0)),
        ))
    return tuple(sorted(out, key=lambda t: t.group))
