"""The degradation suite's report sections (`DegradationSuite.report_sections`): robustness curves by group,
drift between the reference data and a current sample, graceful failure on malformed inputs, and the
comparison with the last approved assessment.

Each section claims the tables it knows (`degradation.robustness`, `.robustness.calls`, `.drift`,
`.graceful_failure`, `.regression`); anything else, or a known table of an unexpected shape, is left for the
generic rendering. Plots are drawn in HTML from each table's `raw` and `meta` (see `harness.report.html`).
"""
from __future__ import annotations

from typing import Any

from harness.findings import Finding, Status
from harness.report.formatting import (
    DASH,
    count,
    dicts,
    fmt_limit,
    fmt_p,
    fmt_value,
    num,
    one_line,
    pct,
    seconds,
    status_rank,
    text,
    value_with_ci,
)
from harness.report.sections import ReportContext, Section, SuiteOutcome, TableView

PERTURBATIONS = {"noise": "measurement noise on numeric inputs", "categorical": "redrawn categorical values",
                 "missing": "missing input values"}
PERTURBATION_SHORT = {"noise": "Noise", "categorical": "Redrawn categories", "missing": "Missing values"}
CASES = {"normal": "ordinary batches", "nulls": "missing values", "out_of_range": "out-of-range numbers",
         "unseen_categories": "unseen categories", "wrong_types": "wrong types", "empty": "empty batch",
         "large_batch": "very large batch"}
FAILED_OUTCOMES = ("crash", "hang", "invalid_output")
SUITE = "degradation"
ROBUSTNESS_GUIDE = (
    "Robustness curves show, for each kind of input damage (noise, redrawn categories, missing values), how "
    "the share of decisions that change and the accuracy drop grow with the severity of the damage: one line "
    "per group and a thick line for everyone, whiskers for the interval, the judged severity shaded and the "
    "policy's limit dashed. Lines that fan out mean the same damage hurts some groups more.")
DRIFT_GUIDE = (
    "Drift compares the reference data with a current sample of production inputs. The population stability "
    "index (PSI) sums, over bins of a feature, how much each bin's share changed, weighted by the log of the "
    "ratio: under 0.1 is stable, 0.1 to 0.2 a moderate shift, above 0.2 a significant one (the dashed lines).")


# ---------------------------------------------------------------------------------------------- helpers

def _finding_limit(findings: dict[str, Finding], key: str) -> float | None:
    f = findings.get(key)
    return None if f is None else num(f.threshold)


def _skipped_note(s: SuiteOutcome, check: str) -> str:
    """The reason a check of the suite did not measure anything (its SKIPPED or INSUFFICIENT findings)."""
    msgs = [f.message for f in s.findings if f.check == check and f.status in (Status.SKIPPED, Status.INSUFFICIENT)]
    return " ".join(one_line(m) + ("" if str(m).rstrip().endswith(".") else ".") for m in dict.fromkeys(msgs))


def _note_table(key: str, title: str, why: str) -> TableView:
    return TableView(key=key, kind="note", title=title, columns=[], intro=why[:1].upper() + why[1:])


def _error_text(error: Any, message: Any, limit: int = 400) -> str:
    """'ValueError: Input X contains NaN ...' (either part may be missing)."""
    err, msg = text(error, ""), one_line(message, limit)
    return f"{err}: {msg}" if err and msg else err or msg


def _signed(v: float, digits: int, scale: float = 1.0) -> str:
    """A signed number that does not print '-0.0' for a value that rounds to zero."""
    shown = f"{v * scale:+.{digits}f}"
    return f"{0:.{digits}f}" if float(shown) == 0 else shown


# ---------------------------------------------------------------------------------------------- degradation

def severity_order(rows: list[dict[str, Any]], view: ReportContext) -> list[str]:
    """Severities by level (the policy's when it names them), then any others as they appear."""
    levels = view.setting(SUITE, "severities")
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


def _robustness_tables(s: SuiteOutcome, view: ReportContext) -> list[TableView]:
    tables, findings, conf = view.tables, view.findings, view.confidence
    p = f"{s.suite}."
    key, calls_key = f"{p}robustness", f"{p}robustness.calls"
    rows = tables.get(key)
    if not dicts(rows, "kind", "severity", "grouping", "group", "flip_rate"):
        return []
    view.claim(key)
    recorded = tables.get(calls_key)
    calls = recorded if dicts(recorded, "kind", "severity", "outcome") else []
    if calls:
        view.claim(calls_key)
    sevs = severity_order(rows + calls, view)
    judged = view.setting(SUITE, "judged_severity")
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
            row, c = overall.get((kind, sv)), call_of.get((kind, sv))
            if row is None and c is None:
                continue
            outcome = text(c.get("outcome")) if c else "result"
            if row is None:
                err = _error_text(c.get("error"), c.get("message"), 120) if c else ""
                took = seconds(c.get("seconds")) if c and num(c.get("seconds")) is not None else ""
                body.append([_short(kind), sev_label(sv) + (" · judged" if sv == judged else ""), outcome,
                             DASH, DASH, DASH, DASH, " · ".join(x for x in (took, err) if x) or DASH])
                marks.append("bad" if outcome in FAILED_OUTCOMES else "")
                continue
            before, after = num(row.get("accuracy_before")), num(row.get("accuracy_after"))
            acc = f"{pct(before)} → {pct(after)}" if before is not None and after is not None else DASH
            flip = _pct_ci(row, "flip_rate")
            drop = _points_ci(row, "accuracy_drop")
            auc_drop = num(row.get("auc_drop"))
            auc = DASH if auc_drop is None else _signed(auc_drop, 3).removeprefix("+")
            body.append([_short(kind), sev_label(sv) + (" · judged" if sv == judged else ""), outcome, flip, acc,
                         drop, auc, seconds(c.get("seconds")) if c else DASH])
            marks.append("")
    limits = {m: view.policy_limit(f"degradation.robustness.{m}") for m in ("flip_rate", "accuracy_drop")}
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
    not_run = [one_line(f.message) for f in s.findings
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
            cells = [label, count(first.get("n"))]
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


def drift_limits(s: SuiteOutcome, view: ReportContext) -> tuple[float, float, float | None]:
    """(moderate, significant, policy limit) PSI lines: the suite's settings, its findings, the policy."""
    moderate = num(view.setting(SUITE, "psi_moderate"))
    limit = next((t for f in s.findings if f.check == "drift" and f.metric == "psi"
                  and (t := num(f.threshold)) is not None), None)
    if limit is None:
        limit = view.policy_limit("degradation.drift.psi")
    return (moderate if moderate is not None else 0.1), (limit if limit is not None else 0.2), limit


def _drift_table(s: SuiteOutcome, key: str, rows: list[dict[str, Any]], view: ReportContext) -> TableView:
    conf = view.confidence
    ordered = sorted(rows, key=lambda r: -(v if (v := num(r.get("psi"))) is not None else -1.0))
    moderate, significant, limit = drift_limits(s, view)
    body, marks = [], []
    for r in ordered:
        band = text(r.get("band"))
        p = r.get("p_adjusted") if num(r.get("p_adjusted")) is not None else r.get("p_value")
        cur_n, miss = num(r.get("current_n")), num(r.get("current_missing_share"))
        body.append([text(r.get("feature"), "?"), text(r.get("kind")),
                     value_with_ci(r.get("psi"), r.get("psi_low"), r.get("psi_high")), band, text(r.get("test")),
                     fmt_value(r.get("statistic")) if num(r.get("statistic")) is not None else DASH, fmt_p(p),
                     text(r.get("most_changed")).replace(" -> ", " → "),
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


def _graceful_table(s: SuiteOutcome, key: str, rows: list[dict[str, Any]]) -> TableView:
    body, marks = [], []
    for r in rows:
        outcome = text(r.get("outcome"))
        failed = r.get("failed")
        err = _error_text(r.get("error"), r.get("message"))
        case = str(r.get("case"))
        body.append([CASES.get(case, case.replace("_", " ")) + (f" ({case})" if case in CASES else ""),
                     text(r.get("input")), outcome,
                     "no" if failed is True else "yes" if failed is False else DASH,
                     err or DASH, seconds(r.get("seconds"))])
        marks.append("bad" if failed is True else "")
    m = {x.metric: x for x in s.measurements if x.check == "graceful_failure"}
    notes = []
    p50, p95 = m.get("latency_p50_s"), m.get("latency_p95_s")
    if p50 is not None and p95 is not None and num(p50.value) is not None and num(p95.value) is not None:
        d = p95.details if isinstance(p95.details, dict) else {}
        calls, batch = d.get("calls"), d.get("batch_rows")
        on = f" on {calls} ordinary batches of {batch} rows" if calls and batch else ""
        notes.append(f"Latency per call{on}: p50 {seconds(p50.value)}, p95 {seconds(p95.value)}.")
    big = m.get("large_batch_s")
    if big is not None and num(big.value) is not None:
        rate = num((big.details or {}).get("rows_per_s")) if isinstance(big.details, dict) else None
        notes.append(f"The large batch of {count(big.n)} rows took {seconds(big.value)}"
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
    ordered = sorted(rows, key=lambda r: status_rank(r.get("status")))
    body = []
    for r in ordered:
        change = num(r.get("change"))
        body.append([text(r.get("metric"), "?"), fmt_value(r.get("baseline")), fmt_value(r.get("current")),
                     DASH if change is None else f"{change:+.4g}", fmt_value(r.get("tolerance")),
                     text(r.get("status")), text(r.get("rule"))])
    n_fail = sum(1 for r in rows if r.get("status") == "FAIL")
    return TableView(
        key=key, kind="regression", title="Against the last approved assessment of this version",
        columns=["Metric", "Approved baseline", "This run", "Change", "Tolerance", "Result", "Rule"],
        rows=body, status_col=5, marks=["bad" if r.get("status") == "FAIL" else "" for r in ordered],
        intro=(f"{len(rows)} metric{'s' if len(rows) != 1 else ''} compared, {n_fail} regressed. A metric regresses "
               "when it moved in its worse direction by at least the rule's tolerance (policy 4.3: regular "
               "re-assessment); a metric the baseline had and this run lacks cannot be judged."))


def report_sections(s: SuiteOutcome, view: ReportContext) -> list[Section]:
    """The robustness, drift, graceful-failure and regression sections, each with a note of why it was not
    measured when its check was skipped."""
    si, tables = view.index, view.tables
    p = f"{s.suite}."
    out: list[Section] = []
    robust = _robustness_tables(s, view)
    if not robust and (why := _skipped_note(s, "robustness")):
        robust = [_note_table(f"{p}robustness#skipped", "Not measured", why)]
    if robust:
        out.append(Section("Robustness", f"s{si}-dg-rob", robust))
    key = f"{p}drift"
    if dicts(tables.get(key), "feature", "psi"):
        view.claim(key)
        out.append(Section("Drift", f"s{si}-dg-drift", [_drift_table(s, key, tables[key], view)]))
    elif why := _skipped_note(s, "drift"):
        out.append(Section("Drift", f"s{si}-dg-drift", [_note_table(f"{key}#skipped", "Not measured", why)]))
    key = f"{p}graceful_failure"
    if dicts(tables.get(key), "case", "outcome"):
        view.claim(key)
        out.append(Section("Graceful failure", f"s{si}-dg-graceful", [_graceful_table(s, key, tables[key])]))
    elif why := _skipped_note(s, "graceful_failure"):
        out.append(Section("Graceful failure", f"s{si}-dg-graceful",
                               [_note_table(f"{key}#skipped", "Not measured", why)]))
    key = f"{p}regression"
    if dicts(tables.get(key), "metric", "status"):
        view.claim(key)
        out.append(Section("Regression", f"s{si}-dg-regression", [_regression_table(key, tables[key])]))
    elif why := _skipped_note(s, "regression"):
        out.append(Section("Regression", f"s{si}-dg-regression",
                               [_note_table(f"{key}#skipped", "Not compared", why)]))
    kinds = {t.kind for sec in out for t in sec.tables}
    if "robustness" in kinds:
        view.explain(ROBUSTNESS_GUIDE)
    if "drift" in kinds:
        view.explain(DRIFT_GUIDE)
    return out
