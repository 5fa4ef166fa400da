"""`harness datasets draft`: a dataset card drafted from a CSV, for the analyst to finish.

What can be measured is filled in: the file's sha256, its row count and, per column, its type, whether it has
missing values, its range (numbers) and its values (a column with few of them). Those specs are what the
data-quality suite checks every later copy of the data against (policy 4.2: DTI's data quality standards).

What only the analyst can decide is left as a TODO placeholder (`harness.datasets.DRAFT_MARKER`): the target and
its favourable outcome, the protected attributes and their reference groups, the licence and source (policy 1.1:
the City's data governance), the version, the task and the description. `harness.datasets.load_card` refuses a
card with a placeholder left, naming each with its line, so a draft cannot be assessed against by accident.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.datasets import DRAFT_MARKER
from harness.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    import pandas as pd

FEW_VALUES = 20
"""A text column with at most this many distinct values is a category and gets them listed (`values:`): the
data-quality suite then flags a value it has not seen. More, and it is free text or an identifier. A number column
gets its range, and its values only when it has two (a flag, an outcome): counts and codes with more keep a range,
since the next copy of the data may hold a count the first did not."""
TODO = DRAFT_MARKER


@dataclass(frozen=True)
class Draft:
    path: Path
    rows: int
    columns: int
    sha256: str
    todo: list[str]


def slug(name: str) -> str:
    """A catalogue name from a file name: lower case, runs of other characters as one hyphen."""
    out = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return out or "dataset"


def _number(value: Any) -> int | float:
    """A numpy scalar as a plain int (when integral) or float, as YAML writes it."""
    f = float(value)
    return int(f) if f.is_integer() else f


def column_spec(s: pd.Series) -> dict[str, Any]:
    """The measured spec of one column, in the card's vocabulary (`harness.datasets.ColumnSpec`), read as the
    data-quality suite reads it: an integer column with gaps (which pandas reads as float) is an integer."""
    import numpy as np
    import pandas as pd

    spec: dict[str, Any] = {}
    values = s.dropna()
    if pd.api.types.is_bool_dtype(s.dtype):
        spec["type"] = "boolean"
    elif pd.api.types.is_numeric_dtype(s.dtype):
        x = values.to_numpy(dtype=float)
        integral = bool(np.all(np.isfinite(x) & (x == np.floor(x))))
        spec["type"] = "integer" if integral else "float"
        if len(x):
            spec["min"], spec["max"] = _number(x.min()), _number(x.max())
        distinct = np.unique(x)
        if integral and 0 < len(distinct) <= 2:  # a flag or an outcome: its two codes (a range would admit 0.5)
            spec["values"] = [_number(v) for v in distinct]
    else:
        distinct_text = sorted({str(v) for v in values})
        if 0 < len(distinct_text) <= FEW_VALUES:
            spec.update(type="category", values=distinct_text)
        else:
            spec["type"] = "string"
    spec["nullable"] = bool(s.isna().any())
    return spec


def guess_id(frame: pd.DataFrame) -> str | None:
    """A column that can key a vendor's outputs: named like an id, with a value on every row and no repeats."""
    for c in frame.columns:
        name = str(c).lower()
        if (name == "id" or name.endswith(("_id", "-id", " id")) or name.startswith(("id_", "id-"))) and \
                frame[c].notna().all() and frame[c].is_unique:
            return str(c)
    return None


def _flow(value: Any) -> str:
    """A value as YAML flow text on one line (a list, a mapping, a quoted string when needed)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip().removesuffix("...")\
        .strip()


def draft_text(frame: pd.DataFrame, *, name: str, file: str, sha256: str, separator: str, source_name: str) -> str:
    """The card's YAML: measured fields filled in, the analyst's left as TODO with what to write in a comment."""
    id_column = guess_id(frame)
    features = [str(c) for c in frame.columns if str(c) != id_column]
    lines = [
        f"# Drafted by `harness datasets draft` from {source_name}: {len(frame):,} rows, {len(frame.columns)} columns.",
        f"# Every value starting with {TODO} is the analyst's to fill in; until none is left, every command refuses",
        "# this card. Then check the features: a tool is given exactly these columns (never the target; a protected",
        "# attribute only when it is listed here), and the column specs below, which the data_quality suite checks.",
        f"name: {_flow(name)}",
        f"version: \"{TODO}: the data's version or extract date\"",
        f"task: \"{TODO}: binary-classification or regression\"",
        f"file: {_flow(file)}" + ("" if "/" in file else "   # next to this card, or in a --data-dir folder"),
        f"sha256: {sha256}",
        f"source: \"{TODO}: where the data comes from (a URL, or the program that generated it)\"",
        f"license: \"{TODO}: the licence or agreement under which the City may use the data\"",
        "description: >",
        f"  {TODO}: what one row is, who is in the data, when and how it was collected, and what is known to be",
        "  wrong with it.",
    ]
    if separator != ",":
        lines.append(f"read: {{separator: {_flow(separator)}}}")
    lines += [
        f"target: {{column: {TODO}, positive: {TODO}}}   # the outcome column and its positive value; add favorable: "
        "when the other value benefits the person",
        f"id_column: {_flow(id_column)}" + ("   # guessed: every value is present and unique" if id_column else
                                            "   # none found: outputs are keyed by row number"),
        "# the columns a tool is given: remove the target, the protected attributes tools must not receive, and",
        "# any column recorded after the outcome (a decision, a later status) or derived from it",
        f"features: {_flow(features)}",
        "protected_attributes:   # each with its reference group (the group others are compared with)",
        f"  {TODO}: {{reference: {TODO}}}",
        "pii_columns: []   # columns holding personal data",
        f"known_results: {_flow([f'{len(frame):,} rows'])}",
        "columns:   # measured on the file; widen a range or a value list where the data may legitimately vary",
    ]
    for c in frame.columns:
        lines.append(f"  {_flow(str(c))}: {_flow(column_spec(frame[c]))}")
    return "\n".join(lines) + "\n"


def card_file(src: Path, card: Path) -> str:
    """The card's `file`: the path from the card's folder when the data is in it or below, else the bare name, for
    a data file kept elsewhere (a mirror, `--data-dir`): a card never holds a path of one machine."""
    try:
        return src.resolve().relative_to(card.parent.resolve()).as_posix()
    except ValueError:
        return src.name


def write_draft(csv: str | Path, out: str | Path, *, name: str | None = None, separator: str = ",",
                force: bool = False) -> Draft:
    """Draft the card of `csv` into `out` (not over an existing file unless `force`)."""
    import pandas as pd

    from harness.datasets import draft_fields
    from harness.digests import sha256_file

    src, dst = Path(csv), Path(out)
    if not src.is_file():
        raise DatasetError(f"the data file {src} does not exist")
    if dst.exists() and not force:
        raise ConfigError(f"--out {dst} exists; pass --force to overwrite it")
    if not dst.parent.is_dir():
        raise ConfigError(f"--out {dst}: the folder {dst.parent} does not exist")
    try:
        frame = pd.read_csv(src, sep=separator)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise DatasetError(f"cannot read {src} as CSV: {e}") from None
    if frame.empty:
        raise DatasetError(f"{src} has no rows; a card describes data")
    text = draft_text(frame, name=name or slug(src.stem), file=card_file(src, dst), sha256=sha256_file(src),
                      separator=separator, source_name=src.name)
    dst.write_text(text, encoding="utf-8")
    todo = [".".join(p) for p in draft_fields(yaml.safe_load(text))]
    return Draft(path=dst, rows=len(frame), columns=len(frame.columns), sha256=sha256_file(src), todo=todo)


__all__ = ["Draft", "column_spec", "draft_text", "guess_id", "slug", "write_draft"]
