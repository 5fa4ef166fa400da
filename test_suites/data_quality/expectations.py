"""From a dataset card and the policy to one Great Expectations suite, validated in one run.

The plan (`plan_expectations`) is plain data, built without GX, so it can be read and tested on its
own; `validate` turns it into a GX `ExpectationSuite` and runs ONE validation of the whole suite over
the reference frame on GX's pandas engine (GX resolves every metric in one graph, sharing the work).
GX is imported here lazily, inside functions: `harness --help` never pays its 2-3 s import.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from test_suites.data_quality.rules import SUITE, label, rule

if TYPE_CHECKING:
    from harness.datasets import ColumnSpec, DatasetCard
    from harness.policy import Policy

SAMPLE = 20  # unexpected values GX keeps per expectation; a finding shows the most frequent few
MAP_KINDS = ("not_null", "unique", "values_in_set", "in_range")
BUILTIN = {
    "column_exists": "ExpectColumnToExist",
    "not_null": "ExpectColumnValuesToNotBeNull",
    "unique": "ExpectColumnValuesToBeUnique",
    "values_in_set": "ExpectColumnValuesToBeInSet",
    "in_range": "ExpectColumnValuesToBeBetween",
    "row_count": "ExpectTableRowCountToBeBetween",
}
CUSTOM = {
    "column_type": "ExpectColumnKindToBe",
    "prevalence": "ExpectColumnValueShareToBeBetween",
    "duplicate_rows": "ExpectTableDuplicateRowShareToBeBetween",
    "group_representation": "ExpectProtectedGroupsToBeRepresented",
}


@dataclass(frozen=True)
class Planned:
    """One expectation to run (or a reason it cannot run on this data)."""

    kind: str                      # short name: values_in_set, not_null, ...
    column: str | None             # None for table-level expectations
    kwargs: dict[str, Any] = field(default_factory=dict)
    role: str = "declared"         # "key" for target, id and protected columns
    skipped: str | None = None     # why it was not run

    @property
    def metric(self) -> str:
        return f"{self.kind}.{self.column}" if self.column else self.kind


def declared_columns(card: DatasetCard) -> list[str]:
    """Every column the card names: its `columns` block, then target, id, protected, features, weights."""
    assert card.target is not None  # the suite runs on binary-classification cards, which must give a target
    cols = [*card.columns, card.target.column, card.id_column, *card.protected_attributes, *card.features,
            card.weight_column]
    return list(dict.fromkeys(c for c in cols if c))


def key_columns(card: DatasetCard) -> list[str]:
    assert card.target is not None  # the suite runs on binary-classification cards, which must give a target
    return list(dict.fromkeys(c for c in (card.target.column, card.id_column, *card.protected_attributes) if c))


def coerce_values(values: list[Any], s: pd.Series) -> list[Any]:
    """Declared values in the column's own spelling: YAML's 1 matches a CSV's "1", 1 or 1.0."""
    dtype = s.dtype.categories.dtype if isinstance(s.dtype, pd.CategoricalDtype) else s.dtype
    out: list[Any] = []
    for v in values:
        if pd.api.types.is_bool_dtype(dtype):
            out.append(v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes"))
        elif pd.api.types.is_numeric_dtype(dtype):
            try:
                out.append(float(v))
            except (TypeError, ValueError):
                out.append(v)  # not a number: every numeric value is outside it anyway
        else:
            out.append(v if isinstance(v, str) else label(v))  # strings exactly: "x " is not "x"
    return list(dict.fromkeys(out))


def is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def plan_expectations(card: DatasetCard, policy: Policy, tier: str, frame: pd.DataFrame) -> list[Planned]:
    """The expectations the card and the policy call for, in report order."""
    present = set(frame.columns)
    keys = key_columns(card)
    plan: list[Planned] = []

    def mostly(kind: str) -> dict[str, float]:
        limit = rule(policy, tier, "expectations", kind).limit
        return {"mostly": 1.0 - limit} if 0 < limit < 1 else {}

    for col in declared_columns(card):
        role = "key" if col in keys else "declared"
        plan.append(Planned("column_exists", col, {"column": col}, role))
        if col not in present:
            continue
        spec: ColumnSpec | None = card.columns.get(col)
        s = frame[col]
        if spec is not None and spec.type:
            plan.append(Planned("column_type", col, {"column": col, "kind": spec.type}, role))
        if col in keys or (spec is not None and not spec.nullable):
            plan.append(Planned("not_null", col, {"column": col, **mostly("not_null")}, role))
        if col == card.id_column:
            plan.append(Planned("unique", col, {"column": col, **mostly("unique")}, role))
        if spec is not None and spec.values:
            plan.append(Planned("values_in_set", col, {"column": col, "value_set": coerce_values(spec.values, s),
                                                       **mostly("values_in_set")}, role))
        if spec is not None and (spec.min is not None or spec.max is not None):
            bounds = {"min_value": spec.min, "max_value": spec.max}
            if is_numeric(s):
                plan.append(Planned("in_range", col, {"column": col, **bounds, **mostly("in_range")}, role))
            else:
                plan.append(Planned("in_range", col, {"column": col, **bounds}, role,
                                    skipped=f"{col!r} holds {s.dtype} values, not numbers: its range cannot be "
                                            f"checked (see column_type)"))

    q = card.quality
    min_rows = q.min_rows if q.min_rows is not None else int(rule(policy, tier, "expectations", "row_count").limit)
    plan.append(Planned("row_count", None, {"min_value": min_rows}))

    protected = [a for a in card.protected_attributes if a in present]
    if protected:
        expected = {a: card.columns[a].values for a in protected if a in card.columns and card.columns[a].values}
        under = int(rule(policy, tier, "expectations", "group_representation").limit)
        plan.append(Planned("group_representation", "_x_".join(protected), {
            "columns": protected, "min_group_size": policy.min_group_size, "expected_values": expected or None,
            "max_under_represented": under}, "key"))

    assert card.target is not None  # the suite runs on binary-classification cards, which must give a target
    target = card.target.column
    if q.prevalence is not None and target in present:
        slack = rule(policy, tier, "expectations", "prevalence").limit
        lo, hi = q.prevalence
        plan.append(Planned("prevalence", target, {
            "column": target, "value": card.target.favorable_value,
            "min_value": max(0.0, lo - slack), "max_value": min(1.0, hi + slack)}, "key"))

    max_dup = q.max_duplicate_share
    if max_dup is None:
        max_dup = rule(policy, tier, "expectations", "duplicate_rows").limit
    # fully duplicated rows, as the card's field defines them (an id column, unique, makes this 0)
    plan.append(Planned("duplicate_rows", None, {"max_value": max_dup}))
    return plan


def gx_names(columns: list[Any]) -> dict[str, str]:
    """GX 1.24 resolves metrics case-insensitively: columns "I" and "i" share one result. Columns
    that clash that way are validated under distinct aliases (a rename, no copy of the data)."""
    seen: dict[str, int] = {}
    out: dict[str, str] = {}
    taken = {str(c) for c in columns}
    for c in map(str, columns):
        low = c.lower()
        seen[low] = seen.get(low, 0) + 1
        alias = c
        if seen[low] > 1:
            i = seen[low]
            while (alias := f"{c}__{i}") in taken:
                i += 1
            taken.add(alias)
        out[c] = alias
    return out


def _aliased(kwargs: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    out = dict(kwargs)
    if "column" in out:
        out["column"] = names.get(out["column"], out["column"])
    for key in ("columns", "column_list"):
        if out.get(key) is not None:
            out[key] = [names.get(c, c) for c in out[key]]
    if out.get("expected_values"):
        out["expected_values"] = {names.get(k, k): v for k, v in out["expected_values"].items()}
    return out


def quiet_gx() -> Any:
    """Import GX with its logging quietened (its progress bars are switched off per context). Some GX
    modules set their own logger to INFO at import, so every GX logger is lowered after the import."""
    import great_expectations as gx

    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "great_expectations"]:
        logger = logging.getLogger(name)
        if logger.level != logging.NOTSET and logger.level < logging.ERROR:
            logger.setLevel(logging.ERROR)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    return gx


def expectation_classes() -> dict[str, type]:
    """Short kind -> GX expectation class; importing the custom modules registers them with GX."""
    import great_expectations.expectations as gxe

    from test_suites.data_quality import custom_expectations as ce
    from test_suites.data_quality import group_representation as gr

    out = {kind: getattr(gxe, cls) for kind, cls in BUILTIN.items()}
    out.update(column_type=ce.ExpectColumnKindToBe, prevalence=ce.ExpectColumnValueShareToBeBetween,
               duplicate_rows=ce.ExpectTableDuplicateRowShareToBeBetween,
               group_representation=gr.ExpectProtectedGroupsToBeRepresented)
    return out


def gx_suite(plan: list[Planned], names: dict[str, str], name: str = SUITE) -> Any:
    """The GX suite of the planned expectations; each carries its kind, column and role in `meta`.
    Built in one call: `ExpectationSuite.add_expectation` compares each new expectation with every
    earlier one (quadratic: 0.45 s for 80 expectations in GX 1.24)."""
    gx = quiet_gx()
    classes = expectation_classes()
    expectations = []
    for p in plan:
        if p.skipped:
            continue
        kwargs = {k: v for k, v in _aliased(p.kwargs, names).items() if v is not None}
        expectations.append(classes[p.kind](
            **kwargs, meta={"harness": {"kind": p.kind, "column": p.column, "role": p.role}}))
    return gx.ExpectationSuite(name=name, expectations=expectations)


def validate(frame: pd.DataFrame, plan: list[Planned], name: str = "reference") -> Any:
    """One GX validation of the whole planned suite over `frame`, in an ephemeral context (nothing is
    written to disk). Returns GX's `ExpectationSuiteValidationResult`.

    A `ValidationDefinition` fetches the batch once; `Batch.validate` would fetch it again, and GX
    fingerprints a pandas batch under 1 GB by hashing every row (0.25 s per million rows x 20)."""
    gx = quiet_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if hasattr(context, "enable_analytics"):
        context.enable_analytics(False)
    names = gx_names(list(frame.columns))
    renamed = {k: v for k, v in names.items() if k != v}
    data = frame.rename(columns=renamed) if renamed else frame
    if not all(isinstance(c, str) for c in data.columns):
        data = data.rename(columns=str)
    batches = context.data_sources.add_pandas("harness").add_dataframe_asset(name).add_batch_definition_whole_dataframe(
        "all")
    suite = context.suites.add(gx_suite(plan, names, name=f"{SUITE}.{name}"))
    run = context.validation_definitions.add(gx.ValidationDefinition(name=f"{SUITE}.{name}", data=batches,
                                                                     suite=suite))
    return run.run(batch_parameters={"dataframe": data},
                   result_format={"result_format": "BASIC", "partial_unexpected_count": SAMPLE})


__all__ = ["Planned", "declared_columns", "gx_names", "gx_suite", "key_columns", "plan_expectations", "validate"]
