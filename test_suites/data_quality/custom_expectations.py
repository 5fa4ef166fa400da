"""Three more custom GX 1.x expectations the data-quality suite needs, each a metric provider plus an
expectation, like `group_representation.py`:

- `ExpectColumnKindToBe`: GX 1.24's own type expectations (`ExpectColumnValuesToBeOfType`,
  `...InTypeList`) match no type name for pandas 3's default `str` dtype nor for a categorical, so a
  card's declared types (integer, float, string, boolean, category) are checked against the column's
  kind instead, with the tolerance CSV reading needs (an integer column with gaps is read as float).
- `ExpectColumnValueShareToBeBetween`: the share of one value (a label's prevalence) within a band.
- `ExpectTableDuplicateRowShareToBeBetween`: the share of rows that repeat an earlier row. The built-in
  `ExpectCompoundColumnsToBeUnique` would sample whole duplicated rows into the result; this one
  reports a count and a share only, because those rows are personal data.

Importing this module registers them with GX.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from great_expectations.compatibility import pydantic
from great_expectations.compatibility.pydantic import StrictBool, StrictFloat, StrictInt, StrictStr
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation, ColumnAggregateExpectation
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_value,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

KIND = "column.harness_kind"
VALUE_SHARE = "column.harness_value_share"
DUPLICATE_SHARE = "table.harness_duplicate_row_share"

Kind = Literal["integer", "float", "string", "boolean", "category"]


def column_kind(s: pd.Series) -> dict[str, Any]:
    """What a column holds, in the card's vocabulary, with the facts the tolerance rules need."""
    dtype = s.dtype
    out: dict[str, Any] = {"dtype": str(dtype)}
    if isinstance(dtype, pd.CategoricalDtype):
        inner = column_kind(pd.Series(dtype.categories))
        out.update(kind="category", categories=inner["kind"])
    elif pd.api.types.is_bool_dtype(dtype):
        out["kind"] = "boolean"
    elif pd.api.types.is_integer_dtype(dtype):
        values = s.dropna()
        out.update(kind="integer", binary=bool(values.isin([0, 1]).all()))
    elif pd.api.types.is_float_dtype(dtype):
        x = s.to_numpy(dtype=float, na_value=np.nan)
        x = x[~np.isnan(x)]
        integral = bool(np.all(np.isfinite(x) & (x == np.floor(x))))
        out.update(kind="float", integral=integral, binary=integral and bool(np.isin(x, (0.0, 1.0)).all()))
    elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        out["kind"] = "string"
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        out["kind"] = "datetime"
    elif pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        out["inferred"] = inferred
        out["kind"] = {"string": "string", "empty": "string", "boolean": "boolean", "integer": "integer",
                       "floating": "float"}.get(inferred, "mixed")
    else:
        out["kind"] = "other"
    return out


def kind_matches(declared: str, observed: dict[str, Any]) -> bool:
    """Whether a column's observed kind satisfies the declared type. Lenient where CSV reading is
    lossy (an integer column with gaps is read as float), strict where the meaning differs."""
    kind = observed.get("kind")
    if declared == "integer":
        return kind == "integer" or (kind == "float" and bool(observed.get("integral")))
    if declared == "float":
        return kind in ("float", "integer")
    if declared == "string":
        return kind == "string" or (kind == "category" and observed.get("categories") == "string")
    if declared == "boolean":
        return kind == "boolean" or (kind in ("integer", "float") and bool(observed.get("binary")))
    if declared == "category":
        return kind in ("string", "category", "integer", "boolean") or (
            kind == "float" and bool(observed.get("integral")))
    raise ValueError(f"unknown declared type {declared!r}; use integer, float, string, boolean or category")


class ColumnHarnessKind(ColumnAggregateMetricProvider):
    metric_name = KIND
    filter_column_isnull = False  # the dtype of the whole column; a filtered copy would cost a pass

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> dict[str, Any]:
        return column_kind(column)


class ExpectColumnKindToBe(ColumnAggregateExpectation):
    """Expect a column to hold values of a declared kind: integer, float, string, boolean or category.

    `observed_value` is the column's kind and `details` its dtype. An integer column read as float
    (because of gaps) counts as integer when every value is whole; a 0/1 column counts as boolean.
    """

    kind: Kind

    metric_dependencies: ClassVar[tuple[str, ...]] = (KIND,)
    success_keys: ClassVar[tuple[str, ...]] = ("kind",)
    args_keys: ClassVar[tuple[str, ...]] = ("column", "kind")

    class Config:
        title = "Expect column kind to be"

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict[str, Any]:
        observed = metrics[KIND]
        return {"success": kind_matches(self.kind, observed),
                "result": {"observed_value": observed["kind"], "details": observed}}


def _number(value: Any) -> float:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return float(value.strip().lower() == "true")
    return float(value)


def equal_to(column: pd.Series, value: Any) -> np.ndarray:
    """`column == value`, tolerant of 1 vs "1" vs 1.0 (and True vs 1) between a YAML card and a CSV file."""
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        try:
            return (column.astype(float) == _number(value)).to_numpy()
        except (TypeError, ValueError):
            return np.zeros(len(column), dtype=bool)
    text = str(value).strip() if not isinstance(value, float) or not value.is_integer() else str(int(value))
    return (column.astype(str).str.strip() == text).to_numpy()


class ColumnHarnessValueShare(ColumnAggregateMetricProvider):
    metric_name = VALUE_SHARE
    value_keys = ("value",)
    filter_column_isnull = False

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, value: Any = None, **kwargs: Any) -> float | None:
        present = column.notna().to_numpy()
        n = int(present.sum())
        if n == 0:
            return None
        return float((equal_to(column, value) & present).sum() / n)


class ExpectColumnValueShareToBeBetween(ColumnAggregateExpectation):
    """Expect the share of non-null rows equal to `value` (e.g. a label's prevalence) to lie in
    [min_value, max_value]. `observed_value` is the share."""

    value: StrictBool | StrictInt | StrictFloat | StrictStr  # strict: pydantic v1 would turn 1 into "1"
    min_value: float | None = pydantic.Field(None, ge=0, le=1)
    max_value: float | None = pydantic.Field(None, ge=0, le=1)
    strict_min: bool = False
    strict_max: bool = False

    metric_dependencies: ClassVar[tuple[str, ...]] = (VALUE_SHARE,)
    success_keys: ClassVar[tuple[str, ...]] = ("value", "min_value", "max_value", "strict_min", "strict_max")
    args_keys: ClassVar[tuple[str, ...]] = ("column", "value", "min_value", "max_value")

    class Config:
        title = "Expect column value share to be between"

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict[str, Any]:
        return self._validate_metric_value_between(metric_name=VALUE_SHARE, metrics=metrics,
                                                   runtime_configuration=runtime_configuration,
                                                   execution_engine=execution_engine)


class TableHarnessDuplicateRowShare(TableMetricProvider):
    metric_name = DUPLICATE_SHARE
    value_keys = ("column_list",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine: PandasExecutionEngine, metric_domain_kwargs: dict,
                metric_value_kwargs: dict, metrics: dict[str, Any], runtime_configuration: dict) -> dict[str, Any]:
        df, _, _ = execution_engine.get_compute_domain(domain_kwargs=metric_domain_kwargs,
                                                       domain_type=MetricDomainTypes.TABLE)
        cols = metric_value_kwargs.get("column_list") or None
        n = len(df)
        dup = int(df.duplicated(subset=cols, keep="first").sum()) if n else 0
        return {"share": dup / n if n else 0.0, "count": dup, "rows": n}


class ExpectTableDuplicateRowShareToBeBetween(BatchExpectation):
    """Expect the share of rows that repeat an earlier row (over `column_list`, default all columns)
    to lie in [min_value, max_value]. Reports a count and a share, never the rows themselves."""

    column_list: list[str] | None = None
    min_value: float | None = pydantic.Field(None, ge=0, le=1)
    max_value: float | None = pydantic.Field(None, ge=0, le=1)
    strict_min: bool = False
    strict_max: bool = False

    metric_dependencies: ClassVar[tuple[str, ...]] = (DUPLICATE_SHARE,)
    success_keys: ClassVar[tuple[str, ...]] = ("column_list", "min_value", "max_value", "strict_min", "strict_max")
    args_keys: ClassVar[tuple[str, ...]] = ("min_value", "max_value")

    class Config:
        title = "Expect table duplicate row share to be between"

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict[str, Any]:
        found = metrics[DUPLICATE_SHARE]
        share = found["share"]
        ok = True
        if self.min_value is not None:
            ok &= share > self.min_value if self.strict_min else share >= self.min_value
        if self.max_value is not None:
            ok &= share < self.max_value if self.strict_max else share <= self.max_value
        return {"success": bool(ok),
                "result": {"observed_value": share, "details": {"duplicate_rows": found["count"],
                                                                 "rows": found["rows"]}}}


__all__ = [
    "ExpectColumnKindToBe",
    "ExpectColumnValueShareToBeBetween",
    "ExpectTableDuplicateRowShareToBeBetween",
    "column_kind",
    "equal_to",
    "kind_matches",
]
