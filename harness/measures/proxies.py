"""Proxy detection: how well each feature, on its own, predicts a protected attribute.

A tool that never sees race can still act on race through a feature that stands in for it (the demo
data's `neighbourhood` does, by design). Finding such proxies needs only the data, not the tool, so it
is an advisory check that can run before any model is assessed: a strong proxy says where to look,
not that the tool is biased.

Two measures, chosen so each is a standard, closed-form statistic (no model fitting, so the result
does not depend on a learner's settings). No row is sorted: a column is coded once (a bincount of small
integers, else one factorize, or the frame's shared `ColumnCodes` for text), a numeric column's ranks
come from its values' counts, and one bincount per feature counts it against every protected attribute,
for a numeric column as it is coded (the bias benchmark's 10 features x 2 attributes at a million rows:
about 0.07 s of CPU, from 0.46 s with a sort per numeric column):

- categorical features (non-numeric, or numeric with at most `MAX_CATEGORICAL_LEVELS` distinct
  values): Cramér's V of the feature x protected contingency table, the plain (not bias-corrected)
  sqrt(chi2 / (n (min(r, c) - 1))), equal to `scipy.stats.contingency.association(table,
  method="cramer")`. Normalised mutual information (arithmetic mean of the two entropies, as
  sklearn's `normalized_mutual_info_score`) is reported beside it: V and NMI can rank proxies
  differently when the tables have very different shapes.
- numeric features: the folded AUC of the raw feature as a score for membership of a protected
  group, max(AUC, 1 - AUC), so 0.5 means no information and 1 means the feature alone separates the
  group from everyone else (whichever direction the separation goes). For a binary attribute this is
  the AUC of one group against the other (the same for either group); for a multi-level attribute it
  is the mean over groups of the one-vs-rest folded AUC, weighted by group size. The AUC is computed
  from ranks (Mann-Whitney U), with ties counted as half, so it equals sklearn's `roc_auc_score`.
  Folding lifts the value under no association a little above 0.5 (by about 0.23 / sqrt(group size)
  for a group against a much larger rest: 0.507 for 1,000 rows), so limits should sit well above it.

Missing values: a categorical feature's NaN and "?" (the UCI convention) form one extra category,
because missingness can itself be a proxy; a numeric feature's NaN rows are left out (`n` says how
many rows were scored). The protected attribute is always treated as categorical (its missing
values a group of their own).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from harness.measures.coding import ColumnCodes

if TYPE_CHECKING:
    import pandas as pd

MAX_CATEGORICAL_LEVELS = 10  # a numeric feature with at most this many distinct values is a category

CRAMERS_V = "cramers_v"
AUC = "auc"
MEASURE_LABELS = {CRAMERS_V: "Cramér's V", AUC: "AUC"}


@dataclass(frozen=True)
class ProxyScore:
    """How strongly one feature predicts one protected attribute.

    `value` is Cramér's V (measure "cramers_v") or the folded AUC (measure "auc"); NaN when it is
    undefined (the feature or the attribute has a single value). `nmi` is set for categorical
    features only. `limit`, `exceeds` and `message` are filled in by `detect_proxies` (or
    `with_limit`) from the policy's advisory limit for the measure."""

    feature: str
    protected: str
    measure: str
    value: float
    n: int
    nmi: float | None = None
    levels: int = 0                  # distinct feature values scored (categories, or numeric values)
    limit: float | None = None
    exceeds: bool = False
    message: str = ""

    @property
    def strength(self) -> float:
        """The value on a common 0 (no information) to 1 (perfect proxy) scale, for ranking pairs
        scored with different measures: V as it is, the folded AUC as 2 x AUC - 1 (the Gini
        coefficient). The two scales are not equivalent; this only orders the list."""
        if self.measure == AUC:
            return 2.0 * self.value - 1.0
        return self.value

    def with_limit(self, limit: float | None) -> ProxyScore:
        """This score judged against `limit` (None: no limit), with its plain-language message."""
        exceeds = limit is not None and not math.isnan(self.value) and self.value > limit
        return replace(self, limit=limit, exceeds=exceeds, message=_message(self, limit, exceeds))


def _message(s: ProxyScore, limit: float | None, exceeds: bool) -> str:
    label = MEASURE_LABELS.get(s.measure, s.measure)
    if math.isnan(s.value):
        return (f"{s.feature} cannot be scored as a proxy for {s.protected}: one of them has a single "
                f"value in these {s.n:,} rows.")
    figure = f"{label} = {s.value:.2f}"
    if s.measure == AUC:
        figure += ", where 0.50 is no information"
    if limit is None:
        return f"{s.feature} predicts {s.protected} with {figure} (no limit is set for this measure)."
    if exceeds:
        return f"{s.feature} predicts {s.protected} ({figure}; the policy's limit is {limit:.2f})"
    return f"{s.feature} does not predict {s.protected} beyond the policy's limit ({figure}; limit {limit:.2f})"


# ----------------------------------------------------------------------------------------- encoding

def encode_categorical(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes 0..k-1 for every row, with NaN and "?" together as one extra "missing" code.

    factorize hashes each row once; the "?" test runs on the distinct values only."""
    import pandas as pd

    return _with_missing(*pd.factorize(values, use_na_sentinel=True))


def _with_missing(codes: np.ndarray, uniques: Iterable[object]) -> tuple[np.ndarray, int]:
    """`encode_categorical` from factorize's output (codes, -1 for NaN, and the distinct values)."""
    uniques = list(uniques)
    missing = np.array([isinstance(u, str) and u.strip() == "?" for u in uniques], dtype=bool)
    if not missing.any() and not (codes < 0).any():  # nothing to merge: the codes as they are
        return codes.astype(np.int64), len(uniques)
    remap = np.empty(len(uniques) + 1, dtype=np.int64)   # last slot: factorize's -1 (NaN)
    kept = int((~missing).sum())
    remap[:-1][~missing] = np.arange(kept)
    remap[:-1][missing] = kept
    remap[-1] = kept
    codes = remap[codes]                                  # -1 indexes the last slot
    has_missing = bool(missing.any()) or bool((codes == kept).any())
    return codes, kept + int(has_missing)


def contingency_table(a: np.ndarray, ka: int, b: np.ndarray, kb: int) -> np.ndarray:
    """ka x kb counts of (a, b) code pairs in one bincount. Every code is present (they come from
    factorize), so no row or column of the table is empty."""
    return np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)


# ----------------------------------------------------------------------------------------- measures

def cramers_v(table: np.ndarray) -> float:
    """Plain Cramér's V, sqrt(chi2 / (n (min(r, c) - 1))), with chi2 the Pearson statistic without
    continuity correction (as scipy's `association`). Empty rows and columns are dropped first: they
    carry no observations. NaN when either variable has a single category."""
    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    r, c = t.shape
    if min(r, c) < 2:
        return math.nan
    n = t.sum()
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / n
    chi2 = float(((t - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (n * (min(r, c) - 1)))


def normalized_mutual_info(table: np.ndarray) -> float:
    """NMI with the arithmetic mean of the two entropies, from the contingency table; the same
    value (and special cases) as sklearn's `normalized_mutual_info_score` on the rows."""
    from sklearn.metrics import mutual_info_score

    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if t.shape[0] == t.shape[1] == 1 or t.size == 0:
        return 1.0
    mi = mutual_info_score(None, None, contingency=t)
    if mi == 0:
        return 0.0
    n = t.sum()

    def entropy(counts: np.ndarray) -> float:
        p = counts[counts > 0] / n
        return float(-(p * np.log(p)).sum())

    return float(mi / np.mean([entropy(t.sum(axis=1)), entropy(t.sum(axis=0))]))


def folded_auc(ranks: np.ndarray, groups: np.ndarray, k: int) -> float:
    """Size-weighted mean over the k groups of max(AUC, 1 - AUC), each group against the rest.

    `ranks` are the feature's mid-ranks (ties averaged) and `groups` the group codes of the same rows,
    in any common order. A group's rank sum R_g gives its Mann-Whitney U, and AUC = (R_g - n_g (n_g
    + 1) / 2) / (n_g (n - n_g)) is the tie-as-half AUC of `roc_auc_score`. One bincount for all groups.
    Groups that are all or none of the rows are skipped (no contrast); NaN when no group has one."""
    sizes = np.bincount(groups, minlength=k).astype(np.float64)
    return _folded_auc(np.bincount(groups, weights=ranks, minlength=k), sizes, len(ranks))


def _folded_auc(rank_sums: np.ndarray, sizes: np.ndarray, n: int) -> float:
    """`folded_auc` from each group's rank sum and size (floats) among n ranked rows."""
    ok = (sizes > 0) & (sizes < n)
    if not ok.any():
        return math.nan
    ng = sizes[ok]
    auc = (rank_sums[ok] - ng * (ng + 1) / 2) / (ng * (n - ng))
    folded = np.maximum(auc, 1.0 - auc)
    return float((folded * ng).sum() / ng.sum())


# ----------------------------------------------------------------------------------------- scoring

@dataclass(frozen=True)
class _Encoded:
    """One feature column, encoded once for all protected attributes: a code per row (-1 where a numeric
    value is missing) and, for a numeric column, the mid-rank of each code's value among the scored rows."""

    categorical: bool
    levels: int                       # categories, or distinct numeric values
    codes: np.ndarray | None          # None when `table` was counted while coding (the codes were not kept)
    size: int                         # codes 0..size-1 (a numeric column's codes may include absent values)
    ranks: np.ndarray | None = None   # numeric: mid-rank of each code (ties averaged, 1-based)
    n: int = 0                        # rows scored
    rows: np.ndarray | None = None    # categorical: the codes in category order, when codes are not 0..levels-1
    table: np.ndarray | None = None   # size x protected combinations, counted while coding (`_Protected.count`)


def _midranks(counts: np.ndarray) -> np.ndarray:
    """Mid-ranks of values held by `counts` rows each, in ascending order of value: the 1-based ranks
    start+1..end of a run of equal values averaged, (start + 1 + end) / 2, from integer positions."""
    ends = np.cumsum(counts)
    return (ends - counts + 1 + ends) / 2.0


def _categorical(values: pd.Series) -> _Encoded:
    codes, k = encode_categorical(values)
    return _Encoded(True, k, codes, k, n=len(codes))


def _small_integers(values: pd.Series, protected: _Protected | None = None) -> _Encoded | None:
    """A column of numpy integers spanning fewer values than it has rows, coded without hashing: the value
    minus the minimum is its code, a bincount gives every value's count and the sorted order for free.
    None for any other column. A category (few distinct values) keeps these codes too; its tables' rows
    are then taken in `encode_categorical`'s order, the order in which the values first appear (`rows`).
    With `protected` (and a table that fits, `_Protected.fits`) the values are counted against the protected
    attributes' joint code straight away, one bincount that gives the values' counts too (its row sums)."""
    if not isinstance(values.dtype, np.dtype) or values.dtype.kind not in "iu" or len(values) == 0:
        return None
    v = values.to_numpy()
    lo, hi = int(v.min()), int(v.max())
    if hi - lo >= max(len(v), 1024) or max(abs(lo), abs(hi)) >= 2**53:  # wide, or not exact as float64
        return None
    size = hi - lo + 1
    dense, table = None, None
    if protected is not None and protected.fits(size, len(v)):
        table = protected.count(v, size, lo)
        counts = table.sum(axis=1)
    else:
        dense = np.subtract(v, lo, dtype=np.intp)
        counts = np.bincount(dense, minlength=size)
    levels = int(np.count_nonzero(counts))
    if levels > MAX_CATEGORICAL_LEVELS:
        return _Encoded(False, levels, dense, size, _midranks(counts), len(v), table=table)
    return _Encoded(True, levels, dense, size, n=len(v), rows=_first_appearance(v, lo, counts), table=table)


FIRST_ROWS = 4096  # rows that hold most values' first appearance


def _first_appearance(v: np.ndarray, lo: int, counts: np.ndarray) -> np.ndarray:
    """The values present in `v` (as offsets from `lo`), in the order they first appear: those of the first
    FIRST_ROWS rows in their order there, then any rarer value by the position of its first row (one scan
    each, at most MAX_CATEGORICAL_LEVELS of them)."""
    import pandas as pd

    _, seen = pd.factorize(v[:FIRST_ROWS])
    order = [int(x) - lo for x in seen]
    known = set(order)
    later = [int(i) for i in np.flatnonzero(counts) if int(i) not in known]
    order += sorted(later, key=lambda i: int(np.argmax(v == lo + i)))
    return np.asarray(order, dtype=np.intp)


def _encode_feature(values: pd.Series, coded: tuple[np.ndarray, pd.Index] | None = None,
                    protected: _Protected | None = None) -> _Encoded:
    """Categorical codes, or (numeric) each row's value code and the values' mid-ranks.

    A numeric column is coded once (a bincount for small integers, else one factorize); its number of
    distinct values decides whether it is a category, and the codes' counts in ascending order of value
    give the tie-averaged ranks, so no row is sorted. `coded` is `pd.factorize(values)`, when shared.
    `protected`: a numeric column (small integers, or values with none missing) is counted against these
    attributes as it is coded, when the table fits (`_Protected.fits`), and its codes' counts are that
    table's row sums."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        if coded is None:
            return _categorical(values)
        codes, k = _with_missing(*coded)
        return _Encoded(True, k, codes, k, n=len(codes))
    small = _small_integers(values, protected)
    if small is not None:
        return small
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = pd.factorize(x, size_hint=_size_hint(x))  # equal values (0.0 and -0.0 too) share a code; NaN -1
    if len(uniques) <= MAX_CATEGORICAL_LEVELS:
        return _categorical(values)
    complete = codes.min(initial=0) >= 0
    table = None
    if complete and protected is not None and protected.fits(len(uniques), len(codes)):
        table = protected.count(codes, len(uniques))
        counts = table.sum(axis=1)
    else:
        counts = np.bincount(codes if complete else codes[codes >= 0], minlength=len(uniques))
    order = np.argsort(uniques)
    ranks = np.empty(len(uniques))
    ranks[order] = _midranks(counts[order])
    return _Encoded(False, len(uniques), None if table is not None else codes, len(uniques), ranks,
                    int(counts.sum()), table=table)


def _size_hint(x: np.ndarray) -> int:
    """A starting size for the hash table that factorizes `x`: a few times the distinct values of its first
    FIRST_ROWS rows when they repeat (a table of one slot per row, pandas' default, spills out of the cache:
    10 -> 8 ms for a million rows of a few thousand values), else one slot per row (growing a small table to a
    million values would cost twice that). The codes are the same whatever the size."""
    import pandas as pd

    seen = len(pd.unique(x[:FIRST_ROWS]))
    return len(x) if seen > FIRST_ROWS // 2 else max(4 * seen, 1024)


@dataclass(frozen=True)
class _Protected:
    """The protected attributes' `encode_categorical` codes and, when their combinations are few, one joint
    code per row, so that one bincount per feature counts it against every attribute at once."""

    names: list[str]
    codes: list[np.ndarray]
    levels: list[int]
    joint: np.ndarray | None

    @staticmethod
    def of(columns: ColumnCodes, names: list[str]) -> _Protected:
        coded = [_with_missing(*columns.factorized(p)) for p in names]
        codes, levels = [c for c, _ in coded], [k for _, k in coded]
        joint = None
        if names and math.prod(levels) <= JOINT_MAX_GROUPS:
            joint = codes[0].astype(np.int64)  # then code = code * levels + next attribute's code, in place
            for c, k in zip(codes[1:], levels[1:], strict=True):
                joint *= k
                joint += c
        return _Protected(names, codes, levels, joint)

    def _kept(self, enc: _Encoded) -> tuple[np.ndarray, np.ndarray | None]:
        """The feature's codes of the scored rows, and which rows those are (None: all of them)."""
        assert enc.codes is not None  # only an encoding counted with its table drops its codes
        if enc.n == len(enc.codes):
            return enc.codes, None
        kept = enc.codes >= 0
        return enc.codes[kept], kept

    def fits(self, size: int, rows: int) -> bool:
        """Whether a feature of `size` codes on `rows` scored rows is counted against the joint code in one
        table: there is a joint code, and the table does not outgrow the rows."""
        return self.joint is not None and size * math.prod(self.levels) <= max(rows, 1 << 16)

    def count(self, codes: np.ndarray, size: int, shift: int = 0) -> np.ndarray:
        """The size x combinations table of (code - shift, joint code) over every row, from ONE bincount (the
        key is made in one pass from the codes as they are, whatever their integer type). A small positive
        shift is not subtracted from every row: the bincount's first shift x combinations cells, all empty,
        are dropped instead."""
        assert self.joint is not None
        total = math.prod(self.levels)
        key = np.multiply(codes, total, dtype=np.int64)
        key += self.joint
        if 0 <= shift * total <= max(size * total, len(key)):
            return np.bincount(key, minlength=(shift + size) * total)[shift * total:].reshape(size, total)
        key -= shift * total
        return np.bincount(key, minlength=size * total).reshape(size, total)

    def _split(self, table: np.ndarray) -> list[np.ndarray]:
        """Per attribute, a size x combinations table summed over the other attributes (integer counts, exact)."""
        joint = table.reshape(table.shape[0], *self.levels)
        return [joint.sum(axis=tuple(j + 1 for j in range(len(self.levels)) if j != i))
                for i in range(len(self.levels))]

    def _joint_table(self, enc: _Encoded) -> list[np.ndarray] | None:
        """Per attribute, the size x levels table of row counts from ONE bincount against the joint code,
        summed over the other attributes (integer counts, so each table is exact); None when there is no
        joint code or its table would outgrow the rows. Counted already when the feature was coded."""
        if enc.table is not None:
            return self._split(enc.table)
        codes, kept = self._kept(enc)
        if self.joint is None or not self.fits(enc.size, len(codes)):
            return None
        total = math.prod(self.levels)
        key = np.multiply(codes, total, dtype=np.int64)
        key += self.joint if kept is None else self.joint[kept]
        return self._split(np.bincount(key, minlength=enc.size * total).reshape(enc.size, total))

    def tables(self, enc: _Encoded) -> list[np.ndarray]:
        """A categorical feature's levels x k contingency table (integer counts) with each attribute, its rows
        in category order (`enc.rows`: a small-integer column is counted by value, then reordered)."""
        out = self._joint_table(enc)
        if out is None:
            codes, kept = self._kept(enc)
            out = []
            for g, k in zip(self.codes, self.levels, strict=True):
                key = np.multiply(codes, k, dtype=np.int64)
                key += g if kept is None else g[kept]
                out.append(np.bincount(key, minlength=enc.size * k).reshape(enc.size, k))
        return out if enc.rows is None else [t[enc.rows] for t in out]

    def rank_sums(self, enc: _Encoded) -> list[tuple[np.ndarray, np.ndarray]]:
        """A numeric feature's (rank sum, size) of each group of each attribute, as floats. A rank sum adds
        half-integers below 2**52 (n (n + 1) / 2 for up to 95 million rows), exact in any order, so it
        equals `folded_auc`'s bincount of per-row ranks to the bit, whether it comes from the counts of
        each value (few distinct values) or from each row's rank (many)."""
        assert enc.ranks is not None
        joint = self._joint_table(enc)
        if joint is not None:
            return [((t * enc.ranks[:, None]).sum(axis=0), t.sum(axis=0).astype(np.float64)) for t in joint]
        codes, kept = self._kept(enc)
        ranks = enc.ranks[codes]
        out = []
        for g, k in zip(self.codes, self.levels, strict=True):
            rows = g if kept is None else g[kept]
            out.append((np.bincount(rows, weights=ranks, minlength=k),
                        np.bincount(rows, minlength=k).astype(np.float64)))
        return out

    def scores(self, feature: str, enc: _Encoded) -> list[ProxyScore]:
        """The feature scored against every attribute (itself included, if it is one)."""
        if enc.categorical:
            out = []
            for p, table in zip(self.names, self.tables(enc), strict=True):
                t = table.astype(np.float64)
                out.append(ProxyScore(feature, p, CRAMERS_V, cramers_v(t), enc.n, nmi=normalized_mutual_info(t),
                                      levels=enc.levels))
            return out
        return [ProxyScore(feature, p, AUC, _folded_auc(sums, sizes, enc.n), enc.n, levels=enc.levels)
                for p, (sums, sizes) in zip(self.names, self.rank_sums(enc), strict=True)]


JOINT_MAX_GROUPS = 256  # combinations of protected values counted in one joint table


def proxy_strength(frame: pd.DataFrame, feature: str, protected: str) -> ProxyScore:
    """How well `feature` alone predicts `protected` (see the module docstring for the measures).
    The score is not judged (no limit; its message says so); `detect_proxies` or
    `ProxyScore.with_limit` judge it against the policy's limit."""
    score = _Protected.of(ColumnCodes(frame), [protected]).scores(feature, _encode_feature(frame[feature]))[0]
    return score.with_limit(None)


def detect_proxies(frame: pd.DataFrame, features: Iterable[str], protected_attributes: Iterable[str],
                   limits: Mapping[str, float]) -> list[ProxyScore]:
    """Score every (feature, protected attribute) pair, strongest first (by `ProxyScore.strength`,
    undefined scores last), each judged against `limits[measure]` (e.g. {"cramers_v": 0.3,
    "auc": 0.7}; a measure missing from `limits` is reported without a judgement).

    Each column is encoded once (factorize, or a bincount of small integers) and reused across pairs, so
    the cost is one pass per column plus one bincount per feature. A protected attribute listed as a
    feature is skipped against itself."""
    return score_proxies(ColumnCodes(frame), features, protected_attributes, limits)


def score_proxies(columns: ColumnCodes, features: Iterable[str], protected_attributes: Iterable[str],
                  limits: Mapping[str, float]) -> list[ProxyScore]:
    """`detect_proxies` on a frame's shared `ColumnCodes` (harness.measures.coding): text columns another
    measure has coded already are not coded again. The same scores, in the same order."""
    import pandas as pd

    protected = _Protected.of(columns, list(protected_attributes))
    scores: list[ProxyScore] = []
    for feature in features:
        values = columns.frame[feature]
        shared = not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
        enc = _encode_feature(values, columns.factorized(feature) if shared else None, protected)
        scores += [s.with_limit(limits.get(s.measure)) for s in protected.scores(feature, enc)
                   if s.protected != feature]
    return sorted(scores, key=_rank_key)


def _rank_key(s: ProxyScore) -> tuple[bool, float]:
    undefined = math.isnan(s.strength)
    return undefined, 0.0 if undefined else -s.strength
