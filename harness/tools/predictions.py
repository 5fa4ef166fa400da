"""The `predictions` adapter: a vendor's CSV of outputs keyed by the dataset's id column.

The black-box path for vendors who will not hand over a model: the City sends the reference inputs,
the vendor returns one prediction per id, and the harness never runs vendor code.

Ids are compared as text with surrounding whitespace stripped (vendors' exports pad them), so "a01" and
" a01" are one id: a file that answers it twice is refused, since either answer could be the one counted.

The join is done on numbers, not a per-id scan of text (issue 13, section 5: `Series.isin(index)` took 6 s
for a million string ids under pandas 3, half of a 1M-row bias assessment; `Index.get_indexer` on the text
still 1.3 s). Each id's UTF-8 bytes become a 64-bit hash in numpy, the hashes of both sides are sorted and
lined up, and every match is then compared byte for byte, so a hash collision can never pair the wrong rows.
When the hashes cannot decide (a collision, a row without an id, ids over 64 bytes, no pyarrow) the join falls
back to `Index.get_indexer` on the text itself, which gives the same answer more slowly.
`benchmarks/bench_predictions.py` measures it against a plain `read_csv` of both files.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import is_string_dtype

from harness.errors import ToolConfigError
from harness.tools.base import Predictions
from harness.tools.labels import apply_label_map

if TYPE_CHECKING:
    from pathlib import Path

    from harness.datasets import ReferenceDataset
    from harness.tools.base import ToolSite
    from harness.tools.configs import PredictionsAdapter


@dataclass
class PredictionsTool:
    path: Path
    id_column: str
    label_column: str
    score_column: str | None
    name: str
    kind: str = "predictions"
    label_map: dict[Any, Any] | None = None  # the vendor's labels -> the card's target values
    reason_column: str | None = None
    reason_separator: str = ";"

    @classmethod
    def from_config(cls, a: PredictionsAdapter, site: ToolSite) -> PredictionsTool:
        path = site.existing_file(a.path, "predictions file")
        return cls(path=path, id_column=a.id_column, label_column=a.label_column, score_column=a.score_column,
                   name=site.tool_id, label_map=a.label_map, reason_column=a.reason_column,
                   reason_separator=a.reason_separator)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        df = read_predictions(self.path, self.id_column)
        wanted = [self.id_column, self.label_column] + ([self.score_column] if self.score_column else [])
        wanted += [self.reason_column] if self.reason_column else []
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise ToolConfigError(
                f"predictions file {self.path} lacks column(s) {missing} named in the manifest; "
                f"it has {list(df.columns)}"
            )
        ids = dataset.ids.astype(str).str.strip()
        given = df[self.id_column].astype(str).str.strip()
        at = row_positions(ids, given)
        if at is None:
            dup = given[given.duplicated()].head(5).tolist()
            raise ToolConfigError(f"predictions file {self.path} has duplicate ids, e.g. {dup}")
        absent = ids[at < 0]
        if len(absent):
            raise ToolConfigError(
                f"predictions file {self.path} has no prediction for {len(absent)} of {len(ids)} ids of "
                f"dataset {dataset.name!r} (id column {dataset.card.id_column or 'row number'!r}), "
                f"e.g. {absent.head(5).tolist()}"
            )
        labels = apply_label_map(df[self.label_column].take(at).to_numpy(), self.label_map)
        scores = None
        if self.score_column:
            scores = pd.to_numeric(df[self.score_column].take(at), errors="coerce").to_numpy(dtype=float)
            if np.isnan(scores).any():
                raise ToolConfigError(
                    f"predictions file {self.path}: column {self.score_column!r} has missing or non-numeric "
                    f"scores for {int(np.isnan(scores).sum())} ids"
                )
        reasons = None
        if self.reason_column:
            reasons = [reason_codes(v, self.reason_separator) for v in df[self.reason_column].take(at).to_numpy()]
        return Predictions(labels=labels, scores=scores, reasons=reasons)


def reason_codes(value: Any, separator: str) -> tuple[str, ...]:
    """One cell of a reason-codes column ("income_pct_ami; rent_burden") as its codes, most important first,
    each stripped; an empty or missing cell gives none (the vendor gave no reason for that decision)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    return tuple(code.strip() for code in str(value).split(separator) if code.strip())


def read_predictions(path: Path, id_column: str) -> pd.DataFrame:
    """A vendor's predictions file, its id column as written: the same frame as
    `pd.read_csv(path, dtype={id_column: str})`, faster. Naming a column's type makes pandas 3 build a
    Python string per row (0.55 s for a million ids against 0.11 s inferred), so the file is read with its
    types inferred, where ids that read as text are exactly that text; only a file whose ids read as something
    else (numbers, where "007" would become 7, or a mix) is read again as text. The first read's warnings are
    shown only when its frame is kept, so a mixed id column is not reported on top of the second read's."""
    try:
        with warnings.catch_warnings(record=True) as first:
            warnings.simplefilter("always")
            df = pd.read_csv(path)
        if id_column in df.columns and not is_string_dtype(df[id_column]):
            return pd.read_csv(path, dtype={id_column: str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise ToolConfigError(f"cannot read predictions file {path}: {e}") from None
    for w in first:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return df


WORD = 8  # bytes of an id read per step (one uint64)
MAX_HASHED_BYTES = 64  # longer ids are joined as text: their words would cost more memory than the join saves
MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) that spreads bits on multiplication
# KEEP[k] keeps the first k bytes of a little-endian word and clears the rest (bytes of the next id)
KEEP = np.array([(1 << (8 * k)) - 1 for k in range(WORD)] + [2**64 - 1], dtype=np.uint64)


def row_positions(wanted: pd.Series, given: pd.Series) -> np.ndarray | None:
    """For each value of `wanted`, the position in `given` of the same text, or -1 where there is none;
    None when `given` holds a value twice (the caller names the duplicates)."""
    at = _hashed_positions(wanted, given)
    if at is not None:
        return at
    index = pd.Index(given)
    if not index.is_unique:
        return None
    return np.asarray(index.get_indexer(pd.Index(wanted)), dtype=np.intp)


def _hashed_positions(wanted: pd.Series, given: pd.Series) -> np.ndarray | None:
    """`row_positions` by 64-bit hashes of the ids' UTF-8 bytes; None whenever the hashes cannot decide.
    Exact: equal texts hash alike, so an id whose hash `given` lacks is absent; `given`'s hashes being unique
    means its texts are; and each match is compared byte for byte before it is trusted."""
    try:
        import pyarrow as pa

        want, have = _utf8(pa, wanted), _utf8(pa, given)
    except (ImportError, TypeError, ValueError, NotImplementedError):  # no pyarrow, or ids it cannot hold
        return None
    if not len(want) or not len(have) or want.null_count or have.null_count:
        return None
    lengths = [np.diff(_offsets(a)) for a in (want, have)]
    longest = max(int(n.max()) for n in lengths)
    if longest > MAX_HASHED_BYTES:
        return None
    count = max(1, -(-longest // WORD))
    want_words, have_words = _words(want, lengths[0], count), _words(have, lengths[1], count)
    want_hash, have_hash = _hash(lengths[0], want_words), _hash(lengths[1], have_words)
    at = _sorted_join(want_hash, have_hash)
    if at is None:
        table = pd.Index(have_hash)
        if not table.is_unique:
            return None  # duplicate ids or, very rarely, two ids with one hash: the text join decides which
        at = np.asarray(table.get_indexer(want_hash), dtype=np.intp)
    found = slice(None) if at.min() >= 0 else at >= 0
    one_width = int(lengths[0].min()) == longest == int(lengths[1].min())  # then lengths cannot differ
    same = ((one_width or np.array_equal(lengths[0][found], lengths[1][at[found]]))
            and np.array_equal(want_words[found], have_words[at[found]]))
    return at if same else None  # not the same: a hash collision paired two different ids


def _sorted_join(want: np.ndarray, have: np.ndarray) -> np.ndarray | None:
    """For each hash of `want`, the position in `have` of the same hash (-1 where none is), by sorting: each
    hash keeps its high bits and carries its position in the low ones, so one `np.sort` per side (SIMD; half the
    time of pandas' hash table on 1M ids) lines them up. None when two of `have` share those high bits (duplicate
    ids, or 1M ids whose 44-bit prefixes meet, about 3 % of the time): the hash table then decides."""
    bits = np.uint64(max(len(want), len(have)).bit_length())
    low = np.uint64((1 << int(bits)) - 1)
    have_sorted = np.sort((have & ~low) | np.arange(len(have), dtype=np.uint64))
    want_sorted = np.sort((want & ~low) | np.arange(len(want), dtype=np.uint64))
    have_key, want_key = have_sorted >> bits, want_sorted >> bits
    if (have_key[1:] == have_key[:-1]).any():
        return None
    at = np.full(len(want), -1, dtype=np.intp)
    if np.array_equal(have_key, want_key):  # the vendor answered exactly the dataset's ids, in any order
        at[(want_sorted & low).view(np.int64)] = (have_sorted & low).view(np.int64)
        return at
    k = np.minimum(np.searchsorted(have_key, want_key), len(have_key) - 1)
    hit = have_key[k] == want_key
    at[(want_sorted[hit] & low).view(np.int64)] = (have_sorted[k[hit]] & low).view(np.int64)
    return at


def _utf8(pa: Any, values: pd.Series) -> Any:
    """The ids as one pyarrow large_string array (no copy when pandas already keeps them in pyarrow)."""
    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _offsets(arr: Any) -> np.ndarray:
    """Where each string of a large_string array starts in its data buffer, and where the last one ends."""
    return np.frombuffer(arr.buffers()[1], dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)


def _words(arr: Any, lengths: np.ndarray, count: int) -> np.ndarray:
    """Each string's bytes as `count` little-endian uint64 words, zero past its end: two strings of one
    length are equal exactly when their rows are."""
    buffer = arr.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, dtype=np.uint8)
    starts = _offsets(arr)[:-1]
    width = int(lengths[0])
    if (lengths == width).all():  # ids of one width (the usual case): their bytes are already a table
        table = np.zeros((len(arr), count * WORD), dtype=np.uint8)
        table[:, :width] = data[int(starts[0]):int(starts[0]) + len(arr) * width].reshape(len(arr), width)
        return table.view("<u8").astype(np.uint64, copy=False)
    padded = np.concatenate([data, np.zeros(WORD, dtype=np.uint8)])
    # the word starting at every byte (a view; unaligned reads), taken only where a string has bytes left
    word_at = np.ndarray(shape=(len(padded) - WORD + 1,), dtype="<u8", buffer=padded, strides=(1,))
    out = np.empty((len(arr), count), dtype=np.uint64)
    for w in range(count):
        left = np.clip(lengths - w * WORD, 0, WORD)
        np.bitwise_and(word_at[np.minimum(starts + w * WORD, len(word_at) - 1)], KEEP[left], out=out[:, w])
    return out


def _hash(lengths: np.ndarray, words: np.ndarray) -> np.ndarray:
    """One uint64 per string from its length and its words (multiply and shift, as in splitmix64)."""
    h = lengths.astype(np.uint64) * MIX
    for w in range(words.shape[1]):
        h ^= words[:, w]
        h *= MIX
        h ^= h >> np.uint64(29)
    return h
