"""The counts engine: per-group confusion counts from one vectorised pass.

Every group rate, disparity and bootstrap interval of the bias suite is derived from the table this
module builds (groups x [TN, FP, FN, TP]); no metric re-scans rows. Keeping the group-by behind
`confusion_counts` means a distributed engine can produce the same table for data that outgrow one
machine, and everything downstream is unchanged (DESIGN.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from harness.measures.coding import ColumnCodes

if TYPE_CHECKING:
    import pandas as pd

# cell order along the last axis
TN, FP, FN, TP = 0, 1, 2, 3


@dataclass(frozen=True)
class Grouping:
    """Integer-coded groups for one attribute or one intersection of attributes."""

    key: str                       # "race" or "sex_x_race": used in metric names
    attributes: tuple[str, ...]
    codes: np.ndarray              # one code per row, 0..len(labels)-1
    labels: tuple[tuple[str, ...], ...]
    reference: int | None          # code of the reference group, if declared and present

    @property
    def names(self) -> list[str]:
        """Readable group names: "Female", or "Female & Black" for intersections."""
        return [" & ".join(lab) for lab in self.labels]

    def group_key(self, i: int) -> str:
        """Metric-name form: "race.Black", "sex_x_race.Female.Black" (MLflow-safe characters)."""
        return ".".join([self.key, *(_safe(v) for v in self.labels[i])])

    def groups_of(self, finer: Grouping) -> np.ndarray:
        """This grouping's code of each group of `finer`, a grouping of the same rows by these attributes and
        more (sex of each sex x race group), so that counts of `finer` add up to counts of this one."""
        at = [finer.attributes.index(a) for a in self.attributes]
        code = {label: i for i, label in enumerate(self.labels)}
        return np.array([code[tuple(label[j] for j in at)] for label in finer.labels], dtype=np.intp)


def _safe(value: str) -> str:
    import re

    return re.sub(r"[^\w\- /]", "_", str(value)).strip() or "_"


def _encode(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, list[str]]:
    """Sorted integer codes (`pd.factorize(values, sort=True)`); a missing value is a group of its own
    ("missing"), never dropped."""
    labels = [str(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append("missing")
    return codes.astype(np.int64), labels


def build_groupings(frame: pd.DataFrame, references: dict[str, object], *,
                    codes: ColumnCodes | None = None) -> list[Grouping]:
    """Each protected attribute alone, then every intersection of two or more of them. `codes` (the
    frame's shared `ColumnCodes`, see harness.measures.coding) saves coding the attributes again when
    another measure has; the groupings are the same."""
    codes = codes if codes is not None else ColumnCodes(frame)
    attrs = list(references)
    coded = {a: _encode(*codes.sorted(a)) for a in attrs}
    out: list[Grouping] = []
    for size in range(1, len(attrs) + 1):
        for combo in combinations(attrs, size):
            code = np.zeros(len(frame), dtype=np.int64)
            for a in combo:
                code = code * len(coded[a][1]) + coded[a][0]
            # compact the codes of the combinations that occur: O(n), no sort
            seen = np.bincount(code, minlength=int(np.prod([len(coded[a][1]) for a in combo])))
            present = np.flatnonzero(seen)
            remap = np.full(len(seen), -1, dtype=np.int32)  # int32 codes: half the memory at scale
            remap[present] = np.arange(len(present))
            compact = remap[code]
            labels = []
            for c in present.tolist():
                parts = []
                for a in reversed(combo):
                    n = len(coded[a][1])
                    parts.append(coded[a][1][c % n])
                    c //= n
                labels.append(tuple(reversed(parts)))
            ref_label = tuple(str(references[a]) for a in combo)
            reference = labels.index(ref_label) if all(references[a] is not None for a in combo) \
                and ref_label in labels else None
            out.append(Grouping(key="_x_".join(combo), attributes=combo, codes=compact,
                                labels=tuple(labels), reference=reference))
    return out


def confusion_counts(codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray,
                     weights: np.ndarray | None = None) -> np.ndarray:
    """groups x 4 table of [TN, FP, FN, TP] (weighted sums when weights are given), one bincount."""
    cell = codes.astype(np.int64) * 4
    cell += y_true.astype(np.int64) * 2
    cell += y_pred
    return np.bincount(cell, weights=weights, minlength=n_groups * 4).reshape(n_groups, 4)


def bootstrap_counts(counts: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """samples x groups x 4 resampled tables: a multinomial draw of each group's cells with the group's
    size fixed (a stratified bootstrap). Since every metric here depends on the rows only through
    these counts, this is exactly the row-resampling bootstrap, at a cost independent of row count."""
    counts = np.asarray(counts)
    out = np.zeros((samples, *counts.shape), dtype=np.int64)
    for g, row in enumerate(counts):
        n = round(float(row.sum()))
        if n > 0:
            out[:, g, :] = rng.multinomial(n, row / row.sum(), size=samples)
    return out
