"""The explainability suite's report sections (`ExplainabilitySuite.report_sections`): the inputs the decisions
rest on, the reliance findings on protected attributes and proxies, the reasons for individual decisions (how
often each input is the top reason, examples a caseworker could read out, their stability and the comparison
between groups), and SHAP values when they were computed.

Each section claims the tables it knows; anything else, or a known table of an unexpected shape, is left for the
generic rendering.
"""
from __future__ import annotations

from typing import Any

from harness.findings import Finding
from harness.report.formatting import DASH, count, dicts, fmt_limit, num, pct, pct_with_ci, text, value_with_ci
from harness.report.sections import ReportContext, Section, SuiteOutcome, TableView

SUITE = "explainability"
SCORING = {"balanced_accuracy": "balanced accuracy", "accuracy": "accuracy", "roc_auc": "AUC"}
GUIDE = (
    "Explainability: an input's importance is the share of the tool's decisions that change when that input is "
    "scrambled among the sampled people (permutation importance against the tool's own decisions), with Student's "
    "t interval over the permutations. A protected attribute, or an input that stands in for one, above the "
    "policy's share is a finding naming it. Reason codes are the inputs whose own value moved a person's score "
    "most towards the decision taken, compared with a typical value.")


def _about(view: ReportContext, key: str) -> dict[str, Any]:
    rows = view.tables.get(key)
    if dicts(rows):
        view.claim(key)
        return rows[0]
    return {}


def _importance(s: SuiteOutcome, view: ReportContext) -> list[TableView]:
    key = f"{SUITE}.importance"
    rows = view.tables.get(key)
    if not dicts(rows, "feature", "rank", "decision_share"):
        return []
    view.claim(key)
    about = _about(view, f"{key}.about")
    top_k = int(num(about.get("top_k")) or len(rows))
    scoring = SCORING.get(str(about.get("scoring")), text(about.get("scoring")))
    body, marks = [], []
    for r in rows[:top_k]:
        body.append([count(r.get("rank")), text(r.get("feature")), pct_with_ci(r, "decision_share"),
                     value_with_ci(r.get("score_drop"), r.get("score_drop_low"), r.get("score_drop_high")),
                     text(r.get("sensitive"), "")])
        marks.append("over" if r.get("sensitive") else "")
    note = f"{len(rows) - top_k} more inputs in assessment.json." if len(rows) > top_k else ""
    if about.get("scoring_note"):
        note = f"{note} {str(about['scoring_note']).capitalize()}.".strip()
    intro = (f"Each input was scrambled among the sampled people {count(about.get('repeats'))} times "
             f"({text(about.get('sampled'), 'on the reference data')}), and the tool asked again: the share of its "
             f"decisions that changed says how much they rest on that input; the drop in {scoring} against the "
             f"true outcome says how much the input helps it be right. For a scikit-learn model these are "
             f"scikit-learn's permutation_importance (random_state={text(about.get('random_state'))}).")
    return [TableView(key=key, kind="importance", title="What the decisions rest on",
                      columns=["Rank", "Input", f"Decisions changed when scrambled [{view.confidence} CI]",
                               f"Drop in {scoring} [{view.confidence} CI]", "Protected attribute or proxy"],
                      rows=body, marks=marks, intro=intro, note=note)]


def _reliance(s: SuiteOutcome, view: ReportContext) -> list[TableView]:
    judged = [f for f in s.findings if f.check in ("protected_reliance", "proxy_reliance")
              and f.metric == "decision_share"]
    if not judged:
        return []
    body, marks = [], []
    for f in sorted(judged, key=lambda f: (f.check, f.group or "")):
        body.append([text(f.group, "none"), _stands_for(f), pct(f.value) if f.group else DASH,
                     f"{pct(f.ci_low)} – {pct(f.ci_high)}" if num(f.ci_low) is not None and f.group else DASH,
                     count(f.details.get("rank")) if f.details.get("rank") else DASH,
                     f"≤ {pct(f.threshold)}" if num(f.threshold) is not None else DASH,
                     f.severity.value, f.status.value])
        marks.append("over" if f.status.value in ("FAIL", "REVIEW") else "")
    return [TableView(
        key=f"{SUITE}.reliance#findings", kind="reliance", title="Reliance on protected attributes and their proxies",
        columns=["Input", "What it is", "Decisions changed", f"{view.confidence} CI", "Rank", "Limit", "Severity",
                 "Status"], rows=body, marks=marks, status_col=7,
        intro=("A protected attribute the tool reads, or an input that predicts one beyond the policy's proxy limits "
               "(the bias suite's), must not change more of the tool's decisions than the policy allows when "
               "scrambled. FAIL needs the whole interval above the limit (the decision rule's test); an attribute "
               "the tool does not read scores 0."))]


def _stands_for(f: Finding) -> str:
    if f.check == "protected_reliance":
        return "protected attribute" + ("" if f.details.get("input", True) else " (not an input)")
    why = f.details.get("why")
    if isinstance(why, list) and why:
        return "proxy: " + "; ".join(str(w) for w in why)
    return "no input is a proxy" if not f.group else "proxy"


def _reasons(s: SuiteOutcome, view: ReportContext) -> list[TableView]:
    out: list[TableView] = []
    about = _about(view, f"{SUITE}.reason_codes.about")
    key = f"{SUITE}.reason_codes.frequency"
    rows = view.tables.get(key)
    if dicts(rows, "feature", "top_reason_favourable", "top_reason_unfavourable", "among_reasons"):
        view.claim(key)
        out.append(TableView(
            key=key, kind="reasons", title="Top reasons for individual decisions",
            columns=["Input", "Top reason (favourable)", "Top reason (unfavourable)", "Among the reasons",
                     "Protected attribute or proxy"],
            rows=[[text(r.get("feature")), count(r.get("top_reason_favourable")),
                   count(r.get("top_reason_unfavourable")),
                   f"{count(r.get('among_reasons'))} ({pct(r.get('share_among_reasons'))})",
                   text(r.get("sensitive"), "")] for r in rows],
            marks=["over" if r.get("sensitive") else "" for r in rows],
            intro=(f"{count(about.get('decisions'))} decisions {text(about.get('sampled'), '')}, up to "
                   f"{count(about.get('reasons_per_decision'))} reasons each, by {text(about.get('method'))}. "
                   f"{count(about.get('without_reason'))} decisions had no reason.")))
    key = f"{SUITE}.reason_codes.examples"
    rows = view.tables.get(key)
    if isinstance(rows, list):
        view.claim(key)
        if dicts(rows, "id", "reasons"):
            out.append(TableView(
                key=key, kind="reasons", title="Unfavourable decisions and their reasons (first sampled)",
                columns=["Id", "Score", "Reasons (change in the score's log-odds due to the person's own value)"],
                rows=[[text(r.get("id")), value_with_ci(r.get("score"), None, None), text(r.get("reasons"))]
                      for r in rows],
                intro="What a caseworker could tell the resident: the inputs that lowered the score most, "
                      "compared with a typical applicant's value."))
    key = f"{SUITE}.reason_codes.stability"
    rows = view.tables.get(key)
    if dicts(rows, "mean_overlap", "explained_twice"):
        view.claim(key)
        r = rows[0]
        f = view.findings.get(f"{SUITE}.reason_codes.stability")
        out.append(TableView(
            key=key, kind="reasons", title="Are the same decisions explained the same way under noise?",
            columns=["Noise (SD)", "Decisions", "Changed by the noise", "Explained twice",
                     f"Mean overlap of reasons [{view.confidence} CI]", "Identical", "Nothing in common", "Status"],
            rows=[[f"{num(r.get('noise_sd')) or 0:g}", count(r.get("decisions")), count(r.get("changed_by_noise")),
                   count(r.get("explained_twice")), pct_with_ci({"v": r.get("mean_overlap"), "v_low": r.get("low"),
                                                                 "v_high": r.get("high")}, "v"),
                   count(r.get("identical")), count(r.get("none_in_common")), f.status.value if f else DASH]],
            status_col=7,
            intro=("Gaussian noise on each numeric input (the degradation suite's perturbation; protected attributes "
                   "untouched), the tool asked again, and the decisions that did not change explained again: the "
                   "overlap is the share of reasons given both times"
                   + (f"; the policy asks for at least {pct(f.threshold)}." if f and num(f.threshold) is not None
                      else "."))))
    for key in sorted(k for k in view.tables if k.startswith(f"{SUITE}.reason_codes.groups.")):
        rows = view.tables[key]
        if not dicts(rows, "group", "n", "top_reason_sensitive"):
            continue
        view.claim(key)
        attr = key.rsplit(".", 1)[1]
        f = view.findings.get(f"{SUITE}.reason_codes.sensitive_share_gap.{attr}")
        features = f.details.get("features") if f else None
        what = " or ".join(features) if isinstance(features, list) and features else f"{attr} or a proxy for it"
        out.append(TableView(
            key=key, kind="reasons", title=f"Decisions whose top reason is {what}, by {attr}",
            columns=["Group", "Decisions", "Top reason is " + attr + " or a proxy", f"Share [{view.confidence} CI]"],
            rows=[[text(r.get("group")) + (" · too few" if r.get("insufficient") else ""), count(r.get("n")),
                   count(r.get("top_reason_sensitive")), pct_with_ci(r, "share")] for r in rows],
            intro=(f.message if f else "")))
    return out


def _shap(s: SuiteOutcome, view: ReportContext) -> list[TableView]:
    key = f"{SUITE}.shap"
    rows = view.tables.get(key)
    if not dicts(rows, "feature", "mean_abs"):
        return []
    view.claim(key)
    about = _about(view, f"{key}.about")
    return [TableView(
        key=key, kind="shap", title="SHAP values",
        columns=["Rank", "Input", f"Mean |SHAP| [{view.confidence} CI]", "Mean SHAP"],
        rows=[[count(r.get("rank")), text(r.get("feature")), value_with_ci(r.get("mean_abs"), r.get("low"),
                                                                          r.get("high")),
               value_with_ci(r.get("mean"), None, None)] for r in rows],
        intro=(f"{text(about.get('explainer'))} (shap {text(about.get('shap_version'))}) on the "
               f"{text(about.get('output'))}, {count(about.get('decisions'))} decisions "
               f"{text(about.get('sampled'), '')}, {count(about.get('background_rows'))} background rows; the values "
               f"of each decision add up to its output minus the average output (largest error "
               f"{fmt_limit(about.get('max_additivity_error'))})."))]


def report_sections(s: SuiteOutcome, view: ReportContext) -> list[Section]:
    tables = [*_importance(s, view), *_reliance(s, view), *_reasons(s, view), *_shap(s, view)]
    if not tables:
        return []
    view.explain(GUIDE)
    view.define("Decisions changed when scrambled: the share of the sampled decisions that come out differently when "
                "one input's values are shuffled among the sampled people (permutation importance).",
                "Proxy: an input that predicts a protected attribute beyond the policy's limits (Cramér's V, or a "
                "one-input AUC), or that the dataset card declares a proxy.",
                "Reason codes: for one decision, the inputs whose own value moved the score most towards it, "
                "compared with the reference data's median or most common value (occlusion).")
    return [Section("Explainability", f"s{view.index}-explainability", tables)]
