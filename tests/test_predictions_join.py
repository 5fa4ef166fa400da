"""A vendor's predictions file joined to the reference data by id (issue 13, section 5).

The join is a hash lookup (`Index.get_indexer`), not a per-id scan; these tests pin what must not move with it:
ids compared after stripping surrounding whitespace (so "a00001" and " a00001" are one id and a duplicate),
the refusal messages for duplicate and missing ids, extra ids ignored, and labels and scores in dataset order
with the dtypes the file gives them.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.datasets import load_dataset
from harness.errors import ToolConfigError
from harness.manifest import load_manifest
from harness.tools import load_tool, predictions
from harness.tools.predictions import _hashed_positions, read_predictions, row_positions
from tests.conftest import write_case


def _case(tmp_path: Path, seed: int, n: int = 12) -> tuple[Path, Path, pd.DataFrame]:
    tool, card = write_case(tmp_path / "c", n=n, seed=seed)
    preds = tool.parent / "predictions.csv"
    return tool, card, pd.read_csv(preds, dtype={"id": str})


def _predict(tool: Path, card: Path):
    return load_tool(load_manifest(tool)).predict(load_dataset(str(card)))


def test_an_id_repeated_with_surrounding_whitespace_is_a_duplicate(tmp_path: Path) -> None:
    tool, card, table = _case(tmp_path, seed=131)
    preds = tool.parent / "predictions.csv"
    # the vendor answers a00003 twice, once as " a00003" with another label: which one would count?
    extra = table.iloc[[3]].assign(id=" a00003", prediction=1 - table["prediction"].iloc[3])
    pd.concat([table, extra]).to_csv(preds, index=False)
    with pytest.raises(ToolConfigError) as e:
        _predict(tool, card)
    assert str(e.value) == f"predictions file {preds} has duplicate ids, e.g. ['a00003']"


def test_duplicate_ids_as_written_are_refused_with_the_same_message(tmp_path: Path) -> None:
    tool, card, table = _case(tmp_path, seed=132)
    preds = tool.parent / "predictions.csv"
    pd.concat([table, table.iloc[[5, 7, 5]]]).to_csv(preds, index=False)
    with pytest.raises(ToolConfigError, match=re.escape("has duplicate ids, e.g. ['a00005', 'a00007', 'a00005']")):
        _predict(tool, card)


def test_missing_ids_are_named_in_dataset_order(tmp_path: Path) -> None:
    tool, card, table = _case(tmp_path, seed=133)
    preds = tool.parent / "predictions.csv"
    table.drop(index=[9, 2, 4]).iloc[::-1].to_csv(preds, index=False)
    with pytest.raises(ToolConfigError) as e:
        _predict(tool, card)
    assert str(e.value) == (f"predictions file {preds} has no prediction for 3 of 12 ids of dataset 'case-133' "
                            "(id column 'id'), e.g. ['a00002', 'a00004', 'a00009']")


def test_extra_ids_are_ignored_and_whitespace_around_ids_is_not_a_mismatch(tmp_path: Path) -> None:
    """Ids the dataset does not have are left out (a vendor may answer a larger batch), as before."""
    tool, card, table = _case(tmp_path, seed=134)
    preds = tool.parent / "predictions.csv"
    padded = table.assign(id=[f"  {i}\t" if k % 2 else i for k, i in enumerate(table["id"])])
    more = pd.DataFrame({"id": ["zz1", " zz2"], "prediction": [1, 0], "score": [0.5, 0.5]})
    pd.concat([more, padded]).to_csv(preds, index=False)
    out = _predict(tool, card)
    assert out.labels.tolist() == table["prediction"].tolist()
    assert out.scores is not None and out.scores.tolist() == table["score"].tolist()


def test_a_shuffled_file_gives_labels_and_scores_in_dataset_order(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=8, seed=135)
    preds = tool.parent / "predictions.csv"
    order = [5, 0, 7, 2, 6, 1, 3, 4]
    labels = ["no", "yes", "yes", "no", "maybe", "no", "yes", "no"]
    pd.DataFrame({"id": [f"a{i:05d}" for i in order], "prediction": [labels[i] for i in order],
                  "score": [i / 10 for i in order]}).to_csv(preds, index=False)
    out = _predict(tool, card)
    assert out.labels.dtype == object
    assert out.labels.tolist() == labels
    assert out.scores is not None and out.scores.dtype == np.float64
    assert out.scores.tolist() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def test_integer_labels_keep_their_dtype(tmp_path: Path) -> None:
    tool, card, table = _case(tmp_path, seed=136)
    preds = tool.parent / "predictions.csv"
    table.iloc[::-1].to_csv(preds, index=False)
    out = _predict(tool, card)
    assert out.labels.dtype == np.int64
    assert out.labels.tolist() == table["prediction"].tolist()


def _text_join(wanted: list[str], given: list[str]) -> list[int]:
    """The oracle: pandas' own join on the text."""
    return pd.Index(given).get_indexer(pd.Index(wanted)).tolist()


def test_the_hashed_join_gives_the_text_join_on_awkward_ids() -> None:
    """Ids of many lengths (the word-by-word path), several words long, non-ASCII, with a NUL byte, empty,
    and one the other side lacks; shuffled; as pandas 3 text and as plain Python objects (pandas 2)."""
    rng = np.random.default_rng(7)
    ids = ([f"r{i}" for i in range(300)] + ["", "a", "a\x00", "a\x00\x00", "é", "e\u0301", "名前-1", "x" * 8,
                                             "x" * 9, "x" * 62 + "é", "12345678-1234-1234-1234-1234567890ab"])
    wanted = [*[ids[i] for i in rng.permutation(len(ids))][:-3], "not-given", "a\x00\x00\x00"]
    given = [*[ids[i] for i in rng.permutation(len(ids))], "extra-1", "x" * 7]
    expected = _text_join(wanted, given)
    assert expected.count(-1) == 2
    for dtype in ("str", object):
        at = row_positions(pd.Series(wanted, dtype=dtype), pd.Series(given, dtype=dtype))
        assert at is not None and at.tolist() == expected
        assert _hashed_positions(pd.Series(wanted, dtype=dtype), pd.Series(given, dtype=dtype)) is not None


def test_ids_of_one_width_are_joined_like_any_others() -> None:
    """One side all of one width (its bytes read as a table), the other not (read word by word)."""
    wanted = [f"id{i:06d}" for i in range(1000)]
    given = [f"id{i:06d}" for i in range(999, -1, -1)] + ["id1", "longer-id-000001"]
    at = row_positions(pd.Series(wanted, dtype="str"), pd.Series(given, dtype="str"))
    assert at is not None and at.tolist() == list(range(999, -1, -1))


def test_ids_too_long_to_hash_are_joined_as_text() -> None:
    wanted = ["y" * 70 + str(i) for i in range(5)]
    given = [*wanted[::-1], "z" * 100]
    assert _hashed_positions(pd.Series(wanted), pd.Series(given)) is None
    assert row_positions(pd.Series(wanted), pd.Series(given)).tolist() == [4, 3, 2, 1, 0]  # type: ignore[union-attr]


def test_duplicates_and_missing_values_in_the_join() -> None:
    assert row_positions(pd.Series(["a", "b"]), pd.Series(["b", "a", "b"])) is None
    assert row_positions(pd.Series(["a", "b"]), pd.Series(["b", "", ""])) is None
    # a row without an id answers nothing (an extra row), as the text join says; two such rows are duplicates
    given = pd.Series(["b", None, "a"], dtype="str")
    assert row_positions(pd.Series(["a", "b"], dtype="str"), given).tolist() == [2, 0]  # type: ignore[union-attr]
    assert row_positions(pd.Series(["a"], dtype="str"), pd.Series(["a", None, None], dtype="str")) is None


def test_a_hash_collision_never_pairs_two_different_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: a hash that is only the id's length makes every same-length id collide. The join must
    notice (a match that is not the same text, or hashes that repeat) and answer as the text join does."""
    monkeypatch.setattr(predictions, "_hash", lambda lengths, words: lengths.astype(np.uint64))
    wanted, given = ["c", "bb"], ["a", "bb"]  # "c" meets "a"'s hash; only the text tells them apart
    assert row_positions(pd.Series(wanted), pd.Series(given)).tolist() == [-1, 1]  # type: ignore[union-attr]
    wanted, given = ["q1", "q2", "q3"], ["q3", "q1", "q2"]  # every hash repeats: not duplicates, though
    assert row_positions(pd.Series(wanted), pd.Series(given)).tolist() == [1, 2, 0]  # type: ignore[union-attr]
    # a hash blind to length: "a" and "a<NUL>" have the same bytes, zero-padded, and are still two ids
    monkeypatch.setattr(predictions, "_hash", lambda lengths, words: words[:, 0].copy())
    wanted, given = ["a\x00", "b"], ["a", "b"]
    assert row_positions(pd.Series(wanted), pd.Series(given)).tolist() == [-1, 1]  # type: ignore[union-attr]


def test_numeric_ids_are_read_as_written(tmp_path: Path) -> None:
    """Ids that look like numbers stay the text the vendor wrote ("007" is not 7), as `dtype=str` reads them."""
    path = tmp_path / "p.csv"
    path.write_text("id,prediction\n007,1\n10,0\n 3 ,1\n")
    df = read_predictions(path, "id")
    assert df["id"].tolist() == ["007", "10", " 3 "]
    assert df["prediction"].dtype == np.int64
    pd.testing.assert_frame_equal(df, pd.read_csv(path, dtype={"id": str}))


def test_a_mixed_id_column_warns_as_it_always_did(tmp_path: Path) -> None:
    """pandas reads a long file in pieces; ids that are numbers in one piece and text in another come out mixed
    (DtypeWarning) unless read as text. The warnings the user sees are those of `dtype=str` alone."""
    n = 600_000
    mixed = ["1"] * (n // 2) + ["yes"] * (n // 2)
    for name, ids in (("read twice", [str(i) for i in range(n // 2)] + [f"x{i}" for i in range(n // 2)]),
                      ("read once", [f"x{i}" for i in range(n)])):
        path = tmp_path / "p.csv"
        pd.DataFrame({"id": ids, "prediction": mixed}).to_csv(path, index=False)
        with warnings.catch_warnings(record=True) as today:
            warnings.simplefilter("always")
            expected = pd.read_csv(path, dtype={"id": str})
        with warnings.catch_warnings(record=True) as now:
            warnings.simplefilter("always")
            df = read_predictions(path, "id")
        pd.testing.assert_frame_equal(df, expected)
        assert [str(w.message) for w in now] == [str(w.message) for w in today], name
        assert [str(w.message) for w in now] == ["Columns (1: prediction) have mixed types. Specify dtype option "
                                                 "on import or set low_memory=False."], name


def test_row_numbers_as_ids(tmp_path: Path) -> None:
    """A dataset without an id column is keyed by row number: the vendor's numeric ids match it, in any order,
    and "0007" is not row 7 (nor "0000" row 0)."""
    tool, card = write_case(tmp_path / "c", n=10, seed=137)
    card.write_text(card.read_text().replace("id_column: id\n", ""))
    preds = tool.parent / "predictions.csv"
    table = pd.read_csv(preds)
    shuffled = table.assign(id=range(10)).iloc[[3, 9, 0, 5, 1, 8, 2, 7, 4, 6]]
    shuffled.to_csv(preds, index=False)
    assert _predict(tool, card).labels.tolist() == table["prediction"].tolist()
    shuffled.assign(id=[f"{i:04d}" for i in shuffled["id"]]).to_csv(preds, index=False)
    with pytest.raises(ToolConfigError) as e:
        _predict(tool, card)
    assert str(e.value) == (f"predictions file {preds} has no prediction for 10 of 10 ids of dataset 'case-137' "
                            "(id column 'row number'), e.g. ['0', '1', '2', '3', '4']")
