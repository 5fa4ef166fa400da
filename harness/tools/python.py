"""The `python` adapter: a callable, for notebooks, tests and tools the City builds itself."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import ToolConfigError, ToolError
from harness.tools import Predictions, as_predictions, input_frame

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest


def import_callable(spec: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as e:
        raise ToolConfigError(f"cannot import module {module!r} of callable {spec!r}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ToolConfigError(f"module {module!r} has no attribute {attr!r} (callable {spec!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ToolConfigError(f"{spec!r} is not callable")
    return obj


@dataclass
class PythonTool:
    fn: Callable[..., Any]
    name: str
    kind: str = "python"

    @classmethod
    def from_manifest(cls, manifest: ToolManifest, obj: Any = None) -> PythonTool:
        fn = obj if obj is not None else import_callable(manifest.adapter.callable)  # type: ignore[union-attr]
        return cls(fn=fn, name=manifest.id)

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        return list(dataset.card.features)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        return self.predict_frame(input_frame(dataset))

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        try:
            raw = self.fn(frame)
        except Exception as e:  # the tool's own failure: recorded as ERROR, never a crash of ours
            raise ToolError(f"tool {self.name!r} raised {type(e).__name__} during prediction: {e}") from e
        return as_predictions(raw, len(frame), f"tool {self.name!r}")
