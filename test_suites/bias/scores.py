"""Score-based fairness measures: per-group AUC (with a DeLong interval), calibration and KS distance.

When a tool emits a score (the probability of the favourable outcome, in [0, 1]) rather than only a
decision, thresholded rates such as selection rate or TPR describe one operating point. The score itself
can still treat groups differently, and three questions matter:

* Does the tool rank people equally well within each group?  AUC parity. A tool with AUC 0.85 for one
  group and 0.65 for another makes more ranking mistakes for the second group at *every* threshold, so
  that group bears more wrongful denials and wrongful approvals whatever cut-off the city later picks.
* Does a score mean the same thing for everyone?  Calibration within groups. If 70 % of one group's
  people scored 0.7 turn out positive but only 50 % of another's do, a caseworker reading "0.7" is misled
  about one of them. Calibration within groups is one of the fairness conditions of Kleinberg,
  Mullainathan & Raghavan (2016) and Chouldechova (2017), who show it generally cannot hold together with
  equal error rates when base rates differ, so it has to be reported separately, not inferred.
* Are the score distributions different at all?  The two-sample Kolmogorov-Smirnov distance of each group
  against the reference group. Thresholded decisions can look similar at today's threshold while the
  distributions differ elsewhere; KS flags that a change of threshold (or a downstream use of the raw
  score) would treat groups differently.

Everything works on the integer group codes of `counts.Grouping` (0..G-1) and is vectorised over rows:
one sort by (group, score) serves AUC, its variance and KS; calibration is one bincount over
group * n_bins + bin. A Python loop runs over groups at most, never over rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# largest effective sample size n*m/(n+m) for which the KS p-value uses scipy's finite-n kstwo.sf
# (at most ~6 ms per group); beyond it the Kolmogorov limit distribution (see ks_by_group)
KSTWO_MAX_N = 5_000

__all__ = [
    "auc_by_group",
    "auc_interval_by_group",
    "calibration_by_group",
    "delong_auc_by_group",
    "ks_by_group",
]


# ---------------------------------------------------------------- shared preparation

def _prepare(scores: np.ndarray, codes: np.ndarray, n_groups: int,
             y_true: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate and coerce inputs: float scores without NaN, int codes in 0..G-1, y in {0, 1}."""
    s = np.asarray(scores, dtype=float).ravel()
    c = np.asarray(codes).ravel()
    if c.shape != s.shape:
        raise ValueError(f"scores and codes differ in length: {s.size} vs {c.size}")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError("codes must be integers 0..n_groups-1")
    if c.size and (int(c.min()) < 0 or int(c.max()) >= n_groups):
        raise ValueError(f"codes must lie in 0..{n_groups - 1}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    y = None
    if y_true is not None:
        y_arr = np.asarray(y_true).ravel()
        if y_arr.shape != s.shape:
            raise ValueError(f"scores and y_true differ in length: {s.size} vs {y_arr.size}")
        if y_arr.dtype != bool and not _binary(y_arr):
            raise ValueError("y_true must be binary (0/1 or bool)")
        y = y_arr.astype(bool)
    return s, c.astype(np.int32, copy=False), y  # int32: half the memory of int64 at a million rows


def _binary(y: np.ndarray) -> bool:
    """Every value 0 or 1: for integers, their range (two passes, no hashing); else `np.isin`."""
    if np.issubdtype(y.dtype, np.integer):
        return y.size == 0 or (int(y.min()) >= 0 and int(y.max()) <= 1)
    return bool(np.isin(y, (0, 1)).all())


def _group_sort(s: np.ndarray, c: np.ndarray, n_groups: int,
                by_score: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row order sorted by (group, score), the group sizes, and the start offset of each group.

    Two passes instead of a lexsort: an argsort of the scores, then a *stable* argsort of the codes in
    that order. With codes cast to a small integer type numpy's stable sort is a radix sort, so the
    second pass is nearly free and the whole costs about one float sort (roughly 0.1 s per million rows,
    against 0.18 s for np.lexsort). `by_score` (an argsort of the scores) can be passed in, so the
    float sort is done once for every grouping and both AUC and KS."""
    if by_score is None:
        by_score = np.argsort(s).astype(np.int32)
    small = np.int16 if n_groups <= np.iinfo(np.int16).max else np.int64
    order = by_score[np.argsort(c[by_score].astype(small), kind="stable")].astype(np.int32, copy=False)
    sizes = np.bincount(c, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return order, sizes, starts


@dataclass(frozen=True)
class GroupSort:
    """Rows sorted by (group, score) with their tie blocks: the one O(n) preparation that the AUC
    and the KS of a grouping share, so a suite computes it once per grouping, not once per measure."""

    order: np.ndarray
    sizes: np.ndarray
    starts: np.ndarray
    s_sorted: np.ndarray
    g_sorted: np.ndarray
    block: np.ndarray
    first: np.ndarray
    # with a GlobalIndex: each sorted row's position in the global score order, and the codes in that order
    perm: np.ndarray | None = None
    by_score_codes: np.ndarray | None = None


@dataclass(frozen=True)
class ValueRanks:
    """Each row's score as the rank of its value among the distinct scores (0 the lowest), for scores that
    take few distinct values: rounded probabilities, a points scale, a vendor's file with two decimals."""

    ranks: np.ndarray       # per row, int32
    values: np.ndarray      # the distinct scores, ascending

    @staticmethod
    def of(scores: np.ndarray, max_values: int) -> ValueRanks | None:
        """The ranks, or None when the scores take more than `max_values` distinct values (or one is NaN).
        A look at the first rows comes first: when they alone hold too many values, or nearly as many values
        as rows (continuous scores), hashing every row would only find more, and the caller's sort is
        cheaper. Either answer gives the same figures; the look only saves time."""
        import pandas as pd

        s = np.asarray(scores, dtype=float).ravel()
        head = s[:PROBE_ROWS]
        seen = len(pd.unique(head))
        if seen > min(max_values, 0.9 * len(head)) and len(head) < len(s):
            return None  # nearly every score distinct so far: continuous scores, most likely
        # equal values (0.0 and -0.0 too) share a code. The hash table starts at a few times the values seen so
        # far rather than at one slot per row (pandas' default), so it stays in cache: 16 -> 10 ms at a million
        # rows; it grows as needed, and the codes are the same whatever its size
        codes, uniques = pd.factorize(s, size_hint=max(4 * seen, 1024))
        if len(uniques) > max_values or (codes < 0).any():
            return None
        values = np.asarray(uniques, dtype=float)
        order = np.argsort(values)                        # distinct values: the order is unique
        rank = np.empty(len(values), dtype=np.int32)
        rank[order] = np.arange(len(values), dtype=np.int32)
        return ValueRanks(rank[codes], values[order])

    def bins(self, n_bins: int) -> np.ndarray:
        """`score_bins` of every row, computed once per distinct value."""
        return self.value_bins(n_bins)[self.ranks]

    def value_bins(self, n_bins: int) -> np.ndarray:
        """`score_bins` of each distinct value."""
        return score_bins(self.values, n_bins)


PROBE_ROWS = 20_000


@dataclass(frozen=True)
class ValueBlocks:
    """One grouping's tie blocks counted rather than sorted: with U distinct scores, one bincount of
    (group x U + rank) x 2 + outcome gives the rows and the positives of every (group, score) pair, in ascending
    (group, score) order, which is the order of the blocks a sort by (group, score) finds; a coarser grouping's
    are sums of a finer one's (`merged`). The blocks, their
    first rows and the reference group's counts below each value are the same integers `group_sort` gives,
    so AUC, DeLong variance and KS come out as the same floats (tests/test_scores.py), without a float sort
    of the rows; a score check reads these when the scores take at most rows / groups distinct values."""

    sizes: np.ndarray               # rows per group
    starts: np.ndarray              # each group's first row in (group, score) order
    block_group: np.ndarray         # per block, int32
    first: np.ndarray               # each block's first row in (group, score) order, int32
    positives: np.ndarray           # per block, int32
    negatives: np.ndarray           # per block, int32
    group_first_block: np.ndarray   # the first block of each non-empty group
    n: int
    counts: np.ndarray              # rows per (group, value): groups x U
    block_value: np.ndarray         # each block's value rank
    positive_counts: np.ndarray     # positives per (group, value): groups x U

    @staticmethod
    def of(ranks: ValueRanks, codes: np.ndarray, n_groups: int, y_true: np.ndarray) -> ValueBlocks:
        u = len(ranks.values)
        y = np.asarray(y_true).ravel()
        if y.dtype != bool and not _binary(y):
            raise ValueError("y_true must be binary (0/1 or bool)")
        # one bincount of (group, value, outcome) counts the rows and the positives of every pair at once
        key = np.asarray(codes).astype(np.int64) * (2 * u)
        key += ranks.ranks
        key += ranks.ranks
        key += y
        pairs = np.bincount(key, minlength=2 * n_groups * u).reshape(n_groups, u, 2)
        del key
        return ValueBlocks.of_tables(pairs.sum(axis=2), pairs[:, :, 1])

    @staticmethod
    def of_tables(counts: np.ndarray, positives: np.ndarray) -> ValueBlocks:
        """The blocks from the rows and the positives of every (group, value): groups x U integer tables."""
        u = counts.shape[1]
        flat = counts.reshape(-1)
        cells = np.flatnonzero(flat)
        rows = flat[cells]
        pos = positives.reshape(-1)[cells].astype(np.int32)
        block_group = (cells // u).astype(np.int32)
        sizes = counts.sum(axis=1)
        present = np.flatnonzero(sizes > 0)
        return ValueBlocks(sizes=sizes, starts=np.concatenate([[0], np.cumsum(sizes)[:-1]]),
                           block_group=block_group, first=(np.cumsum(rows) - rows).astype(np.int32),
                           positives=pos, negatives=rows.astype(np.int32) - pos,
                           group_first_block=np.searchsorted(block_group, present), n=int(rows.sum()),
                           counts=counts, block_value=cells % u, positive_counts=positives)

    def merged(self, into: np.ndarray, n_groups: int) -> ValueBlocks:
        """The blocks of a coarser grouping, whose group `into[i]` holds this grouping's group i (sex for
        sex x race): its tables are sums of these, integers, so the blocks are the ones `of` counts from the
        rows, without reading them again."""
        counts = np.zeros((n_groups, self.counts.shape[1]), dtype=self.counts.dtype)
        positives = np.zeros_like(counts)
        np.add.at(counts, into, self.counts)
        np.add.at(positives, into, self.positive_counts)
        return ValueBlocks.of_tables(counts, positives)

    def bin_counts(self, value_bins: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and positives per (group, calibration bin), as `calibration_by_group` counts them, from the
        (group, value) tables: `value_bins` is each distinct value's bin (`ValueRanks.value_bins`). Integer
        sums, so the same numbers as a bincount of the rows; the positives as floats, as a weighted one gives."""
        into = np.zeros((len(value_bins), n_bins), dtype=np.int64)
        into[np.arange(len(value_bins)), value_bins] = 1
        return self.counts @ into, (self.positive_counts @ into).astype(np.float64)

    def reference_counts(self, reference: int) -> tuple[np.ndarray, np.ndarray]:
        """Per block, the reference group's rows with a score at most, and strictly below, its value."""
        ref = self.counts[reference]
        at_most = np.cumsum(ref)[self.block_value]
        return at_most, at_most - ref[self.block_value]


def group_sort(scores: np.ndarray, codes: np.ndarray, n_groups: int,
               by_score: np.ndarray | None = None, index: GlobalIndex | None = None) -> GroupSort:
    """Rows sorted by (group, score) and their tie blocks. With `index` (the global score order, shared
    by every grouping) the sorted scores are read from the index's sorted copy through the stable group
    permutation, which moves forward within each group, instead of being gathered from random rows, and
    the sorted group codes are each code repeated its group's size: the same arrays, three random
    gathers of a million rows fewer per grouping."""
    s, c, _ = _prepare(scores, codes, n_groups)
    if index is None:
        order, sizes, starts = _group_sort(s, c, n_groups, by_score)
        s_sorted, g_sorted = s[order], c[order]
        block, first = _tie_blocks(s_sorted, g_sorted)
        return GroupSort(order, sizes, starts, s_sorted, g_sorted, block, first)
    small = np.int16 if n_groups <= np.iinfo(np.int16).max else np.int64
    by_score_codes = c[index.by_score]
    perm = np.argsort(by_score_codes.astype(small), kind="stable").astype(np.int32)
    order = index.by_score[perm].astype(np.int32, copy=False)
    s_sorted = index.s_sorted[perm]
    sizes = np.bincount(c, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    g_sorted = np.repeat(np.arange(n_groups, dtype=c.dtype), sizes)
    block, first = _tie_blocks(s_sorted, g_sorted)
    return GroupSort(order, sizes, starts, s_sorted, g_sorted, block, first, perm, by_score_codes)


@dataclass(frozen=True)
class GlobalIndex:
    """Each row's position in the global score order and the bounds of its run of tied scores: with
    it, "how many reference rows score at most v" is a cumulative count, O(n) for every group at once,
    where a `searchsorted` per block costs O(n log m)."""

    by_score: np.ndarray
    s_sorted: np.ndarray    # the scores in that order
    run_start: np.ndarray   # per global position: first position of its tie run
    run_end: np.ndarray     # per global position: last position of its tie run

    @cached_property
    def pos_of_row(self) -> np.ndarray:
        """Each row's position in the global order (the inverse of `by_score`): only for a group sort made
        without this index, whose blocks do not carry their global positions."""
        pos = np.empty(self.by_score.size, dtype=np.int32)
        pos[self.by_score] = np.arange(self.by_score.size, dtype=np.int32)
        return pos


def global_index(scores: np.ndarray, by_score: np.ndarray) -> GlobalIndex:
    s_sorted = np.asarray(scores, dtype=float)[by_score]
    n = s_sorted.size
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = s_sorted[1:] != s_sorted[:-1]
    run = np.cumsum(new, dtype=np.int32) - 1
    starts = np.flatnonzero(new).astype(np.int32)
    ends = (np.append(starts[1:], n) - 1).astype(np.int32)
    return GlobalIndex(np.asarray(by_score), s_sorted, starts[run], ends[run])


def _tie_blocks(s_sorted: np.ndarray, g_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label runs of equal (group, score) in the sorted rows: block id per row, and block start rows.

    Ties must be handled as blocks: the rank-sum AUC gives tied rows the average rank, and the
    empirical CDFs of the KS statistic jump once per distinct value."""
    n = s_sorted.size
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (g_sorted[1:] != g_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    block = np.cumsum(new, dtype=np.int32) - 1
    return block, np.flatnonzero(new).astype(np.int32)


# ---------------------------------------------------------------- AUC

def delong_auc_by_group(scores: np.ndarray, y_true: np.ndarray, codes: np.ndarray,
                        n_groups: int, by_score: np.ndarray | None = None,
                        prepared: GroupSort | ValueBlocks | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-group ROC AUC and its DeLong variance from one sort; (auc (G,), variance (G,)).

    AUC is the Mann-Whitney probability that a random positive of the group scores above a random
    negative of the same group, ties counting one half: the rank-sum formula with average ranks, and
    what `sklearn.metrics.roc_auc_score` returns on the group's rows. It is computed without G sorts:

    1. one sort of all rows by (group, score) (`_group_sort`);
    2. runs of equal (group, score) form tie blocks; per block, bincounts give its positives p_b and
       negatives q_b, and a cumulative sum the negatives in the same group strictly below it, N_b;
    3. each positive in block b beats N_b negatives and ties q_b, so its placement value is
       V10_b = (N_b + q_b / 2) / n_neg; symmetrically each negative's is V01_b = (P_b + p_b / 2) / n_pos
       with P_b the group's positives strictly above the block;
    4. AUC_g = mean of V10 over the group's positives (= mean of V01 over its negatives); the sums are
       bincounts over blocks weighted by p_b (or q_b), so the numerator 2 * sum p_b (2 N_b + q_b) / 2 is
       an exact integer sum.

    The variance is DeLong, DeLong & Clarke-Pearson (1988): Var = S10 / n_pos + S01 / n_neg, where S10
    and S01 are the sample variances (ddof 1) of the placement values V10 over positives and V01 over
    negatives; the same block sums give it. Unlike the Hanley-McNeil formula it assumes no score
    distribution (Hanley-McNeil's Q1, Q2 come from a negative-exponential model) and it handles ties.

    AUC is NaN for a group without both classes; the variance is also NaN when a class has one row
    (its sample variance is undefined)."""
    if isinstance(prepared, ValueBlocks):  # the blocks' positives were counted from these labels
        return _delong(prepared.sizes, prepared.block_group, prepared.positives, prepared.negatives, n_groups)
    s, c, y = _prepare(scores, codes, n_groups, y_true)
    assert y is not None
    if s.size == 0:
        return np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    gs = prepared if prepared is not None else group_sort(s, c, n_groups, by_score)
    y_sorted = y[gs.order]
    n_blocks = gs.first.size
    pos_b = np.bincount(gs.block, weights=y_sorted, minlength=n_blocks).astype(np.int32)
    neg_b = np.bincount(gs.block, minlength=n_blocks).astype(np.int32) - pos_b
    return _delong(gs.sizes, gs.g_sorted[gs.first], pos_b, neg_b, n_groups)


def _delong(sizes: np.ndarray, block_group: np.ndarray, pos_b: np.ndarray, neg_b: np.ndarray,
            n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """`delong_auc_by_group` from the tie blocks in (group, score) order: each block's group and its
    positives and negatives (int32). Whatever produced the blocks, the same integers give the same floats."""
    n_pos = np.bincount(block_group, weights=pos_b, minlength=n_groups).astype(np.int64)
    n_neg = sizes - n_pos
    # negatives strictly below each block within its group: global exclusive cumsum minus the
    # negatives of all earlier groups (groups are contiguous and in code order after the sort).
    # Written with in-place operations: at a million rows every temporary costs 8 MB.
    # int32 throughout: counts stay below 2**31 rows, and each array is 4 MB instead of 8 at 1M rows
    neg_below = np.cumsum(neg_b, dtype=np.int32)
    neg_below -= neg_b
    neg_below -= (np.cumsum(n_neg) - n_neg).astype(np.int32)[block_group]
    pos_above = np.cumsum(pos_b, dtype=np.int32)  # becomes: positives strictly above the block in its group
    pos_above -= pos_b
    pos_above -= (np.cumsum(n_pos) - n_pos).astype(np.int32)[block_group]   # positives below
    np.subtract(n_pos.astype(np.int32)[block_group], pos_above, out=pos_above)
    pos_above -= pos_b

    both = (n_pos > 0) & (n_neg > 0)
    buf = 2.0 * neg_below
    buf += neg_b
    buf *= pos_b
    twice_wins = np.bincount(block_group, weights=buf, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where(both, twice_wins / (2.0 * n_pos * n_neg), np.nan)
        a_b = auc[block_group]
        # V10 - AUC for each block, squared and weighted by its positives (blocks without any give 0)
        np.multiply(neg_b, 0.5, out=buf)
        buf += neg_below
        buf /= n_neg.astype(np.float64)[block_group]
        buf -= a_b
        buf *= buf
        buf *= pos_b
        ss10 = np.bincount(block_group, weights=buf, minlength=n_groups)
        # V01 - AUC for each block, weighted by its negatives
        np.multiply(pos_b, 0.5, out=buf)
        buf += pos_above
        buf /= n_pos.astype(np.float64)[block_group]
        buf -= a_b
        buf *= buf
        buf *= neg_b
        ss01 = np.bincount(block_group, weights=buf, minlength=n_groups)
        ok = both & (n_pos > 1) & (n_neg > 1)
        var = np.where(ok, ss10 / ((n_pos - 1) * n_pos) + ss01 / ((n_neg - 1) * n_neg), np.nan)
    return auc, var


def auc_by_group(scores: np.ndarray, y_true: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """ROC AUC of each group (G,), NaN for a group with only one class.

    Why: AUC parity asks whether the tool ranks people *equally well within each group*; a lower AUC
    means more mis-ordered pairs, hence more errors for that group at any threshold. Computed by the
    rank-sum (Mann-Whitney) formula with average ranks for ties from one sort by (group, score); see
    `delong_auc_by_group` for the method. Equals `sklearn.metrics.roc_auc_score` on each group's rows."""
    return delong_auc_by_group(scores, y_true, codes, n_groups)[0]


def auc_interval_by_group(scores: np.ndarray, y_true: np.ndarray, codes: np.ndarray, n_groups: int,
                          confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """DeLong (Wald) confidence interval of each group's AUC: (low (G,), high (G,)), clipped to [0, 1].

    Why: small groups have noisy AUCs, and a gap in AUC between groups is only evidence of unequal
    ranking quality when it exceeds this sampling noise. The interval is AUC +/- z * sqrt(DeLong
    variance) (see `delong_auc_by_group`), nonparametric and tie-aware. NaN where the AUC is undefined or a
    class has a single row. Known limitation: at AUC exactly 0 or 1 the DeLong variance is 0 and the
    interval collapses to a point, so read intervals of tiny, perfectly separated groups with care."""
    from harness.stats import z_value

    auc, var = delong_auc_by_group(scores, y_true, codes, n_groups)
    half = z_value(confidence) * np.sqrt(var)
    return np.clip(auc - half, 0.0, 1.0), np.clip(auc + half, 0.0, 1.0)


# ---------------------------------------------------------------- calibration

def score_bins(scores: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Bin index of every score, as `calibration_curve(strategy="uniform")` assigns it; computed once
    and shared by every grouping's calibration."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], np.asarray(scores, dtype=float)).astype(np.int32)


def calibration_by_group(scores: np.ndarray, y_true: np.ndarray, codes: np.ndarray, n_groups: int,
                         n_bins: int = 10, confidence: float = 0.95,
                         bins: np.ndarray | None = None,
                         counted: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, list[dict]]:
    """Expected calibration error per group (G,) and the reliability table.

    Why: calibration within groups means a score of 0.7 carries the same meaning, about a 70 % chance of
    the outcome, whoever it is given to (Kleinberg et al. 2016; Chouldechova 2017). A tool can rank each
    group well (equal AUC) and still systematically over-state one group's risk; ECE by group measures
    that gap and the table shows where on the score range it lies.

    Bins are equal-width on [0, 1] with edges `np.linspace(0, 1, n_bins + 1)`, assigned as
    `sklearn.calibration.calibration_curve(strategy="uniform")` does (`np.searchsorted(edges[1:-1], s)`):
    the first bin is [0, e1], later ones (e_k, e_k+1], so 0.0 falls in the first bin and 1.0 in the last,
    and a score exactly on an inner edge belongs to the bin below it. ECE_g = sum over bins of
    (n_bin / n_g) * |mean(y) - mean(score)| = sum |sum(y) - sum(score)| / n_g; all per-bin sums come from
    bincounts over one key, group * n_bins + bin. NaN for an empty group.

    The table has one dict per group and bin (G * n_bins rows, empty bins included with n = 0 and NaN
    means, so every group has the same rows): group, bin, bin_low, bin_high, n, positives, mean_score,
    observed_rate, and the Wilson interval of the observed rate (observed_low, observed_high) — a bin is
    miscalibrated beyond noise when mean_score falls outside that interval.

    `counted`: the rows and positives per group and bin when the caller has them (`ValueBlocks.bin_counts`,
    the same numbers); only the scores' sums are then taken from the rows, and y_true is not read."""
    from harness.stats import wilson_interval

    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    s, c, y = _prepare(scores, codes, n_groups, y_true if counted is None else None)
    if s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError("scores must lie in [0, 1] for calibration")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if bins is None:
        bins = score_bins(s, n_bins)
    key = c.astype(np.int64) * n_bins
    key += bins
    size = n_groups * n_bins
    if counted is None:
        assert y is not None
        n = np.bincount(key, minlength=size).reshape(n_groups, n_bins)
        pos = np.bincount(key, weights=y, minlength=size).reshape(n_groups, n_bins)
    else:
        n, pos = counted
    sum_s = np.bincount(key, weights=s, minlength=size).reshape(n_groups, n_bins)
    del key
    n_group = n.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ece = np.where(n_group > 0, np.abs(pos - sum_s).sum(axis=1) / n_group, np.nan)
        mean_score = sum_s / n
        rate = pos / n
    low, high = wilson_interval(pos, n, confidence)
    table: list[dict] = []
    for g in range(n_groups):
        for b in range(n_bins):
            table.append({
                "group": g,
                "bin": b,
                "bin_low": float(edges[b]),
                "bin_high": float(edges[b + 1]),
                "n": int(n[g, b]),
                "positives": int(pos[g, b]),
                "mean_score": float(mean_score[g, b]),
                "observed_rate": float(rate[g, b]),
                "observed_low": float(low[g, b]),
                "observed_high": float(high[g, b]),
            })
    return ece, table


# ---------------------------------------------------------------- KS distance

def ks_by_group(scores: np.ndarray, codes: np.ndarray, n_groups: int, reference: int,
                method: str = "asymp", by_score: np.ndarray | None = None,
                prepared: GroupSort | ValueBlocks | None = None,
                index: GlobalIndex | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value of each group's scores against the reference
    group's: (stat (G,), pvalue (G,)); NaN for the reference group itself and for empty groups (all NaN
    when the reference group is empty).

    Why: equal selection rates at one threshold do not mean a group's scores are distributed like the
    reference group's; KS = sup_x |F_g(x) - F_ref(x)| is the largest gap in the share of each group
    scored below any value x, i.e. the largest difference in selection rate over *all* thresholds.

    The statistic equals `scipy.stats.ks_2samp(group, reference).statistic` and needs no per-group sort:
    after one sort by (group, score), the sup of F_g - F_ref is attained at a group point (F_g evaluated
    right-continuously there), and the sup of F_ref - F_g just before a group point (left limits) or is
    0; F_g at a group point is its tie block's end (or start) position within the group, F_ref comes
    from one `searchsorted` of every block's value into the sorted reference scores, and the per-group
    maxima from `np.maximum.reduceat` over blocks.

    p-value: method="asymp" (default) is the asymptotic two-sided p-value. With the effective size
    en = round(n*m/(n+m)) it is `scipy.stats.kstwo.sf(D, en)`, exactly what `ks_2samp(...,
    method="asymp")` returns, while en <= KSTWO_MAX_N; above that it is the Kolmogorov limit
    `scipy.stats.kstwobign.sf(sqrt(en) * D)` that kstwo converges to, because scipy's kstwo.sf costs up
    to 0.5 s per call at en ~ 1e5 (the two agree to < 3 % relative for p > 1e-6 once en > 5,000, and
    better for larger p). It is somewhat approximate for tiny groups. method="exact" or "auto" instead
    calls `ks_2samp` per group for the p-value only (exact for groups up to 10,000 rows under "auto";
    slower, O(n*m) per group)."""

    if method not in ("asymp", "exact", "auto"):
        raise ValueError("method must be 'asymp', 'exact' or 'auto'")
    if not 0 <= reference < n_groups:
        raise ValueError(f"reference must lie in 0..{n_groups - 1}")
    stat = np.full(n_groups, np.nan)
    pvalue = np.full(n_groups, np.nan)
    if isinstance(prepared, ValueBlocks) and method != "asymp":  # exact p-values need the rows themselves
        prepared = None
    if isinstance(prepared, ValueBlocks):
        vb = prepared
        if vb.sizes[reference] == 0:
            return stat, pvalue
        ref_le, ref_lt = vb.reference_counts(reference)
        present = _ks_statistic(stat, vb.sizes, vb.starts, vb.block_group, vb.first, vb.n, vb.group_first_block,
                                ref_le, ref_lt, reference)
        return stat, _ks_pvalues(stat, pvalue, vb.sizes, present, reference, method, None, None)
    gs = prepared if prepared is not None else group_sort(scores, codes, n_groups, by_score)
    sizes, starts, s_sorted, g_sorted, block, first = gs.sizes, gs.starts, gs.s_sorted, gs.g_sorted, gs.block, gs.first
    n_ref = int(sizes[reference])
    if n_ref == 0:
        return stat, pvalue
    ref = s_sorted[starts[reference]:starts[reference] + n_ref]
    # everything is evaluated once per tie block (distinct value within a group), not per row; in
    # place where possible and int32 where counts allow, since at a million rows each array is 4-8 MB
    if index is not None:  # reference rows at or below each block's value, by cumulative count
        in_score_order = gs.by_score_codes if gs.by_score_codes is not None else np.asarray(codes)[index.by_score]
        cum = np.cumsum(in_score_order == reference, dtype=np.int32)
        # each block's first row's global position: read off the group sort's permutation when it has one
        pos = gs.perm[first] if gs.perm is not None else index.pos_of_row[gs.order[first]]
        ref_le = cum[index.run_end[pos]]
        start = index.run_start[pos]
        del pos
        start -= 1
        ref_lt = cum[np.maximum(start, 0)]
        ref_lt[start < 0] = 0
        del cum, start
    else:
        value = s_sorted[first]
        ref_le = np.searchsorted(ref, value, side="right")
        ref_lt = np.searchsorted(ref, value, side="left")
        del value
    present = _ks_statistic(stat, sizes, starts, g_sorted[first], first, s_sorted.size,
                            block[starts[np.flatnonzero(sizes > 0)]], ref_le, ref_lt, reference)
    return stat, _ks_pvalues(stat, pvalue, sizes, present, reference, method, s_sorted, starts)


def _ks_statistic(stat: np.ndarray, sizes: np.ndarray, starts: np.ndarray, block_group: np.ndarray,
                  first: np.ndarray, n: int, seg: np.ndarray, ref_le: np.ndarray, ref_lt: np.ndarray,
                  reference: int) -> np.ndarray:
    """`ks_by_group`'s statistic, written into `stat`, from the tie blocks in (group, score) order: each
    block's group and first row, the first block of each non-empty group (`seg`), the n rows, and the
    reference rows at or below (`ref_le`) and strictly below (`ref_lt`) each block's value. Returns the
    non-empty groups. The same integers give the same floats, whichever way the blocks were found."""
    n_ref = int(sizes[reference])
    group_start = starts.astype(np.int32)[block_group]
    group_size = sizes.astype(np.float64)[block_group]
    present = np.flatnonzero(sizes > 0)
    # D+ = max over blocks of F_g(value) - F_ref(value), right-continuous
    diff = np.empty(first.size, dtype=np.float64)
    diff[:-1] = first[1:]
    diff[-1:] = n                                              # one past each block's last row
    diff -= group_start
    diff /= group_size                                         # F_g at the block's value
    diff -= np.multiply(ref_le, 1.0 / n_ref)
    del ref_le
    d_plus = np.maximum.reduceat(diff, seg)
    # D- = max over blocks of F_ref(just below value) - F_g(just below value)
    np.subtract(first, group_start, out=diff)
    del group_start
    diff /= group_size                                         # F_g just below the block's value
    del group_size
    np.subtract(np.multiply(ref_lt, 1.0 / n_ref), diff, out=diff)
    del ref_lt
    d_minus = np.maximum.reduceat(diff, seg)
    del diff
    stat[present] = np.maximum(np.maximum(d_plus, d_minus), 0.0)
    stat[reference] = np.nan
    return present


def _ks_pvalues(stat: np.ndarray, pvalue: np.ndarray, sizes: np.ndarray, present: np.ndarray, reference: int,
                method: str, s_sorted: np.ndarray | None, starts: np.ndarray | None) -> np.ndarray:
    """`ks_by_group`'s p-values, written into `pvalue` (see its docstring); the rows are needed only by
    the exact methods."""
    from scipy import stats

    n_ref = int(sizes[reference])
    others = present[present != reference]
    if method == "asymp":
        m = np.maximum(sizes[others], n_ref).astype(float)
        k = np.minimum(sizes[others], n_ref).astype(float)
        en = np.round(m * k / (m + k))
        small = en <= KSTWO_MAX_N
        p = np.empty(others.size)
        with np.errstate(invalid="ignore"):
            p[small] = stats.kstwo.sf(stat[others][small], en[small])
            p[~small] = stats.kstwobign.sf(np.sqrt(en[~small]) * stat[others][~small])
        pvalue[others] = np.clip(p, 0.0, 1.0)
    else:
        assert s_sorted is not None and starts is not None
        ref = s_sorted[starts[reference]:starts[reference] + n_ref]
        for g in others:
            rows = s_sorted[starts[g]:starts[g] + sizes[g]]
            pvalue[g] = float(stats.ks_2samp(rows, ref, method=method).pvalue)
    return pvalue
