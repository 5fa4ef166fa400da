"""GX validation results -> findings a reviewer can quote, a summary table and the record artifact.

Every expectation result becomes one Finding. Unexpected values are sampled (the few most frequent
among the ones GX kept, with their exact counts in the column), never from a declared PII column,
and any sample that looks like personal data is redacted, in the findings and in the artifact alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.check import Measurement
from harness.findings import Finding, Status
from harness.measures.pii import redact
from test_suites.data_quality.expectations import MAP_KINDS, Planned
from test_suites.data_quality.rules import SUITE, Rule, pct, rule

if TYPE_CHECKING:
    from harness.datasets import DatasetCard
    from harness.policy import Policy

CHECK = "expectations"
SHOWN = 5  # sampled values named in a message
VALUE_FIELDS = ("partial_unexpected_list", "partial_unexpected_counts", "partial_unexpected_index_list",
                "unexpected_list", "unexpected_index_list", "unexpected_rows", "unexpected_index_query")
ROLE = {"key": "a key column", "declared": "a declared column"}


@dataclass
class Interpreted:
    findings: list[Finding] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)


def exception_message(info: dict[str, Any] | None) -> str | None:
    """GX 1.24 reports a failed metric as {metric id: {exception_message, ...}}, not the documented
    flat {raised_exception, exception_message}; read both."""
    if not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "raised an exception") if info["raised_exception"] else None
    msgs = [str(v.get("exception_message")) for v in info.values() if isinstance(v, dict)]
    return "; ".join(dict.fromkeys(m for m in msgs if m and m != "None")) or "raised an exception"


def show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def sample_counts(s: pd.Series, sample: list[Any]) -> list[dict[str, Any]]:
    """The sampled values' exact counts in the whole column (GX's own counts cover only its sample)."""
    values = [v for v in dict.fromkeys(v for v in sample if v is not None and v == v)]
    if not values:
        return []
    counts = s[s.isin(values)].value_counts()
    found: list[dict[str, Any]] = [
        {"value": redact(v.item() if hasattr(v, "item") else v), "count": int(counts.get(v, 0))} for v in values]
    return sorted(found, key=lambda d: -d["count"])[:SHOWN]


def sample_text(sample: list[dict[str, Any]]) -> str:
    return ", ".join(f"{show(d['value'])} ({d['count']:,})" for d in sample)


def _message(kind: str, col: str | None, res: dict[str, Any], kwargs: dict[str, Any], role: str,
             sample: list[dict[str, Any]], success: bool, withheld: bool, card: DatasetCard) -> tuple[str, float]:
    """Plain-language message and the finding's value for one expectation result."""
    n = int(res.get("element_count") or 0)
    bad = int(res.get("unexpected_count") or 0)
    share = bad / n if n else 0.0
    eg = ""
    if sample:
        eg = f", e.g. {sample_text(sample)}"
    elif withheld and bad:
        eg = " (values withheld: a declared personal-data column, policy 1.2)"
    observed = res.get("observed_value")
    details = res.get("details") or {}
    if kind == "column_exists":
        return (f"column '{col}' ({ROLE[role]} of the dataset card) is present" if success else
                f"column '{col}' is declared in the dataset card but missing from the data"), float(not success)
    if kind == "column_type":
        want = kwargs["kind"]
        got = f"{observed} values (dtype {details.get('dtype')})"
        return (f"column '{col}' holds {got}, as declared ({want})" if success else
                f"column '{col}' is declared {want} but holds {got}"), float(not success)
    if kind == "not_null":
        what = "a key column (target, id or protected attribute)" if role == "key" else "declared not nullable"
        if success and not bad:
            return f"'{col}' has no missing values; it is {what}", share
        return f"'{col}' has {bad:,} missing values ({pct(share)} of {n:,} rows); it is {what}", share
    if kind == "unique":
        if success and not bad:
            return f"id column '{col}' is unique ({n:,} rows)", share
        return f"id column '{col}' has {bad:,} rows sharing an id ({pct(share)}){eg}", share
    if kind == "values_in_set":
        if success and not bad:
            return f"every value of '{col}' is in its declared set of {len(kwargs['value_set'])}", share
        return f"{col} has {bad:,} values outside its declared set ({pct(share)}){eg}", share
    if kind == "in_range":
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        rng = f"[{show(lo) if lo is not None else '-inf'}, {show(hi) if hi is not None else 'inf'}]"
        if success and not bad:
            return f"every value of '{col}' lies in its declared range {rng}", share
        return f"{col} has {bad:,} values outside its declared range {rng} ({pct(share)}){eg}", share
    if kind == "row_count":
        need = kwargs.get("min_value")
        src = "the dataset card's quality.min_rows" if card.quality.min_rows is not None else "the policy's default"
        rows = int(observed or 0)
        return (f"the data has {rows:,} rows; {src} asks for at least {need:,}"), float(rows)
    if kind == "group_representation":
        under = details.get("under_represented", [])
        floor = details.get("min_group_size")
        groups = details.get("groups", [])
        if not under:
            return (f"all {len(groups)} protected groups and intersections ({', '.join(kwargs['columns'])}) have at "
                    f"least {floor} rows; the smallest has {int(observed or 0):,}"), 0.0
        absent = [g for g in under if g["count"] == 0]
        named = ", ".join(f"'{g['group']}' ({g['count']:,})" for g in sorted(under, key=lambda g: g["count"])[:8])
        more = f" and {len(under) - 8} more" if len(under) > 8 else ""
        gone = f"; {len(absent)} absent altogether" if absent else ""
        verb = "has" if len(under) == 1 else "have"
        return (f"{len(under)} of {len(groups)} protected groups {verb} fewer than {floor} rows (the policy's "
                f"min_group_size){gone}: {named}{more}; their bias figures cannot be judged"), float(len(under))
    if kind == "prevalence":
        lo, hi = kwargs["min_value"], kwargs["max_value"]  # plan_expectations always gives both
        band = f"{pct(lo)}–{pct(hi)}"
        if observed is None:
            return f"the share of {show(kwargs['value'])} in '{col}' is undefined (no labels)", float("nan")
        where = "inside" if success else "outside"
        return (f"the share of {show(kwargs['value'])} in '{col}' is {pct(observed)}, {where} the card's band "
                f"{band}"), float(observed)
    if kind == "duplicate_rows":
        dup = int(details.get("duplicate_rows", 0))
        cols = kwargs.get("column_list")
        over = f"columns {', '.join(cols)}" if cols else "every column"
        limit = kwargs["max_value"]  # plan_expectations always gives it
        return (f"{dup:,} rows ({pct(float(observed or 0))}) repeat an earlier row in {over}; the limit is "
                f"{pct(limit)}"), float(observed or 0)
    return f"{kind} on {col}: {'met' if success else 'not met'}", float(not success)


def interpret(result: Any, plan: list[Planned], card: DatasetCard, policy: Policy, tier: str,
              frame: pd.DataFrame, dataset: str) -> Interpreted:
    """One Finding (and one summary row) per expectation result, plus SKIPPED findings for planned
    expectations that could not run on this data."""
    out = Interpreted()
    pii = set(card.pii_columns)
    for r in result.results:
        cfg = r.expectation_config
        meta = (cfg.meta or {}).get("harness", {})
        kind, col, role = meta.get("kind", cfg.type), meta.get("column"), meta.get("role", "declared")
        planned = next((p for p in plan if p.kind == kind and p.column == col and not p.skipped), None)
        kwargs = planned.kwargs if planned else dict(cfg.kwargs)
        metric = planned.metric if planned else (f"{kind}.{col}" if col else kind)
        rl: Rule = rule(policy, tier, CHECK, kind)
        res = dict(r.result or {})
        error = exception_message(r.exception_info)
        withheld = col in pii
        sample: list[dict[str, Any]] = []
        if kind in MAP_KINDS and not r.success and not withheld and kind != "not_null" and col in frame.columns:
            sample = sample_counts(frame[col], list(res.get("partial_unexpected_list") or []))
        if error:
            status, value = Status.ERROR, float("nan")
            message = f"{cfg.type} on {col or 'the table'} could not be evaluated: {error}"
        else:
            status = Status.PASS if r.success else Status.FAIL
            message, value = _message(kind, col, res, kwargs, role, sample, bool(r.success), withheld, card)
        n = res.get("element_count")
        threshold = _threshold(kind, kwargs, rl)
        details: dict[str, Any] = {"expectation": cfg.type, "column": col, "kwargs": _public(kwargs)}
        if kind in MAP_KINDS:
            details.update(unexpected_count=res.get("unexpected_count"),
                           unexpected_percent=res.get("unexpected_percent"),
                           missing_count=res.get("missing_count"), sample=sample)
        elif kind == "group_representation":
            det = res.get("details") or {}
            details.update(groups=det.get("groups", []), under_represented=det.get("under_represented", []),
                           min_group_size=det.get("min_group_size"))
        else:
            details.update(observed_value=res.get("observed_value"), **(res.get("details") or {}))
        if withheld:
            details["values_withheld"] = "declared personal-data column (policy 1.2)"
        if error:
            details["error"] = error
        f = Finding(suite=SUITE, check=CHECK, metric=metric, status=status, message=message, severity=rl.severity,
                    value=value, threshold=threshold, greater_is_better=kind == "row_count",
                    n=int(n) if n is not None else len(frame), policy_section=rl.policy_section,
                    benchmark=rl.benchmark or None, dataset=dataset, details=details)
        out.findings.append(f)
        out.rows.append({"expectation": cfg.type, "kind": kind, "column": col, "success": bool(r.success),
                         "status": status.value, "severity": rl.severity.value,
                         "unexpected_count": res.get("unexpected_count"),
                         "unexpected_percent": res.get("unexpected_percent"),
                         "observed_value": _scalar(res.get("observed_value")),
                         "sample": sample_text(sample)})
        if value == value and status is not Status.ERROR:
            out.measurements.append(Measurement(SUITE, "profile", metric, float(value), n=f.n))
    for p in plan:
        if p.skipped:
            rl = rule(policy, tier, CHECK, p.kind)
            out.findings.append(Finding(suite=SUITE, check=CHECK, metric=p.metric, status=Status.SKIPPED,
                                        message=p.skipped, severity=rl.severity, policy_section=rl.policy_section,
                                        dataset=dataset, details={"column": p.column, "kwargs": _public(p.kwargs)}))
            out.rows.append({"expectation": None, "kind": p.kind, "column": p.column, "success": None,
                             "status": Status.SKIPPED.value, "severity": rl.severity.value,
                             "unexpected_count": None, "unexpected_percent": None, "observed_value": None,
                             "sample": ""})
    return out


def _threshold(kind: str, kwargs: dict[str, Any], rl: Rule) -> float | None:
    if kind == "row_count":
        return float(kwargs["min_value"])
    if kind == "duplicate_rows":
        return float(kwargs["max_value"])
    if kind == "group_representation":
        return float(kwargs.get("max_under_represented", 0))
    if kind == "prevalence":
        return None  # a band, in details.kwargs
    return rl.limit


def _public(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Expectation arguments for the record; long column lists are summarised."""
    out = dict(kwargs)
    if isinstance(out.get("column_list"), list) and len(out["column_list"]) > 12:
        out["column_list"] = f"{len(out['column_list'])} columns"
    return out


def _scalar(x: Any) -> Any:
    return x if isinstance(x, int | float | str | bool) or x is None else str(x)


def scrubbed(result: Any, card: DatasetCard) -> dict[str, Any]:
    """GX's validation result as JSON for the record, without a value of a declared PII column and with
    any sampled value that looks like personal data redacted."""
    d = result.to_json_dict()
    pii = set(card.pii_columns)
    for r in d.get("results", []):
        cfg = r.get("expectation_config") or {}
        col = ((cfg.get("meta") or {}).get("harness") or {}).get("column")
        res = r.get("result") or {}
        if col in pii:
            for k in VALUE_FIELDS:
                res.pop(k, None)
            res["values_withheld"] = "declared personal-data column (policy 1.2)"
            continue
        if isinstance(res.get("partial_unexpected_list"), list):
            res["partial_unexpected_list"] = [redact(v) for v in res["partial_unexpected_list"]]
        if isinstance(res.get("partial_unexpected_counts"), list):
            for item in res["partial_unexpected_counts"]:
                if isinstance(item, dict) and "value" in item:
                    item["value"] = redact(item["value"])
    return d


__all__ = ["Interpreted", "exception_message", "interpret", "sample_counts", "scrubbed"]
