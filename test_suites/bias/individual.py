"""Inequality and individual-fairness metrics that fairlearn lacks: aif360's generalized entropy
indices (Speicher et al., KDD 2018) and its kNN consistency (Zemel et al., ICML 2013).

aif360 is only the test oracle (tests/test_individual_fairness.py holds every function here to it,
to 1e-9); it is not imported here, because importing it pulls optional back-ends and logs warnings,
and because the entropy indices need nothing but the confusion-count table the bias suite already
builds. aif360 scores each individual by the benefit b_i = yhat_i - y_i + 1, which takes only three
values: 0 for a false negative, 1 for a true negative or true positive, 2 for a false positive. So
an index over individuals is a function of the four cell counts, it vectorises over bootstrap
samples (leading axes) like everything in `metrics.py`, and weighted counts give the index with
frequency weights (aif360 itself ignores instance weights here).

Three aif360 behaviours are reproduced on purpose, so the numbers agree with the reference tool:

* alpha = 1 (Theil): aif360 evaluates log((b/mu)**b) rather than b*log(b/mu), so b = 0 (a false
  negative) contributes 0, the limit of x log x; the index stays finite.
* alpha = 0 (mean log deviation): aif360 returns -mean(log(b/mu) / mu), i.e. the textbook
  -mean(log(b/mu)) divided by an extra mu (its own docstring states the formula without it). And
  log(0) makes it +inf as soon as there is one false negative. Both are kept, so a reader can put a
  figure from here next to aif360's; prefer alpha = 1 or 2 when false negatives exist.
* alpha < 0 is +inf with any false negative (0**alpha), as in aif360.

Consistency needs row features, not counts; it lives here because it is aif360's other
individual-fairness measure.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.measures.counts import FN, FP, TN, TP

if TYPE_CHECKING:
    import pandas as pd

    from harness.measures.coding import ColumnCodes

# numpy 2's std takes the mean it would compute (`mean=`, with keepdims' shape), so a column is summed once for both
STD_TAKES_MEAN = np.lib.NumpyVersion(np.__version__) >= "2.0.0"

# benefit b = yhat - y + 1 of each cell, in the [TN, FP, FN, TP] order of `harness.measures.counts`
BENEFIT = np.zeros(4)
BENEFIT[[TN, FP, FN, TP]] = [1.0, 2.0, 0.0, 1.0]


def _entropy_index(weights: np.ndarray, values: np.ndarray, alpha: float) -> np.ndarray:
    """Generalized entropy index of a distribution given as distinct `values` held by `weights`
    individuals each (last axis), with aif360's formulas term by term (module docstring).

    Cells with no individuals are masked out rather than multiplied by 0, so an empty cell whose
    term is infinite or undefined (b = 0 with alpha <= 0, or an empty group's NaN mean) cannot
    turn the sum into NaN. No individuals at all, or a mean benefit of 0, gives NaN, as aif360's
    0/0 does.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n = weights.sum(axis=-1)
    present = weights > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu = np.where(present, weights * values, 0.0).sum(axis=-1) / n
        ratio = values / mu[..., None]
        if alpha == 1:
            # log(r**b), not b*log(r): with b = 0 this is log(1) = 0 (aif360's "allows for 0 values")
            term = np.log(ratio**values)
            scale = 1.0 / mu
        elif alpha == 0:
            term = np.log(ratio)
            scale = -1.0 / mu
        else:
            term = ratio**alpha - 1.0
            scale = np.full_like(mu, 1.0 / (alpha * (alpha - 1.0)))
        total = np.where(present, weights * term, 0.0).sum(axis=-1)
        return np.where(n > 0, total / n * scale, np.nan)


def generalized_entropy_index(counts: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """aif360's `ClassificationMetric.generalized_entropy_index(alpha)` from confusion counts.

    `counts` has [TN, FP, FN, TP] on its last axis and any leading axes; one index is returned per
    leading position. For the whole population pass `counts.sum(axis=-2)` (the groups summed);
    passing a (groups, 4) table gives each group's own index. alpha = 1 is `theil_index()`;
    aif360's default is alpha = 2 (half the squared coefficient of variation), ours is the Theil
    index because that is the one usually reported. Limits at alpha = 0 and 1 follow aif360
    exactly, quirks included (module docstring).
    """
    counts = np.asarray(counts, dtype=np.float64)
    return _entropy_index(counts, BENEFIT, float(alpha))


def theil_index(counts: np.ndarray) -> np.ndarray:
    """aif360's `theil_index()`: the generalized entropy index with alpha = 1."""
    return generalized_entropy_index(counts, alpha=1.0)


def group_mean_benefit(counts_by_group: np.ndarray) -> np.ndarray:
    """Each group's mean benefit (TN + TP + 2 FP) / n: 1 + selection rate - base rate. NaN if empty."""
    counts_by_group = np.asarray(counts_by_group, dtype=np.float64)
    n = counts_by_group.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, (counts_by_group * BENEFIT).sum(axis=-1) / n, np.nan)


def between_group_generalized_entropy_index(counts_by_group: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """The between-group part of the generalized entropy index: every individual's benefit replaced
    by the mean benefit of its group, groups along axis -2 of a (..., G, 4) counts table.

    Which groups aif360 uses depends on the method:

    * `between_group_generalized_entropy_index` uses exactly two groups, the rows matching the
      `unprivileged_groups` conditions and the rows matching the `privileged_groups` conditions.
      Several conditions on one side are OR-ed into ONE pooled group (e.g. privileged White vs
      unprivileged "any other race" is a two-group index over White and non-White). So this function
      equals it when given the two-row table [unprivileged, privileged]; for a binary attribute that
      is simply the attribute's table, and for a many-valued one, sum the unprivileged rows first.
      Quirk: rows matched by neither side keep aif360's initial benefit 0 and still count in the
      mean, as if they were a group of false negatives; cover every row with the two sides.
    * `between_all_groups_generalized_entropy_index` gives every value (every combination of values
      of all protected attributes of the dataset) its own group. This function on the full
      (G, 4) table of an attribute equals that method for a dataset whose only protected attribute
      is that one; that is the decomposition-consistent between-group index for G > 2 groups.

    Empty groups are skipped, as aif360 skips a condition no row matches.
    """
    counts_by_group = np.asarray(counts_by_group, dtype=np.float64)
    sizes = counts_by_group.sum(axis=-1)
    return _entropy_index(sizes, group_mean_benefit(counts_by_group), float(alpha))


def between_group_theil_index(counts_by_group: np.ndarray) -> np.ndarray:
    """aif360's `between_group_theil_index()` (alpha = 1); see `between_group_generalized_entropy_index`."""
    return between_group_generalized_entropy_index(counts_by_group, alpha=1.0)


def consistency(features: np.ndarray, y_pred: np.ndarray, n_neighbors: int = 5) -> float:
    """aif360's `BinaryLabelDatasetMetric.consistency(n_neighbors)`: 1 - mean |yhat_i - mean yhat
    over the n_neighbors nearest rows of x_i|, 1 when similar people get the same decision.

    As aif360 does, neighbours are those of sklearn's `NearestNeighbors(algorithm="ball_tree")` fitted
    on the features and queried with the same rows, so each row is (barring exact duplicates, where
    the tie is broken by the tree) its own first neighbour and only n_neighbors - 1 others count.
    aif360 uses whatever feature matrix the dataset holds, protected attributes included and
    unscaled; the figure depends on that choice (see `numeric_feature_matrix`), and it costs a kNN
    query per row, so large data go through `consistency_sample`. The neighbours are found as
    `nearest_neighbour_means` finds them: the ball tree's, faster.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(y_pred, dtype=np.float64).ravel()
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"features must be rows x columns matching y_pred: {x.shape} vs {y.shape}")
    if x.shape[0] == 0:
        return float("nan")
    return float(1.0 - np.mean(np.abs(y - nearest_neighbour_means(x, y, n_neighbors))))


# Largest rounding error of a squared distance computed in float64 (|x|^2 - 2 x.y + |y|^2 as sklearn's brute force
# does, or the sum of squared differences), relative to |x|^2 + |y|^2: about (features + 2) x 2**-53; 1e-9 leaves a
# margin of 10**5 for 100 features. A row's neighbours are taken as found only when its k-th and (k+1)-th squared
# distances are more than twice this apart; the other rows go to the ball tree.
DISTANCE_ROUNDING = 1e-9

# float32 distances screened at once (4 MB): 209 rows of 5,000, a block that amortises the per-block steps (128 rows
# took 44 ms for the 5,000, 209 about 39) and stays small whatever the sample
SCREEN_VALUES = 1 << 20
# column blocks per neighbour sought: the (k+1)-th smallest of 2 (k + 1) block minima bounds a row's (k+1)-th
# nearest distance closely enough for about 8 candidates a row (5,000 rows, k = 5), and each block's minimum costs
# a pass of its own over the row (39 blocks of 128 columns: 12 ms of the 5,000 rows' screen; 12 blocks: 5 ms)
SCREEN_BLOCKS = 2
EXACT_VALUES = 1 << 21  # float64 distances held at once when the screen cannot decide (16 MB)


def nearest_neighbour_means(x: np.ndarray, y: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Each row's mean of `y` over its n_neighbors nearest rows (itself included), the same floats as the
    ball tree aif360 uses gives, at a fraction of its cost in many dimensions.

    Why not the ball tree alone: with the bias benchmark's 23 columns (one-hot neighbourhoods) its query of
    5,000 rows took 0.5 s, a quarter of the bias suite at a million rows; sklearn's brute-force search took a
    fifth of that (0.11 s of CPU), and the float32 screen of `_screened_means` takes 0.04 s. They may disagree
    only where the neighbours are not unique: a tie at the k-th distance, which the ball tree breaks its own
    way. So a row's neighbours are taken from the screen only when its k-th and (k+1)-th squared distances
    are provably more than 2 x DISTANCE_ROUNDING x (|x_i|^2 + max |x|^2) apart: then the set is the one any
    exact search returns, the ball tree's included. The other rows (exact duplicates, equal distances on
    one-hot columns) are queried on the ball tree itself, in one call, as before. The mean of 0/1 decisions
    over the same set is the same float in any order, so `consistency` is unchanged to the bit
    (tests/test_individual_fairness.py compares it with the ball tree alone on tied and untied data)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    k = int(n_neighbors)
    # no (k+1)-th neighbour to compare with, no neighbour asked for, no feature, or a value no distance can be
    # taken of: the ball tree, as before (with sklearn's own error for the last three)
    if n <= k or k < 1 or x.ndim != 2 or x.shape[1] == 0 or not np.isfinite(x).all():
        return _ball_tree_means(x, y, k, x)
    means, unsure = _screened_means(x, y, k)
    if unsure.size:
        means[unsure] = _ball_tree_means(x, y, k, x[unsure])
    return means


def _ball_tree_means(x: np.ndarray, y: np.ndarray, k: int, queries: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    tree = NearestNeighbors(n_neighbors=k, algorithm="ball_tree").fit(x)
    return y[tree.kneighbors(queries)[1]].mean(axis=1)


_THREADS: list[Any] = []


def _one_blas_thread() -> AbstractContextManager[Any]:
    """A context in which BLAS runs on one thread. On a shared machine a team of threads waiting for each other
    costs more than one thread alone (the screen's products for 5,000 rows: 0.09 s of CPU on one thread, 0.33 s
    on a team, no sooner on the clock). The controller is made once: making one scans the loaded libraries
    (4-8 ms a time)."""
    from threadpoolctl import ThreadpoolController

    if not _THREADS:
        _THREADS.append(ThreadpoolController())
    return _THREADS[0].limit(limits=1, user_api="blas")


def _screened_means(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean of `y` over its k nearest rows where they are unique with a margin, and the rows where
    they may not be (for the ball tree).

    The search is a screen in float32 followed by float64 where the screen cannot decide:

    1. x is scaled by a power of two (exactly) so its largest |value| is in [0.5, 1): nothing overflows in
       float32, and what underflows is far below the error allowed. One float32 matrix product per block of
       rows, [x_i, 1] . [-2 x_j, |x_j|^2], gives s_ij = |x_j|^2 - 2 x_i.x_j, the squared distance less |x_i|^2
       (the same for every j of row i, so the order is the distances'). Rounding the factors to float32 moves
       each of the (features + 1) terms by at most 2 u (u = epsilon / 2, float32's unit roundoff) of itself
       and summing them adds at most (features + 1) u of the terms' absolute sum, which is at most
       |x_i|^2 + 2 |x_j|^2 (2 |ab| <= a^2 + b^2). So s_ij is within e_i = (features + 5) x epsilon x
       (|x_i|^2 + 2 max |x|^2) of its exact value, twice the bound and more.
    2. The k+1 smallest of the minima of disjoint column blocks are k+1 distinct rows, so the (k+1)-th nearest
       is at most the largest of them, t_i (+ e_i in truth). Every one of the k+1 nearest rows then has
       s_ij <= t_i + 2 e_i: those are the candidates, a handful per row.
    3. Among a row's candidates, the k smallest s_ij are its neighbours when the (k+1)-th smallest exceeds the
       k-th by more than 2 e_i + 2 x DISTANCE_ROUNDING x (|x_i|^2 + max |x|^2): every row kept is then nearer
       than every other by more than the margin `nearest_neighbour_means` asks for (a row not a candidate has
       s_ij above t_i, hence above the (k+1)-th candidate). Else the candidates' squared distances are taken in
       float64 (`_exact_among`) and the same margin asked of them; a row that passes neither goes to the
       ball tree.
    """
    n, f = x.shape
    scale = np.ldexp(1.0, -int(np.frexp(np.abs(x).max())[1]))
    xs = x * scale
    sq = np.einsum("ij,ij->i", xs, xs)
    a = np.empty((n, f + 1), dtype=np.float32)
    a[:, :f] = xs
    a[:, f] = 1.0
    b = np.empty((f + 1, n), dtype=np.float32)
    b[:f] = (-2.0 * xs).T
    b[f] = sq
    screen_error = (f + 5) * float(np.finfo(np.float32).eps) * (sq + 2.0 * sq.max())
    margin = 2.0 * DISTANCE_ROUNDING * (sq + sq.max())
    blocks = min(n, SCREEN_BLOCKS * (k + 1))
    width = n // blocks
    means = np.empty(n)
    unsure: list[np.ndarray] = []
    undecided: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # rows, their candidates, how many
    block = max(16, SCREEN_VALUES // n)
    buffer = np.empty((min(block, n), n), dtype=np.float32)
    with _one_blas_thread():
        for start in range(0, n, block):
            stop = min(n, start + block)
            rows = stop - start
            s = np.matmul(a[start:stop], b, out=buffer[:rows])
            minima = s[:, :blocks * width].reshape(rows, blocks, width).min(axis=2)
            top = np.partition(minima, k, axis=1)[:, k].astype(np.float64) + 2.0 * screen_error[start:stop]
            limit = np.nextafter(top.astype(np.float32), np.float32(np.inf))  # rounded up, never down
            flat = np.flatnonzero(s <= limit[:, None])
            row, col = np.divmod(flat, n)
            counts = np.bincount(row, minlength=rows)
            slot = np.arange(flat.size) - (np.cumsum(counts) - counts)[row]
            value = np.full((rows, int(counts.max())), np.inf)
            value[row, slot] = s.ravel()[flat]
            candidate = np.zeros(value.shape, dtype=np.intp)
            candidate[row, slot] = col
            near = np.argpartition(value, k, axis=1)[:, :k + 1]
            v = np.take_along_axis(value, near, axis=1)
            sure = v[:, k] - v[:, :k].max(axis=1) > 2.0 * screen_error[start:stop] + margin[start:stop]
            means[start:stop] = y[np.take_along_axis(candidate, near[:, :k], axis=1)].mean(axis=1)
            redo = np.flatnonzero(~sure)
            if redo.size:
                undecided.append((start + redo, candidate[redo], counts[redo]))
        # the rows the screen could not decide, in float64, together (usually a few dozen)
        if undecided:
            rows_left = np.concatenate([r for r, _, _ in undecided])
            width = max(c.shape[1] for _, c, _ in undecided)
            candidates = np.concatenate([np.pad(c, ((0, 0), (0, width - c.shape[1]))) for _, c, _ in undecided])
            counts_left = np.concatenate([c for _, _, c in undecided])
            step = max(1, EXACT_VALUES // max(n, width * f))
            for i in range(0, rows_left.size, step):
                part = rows_left[i:i + step]
                found, ok = _exact_among(xs, sq, y, k, part, candidates[i:i + step], counts_left[i:i + step],
                                         margin[part])
                means[part[ok]] = found[ok]
                unsure.append(part[~ok])
    return means, (np.concatenate(unsure) if unsure else np.zeros(0, dtype=np.intp))


def _exact_among(xs: np.ndarray, sq: np.ndarray, y: np.ndarray, k: int, rows: np.ndarray, candidate: np.ndarray,
                 counts: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_screened_means` step 3 in float64: each row's squared distances to its candidates (the first `counts`
    of its `candidate` row; the rest is padding), |x_i|^2 - 2 x_i.x_j + |x_j|^2 from one matrix product of the
    rows with every row (cheaper than gathering the candidates' features when duplicates make them many), its
    mean of `y` over the k nearest, and whether the (k+1)-th is more than `margin` farther than the k-th."""
    dots = np.take_along_axis(xs[rows] @ xs.T, candidate, axis=1)
    dist = sq[rows][:, None] - 2.0 * dots + sq[candidate]
    dist[np.arange(candidate.shape[1]) >= counts[:, None]] = np.inf
    near = np.argpartition(dist, k, axis=1)[:, :k + 1]
    d = np.take_along_axis(dist, near, axis=1)
    ok = d[:, k] - d[:, :k].max(axis=1) > margin
    return y[np.take_along_axis(candidate, near[:, :k], axis=1)].mean(axis=1), ok


def consistency_rows(n: int, max_rows: int,
                     rng: np.random.Generator | int | None = None) -> np.ndarray | None:
    """The rows of n that `consistency_sample` keeps: None (all of them) when n <= max_rows, else a
    sorted uniform sample of max_rows positions drawn from `rng`.

    One function for both users, so a caller that builds features for the sample only
    (`consistency_inputs`, used by the bias check) draws exactly the rows `consistency_sample`
    would draw from the full matrix, from the same generator state.
    """
    if n <= max_rows:
        return None
    return np.sort(np.random.default_rng(rng).choice(n, size=max_rows, replace=False))


def consistency_sample(features: np.ndarray, y_pred: np.ndarray, n_neighbors: int = 5,
                       max_rows: int = 10_000, rng: np.random.Generator | int | None = None) -> float:
    """`consistency` on at most `max_rows` rows: above that, a uniform random sample of rows drawn
    from `rng` (a Generator or seed, so the figure is reproducible), neighbours searched within the
    sample.

    This is an estimate, not aif360's figure on the full data: in a sample the k nearest neighbours
    are farther apart than in the full data, so the estimate tends to be somewhat lower (less
    consistent) than the full-data value, and it varies with the seed. Report it as sampled.
    """
    x = np.asarray(features)
    y = np.asarray(y_pred).ravel()
    rows = consistency_rows(x.shape[0], max_rows, rng)
    if rows is None:
        return consistency(x, y, n_neighbors)
    return consistency(x[rows], y[rows], n_neighbors)


def consistency_inputs(frame: pd.DataFrame, columns: list[str], y_pred: np.ndarray, max_rows: int,
                       rng: np.random.Generator | int | None = None, *,
                       codes: ColumnCodes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The features and decisions that `consistency_sample(numeric_feature_matrix(frame, columns),
    y_pred, k, max_rows, rng)` passes to `consistency`, without building the full matrix.

    The kNN searches within the sample only, so only the sampled rows need features; the scaling and
    the category levels still come from every row (`numeric_feature_matrix(..., rows=)`), so the
    numbers are the same bit for bit. At 1M rows and 5,000 sampled this avoids a 1M x features
    float64 matrix and its one-hot parts (about 400 MiB for the bias benchmark's 23 columns, three
    times the frame; issue 13, section 5). Raises numeric_feature_matrix's ValueError for a missing
    numeric value anywhere in the data, sampled or not, as the full matrix did. `codes`: the frame's
    shared column codes (see `numeric_feature_matrix`).
    """
    y = np.asarray(y_pred).ravel()
    rows = consistency_rows(len(frame), max_rows, rng)
    x = numeric_feature_matrix(frame, columns, rows, codes=codes)
    return x, (y if rows is None else y[rows])


def _indicator_rows(text: pd.Series, rows: np.ndarray) -> np.ndarray:
    """`pd.get_dummies(text, dtype=float).to_numpy()[rows]` without the full indicator matrix.

    get_dummies factorises a Series with `Categorical(values, ordered=False)` (pandas'
    `factorize_from_iterable`): its categories, sorted, are the columns, its codes say which column
    holds the 1.0, and code -1 (missing) leaves the row all 0.0. The same call on the whole column
    gives the same levels in the same order; only the kept rows are then written.
    """
    import pandas as pd

    cat = pd.Categorical(text, ordered=False)
    if len(cat.categories) == 0:  # all missing: get_dummies' own empty result, whatever its dtype
        return pd.get_dummies(text.iloc[rows], dtype=float).to_numpy()
    return _indicators(np.asarray(cat.codes), len(cat.categories), rows)


def _indicators(codes: np.ndarray, levels: int, rows: np.ndarray) -> np.ndarray:
    """The kept rows' one-hot matrix of `codes` (0..levels-1, -1 for missing: no 1.0)."""
    kept = codes[rows]
    out = np.zeros((len(kept), levels), dtype=np.float64)
    known = np.flatnonzero(kept >= 0)
    out[known, kept[known]] = 1.0
    return out


def numeric_feature_matrix(frame: pd.DataFrame, columns: list[str], rows: np.ndarray | None = None, *,
                           codes: ColumnCodes | None = None) -> np.ndarray:
    """Rows x features matrix for distance-based metrics: non-numeric columns one-hot encoded
    (pandas `get_dummies`, float), numeric ones standardised to z-scores (population SD), so no
    column dominates Euclidean distance by its units alone (fnlwgt in the hundreds of thousands
    would otherwise decide every neighbour). Zero-variance columns become 0.

    aif360's consistency applies no such preparation: it uses the dataset's feature matrix as given,
    so an oracle comparison must hand aif360 this same matrix. A missing category gets all-zero
    indicators; missing numeric values are rejected, since a kNN cannot place them.

    `rows` (integer positions) returns only those rows, equal bit for bit to indexing the full matrix:
    means, SDs, the missing-value check and the category levels are still taken from every row, one
    column at a time, with the same arithmetic, and the z-score of a row depends on nothing but its
    value and those two scalars. Memory is then one column of the data at a time plus the kept rows
    (`consistency_inputs`). With `rows`, a text column (pandas' string dtypes) takes its levels from
    `codes`, the frame's shared column codes when given: `pd.factorize(values, sort=True)` is what the
    Categorical behind get_dummies computes, so the indicators are the same, without coding the column again.
    """
    import pandas as pd

    n = len(frame) if rows is None else len(rows)
    parts: list[np.ndarray] = []
    for col in columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values):
            v = values.to_numpy(dtype=np.float64)
            mean = v.mean(keepdims=True)
            # a NaN makes the mean NaN, so a finite mean needs no pass looking for one
            if not np.isfinite(mean[0]) and np.isnan(v).any():
                raise ValueError(f"column {col!r} has missing values; impute or drop them first")
            sd = v.std(mean=mean) if STD_TAKES_MEAN else v.std()  # the mean once: numpy's own std, the same float
            kept = v if rows is None else v[rows]
            parts.append(((kept - mean[0]) / sd if sd > 0 else np.zeros_like(kept))[:, None])
        elif rows is None:
            parts.append(pd.get_dummies(values.astype("string"), dtype=float).to_numpy())
        elif codes is not None and isinstance(values.dtype, pd.StringDtype) and len(codes.factorized(col)[1]):
            kept, levels = codes.sorted_at(col, rows)
            parts.append(_indicators(kept, len(levels), np.arange(len(rows))))
        else:
            parts.append(_indicator_rows(values.astype("string"), rows))
    if not parts:
        return np.zeros((n, 0))
    return np.hstack(parts)
