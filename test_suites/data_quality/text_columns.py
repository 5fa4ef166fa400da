"""Which columns of a dataset the personal-data scan reads: the dataset card decides, not the scanner.

The scan itself (`harness.measures.pii`) is a measure any suite may use; choosing the columns needs the
card's declarations (declared PII columns are known and never read; a column declared categorical or numeric
holds no free text), so it lives with the data-quality suite.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import DatasetCard


def columns_to_scan(card: DatasetCard, frame: pd.DataFrame) -> list[str]:
    """Free-text columns: declared `text: true`, or any non-numeric column not declared categorical.
    Declared PII columns are known and excluded (they are never read here)."""
    import pandas as pd

    out = []
    for col in frame.columns:
        if col in card.pii_columns:
            continue
        spec = card.columns.get(col)
        if spec is not None and spec.text:
            out.append(col)
            continue
        dtype = frame[col].dtype
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        if spec is not None and (spec.type in ("category", "boolean", "integer", "float") or spec.values):
            continue
        out.append(col)
    return out
