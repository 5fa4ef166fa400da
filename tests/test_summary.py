"""The plain summary the report opens with and the decision memo is made of (issue 15): the verdict in one
sentence, one reason per check in words (never a metric key; p-values as "p < 0.001"), and what was not tested,
never claiming a SKIPPED suite was tested. Also the console's width when piped. No store: recorded results."""
from __future__ import annotations

import html as htmllib
import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.assessment import AssessmentResult
from harness.findings import Finding, Severity, Status
from harness.report import render
from harness.report.memo import DecisionView, build_memo, memo_html, memo_markdown
from harness.report.summary import check_title, humane, plain_p
from harness.report.view import build_view
from harness.verdict import SuiteResult, Verdict

RESOURCES = Path(__file__).parent / "resources"
METRIC_KEY = re.compile(r"\b[a-z_]+\.[a-z_]+\.[a-z_]+")  # bias.four_fifths.adverse_impact_ratio ...
SCIENTIFIC = re.compile(r"\d(?:\.\d+)?e-\d+")


@pytest.fixture(scope="module")
def v2() -> AssessmentResult:
    """RentRank's recorded FAIL (bias suite): ten reasons today, six of them the four-fifths rule again."""
    return AssessmentResult.from_dict(json.loads((RESOURCES / "assessment_v2_fail.json").read_text("utf-8")))


@pytest.mark.parametrize(("p", "text"), [
    (9.58e-296, "p < 0.001"), (0.0, "p < 0.001"), (0.000999, "p < 0.001"), (0.001, "p = 0.001"),
    (0.0049, "p = 0.005"), (0.0312, "p = 0.03"), (0.26, "p = 0.26"), (1.0, "p = 1.00"),
])
def test_p_values_are_written_for_a_reader(p: float, text: str) -> None:
    assert plain_p(p) == text


def test_ten_reasons_become_three_checks_in_words(v2: AssessmentResult) -> None:
    s = build_view(v2).summary
    assert len(v2.reasons) == 10
    assert [(r.title, r.findings) for r in s.reasons] == [
        ("Selection rates across groups", 2), ("The four-fifths rule (adverse impact)", 6),
        ("Error rates across groups (equalized odds)", 2)]
    assert s.findings == 10  # every reason of the verdict is accounted for, none twice
    assert s.sentence == (
        "RentRank 2.1 failed 3 blocking checks, so it may not be used unless it is remediated and assessed again "
        "(policy 4.2): selection rates across groups, the four-fifths rule (adverse impact) and error rates across "
        "groups (equalized odds).")
    # the clearest case of the four-fifths rule, its own "p = 5.28e-26" sentence replaced by one plain statement
    assert s.reasons[1].text == (
        "Within race, 'Black' is selected at 0.64 times the rate of 'White' (25.6% against 40.1%; 95% CI 0.59–0.69); "
        "the four-fifths rule requires at least 0.80. This is statistically significant (p < 0.001). 5 more results "
        "of this check failed; the full report lists each.")
    for r in s.reasons:
        assert not METRIC_KEY.search(r.title + " " + r.text), r
        assert not SCIENTIFIC.search(r.text), r
    assert s.tested == ["bias on rental-assistance"]


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_report_opens_with_the_summary_and_keeps_the_detail(v2: AssessmentResult, fmt: str) -> None:
    text = htmllib.unescape(render(v2, fmt))
    top = text[:text.index("At a glance")]
    assert top.count("This is statistically significant (p < 0.001)") == 1  # only the four-fifths case has a test
    assert len(re.findall(r"^- \*\*" if fmt == "md" else r'<li class="reason ', top, flags=re.MULTILINE)) == 3
    assert "RentRank 2.1 failed 3 blocking checks" in top
    assert not METRIC_KEY.search(re.sub(r"<style>.*?</style>", "", top, flags=re.DOTALL).replace("report.html", ""))
    # the detail below keeps every finding with its key and the test as the rule wrote it
    rest = text[text.index("At a glance"):]
    assert "bias.four_fifths.adverse_impact_ratio.sex_x_race.Female.Black" in rest
    assert "Holm-adjusted p = 5.28e-26 over 14 comparisons" in rest


def _finding(check: str, status: Status, message: str, **over: Any) -> Finding:
    return Finding(suite="bias", check=check, metric="ratio", status=status, message=message, dataset="city",
                   **over)


def _result(suites: tuple[SuiteResult, ...], verdict: Verdict, reasons: list[str],
            category: str = "generative") -> AssessmentResult:
    tool = {"id": "helper", "name": "311 Helper", "version": "1.0", "category": category, "risk_tier": "medium",
            "intended_use": "Answers residents' questions.", "department": "311", "vendor": "Acme"}
    policy = {"name": "p", "version": "1", "digest": "ab" * 32, "label": "p@1",
              "document": {"required_suites": {"generative": ["hallucination", "privacy", "security"]}}}
    return AssessmentResult(tool=tool, policy=policy, datasets=[{"name": "city", "rows": 120, "sha256": "cd" * 32}],
                            suites=suites, verdict=verdict, reasons=reasons, seed=1,
                            started_at="2026-12-01T10:00:00+00:00", run_id="f" * 32)


def test_a_skipped_suite_is_never_called_tested() -> None:
    """Adversarial: privacy could not run (the tool cannot be asked new questions), security was left out with
    --suite; the summary and the memo must list both as not tested, and neither as tested."""
    ran = SuiteResult(suite="hallucination", suite_version="2", dataset="city", findings=(
        _finding("abstention", Status.PASS, "The tool declined 110 of 120 unanswerable questions."),))
    privacy = SuiteResult(suite="privacy", suite_version="1", dataset="city",
                          skipped_reason="the tool is a file of answers; it cannot be asked new questions")
    reasons = ["not tested: suite 'privacy', required for generative tools by policy 6.4 (the tool is a file of "
               "answers; it cannot be asked new questions)"]
    result = _result((ran, privacy), Verdict.NEEDS_REVIEW, reasons)
    s = build_view(result).summary
    assert s.tested == ["hallucination on city"]
    assert [(u.what, u.where, u.why, u.required) for u in s.not_tested] == [
        ("The security suite", "every dataset",
         "this run left it out, although the policy requires it for generative tools (policy 6.4)", True),
        ("The privacy suite", "city", "the tool is a file of answers", True)]
    assert s.sentence == ("311 Helper 1.0 failed no blocking check, but 2 required checks could not be tested, so a "
                          "person must decide before it is used (policy 2.3, 4.1).")
    md = memo_markdown(build_memo(result))
    assert "Tested: hallucination on city." in md
    tested_line = next(line for line in md.splitlines() if line.startswith("Tested:"))
    assert "privacy" not in tested_line and "security" not in tested_line
    assert "- **The privacy suite** (city): the tool is a file of answers *Required: the verdict can be at best " \
           "NEEDS REVIEW.*" in md


def test_skipped_checks_are_not_tested_or_did_not_apply() -> None:
    findings = (
        _finding("four_fifths", Status.PASS, "Within sex, 'F' is selected at 0.93 times the rate of 'M'."),
        _finding("counterfactual", Status.SKIPPED, "the tool is a file of outputs; it cannot be called on changed "
                 "inputs", severity=Severity.BLOCKING),
        _finding("proxies", Status.SKIPPED, "the tool takes none of sex, race as input, so there is nothing to flip",
                 details={"not_applicable": True}),
    )
    result = _result((SuiteResult(suite="bias", suite_version="3", dataset="city", findings=findings),),
                     Verdict.NEEDS_REVIEW, ["not tested: bias.counterfactual on city: the tool is a file of outputs; "
                                            "it cannot be called on changed inputs"], category="predictive")
    s = build_view(result).summary
    assert [(u.what, u.why, u.required) for u in s.not_tested] == [
        ("Decisions that change with a protected attribute or its stand-in", "the tool is a file of outputs", True)]
    assert [(u.what, u.why) for u in s.not_applicable] == [
        ("Inputs that stand in for a protected attribute",
         "the tool takes none of sex, race as input, so there is nothing to flip")]


def test_a_memo_made_without_the_store_claims_no_decision(v2: AssessmentResult) -> None:
    memo = build_memo(v2)
    assert memo.decision.state == "unknown" and not memo.decision.approved
    md, html = memo_markdown(memo), memo_html(memo)
    assert "## Decision: unknown" in md and "Approved by" not in md and "Approved by" not in html
    assert "<script" not in html and not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)


def test_people_s_words_in_a_decision_are_masked(v2: AssessmentResult) -> None:
    """A rationale typed by a reviewer is free text: a resident's details in it never reach the memo."""
    decision = DecisionView(state="waived", headline="Waived by cio.", rows=[
        ("Rationale", "the applicant at 505-768-2000 (SSN 123-45-6789) complained"),
        ("Conditions", "write to jane.doe@example.org monthly")], gate="OPEN: waived")
    md = memo_markdown(build_memo(v2, decision))
    assert "- **Rationale:** the applicant at ***-***-2000 (SSN ***-**-6789) complained" in md
    assert "- **Conditions:** write to j***@example.org monthly" in md
    assert "123-45-6789" not in md and "505-768-2000" not in md and "jane.doe" not in md


def test_a_check_without_a_title_is_named_from_its_name() -> None:
    assert check_title("bias", "four_fifths", {"bias": {"four_fifths": "The four-fifths rule"}}) == \
        "The four-fifths rule"
    assert check_title("mine", "equal_opportunity", {}) == "Equal opportunity"
    assert humane("Within sex_x_race, 'F & B'") == "Within sex × race, 'F & B'"
    assert humane("sex_x_race_x_age") == "sex × race × age"


def test_every_built_in_check_has_a_plain_title() -> None:
    """A check the memo would otherwise name from its code name ("fnr parity")."""
    from importlib.metadata import entry_points

    from harness.plugins import GROUP

    for ep in entry_points(group=GROUP):
        suite = ep.load()
        produced = {name.split(".")[0] for name in suite.produces or ()}
        assert produced <= set(suite.check_titles), (suite.name, produced - set(suite.check_titles))
        assert all(t and t[0].isupper() and "_" not in t for t in suite.check_titles.values()), suite.name


def test_piped_console_is_120_wide_and_breaks_no_word(v2: AssessmentResult,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli.console import PIPED_WIDTH, make_console, print_verdicts

    monkeypatch.delenv("COLUMNS", raising=False)
    console = make_console()
    buffer = io.StringIO()
    console.file = buffer
    assert not console.is_terminal and console.width == PIPED_WIDTH == 120
    print_verdicts(console, [v2])
    out = buffer.getvalue()
    table = out[:out.index("because:")]
    assert max(len(line) for line in table.splitlines()) <= 120
    cells = " ".join(" ".join(seg.strip() for seg in line.split("│")) for line in table.splitlines())
    words = ["Selection", "rates", "across", "groups,", "race:", "0.63", "(needs", ">=", "0.80)", "FAIL"]
    assert all(re.search(rf"(?<!\S){re.escape(w)}(?!\S)", cells) for w in words), table
    # the reasons below: one line each, whole, key first (an analyst greps the log for it)
    assert ("  - bias.four_fifths.adverse_impact_ratio.race.Black: Within race, 'Black' is selected at 0.64 times "
            "the rate of 'White'") in out
    monkeypatch.setenv("COLUMNS", "90")
    assert make_console().width == 90


def test_an_error_tested_nothing() -> None:
    ran = SuiteResult(suite="hallucination", suite_version="2", dataset="city")
    result = _result((ran,), Verdict.ERROR, ["the endpoint refused the connection"])
    result = replace(result, error={"type": "ToolError", "message": "the endpoint refused the connection"})
    s = build_view(result).summary
    assert s.sentence == ("The assessment of 311 Helper 1.0 could not complete (ToolError), so nothing was judged and "
                          "this run cannot support an approval (policy 4.2).")
    assert s.tested == [] and s.reasons == []
    assert [(u.what, u.why) for u in s.not_tested] == [
        ("Every check", "the assessment could not complete: the endpoint refused the connection")]
