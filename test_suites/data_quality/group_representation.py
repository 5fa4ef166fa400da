"""`ExpectProtectedGroupsToBeRepresented`: a custom Great Expectations (1.x) expectation.

Policy 4.2 asks for data quality standards before a tool is judged for bias; a bias figure for a group
with a handful of rows is noise, and a group that is absent cannot be assessed at all. This
expectation states, in a form any GX project can run, that every group of every protected attribute
(and every intersection of them, the groups the bias suite judges) has at least `min_group_size` rows.

It is written the way GX 1.x documents custom expectations: a `TableMetricProvider` computes the
metric (`table.protected_group_counts`: the row count of each observed combination of the columns,
nulls left out) and a `BatchExpectation` declares it as its metric dependency and judges it in
`_validate`. Importing this module registers both with GX.

Use in your own GX project::

    import great_expectations as gx
    from test_suites.data_quality.group_representation import ExpectProtectedGroupsToBeRepresented

    suite = gx.ExpectationSuite(name="hiring-data")
    suite.add_expectation(ExpectProtectedGroupsToBeRepresented(
        columns=["sex", "race"], min_group_size=30,
        expected_values={"sex": ["Female", "Male"]},   # optional: groups that must be present
    ))
    result = batch.validate(suite)

Only group labels and counts ever appear in the result: never a row.
"""
from __future__ import annotations

from itertools import combinations, product
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from great_expectations.compatibility import pydantic
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

from test_suites.data_quality.rules import label

GROUP_COUNTS = "table.protected_group_counts"


class ProtectedGroupCounts(TableMetricProvider):
    """Rows per observed combination of `columns` (rows with a null in any of them are left out)."""

    metric_name = GROUP_COUNTS
    value_keys = ("columns",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine: PandasExecutionEngine, metric_domain_kwargs: dict,
                metric_value_kwargs: dict, metrics: dict[str, Any], runtime_configuration: dict) -> list[dict]:
        df, _, _ = execution_engine.get_compute_domain(domain_kwargs=metric_domain_kwargs,
                                                       domain_type=MetricDomainTypes.TABLE)
        columns = list(metric_value_kwargs["columns"])
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in the batch")
        # factorize + one bincount: a vectorised group-by that costs a few ms per million rows
        codes, uniques = zip(*(pd.factorize(df[c], sort=True) for c in columns), strict=True)
        keep = np.logical_and.reduce([c >= 0 for c in codes])
        sizes = [len(u) for u in uniques]
        flat = np.ravel_multi_index([c[keep] for c in codes], sizes) if keep.any() else np.array([], int)
        counts = np.bincount(flat, minlength=int(np.prod(sizes))) if len(flat) else np.array([], int)
        out = []
        for cell in np.flatnonzero(counts):
            idx = np.unravel_index(cell, sizes)
            out.append({"values": [label(u[i]) for u, i in zip(uniques, idx, strict=True)],
                        "count": int(counts[cell])})
        return out


class ExpectProtectedGroupsToBeRepresented(BatchExpectation):
    """Expect every group of each column, and of every intersection of the columns, to have at least
    `min_group_size` rows.

    Args:
        columns: the protected attributes, e.g. ["sex", "race"].
        min_group_size: the smallest group that can be assessed (the harness policy's `min_group_size`).
        expected_values: per column, the values that must be present (absent ones count as 0 rows);
            a column not listed expects the values it holds.
        intersections: also check every combination of two or more columns (default True).
        max_under_represented: how many groups may fall short before the expectation fails (default 0).

    The result's `observed_value` is the size of the smallest expected group; `details` lists every
    group with its size, the groups under the minimum and the absent ones.
    """

    columns: list[str] = pydantic.Field(min_items=1)
    min_group_size: int = pydantic.Field(30, ge=1)
    expected_values: dict[str, list[Any]] | None = None
    intersections: bool = True
    max_under_represented: int = pydantic.Field(0, ge=0)

    metric_dependencies: ClassVar[tuple[str, ...]] = (GROUP_COUNTS,)
    success_keys: ClassVar[tuple[str, ...]] = ("columns", "min_group_size", "expected_values", "intersections",
                                               "max_under_represented")
    args_keys: ClassVar[tuple[str, ...]] = ("columns", "min_group_size")
    library_metadata: ClassVar[dict[str, Any]] = {
        "maturity": "experimental",
        "tags": ["fairness", "representation", "table expectation"],
        "contributors": ["@city-dti"],
        "requirements": [],
    }

    class Config:
        title = "Expect protected groups to be represented"

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict[str, Any]:
        observed = metrics[GROUP_COUNTS]
        groups = group_sizes(observed, list(self.columns), self.expected_values or {}, self.intersections)
        small = [g for g in groups if g["count"] < self.min_group_size]
        smallest = min((g["count"] for g in groups), default=0)
        return {
            "success": bool(groups) and len(small) <= self.max_under_represented,
            "result": {
                "observed_value": smallest,
                "details": {
                    "min_group_size": self.min_group_size,
                    "groups": groups,
                    "under_represented": small,
                    "absent": [g for g in groups if g["count"] == 0],
                },
            },
        }


def group_sizes(observed: list[dict], columns: list[str], expected: dict[str, list[Any]],
                intersections: bool = True) -> list[dict[str, Any]]:
    """Every expected group of every grouping (each column alone, then each combination of two or
    more) with its row count; expected groups are the cartesian product of each column's values."""
    values = {c: [label(v) for v in expected[c]] if expected.get(c) else
              sorted({row["values"][i] for row in observed}) for i, c in enumerate(columns)}
    sizes = [1] if not intersections else range(1, len(columns) + 1)
    out: list[dict[str, Any]] = []
    for k in sizes:
        for combo in combinations(range(len(columns)), k):
            tally: dict[tuple[str, ...], int] = {}
            for row in observed:
                key = tuple(row["values"][i] for i in combo)
                tally[key] = tally.get(key, 0) + row["count"]
            grouping = "_x_".join(columns[i] for i in combo)
            for key in product(*(values[columns[i]] for i in combo)):
                out.append({"grouping": grouping, "group": " & ".join(key), "count": int(tally.get(key, 0))})
    return out


__all__ = ["GROUP_COUNTS", "ExpectProtectedGroupsToBeRepresented", "ProtectedGroupCounts", "group_sizes"]
