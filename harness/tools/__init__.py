"""Tool adapters: one interface over every way a vendor can hand the City a tool.

`predict(frame) -> Predictions` is called once per dataset by the assessment; every check reads the
same outputs, so a slow or costly tool is never asked twice for the same answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from harness.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest
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
    consistency and counterfactual-prompt checks need it. `items` has the columns `context` and
    `question` (and `id` when known); `sample` numbers a repeated ask of the same items, so a cache
    keeps repeats apart. Answers come back in `Predictions.answers`, per-item failures in `errors`."""

    kind: str

    def generate(self, items: pd.DataFrame, sample: int = 0) -> Predictions: ...


def can_generate(tool: object) -> bool:
    """True when the tool can be asked new questions (a vendor's file of answers cannot)."""
    return callable(getattr(tool, "generate", None))


def can_call(tool: object) -> bool:
    """True when the tool can be called on new inputs (counterfactual and robustness checks)."""
    return callable(getattr(tool, "predict_frame", None))


def load_tool(manifest: ToolManifest, obj: Any = None, *, use_cache: bool = True,
              policy: Policy | None = None) -> Tool:
    """Build the adapter the manifest names. `obj` passes a live callable or estimator (notebooks);
    `use_cache=False` makes an endpoint answer every question afresh (`assess --no-cache`, `reassess`).
    `policy` is the analyst's: it decides which skops types are trusted in the harness process beyond the
    harness allowlist (never the manifest) and bounds the sandboxed worker; without it, the allowlist alone."""
    kind = manifest.adapter.kind
    if kind == "python":
        from harness.tools.python import PythonTool

        return PythonTool.from_manifest(manifest, obj, policy=policy)  # from the manifest: in a worker process
    if kind == "sklearn":
        from harness.tools.sklearn import SklearnTool, runs_in_sandbox

        if obj is None and runs_in_sandbox(manifest, policy):  # types the City does not trust: like a pickle
            from harness.tools.sandboxed import SandboxedTool

            return SandboxedTool.from_manifest(manifest, policy=policy, model_format="skops")
        return SklearnTool.from_manifest(manifest, obj, policy=policy)
    if kind == "predictions":
        from harness.tools.predictions import PredictionsTool

        return PredictionsTool.from_manifest(manifest)
    if kind == "responses":
        from harness.tools.responses import ResponsesTool

        return ResponsesTool.from_manifest(manifest)
    if kind == "openai":
        from harness.tools.openai import OpenAITool

        return OpenAITool.from_manifest(manifest, use_cache=use_cache)
    if kind in ("pickle", "mlflow"):  # formats that run code on load: only ever inside the sandboxed worker
        from harness.tools.sandboxed import SandboxedTool

        return SandboxedTool.from_manifest(manifest, policy=policy)
    raise ConfigError(
        f"adapter kind {kind!r} in tool manifest {manifest.id!r} is not available in this version; "
        f"available: python, sklearn, predictions, responses, openai, pickle, mlflow"
    )


def as_predictions(raw: Any, n: int, source: str) -> Predictions:
    """Normalise what a callable returned: labels, (labels, scores), or a dict with those keys."""
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
