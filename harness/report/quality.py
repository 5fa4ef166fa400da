"""Report sections of the data-quality and degradation suites, in the shared view model of `markdown`.

`suite_sections` claims the tables it knows (`data_quality.expectations`, `data_quality.pii`,
`degradation.robustness`, `.robustness.calls`, `.drift`, `.graceful_failure`, `.regression`) and turns
them into sections; anything else, or a known table of an unexpected shape, is left for the generic
rendering. The PII table is built from its column, kind and count fields only: whatever else a row
holds is never shown. Plots are drawn in HTML from each table's `raw` and `meta` (see `html._draw`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.findings import Finding, Status
from harness.report.markdown import (
    DASH,
    STATUS_ORDER,
    SectionView,
    TableView,
    _count,
    _dicts,
    _str,
    fmt_limit,
    fmt_p,
    fmt_value,
    num,
    pct,
    value_with_ci,
)

if TYPE_CHECKING:
    from harness.verdict import SuiteResult

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
PERTURBATIONS = {"noise": "measurement noise on numeric inputs", "categorical": "redrawn categorical values",
                 "missing": "missing input values"}
PERTURBATION_SHORT = {"noise": "Noise", "categorical": "Redrawn categories", "missing": "Missing values"}
CASES = {"normal": "ordinary batches", "nulls": "missing values", "out_of_range": "out-of-range numbers",
         "unseen_categories": "unseen categories", "wrong_types": "wrong types", "empty": "empty batch",
         "large_batch": "very large batch"}
FAILED_OUTCOMES = ("crash", "hang", "invalid_output")
NOT_RUN = "not run"


# ---------------------------------------------------------------------------------------------- helpers

def _rank(status: Any) -> int:
    order = [s.value for s in STATUS_ORDER]
    return order.index(str(status)) if str(status) in order else len(order)


def _percent_points(x: Any) -> str:
    """A share already in percent (GX's unexpected_percent): '0.0%', '2.5%', '0.012%'."""
    v = num(x)
    if v is None:
        return DASH
    return f"{v:.2g}%" if 0 < abs(v) < 0.1 else f"{v:.1f}%"


def _seconds(x: Any) -> str:
    v = num(x)
    if v is None:
        return DASH
    return f"{v:.3f} s" if v < 10 else f"{v:.1f} s"


def _one_line(text: Any, limit: int = 400) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _doc_setting(doc: dict[str, Any], suite: str, name: str) -> Any:
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    mine = settings.get(suite) if isinstance(settings.get(suite), dict) else {}
    return mine.get(name)


def _policy_limit(doc: dict[str, Any], key: str, tier: str | None) -> float | None:
    t = (doc.get("thresholds") or {}).get(key) if isinstance(doc.get("thresholds"), dict) else None
    if not isinstance(t, dict):
        return None
    by_tier = t.get("by_tier") if isinstance(t.get("by_tier"), dict) else {}
    return num(by_tier.get(tier, t.get("limit")))


def _finding_limit(findings: dict[str, Finding], key: str) -> float | None:
    f = findings.get(key)
    return None if f is None else num(f.threshold)


def _skipped_note(s: SuiteResult, check: str) -> str:
    """The reason a check of the suite did not measure anything (its SKIPPED or INSUFFICIENT findings)."""
    msgs = [f.message for f in s.findings if f.check == check and f.status in (Status.SKIPPED, Status.INSUFFICIENT)]
    return " ".join(_one_line(m) + ("" if str(m).rstrip().endswith(".") else ".") for m in dict.fromkeys(msgs))


def _note_table(key: str, title: str, text: str) -> TableView:
    return TableView(key=key, kind="note", title=title, columns=[], intro=text[:1].upper() + text[1:])


def _error_text(error: Any, message: Any, limit: int = 400) -> str:
    """'ValueError: Input X contains NaN ...' (either part may be missing)."""
    err, msg = _str(error, ""), _one_line(message, limit)
    return f"{err}: {msg}" if err and msg else err or msg


def _signed(v: float, digits: int, scale: float = 1.0) -> str:
    """A signed number that does not print '-0.0' for a value that rounds to zero."""
    text = f"{v * scale:+.{digits}f}"
    return f"{0:.{digits}f}" if float(text) == 0 else text


# ---------------------------------------------------------------------------------------------- data quality

def expectations_summary(rows: list[dict[str, Any]]) -> str:
    """'21 expectations, 3 failed' (with any errors and skips named)."""
    n = len(rows)
    failed = sum(1 for r in rows
                 if r.get("status") == "FAIL" or (r.get("status") is None and r.get("success") is False))
    errors = sum(1 for r in rows if r.get("status") == "ERROR")
    skipped = sum(1 for r in rows if r.get("status") == "SKIPPED")
    text = f"{n} expectation{'s' if n != 1 else ''}, {failed} failed"
    if errors:
        text += f", {errors} could not be evaluated"
    if skipped:
        text += f", {skipped} skipped"
    return text


def _expectations_table(key: str, rows: list[dict[str, Any]]) -> TableView:
    def status(r: dict[str, Any]) -> str:
        st = r.get("status")
        if st:
            return str(st)
        return {True: "PASS", False: "FAIL"}.get(r.get("success"), NOT_RUN)

    ordered = sorted(rows, key=lambda r: _rank(status(r)))  # failed first, otherwise in the suite's order
    body, marks, subs = [], [], []
    for r in ordered:
        kind = str(r.get("kind") or "")
        st = status(r)
        count = num(r.get("unexpected_count"))
        subs.append(_str(r.get("expectation"), ""))
        body.append([EXPECTATION_LABELS.get(kind, kind.replace("_", " ").capitalize() or DASH),
                     _str(r.get("column")).replace("_x_", " × ") if r.get("column") else "table",
                     st, _str(r.get("severity")),
                     DASH if count is None else f"{int(count):,}", _percent_points(r.get("unexpected_percent")),
                     fmt_value(r.get("observed_value")) if num(r.get("observed_value")) is not None
                     else _str(r.get("observed_value")),
                     _str(r.get("sample"))])
        marks.append("bad" if st in ("FAIL", "ERROR") else "")
    summary = expectations_summary(rows)
    return TableView(
        key=key, kind="expectations", title="Expectations (Great Expectations)",
        columns=["Expectation", "Column", "Result", "Severity", "Unexpected rows", "Unexpected %", "Observed",
                 "Sampled unexpected values (count in the column)"],
        rows=body, marks=marks, subs=subs, status_col=2, raw=rows, meta={"summary": summary},
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
        body.append([_str(r.get("column")), PII_LABELS.get(kind, kind.replace("_", " ")), _count(r.get("count")),
                     _count(r.get("scanned"))])
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


def _outputs_table(s: SuiteResult) -> TableView | None:
    found = [f for f in s.findings if f.check == "outputs"]
    if not found:
        return None
    ordered = sorted(found, key=lambda f: _rank(f.status.value))
    body = [[OUTPUT_LABELS.get(f.metric, f.metric.replace("_", " ").capitalize()), f.status.value,
             _one_line(f.message) or DASH] for f in ordered]
    return TableView(
        key=f"{s.suite}.outputs#findings", kind="outputs", title="The tool's outputs", columns=["Check", "Result",
                                                                                                "What was found"],
        rows=body, status_col=1, marks=["bad" if f.status in (Status.FAIL, Status.ERROR) else "" for f in ordered],
        intro=("The tool's outputs are a contract every other check relies on (policy 4.2): one answer per row, labels "
               "from the label space, scores in [0, 1], nothing missing, and the same output for the same input."))


def _data_quality_sections(s: SuiteResult, si: int, tables: dict[str, Any], used: set[str]) -> list[SectionView]:
    p = f"{s.suite}."
    out: list[SectionView] = []
    key = f"{p}expectations"
    if _dicts(tables.get(key), "kind", "status") or _dicts(tables.get(key), "expectation", "success"):
        used.add(key)
        out.append(SectionView("Expectations", f"s{si}-dq-exp", [_expectations_table(key, tables[key])]))
    key = f"{p}pii"
    if _dicts(tables.get(key), "column", "kind", "count"):
        used.add(key)
        out.append(SectionView("Personal data", f"s{si}-dq-pii", [_pii_table(key, tables[key])]))
    if (outputs := _outputs_table(s)) is not None:
        out.append(SectionView("Tool outputs", f"s{si}-dq-out", [outputs]))
    return out


# ---------------------------------------------------------------------------------------------- degradation

def severity_order(rows: list[dict[str, Any]], doc: dict[str, Any]) -> list[str]:
    """Severities by level (the policy's when it names them), then any others as they appear."""
    levels = _doc_setting(doc, "degradation", "severities")
    named = list(levels) if isinstance(levels, dict) else []
    seen: dict[str, float] = {}
    for r in rows:
        sev = str(r.get("severity"))
        if sev not in seen:
            lv = num(r.get("level"))
            seen[sev] = lv if lv is not None else float("inf")
    ordered = [sv for sv in named if sv in seen] or sorted(seen, key=lambda sv: seen[sv])
    return ordered + [sv for sv in seen if sv not in ordered]


def _kind_title(kind: str) -> str:
    return PERTURBATIONS.get(kind, kind.replace("_", " "))


def _short(kind: str) -> str:
    return PERTURBATION_SHORT.get(kind, kind.replace("_", " ").capitalize())


def _robustness_tables(s: SuiteResult, tables: dict[str, Any], used: set[str], findings: dict[str, Finding],
                       doc: dict[str, Any], tier: str | None, conf: str) -> list[TableView]:
    p = f"{s.suite}."
    key, calls_key = f"{p}robustness", f"{p}robustness.calls"
    rows = tables.get(key)
    if not _dicts(rows, "kind", "severity", "grouping", "group", "flip_rate"):
        return []
    used.add(key)
    calls = tables.get(calls_key) if _dicts(tables.get(calls_key), "kind", "severity", "outcome") else []
    if calls:
        used.add(calls_key)
    sevs = severity_order(rows + calls, doc)
    judged = _doc_setting(doc, "degradation", "judged_severity")
    judged = str(judged) if judged is not None and str(judged) in sevs else None
    kinds = list(dict.fromkeys([*(str(r["kind"]) for r in rows), *(str(c["kind"]) for c in calls)]))
    levels: dict[str, Any] = {}
    for r in [*rows, *calls]:
        levels.setdefault(str(r.get("severity")), r.get("level"))

    def sev_label(sv: str) -> str:
        lv = num(levels.get(sv))
        return sv + (f" ({lv:g})" if lv is not None else "")

    out: list[TableView] = []
    # the whole-data figures of every perturbation, with the tool calls that gave (or refused) them
    overall = {(str(r["kind"]), str(r["severity"])): r for r in rows if r.get("grouping") == "all"}
    call_of = {(str(c["kind"]), str(c["severity"])): c for c in calls}
    body, marks = [], []
    for kind in kinds:
        for sv in sevs:
            r, c = overall.get((kind, sv)), call_of.get((kind, sv))
            if r is None and c is None:
                continue
            outcome = _str(c.get("outcome")) if c else "result"
            if r is None:
                err = _error_text(c.get("error"), c.get("message"), 120) if c else ""
                took = _seconds(c.get("seconds")) if c and num(c.get("seconds")) is not None else ""
                body.append([_short(kind), sev_label(sv) + (" · judged" if sv == judged else ""), outcome,
                             DASH, DASH, DASH, DASH, " · ".join(x for x in (took, err) if x) or DASH])
                marks.append("bad" if outcome in FAILED_OUTCOMES else "")
                continue
            before, after = num(r.get("accuracy_before")), num(r.get("accuracy_after"))
            acc = f"{pct(before)} → {pct(after)}" if before is not None and after is not None else DASH
            flip = _pct_ci(r, "flip_rate")
            drop = _points_ci(r, "accuracy_drop")
            auc_drop = num(r.get("auc_drop"))
            auc = DASH if auc_drop is None else _signed(auc_drop, 3).removeprefix("+")
            body.append([_short(kind), sev_label(sv) + (" · judged" if sv == judged else ""), outcome, flip, acc,
                         drop, auc, _seconds(c.get("seconds")) if c else DASH])
            marks.append("")
    limits = {m: _policy_limit(doc, f"degradation.robustness.{m}", tier) for m in ("flip_rate", "accuracy_drop")}
    for m in limits:
        found = [t for kind in kinds if (t := _finding_limit(findings, f"{p}robustness.{m}.{kind}")) is not None]
        if found:
            limits[m] = found[0]
    allow = []
    if limits["flip_rate"] is not None:
        allow.append(f"at most {pct(limits['flip_rate'])} of decisions may change")
    if limits["accuracy_drop"] is not None:
        allow.append(f"accuracy may drop at most {limits['accuracy_drop'] * 100:.1f} points")
    judged_text = (f" At the judged severity ({judged}) the policy says {' and '.join(allow)}, overall; the gap "
                   "between groups is judged too (see the findings)." if judged and allow else "")
    not_run = [_one_line(f.message) for f in s.findings
               if f.check == "robustness" and f.status is Status.SKIPPED and "refused" not in f.message]
    out.append(TableView(
        key=f"{key}#overall", kind="robustness_overall", title="Every perturbation, on the whole reference data",
        note=" ".join(f"Not run: {m}{'' if m.endswith('.') else '.'}" for m in dict.fromkeys(not_run)),
        columns=["Perturbation", "Severity (level)", "Tool call", f"Decisions changed [{conf} CI]",
                 "Accuracy before → after", f"Accuracy drop, points [{conf} CI]", "AUC drop", "Call time / error"],
        rows=body, marks=marks, status_col=2,
        intro=("Each perturbation is applied to a copy of the reference data at each severity and the tool is called "
               "once per copy; 'decisions changed' counts rows whose decision flipped, the accuracy drop compares the "
               f"same rows before and after.{judged_text} A severity the tool refused (a clear error) has no figures, "
               "and higher severities of that perturbation are not tried."),
    ))
    for kind in kinds:
        mine = [r for r in rows if str(r["kind"]) == kind]
        if not mine:
            continue
        groups: list[tuple[str, str]] = list(dict.fromkeys((str(r.get("grouping")), str(r.get("group"))) for r in mine))
        groups.sort(key=lambda g: g[0] != "all")  # everyone first, then the groupings as the suite ordered them
        by = {(str(r.get("grouping")), str(r.get("group")), str(r.get("severity"))): r for r in mine}
        present = [sv for sv in sevs if any(str(r.get("severity")) == sv for r in mine)]
        grows = []
        for g in groups:
            first = next(by[(*g, sv)] for sv in present if (*g, sv) in by)
            label = "everyone" if g[0] == "all" else f"{g[1]} ({g[0].replace('_x_', ' × ')})"
            if first.get("insufficient"):
                label += " · too few rows"
            cells = [label, _count(first.get("n"))]
            cells += [pct(by[(*g, sv)].get("flip_rate")) if (*g, sv) in by else DASH for sv in present]
            cells += [_points(by[(*g, sv)].get("accuracy_drop")) if (*g, sv) in by else DASH for sv in present]
            grows.append(cells)
        meta = {"severities": present, "labels": [sev_label(sv) for sv in present], "judged": judged,
                "kind": kind,
                "limits": {m: _first(_finding_limit(findings, f"{p}robustness.{m}.{kind}"), limits[m]) for m in limits}}
        out.append(TableView(
            key=f"{key}#{kind}", kind="robustness", title=f"Robustness to {_kind_title(kind)}, by group",
            columns=["Group", "n", *(f"Changed: {sev_label(sv)}" for sv in present),
                     *(f"Accuracy drop: {sev_label(sv)}" for sv in present)],
            rows=grows, raw=mine, meta=meta, collapsed=True, plot_first=True,
            summary="Show the numbers behind the curves",
            intro=(f"How each group's decisions and accuracy react to {_kind_title(kind)} as the severity grows: one "
                   "line per group of each protected attribute, and everyone. A group whose line climbs faster is "
                   "treated worse by the same disturbance. Accuracy drops are in percentage points (negative: the "
                   "group's accuracy rose)."),
        ))
    return out


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _pct_ci(r: dict[str, Any], m: str) -> str:
    v, lo, hi = num(r.get(m)), num(r.get(f"{m}_low")), num(r.get(f"{m}_high"))
    if v is None:
        return DASH
    return pct(v) + (f" [{lo * 100:.1f}–{hi * 100:.1f}%]" if lo is not None and hi is not None else "")


def _points(x: Any) -> str:
    v = num(x)
    return DASH if v is None else _signed(v, 1, 100)


def _points_ci(r: dict[str, Any], m: str) -> str:
    v, lo, hi = num(r.get(m)), num(r.get(f"{m}_low")), num(r.get(f"{m}_high"))
    if v is None:
        return DASH
    return _points(v) + (f" [{_points(lo)} to {_points(hi)}]" if lo is not None and hi is not None else "")


def drift_limits(s: SuiteResult, doc: dict[str, Any], tier: str | None) -> tuple[float, float, float | None]:
    """(moderate, significant, policy limit) PSI lines: the suite's settings, its findings, the policy."""
    moderate = num(_doc_setting(doc, "degradation", "psi_moderate"))
    limit = next((t for f in s.findings if f.check == "drift" and f.metric == "psi"
                  and (t := num(f.threshold)) is not None), None)
    if limit is None:
        limit = _policy_limit(doc, "degradation.drift.psi", tier)
    return (moderate if moderate is not None else 0.1), (limit if limit is not None else 0.2), limit


def _drift_table(s: SuiteResult, key: str, rows: list[dict[str, Any]], doc: dict[str, Any], tier: str | None,
                 conf: str) -> TableView:
    ordered = sorted(rows, key=lambda r: -(num(r.get("psi")) if num(r.get("psi")) is not None else -1.0))
    moderate, significant, limit = drift_limits(s, doc, tier)
    body, marks = [], []
    for r in ordered:
        band = _str(r.get("band"))
        p = r.get("p_adjusted") if num(r.get("p_adjusted")) is not None else r.get("p_value")
        cur_n, miss = num(r.get("current_n")), num(r.get("current_missing_share"))
        body.append([_str(r.get("feature"), "?"), _str(r.get("kind")),
                     value_with_ci(r.get("psi"), r.get("psi_low"), r.get("psi_high")), band, _str(r.get("test")),
                     fmt_value(r.get("statistic")) if num(r.get("statistic")) is not None else DASH, fmt_p(p),
                     _str(r.get("most_changed")).replace(" -> ", " → "),
                     DASH if cur_n is None else f"{int(cur_n):,}" + (f" ({pct(miss)} missing)" if miss else ""),
                     fmt_p(r.get("psi_p_value")) if num(r.get("psi_p_value")) is not None else DASH])
        marks.append("bad" if band == "significant" else "")
    n_ref = next((int(v) for r in rows if (v := num(r.get("reference_n"))) is not None), None)
    lim = f"; the policy's limit is {fmt_limit(limit)}" if limit is not None else ""
    return TableView(
        key=key, kind="drift", title="Drift between the reference data and the current sample",
        columns=["Feature", "Kind", f"PSI [{conf} CI]", "Band", "Test", "Statistic", "p (Holm)",
                 "Largest change (bin: reference → current)", "Current rows", "p (PSI over the limit)"],
        rows=body, marks=marks, status_col=3, raw=ordered, plot_first=True,
        meta={"moderate": moderate, "significant": significant, "limit": limit},
        intro=("How far each input, and the tool's score, moved between the reference data"
               + (f" ({n_ref:,} rows)" if n_ref else "") + " and the current production sample, largest first. "
               f"The population stability index (PSI) is stable under {fmt_limit(moderate)}, a moderate shift up to "
               f"{fmt_limit(significant)} and a significant one above{lim}. The tests (Kolmogorov-Smirnov for numbers, "
               "chi-square for categories, Holm-adjusted) say whether a shift could be chance; on many rows a trivial "
               "shift is significant, so PSI, which measures its size, is what is judged. PSI is biased upward on "
               "small samples, so the last column tests it against its own small-sample distribution: a PSI over the "
               "limit counts as a real shift only when that p-value is small."),
    )


def _graceful_table(s: SuiteResult, key: str, rows: list[dict[str, Any]]) -> TableView:
    body, marks = [], []
    for r in rows:
        outcome = _str(r.get("outcome"))
        failed = r.get("failed")
        err = _error_text(r.get("error"), r.get("message"))
        case = str(r.get("case"))
        body.append([CASES.get(case, case.replace("_", " ")) + (f" ({case})" if case in CASES else ""),
                     _str(r.get("input")), outcome,
                     "no" if failed is True else "yes" if failed is False else DASH,
                     err or DASH, _seconds(r.get("seconds"))])
        marks.append("bad" if failed is True else "")
    m = {x.metric: x for x in s.measurements if x.check == "graceful_failure"}
    notes = []
    p50, p95 = m.get("latency_p50_s"), m.get("latency_p95_s")
    if p50 is not None and p95 is not None and num(p50.value) is not None and num(p95.value) is not None:
        d = p95.details if isinstance(p95.details, dict) else {}
        calls, batch = d.get("calls"), d.get("batch_rows")
        on = f" on {calls} ordinary batches of {batch} rows" if calls and batch else ""
        notes.append(f"Latency per call{on}: p50 {_seconds(p50.value)}, p95 {_seconds(p95.value)}.")
    big = m.get("large_batch_s")
    if big is not None and num(big.value) is not None:
        rate = num((big.details or {}).get("rows_per_s")) if isinstance(big.details, dict) else None
        notes.append(f"The large batch of {_count(big.n)} rows took {_seconds(big.value)}"
                     + (f" ({rate:,.0f} rows per second)." if rate else "."))
    n_bad = sum(1 for mk in marks if mk)
    return TableView(
        key=key, kind="graceful", title="Malformed inputs: result, clear error, crash or hang",
        columns=["Case", "Input", "Outcome", "Graceful", "Error", "Time"], rows=body, marks=marks, status_col=2,
        raw=rows, meta={"latency": notes},
        note=" ".join(notes),
        intro=("Each case is one call on a small batch of real reference rows with one kind of damage. A result or a "
               "clear error (a typed error that says what was wrong) is graceful; a crash, an unusable output or a "
               "hang is not (policy, Safety: 'degrading gracefully, at worst'). "
               + (f"{n_bad} case{'s' if n_bad != 1 else ''} did not degrade gracefully." if n_bad
                  else "Every case degraded gracefully.")),
    )


def _regression_table(key: str, rows: list[dict[str, Any]]) -> TableView:
    ordered = sorted(rows, key=lambda r: _rank(r.get("status")))
    body = []
    for r in ordered:
        change = num(r.get("change"))
        body.append([_str(r.get("metric"), "?"), fmt_value(r.get("baseline")), fmt_value(r.get("current")),
                     DASH if change is None else f"{change:+.4g}", fmt_value(r.get("tolerance")),
                     _str(r.get("status")), _str(r.get("rule"))])
    n_fail = sum(1 for r in rows if r.get("status") == "FAIL")
    return TableView(
        key=key, kind="regression", title="Against the last approved assessment of this version",
        columns=["Metric", "Approved baseline", "This run", "Change", "Tolerance", "Result", "Rule"],
        rows=body, status_col=5, marks=["bad" if r.get("status") == "FAIL" else "" for r in ordered],
        intro=(f"{len(rows)} metric{'s' if len(rows) != 1 else ''} compared, {n_fail} regressed. A metric regresses "
               "when it moved in its worse direction by at least the rule's tolerance (policy 4.3: regular "
               "re-assessment); a metric the baseline had and this run lacks cannot be judged."))


def _degradation_sections(s: SuiteResult, si: int, tables: dict[str, Any], used: set[str],
                          findings: dict[str, Finding], doc: dict[str, Any], tier: str | None,
                          conf: str) -> list[SectionView]:
    p = f"{s.suite}."
    out: list[SectionView] = []
    robust = _robustness_tables(s, tables, used, findings, doc, tier, conf)
    if not robust and (why := _skipped_note(s, "robustness")):
        robust = [_note_table(f"{p}robustness#skipped", "Not measured", why)]
    if robust:
        out.append(SectionView("Robustness", f"s{si}-dg-rob", robust))
    key = f"{p}drift"
    if _dicts(tables.get(key), "feature", "psi"):
        used.add(key)
        out.append(SectionView("Drift", f"s{si}-dg-drift", [_drift_table(s, key, tables[key], doc, tier, conf)]))
    elif why := _skipped_note(s, "drift"):
        out.append(SectionView("Drift", f"s{si}-dg-drift", [_note_table(f"{key}#skipped", "Not measured", why)]))
    key = f"{p}graceful_failure"
    if _dicts(tables.get(key), "case", "outcome"):
        used.add(key)
        out.append(SectionView("Graceful failure", f"s{si}-dg-graceful", [_graceful_table(s, key, tables[key])]))
    elif why := _skipped_note(s, "graceful_failure"):
        out.append(SectionView("Graceful failure", f"s{si}-dg-graceful",
                               [_note_table(f"{key}#skipped", "Not measured", why)]))
    key = f"{p}regression"
    if _dicts(tables.get(key), "metric", "status"):
        used.add(key)
        out.append(SectionView("Regression", f"s{si}-dg-regression", [_regression_table(key, tables[key])]))
    elif why := _skipped_note(s, "regression"):
        out.append(SectionView("Regression", f"s{si}-dg-regression",
                               [_note_table(f"{key}#skipped", "Not compared", why)]))
    return out


def suite_sections(s: SuiteResult, si: int, tables: dict[str, Any], used: set[str], findings: dict[str, Finding],
                   doc: dict[str, Any], tier: str | None, conf: str) -> list[SectionView]:
    """The sections of the data-quality or degradation suite (an empty list for any other suite); the
    tables used are added to `used`."""
    if s.suite == "data_quality":
        return _data_quality_sections(s, si, tables, used)
    if s.suite == "degradation":
        return _degradation_sections(s, si, tables, used, findings, doc, tier, conf)
    return []
