"""What every adapter shares and every check reads: `Predictions`, the `Tool` and `GenerativeTool` protocols,
the capability tests (`can_generate`, `can_call`) and the helpers that turn a dataset into a tool's input.

This module imports no adapter and is imported by all of them, so an adapter never imports the
`harness.tools` package (whose loader imports the adapters): the import graph runs one way. It imports numpy
only when called, since the manifest (and with it every command that reads one) imports this package.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from harness.errors import ConfigError, ToolConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.policy import Policy


@dataclass(frozen=True)
class Predictions:
    """Labels in the dataset's label space and, when the tool gives them, scores for the favourable
    outcome in [0, 1]. Row order follows the dataset."""

    labels: np.ndarray
    scores: np.ndarray | None = None
    answers: list[str] | None = None  # a generative tool's text answers, in dataset order
    # per item, why a generative tool gave no answer (timeout, HTTP 500, malformed reply), else None;
    # the answer of an errored item is "" and checks leave it out and report it as an ERROR finding
    errors: list[str | None] | None = None
    # per row, the reasons a vendor's file gives for the decision (input names, most important first; empty: no
    # reason given), from adapter.reason_column; None when the tool gives none (the explainability suite)
    reasons: list[tuple[str, ...]] | None = None

    def __len__(self) -> int:
        return len(self.labels)


class Tool(Protocol):
    """Every adapter predicts a dataset. Adapters that can be called on any input (a model, a
    callable) also offer `predict_frame` and `input_columns`, which the counterfactual check needs;
    a vendor's file of outputs cannot be asked about inputs it was never given."""

    kind: str

    def predict(self, dataset: ReferenceDataset) -> Predictions: ...


class GenerativeTool(Protocol):
    """A generative tool that can be asked new questions (an endpoint, a callable): the privacy,
    consistency, counterfactual-prompt and security checks need it. `items` has the columns `context` and
    `question` (and `id` when known); `sample` numbers a repeated ask of the same items, so a cache
    keeps repeats apart. Answers come back in `Predictions.answers`, per-item failures in `errors`.

    An optional `system` column holds text the harness adds, for that item, to the instructions the tool runs
    under: the `openai` adapter appends it to its system prompt; a `python` callable gets the column with the
    rest and may read it. The security suite plants a canary there to see whether an attack can make the tool
    reveal its instructions; a tool with no instructions of its own may ignore the column (it has nothing to
    reveal). Items without it are asked exactly as before."""

    kind: str

    def generate(self, items: pd.DataFrame, sample: int = 0) -> Predictions: ...


class CallableTool(Protocol):
    """A tool that can be called on new inputs (a model, a callable): what `can_call` vouches for, so a check
    that calls `predict_frame` after it type-checks without an ignore."""

    kind: str

    def predict_frame(self, frame: pd.DataFrame) -> Predictions: ...


@dataclass(frozen=True)
class ToolSite:
    """What an adapter may know about the tool beyond its own config (`harness.tools.configs`): built by the
    loader from the manifest, so an adapter never needs the whole manifest. `base_dir` is the manifest's folder
    (paths in a config are relative to it); `obj` a live callable or estimator (notebooks); `use_cache=False`
    asks an endpoint afresh; `policy` (the analyst's) bounds the sandboxed worker and decides which skops
    types are trusted; `model_folder` is where the pipeline put a `model_uri`'s download (an adapter never
    reaches the store); `identity` is the tool version answers are evidence about (`ToolManifest.identity`)."""

    tool_id: str
    base_dir: Path = Path(".")
    generative: bool = False
    policy: Policy | None = None
    obj: Any = None
    use_cache: bool = True
    model_folder: Path | None = None
    identity: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, relative: str) -> Path:
        """Paths in the manifest are relative to the manifest's folder."""
        p = Path(relative)
        return p if p.is_absolute() else self.base_dir / p

    def existing_file(self, relative: str, what: str) -> Path:
        """A file the config names, which must exist: the one message every file adapter gives."""
        path = self.resolve(relative)
        if not path.is_file():
            raise ToolConfigError(f"{what} {path} named by tool manifest {self.tool_id!r} does not exist")
        return path


def can_generate(tool: object) -> TypeGuard[GenerativeTool]:
    """True when the tool can be asked new questions (a vendor's file of answers cannot)."""
    return callable(getattr(tool, "generate", None))


def can_call(tool: object) -> TypeGuard[CallableTool]:
    """True when the tool can be called on new inputs (counterfactual and robustness checks)."""
    return callable(getattr(tool, "predict_frame", None))


def as_predictions(raw: Any, n: int, source: str) -> Predictions:
    """Normalise what a callable returned: labels, (labels, scores), or a dict with those keys."""
    import numpy as np

    from harness.errors import ToolError

    labels, scores = raw, None
    if isinstance(raw, dict):
        labels, scores = raw.get("labels"), raw.get("scores")
    elif isinstance(raw, tuple) and len(raw) == 2:
        labels, scores = raw
    elif isinstance(raw, Predictions):
        labels, scores = raw.labels, raw.scores
    try:
        labels = np.asarray(labels)
        scores = None if scores is None else np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as e:
        raise ToolError(f"{source} returned output that is not labels (and scores): {e}") from None
    if labels.ndim != 1 or len(labels) != n:
        raise ToolError(f"{source} returned {labels.shape} labels for {n} input rows; expected one per row")
    if scores is not None and (scores.ndim != 1 or len(scores) != n):
        raise ToolError(f"{source} returned {scores.shape} scores for {n} input rows; expected one per row")
    return Predictions(labels=labels, scores=scores)


def qa_items(dataset: ReferenceDataset, tool: str) -> pd.DataFrame:
    """A grounded-QA dataset as a generative tool's input: columns id (text), context and question, in
    dataset order; `predict(dataset)` of every generative adapter is `generate(qa_items(dataset))`."""
    import pandas as pd

    missing = [c for c in ("context", "question") if c not in dataset.frame.columns]
    if missing:
        raise ConfigError(f"tool {tool!r} is generative, but dataset {dataset.name!r} ({dataset.card.task}) has "
                          f"no column(s) {missing}; assess it on a grounded-qa dataset such as city-services-qa")
    return pd.DataFrame({"id": dataset.ids.astype(str).to_numpy(), "context": dataset.frame["context"].to_numpy(),
                         "question": dataset.frame["question"].to_numpy()})


def input_frame(dataset: ReferenceDataset, columns: list[str] | None = None) -> pd.DataFrame:
    """The tool's input: the card's features (or the columns the model was fitted on)."""
    cols = columns if columns is not None else dataset.card.features
    missing = [c for c in cols if c not in dataset.frame.columns]
    if missing:
        raise ConfigError(f"the tool expects column(s) {missing} that dataset {dataset.name!r} does not have")
    return dataset.frame[cols]
