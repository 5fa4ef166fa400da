"""Reference datasets: a card (`datasets/<name>/card.yaml`) plus a data file verified by sha256.

The hash is the dataset's identity: it is logged with every assessment, so a re-assessment can prove it
used the same data (policy 4.3) and an approval can name exactly what the evidence rests on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.digests import sha256_file
from harness.errors import DatasetError
from harness.yamlio import line_index, read_yaml_mapping, validate

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Scalar = str | int | float | bool


class _Card(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadOptions(_Card):
    format: Literal["csv", "jsonl", "squad-json"] = "csv"  # squad-json: SQuAD v2 data/paragraphs/qas
    header: bool = True
    separator: str = ","
    columns: list[str] | None = None
    na_values: list[str] = Field(default_factory=list)


class Target(_Card):
    column: str
    positive: Scalar
    favorable: Scalar | None = None  # the outcome that benefits the person; default: positive

    @property
    def favorable_value(self) -> Scalar:
        return self.positive if self.favorable is None else self.favorable


class ProtectedAttribute(_Card):
    reference: Scalar | None = None
    description: str = ""
    proxies: list[str] = Field(default_factory=list)  # features known to stand in for this attribute


class ColumnSpec(_Card):
    """What a column must hold: the data-quality suite turns each field into an expectation."""

    type: Literal["integer", "float", "string", "boolean", "category"] | None = None
    values: list[Scalar] | None = None        # allowed values (categorical)
    min: float | None = None                  # numeric range
    max: float | None = None
    nullable: bool = True
    text: bool = False                        # free-form text: scanned for personal data
    description: str = ""


class Quality(_Card):
    """Dataset-level expectations (policy 4.2: DTI's data quality standards)."""

    min_rows: int | None = None
    prevalence: tuple[float, float] | None = None   # band for the favourable outcome's share
    max_duplicate_share: float | None = None        # share of fully duplicated rows allowed


class DatasetCard(_Card):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: str
    # prompt-attacks: an attack set the security suite puts to a generative tool (datasets/security-attacks)
    task: Literal["binary-classification", "grounded-qa", "regression", "generation", "prompt-attacks"]
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    source: str
    license: str
    description: str = ""
    citation: str = ""
    generator: str = ""
    read: ReadOptions = Field(default_factory=ReadOptions)
    target: Target | None = None      # required for binary-classification
    id_column: str | None = None
    weight_column: str | None = None  # sample weights (e.g. survey weights); rates become weighted
    features: list[str] = Field(default_factory=list)
    protected_attributes: dict[str, ProtectedAttribute] = Field(default_factory=dict)
    pii_columns: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    quality: Quality = Field(default_factory=Quality)
    known_results: list[str] = Field(default_factory=list)
    # a production sample of a tool in use (harness.monitoring, issue 16): the period it covers ("2026Q3") and
    # the column holding the tool's recorded decision for each row; absent on reference data
    period: str | None = Field(None, pattern=r"^[0-9]{4}Q[1-4]$")
    decision_column: str | None = None

    @model_validator(mode="after")
    def _task_fields(self) -> DatasetCard:
        if self.task == "binary-classification":
            need = [f for f in ("target", "features", "protected_attributes") if f not in self.model_fields_set
                    or getattr(self, f) is None]
            if need:
                raise ValueError(
                    f"a binary-classification card must give {', '.join(need)} (the outcome column, the "
                    f"model's input columns and the protected attributes whose groups are compared)"
                )
        return self


QA_COLUMNS = ("id", "context", "question", "answers", "answerable")
ATTACK_COLUMNS = ("id", "part", "kind", "context", "question", "answers", "marker_type", "marker")



def matches(values: pd.Series | np.ndarray, target: Scalar) -> np.ndarray:
    """Elementwise `values == target`, tolerant of 1 vs "1" vs 1.0 between YAML and CSV."""
    import numpy as np
    import pandas as pd

    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not isinstance(target, str):
        return (s == target).to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        try:
            return (s == float(target)).to_numpy()
        except ValueError:
            return np.zeros(len(s), dtype=bool)
    text = s.astype(str).str.strip()
    if isinstance(target, bool | int | float):
        try:
            return (pd.to_numeric(text, errors="coerce") == float(target)).to_numpy()
        except (TypeError, ValueError):
            pass
    return (text == str(target)).to_numpy()


@dataclass(frozen=True)
class ReferenceDataset:
    card: DatasetCard
    card_path: Path
    data_path: Path
    frame: pd.DataFrame
    sha256: str

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def ids(self) -> pd.Series:
        import numpy as np
        import pandas as pd

        if self.card.id_column:
            return self.frame[self.card.id_column]
        index = self.frame.index
        if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
            return pd.Series(np.arange(len(self.frame)), name="row")
        # the rows of a subset keep their numbers (harness.assessment.answered_rows keeps the rows a tool answered)
        return pd.Series(np.asarray(index), name="row")

    @property
    def y_favorable(self) -> np.ndarray:
        """1 where the true outcome is the favourable one (selection rates are computed on it)."""
        import numpy as np

        if self.card.target is None:
            raise DatasetError(f"dataset {self.name!r} ({self.card.task}) has no target outcome")
        return matches(self.frame[self.card.target.column], self.card.target.favorable_value).astype(np.int8)

    @property
    def outcomes_known(self) -> bool:
        """Whether the rows carry their true outcome: always on reference data (`check_columns` requires the
        target column); a production sample (harness.monitoring) may come before the outcomes are known."""
        return self.card.target is not None and self.card.target.column in self.frame.columns

    @property
    def weights(self) -> np.ndarray | None:
        if not self.card.weight_column:
            return None
        return self.frame[self.card.weight_column].to_numpy(dtype=float)

    @property
    def features(self) -> pd.DataFrame:
        return self.frame[self.card.features]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.card.version, "sha256": self.sha256,
            "rows": len(self.frame), "file": self.data_path.name, "source": self.card.source,
            "license": self.card.license, "task": self.card.task,
            "protected_attributes": {k: v.reference for k, v in self.card.protected_attributes.items()},
        }


def repo_catalog() -> Path:
    """The `datasets/` folder of this checkout (the package is installed editable from it)."""
    return Path(__file__).resolve().parent.parent / "datasets"


def catalog_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("HARNESS_CATALOG", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "datasets", repo_catalog()]
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def list_cards() -> list[Path]:
    cards: dict[str, Path] = {}
    for d in catalog_dirs():
        for card in sorted(d.glob("*/card.yaml")):
            cards.setdefault(card.parent.name, card)
    return [cards[k] for k in sorted(cards)]


def find_card(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        if not p.is_file():
            raise DatasetError(f"dataset card {p} does not exist")
        return p
    if p.is_dir() and (p / "card.yaml").is_file():
        return p / "card.yaml"
    for d in catalog_dirs():
        if (d / name_or_path / "card.yaml").is_file():
            return d / name_or_path / "card.yaml"
    known = ", ".join(c.parent.name for c in list_cards()) or "none"
    raise DatasetError(
        f"no dataset named {name_or_path!r}: give a catalogue name ({known}) or the path to a card.yaml"
    )


DRAFT_MARKER = "TODO"
"""What `harness datasets draft` writes where only the analyst can answer (the target, the protected attributes,
the licence, ...): a card with a value or key starting with it is a draft, refused by `load_card`."""


def draft_fields(data: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The key paths of a card's mapping still holding the draft marker, as a value or as a key (a protected
    attribute named TODO), in document order."""
    found: list[tuple[str, ...]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = (*path, str(key))
            if isinstance(key, str) and key.startswith(DRAFT_MARKER):
                found.append(here)
            else:
                found += draft_fields(value, here)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += draft_fields(value, (*path, str(i)))
    elif isinstance(data, str) and data.strip().startswith(DRAFT_MARKER):
        found.append(path)
    return found


def load_card(path: Path) -> DatasetCard:
    """The card at `path`, validated. A draft (`harness datasets draft`) whose TODO placeholders are not all
    filled in is refused, naming each with its line: a card drafted from a file knows its hash and columns but
    not which column is the outcome, who is protected or whether the City may use the data (policy 1.2, 4.2), and
    a guess there would make every figure of an assessment wrong without a sign."""
    data, text = read_yaml_mapping(path, "dataset card", DatasetError)
    todo = draft_fields(data)
    if todo:
        index = line_index(text)
        where = ", ".join(f"{'.'.join(p)} (line {index[p]})" if p in index else ".".join(p) for p in todo)
        raise DatasetError(f"dataset card {path} is a draft: fill in {where}, still {DRAFT_MARKER}, before it is used",
                           rule="card-draft", detail=".".join(todo[0]))
    return validate(DatasetCard, data, text, f"dataset card {path}", DatasetError)


def data_dirs(data_dir: str | Path | None) -> list[Path]:
    dirs = []
    if data_dir:
        dirs.append(Path(data_dir))
    if os.environ.get("HARNESS_DATA_DIR"):
        dirs.append(Path(os.environ["HARNESS_DATA_DIR"]))
    return dirs


def locate_file(card: DatasetCard, card_path: Path, data_dir: str | Path | None) -> Path:
    places = [card_path.parent, *data_dirs(data_dir)]
    for place in places:
        candidate = place / card.file
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(p / card.file) for p in places)
    raise DatasetError(
        f"the data file {card.file!r} of dataset {card.name!r} is missing. Looked in: {looked}. "
        f"Download it from {card.source} and put it next to the card, or pass --data-dir DIR "
        f"(or set HARNESS_DATA_DIR) to a folder that holds it."
    )


def read_squad(path: Path) -> pd.DataFrame:
    """Flatten SQuAD JSON (data -> paragraphs -> qas) to one row per question. The document comes from outside:
    over MAX_DATASET_JSON_BYTES, nested past 64 levels or using NaN, it is refused (`read_json`, issue 12)."""
    import pandas as pd

    from harness.yamlio import MAX_DATASET_JSON_BYTES, read_json

    try:
        doc = read_json(path, f"dataset file {path}", MAX_DATASET_JSON_BYTES, error=DatasetError)
        rows = []
        for article in doc["data"]:
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    impossible = bool(qa.get("is_impossible", False))
                    texts = [] if impossible else list(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                    rows.append({"id": qa["id"], "title": article.get("title", ""), "context": para["context"],
                                 "question": qa["question"], "answers": texts, "answerable": not impossible})
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read {path} as SQuAD JSON (data -> paragraphs -> qas): {e!r}") from None
    return pd.DataFrame(rows, columns=["id", "title", *QA_COLUMNS[1:]])


def read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line; list-valued fields stay Python lists. Each line comes from outside: over
    1 MiB, nested past 64 levels or using NaN, it is refused naming the line (`safe_jsonl`, issue 12)."""
    import pandas as pd

    from harness.yamlio import safe_jsonl

    rows = []
    for n, row in safe_jsonl(path, f"dataset file {path}", error=DatasetError):
        if not isinstance(row, dict):
            raise DatasetError(f"dataset file {path}, line {n}: not a JSON object (one item per line)")
        rows.append(row)
    return pd.DataFrame(rows)


def read_frame(card: DatasetCard, path: Path) -> pd.DataFrame:
    import pandas as pd

    opts = card.read
    if opts.format == "squad-json":
        return read_squad(path)
    if opts.format == "jsonl":
        return read_jsonl(path)
    kwargs: dict[str, Any] = {"na_values": opts.na_values or None, "keep_default_na": True}
    sep = opts.separator
    if sep.strip() != sep and sep.strip():
        kwargs["skipinitialspace"] = True  # ", " in UCI files: a comma, then blanks
        sep = sep.strip()
    if not opts.header:
        if not opts.columns:
            raise DatasetError(f"dataset card {card.name!r} says the file has no header but lists no read.columns")
        kwargs.update(header=None, names=opts.columns)
    try:
        frame = pd.read_csv(path, sep=sep, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DatasetError(f"cannot read {path} as CSV: {e}") from None
    return frame


def check_columns(card: DatasetCard, frame: pd.DataFrame, path: Path) -> None:
    declared = [card.target.column] if card.target else []
    if card.task == "grounded-qa":
        declared += list(QA_COLUMNS)
    if card.task == "prompt-attacks":
        declared += list(ATTACK_COLUMNS)
    declared += [*card.features, *card.protected_attributes]
    declared += [p for a in card.protected_attributes.values() for p in a.proxies]
    declared += [c for c in (card.id_column, card.weight_column) if c]
    missing = [c for c in dict.fromkeys(declared) if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"dataset {card.name!r} ({path}) lacks the declared column(s) {missing}; "
            f"the file has {list(frame.columns)}. Fix the card or the file."
        )
    if card.id_column and frame[card.id_column].duplicated().any():
        dup = frame.loc[frame[card.id_column].duplicated(), card.id_column].head(3).tolist()
        raise DatasetError(f"dataset {card.name!r}: id column {card.id_column!r} has duplicate ids, e.g. {dup}")
    for column in card.protected_attributes:
        _distinct_group_keys(card, column, frame[column])


def _distinct_group_keys(card: DatasetCard, column: str, values: pd.Series) -> None:
    """Two groups whose names become the same MLflow metric key ("A+B" and "A_B": MLflow keys allow letters,
    digits and `_-./ ` only) would record one group's figures under the other's name and lose evidence: refused
    with both names before anything runs (issue 12)."""
    from harness.names import metric_key

    seen: dict[str, str] = {}
    for value in values.dropna().astype(str).unique():
        key = metric_key(value)
        other = seen.setdefault(key, value)
        if other != value:
            raise DatasetError(f"dataset {card.name!r}: the groups {other!r} and {value!r} of protected attribute "
                               f"{column!r} would both be recorded in MLflow as {key!r}; rename one in the data (a new "
                               "data file and card sha256)")


def load_dataset(name_or_path: str, data_dir: str | Path | None = None) -> ReferenceDataset:
    """Resolve a catalogue name or card path, verify the data file's sha256 and load it."""
    card_path = find_card(name_or_path)
    card = load_card(card_path)
    path = locate_file(card, card_path, data_dir)
    digest = sha256_file(path)
    if digest != card.sha256:
        raise DatasetError(
            f"the data file {path} does not match dataset card {card_path}: "
            f"sha256 expected {card.sha256}, found {digest}. The file changed or is a different "
            f"version; fix the card only if you have checked the new data."
        )
    frame = read_frame(card, path)
    check_columns(card, frame, path)
    return ReferenceDataset(card=card, card_path=card_path, data_path=path, frame=frame, sha256=digest)
