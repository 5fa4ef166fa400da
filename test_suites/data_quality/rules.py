"""How strictly each data-quality check is judged: the policy's threshold when it has one, else a
built-in default, so a policy written before this suite existed still judges it (fail closed:
schema, key-column, identity, personal-data and tool-output checks block by default).

Policy keys are `data_quality.<check>.<kind>` (e.g. `data_quality.expectations.values_in_set`); the
finding's metric adds the column (`values_in_set.workclass`), so a threshold covers every column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.findings import Severity

if TYPE_CHECKING:
    from harness.policy import Policy

SUITE = "data_quality"

B, A = Severity.BLOCKING, Severity.ADVISORY

# (check, kind) -> (limit, severity, policy section, greater_is_better); `limit` means, by kind:
# map expectations: the share of rows allowed to break it (GX's `mostly` = 1 - limit); row_count: the
# minimum rows when the card sets none; duplicate_rows: the maximum share when the card sets none;
# prevalence: how far outside the card's band the share may lie; group_representation: how many
# groups may have fewer than the policy's min_group_size rows; pii and outputs: the share of values.
DEFAULTS: dict[tuple[str, str], tuple[float, Severity, str, bool]] = {
    ("expectations", "column_exists"): (0.0, B, "4.2", False),
    ("expectations", "column_type"): (0.0, B, "4.2", False),
    ("expectations", "not_null"): (0.0, B, "4.2", False),
    ("expectations", "unique"): (0.0, B, "4.2", False),
    ("expectations", "values_in_set"): (0.0, A, "4.2", False),
    ("expectations", "in_range"): (0.0, A, "4.2", False),
    ("expectations", "row_count"): (100.0, A, "4.2", True),
    ("expectations", "group_representation"): (0.0, A, "4.2", False),
    ("expectations", "prevalence"): (0.0, A, "4.2", False),
    ("expectations", "duplicate_rows"): (0.01, A, "4.2", False),
    ("pii", "undeclared"): (0.0, B, "1.2", False),
    ("outputs", "length"): (0.0, B, "4.2", False),
    ("outputs", "labels_in_set"): (0.0, B, "4.2", False),
    ("outputs", "no_nan"): (0.0, B, "4.2", False),
    ("outputs", "scores_in_range"): (0.0, B, "4.2", False),
    ("outputs", "schema_stable"): (0.0, B, "4.2", False),
}


@dataclass(frozen=True)
class Rule:
    limit: float
    severity: Severity
    policy_section: str
    greater_is_better: bool
    benchmark: str = ""


def rule(policy: Policy, tier: str, check: str, kind: str) -> Rule:
    """The policy's threshold for `data_quality.<check>.<kind>` at this risk tier, else the default."""
    t = policy.threshold(SUITE, check, kind)
    if t is not None:
        return Rule(t.limit_for(tier), t.severity_for(tier), t.policy_section, t.greater_is_better, t.benchmark)
    limit, severity, section, gib = DEFAULTS.get((check, kind), (0.0, B, "4.2", False))
    return Rule(limit, severity, section, gib)


def pct(share: float) -> str:
    """"5.6 %", "0.07 %": two decimals only where one would print 0.0."""
    p = 100 * share
    if p == 0 or p >= 1:
        return f"{p:.1f} %"
    return f"{p:.2f} %" if p >= 0.01 else "<0.01 %"


def label(value: Any) -> str:
    """One spelling per value, so YAML's 1 and the data's 1.0 (or "1") name the same group."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value).strip()
