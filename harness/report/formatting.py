"""How the reports write a number, an interval, a limit or a cell: one place, so every section, the harness's
and each suite's own (`Suite.report_sections`), shows the same value the same way.

Every helper reads defensively (None, NaN, a string where a number was expected all become a dash): a report
must render for any valid result, including results recorded by older versions of a suite.
"""
from __future__ import annotations

import json
import math
from typing import Any, TypeGuard

from harness.findings import Finding, Status

DASH = "—"
NOT_JUDGED = "not judged"

STATUS_ORDER: tuple[Status, ...] = (
    Status.FAIL, Status.ERROR, Status.REVIEW, Status.INSUFFICIENT, Status.PASS, Status.SKIPPED,
)


def num(x: Any) -> float | None:
    """A finite float, or None for missing, NaN or non-numeric values."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt_value(x: Any) -> str:
    """Counts as integers, everything else with 3 decimals (enough to see how close to a limit)."""
    v = num(x)
    if v is None:
        return DASH
    if v.is_integer() and abs(v) >= 2:
        return f"{int(v):,}"
    return f"{v:.3f}"


def fmt_limit(x: Any) -> str:
    """Thresholds as written in a policy: 0.80, 0.10, 30; more decimals only when the limit has them."""
    v = num(x)
    if v is None:
        return DASH
    if v.is_integer() and abs(v) >= 2:
        return f"{int(v):,}"
    two = f"{v:.2f}"
    return two if float(two) == v else f"{v:.4g}"


def pct(x: Any) -> str:
    v = num(x)
    return DASH if v is None else f"{v * 100:.1f}%"


def ratio(x: Any) -> str:
    v = num(x)
    return DASH if v is None else f"{v:.2f}"


def fmt_p(x: Any) -> str:
    """p-values: three decimals, or three significant digits below 0.01 (as the findings write them)."""
    v = num(x)
    if v is None:
        return DASH
    return f"{v:.3f}" if v >= 0.01 else f"{v:.3g}"


def count(x: Any) -> str:
    """A count with thousands separators, or a dash."""
    n = num(x)
    return DASH if n is None else f"{int(n):,}"


def text(x: Any, default: str = DASH) -> str:
    """A value as text; `default` for None or the empty string."""
    return default if x is None or x == "" else str(x)


def one_line(value: Any, limit: int = 400) -> str:
    """Free text on one line, cut at `limit` characters with an ellipsis."""
    s = " ".join(str(value or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def seconds(x: Any) -> str:
    v = num(x)
    if v is None:
        return DASH
    return f"{v:.3f} s" if v < 10 else f"{v:.1f} s"


def value_with_ci(value: Any, lo: Any, hi: Any, digits: int = 3) -> str:
    """0.634 [0.576–0.698]"""
    v, lo, hi = num(value), num(lo), num(hi)
    if v is None:
        return DASH
    if lo is None or hi is None:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{lo:.{digits}f}–{hi:.{digits}f}]"


def limit_text(threshold: Any, greater_is_better: bool | None) -> str:
    """'≥ 0.80', '≤ 0.10' or a dash."""
    if num(threshold) is None:
        return DASH
    if greater_is_better is None:
        return fmt_limit(threshold)
    return f"{'≥' if greater_is_better else '≤'} {fmt_limit(threshold)}"


def pct_with_ci(row: dict[str, Any], metric: str) -> str:
    value, lo, hi = row.get(metric), num(row.get(f"{metric}_low")), num(row.get(f"{metric}_high"))
    if num(value) is None:
        return DASH
    if lo is None or hi is None:
        return pct(value)
    return f"{pct(value)} [{lo * 100:.1f}–{hi * 100:.1f}%]"


def threshold_text(f: Finding) -> str:
    """'threshold >= 0.80': the limit with the direction that passes."""
    if num(f.threshold) is None:
        return "no threshold"
    if f.greater_is_better is None:
        return f"threshold {fmt_limit(f.threshold)}"
    return f"threshold {'>=' if f.greater_is_better else '<='} {fmt_limit(f.threshold)}"


def section_text(section: str | None) -> str:
    return f"City AI Policy {section}" if section else "no policy section"


def cell(x: Any) -> str:
    """One value of a table whose shape the report does not know."""
    if x is None:
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return DASH if not math.isfinite(x) else f"{x:.4g}"
    if isinstance(x, str):
        return x
    try:
        return json.dumps(x, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(x)


def grouping_title(grouping: str) -> str:
    return grouping.replace("_x_", " × ")


def dicts(rows: Any, *required: str) -> TypeGuard[list[dict[str, Any]]]:
    """A non-empty list of dicts that all have the `required` keys: the shape a dedicated table needs
    (anything else falls back to the generic table, so an unexpected shape never breaks the report)."""
    return (isinstance(rows, list) and bool(rows)
            and all(isinstance(r, dict) and all(k in r for k in required) for r in rows))


def status_rank(status: Any) -> int:
    """Where a status word sorts: worst first (FAIL, ERROR, REVIEW, ...), unknown words last."""
    order = [s.value for s in STATUS_ORDER]
    return order.index(str(status)) if str(status) in order else len(order)
