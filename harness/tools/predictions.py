"""The `predictions` adapter: a vendor's CSV of outputs keyed by the dataset's id column.

The black-box path for vendors who will not hand over a model: the City sends the reference inputs,
the vendor returns one prediction per id, and the harness never runs vendor code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.errors import ToolConfigError
from harness.tools import Predictions
from harness.tools.labels import apply_label_map

if TYPE_CHECKING:
    from pathlib import Path

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest


@dataclass
class PredictionsTool:
    path: Path
    id_column: str
    label_column: str
    score_column: str | None
    name: str
    kind: str = "predictions"
    label_map: dict[Any, Any] | None = None  # the vendor's labels -> the card's target values

    @classmethod
    def from_manifest(cls, manifest: ToolManifest) -> PredictionsTool:
        a = manifest.adapter
        path = manifest.existing_file(a.path, "predictions file")  # type: ignore[union-attr]
        return cls(path=path, id_column=a.id_column, label_column=a.label_column,  # type: ignore[union-attr]
                   score_column=a.score_column, name=manifest.id,  # type: ignore[union-attr]
                   label_map=a.label_map)  # type: ignore[union-attr]

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        try:
            df = pd.read_csv(self.path, dtype={self.id_column: str})
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
            raise ToolConfigError(f"cannot read predictions file {self.path}: {e}") from None
        wanted = [self.id_column, self.label_column] + ([self.score_column] if self.score_column else [])
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise ToolConfigError(
                f"predictions file {self.path} lacks column(s) {missing} named in the manifest; "
                f"it has {list(df.columns)}"
            )
        if df[self.id_column].duplicated().any():
            dup = df.loc[df[self.id_column].duplicated(), self.id_column].head(5).tolist()
            raise ToolConfigError(f"predictions file {self.path} has duplicate ids, e.g. {dup}")
        ids = dataset.ids.astype(str).str.strip()
        df[self.id_column] = df[self.id_column].astype(str).str.strip()
        df = df.set_index(self.id_column)
        absent = ids[~ids.isin(df.index)]
        if len(absent):
            raise ToolConfigError(
                f"predictions file {self.path} has no prediction for {len(absent)} of {len(ids)} ids of "
                f"dataset {dataset.name!r} (id column {dataset.card.id_column or 'row number'!r}), "
                f"e.g. {absent.head(5).tolist()}"
            )
        rows = df.loc[ids.to_numpy()]
        labels = apply_label_map(rows[self.label_column].to_numpy(), self.label_map)
        scores = None
        if self.score_column:
            scores = pd.to_numeric(rows[self.score_column], errors="coerce").to_numpy(dtype=float)
            if np.isnan(scores).any():
                raise ToolConfigError(
                    f"predictions file {self.path}: column {self.score_column!r} has missing or non-numeric "
                    f"scores for {int(np.isnan(scores).sum())} ids"
                )
        return Predictions(labels=labels, scores=scores)
