"""Tables of a generative tool's answers, for any suite that asks a tool questions (the built-in
`hallucination`, `privacy` and `bias` suites use them; so may a third party's): a headline table of rates
with their intervals, limits and results, tables of example answers, and the items the tool failed to
answer. They live in the harness, not in one suite, because suites do not import each other.

Personal data in answers, questions, pages and ids arrives here masked: `harness.report.view.build_view`
masks the whole result before any section reads it (`harness.redact`, issue 12).
"""
from __future__ import annotations

from typing import Any

from harness.findings import Finding, Status
from harness.report.formatting import DASH, count, fmt_limit, num, pct, text
from harness.report.sections import ReportContext, SuiteOutcome, TableView

MAX_EXAMPLES = 25


def clip(value: Any, limit: int = 300) -> str:
    s = " ".join(str(value or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def rate(value: Any, lo: Any, hi: Any) -> str:
    """'12.5% [4.4–29.0%]', or the rate alone without an interval, or a dash."""
    v, low, high = num(value), num(lo), num(hi)
    if v is None:
        return DASH
    if low is None or high is None:
        return pct(v)
    return f"{pct(v)} [{low * 100:.1f}–{high * 100:.1f}%]"


def status_of(f: Finding | None) -> str:
    return f.status.value if f is not None else "not judged"


def limit_of(f: Finding | None) -> str:
    if f is None or num(f.threshold) is None:
        return DASH
    sign = "≥" if f.greater_is_better else "≤"
    return f"{sign} {fmt_limit(f.threshold)}"


def bad(f: Finding | None) -> str:
    """The row mark of a failed or uncomputable finding."""
    return "bad" if f is not None and f.status in (Status.FAIL, Status.ERROR) else ""


def summary_table(s: SuiteOutcome, findings: dict[str, Finding], labels: dict[str, str], title: str,
                  intro: str) -> TableView | None:
    """Each headline rate of the suite (the keys of `labels`, in order), with its interval, its limit at
    the tool's tier and the verdict; None when the suite measured none of them."""
    body, marks = [], []
    by_key = {m.key: m for m in s.measurements}
    for key, label in labels.items():
        m = by_key.get(key)
        if m is None:
            continue
        f = findings.get(key)
        value = count(m.value) if key.endswith("_count") else rate(m.value, m.ci_low, m.ci_high)
        base = "" if m.n is None else f"{m.n:,}"
        body.append([label, value, base, limit_of(f), status_of(f)])
        marks.append(bad(f))
    if not body:
        return None
    return TableView(key=f"{s.suite}#summary", kind="generative", title=title,
                     columns=["What was measured", "Rate [95% interval]", "Answers", "Limit", "Result"],
                     rows=body, marks=marks, status_col=4, intro=intro)


def rows_table(key: str, rows: list[dict[str, Any]], title: str, columns: list[tuple[str, str]], intro: str,
               *, empty: str) -> TableView:
    """Example rows (id, question, answer...) as recorded by the check, first `MAX_EXAMPLES` of them."""
    body = [[clip(r.get(name)) if r.get(name) not in (None, "") else DASH for name, _ in columns]
            for r in rows[:MAX_EXAMPLES]]
    note = (f"Showing {MAX_EXAMPLES} of {len(rows):,}; assessment.json has them all." if len(rows) > MAX_EXAMPLES
            else "" if rows else empty)
    return TableView(key=key, kind="generative", title=title, columns=[label for _, label in columns], rows=body,
                     intro=intro, note=note, collapsed=len(rows) > 8,
                     summary=f"Show {min(len(rows), MAX_EXAMPLES)} example{'s' if len(rows) != 1 else ''}")


def recorded_table(key: str, view: ReportContext, title: str, intro: str, *, empty: str) -> TableView | None:
    """A table of examples whose columns are whatever the check recorded (headed by the field names), claimed
    from `view`; None when the check recorded no such table."""
    tables = view.tables
    if not isinstance(tables.get(key), list):
        return None
    view.claim(key)
    rows = [r for r in tables[key] if isinstance(r, dict)]
    cols = [(c, c[:1].upper() + c[1:].replace("_", " ")) for c in (rows[0].keys() if rows else ["id"])]
    return rows_table(key, rows, title, cols, intro, empty=empty)


def errors_table(s: SuiteOutcome) -> TableView | None:
    """The items the tool gave no answer to, from the suite's `tool_errors` ERROR finding (None: none)."""
    f = next((f for f in s.findings if f.check == "tool_errors" and f.status is Status.ERROR), None)
    if f is None:
        return None
    first = f.details.get("first") if isinstance(f.details, dict) else None
    rows = [r for r in first or [] if isinstance(r, dict)]
    return TableView(key=f"{s.suite}.tool_errors", kind="generative", title="Items the tool failed to answer",
                     columns=["Item", "What went wrong"],
                     rows=[[text(r.get("id")), clip(r.get("error"))] for r in rows],
                     marks=["bad"] * len(rows), intro=f.message)
