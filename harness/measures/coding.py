"""Integer codes of a frame's columns, made once per column and shared by every measure that needs them.

Coding a text column (hashing every row's string) is most of what a group count costs: at a million rows a
bincount of group x cell codes takes milliseconds, `pd.factorize` of one text column about 25 ms (NOTES.md).
The bias suite needs the same few columns coded by several checks: the protected attributes by the counts
engine, proxy detection and the counterfactual check, the categorical inputs by proxy detection and kNN
consistency. Each used to factorise them again. A `ColumnCodes` for the assessed frame, held in the check
context's cache, codes each column the first time it is asked for and hands out the same codes afterwards.

Every accessor returns exactly what the pandas call it names returns on the column (tests/test_coding.py
compares them on every kind of column), so a measure gives the same numbers from shared codes as from its
own; only the time changes. Codes are kept in the smallest integer type that holds them (a million rows of
a five-level column is 1 MB, not 8), so callers cast before arithmetic that could overflow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def compact(codes: np.ndarray, levels: int) -> np.ndarray:
    """`codes` (-1 for missing, else 0..levels-1) in the smallest signed integer type that holds them."""
    for kind in (np.int8, np.int16, np.int32):
        if levels <= np.iinfo(kind).max:
            return codes.astype(kind, copy=False)
    return codes.astype(np.int64, copy=False)


class ColumnCodes:
    """The columns of one frame, each factorised on first use and kept (see the module docstring).

    The frame must not change while its codes are in use: a check context's frame is the reference
    dataset's, which no check modifies (the counterfactual check changes copies)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._first: dict[str, tuple[np.ndarray, pd.Index]] = {}
        self._sorted: dict[str, tuple[np.ndarray, pd.Index]] = {}
        self._order: dict[str, tuple[np.ndarray, pd.Index]] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def factorized(self, column: str) -> tuple[np.ndarray, pd.Index]:
        """`pd.factorize(frame[column])`: codes in order of first appearance, -1 for a missing value, and
        the distinct values."""
        if column not in self._first:
            import pandas as pd

            codes, uniques = pd.factorize(self.frame[column])
            self._first[column] = (compact(codes, len(uniques)), uniques)
        return self._first[column]

    def sorted(self, column: str) -> tuple[np.ndarray, pd.Index]:
        """`pd.factorize(frame[column], sort=True)`: codes of the sorted distinct values. Derived from
        `factorized` by sorting the distinct values alone (pandas sorts them the same way after its own
        hashing pass), so the column is hashed once for both orders."""
        if column not in self._sorted:
            codes, _ = self.factorized(column)
            remap, ordered = self._sorting(column)
            self._sorted[column] = (compact(remap[codes], len(ordered)), ordered)
        return self._sorted[column]

    def sorted_at(self, column: str, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
        """`sorted(column)`'s codes at the given row positions, and its distinct values: for a measure that
        reads a sample of rows, which need not have every row's code remapped to the sorted order."""
        if column in self._sorted:
            codes, ordered = self._sorted[column]
            return codes[rows], ordered
        remap, ordered = self._sorting(column)
        return compact(remap[self.factorized(column)[0][rows]], len(ordered)), ordered

    def _sorting(self, column: str) -> tuple[np.ndarray, pd.Index]:
        """Each first-appearance code's position among the sorted distinct values (a last slot, -1, for
        factorize's -1, a missing value), and those values."""
        if column not in self._order:
            import pandas as pd

            _, uniques = self.factorized(column)
            position, ordered = pd.factorize(uniques, sort=True)
            self._order[column] = (np.append(position, -1), ordered)
        return self._order[column]


__all__ = ["ColumnCodes", "compact"]
