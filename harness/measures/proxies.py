"""Proxy detection: how well each feature, on its own, predicts a protected attribute.

A tool that never sees race can still act on race through a feature that stands in for it (the demo
data's `neighbourhood` does, by design). Finding such proxies needs only the data, not the tool, so it
is an advisory check that can run before any model is assessed: a strong proxy says where to look,
not that the tool is biased.

Two measures, chosen so each is a standard, closed-form statistic (no model fitting, so the result
does not depend on a learner's settings; 1,000,000 rows x 20 features, half of them numeric, take
about two seconds, dominated by one sort per numeric column):

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

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    missing = np.array([isinstance(u, str) and u.strip() == "?" for u in uniques], dtype=bool)
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
    n = len(ranks)
    sizes = np.bincount(groups, minlength=k).astype(np.float64)
    rank_sums = np.bincount(groups, weights=ranks, minlength=k)
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
    """One feature column, encoded once for all protected attributes."""

    categorical: bool
    levels: int
    codes: np.ndarray | None = None   # categorical: a code per row
    order: np.ndarray | None = None   # numeric: the non-missing rows, in ascending order of value
    ranks: np.ndarray | None = None   # numeric: the mid-rank of each row of `order`


def _encode_feature(values: pd.Series) -> _Encoded:
    """Categorical codes, or (numeric) the rows sorted by value with their mid-ranks.

    A numeric column is sorted once; the sort gives both its number of distinct values (is it a
    category?) and the tie-averaged ranks, in sorted order so they need not be scattered back."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        codes, k = encode_categorical(values)
        return _Encoded(True, k, codes=codes)
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(x)
    if missing.any():
        kept = np.flatnonzero(~missing)
        order = kept[np.argsort(x[kept])]
    else:
        order = np.argsort(x)
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]]) if len(xs) else np.array([], dtype=np.int64)
    if len(starts) <= MAX_CATEGORICAL_LEVELS:
        codes, k = encode_categorical(values)
        return _Encoded(True, k, codes=codes)
    ends = np.r_[starts[1:], len(xs)]
    ranks = np.repeat((starts + 1 + ends) / 2.0, ends - starts)   # 1-based ranks start+1..end, averaged
    return _Encoded(False, len(starts), order=order, ranks=ranks)


def _score(feature: str, protected: str, enc: _Encoded, groups: np.ndarray, k: int) -> ProxyScore:
    if enc.categorical:
        assert enc.codes is not None
        table = contingency_table(enc.codes, enc.levels, groups, k)
        return ProxyScore(feature, protected, CRAMERS_V, cramers_v(table), len(groups),
                          nmi=normalized_mutual_info(table), levels=enc.levels)
    assert enc.order is not None and enc.ranks is not None
    value = folded_auc(enc.ranks, groups[enc.order], k)
    return ProxyScore(feature, protected, AUC, value, len(enc.order), levels=enc.levels)


def proxy_strength(frame: pd.DataFrame, feature: str, protected: str) -> ProxyScore:
    """How well `feature` alone predicts `protected` (see the module docstring for the measures).
    The score is not judged (no limit; its message says so); `detect_proxies` or
    `ProxyScore.with_limit` judge it against the policy's limit."""
    groups, k = encode_categorical(frame[protected])
    return _score(feature, protected, _encode_feature(frame[feature]), groups, k).with_limit(None)


def detect_proxies(frame: pd.DataFrame, features: Iterable[str], protected_attributes: Iterable[str],
                   limits: Mapping[str, float]) -> list[ProxyScore]:
    """Score every (feature, protected attribute) pair, strongest first (by `ProxyScore.strength`,
    undefined scores last), each judged against `limits[measure]` (e.g. {"cramers_v": 0.3,
    "auc": 0.7}; a measure missing from `limits` is reported without a judgement).

    Each column is encoded once (factorize, or one rank sort) and reused across pairs, so the cost is
    one pass per column plus one bincount per pair. A protected attribute listed as a feature is
    skipped against itself."""
    protected = list(protected_attributes)
    encoded_protected = {p: encode_categorical(frame[p]) for p in protected}
    scores: list[ProxyScore] = []
    for feature in features:
        enc = _encode_feature(frame[feature])
        for p in protected:
            if p == feature:
                continue
            groups, k = encoded_protected[p]
            s = _score(feature, p, enc, groups, k)
            scores.append(s.with_limit(limits.get(s.measure)))
    return sorted(scores, key=_rank_key)


def _rank_key(s: ProxyScore) -> tuple[bool, float]:
    undefined = math.isnan(s.strength)
    return undefined, 0.0 if undefined else -s.strength
