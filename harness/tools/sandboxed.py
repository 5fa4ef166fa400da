"""The `pickle` and `mlflow` adapters: models whose loading runs code, called only through the sandboxed
worker (`harness.sandbox`), never in the harness process.

They behave like the `sklearn` adapter (`predict`, `predict_frame`, `input_columns`), so every suite,
including the counterfactual and robustness checks that call the tool on changed inputs, works on them.
`notes` says how the model was isolated; the assessment copies it into the result and turns the
subprocess fallback into an advisory finding (policy 1.3, 1.4).
"""
from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ToolConfigError
from harness.sandbox import Limits, ModelSpec, SandboxedModel
from harness.tools import Predictions, input_frame
from harness.tools.inputs import model_inputs
from harness.tools.labels import apply_label_map, raw_label

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import MlflowAdapter, PickleAdapter, ToolManifest


def _limits(adapter: PickleAdapter | MlflowAdapter) -> Limits:
    return Limits(memory_bytes=adapter.memory_mb << 20, load_timeout_s=adapter.timeout_s,
                  call_timeout_s=adapter.timeout_s)


def model_folder(manifest: ToolManifest, adapter: MlflowAdapter, dst: Path, tracking_uri: str | None = None) -> Path:
    """A local MLflow model folder: the manifest's `path`, or `model_uri` downloaded into `dst` by the
    (trusted) harness first, so the worker needs neither network nor credentials."""
    if adapter.path is not None:
        folder = manifest.resolve(adapter.path)
        if not (folder / "MLmodel").is_file():
            raise ToolConfigError(f"MLflow model folder {folder} named by tool manifest {manifest.id!r} does not "
                                  f"exist or has no MLmodel file")
        return folder
    assert adapter.model_uri is not None
    from harness.tracking import resolve_uri
    from harness.tracking.artifacts import download_model

    return download_model(adapter.model_uri, resolve_uri(tracking_uri), dst)


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

    @classmethod
    def from_manifest(cls, manifest: ToolManifest, *, isolation: str | None = None,
                      scratch_parent: Path | None = None, tracking_uri: str | None = None) -> SandboxedTool:
        a = manifest.adapter
        download: Path | None = None
        if a.kind == "pickle":
            path = manifest.existing_file(a.path, "model file")
            spec = ModelSpec(format=a.format, path=path)
        elif a.kind == "mlflow":
            download = Path(tempfile.mkdtemp(prefix="harness-mlflow-model-")) if a.model_uri else None
            try:
                spec = ModelSpec(format="mlflow", path=model_folder(manifest, a, download or Path(), tracking_uri),
                                 label_column=a.label_column, score_column=a.score_column)
            except BaseException:
                if download is not None:
                    shutil.rmtree(download, ignore_errors=True)
                raise
        else:  # pragma: no cover - load_tool routes only these kinds here
            raise ToolConfigError(f"adapter kind {a.kind!r} is not a sandboxed kind")
        model = SandboxedModel(spec, name=manifest.id, isolation=isolation, limits=_limits(a),
                               scratch_parent=scratch_parent)
        if download is not None:  # the downloaded copy goes with the worker
            weakref.finalize(model, shutil.rmtree, download, True)
        return cls(model=model, name=manifest.id, kind=a.kind, threshold=a.threshold, notes=model.notes,
                   label_map=a.label_map, input_names=a.input_columns, source=f"the model in {spec.path.name}")

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        """The columns the model was fitted on, as the worker found them, or adapter.input_columns, or the
        card's features when the model can take them (`harness.tools.inputs`)."""
        info = self.model.info
        return model_inputs(dataset, names=info.feature_names, n_features=info.n_features,
                            declared=self.input_names, model=self.source)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        self._favorable = dataset.card.target.favorable_value if dataset.card.target is not None else 1
        return self.predict_frame(input_frame(dataset, self.input_columns(dataset)))

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        labels, scores = self.model.predict(frame, raw_label(self._favorable, self.label_map))
        return Predictions(labels=apply_label_map(labels, self.label_map), scores=scores)

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> SandboxedTool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
