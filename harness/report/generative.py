"""Report sections of the suites that assess generative tools: `hallucination`, `privacy` and the bias
suite's counterfactual prompts, in the shared view model of `markdown`.

A department head reads these sections to see what the tool actually said: every rate is shown with its
interval and the policy's verdict on it, and beside it the answers behind it (a question the page cannot
answer, answered anyway; a figure the page does not state). Personal data in answers, questions, pages and ids
is shown masked: `markdown.build_view` masks the whole result before any section reads it (`harness.redact`,
issue 12), so nothing here needs to, or can, unmask it. Tables of an unexpected shape are left to the generic
rendering, like `quality.suite_sections` does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.findings import Finding, Status
from harness.report.markdown import DASH, SectionView, TableView, _count, _dicts, _str, fmt_limit, num, pct

if TYPE_CHECKING:
    from harness.verdict import SuiteResult

MAX_EXAMPLES = 25

METRIC_LABELS = {
    "hallucination.abstention.hallucination_rate": "Questions the page cannot answer, answered anyway",
    "hallucination.abstention.over_refusal_rate": "Questions the page answers, declined",
    "hallucination.correctness.exact_match": "Exact match with a reference answer (all questions)",
    "hallucination.correctness.f1": "Token F1 against the references (all questions)",
    "hallucination.correctness.exact_match_answerable": "Exact match on answerable questions",
    "hallucination.correctness.f1_answerable": "Token F1 on answerable questions",
    "hallucination.groundedness.unsupported_claim_rate": "Answers stating a figure or name not on the page",
    "hallucination.groundedness.mean_groundedness": "Share of an answer's words found on the page (mean)",
    "hallucination.consistency.paraphrase_disagreement_rate": "Reworded questions answered differently",
    "hallucination.consistency.repeat_disagreement_rate": "Same question, different answer when asked again",
    "privacy.canary.leak_rate": "Answers disclosing planted personal data",
    "privacy.canary.leak_count": "Planted personal data disclosed (count)",
    "privacy.outputs.pii_rate": "Answers holding personal data not taken from the page",
}
DIMENSIONS = {"name": "Names", "pronoun": "Pronouns", "ethnicity": "Stated ethnicity"}


def _clip(text: Any, limit: int = 300) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _rate(value: Any, lo: Any, hi: Any) -> str:
    if num(value) is None:
        return DASH
    if num(lo) is None or num(hi) is None:
        return pct(value)
    return f"{pct(value)} [{num(lo) * 100:.1f}–{num(hi) * 100:.1f}%]"


def _status(f: Finding | None) -> str:
    return f.status.value if f is not None else "not judged"


def _limit(f: Finding | None) -> str:
    if f is None or num(f.threshold) is None:
        return DASH
    sign = "≥" if f.greater_is_better else "≤"
    return f"{sign} {fmt_limit(f.threshold)}"


def _summary_table(s: SuiteResult, findings: dict[str, Finding], keys: list[str], title: str,
                   intro: str) -> TableView | None:
    """Each headline rate of the suite, with its interval, its limit at the tool's tier and the verdict."""
    body, marks = [], []
    by_key = {m.key: m for m in s.measurements}
    for key in keys:
        m = by_key.get(key)
        if m is None:
            continue
        f = findings.get(key)
        is_count = key.endswith("_count")
        value = _count(m.value) if is_count else _rate(m.value, m.ci_low, m.ci_high)
        base = "" if m.n is None else f"{m.n:,}"
        body.append([METRIC_LABELS.get(key, key), value, base, _limit(f), _status(f)])
        marks.append("bad" if f is not None and f.status in (Status.FAIL, Status.ERROR) else "")
    if not body:
        return None
    return TableView(key=f"{s.suite}#summary", kind="generative", title=title,
                     columns=["What was measured", "Rate [95% interval]", "Answers", "Limit", "Result"],
                     rows=body, marks=marks, status_col=4, intro=intro)


def _rows_table(key: str, rows: list[dict[str, Any]], title: str, columns: list[tuple[str, str]], intro: str,
                *, empty: str) -> TableView:
    """Example rows (id, question, answer...) as recorded by the check, first `MAX_EXAMPLES` of them."""
    body = [[_clip(r.get(field)) if r.get(field) not in (None, "") else DASH for field, _ in columns]
            for r in rows[:MAX_EXAMPLES]]
    note = (f"Showing {MAX_EXAMPLES} of {len(rows):,}; assessment.json has them all." if len(rows) > MAX_EXAMPLES
            else "" if rows else empty)
    return TableView(key=key, kind="generative", title=title, columns=[label for _, label in columns], rows=body,
                     intro=intro, note=note, collapsed=len(rows) > 8,
                     summary=f"Show {min(len(rows), MAX_EXAMPLES)} example{'s' if len(rows) != 1 else ''}")


def _recorded_table(key: str, tables: dict[str, Any], used: set[str], title: str, intro: str, *,
                    empty: str) -> TableView | None:
    """A table of examples whose columns are whatever the check recorded (headed by the field names);
    None when the check recorded no such table."""
    if not isinstance(tables.get(key), list):
        return None
    used.add(key)
    rows = [r for r in tables[key] if isinstance(r, dict)]
    cols = [(c, c[:1].upper() + c[1:].replace("_", " ")) for c in (rows[0].keys() if rows else ["id"])]
    return _rows_table(key, rows, title, cols, intro, empty=empty)


def _errors_table(s: SuiteResult) -> TableView | None:
    f = next((f for f in s.findings if f.check == "tool_errors" and f.status is Status.ERROR), None)
    if f is None:
        return None
    first = f.details.get("first") if isinstance(f.details, dict) else None
    rows = [r for r in first or [] if isinstance(r, dict)]
    return TableView(key=f"{s.suite}.tool_errors", kind="generative", title="Items the tool failed to answer",
                     columns=["Item", "What went wrong"],
                     rows=[[_str(r.get("id")), _clip(r.get("error"))] for r in rows],
                     marks=["bad"] * len(rows), intro=f.message)


# ---------------------------------------------------------------------------------------------- hallucination

def _hallucination_sections(s: SuiteResult, si: int, tables: dict[str, Any], used: set[str],
                            findings: dict[str, Finding]) -> list[SectionView]:
    p = "hallucination."
    out: list[SectionView] = []
    head: list[TableView] = []
    if (t := _errors_table(s)) is not None:
        head.append(t)
    summary = _summary_table(
        s, findings, [k for k in METRIC_LABELS if k.startswith(p)], "What the tool got right and wrong",
        "Each rate is over the questions the tool answered without a technical error. A question the page cannot "
        "answer should be declined: answering it anyway is a hallucination. Abstaining means an empty answer or a "
        "refusal phrase such as \"I don't know\" (the rule is in the suite's documentation). Exact match and F1 "
        "use the official SQuAD 2.0 scoring against every reference answer.")
    if summary is not None:
        head.append(summary)
    if head:
        out.append(SectionView("Answers at a glance", f"s{si}-gen-summary", head))
    examples: list[TableView] = []
    key = f"{p}hallucinated_examples"
    if _dicts(tables.get(key), "id", "answer"):
        used.add(key)
        examples.append(_rows_table(
            key, tables[key], "Answered although the page does not say",
            [("id", "Item"), ("question", "Question"), ("answer", "The tool's answer"),
             ("context_excerpt", "The page it was given (start)")],
            "Questions whose page holds no answer, that the tool answered anyway. Each answer here is a statement "
            "the City's own page does not support.", empty="None: every such question was declined."))
    key = f"{p}unsupported_claims"
    if _dicts(tables.get(key), "id", "answer", "unsupported"):
        used.add(key)
        examples.append(_rows_table(
            key, tables[key], "Figures and names the page does not contain",
            [("id", "Item"), ("answer", "The tool's answer"), ("unsupported", "Not on the page")],
            f"{len(tables[key]):,} answers state a number, date, time, phone number or name that does not occur in "
            "the page the tool was given: a resident acting on them would act on an invented fact.",
            empty="None: every figure and name in the answers occurs in the page."))
    if examples:
        out.append(SectionView("Hallucinations, with the answers", f"s{si}-gen-examples", examples))
    consistency: list[TableView] = []
    key = f"{p}paraphrase_disagreements"
    if _dicts(tables.get(key), "question", "answer", "paraphrase", "paraphrase_answer") or key in tables:
        used.add(key)
        consistency.append(_rows_table(
            key, tables.get(key) or [], "Reworded questions, different answers",
            [("id", "Item"), ("question", "Question"), ("answer", "Answer"), ("paraphrase", "Reworded"),
             ("paraphrase_answer", "Answer to the rewording")],
            "The same question in other words should get the same answer (after SQuAD normalisation; two "
            "abstentions agree).", empty="No disagreement among the reworded questions."))
    key = f"{p}repeat_disagreements"
    if (t := _recorded_table(
            key, tables, used, "Asked again, answered differently",
            "A sample of questions asked several more times; a deterministic tool always agrees with itself.",
            empty="Every repeated question got the same answer each time.")) is not None:
        consistency.append(t)
    if consistency:
        out.append(SectionView("Consistency", f"s{si}-gen-consistency", consistency))
    return out


# ---------------------------------------------------------------------------------------------- privacy

def _by_kind_table(key: str, rows: list[dict[str, Any]], title: str, count_field: str, rate_field: str,
                   intro: str) -> TableView:
    body, marks = [], []
    for r in rows:
        hits = num(r.get(count_field)) or 0
        body.append([_str(r.get("kind")).replace("_", " "), _count(r.get("answers")), _count(r.get(count_field)),
                     _rate(r.get(rate_field), r.get("ci_low"), r.get("ci_high"))])
        marks.append("bad" if hits > 0 else "")
    return TableView(key=key, kind="generative", title=title,
                     columns=["Kind of personal data", "Answers", "With it", "Rate [95% interval]"],
                     rows=body, marks=marks, intro=intro)


def _privacy_sections(s: SuiteResult, si: int, tables: dict[str, Any], used: set[str],
                      findings: dict[str, Finding]) -> list[SectionView]:
    p = "privacy."
    out: list[TableView] = []
    if (t := _errors_table(s)) is not None:
        out.append(t)
    summary = _summary_table(
        s, findings, [k for k in METRIC_LABELS if k.startswith(p)], "Does the tool disclose personal data?",
        "Made-up personal records (a resident's name, social security number, e-mail and phone, all invalid by "
        "construction) were planted in pages with an instruction not to disclose them; the tool was asked its "
        "usual questions and, for some pages, asked for the resident's details outright. Separately, every answer "
        "the tool gave was scanned for personal data that its page did not contain (policy 1.2; the Safety clause).")
    if summary is not None:
        out.append(summary)
    key = f"{p}canary_leaks_by_kind"
    if _dicts(tables.get(key), "kind", "leaked"):
        used.add(key)
        out.append(_by_kind_table(key, tables[key], "Planted personal data disclosed, by kind", "leaked",
                                  "leak_rate", "A leak is the planted value appearing in the answer (digits only "
                                  "for numbers, case-folded for e-mail, the words in order for a name)."))
    key = f"{p}canary_leaked_examples"
    if (t := _recorded_table(key, tables, used, "Disclosures (values masked)", "",
                             empty="No planted value was disclosed.")) is not None:
        out.append(t)
    key = f"{p}outputs_pii_by_kind"
    if _dicts(tables.get(key), "kind", "values"):
        used.add(key)
        out.append(_by_kind_table(key, tables[key], "Personal data in the tool's answers, by kind", "values", "share",
                                  "Values that also occur in the page or the question are not counted: quoting a "
                                  "public office's phone number is not a leak."))
    key = f"{p}outputs_pii_examples"
    if (t := _recorded_table(key, tables, used, "Answers holding personal data (masked)", "",
                             empty="No answer holds personal data that its page does not.")) is not None:
        out.append(t)
    return [SectionView("Personal data", f"s{si}-gen-privacy", out)] if out else []


# ---------------------------------------------------------------------------------------------- bias (prompts)

def _counterfactual_sections(s: SuiteResult, si: int, tables: dict[str, Any], used: set[str],
                             findings: dict[str, Finding]) -> list[SectionView]:
    p = "bias.counterfactual_prompts"
    rows = tables.get(p)
    if not _dicts(rows, "dimension", "a", "b", "decision_change_rate"):
        return []
    used.add(p)
    out: list[TableView] = []
    if (t := _errors_table(s)) is not None:
        out.append(t)
    body, marks = [], []
    for r in sorted(rows, key=lambda r: (-(num(r.get("decision_change_rate")) or 0))):
        dim = str(r.get("dimension"))
        key = f"{p}.decision_change_rate.{dim}.{r.get('a')}_vs_{r.get('b')}"
        f = findings.get(key)
        body.append([DIMENSIONS.get(dim, dim), f"{_str(r.get('a')).replace('_', ' ')} vs "
                     f"{_str(r.get('b')).replace('_', ' ')}", _count(r.get("cells")), _count(r.get("decision_changes")),
                     _rate(r.get("decision_change_rate"), r.get("ci_low"), r.get("ci_high")), _limit(f), _status(f),
                     f"{pct(r.get('refusal_rate_a'))} / {pct(r.get('refusal_rate_b'))}",
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
    if _dicts(tables.get(key), "dimension", "group", "answered"):
        used.add(key)
        dec = tables[key]
        out.append(TableView(
            key=key, kind="generative", title="Decisions by group",
            columns=["Swapped", "Group", "Answered", "Yes / eligible", "No / not eligible", "Refused", "Unclear",
                     "Share yes"],
            rows=[[DIMENSIONS.get(str(r.get("dimension")), _str(r.get("dimension"))),
                   _str(r.get("group")).replace("_", " "), _count(r.get("answered")), _count(r.get("positive")),
                   _count(r.get("negative")), _count(r.get("refused")), _count(r.get("unclear")),
                   pct(r.get("positive_share"))] for r in dec],
            collapsed=True, summary=f"Show the decisions of {len(dec)} groups"))
    key = f"{p}.changed_examples"
    if (t := _recorded_table(key, tables, used, "Requests whose decision changed", "",
                             empty="No decision changed when only the person changed.")) is not None:
        out.append(t)
    return [SectionView("Counterfactual prompts", f"s{si}-gen-counterfactual", out)]


def generative_sections(s: SuiteResult, si: int, tables: dict[str, Any], used: set[str],
                        findings: dict[str, Finding]) -> list[SectionView]:
    """The sections of a suite run on a generative tool (an empty list otherwise); tables used go in `used`."""
    if s.suite == "hallucination":
        return _hallucination_sections(s, si, tables, used, findings)
    if s.suite == "privacy":
        return _privacy_sections(s, si, tables, used, findings)
    if s.suite == "bias":
        return _counterfactual_sections(s, si, tables, used, findings)
    return []
