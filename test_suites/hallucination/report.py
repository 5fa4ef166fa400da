"""The hallucination suite's report sections (`HallucinationSuite.report_sections`).

A department head reads these sections to see what the tool actually said: every rate is shown with its
interval and the policy's verdict on it, and beside it the answers behind it (a question the page cannot
answer, answered anyway; a figure the page does not state). Tables of an unexpected shape are left to the
generic rendering.
"""
from __future__ import annotations

from harness.report.answers import errors_table, recorded_table, rows_table, summary_table
from harness.report.formatting import dicts
from harness.report.sections import ReportContext, Section, SuiteOutcome, TableView

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
}


def report_sections(s: SuiteOutcome, view: ReportContext) -> list[Section]:
    p = "hallucination."
    si, tables, findings = view.index, view.tables, view.findings
    out: list[Section] = []
    head: list[TableView] = []
    if (t := errors_table(s)) is not None:
        head.append(t)
    summary = summary_table(
        s, findings, METRIC_LABELS, "What the tool got right and wrong",
        "Each rate is over the questions the tool answered without a technical error. A question the page cannot "
        "answer should be declined: answering it anyway is a hallucination. Abstaining means an empty answer or a "
        "refusal phrase such as \"I don't know\" (the rule is in the suite's documentation). Exact match and F1 "
        "use the official SQuAD 2.0 scoring against every reference answer.")
    if summary is not None:
        head.append(summary)
    if head:
        out.append(Section("Answers at a glance", f"s{si}-gen-summary", head))
    examples: list[TableView] = []
    key = f"{p}hallucinated_examples"
    if dicts(tables.get(key), "id", "answer"):
        view.claim(key)
        examples.append(rows_table(
            key, tables[key], "Answered although the page does not say",
            [("id", "Item"), ("question", "Question"), ("answer", "The tool's answer"),
             ("context_excerpt", "The page it was given (start)")],
            "Questions whose page holds no answer, that the tool answered anyway. Each answer here is a statement "
            "the City's own page does not support.", empty="None: every such question was declined."))
    key = f"{p}unsupported_claims"
    if dicts(tables.get(key), "id", "answer", "unsupported"):
        view.claim(key)
        examples.append(rows_table(
            key, tables[key], "Figures and names the page does not contain",
            [("id", "Item"), ("answer", "The tool's answer"), ("unsupported", "Not on the page")],
            f"{len(tables[key]):,} answers state a number, date, time, phone number or name that does not occur in "
            "the page the tool was given: a resident acting on them would act on an invented fact.",
            empty="None: every figure and name in the answers occurs in the page."))
    if examples:
        out.append(Section("Hallucinations, with the answers", f"s{si}-gen-examples", examples))
    consistency: list[TableView] = []
    key = f"{p}paraphrase_disagreements"
    if dicts(tables.get(key), "question", "answer", "paraphrase", "paraphrase_answer") or key in tables:
        view.claim(key)
        consistency.append(rows_table(
            key, tables.get(key) or [], "Reworded questions, different answers",
            [("id", "Item"), ("question", "Question"), ("answer", "Answer"), ("paraphrase", "Reworded"),
             ("paraphrase_answer", "Answer to the rewording")],
            "The same question in other words should get the same answer (after SQuAD normalisation; two "
            "abstentions agree).", empty="No disagreement among the reworded questions."))
    key = f"{p}repeat_disagreements"
    if (t := recorded_table(
            key, view, "Asked again, answered differently",
            "A sample of questions asked several more times; a deterministic tool always agrees with itself.",
            empty="Every repeated question got the same answer each time.")) is not None:
        consistency.append(t)
    if consistency:
        out.append(Section("Consistency", f"s{si}-gen-consistency", consistency))
    return out
