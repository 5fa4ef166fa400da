"""Shared column codes (harness.measures.coding) are exactly pandas' own factorisations, on every kind of
column a dataset card can hold, so a measure that reads them gives the numbers it gave when it coded the
column itself; and each column is coded once, however many measures ask."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.measures.coding import ColumnCodes, compact
from harness.measures.counts import build_groupings
from tests.test_individual_fairness import MIXED_COLUMNS, mixed_frame


def kinds_frame(n: int = 4000) -> pd.DataFrame:
    """mixed_frame's columns (text with NaN, object text with None, a categorical with an unused level,
    mixed 1 and "1", all missing, floats, ints, bools) and more: "?" markers, "string" (NA) text, a
    nullable integer, floats with -0.0 and NaN, a high-cardinality id, one value only."""
    rng = np.random.default_rng(4)
    frame = mixed_frame(n)
    frame["qmark"] = rng.choice(np.array(["a", "?", "b", " ? "]), n)
    frame["string_na"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.choice(["x", "Y", "z"], n)),
                                  dtype="string")
    frame["nullable"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)), dtype="Int64")
    zeros = np.where(rng.random(n) < 0.3, -0.0, rng.choice([0.0, 1.5, np.nan], n))
    frame["zeros"] = zeros
    frame["id"] = np.char.add("ID-", np.arange(n).astype(str))
    frame["one"] = "same"
    return frame


KINDS = [*MIXED_COLUMNS, "qmark", "string_na", "nullable", "zeros", "id", "one"]


def assert_same_factorization(got: tuple[np.ndarray, pd.Index], want: tuple[np.ndarray, pd.Index]) -> None:
    np.testing.assert_array_equal(got[0], want[0])
    assert got[0].min(initial=0) >= -1
    pd.testing.assert_index_equal(pd.Index(got[1]), pd.Index(want[1]), exact=True)


@pytest.mark.parametrize("column", KINDS)
def test_codes_are_pandas_factorize_in_both_orders(column: str) -> None:
    frame = kinds_frame()
    codes = ColumnCodes(frame)
    assert_same_factorization(codes.factorized(column), pd.factorize(frame[column]))
    assert_same_factorization(codes.sorted(column), pd.factorize(frame[column], sort=True))


@pytest.mark.parametrize("column", KINDS)
def test_sorted_codes_at_some_rows_are_those_rows_of_the_sorted_codes(column: str) -> None:
    """A sample's codes in sorted order, with every row's sorted codes made or not: the same integers, type
    and levels as `pd.factorize(..., sort=True)` at those rows."""
    frame = kinds_frame()
    rows = np.sort(np.random.default_rng(3).choice(len(frame), 500, replace=False))
    codes, want = ColumnCodes(frame), pd.factorize(frame[column], sort=True)
    for _ in range(2):  # first from the distinct values' order alone, then from the cached sorted codes
        got = codes.sorted_at(column, rows)
        assert_same_factorization(got, (want[0][rows], want[1]))
        assert got[0].dtype == codes.sorted(column)[0].dtype


def test_each_column_is_coded_once_and_kept_small(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = kinds_frame()
    calls: list[int] = []
    real = pd.factorize

    def counting(values, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(values))
        return real(values, *args, **kwargs)

    monkeypatch.setattr(pd, "factorize", counting)
    codes = ColumnCodes(frame)
    first = codes.factorized("text")
    assert codes.sorted("text")[0] is codes.sorted("text")[0] and codes.factorized("text") is first
    # one pass over the rows; the sorted order costs a factorize of the five distinct values only
    assert calls == [len(frame), 5]
    assert first[0].dtype == np.int8 and codes.factorized("id")[0].dtype == np.int16


def test_compact_picks_the_smallest_type_that_holds_the_codes() -> None:
    assert compact(np.array([-1, 0, 126]), 127).dtype == np.int8
    assert compact(np.array([-1, 127]), 128).dtype == np.int16
    assert compact(np.array([-1, 40_000]), 40_001).dtype == np.int32
    assert compact(np.array([0, 2**31]), 2**31 + 1).dtype == np.int64


def test_groupings_from_shared_codes_are_the_groupings() -> None:
    frame = kinds_frame()
    refs = {"text": "a", "obj": "x", "string_na": None}
    for shared, own in zip(build_groupings(frame, refs, codes=ColumnCodes(frame)), build_groupings(frame, refs),
                           strict=True):
        assert (shared.key, shared.labels, shared.reference) == (own.key, own.labels, own.reference)
        np.testing.assert_array_equal(shared.codes, own.codes)
        assert shared.codes.dtype == own.codes.dtype
    # a missing value is a group of its own, last, in the single attribute and in every intersection
    text = build_groupings(frame, refs)[0]
    assert text.labels[-1] == ("missing",) and (text.codes == len(text.labels) - 1).sum() == frame["text"].isna().sum()


def test_consistency_features_from_shared_codes_are_the_same_bits() -> None:
    """kNN consistency's one-hot columns read off the shared codes equal get_dummies' (via Categorical),
    for pandas' text dtypes with missing values, an all-missing text column, and the other kinds."""
    from test_suites.bias.individual import numeric_feature_matrix

    frame = kinds_frame()
    frame["python_str"] = frame["text"].astype(pd.StringDtype("python", na_value=np.nan))
    frame["empty_text"] = pd.Series([None] * len(frame), dtype="str")
    columns = ["income", "text", "string_na", "python_str", "empty_text", "qmark", "id", "obj", "cat", "flag"]
    codes = ColumnCodes(frame)
    for rows in (np.sort(np.random.default_rng(1).choice(len(frame), 700, replace=False)), np.arange(len(frame))):
        want = numeric_feature_matrix(frame, columns, rows)
        got = numeric_feature_matrix(frame, columns, rows, codes=codes)
        assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
