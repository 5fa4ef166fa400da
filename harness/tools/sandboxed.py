"""The `pickle` and `mlflow` adapters, and `sklearn` skops files needing types the City does not trust:
models whose loading runs code, called only through the sandboxed worker (`harness.sandbox`), never in the
harness process.

They behave like the `sklearn` adapter (`predict`, `predict_frame`, `input_columns`), so every suite,
including the counterfactual and robustness checks that call the tool on changed inputs, works on them.
`notes` says how the model was isolated; the assessment copies it into the result and turns the
subprocess fallback into an advisory finding (policy 1.3, 1.4).

The analyst's policy, never the manifest, bounds the worker (issue 12): `settings.sandbox.max_memory_mb` and
`max_timeout_s` are maxima a manifest cannot exceed, and `allow_subprocess_fallback` is the only way to run
vendor code without bubblewrap. Text labels outside the dataset's label space are scrubbed like the
worker's error messages (`harness.sandbox.scrub`): they are bad output all the same, judged by
`harness.tools.labels.check_labels` and the data-quality suite, but they cannot carry what the model found
out verbatim into the reports.

An `mlflow` config's `model_uri` is not fetched here: the pipeline downloads it first (`harness.workflows.assess.
local_model`) and hands the folder over as `ToolSite.model_folder`, so no adapter reaches the store.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from harness.errors import ConfigError, ToolConfigError
from harness.sandbox.host import Limits, ModelFormat, ModelSpec, SandboxedModel
from harness.sandbox.mode import choose_mode
from harness.sandbox.scrub import scrub
from harness.tools.base import Predictions, input_frame
from harness.tools.configs import PickleAdapter
from harness.tools.inputs import model_inputs
from harness.tools.labels import Canonical, apply_label_map, canonical, label_space, raw_label

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.policy import Policy
    from harness.tools.base import ToolSite
    from harness.tools.configs import AdapterBase, MlflowAdapter, SklearnAdapter

LABEL_CHARS = 64  # characters kept of a text label outside the label space
SCRUBBED_LABEL = "[scrubbed label]"  # when scrubbing would turn a bad label into a valid one


def _maximum(policy: Policy, name: str, default: float) -> float:
    value = policy.setting("sandbox", name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"settings.sandbox.{name} in policy {policy.name!r} is {value!r}; give a positive number")
    return value


def _number(value: float) -> str:
    """8192, 600, 2.5: whole numbers without a decimal point or an exponent."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _limit(tool_id: str, adapter: Any, name: str, maximum: float, setting: str) -> float:
    """The manifest's value when within the policy's maximum; the maximum when the manifest has no such field
    (a skops file routed here) or leaves it at its default; a ToolConfigError naming both numbers when it
    asks for more."""
    field_info = type(adapter).model_fields.get(name)
    value = getattr(adapter, name, None)
    if field_info is None or value is None:
        return maximum
    if value > maximum:
        if value == field_info.default:  # not asked for: the manifest's default, capped by the analyst
            return maximum
        raise ToolConfigError(f"tool manifest {tool_id!r} asks for adapter.{name} {_number(value)}; the policy "
                              f"allows at most {_number(maximum)} (settings.sandbox.{setting})",
                              rule="sandbox-limits", section="1.4", detail=f"settings.sandbox.{setting}")
    return value


def worker_limits(tool_id: str, adapter: AdapterBase, policy: Policy) -> Limits:
    """The worker's limits: the config may ask for less than the policy's maxima, never more (issue 12). A
    `python` tool's config has no such fields: its worker gets the maxima."""
    memory = _limit(tool_id, adapter, "memory_mb", _maximum(policy, "max_memory_mb", 8192), "max_memory_mb")
    timeout = _limit(tool_id, adapter, "timeout_s", _maximum(policy, "max_timeout_s", 600), "max_timeout_s")
    return Limits(memory_bytes=int(memory) << 20, load_timeout_s=timeout, call_timeout_s=timeout)


def _format(tool_id: str, a: AdapterBase, model_format: str | None) -> ModelFormat:
    """The format the worker loads: `model_format` when given (a `sklearn` adapter's skops file needing
    untrusted types is loaded as "skops"), else the adapter's own."""
    if a.kind not in ("pickle", "mlflow", "sklearn"):
        raise ToolConfigError(f"adapter kind {a.kind!r} of tool manifest {tool_id!r} is not a kind the sandboxed "
                              f"worker loads (pickle, mlflow, or sklearn with model_format='skops')")
    if model_format is not None and model_format not in get_args(ModelFormat):
        raise ToolConfigError(f"model format {model_format!r} for tool manifest {tool_id!r} is not one the "
                              f"sandboxed worker loads; use one of {list(get_args(ModelFormat))}")
    if a.kind == "mlflow":
        if model_format not in (None, "mlflow"):
            raise ToolConfigError(f"tool manifest {tool_id!r} names an MLflow model, which loads only as format "
                                  f"'mlflow', not {model_format!r}")
        return "mlflow"
    if model_format == "mlflow":
        raise ToolConfigError(f"tool manifest {tool_id!r} names a model file, which cannot load as format "
                              f"'mlflow'; give an adapter of kind mlflow")
    if model_format is not None:
        return model_format  # type: ignore[return-value]
    if isinstance(a, PickleAdapter):  # the table's config of kind "pickle"
        return a.format
    raise ToolConfigError(f"adapter kind {a.kind!r} of tool manifest {tool_id!r} runs in the sandboxed worker "
                          f"only with a model format (model_format='skops' for a skops file)")


def scrub_labels(labels: np.ndarray, allowed: set[Canonical] | None) -> np.ndarray:
    """Text labels outside the label space, truncated and scrubbed; labels in it, numbers and (before the
    label space is known) everything unchanged. A scrubbed label never becomes a valid one."""
    import pandas as pd

    arr = np.asarray(labels)
    if not allowed or arr.ndim != 1 or arr.dtype.kind not in "UO":
        return arr
    series = pd.Series(arr, dtype=object)
    lookup: dict[str, str] = {}
    for value in pd.unique(series):
        if not isinstance(value, str) or canonical(value) in allowed:
            continue
        clean = scrub(value, LABEL_CHARS)
        if clean != value:
            lookup[value] = SCRUBBED_LABEL if canonical(clean) in allowed else clean
    if not lookup:
        return arr
    out = series.map(lambda v: lookup.get(v, v) if isinstance(v, str) else v).to_numpy()
    return out if arr.dtype.kind == "O" else out.astype(str)


def model_folder(adapter: MlflowAdapter, site: ToolSite) -> Path:
    """A local MLflow model folder: the config's `path`, or the folder the pipeline downloaded `model_uri` into
    (`site.model_folder`), so the worker needs neither network nor credentials and the adapter no store."""
    if adapter.path is not None:
        folder = site.resolve(adapter.path)
        if not (folder / "MLmodel").is_file():
            raise ToolConfigError(f"MLflow model folder {folder} named by tool manifest {site.tool_id!r} does not "
                                  f"exist or has no MLmodel file")
        return folder
    if site.model_folder is None:
        raise ToolConfigError(f"tool manifest {site.tool_id!r} names the MLflow model {adapter.model_uri!r}, which "
                              f"is downloaded before the tool is built (harness.workflows.assess.local_model); "
                              f"pass the folder as model_folder")
    return site.model_folder


@dataclass
class SandboxedTool:
    model: SandboxedModel
    name: str
    kind: str
    threshold: float = 0.5
    _favorable: object = 1
    notes: list[str] = field(default_factory=list)
    label_map: dict[Any, Any] | None = None  # the model's labels -> the card's target values
    input_names: list[str] | None = None  # adapter.input_columns
    source: str = "the model"  # "the model in model.pkl", for messages
    _allowed: set[Canonical] | None = None  # the label space of the dataset last predicted

    @classmethod
    def from_config(cls, a: PickleAdapter | MlflowAdapter | SklearnAdapter, site: ToolSite, *,
                    model_format: str | None = None, isolation: str | None = None,
                    scratch_parent: Path | None = None) -> SandboxedTool:
        """The sandboxed tool for config `a`. The site's policy (the analyst's; the default policy when None)
        bounds the worker and decides whether it may run without bubblewrap; `model_format` overrides the
        adapter's format (a `sklearn` adapter's skops file needing types outside the City's allowlist)."""
        policy = site.policy
        if policy is None:
            from harness.policy import load_policy

            policy = load_policy()
        fmt = _format(site.tool_id, a, model_format)
        limits = worker_limits(site.tool_id, a, policy)
        allow_fallback = policy.setting("sandbox", "allow_subprocess_fallback", False) is True
        choose_mode(site.tool_id, isolation, allow_fallback)
        if a.kind != "mlflow":
            path = site.existing_file(a.path, "model file")
            spec = ModelSpec(format=fmt, path=path)
        else:
            spec = ModelSpec(format="mlflow", path=model_folder(a, site),
                             label_column=a.label_column, score_column=a.score_column)
        model = SandboxedModel(spec, name=site.tool_id, isolation=isolation, limits=limits,
                               scratch_parent=scratch_parent, allow_fallback=allow_fallback)
        return cls(model=model, name=site.tool_id, kind=a.kind, threshold=a.threshold, notes=model.notes,
                   label_map=a.label_map, input_names=a.input_columns, source=f"the model in {spec.path.name}")

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        """The columns the model was fitted on, as the worker found them, or adapter.input_columns, or the
        card's features when the model can take them (`harness.tools.inputs`)."""
        info = self.model.info
        return model_inputs(dataset, names=info.feature_names, n_features=info.n_features,
                            declared=self.input_names, model=self.source)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        self._favorable = dataset.card.target.favorable_value if dataset.card.target is not None else 1
        self._allowed = {c for v in label_space(dataset) if (c := canonical(v)) is not None} or None
        return self.predict_frame(input_frame(dataset, self.input_columns(dataset)))

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        labels, scores = self.model.predict(frame, raw_label(self._favorable, self.label_map))
        return Predictions(labels=scrub_labels(apply_label_map(labels, self.label_map), self._allowed),
                           scores=scores)

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> SandboxedTool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
