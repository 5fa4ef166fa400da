"""The data-quality suite's report sections (`DataQualitySuite.report_sections`): the Great Expectations
validation of the dataset card's declarations, the scan for undeclared personal data, and the checks of the
tool's outputs.

Each section claims the table it knows (`data_quality.expectations`, `data_quality.pii`); a known table of an
unexpected shape is left for the generic rendering. The PII table is built from its column, kind and count
fields only: whatever else a row holds is never shown.
"""
from __future__ import annotations

from typing import Any

from harness.findings import Status
from harness.report.formatting import DASH, count, dicts, fmt_value, num, one_line, status_rank, text
from harness.report.sections import ReportContext, Section, SuiteOutcome, TableView

EXPECTATION_LABELS = {
    "column_exists": "Column exists", "column_type": "Column type", "not_null": "No missing values",
    "unique": "Unique ids", "values_in_set": "Values in the declared set", "in_range": "Values in the declared range",
    "row_count": "Row count", "group_representation": "Protected groups represented",
    "prevalence": "Label prevalence", "duplicate_rows": "Duplicate rows",
}
PII_LABELS = {"ssn": "social security number", "email": "e-mail address", "phone": "phone number",
              "payment_card": "payment card number", "street_address": "street address"}
OUTPUT_LABELS = {"length": "One output per input row", "labels_in_set": "Labels in the label space",
                 "no_nan": "No missing outputs", "scores_in_range": "Scores in [0, 1]",
                 "schema_stable": "Stable output schema"}
NOT_RUN = "not run"


def _percent_points(x: Any) -> str:
    """A share already in percent (GX's unexpected_percent): '0.0%', '2.5%', '0.012%'."""
    v = num(x)
    if v is None:
        return DASH
    return f"{v:.2g}%" if 0 < abs(v) < 0.1 else f"{v:.1f}%"


def expectations_summary(rows: list[dict[str, Any]]) -> str:
    """'21 expectations, 3 failed' (with any errors and skips named)."""
    n = len(rows)
    failed = sum(1 for r in rows
                 if r.get("status") == "FAIL" or (r.get("status") is None and r.get("success") is False))
    errors = sum(1 for r in rows if r.get("status") == "ERROR")
    skipped = sum(1 for r in rows if r.get("status") == "SKIPPED")
    summary = f"{n} expectation{'s' if n != 1 else ''}, {failed} failed"
    if errors:
        summary += f", {errors} could not be evaluated"
    if skipped:
        summary += f", {skipped} skipped"
    return summary


def _expectations_table(key: str, rows: list[dict[str, Any]]) -> TableView:
    def status(r: dict[str, Any]) -> str:
        st = r.get("status")
        if st:
            return str(st)
        outcomes: dict[Any, str] = {True: "PASS", False: "FAIL"}
        return outcomes.get(r.get("success"), NOT_RUN)

    ordered = sorted(rows, key=lambda r: status_rank(status(r)))  # failed first, otherwise in the suite's order
    body, marks, subs = [], [], []
    for r in ordered:
        kind = str(r.get("kind") or "")
        st = status(r)
        subs.append(text(r.get("expectation"), ""))
        body.append([EXPECTATION_LABELS.get(kind, kind.replace("_", " ").capitalize() or DASH),
                     text(r.get("column")).replace("_x_", " × ") if r.get("column") else "table",
                     st, text(r.get("severity")),
                     count(r.get("unexpected_count")), _percent_points(r.get("unexpected_percent")),
                     fmt_value(r.get("observed_value")) if num(r.get("observed_value")) is not None
                     else text(r.get("observed_value")),
                     text(r.get("sample"))])
        marks.append("bad" if st in ("FAIL", "ERROR") else "")
    summary = expectations_summary(rows)
    return TableView(
        key=key, kind="expectations", title="Expectations (Great Expectations)",
        columns=["Expectation", "Column", "Result", "Severity", "Unexpected rows", "Unexpected %", "Observed",
                 "Sampled unexpected values (count in the column)"],
        rows=body, marks=marks, subs=subs, status_col=2, raw=rows, meta={"suite_summary": summary},
        intro=(f"{summary}. The dataset card's declarations (columns, types, key columns, value sets and ranges, row "
               "count, protected-group representation, label prevalence, duplicates), validated with Great "
               "Expectations in one run over the reference data; failed expectations first. Sampled values are the "
               "most frequent unexpected ones, never from a declared personal-data column; the full validation "
               "result is logged as an artifact."))


def _pii_table(key: str, rows: list[dict[str, Any]]) -> TableView:
    ordered = sorted(rows, key=lambda r: -(num(r.get("count")) or 0))  # found first, otherwise as scanned
    body, marks = [], []
    for r in ordered:  # column, kind and counts only: never anything else a row may hold
        kind = str(r.get("kind") or "")
        found = num(r.get("count")) or 0
        body.append([text(r.get("column")), PII_LABELS.get(kind, kind.replace("_", " ")), count(r.get("count")),
                     count(r.get("scanned"))])
        marks.append("bad" if found > 0 else "")
    hits = [r for r in rows if (num(r.get("count")) or 0) > 0]
    columns = list(dict.fromkeys(str(r.get("column")) for r in rows))
    if hits:
        lead = (f"{len(hits)} column–kind pair{'s hold' if len(hits) != 1 else ' holds'} values that look like "
                "undeclared personal data.")
    else:
        lead = f"No undeclared personal data found in {len(columns)} text column{'s' if len(columns) != 1 else ''}."
    return TableView(
        key=key, kind="pii", title="Undeclared personal data in text columns",
        columns=["Column", "Looks like", "Values found", "Values scanned"], rows=body, marks=marks,
        collapsed=not hits, plot_first=not hits,  # nothing found: the scan's rows one click away
        summary=f"Show the {len(rows)} column–kind pairs scanned",
        intro=(f"{lead} Columns the dataset card does not declare as personal data were scanned for social security "
               "numbers, e-mail addresses, phone numbers, payment card numbers and street addresses (policy 1.2). "
               "Only the column, the kind and the count are reported, never a value."))


def _outputs_table(s: SuiteOutcome) -> TableView | None:
    found = [f for f in s.findings if f.check == "outputs"]
    if not found:
        return None
    ordered = sorted(found, key=lambda f: status_rank(f.status.value))
    body = [[OUTPUT_LABELS.get(f.metric, f.metric.replace("_", " ").capitalize()), f.status.value,
             one_line(f.message) or DASH] for f in ordered]
    return TableView(
        key=f"{s.suite}.outputs#findings", kind="outputs", title="The tool's outputs", columns=["Check", "Result",
                                                                                                "What was found"],
        rows=body, status_col=1, marks=["bad" if f.status in (Status.FAIL, Status.ERROR) else "" for f in ordered],
        intro=("The tool's outputs are a contract every other check relies on (policy 4.2): one answer per row, labels "
               "from the label space, scores in [0, 1], nothing missing, and the same output for the same input."))


def report_sections(s: SuiteOutcome, view: ReportContext) -> list[Section]:
    """The expectations, personal-data and tool-output sections."""
    si, tables = view.index, view.tables
    p = f"{s.suite}."
    out: list[Section] = []
    key = f"{p}expectations"
    if dicts(tables.get(key), "kind", "status") or dicts(tables.get(key), "expectation", "success"):
        view.claim(key)
        out.append(Section("Expectations", f"s{si}-dq-exp", [_expectations_table(key, tables[key])]))
    key = f"{p}pii"
    if dicts(tables.get(key), "column", "kind", "count"):
        view.claim(key)
        out.append(Section("Personal data", f"s{si}-dq-pii", [_pii_table(key, tables[key])]))
    if (outputs := _outputs_table(s)) is not None:
        out.append(Section("Tool outputs", f"s{si}-dq-out", [outputs]))
    return out
