"""The Markdown report, and the report view both the Markdown and the HTML report render.

`build_view` turns an `AssessmentResult` into display strings once, so the two formats cannot
disagree on a number, an order or a sentence. It reads the result defensively (`.get`, None and NaN
shown as a dash): a report must render for every valid result, including an ERROR with no suites
and suites whose tables this module has never seen.

A suite's tables are arranged in sections: one per grouping (attribute or intersection) with its group
rates, disparities (from the suite's measurements, judged by its findings), four-fifths comparisons and
scores; one for the tables about the whole suite (proxies, counterfactual flips, the mitigation
illustration); and one for any other table, shown generically. A known table of an unexpected shape
falls back to the generic rendering rather than breaking the report.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.findings import Finding, Severity, Status
from harness.redact import mask_tree

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
    "NEEDS_REVIEW": ("No blocking check that ran failed, but some results are uncertain, too thin to judge, "
                     "advisory failures, or not tested (a required suite or check could not run): a human reviewer "
                     "must examine the findings below before any approval (City AI Policy 2.3, 4.1)."),
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
RATE_COLUMNS = (("tpr", "TPR"), ("fpr", "FPR"), ("fnr", "FNR"), ("precision", "Precision"), ("npv", "NPV"),
                ("accuracy", "Accuracy"))
OPTIONAL_RATES = frozenset({"npv"})  # shown only when the table has them (older results do not)
ALL_RATES = (("base_rate", "Base rate"), ("selection_rate", "Selection rate"), ("tpr", "TPR"), ("fpr", "FPR"),
             ("fnr", "FNR"), ("precision", "Precision"), ("npv", "NPV"), ("fdr", "FDR"), ("for", "FOR"),
             ("accuracy", "Accuracy"))
RATE_DEFINITIONS = (
    "Selection rate: share of the group the tool gives the favourable outcome.",
    "TPR (true-positive rate): share of qualified people the tool selects.",
    "FPR (false-positive rate): share of unqualified people the tool selects.",
    "FNR (false-negative rate): share of qualified people the tool misses.",
    "Precision: share of the people selected who were qualified. Accuracy: share of all decisions that were right.",
    "NPV (negative predictive value): share of the people not selected who were indeed not qualified. "
    "FDR (false discovery rate) = 1 − precision; FOR (false omission rate) = 1 − NPV.",
    "Base rate: share of the group that is qualified according to the dataset's labels.",
    "Adverse impact ratio: the group's selection rate divided by the reference group's.",
)
DISPARITY_DEFINITIONS = (
    "Disparities compare the group with the lowest rate to the group with the highest: a ratio divides the two "
    "(1 is parity), a difference subtracts them (0 is parity). Demographic parity compares selection rates, "
    "equal opportunity true-positive rates, equalized odds the larger gap of true- and false-positive rates, "
    "predictive parity precision, FNR and FPR parity false-negative and false-positive rates, and the AUC "
    "difference how well the tool's scores rank each group.",
    "Scores: AUC is the chance that the tool scores a qualified person above an unqualified one (0.5 is "
    "guessing); ECE (expected calibration error) is the average gap between the scores and the observed "
    "outcomes; KS is the largest gap between a group's score distribution and the reference group's.",
)
DISPARITY_CHECKS = {
    "demographic_parity": "Demographic parity", "equal_opportunity": "Equal opportunity",
    "equalized_odds": "Equalized odds", "predictive_parity": "Predictive parity", "fnr_parity": "FNR parity",
    "fpr_parity": "FPR parity", "scores": "AUC",
}
DISPARITY_METRICS = {"ratio": "ratio", "difference": "difference", "auc_difference": "difference"}
PROXY_MEASURES = {"cramers_v": "Cramér's V", "auc": "AUC (predicting the attribute)"}
NOT_JUDGED = "not judged"


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


def fmt_p(x: Any) -> str:
    """p-values: three decimals, or three significant digits below 0.01 (as the findings write them)."""
    v = num(x)
    if v is None:
        return DASH
    return f"{v:.3f}" if v >= 0.01 else f"{v:.3g}"


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
    """A table of a suite. `kind` says what it holds and which plot goes with it: "groups" (per-group rates),
    "rates" (every rate with its interval), "disparities" and "four_fifths" (forest plots of `raw`),
    "scores" (with a reliability diagram of the bins in `aux`), "proxies", "counterfactual", "mitigation"
    (the illustration box, with `items` and `note`) or "generic" (any list of dicts). Tables with
    `group_rows` show group names with reference / too-few tags; the others show `rows`, where `marks[i]`
    ("over") highlights a row and column `status_col` holds a status word (shown as a badge in HTML).
    `collapsed` tables are folded into a <details> with `summary` in HTML; `plot_first` puts the plot
    above the table."""

    key: str
    kind: str
    title: str
    columns: list[str]
    group_rows: list[GroupRow] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)
    grouping: str = ""
    note: str = ""
    intro: str = ""
    marks: list[str] = field(default_factory=list)
    status_col: int = -1
    aux: list[dict[str, Any]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    collapsed: bool = False
    summary: str = ""
    plot_first: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    subs: list[str] = field(default_factory=list)  # a second, smaller line under a row's first cell


@dataclass(frozen=True)
class SectionView:
    """The tables of one grouping (an attribute or an intersection), or of the whole suite."""

    title: str
    anchor: str
    tables: list[TableView]


@dataclass(frozen=True)
class SuiteView:
    suite: str
    version: str
    dataset: str
    status: str  # PASS, FAIL, ..., SKIPPED, or NO FINDINGS (nothing was judged: never shown as a pass)
    summary: str
    skipped_reason: str | None
    sections: list[SectionView]

    @property
    def tables(self) -> list[TableView]:
        return [t for sec in self.sections for t in sec.tables]


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


def decision_rule_text(result: AssessmentResult) -> str:
    """The rule that decided the verdict, in words; an assessment recorded before rules were named used
    the point estimate alone."""
    from harness.decision import RULES, describe

    policy = result.policy or {}
    rule = policy.get("decision_rule") or (policy.get("document") or {}).get("decision_rule") or "point"
    return describe(rule) if rule in RULES else str(rule)


def ratio_limit(result: AssessmentResult) -> float | None:
    """The four-fifths limit the policy applies to this tool's risk tier (None when the policy sets none)."""
    doc = (result.policy or {}).get("document") or {}
    thresholds = doc.get("thresholds") or {}
    # the four-fifths rule is judged once, against the reference group; a record made before that kept the
    # limit on the lowest-over-highest ratio
    t = thresholds.get("bias.four_fifths.adverse_impact_ratio") or thresholds.get("bias.demographic_parity.ratio")
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


def _dicts(rows: Any, *required: str) -> bool:
    """A non-empty list of dicts that all have the `required` keys: the shape a dedicated table needs
    (anything else falls back to the generic table, so an unexpected shape never breaks the report)."""
    return (isinstance(rows, list) and bool(rows)
            and all(isinstance(r, dict) and all(k in r for k in required) for r in rows))


def _is_group_table(rows: Any) -> bool:
    return _dicts(rows, "group", "selection_rate")


def _has(rows: list[dict[str, Any]], metric: str) -> bool:
    return any(metric in r for r in rows)


def _group_row(r: dict[str, Any], cells: list[str]) -> GroupRow:
    return GroupRow(_str(r.get("group"), "?"), bool(r.get("reference")), bool(r.get("insufficient")), cells)


def _count(x: Any) -> str:
    n = num(x)
    return DASH if n is None else f"{int(n):,}"


def _group_table(suite: str, key: str, rows: list[dict[str, Any]], conf: str) -> TableView:
    grouping = key.removeprefix(f"{suite}.group_rates.")
    ref = next((str(r.get("group")) for r in rows if r.get("reference")), None)
    rates = [(m, label) for m, label in RATE_COLUMNS if m not in OPTIONAL_RATES or _has(rows, m)]
    columns = ["Group", "n", f"Selection rate [{conf} CI]", *(label for _, label in rates),
               f"Adverse impact ratio (vs {ref})" if ref else "Adverse impact ratio"]
    out = [_group_row(r, [_count(r.get("n")), pct_with_ci(r, "selection_rate"), *(pct(r.get(m)) for m, _ in rates),
                          ratio(r.get("adverse_impact_ratio"))])
           for r in rows]
    return TableView(key=key, kind="groups", title=f"Groups by {grouping_title(grouping)}", columns=columns,
                     group_rows=out, raw=rows, grouping=grouping)


def _rates_table(key: str, grouping: str, rows: list[dict[str, Any]], conf: str) -> TableView | None:
    """Every rate of every group with its interval (the group table gives the interval of the selection
    rate only, to stay readable); None when the table has no intervals at all."""
    rates = [(m, label) for m, label in ALL_RATES if _has(rows, m)]
    if not any(num(r.get(f"{m}_low")) is not None for r in rows for m, _ in rates):
        return None
    return TableView(
        key=f"{key}#intervals", kind="rates", title=f"Every rate by {grouping_title(grouping)}, with {conf} intervals",
        columns=["Group", *(label for _, label in rates)], grouping=grouping, collapsed=True,
        summary=f"Show all {len(rates)} rates of each group with their {conf} intervals",
        group_rows=[_group_row(r, [_with_denominator(r, m) for m, _ in rates]) for r in rows])


def _with_denominator(row: dict[str, Any], metric: str) -> str:
    """A rate with its interval and the rows it rests on ("12.5% [4.4–29.0%] of 24"): a false-positive rate
    computed on 24 people reads differently from one on 2,400 (older records have no denominators)."""
    n = num(row.get(f"{metric}_n"))
    return pct_with_ci(row, metric) + ("" if n is None else f" of {int(n):,}")


def _disparity_label(check: str, metric: str) -> str:
    if check == "scores" and metric == "auc_difference":
        return "AUC difference"
    return f"{DISPARITY_CHECKS.get(check, check.replace('_', ' ').capitalize())} {DISPARITY_METRICS[metric]}"


def _status(f: Finding | None) -> str | None:
    """The status a finding gives a measurement; None when nothing judged it."""
    return None if f is None or f.status is Status.SKIPPED else f.status.value


def _disparity_table(s: SuiteResult, grouping: str, findings: dict[str, Finding], conf: str) -> TableView | None:
    """Every disparity measurement of one grouping (ratios, then differences), for its forest plot."""
    found = [m for m in s.measurements if m.group == grouping and m.metric in DISPARITY_METRICS]
    if not found:
        return None
    order = {c: i for i, c in enumerate(DISPARITY_CHECKS)}
    found.sort(key=lambda m: (DISPARITY_METRICS[m.metric] != "ratio", order.get(m.check, len(order))))
    raw: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    for m in found:
        f = findings.get(m.key)
        status, threshold = _status(f), num(f.threshold) if f is not None else None
        gib = f.greater_is_better if f is not None else None
        label = _disparity_label(m.check, m.metric)
        d = m.details if isinstance(m.details, dict) else {}
        compared = f"{d['lowest']} vs {d['highest']}" if d.get("lowest") is not None and d.get("highest") is not None \
            else DASH
        if compared != DASH and num(d.get("lowest_n")) is not None and num(d.get("highest_n")) is not None:
            compared += f" (of {int(d['lowest_n']):,} and {int(d['highest_n']):,})"  # the rates' denominators
        if m.check == "equalized_odds" and d.get("component") in ("tpr", "fpr") and compared != DASH:
            compared += f" ({str(d['component']).upper()})"
        raw.append({"label": label, "panel": DISPARITY_METRICS[m.metric], "value": num(m.value),
                    "ci_low": num(m.ci_low), "ci_high": num(m.ci_high), "threshold": threshold,
                    "greater_is_better": gib, "status": status})
        rows.append([label, value_with_ci(m.value, m.ci_low, m.ci_high), limit_text(threshold, gib), compared,
                     status or NOT_JUDGED])
    title = grouping_title(grouping)
    return TableView(
        key=f"{s.suite}.disparities.{grouping}", kind="disparities", title=f"Disparities within {title}",
        columns=["Measure", f"Value [{conf} CI]", "Threshold", "Lowest vs highest group", "Result"],
        rows=rows, raw=raw, grouping=grouping, status_col=4, collapsed=True, plot_first=True,
        summary="Show the numbers behind the plot",
        intro=(f"How far apart the groups of {title} are on each fairness measure, with its {conf} interval and "
               "the policy threshold. A measure without a threshold is shown for context and not judged."))


def _safe(value: str) -> str:
    """The bias suite's metric-name form of a group value (see its `group_key`)."""
    return re.sub(r"[^\w\- /]", "_", value).strip() or "_"


def _four_fifths_finding(findings: dict[str, Finding], suite: str, grouping: str, group: str) -> Finding | None:
    parts = group.split(" & ") if "_x_" in grouping else [group]
    return findings.get(f"{suite}.four_fifths.adverse_impact_ratio.{grouping}." + ".".join(_safe(p) for p in parts))


def _four_fifths_table(s: SuiteResult, grouping: str, rows: list[dict[str, Any]], findings: dict[str, Finding],
                       conf: str, limit: float | None, comparisons: int) -> TableView:
    """The civil-rights benchmark per group: the practical result (ratio against the limit) beside the
    statistical one (the test and its Holm-adjusted p-value)."""
    ref = next((str(r["reference"]) for r in rows if r.get("reference") is not None), None)
    matched = [_four_fifths_finding(findings, s.suite, grouping, _str(r.get("group"), "?")) for r in rows]
    threshold = next((t for f in matched if f is not None and (t := num(f.threshold)) is not None), limit)
    raw, body = [], []
    try:
        alpha = 1 - float(conf.rstrip("% ")) / 100
    except ValueError:
        alpha = 0.05
    tests = next((int(f.details["blocking_tests"]) for f in matched if f is not None and "blocking_tests" in f.details),
                 None)
    for r, f in zip(rows, matched, strict=True):
        # the Holm adjustment is made over the run's blocking findings (harness.decision), so it is read from the
        # finding; older assessments kept it in the table
        p_adj = r.get("p_adjusted") if "p_adjusted" in r else (f.details.get("p_adjusted") if f else None)
        sig = r.get("significant") if "significant" in r else (
            None if num(p_adj) is None else bool(num(p_adj) < 1 - alpha))
        status = _status(f)
        raw.append({"label": _str(r.get("group"), "?"), "value": num(r.get("adverse_impact_ratio")),
                    "ci_low": num(r.get("ci_low")), "ci_high": num(r.get("ci_high")),
                    "significant": sig is True, "status": status, "p_adjusted": num(p_adj)})
        body.append([_str(r.get("group"), "?"), _count(r.get("n")),
                     value_with_ci(r.get("adverse_impact_ratio"), r.get("ci_low"), r.get("ci_high"), 2),
                     status or NOT_JUDGED, _str(r.get("test")), fmt_p(r.get("p_value")), fmt_p(p_adj),
                     "yes" if sig is True else "no" if sig is False else DASH])
    versus = f" against {ref}" if ref else ""
    rule = f"at least {fmt_limit(threshold)}" if threshold is not None else "the policy's limit"
    return TableView(
        key=f"{s.suite}.four_fifths#{grouping}", kind="four_fifths",
        title=f"Four-fifths rule within {grouping_title(grouping)}: each group{versus}",
        columns=["Group", "n", f"Adverse impact ratio [{conf} CI]",
                 "Four-fifths rule" + (f" ({limit_text(threshold, True)})" if threshold is not None else ""),
                 "Test", "p", "Holm-adjusted p", "Significant after Holm"],
        rows=body, raw=raw, grouping=grouping, status_col=3,
        meta={"threshold": threshold, "reference": ref},
        intro=(f"Each group's selection rate divided by {ref or 'the reference group'}'s. The practical test (EEOC "
               f"four-fifths rule) asks for a ratio of {rule}; the statistical test asks whether the gap could be "
               "chance, with p-values adjusted by Holm's method over "
               + (f"all {tests} blocking tests of this assessment" if tests is not None
                  else f"all {comparisons} comparisons of this assessment")
               + ". As the EEOC reads the rule, a ratio under the limit FAILs only when the gap is also "
               "statistically significant; otherwise it asks for a reviewer's judgement (REVIEW)."))


def _reliability(rows: Any, scores: list[dict[str, Any]], min_rows: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Bins with at least `min_rows` rows, of groups with at least two such bins; and the groups left out."""
    if not _dicts(rows, "group", "mean_score", "observed_rate"):
        return [], []
    info = {str(r.get("group")): r for r in scores}
    kept: dict[str, list[dict[str, Any]]] = {}
    order: list[str] = []
    for r in rows:
        g = str(r.get("group"))
        if g not in order:
            order.append(g)
        n = num(r.get("n"))
        if n is not None and n >= min_rows and None not in (num(r.get("mean_score")), num(r.get("observed_rate"))):
            kept.setdefault(g, []).append(r)
    out = [{**b, "reference": bool(info.get(g, {}).get("reference")), "ece": num(info.get(g, {}).get("ece"))}
           for g in order if len(kept.get(g, [])) >= 2 for b in kept[g]]
    return out, [g for g in order if len(kept.get(g, [])) < 2]


def _scores_table(key: str, grouping: str, rows: list[dict[str, Any]], reliability: Any, conf: str,
                  min_rows: int) -> TableView:
    ref = next((str(r.get("group")) for r in rows if r.get("reference")), None)
    body = [_group_row(r, [_count(r.get("n")), value_with_ci(r.get("auc"), r.get("auc_low"), r.get("auc_high")),
                           fmt_value(r.get("ece")),
                           "reference" if r.get("reference") else fmt_value(r.get("ks_vs_reference")),
                           DASH if r.get("reference") else fmt_p(r.get("ks_p_value"))])
            for r in rows]
    bins, left_out = _reliability(reliability, rows, min_rows)
    note = ""
    if reliability:
        note = (f"Reliability diagram: each point is a bin of scores with at least {min_rows} rows (the policy's "
                "minimum group size), its whisker the interval of the observed rate; points on the diagonal are "
                "well calibrated.")
        if left_out:
            note += f" Left out for too few such bins: {', '.join(left_out)}."
    return TableView(
        key=key, kind="scores", title=f"Scores by {grouping_title(grouping)}",
        columns=["Group", "n", f"AUC [{conf} CI, DeLong]", "ECE", f"KS distance vs {ref}" if ref else "KS distance",
                 "KS p-value"],
        group_rows=body, raw=rows, grouping=grouping, aux=bins, note=note,
        intro="How well the tool's scores rank and how well they are calibrated, for each group.")


def _proxies_table(key: str, rows: list[dict[str, Any]]) -> TableView:
    ordered = sorted(rows, key=lambda r: r.get("over_limit") is not True)  # over the limit first, else as given
    body, marks = [], []
    for r in ordered:
        over = r.get("over_limit")
        measure = str(r.get("measure"))
        body.append([_str(r.get("feature")), _str(r.get("protected")), PROXY_MEASURES.get(measure, measure),
                     fmt_value(r.get("value")), fmt_limit(r.get("limit")),
                     "yes" if over is True else "no" if over is False else DASH, fmt_value(r.get("nmi"))])
        marks.append("over" if over is True else "")
    n_over = sum(1 for m in marks if m)
    return TableView(
        key=key, kind="proxies", title="Proxies: inputs that predict a protected attribute",
        columns=["Input", "Protected attribute", "Measure", "Value", "Limit", "Over the limit", "NMI"],
        rows=body, marks=marks, raw=rows,
        intro=("How strongly each input predicts a protected attribute. An input over the limit can stand in for "
               "the attribute, so the tool can treat groups differently without seeing the attribute itself. "
               + (f"{n_over} input–attribute pair{'s are' if n_over != 1 else ' is'} over the limit."
                  if n_over else "No input is over the limit.")),
        note=("Cramér's V (categorical inputs) and a one-input AUC (numeric inputs) run from no association to a "
              "perfect proxy; NMI is the normalised mutual information (0 = unrelated, 1 = one determines the other)."))


def _counterfactual_table(s: SuiteResult, key: str, rows: list[dict[str, Any]], conf: str) -> TableView:
    metric, _, column = key.removeprefix(f"{s.suite}.counterfactual.").partition(".")
    m = next((m for m in s.measurements if m.key == key), None)
    attr = (m.details or {}).get("attribute") if m is not None and isinstance(m.details, dict) else None
    if metric == "proxy_flip_rate":
        title = f"Counterfactual: redrawing only {column}" + (f", a declared proxy for {attr}" if attr else "")
    elif metric == "flip_rate":
        title = f"Counterfactual: changing only {column}"
    else:
        title = f"Counterfactual: {metric.replace('_', ' ')} of {column}"
    body = []
    for r in rows:
        before, after = num(r.get("favourable_before")), num(r.get("favourable_after"))
        change = DASH if before is None or after is None else f"{(after - before) * 100:+.1f} points"
        body.append([_str(r.get("group"), "?"), _count(r.get("n")), pct_with_ci(r, "flip_rate"),
                     pct(before), pct(after), change])
    note = ""
    if m is not None and num(m.value) is not None:
        ci = (f", {conf} CI {pct(m.ci_low)}–{pct(m.ci_high)}"
              if num(m.ci_low) is not None and num(m.ci_high) is not None else "")
        note = f"Overall {pct(m.value)} of {_count(m.n)} decisions change{ci}."
    return TableView(
        key=key, kind="counterfactual", title=title, raw=rows, note=note,
        columns=[f"Group ({attr})" if attr else "Group", "n", f"Decisions changed [{conf} CI]",
                 "Favourable before", "Favourable after", "Change"],
        rows=body,
        intro=("The same applications scored again with only this input changed: a fair tool's decisions should "
               "not depend on it. The favourable columns show each group's selection rate before and after."))


def _threshold_lines(text: Any) -> list[str]:
    """'A: 6%: select when ...; 94%: select when ...; B: ...' as one line per group."""
    lines: list[str] = []
    for part in (p.strip() for p in str(text or "").split("; ")):
        if not part:
            continue
        if lines and re.match(r"\d+(?:\.\d+)?%: ", part):
            lines[-1] += f"; {part}"
        else:
            lines.append(part)
    return lines


def _mitigation_table(key: str, rows: list[dict[str, Any]]) -> TableView:
    r = rows[0]
    attr = _str(r.get("attribute"), key.rsplit(".", 1)[-1])
    n = num(r.get("rows"))
    body = [
        ["Selection-rate ratio (lowest ÷ highest)", ratio(r.get("selection_rate_ratio_before")),
         ratio(r.get("selection_rate_ratio_after"))],
        ["Equalized-odds difference", fmt_value(r.get("equalized_odds_difference_before")),
         fmt_value(r.get("equalized_odds_difference_after"))],
        ["Accuracy", pct(r.get("accuracy_before")), pct(r.get("accuracy_after"))],
    ]
    on = f" on {int(n):,} rows" + (" (a sample)" if r.get("sampled") else "") if n is not None else ""
    return TableView(
        key=key, kind="mitigation", title=f"What per-group thresholds could reach on {attr}",
        columns=["Measure", "The tool as assessed", "With per-group thresholds (illustration)"], rows=body, raw=rows,
        items=_threshold_lines(r.get("thresholds")), note=" ".join(str(r.get("note") or "").split()),
        intro=(f"What post-processing the tool's own scores with a separate threshold for each group of {attr} "
               f"(fairlearn's ThresholdOptimizer under a demographic-parity constraint) could reach{on}."))


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


def _sections(s: SuiteResult, si: int, conf: str, min_rows: int, limit: float | None,
              doc: dict[str, Any] | None = None, tier: str | None = None) -> list[SectionView]:
    """A section per grouping (attributes, then intersections as the suite ordered them), one for the tables
    about the whole suite (proxies, counterfactuals, the mitigation illustration), the data-quality and
    degradation suites' own sections (`quality`), and one for the rest."""
    from harness.report.generative import generative_sections
    from harness.report.quality import suite_sections

    p = f"{s.suite}."
    tables = {str(k): v for k, v in (s.tables or {}).items()}
    findings = {f.key: f for f in s.findings}
    used: set[str] = set()
    own = suite_sections(s, si, tables, used, findings, doc or {}, tier, conf)
    own += generative_sections(s, si, tables, used, findings)
    groupings: list[str] = []
    for k, rows in tables.items():
        g = (k.removeprefix(f"{p}group_rates.") if _is_group_table(rows)
             else k.removeprefix(f"{p}scores.") if k.startswith(f"{p}scores.") and _dicts(rows, "group", "auc")
             else None)
        if g is not None and g not in groupings:
            groupings.append(g)
    ff = tables.get(f"{p}four_fifths")
    ff_rows = ff if _dicts(ff, "grouping", "group", "adverse_impact_ratio") else []
    if ff_rows:
        used.add(f"{p}four_fifths")
        groupings += [g for g in dict.fromkeys(str(r["grouping"]) for r in ff_rows) if g not in groupings]

    sections: list[SectionView] = []
    for gi, g in enumerate(groupings):
        out: list[TableView] = []
        for k, rows in tables.items():
            if k not in used and _is_group_table(rows) and k.removeprefix(f"{p}group_rates.") == g:
                used.add(k)
                out.append(_group_table(s.suite, k, rows, conf))
                if (rates := _rates_table(k, g, rows, conf)) is not None:
                    out.append(rates)
        if (disparities := _disparity_table(s, g, findings, conf)) is not None:
            out.append(disparities)
        if mine := [r for r in ff_rows if str(r["grouping"]) == g]:
            out.append(_four_fifths_table(s, g, mine, findings, conf, limit, len(ff_rows)))
        key = f"{p}scores.{g}"
        if key not in used and _dicts(tables.get(key), "group", "auc"):
            used.add(key)
            rel = tables.get(f"{p}reliability.{g}")
            if _dicts(rel, "group", "mean_score", "observed_rate"):
                used.add(f"{p}reliability.{g}")
            out.append(_scores_table(key, g, tables[key], rel, conf, min_rows))
        kind = " (intersection)" if "_x_" in g else ""
        sections.append(SectionView(f"By {grouping_title(g)}{kind}", f"s{si}-g{gi}", out))

    suite_wide: list[TableView] = []
    for k, rows in tables.items():
        if k in used:
            continue
        if k == f"{p}proxies" and _dicts(rows, "feature", "protected"):
            suite_wide.append(_proxies_table(k, rows))
        elif k.startswith(f"{p}counterfactual.") and _dicts(rows, "group", "flip_rate"):
            suite_wide.append(_counterfactual_table(s, k, rows, conf))
        elif k.startswith(f"{p}mitigation_hint.") and _dicts(rows):
            suite_wide.append(_mitigation_table(k, rows))
        else:
            continue
        used.add(k)
    if suite_wide:
        titles = {"proxies": "proxies", "counterfactual": "counterfactuals", "mitigation": "mitigation"}
        what = ", ".join(dict.fromkeys(titles[t.kind] for t in suite_wide))
        sections.append(SectionView(f"Across attributes: {what}", f"s{si}-all", suite_wide))
    sections += own
    rest = [_generic_table(k, rows) for k, rows in tables.items() if k not in used]
    if rest:
        sections.append(SectionView("Other tables" if sections else "", f"s{si}-other", rest))
    return sections


def _suite_view(s: SuiteResult, si: int, conf: str, min_rows: int, limit: float | None,
                doc: dict[str, Any] | None = None, tier: str | None = None) -> SuiteView:
    stats = s.statistics
    counts = ", ".join(f"{stats[st.value]} {st.value}" for st in STATUS_ORDER if stats.get(st.value))
    summary = f"{stats.get('findings', 0)} findings" + (f": {counts}" if counts else "")
    status = s.status if s.findings or s.skipped_reason else "NO FINDINGS"
    sections = _sections(s, si, conf, min_rows, limit, doc, tier)
    summary += "".join(f"; {t.meta['summary']}" for sec in sections for t in sec.tables
                       if t.kind == "expectations" and t.meta.get("summary"))  # "21 expectations, 3 failed"
    return SuiteView(suite=s.suite, version=_str(s.suite_version), dataset=_str(s.dataset),
                     status=status.replace("_", " "), summary=summary, skipped_reason=s.skipped_reason,
                     sections=sections)


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


def _answers_text(result: AssessmentResult) -> str | None:
    """Where a generative endpoint's answers came from (assessment extra "cache", set by the `openai`
    adapter): a cached answer is the tool's past word, so a reader must know how many there were (issue 11)."""
    c = result.extra.get("cache") if isinstance(result.extra, dict) else None
    if not isinstance(c, dict) or not isinstance(c.get("answers"), int):
        return None
    if c.get("cache") == "off":
        return f"all {c['answers']:,} answers were asked afresh (cache off)"
    return f"{int(c.get('from_cache') or 0):,} of {c['answers']:,} answers came from the answer cache"


def _started_by(extra: dict[str, Any]) -> str:
    """Who started the run and how the harness knew (issue 12): a login the City's server confirmed, or a name
    typed on an embedded store that nobody confirmed."""
    from harness.gate.identity import identity_label

    return f"{extra.get('submitter')}, {identity_label(extra.get('identity'))}"


def build_view(result: AssessmentResult) -> ReportView:
    """Everything the reports show, as display strings, in report order. Every string of the result is
    masked first (`harness.redact.mask_tree`, issue 12): the one place both formats pass through, so no
    section, table or finding can show a resident's SSN, card, phone, e-mail or address raw."""
    result = mask_tree(result)
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
        *([("Started by", _started_by(result.extra))] if (result.extra or {}).get("submitter") else []),
        ("Policy", _str(policy.get("label") or policy.get("name"))),
        ("Policy digest", _str(policy.get("digest"))),
        ("Decision rule", decision_rule_text(result)),
        ("Datasets", _datasets(result)),
        *([("Answers", answers)] if (answers := _answers_text(result)) else []),
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
        suites=[_suite_view(s, si, conf, int(mgs) if mgs is not None else 30, ratio_limit(result), doc,
                            tool.get("risk_tier"))
                for si, s in enumerate(result.suites)],
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
        "evidence of adverse impact. The harness judges it once: each group's adverse impact ratio against the "
        "reference group"
        + (f"; for a {view.risk_tier}-risk tool it must be at least {limit}, which the dashed line in the "
           f"plots marks ({limit} × the highest rate)." if limit else ".")
        + " The demographic-parity ratio (the lowest group's rate divided by the highest) is shown for context."
    )
    kinds = {t.kind for s in view.suites for t in s.tables}
    forest = (
        ["Forest plots show each disparity as a point with its interval (the whisker) beside the policy threshold "
         "(the dashed red line), coloured by the finding: red FAIL, amber REVIEW, green PASS, grey for a measure "
         "the policy sets no threshold for (shown for context, not judged). In the four-fifths plots a filled "
         "point is statistically significant after Holm's adjustment for the number of comparisons, a hollow "
         "one is not; the rule itself is judged on the ratio."]
        if kinds & {"disparities", "four_fifths"} else [])
    quality = []
    if "robustness" in kinds:
        quality.append(
            "Robustness curves show, for each kind of input damage (noise, redrawn categories, missing values), how "
            "the share of decisions that change and the accuracy drop grow with the severity of the damage: one line "
            "per group and a thick line for everyone, whiskers for the interval, the judged severity shaded and the "
            "policy's limit dashed. Lines that fan out mean the same damage hurts some groups more.")
    if "drift" in kinds:
        quality.append(
            "Drift compares the reference data with a current sample of production inputs. The population stability "
            "index (PSI) sums, over bins of a feature, how much each bin's share changed, weighted by the log of the "
            "ratio: under 0.1 is stable, 0.1 to 0.2 a moderate shift, above 0.2 a significant one (the dashed lines).")
    return [
        f"Each finding compares a measured value with a policy threshold, together with its {view.confidence} "
        "confidence interval: the range the true value most likely lies in, given how much data there was.",
        "The rule fails closed. PASS only when the whole interval is on the passing side of the threshold. "
        "FAIL when the measured value is on the failing side and a statistical test says the violation is real, "
        "not chance (adjusted for the number of blocking findings: see 'Decision rule' above). REVIEW when the "
        "value passes but the interval crosses the threshold, or fails but could be chance at this sample size: "
        "the data cannot settle it, so a person must judge.",
        f"Groups with fewer than {view.min_group_size} rows (the policy's minimum group size) are INSUFFICIENT: "
        "their rates are shown but not judged, never counted as a pass, and left out of the comparisons.",
        "Blocking findings decide the verdict: one blocking FAIL (or a blocking check that could not compute) "
        "fails the assessment. A failed advisory finding asks for human review instead. SKIPPED means a suite "
        "or check could not run, with the reason given; when the policy requires it, the verdict is at best "
        "NEEDS_REVIEW, and the reasons say what was not tested.",
        four_fifths,
        *forest,
        *quality,
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


def _md_table_view(t: TableView) -> list[str]:
    """One table under its heading, with its introduction and note, and a blank line after."""
    out: list[str] = []
    if t.kind == "mitigation":
        out += [f"> **Illustration, not a remedy.** {md(t.intro)}", ">", f"> {md(t.note)}", ""]
    elif t.intro:
        out += [md(t.intro), ""]
    if t.group_rows:
        out += _md_table(t.columns, [[_md_group_name(r), *r.cells] for r in t.group_rows])
    elif t.rows:
        marks = t.marks or [""] * len(t.rows)
        subs = t.subs or [""] * len(t.rows)
        rows = [[f"{r[0]} ({sub})" if sub else r[0], *r[1:]] for r, sub in zip(t.rows, subs, strict=False)]
        out += _md_table(t.columns, [[f"**{c}**" if mark and c != DASH else c for c in r]
                                     for r, mark in zip(rows, marks, strict=False)])
    if t.items:
        out += ["", "Per-group thresholds (a mix of two thresholds where the optimiser randomises):", ""]
        out += [f"- {md(i)}" for i in t.items]
    if t.note and t.kind != "mitigation":
        out += ["", md(t.note)] if out and out[-1] else [md(t.note)]
    return [*out, ""]


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
        kinds = {t.kind for s in v.suites for t in s.tables}
        extra = [what for kind, what in (("robustness", "robustness curves of each group against the severity of "
                                          "each perturbation"), ("drift", "a chart of the drift of each feature"))
                 if kind in kinds]
        out += ["The HTML report (report.html) shows the same tables with plots: each group's selection rate "
                "and error rates, a forest plot of every disparity and of the four-fifths ratios, and reliability "
                "diagrams of the scores" + (f"; and {' and '.join(extra)}" if extra else "") + ".", ""]
    for s in v.suites:
        out += [f"### Suite `{md(s.suite)}` (version {md(s.version)}) on {md(s.dataset)}: {s.status}", ""]
        if s.skipped_reason:
            out += [f"Skipped: {md(s.skipped_reason)}", ""]
            continue
        out += [s.summary + ".", ""]
        if not s.tables:
            out += ["This suite recorded no tables; its findings are listed above.", ""]
        for sec in s.sections:
            level = "#####" if sec.title else "####"
            if sec.title:
                out += [f"#### {md(sec.title)}", ""]
            for t in sec.tables:
                out += [f"{level} {md(t.title)}", "", *_md_table_view(t)]
        kinds = {t.kind for t in s.tables}
        if "groups" in kinds:
            out += [" ".join(RATE_DEFINITIONS), ""]
        if kinds & {"disparities", "scores"}:
            out += [" ".join(DISPARITY_DEFINITIONS), ""]

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
