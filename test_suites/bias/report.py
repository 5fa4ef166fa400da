"""The bias suite's report sections (`BiasSuite.report_sections`).

A section per grouping (attributes, then intersections as the suite ordered them) with its group rates,
disparities (from the suite's measurements, judged by its findings), four-fifths comparisons and scores; one
for the tables about the whole suite (proxies, counterfactual flips, the mitigation illustration); and, for a
generative tool, the counterfactual prompts. A known table of an unexpected shape is not claimed, so the
harness shows it generically rather than breaking the report.
"""
from __future__ import annotations

import re
from typing import Any

from harness.findings import Finding, Status
from harness.report.answers import errors_table, limit_of, rate, recorded_table, status_of
from harness.report.formatting import (
    DASH,
    NOT_JUDGED,
    count,
    dicts,
    fmt_limit,
    fmt_p,
    fmt_value,
    grouping_title,
    limit_text,
    num,
    pct,
    pct_with_ci,
    ratio,
    text,
    value_with_ci,
)
from harness.report.sections import GroupRow, ReportContext, Section, SuiteOutcome, TableView

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
FOREST_GUIDE = (
    "Forest plots show each disparity as a point with its interval (the whisker) beside the policy threshold "
    "(the dashed red line), coloured by the finding: red FAIL, amber REVIEW, green PASS, grey for a measure "
    "the policy sets no threshold for (shown for context, not judged). In the four-fifths plots a filled "
    "point is statistically significant after Holm's adjustment for the number of comparisons, a hollow "
    "one is not; the rule itself is judged on the ratio.")
DISPARITY_CHECKS = {
    "demographic_parity": "Demographic parity", "equal_opportunity": "Equal opportunity",
    "equalized_odds": "Equalized odds", "predictive_parity": "Predictive parity", "fnr_parity": "FNR parity",
    "fpr_parity": "FPR parity", "scores": "AUC",
}
DISPARITY_METRICS = {"ratio": "ratio", "difference": "difference", "auc_difference": "difference"}
PROXY_MEASURES = {"cramers_v": "Cramér's V", "auc": "AUC (predicting the attribute)"}


def _is_group_table(rows: Any) -> bool:
    return dicts(rows, "group", "selection_rate")


def _has(rows: list[dict[str, Any]], metric: str) -> bool:
    return any(metric in r for r in rows)


def _group_row(r: dict[str, Any], cells: list[str]) -> GroupRow:
    return GroupRow(text(r.get("group"), "?"), bool(r.get("reference")), bool(r.get("insufficient")), cells)


def _group_table(suite: str, key: str, rows: list[dict[str, Any]], conf: str) -> TableView:
    grouping = key.removeprefix(f"{suite}.group_rates.")
    ref = next((str(r.get("group")) for r in rows if r.get("reference")), None)
    rates = [(m, label) for m, label in RATE_COLUMNS if m not in OPTIONAL_RATES or _has(rows, m)]
    columns = ["Group", "n", f"Selection rate [{conf} CI]", *(label for _, label in rates),
               f"Adverse impact ratio (vs {ref})" if ref else "Adverse impact ratio"]
    out = [_group_row(r, [count(r.get("n")), pct_with_ci(r, "selection_rate"), *(pct(r.get(m)) for m, _ in rates),
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


def _disparity_table(s: SuiteOutcome, grouping: str, findings: dict[str, Finding], conf: str) -> TableView | None:
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


def _four_fifths_table(s: SuiteOutcome, grouping: str, rows: list[dict[str, Any]], findings: dict[str, Finding],
                       conf: str, limit: float | None, comparisons: int) -> TableView:
    """The civil-rights benchmark per group: the practical result (ratio against the limit) beside the
    statistical one (the test and its Holm-adjusted p-value)."""
    ref = next((str(r["reference"]) for r in rows if r.get("reference") is not None), None)
    matched = [_four_fifths_finding(findings, s.suite, grouping, text(r.get("group"), "?")) for r in rows]
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
            None if (adjusted := num(p_adj)) is None else bool(adjusted < 1 - alpha))
        status = _status(f)
        raw.append({"label": text(r.get("group"), "?"), "value": num(r.get("adverse_impact_ratio")),
                    "ci_low": num(r.get("ci_low")), "ci_high": num(r.get("ci_high")),
                    "significant": sig is True, "status": status, "p_adjusted": num(p_adj)})
        body.append([text(r.get("group"), "?"), count(r.get("n")),
                     value_with_ci(r.get("adverse_impact_ratio"), r.get("ci_low"), r.get("ci_high"), 2),
                     status or NOT_JUDGED, text(r.get("test")), fmt_p(r.get("p_value")), fmt_p(p_adj),
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
    if not dicts(rows, "group", "mean_score", "observed_rate"):
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
    body = [_group_row(r, [count(r.get("n")), value_with_ci(r.get("auc"), r.get("auc_low"), r.get("auc_high")),
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
        body.append([text(r.get("feature")), text(r.get("protected")), PROXY_MEASURES.get(measure, measure),
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


def _counterfactual_table(s: SuiteOutcome, key: str, rows: list[dict[str, Any]], conf: str) -> TableView:
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
        body.append([text(r.get("group"), "?"), count(r.get("n")), pct_with_ci(r, "flip_rate"),
                     pct(before), pct(after), change])
    note = ""
    if m is not None and num(m.value) is not None:
        ci = (f", {conf} CI {pct(m.ci_low)}–{pct(m.ci_high)}"
              if num(m.ci_low) is not None and num(m.ci_high) is not None else "")
        note = f"Overall {pct(m.value)} of {count(m.n)} decisions change{ci}."
    return TableView(
        key=key, kind="counterfactual", title=title, raw=rows, note=note,
        columns=[f"Group ({attr})" if attr else "Group", "n", f"Decisions changed [{conf} CI]",
                 "Favourable before", "Favourable after", "Change"],
        rows=body,
        intro=("The same applications scored again with only this input changed: a fair tool's decisions should "
               "not depend on it. The favourable columns show each group's selection rate before and after."))


def _threshold_lines(value: Any) -> list[str]:
    """'A: 6%: select when ...; 94%: select when ...; B: ...' as one line per group."""
    lines: list[str] = []
    for part in (p.strip() for p in str(value or "").split("; ")):
        if not part:
            continue
        if lines and re.match(r"\d+(?:\.\d+)?%: ", part):
            lines[-1] += f"; {part}"
        else:
            lines.append(part)
    return lines


def _mitigation_table(key: str, rows: list[dict[str, Any]]) -> TableView:
    r = rows[0]
    attr = text(r.get("attribute"), key.rsplit(".", 1)[-1])
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


# ---------------------------------------------------------------------------------------------- prompts

DIMENSIONS = {"name": "Names", "pronoun": "Pronouns", "ethnicity": "Stated ethnicity"}


def _counterfactual_prompt_sections(s: SuiteOutcome, view: ReportContext) -> list[Section]:
    """A generative tool's answers to the same request about different people (claimed before the groupings
    are read, as the report always did)."""
    p = "bias.counterfactual_prompts"
    tables, findings = view.tables, view.findings
    rows = tables.get(p)
    if not dicts(rows, "dimension", "a", "b", "decision_change_rate"):
        return []
    view.claim(p)
    out: list[TableView] = []
    if (t := errors_table(s)) is not None:
        out.append(t)
    body, marks = [], []
    for r in sorted(rows, key=lambda r: (-(num(r.get("decision_change_rate")) or 0))):
        dim = str(r.get("dimension"))
        key = f"{p}.decision_change_rate.{dim}.{r.get('a')}_vs_{r.get('b')}"
        f = findings.get(key)
        body.append([DIMENSIONS.get(dim, dim), f"{text(r.get('a')).replace('_', ' ')} vs "
                     f"{text(r.get('b')).replace('_', ' ')}", count(r.get("cells")), count(r.get("decision_changes")),
                     rate(r.get("decision_change_rate"), r.get("ci_low"), r.get("ci_high")), limit_of(f),
                     status_of(f), f"{pct(r.get('refusal_rate_a'))} / {pct(r.get('refusal_rate_b'))}",
                     pct(r.get("length_difference")), pct(r.get("token_overlap"))])
        marks.append("bad" if f is not None and f.status in (Status.FAIL, Status.ERROR) else "")
    out.append(TableView(
        key=p, kind="generative", title="Same request, different person",
        columns=["Swapped", "Pair", "Requests", "Decision changed", "Change rate [95% interval]", "Limit", "Result",
                 "Refused (A / B)", "Length difference", "Words in common"],
        rows=body, marks=marks, status_col=6,
        intro=("Templated requests (escalate a 311 report? is this applicant eligible?) were sent twice, identical "
               "except for the person's name, pronoun or stated ethnicity. The decision is read from the answer's "
               "first words; a fair tool decides the same for both. Length difference and words in common show how "
               "far the two answers differ even when the decision does not (policy 2.1).")))
    key = f"{p}.decisions"
    if dicts(tables.get(key), "dimension", "group", "answered"):
        view.claim(key)
        dec = tables[key]
        out.append(TableView(
            key=key, kind="generative", title="Decisions by group",
            columns=["Swapped", "Group", "Answered", "Yes / eligible", "No / not eligible", "Refused", "Unclear",
                     "Share yes"],
            rows=[[DIMENSIONS.get(str(r.get("dimension")), text(r.get("dimension"))),
                   text(r.get("group")).replace("_", " "), count(r.get("answered")), count(r.get("positive")),
                   count(r.get("negative")), count(r.get("refused")), count(r.get("unclear")),
                   pct(r.get("positive_share"))] for r in dec],
            collapsed=True, summary=f"Show the decisions of {len(dec)} groups"))
    key = f"{p}.changed_examples"
    if (t := recorded_table(key, view, "Requests whose decision changed", "",
                            empty="No decision changed when only the person changed.")) is not None:
        out.append(t)
    return [Section("Counterfactual prompts", f"s{view.index}-gen-counterfactual", out)]


# ---------------------------------------------------------------------------------------------- sections

def report_sections(s: SuiteOutcome, view: ReportContext) -> list[Section]:
    """The grouping sections, the suite-wide section and the counterfactual prompts, in that order."""
    p = f"{s.suite}."
    si, conf, tables, findings = view.index, view.confidence, view.tables, view.findings
    own = _counterfactual_prompt_sections(s, view)
    groupings: list[str] = []
    for k, rows in tables.items():
        g = (k.removeprefix(f"{p}group_rates.") if _is_group_table(rows)
             else k.removeprefix(f"{p}scores.") if k.startswith(f"{p}scores.") and dicts(rows, "group", "auc")
             else None)
        if g is not None and g not in groupings:
            groupings.append(g)
    ff = tables.get(f"{p}four_fifths")
    ff_rows = ff if dicts(ff, "grouping", "group", "adverse_impact_ratio") else []
    if ff_rows:
        view.claim(f"{p}four_fifths")
        groupings += [g for g in dict.fromkeys(str(r["grouping"]) for r in ff_rows) if g not in groupings]

    sections: list[Section] = []
    for gi, g in enumerate(groupings):
        out: list[TableView] = []
        for k, rows in tables.items():
            if not view.is_claimed(k) and _is_group_table(rows) and k.removeprefix(f"{p}group_rates.") == g:
                view.claim(k)
                out.append(_group_table(s.suite, k, rows, conf))
                if (rates := _rates_table(k, g, rows, conf)) is not None:
                    out.append(rates)
        if (disparities := _disparity_table(s, g, findings, conf)) is not None:
            out.append(disparities)
        if mine := [r for r in ff_rows if str(r["grouping"]) == g]:
            out.append(_four_fifths_table(s, g, mine, findings, conf, view.ratio_limit, len(ff_rows)))
        key = f"{p}scores.{g}"
        if not view.is_claimed(key) and dicts(tables.get(key), "group", "auc"):
            view.claim(key)
            rel = tables.get(f"{p}reliability.{g}")
            if dicts(rel, "group", "mean_score", "observed_rate"):
                view.claim(f"{p}reliability.{g}")
            out.append(_scores_table(key, g, tables[key], rel, conf, view.min_group_size))
        kind = " (intersection)" if "_x_" in g else ""
        sections.append(Section(f"By {grouping_title(g)}{kind}", f"s{si}-g{gi}", out))

    suite_wide: list[TableView] = []
    for k, rows in tables.items():
        if view.is_claimed(k):
            continue
        if k == f"{p}proxies" and dicts(rows, "feature", "protected"):
            suite_wide.append(_proxies_table(k, rows))
        elif k.startswith(f"{p}counterfactual.") and dicts(rows, "group", "flip_rate"):
            suite_wide.append(_counterfactual_table(s, k, rows, conf))
        elif k.startswith(f"{p}mitigation_hint.") and dicts(rows):
            suite_wide.append(_mitigation_table(k, rows))
        else:
            continue
        view.claim(k)
    if suite_wide:
        titles = {"proxies": "proxies", "counterfactual": "counterfactuals", "mitigation": "mitigation"}
        what = ", ".join(dict.fromkeys(titles[t.kind] for t in suite_wide))
        sections.append(Section(f"Across attributes: {what}", f"s{si}-all", suite_wide))
    kinds = {t.kind for sec in sections for t in sec.tables}
    if "groups" in kinds:
        view.define(*RATE_DEFINITIONS)
    if kinds & {"disparities", "scores"}:
        view.define(*DISPARITY_DEFINITIONS)
    if kinds & {"disparities", "four_fifths"}:
        view.explain(FOREST_GUIDE)
    return sections + own
