"""`harness datasets export-inputs`: the file the City hands a vendor to score, and nothing more.

A vendor who returns a file of outputs (`kind: predictions` or `responses`) needs the reference inputs, and
must not get the answers: a tool that has seen the target can copy it and PASS (Code of Ethics, Safety:
"correct results"; policy 4.2: tested before use), and the protected attributes are City data a tool receives
only when the card says so (policy 1.2: a record of what data is used and for what; 2.1). So the file is built
from an allowlist, never by removing columns: the ids and the card's `features` (what every adapter feeds a
model, `harness.tools.inputs`), or for a generative dataset the items exactly as a generative tool is asked
them (`harness.tools.qa_items`: id, context, question). A protected attribute is exported only when the card
lists it among its features, which is how a card says tools receive it (law-school's `race`, dutch-census'
`sex`).

The allowlist is checked against the data too, since a card can be wrong: a feature that is the target (or a
question-answering card's answers), or whose values give the target away (a renamed or recoded copy:
every one of its few distinct values goes with one outcome only), stops the export and names the column; so
does a feature that gives away a protected attribute the card does not give tools.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset

GENERATIVE_TASKS = ("grounded-qa", "prompt-attacks")
"""Tasks whose tools are asked questions (`qa_items`), not fed feature rows."""
ROW_ID = "row"
"""The id column of an export whose card has none: the row number, which `ReferenceDataset.ids` keys a vendor's
outputs by."""
MAX_CODES = 50
"""A column with at most this many distinct values that determines the target (or a protected attribute) on every
row is a recoding of it, not a feature; one with more (an amount, a score) can separate any rows and says
nothing by doing so."""
MIN_ROWS_PER_CODE = 10
"""...and only when its values repeat, at least this many rows each on average: in a handful of rows any column
with a few values separates the outcomes by chance."""
FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


@dataclass(frozen=True)
class ToolInputs:
    """What a tool may read of a dataset: the columns of the export (the id first) and, for each column of the
    data left out, why."""

    frame: pd.DataFrame
    id_column: str
    left_out: dict[str, str] = field(default_factory=dict)
    protected_given: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def gives_away(column: pd.Series, truth: pd.Series) -> bool:
    """Whether `column` is `truth` in another spelling: it has at most MAX_CODES distinct values (missing is one),
    MIN_ROWS_PER_CODE rows each on average, and each of them goes with a single value of `truth`, which has two or
    more. A copy, a renamed copy, "yes"/"no"
    for 1/0 and a many-to-one recoding ("approved-A", "approved-B", "denied") all are."""
    import numpy as np
    import pandas as pd

    col_codes, col_values = pd.factorize(column, use_na_sentinel=False)
    truth_codes, truth_values = pd.factorize(truth, use_na_sentinel=False)
    if len(truth_values) < 2 or len(col_values) > min(MAX_CODES, len(column) // MIN_ROWS_PER_CODE):
        return False
    pairs = np.unique(col_codes.astype(np.int64) * len(truth_values) + truth_codes)
    return len(pairs) == len(col_values)


def tool_inputs(dataset: ReferenceDataset) -> ToolInputs:
    """The columns a tool may read of `dataset`, checked against its data (see the module's docstring)."""
    import pandas as pd

    from harness.tools import qa_items
    from harness.tools.inputs import answer_columns

    card, frame = dataset.card, dataset.frame
    if card.task in GENERATIVE_TASKS:
        items = qa_items(dataset, "the export")
        left = {str(c): "not asked of a generative tool" for c in frame.columns if c not in ("context", "question")}
        left.update({c: "the answers" for c in ("answers", "answerable") if c in frame.columns})
        for c in ("marker", "marker_type", "planted", "part", "kind"):
            if c in left:
                left[c] = "how the harness tells what an attack did (the security suite)"
        left.pop(card.id_column or "", None)
        return ToolInputs(frame=items, id_column="id", left_out=left)
    answers = answer_columns(dataset)
    features = list(card.features)
    for c in features:
        if c in answers:
            raise DatasetError(f"dataset card {dataset.card_path} lists {c!r}, the target, among its features: a tool "
                               f"is never given the answers; remove it from features")
    id_name = card.id_column or ROW_ID
    if id_name in features:
        raise DatasetError(f"dataset card {dataset.card_path} lists the id column {id_name!r} among its features")
    truths: list[tuple[str, str]] = [(c, "the target") for c in answers if c in frame.columns]
    truths += [(a, f"the protected attribute {a!r}, which the card does not give tools")
               for a in card.protected_attributes if a not in features and a in frame.columns]
    for c in features:
        for truth, what in truths:
            if gives_away(frame[c], frame[truth]):
                raise DatasetError(
                    f"feature {c!r} of dataset {dataset.name!r} gives away {what}: each of its "
                    f"{frame[c].nunique(dropna=False)} values goes with one value of {truth!r} only, so it is a copy "
                    f"or a recoding of it; remove it from the card's features ({dataset.card_path})")
    ids = dataset.ids
    out = pd.DataFrame({id_name: ids.to_numpy()})
    for c in features:
        out[c] = frame[c].to_numpy()
    left = {str(c): "not a feature the card gives tools" for c in frame.columns if c not in features and c != id_name}
    left.update({c: "the target" for c in answers if c in frame.columns})
    left.update({a: "a protected attribute the card does not give tools" for a in card.protected_attributes
                 if a not in features and a in frame.columns})
    if card.weight_column and card.weight_column in left:
        left[card.weight_column] = "the sample weights"
    given = tuple(a for a in card.protected_attributes if a in features)
    return ToolInputs(frame=out, id_column=id_name, left_out=left, protected_given=given)


@dataclass(frozen=True)
class Exported:
    """What `export_inputs` wrote, for the command to print."""

    path: Path
    rows: int
    inputs: ToolInputs
    sha256: str
    labels: list[Any]
    target: str | None


def output_format(out: Path) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(f"--out {out}: write the inputs to a .csv or a .jsonl file (one JSON object per line)")
    return fmt


def write_frame(frame: pd.DataFrame, out: Path, fmt: str) -> None:
    """CSV (a spreadsheet opens it) or JSONL (text with line breaks, a generative dataset's pages, survives it
    unquoted); missing values are empty in CSV and null in JSONL."""
    if fmt == "csv":
        frame.to_csv(out, index=False)
        return
    names = [str(c) for c in frame.columns]
    with out.open("w", encoding="utf-8") as f:
        for row in frame.itertuples(index=False, name=None):
            record = {k: plain_value(v) for k, v in zip(names, row, strict=True)}
            f.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")


def plain_value(value: Any) -> Any:
    """A cell as JSON takes it: numpy scalars as Python numbers, every kind of missing value as None."""
    import pandas as pd

    if not isinstance(value, list | tuple | dict) and pd.isna(value):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str) else value


def export_inputs(name: str, out: str | Path, data_dir: str | Path | None = None) -> Exported:
    """Write what a tool may read of dataset `name` to `out` (.csv or .jsonl); never over the data file itself."""
    from harness.datasets import load_dataset
    from harness.digests import sha256_file
    from harness.tools.labels import label_space

    path = Path(out)
    fmt = output_format(path)
    dataset = load_dataset(name, data_dir)
    if path.exists() and path.resolve() in (dataset.data_path.resolve(), dataset.card_path.resolve()):
        raise ConfigError(f"--out {path} is the dataset's own {'card' if path.suffix == '.yaml' else 'data file'}; "
                          "write the export somewhere else")
    inputs = tool_inputs(dataset)
    if not path.parent.is_dir():
        raise ConfigError(f"--out {path}: the folder {path.parent} does not exist")
    write_frame(inputs.frame, path, fmt)
    target = dataset.card.target.column if dataset.card.target is not None else None
    return Exported(path=path, rows=len(inputs.frame), inputs=inputs, sha256=sha256_file(path),
                    labels=label_space(dataset), target=target)


__all__ = ["Exported", "ToolInputs", "export_inputs", "gives_away", "tool_inputs"]
