"""The `sklearn` adapter: a model saved with skops, loaded with skops' trusted types only.

A plain pickle runs arbitrary code when loaded, so it is never accepted here; skops refuses any type
that is not on its list of known-safe scikit-learn/numpy types unless the analyst names it in the
manifest's `trusted` list after reviewing it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import ToolConfigError, ToolError
from harness.tools import Predictions, input_frame
from harness.tools.inputs import model_inputs
from harness.tools.labels import apply_label_map, canonical, raw_label

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest


def load_skops(path: Any, trusted: list[str]) -> Any:
    import skops.io as sio

    try:
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
    except Exception as e:
        raise ToolConfigError(f"{path} is not a readable skops file: {e}") from None
    if untrusted:
        raise ToolConfigError(
            f"{path} contains types that are not trusted by default: {untrusted}. Review them, then "
            f"list them under adapter.trusted in the manifest if they are safe."
        )
    return sio.load(path, trusted=trusted or None)


@dataclass
class SklearnTool:
    model: Any
    name: str
    threshold: float = 0.5
    kind: str = "sklearn"
    _favorable: object = 1
    label_map: dict[Any, Any] | None = None  # the model's classes -> the card's target values
    input_names: list[str] | None = None  # adapter.input_columns
    source: str = "the model"  # "the model in m.skops", for messages

    @classmethod
    def from_manifest(cls, manifest: ToolManifest, obj: Any = None) -> SklearnTool:
        adapter = manifest.adapter
        source = "the model"
        if obj is None:
            path = manifest.existing_file(adapter.path, "model file")  # type: ignore[union-attr]
            if path.suffix in (".pkl", ".pickle", ".joblib"):
                raise ToolConfigError(
                    f"{path} is a pickle: it can run arbitrary code when loaded. Save the model with "
                    f"skops (skops.io.dump) and point adapter.path at the .skops file."
                )
            obj = load_skops(path, list(adapter.trusted))  # type: ignore[union-attr]
            source = f"the model in {path.name}"
        return cls(model=obj, name=manifest.id, threshold=adapter.threshold,  # type: ignore[union-attr]
                   label_map=adapter.label_map, input_names=adapter.input_columns,  # type: ignore[union-attr]
                   source=source)

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        """The columns the model was fitted on (`feature_names_in_`), adapter.input_columns, or the card's
        features when the model can take them (`harness.tools.inputs`)."""
        cols = getattr(self.model, "feature_names_in_", None)
        n = getattr(self.model, "n_features_in_", None)
        return model_inputs(dataset, names=None if cols is None else [str(c) for c in cols],
                            n_features=int(n) if isinstance(n, int | np.integer) else None,
                            declared=self.input_names, model=self.source)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        self._favorable = dataset.card.target.favorable_value
        return self.predict_frame(input_frame(dataset, self.input_columns(dataset)))

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        # a model fitted on a numpy array reads by position: give it the values (its columns were checked)
        unnamed = getattr(self.model, "feature_names_in_", None) is None and hasattr(self.model, "n_features_in_")
        X = frame.to_numpy() if unnamed else frame
        try:
            labels = apply_label_map(np.asarray(self.model.predict(X)), self.label_map)
            scores = None
            if hasattr(self.model, "predict_proba"):
                proba = np.asarray(self.model.predict_proba(X), dtype=float)
                classes = list(self.model.classes_)
                fav = canonical(raw_label(self._favorable, self.label_map))
                idx = next((i for i, c in enumerate(classes) if canonical(c) == fav), len(classes) - 1)
                scores = proba[:, idx]
        except Exception as e:
            raise ToolError(f"tool {self.name!r} raised {type(e).__name__} during prediction: {e}") from e
        return Predictions(labels=labels, scores=scores)
