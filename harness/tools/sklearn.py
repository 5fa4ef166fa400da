"""The `sklearn` adapter: a model saved with skops, loaded in the harness process only when every type it
holds is one the City trusts (`harness.tools.skops_trust`: the harness allowlist plus the policy's
`settings.sandbox.trusted_types`; issue 12, policy 1.3 and 1.4).

A plain pickle runs arbitrary code when loaded, so it is never accepted here. A skops file that needs any
other type (a function, a vendor class) is not refused but run like a pickle, in the sandboxed worker
(its builder, `build`, asks `runs_in_sandbox`). The manifest's `adapter.trusted` no longer widens anything: a type
on it that the City does not already trust is refused, since the vendor would be deciding what code runs.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import ToolConfigError, ToolError
from harness.tools.base import Predictions, input_frame
from harness.tools.inputs import model_inputs
from harness.tools.labels import apply_label_map, canonical, raw_label
from harness.tools.skops_trust import check_loaded, city_trusted, refuse_manifest_trust

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.tools.base import Tool, ToolSite
    from harness.tools.configs import SklearnAdapter


def untrusted_types(path: Path, trusted: frozenset[str]) -> list[str]:
    """The types in the skops file at `path` that neither skops' own defaults nor `trusted` cover."""
    import skops.io as sio

    try:
        return sorted(set(sio.get_untrusted_types(file=path)) - trusted)
    except Exception as e:
        raise ToolConfigError(f"{path} is not a readable skops file: {e}") from None


def load_skops(path: Path, trusted: Iterable[str]) -> Any:
    """Load a skops file in the harness process with the City's trusted types only (`trusted`, from
    `skops_trust.city_trusted`); a file holding any other type is refused here (`load_tool` sends such a file
    to the sandboxed worker instead), and a loaded sparse matrix must be well formed."""
    import skops.io as sio

    city = frozenset(trusted)
    untrusted = untrusted_types(path, city)
    if untrusted:
        raise ToolConfigError(f"{path} holds types the City does not trust in the harness process: {untrusted}; "
                              f"such a model runs only in the sandboxed worker (load it with load_tool)")
    try:
        obj = sio.load(path, trusted=sorted(city))
    except Exception as e:
        raise ToolConfigError(f"{path} is not a loadable skops file: {type(e).__name__}: {e}") from None
    check_loaded(obj, f"the model in {path.name}")
    return obj


def skops_path(config: SklearnAdapter, site: ToolSite) -> Path:
    """The config's skops file, once its `trusted` asks for nothing the City (the site's policy) does not trust
    and the file is not a pickle."""
    refuse_manifest_trust(site.tool_id, config.trusted, site.policy)
    path = site.existing_file(config.path, "model file")
    if path.suffix in (".pkl", ".pickle", ".joblib"):
        raise ToolConfigError(
            f"{path} is a pickle: it can run arbitrary code when loaded. Save the model with "
            f"skops (skops.io.dump) and point adapter.path at the .skops file."
        )
    return path


def runs_in_sandbox(config: SklearnAdapter, site: ToolSite) -> bool:
    """True when the config's skops file holds a type the City does not trust: it is then loaded and called
    only in the sandboxed worker, like a pickle. Refuses a config asking to trust more (ToolConfigError)."""
    return bool(untrusted_types(skops_path(config, site), city_trusted(site.policy)))


def build(config: SklearnAdapter, site: ToolSite) -> Tool:
    """The adapter for a `sklearn` config (the adapter table's builder): in the harness process when the City
    trusts every type the file holds (or `site.obj` is a live estimator), else in the sandboxed worker."""
    if site.obj is None and runs_in_sandbox(config, site):  # types the City does not trust: like a pickle
        from harness.tools.sandboxed import SandboxedTool

        return SandboxedTool.from_config(config, site, model_format="skops")
    return SklearnTool.from_config(config, site)


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
    def from_config(cls, adapter: SklearnAdapter, site: ToolSite) -> SklearnTool:
        """The model in the config's skops file (or `site.obj`, a live estimator), loaded in the harness
        process; the site's policy adds its `settings.sandbox.trusted_types` to the harness allowlist."""
        source = "the model"
        obj = site.obj
        if obj is None:
            path = skops_path(adapter, site)
            obj = load_skops(path, city_trusted(site.policy))
            source = f"the model in {path.name}"
        else:
            refuse_manifest_trust(site.tool_id, adapter.trusted, site.policy)
        return cls(model=obj, name=site.tool_id, threshold=adapter.threshold, label_map=adapter.label_map,
                   input_names=adapter.input_columns, source=source)

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        """The columns the model was fitted on (`feature_names_in_`), adapter.input_columns, or the card's
        features when the model can take them (`harness.tools.inputs`)."""
        cols = getattr(self.model, "feature_names_in_", None)
        n = getattr(self.model, "n_features_in_", None)
        return model_inputs(dataset, names=None if cols is None else [str(c) for c in cols],
                            n_features=int(n) if isinstance(n, int | np.integer) else None,
                            declared=self.input_names, model=self.source)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        target = dataset.card.target  # None: keep the default, as the sandboxed adapter does
        self._favorable = target.favorable_value if target is not None else 1
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
