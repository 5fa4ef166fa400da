"""The Markdown report, and the report view both the Markdown and the HTML report render.

`build_view` turns an `AssessmentResult` into display strings once, so the two formats cannot
disagree on a number, an order or a sentence. It reads the result defensively (`.get`, None and NaN
shown as a dash): a report must render for every valid result, including an ERROR with no suites
and suites whose tables this module has never seen.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.findings import Finding, Severity, Status

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.verdict import SuiteResult

DASH = "—"
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
MAX_GENERIC_ROWS = 200

STATUS_ORDER: tuple[Status, ...] = (
    Status.FAIL, Status.ERROR, Status.REVIEW, Status.INSUFFICIENT, Status.PASS, Status.SKIPPED,
)
STATUS_HEADINGS = {
    "FAIL": "Failed", "ERROR": "Could not be computed", "REVIEW": "Needs a reviewer's judgement",
    "INSUFFICIENT": "Too little data to judge", "PASS": "Passed", "SKIPPED": "Skipped",
}
VERDICT_TITLES = {"PASS": "PASS", "NEEDS_REVIEW": "NEEDS REVIEW", "FAIL": "FAIL", "ERROR": "ERROR"}
VERDICT_MEANINGS = {
    "PASS": ("Every judged finding passed; a human reviewer must still sign off before the tool is approved "
             "(City AI Policy 4.1)."),
    "NEEDS_REVIEW": ("No blocking check failed, but some results are uncertain, too thin to judge or advisory "
                     "failures: a human reviewer must examine the findings below before any approval "
                     "(City AI Policy 2.3, 4.1)."),
    "FAIL": ("At least one blocking check failed: the tool may not be used unless it is remediated and "
             "assessed again (City AI Policy 4.2)."),
    "ERROR": ("The assessment could not complete, so nothing was judged and this run cannot support an "
              "approval; fix the problem below and assess again (City AI Policy 4.2)."),
}
DISCLOSURE_LABELS = {
    "model_type": "Model type",
    "training_data_source": "Training data source",
    "data_access_basis": "Legal basis for data access",
    "known_limitations": "Known limitations",
    "bias_mitigation": "Bias mitigation",
}
RATE_COLUMNS = (("tpr", "TPR"), ("fpr", "FPR"), ("fnr", "FNR"), ("precision", "Precision"),
                ("accuracy", "Accuracy"))
RATE_DEFINITIONS = (
    "Selection rate: share of the group the tool gives the favourable outcome.",
    "TPR (true-positive rate): share of qualified people the tool selects.",
    "FPR (false-positive rate): share of unqualified people the tool selects.",
    "FNR (false-negative rate): share of qualified people the tool misses.",
    "Precision: share of the people selected who were qualified. Accuracy: share of all decisions that were right.",
    "Adverse impact ratio: the group's selection rate divided by the reference group's.",
)


# ---------------------------------------------------------------------------------------------- numbers

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


# ---------------------------------------------------------------------------------------------- view

@dataclass(frozen=True)
class FindingView:
    status: str
    severity: str
    message: str
    key: str
    dataset: str
    value: str
    ci: str
    threshold: str
    section: str
    benchmark: str


@dataclass(frozen=True)
class FindingGroup:
    status: str
    heading: str
    findings: list[FindingView]


@dataclass(frozen=True)
class GroupRow:
    name: str
    reference: bool
    insufficient: bool
    cells: list[str]


@dataclass(frozen=True)
class TableView:
    """A table of a suite: `kind` "groups" (per-group rates, plotted) or "generic" (any list of dicts)."""

    key: str
    kind: str
    title: str
    columns: list[str]
    group_rows: list[GroupRow] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)
    grouping: str = ""
    note: str = ""


@dataclass(frozen=True)
class SuiteView:
    suite: str
    version: str
    dataset: str
    status: str  # PASS, FAIL, ..., SKIPPED, or NO FINDINGS (nothing was judged: never shown as a pass)
    summary: str
    skipped_reason: str | None
    tables: list[TableView]


@dataclass(frozen=True)
class ReportView:
    title: str
    subtitle: str
    verdict: str
    verdict_title: str
    verdict_meaning: str
    error: str
    reasons: list[str]
    glance: list[tuple[str, str | list[str]]]
    finding_groups: list[FindingGroup]
    n_findings: int
    suites: list[SuiteView]
    disclosure: list[tuple[str, str]]
    min_group_size: str
    confidence: str
    ratio_limit: float | None
    risk_tier: str
    citations: list[tuple[str, str]]
    footer: str


def _str(x: Any, default: str = DASH) -> str:
    return default if x is None or x == "" else str(x)


def ratio_limit(result: AssessmentResult) -> float | None:
    """The four-fifths limit the policy applies to this tool's risk tier (None when the policy sets none)."""
    doc = (result.policy or {}).get("document") or {}
    t = (doc.get("thresholds") or {}).get("bias.demographic_parity.ratio")
    if not isinstance(t, dict):
        return None
    tier = (result.tool or {}).get("risk_tier")
    by_tier = t.get("by_tier") or {}
    return num(by_tier.get(tier, t.get("limit")))


def _confidence(result: AssessmentResult) -> str:
    level = num(((result.policy or {}).get("document") or {}).get("confidence_level"))
    return f"{level:.0%}" if level is not None else "95%"


def _finding_view(f: Finding, conf: str) -> FindingView:
    lo, hi = num(f.ci_low), num(f.ci_high)
    ci = f"{conf} CI {fmt_value(lo)}–{fmt_value(hi)}" if lo is not None and hi is not None else "no interval"
    return FindingView(
        status=f.status.value, severity=f.severity.value,
        message=" ".join(str(f.message or "").split()) or "(the check gave no message)",
        key=f.key, dataset=_str(f.dataset, ""), value=f"value {fmt_value(f.value)}", ci=ci,
        threshold=threshold_text(f), section=section_text(f.policy_section),
        benchmark=_str(f.benchmark, ""),
    )


def _finding_groups(findings: list[Finding], conf: str) -> list[FindingGroup]:
    """By status (worst first), blocking before advisory, otherwise in the order the suites ran."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    ordered = sorted(findings, key=lambda f: (rank.get(f.status, len(rank)), f.severity is not Severity.BLOCKING))
    groups: list[FindingGroup] = []
    for f in ordered:
        if not groups or groups[-1].status != f.status.value:
            groups.append(FindingGroup(f.status.value, STATUS_HEADINGS.get(f.status.value, f.status.value), []))
        groups[-1].findings.append(_finding_view(f, conf))
    return groups


def _is_group_table(rows: Any) -> bool:
    return (isinstance(rows, list) and bool(rows)
            and all(isinstance(r, dict) and "group" in r and "selection_rate" in r for r in rows))


def _group_table(suite: str, key: str, rows: list[dict[str, Any]], conf: str) -> TableView:
    prefix = f"{suite}.group_rates."
    grouping = key[len(prefix):] if key.startswith(prefix) else key
    ref = next((str(r.get("group")) for r in rows if r.get("reference")), None)
    columns = ["Group", "n", f"Selection rate [{conf} CI]", *(label for _, label in RATE_COLUMNS),
               f"Adverse impact ratio (vs {ref})" if ref else "Adverse impact ratio"]
    out = []
    for r in rows:
        n = num(r.get("n"))
        cells = [DASH if n is None else f"{int(n):,}", pct_with_ci(r, "selection_rate"),
                 *(pct(r.get(m)) for m, _ in RATE_COLUMNS), ratio(r.get("adverse_impact_ratio"))]
        out.append(GroupRow(_str(r.get("group"), "?"), bool(r.get("reference")), bool(r.get("insufficient")), cells))
    return TableView(key=key, kind="groups", title=f"Groups by {grouping_title(grouping)}", columns=columns,
                     group_rows=out, raw=rows, grouping=grouping)


def _generic_table(key: str, rows: Any) -> TableView:
    if not isinstance(rows, list):
        return TableView(key=key, kind="generic", title=key, columns=["value"], rows=[[cell(rows)]])
    columns: list[str] = []
    for r in rows:
        for k in (r if isinstance(r, dict) else {"value": r}):
            if str(k) not in columns:
                columns.append(str(k))
    body = []
    for r in rows[:MAX_GENERIC_ROWS]:
        d = {str(k): v for k, v in r.items()} if isinstance(r, dict) else {"value": r}
        body.append([cell(d.get(c)) for c in columns])
    note = (f"Showing the first {MAX_GENERIC_ROWS} of {len(rows):,} rows; assessment.json has them all."
            if len(rows) > MAX_GENERIC_ROWS else "")
    if not rows:
        note = "This table is empty."
    return TableView(key=key, kind="generic", title=key, columns=columns, rows=body, note=note)


def _suite_view(s: SuiteResult, conf: str) -> SuiteView:
    stats = s.statistics
    counts = ", ".join(f"{stats[st.value]} {st.value}" for st in STATUS_ORDER if stats.get(st.value))
    summary = f"{stats.get('findings', 0)} findings" + (f": {counts}" if counts else "")
    tables = [
        _group_table(s.suite, str(key), rows, conf) if _is_group_table(rows) else _generic_table(str(key), rows)
        for key, rows in (s.tables or {}).items()
    ]
    status = s.status if s.findings or s.skipped_reason else "NO FINDINGS"
    return SuiteView(suite=s.suite, version=_str(s.suite_version), dataset=_str(s.dataset),
                     status=status.replace("_", " "),
                     summary=summary, skipped_reason=s.skipped_reason, tables=tables)


def _when(result: AssessmentResult) -> str:
    when = _str(result.started_at)
    if when != DASH:
        when = when.replace("T", " ").replace("+00:00", " UTC")
    dur = num(result.duration_s)
    return when + (f" (took {dur:.1f} s)" if dur else "")


def _datasets(result: AssessmentResult) -> list[str]:
    out = []
    for d in result.datasets or []:
        if not isinstance(d, dict):
            out.append(cell(d))
            continue
        name = _str(d.get("name"), "?") + (f" v{d['version']}" if d.get("version") else "")
        rows = num(d.get("rows"))
        parts = [name, f"{int(rows):,} rows" if rows is not None else "rows unknown",
                 f"sha256 {str(d.get('sha256') or '?')[:12]}"]
        attrs = d.get("protected_attributes")
        if isinstance(attrs, dict) and attrs:
            parts.append("groups by " + ", ".join(f"{a} (reference {r})" if r is not None else str(a)
                                                  for a, r in attrs.items()))
        out.append(" · ".join(parts))
    return out or ["none"]


def _error_text(result: AssessmentResult) -> str:
    e = result.error
    if not e:
        return ""
    if not isinstance(e, dict):
        return str(e)
    text = f"{e.get('type') or 'Error'}: {e.get('message') or 'no message'}"
    return text + (f" (dataset {e['dataset']})" if e.get("dataset") else "")


def build_view(result: AssessmentResult) -> ReportView:
    """Everything the reports show, as display strings, in report order."""
    tool, policy = result.tool or {}, result.policy or {}
    doc = policy.get("document") or {}
    conf = _confidence(result)
    verdict = getattr(result.verdict, "value", str(result.verdict))
    error = _error_text(result)
    reasons = [" ".join(str(r).split()) for r in result.reasons or []]
    if error and reasons == [str((result.error or {}).get("message", ""))]:
        reasons = []  # the error line already says it
    byline = [f"{k} {tool[k]}" if k == "version" else str(tool[k]) for k in ("version", "vendor") if tool.get(k)]
    dept = f"for the {tool['department']} department" if tool.get("department") else ""
    glance: list[tuple[str, str | list[str]]] = [
        ("Assessment", _str(result.kind)),
        ("Date", _when(result)),
        ("Run id", _str(result.run_id, "not recorded")),
        ("Policy", _str(policy.get("label") or policy.get("name"))),
        ("Policy digest", _str(policy.get("digest"))),
        ("Datasets", _datasets(result)),
        ("Risk tier", _str(tool.get("risk_tier"))),
        ("Category", _str(tool.get("category"))),
        ("Tool id and status", " · ".join(_str(tool.get(k)) for k in ("id", "status"))),
        ("Intended use", _str(tool.get("intended_use"))),
        ("Automation level", _str(tool.get("automation_level"))),
        ("Human oversight", _str(tool.get("human_oversight"))),
        ("Seed", _str(result.seed)),
        ("Harness version", _str(result.harness_version)),
    ]
    disclosure_src = tool.get("disclosure") if isinstance(tool.get("disclosure"), dict) else {}
    disclosure = [(label, _str(disclosure_src.get(k), "not disclosed")) for k, label in DISCLOSURE_LABELS.items()]
    disclosure += [(str(k).replace("_", " ").capitalize(), cell(v)) for k, v in disclosure_src.items()
                   if k not in DISCLOSURE_LABELS]
    citations = doc.get("citations") if isinstance(doc.get("citations"), dict) else {}
    mgs = num(doc.get("min_group_size"))
    return ReportView(
        title=_str(tool.get("name"), "Unnamed tool"),
        subtitle=" · ".join(p for p in [*byline, dept] if p),
        verdict=verdict,
        verdict_title=VERDICT_TITLES.get(verdict, verdict),
        verdict_meaning=VERDICT_MEANINGS.get(verdict, ""),
        error=error if error or verdict != "ERROR" else "no error details were recorded",
        reasons=reasons,
        glance=glance,
        finding_groups=_finding_groups(list(result.findings), conf),
        n_findings=len(result.findings),
        suites=[_suite_view(s, conf) for s in result.suites],
        disclosure=disclosure,
        min_group_size=f"{int(mgs)}" if mgs is not None else "the policy's minimum",
        confidence=conf,
        ratio_limit=ratio_limit(result),
        risk_tier=_str(tool.get("risk_tier"), "unknown"),
        citations=[(str(k), " ".join(str(v).split())) for k, v in citations.items()],
        footer=f"Generated by AI Risk Harness {_str(result.harness_version)} · schema {_str(result.schema)}"
               + (f" · run {result.run_id}" if result.run_id else ""),
    )


def how_to_read(view: ReportView) -> list[str]:
    """The reading guide, shared by both formats (plain text; the HTML escapes it)."""
    limit = fmt_limit(view.ratio_limit) if view.ratio_limit is not None else None
    four_fifths = (
        "The four-fifths rule (EEOC Uniform Guidelines, 29 CFR 1607.4(D)) treats a selection rate for any "
        "group that is less than four-fifths (80%) of the rate of the group with the highest rate as "
        "evidence of adverse impact. The policy's demographic-parity ratio is the lowest group's rate divided "
        "by the highest"
        + (f"; for a {view.risk_tier}-risk tool it must be at least {limit}, which the dashed line in the "
           f"plots marks ({limit} × the highest rate)." if limit else ".")
        + " The adverse impact ratio in the group tables compares each group with the reference group instead."
    )
    return [
        f"Each finding compares a measured value with a policy threshold, together with its {view.confidence} "
        "confidence interval: the range the true value most likely lies in, given how much data there was.",
        "The rule fails closed. PASS only when the whole interval is on the passing side of the threshold. "
        "FAIL when the measured value itself is on the failing side. REVIEW when the value passes but the "
        "interval crosses the threshold: the data cannot rule out a failure, so a person must judge.",
        f"Groups with fewer than {view.min_group_size} rows (the policy's minimum group size) are INSUFFICIENT: "
        "their rates are shown but not judged, never counted as a pass, and left out of the comparisons.",
        "Blocking findings decide the verdict: one blocking FAIL (or a blocking check that could not compute) "
        "fails the assessment. A failed advisory finding asks for human review instead. SKIPPED means a suite "
        "or check does not apply to the data, with the reason given.",
        four_fifths,
    ]


# ---------------------------------------------------------------------------------------------- markdown

def md(text: Any) -> str:
    """User-controlled text on one line, with raw HTML neutralised for Markdown renderers ("<=" stays)."""
    return _TAG_START.sub("&lt;", " ".join(str(text).split()))


def md_cell(text: Any) -> str:
    return md(text).replace("|", "\\|")


def _md_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
    return lines


def _md_group_name(r: GroupRow) -> str:
    marks = (["**reference**"] if r.reference else []) + (["too few rows to judge"] if r.insufficient else [])
    return r.name + (f" ({', '.join(marks)})" if marks else "")


def render_markdown(result: AssessmentResult) -> str:
    """GitHub-flavoured Markdown: the HTML report's content and order, without the plots."""
    v = build_view(result)
    out: list[str] = [f"# AI risk assessment: {md(v.title)}", ""]
    if v.subtitle:
        out += [md(v.subtitle), ""]
    out += [f"> **Verdict: {v.verdict_title}.** {v.verdict_meaning}", ">"]
    if v.error:
        out += [f"> **The assessment could not complete:** {md(v.error)}", ">"]
    out.pop()
    out.append("")
    if v.reasons:
        out += ["Reasons for this verdict:", ""] + [f"- {md(r)}" for r in v.reasons] + [""]

    out += ["## At a glance", ""]
    for label, value in v.glance:
        out.append(f"- **{label}:** " + ("; ".join(md(x) for x in value) if isinstance(value, list) else md(value)))
    out.append("")

    out += [f"## Findings ({v.n_findings})", ""]
    if not v.finding_groups:
        out += ["No finding was recorded." if v.verdict != "ERROR"
                else "No finding was recorded: the assessment stopped before any check could run.", ""]
    for g in v.finding_groups:
        out += [f"### {g.heading} ({len(g.findings)})", ""]
        for f in g.findings:
            facts = [f.value, f.ci, f.threshold, f"**{f.status}**", f.severity, f.section]
            if f.benchmark:
                facts.append(f"benchmark: {md(f.benchmark)}")
            where = f"`{md(f.key)}`" + (f" on {md(f.dataset)}" if f.dataset else "")
            out += [f"- {md(f.message)}  ", f"  {' · '.join(facts)} · {where}"]
        out.append("")

    out += ["## Results by suite and dataset", ""]
    if not v.suites:
        out += ["No suite ran.", ""]
    else:
        out += ["The HTML report (report.html) shows the same tables with plots of each group's selection rate "
                "and error rates.", ""]
    for s in v.suites:
        out += [f"### Suite `{md(s.suite)}` (version {md(s.version)}) on {md(s.dataset)}: {s.status}", ""]
        if s.skipped_reason:
            out += [f"Skipped: {md(s.skipped_reason)}", ""]
            continue
        out += [s.summary + ".", ""]
        if not s.tables:
            out += ["This suite recorded no tables; its findings are listed above.", ""]
        for t in s.tables:
            out += [f"#### {md(t.title)}", ""]
            if t.kind == "groups":
                rows = [[_md_group_name(r), *r.cells] for r in t.group_rows]
                out += _md_table(t.columns, rows)
            elif t.rows:
                out += _md_table(t.columns, t.rows)
            if t.note:
                out += ["", md(t.note)] if out[-1] else [md(t.note)]
            out.append("")
        if any(t.kind == "groups" for t in s.tables):
            out += [" ".join(RATE_DEFINITIONS), ""]

    out += ["## Tool disclosure", "",
            "As declared in the tool manifest, not verified by this assessment. The City's transparency "
            "principle asks every AI system to disclose its model type, training source and legal access to "
            "data and to document its limitations; policy 2.1 asks vendors how they mitigate bias.", ""]
    out += [f"- **{label}:** {md(value)}" for label, value in v.disclosure] + [""]

    out += ["## How to read this report", ""] + [f"- {md(p)}" for p in how_to_read(v)]
    if v.citations:
        out += ["", "Policy sections cited:", ""] + [f"- **{md(k)}** {md(t)}" for k, t in v.citations]
    out += ["", "---", "", f"*{md(v.footer)}*", ""]
    return "\n".join(out)
