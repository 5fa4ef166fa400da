"""A tool's labels in the dataset's label space (issue 10, "Inputs that cannot be misread").

A vendor model that answers 0/1 where the card's target is ">50K"/"<=50K" matches no row's outcome, so
every rate computed on it would be "undefined" or plain wrong; a verdict built on that misreads the input.
Such a tool is bad input (exit 2), with the values seen and the values expected, unless the manifest maps
its outputs (`adapter.label_map`). The map is applied by the adapters themselves, on `predict` and on
`predict_frame`, so the checks that call the tool again (counterfactual, robustness) read the same
labels as the rest of the assessment.

Values are compared as `harness.datasets.matches` and the data-quality suite compare them: 1, 1.0, "1"
and True are one label, since YAML, CSV and a model's `classes_` spell the same outcome differently.
Labels that only partly match (some unknown outputs) are judged by `data_quality.outputs.labels_in_set`.

A tool's labels are its own text: a `python` tool's and a predictions file's reach the harness as written (only
the sandboxed worker's are scrubbed on the way in), and a label can carry 10,000 characters or a line of
/etc/passwd. Messages therefore quote at most five of them, each through `quoted` (cut to 64 characters and
scrubbed by `harness.sandbox.scrub`, issue 12, section 1; policy 1.3, 1.4), here and in the data-quality suite.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from harness.errors import ToolConfigError
from harness.sandbox.scrub import scrub

if TYPE_CHECKING:
    from harness.datasets import ReferenceDataset
    from harness.tools.base import Predictions

SHOWN = 10  # the target's values named in a message (the City's data)
QUOTED = 5  # the tool's labels named in a message (the tool's text)
QUOTED_CHARS = 64  # characters kept of each, as the sandboxed worker keeps of a label

Canonical = float | str


def canonical(value: Any) -> Canonical | None:
    """One spelling per label: a number (bools as 0/1, numeric text parsed) or stripped text; None for
    a missing value."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str):
        value = item()  # numpy scalars
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        f = float(value)
        return None if f != f else f
    if not isinstance(value, str):
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
    text = str(value).strip()
    if text in ("True", "False"):
        return float(text == "True")
    try:
        f = float(text)
    except ValueError:
        return text
    return f if f == f else text


def plain(value: Any) -> Any:
    """A label as a plain Python value, for messages (numpy scalars become int, float, str)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str) else value


def quoted(value: Any) -> Any:
    """A tool's label as a message may show it: a number as it is, text cut to QUOTED_CHARS and scrubbed
    (account-file lines, keys and control characters replaced), so a label cannot carry what the tool read
    into a report. Printable non-ASCII text is kept, so the label_map an analyst copies reads right."""
    value = plain(value)
    if isinstance(value, bool | int | float):
        return value
    return scrub(str(value), QUOTED_CHARS, ascii_only=False)


def _sorted(values: Iterable[Any]) -> list[Any]:
    """Numbers before text, each in order, so a message lists [0, 1] and ['<=50K', '>50K']."""
    return sorted(values, key=lambda v: (0, float(v), "") if isinstance(v, bool | int | float) else (1, 0.0, str(v)))


def label_space(dataset: ReferenceDataset) -> list[Any]:
    """The target's values: those observed in the data plus those the card declares for the column (the
    data-quality suite's label space), one per canonical spelling."""
    card = dataset.card
    if card.target is None:
        return []
    values: list[Any] = []
    column = dataset.frame.get(card.target.column)
    if column is not None:
        values += [plain(v) for v in pd.unique(column.dropna())]
    spec = card.columns.get(card.target.column)
    if spec is not None and spec.values:
        values += list(spec.values)
    seen: dict[Canonical, Any] = {}
    for v in values:
        c = canonical(v)
        if c is not None:
            seen.setdefault(c, v)
    return _sorted(seen.values())


def apply_label_map(labels: Any, mapping: Mapping[Any, Any] | None) -> np.ndarray:
    """`labels` with every value the map names replaced by its target value (1 and "1" are one key);
    values the map does not name stay as they are, for the label checks to judge."""
    arr = np.asarray(labels)
    if not mapping or arr.ndim != 1 or len(arr) == 0:
        return arr
    table = {canonical(k): v for k, v in mapping.items()}
    lookup: dict[Any, Any] = {}
    for u in pd.unique(pd.Series(arr, dtype=object)):
        c = canonical(u)
        if c is not None and c in table:
            lookup[u] = table[c]
    if not lookup:
        return arr
    return pd.Series([lookup.get(v, v) for v in arr.tolist()]).to_numpy()


def raw_label(target_value: Any, mapping: Mapping[Any, Any] | None) -> Any:
    """The tool's own spelling of a target value under the map (the favourable class a model's scores
    are read for); the value itself when the map does not produce it."""
    if mapping:
        want = canonical(target_value)
        for k, v in mapping.items():
            if canonical(v) == want:
                return k
    return target_value


def _flow(value: Any) -> str:
    """A value as YAML flow text: numbers bare, text double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _example(seen: list[Any], space: list[Any], positive: Any) -> str:
    """A label_map to copy: for a 0/1 (or True/False) tool and a two-valued target, 1 is the target's
    positive value; otherwise the shape of an entry."""
    numbers = {canonical(v) for v in seen}
    if numbers <= {0.0, 1.0} and len(space) == 2 and canonical(positive) in {canonical(v) for v in space}:
        other = next(v for v in space if canonical(v) != canonical(positive))
        one = next((v for v in seen if canonical(v) == 1.0), 1)
        zero = next((v for v in seen if canonical(v) == 0.0), 0)
        return f"label_map: {{{_flow(plain(one))}: {_flow(positive)}, {_flow(plain(zero))}: {_flow(other)}}}"
    targets = ", ".join(_flow(v) for v in space[:SHOWN])
    return f"label_map: {{{_flow(quoted(seen[0]))}: <one of {targets}>, ...}}, one entry per label the tool outputs"


def _listed(values: list[Any]) -> str:
    shown = repr(values[:SHOWN])
    return shown if len(values) <= SHOWN else f"{shown[:-1]}, ...] ({len(values)} values)"


def _quoted_list(values: list[Any]) -> str:
    """The tool's labels for a message: the first QUOTED, each `quoted`, and how many there are."""
    shown = repr(list(dict.fromkeys(quoted(v) for v in values[:QUOTED])))
    return shown if len(values) <= QUOTED else f"{shown[:-1]}, ...] ({len(values)} values)"


class Declared(Protocol):
    """What `check_labels` reads of a tool manifest (`harness.manifest.ToolManifest` is one). A protocol, so this
    module, which the manifest's adapter configs use for `canonical`, never imports the manifest back."""

    @property
    def id(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def adapter(self) -> Any: ...


def check_labels(preds: Predictions, dataset: ReferenceDataset, manifest: Declared) -> Predictions:
    """The predictions unchanged when at least one of the tool's labels is a value of the target;
    a ToolConfigError (exit 2) when none is. Generative tools, datasets without a target and outputs
    with no label at all (left to the no_nan check) are not judged here."""
    if manifest.category == "generative" or preds.answers is not None or dataset.card.target is None:
        return preds
    space = label_space(dataset)
    labels = np.asarray(preds.labels)
    if not space or labels.ndim != 1 or len(labels) == 0:
        return preds
    allowed = {canonical(v) for v in space}
    seen: dict[Canonical, Any] = {}
    for u in pd.unique(pd.Series(labels, dtype=object)):
        c = canonical(u)
        if c is not None:
            seen.setdefault(c, plain(u))
    if not seen or allowed.intersection(seen):
        return preds
    outputs = _sorted(seen.values())
    target = dataset.card.target
    mapped = " (after adapter.label_map)" if getattr(manifest.adapter, "label_map", None) else ""
    raise ToolConfigError(
        f"tool {manifest.id!r} outputs labels {_quoted_list(outputs)}{mapped} but the target column {target.column!r} "
        f"of dataset {dataset.name!r} has values {_listed(space)}; map them with adapter.label_map "
        f"(e.g. {_example(outputs, space, target.positive)}) in tool.yaml",
        rule="label-space", detail=target.column,
    )


__all__ = ["QUOTED", "apply_label_map", "canonical", "check_labels", "label_space", "quoted", "raw_label"]
