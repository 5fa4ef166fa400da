"""Markdown and HTML reports: rendered from an AssessmentResult alone, in the promised order, escaped,
self-contained, deterministic, and never crashing on an unusual but valid result."""
from __future__ import annotations

import html as htmllib
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.assessment import AssessmentResult
from harness.check import Measurement
from harness.findings import Finding, Severity, Status
from harness.report import render, write_reports
from harness.verdict import SuiteResult, Verdict

RESOURCES = Path(__file__).parent / "resources"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
FOUR_FIFTHS_MSG = "Within sex, 'F' is selected at 0.51 times the rate of 'M'"


def visible(text: str) -> str:
    """What a reader sees: the body's text without tags, styles or plots, entities decoded, one space."""
    if not text.startswith("<!DOCTYPE html>"):
        return text
    body = text[text.index("<body>"):]
    body = re.sub(r"<svg\b.*?</svg>", " ", body, flags=re.DOTALL)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture(scope="module")
def fail_result() -> AssessmentResult:
    """A real FAIL assessment (bias suite, 3 groupings), trimmed: its measurements are dropped."""
    return AssessmentResult.from_dict(json.loads((RESOURCES / "assessment_fail.json").read_text("utf-8")))


@pytest.fixture(scope="module")
def fail_html(fail_result: AssessmentResult) -> str:
    return render(fail_result, "html")


@pytest.fixture(scope="module")
def fail_md(fail_result: AssessmentResult) -> str:
    return render(fail_result, "md")


def _tool(name: str = "Eligibility screener", **over: Any) -> dict[str, Any]:
    tool = {
        "id": "screener", "name": name, "version": "2.1", "vendor": "Acme", "department": "Housing",
        "category": "predictive", "status": "proposed", "risk_tier": "high",
        "intended_use": "Ranks applications.", "automation_level": "Recommends only.",
        "human_oversight": "A caseworker decides.",
        "disclosure": {"model_type": "gradient boosting", "training_data_source": "2019-2023 applications",
                       "data_access_basis": "data-sharing agreement", "known_limitations": "small towns",
                       "bias_mitigation": "reweighing"},
        "adapter": {"kind": "predictions", "path": "p.csv"},
    }
    return tool | over


POLICY = {"name": "p", "version": "1", "digest": "ab" * 32, "label": "p@1 sha256:abababababab",
          "document": {"min_group_size": 30, "confidence_level": 0.95,
                       "thresholds": {"bias.four_fifths.adverse_impact_ratio": {
                           "limit": 0.8, "greater_is_better": True, "by_tier": {"low": 0.7},
                           "policy_section": "4.3"}},
                       "citations": {"4.3": "Regular re-assessment."}}}


def _row(group: str, n: int, sel: float | None, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"group": group, "n": n, "reference": False, "insufficient": False,
                           "adverse_impact_ratio": None}
    for metric in ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "base_rate"):
        row[metric] = sel
        row[f"{metric}_low"] = None if sel is None else max(0.0, sel - 0.05)
        row[f"{metric}_high"] = None if sel is None else min(1.0, sel + 0.05)
    return row | over


def _review_result(**over: Any) -> AssessmentResult:
    """A NEEDS_REVIEW result built by hand: a tiny group, undefined rates, a finding without value or
    interval, a skipped suite and an unknown suite with a table of another shape."""
    bias = SuiteResult(
        suite="bias", suite_version="1", dataset="city-apps",
        findings=(
            Finding(suite="bias", check="demographic_parity", metric="ratio", status=Status.PASS,
                    message="Within race, 'B' is selected at 0.93 times the rate of 'A'.", value=0.93,
                    ci_low=0.85, ci_high=0.99, threshold=0.8, greater_is_better=True, group="race",
                    policy_section="4.3", benchmark="EEOC four-fifths rule", dataset="city-apps"),
            Finding(suite="bias", check="group_rates", metric="group_size", status=Status.INSUFFICIENT,
                    message="group 'Pacific Islander' (race) has only 12 rows, under the policy minimum of 30.",
                    value=12.0, threshold=30.0, greater_is_better=True, group="race.Pacific Islander", n=12,
                    policy_section="2.1", dataset="city-apps"),
            Finding(suite="bias", check="equalized_odds", metric="difference", status=Status.REVIEW,
                    severity=Severity.BLOCKING, message="True-positive rates could not be compared.",
                    value=None, ci_low=None, ci_high=None, threshold=0.1, greater_is_better=False,
                    group="race", policy_section="4.2", dataset="city-apps"),
        ),
        measurements=(Measurement("bias", "group_rates", "selection_rate", float("nan"), group="race.C"),),
        tables={"bias.group_rates.race": [
            _row("A", 900, 0.5, reference=True, adverse_impact_ratio=1.0),
            _row("B", 700, 0.465, adverse_impact_ratio=0.93),
            _row("Pacific Islander", 12, 0.25, insufficient=True, adverse_impact_ratio=0.5),
            _row("C", 40, None),
        ]},
    )
    skipped = SuiteResult(suite="hallucination", suite_version="0", dataset="city-apps",
                          skipped_reason="suite 'hallucination' assesses question-answering data")
    other = SuiteResult(suite="drift", suite_version="3", dataset="city-apps",
                        tables={"drift.columns": [{"column": "income", "psi": 0.31, "flagged": True},
                                                  {"column": "age", "psi": float("nan"), "note": {"a": 1}}]})
    base = AssessmentResult(
        tool=_tool(), policy=POLICY, datasets=[{"name": "city-apps", "version": "3", "rows": 1652,
                                                "sha256": "cd" * 32}],
        suites=(bias, skipped, other), verdict=Verdict.NEEDS_REVIEW,
        reasons=["bias.equalized_odds.difference.race REVIEW: True-positive rates could not be compared."],
        seed=7, started_at="2026-11-27T10:13:05+00:00", run_id="run123",
    )
    return replace(base, **over)


def _error_result(**over: Any) -> AssessmentResult:
    base = AssessmentResult(
        tool=_tool(), policy=POLICY, datasets=[], suites=(), verdict=Verdict.ERROR,
        reasons=["vendor endpoint https://vendor.example/score timed out after 30 s"], seed=1,
        error={"type": "ToolError", "message": "vendor endpoint https://vendor.example/score timed out after 30 s",
               "dataset": "city-apps"},
    )
    return replace(base, **over)


# ------------------------------------------------------------------------------------------ FAIL example

def test_fail_banner_and_gate_sentence(fail_md: str, fail_html: str) -> None:
    assert "**Verdict: FAIL.**" in fail_md
    assert "may not be used unless it is remediated" in fail_md
    assert 'class="verdict verdict-fail"' in fail_html
    assert '<div class="value">FAIL</div>' in fail_html
    assert "City AI Policy 4.2" in fail_html.split("</section>")[0].split('class="verdict')[1]


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_findings_worst_first_with_threshold_direction_and_section(fail_result: AssessmentResult, fmt: str) -> None:
    text = visible(render(fail_result, fmt))
    findings = text[text.index("Findings (12)"):]
    first_pass = findings.index("Within race, 'B' is selected at 0.98")  # a PASS finding
    assert 0 <= findings.index(FOUR_FIFTHS_MSG) < first_pass
    # blocking FAILs come before advisory FAILs
    assert findings.index("equalized-odds difference 0.305") < findings.index("a gap of 0.299")
    assert "threshold >= 0.80" in findings and "threshold <= 0.10" in findings
    assert "City AI Policy 4.3" in findings
    assert "29 CFR 1607.4(D)" in findings


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_message_comes_before_its_compact_line(fail_result: AssessmentResult, fmt: str) -> None:
    text = visible(render(fail_result, fmt)).replace("**", "")
    i = text.index(FOUR_FIFTHS_MSG)
    line = re.compile(r"value 0\.508 · 95% CI 0\.478–0\.539 · threshold >= 0\.80( ·)? FAIL( ·)? blocking")
    match = line.search(text)
    assert match and match.start() > i


def test_group_tables_mark_reference_and_format_rates(fail_md: str, fail_html: str) -> None:
    assert "| M (**reference**) | 2,981 | 60.7% [58.9–62.4%] |" in fail_md
    assert "Adverse impact ratio (vs M & A)" in fail_md
    assert "| F | 3,019 | 30.8% [29.2–32.5%] | 33.1% | 29.4% | 66.9% | 41.9% | 55.9% | 0.51 |" in fail_md
    assert "Groups by sex × race" in fail_md
    assert "The HTML report (report.html) shows the same tables with plots" in fail_md
    assert 'M<span class="tag ref">reference</span>' in fail_html
    assert "M reference 2,981 60.7% [58.9–62.4%] 62.1%" in visible(fail_html)
    assert "Adverse impact ratio (vs M &amp; A)" in fail_html


def test_html_is_self_contained_with_inline_svg(fail_html: str) -> None:
    assert fail_html.startswith("<!DOCTYPE html>")
    assert fail_html.count("<svg") == 6  # selection and error rates for sex, race and sex x race
    assert "four-fifths line: 0.80 × highest rate = 48.5%" in fail_html  # 0.8 x M's 60.7%
    assert not EXTERNAL.search(fail_html)
    assert "<script" not in fail_html and "<link" not in fail_html and "@import" not in fail_html
    assert "<!DOCTYPE svg" not in fail_html and "<metadata>" not in fail_html
    # ids inside the SVGs are unique across the page (several SVGs share one document)
    ids = re.findall(r'\bid="([^"]+)"', fail_html)
    assert len(ids) == len(set(ids))


def test_rendering_is_deterministic(fail_result: AssessmentResult, fail_html: str, fail_md: str) -> None:
    again = AssessmentResult.from_dict(json.loads(json.dumps(fail_result.to_dict())))
    assert render(again, "html").encode() == fail_html.encode()
    assert render(again, "md").encode() == fail_md.encode()


def test_sections_in_order(fail_md: str, fail_html: str) -> None:
    sections = ["Reasons for this verdict", "At a glance", "Findings (12)", "Results by suite and dataset",
                "Tool disclosure", "How to read this report"]
    assert re.findall(r"^## (.+)$", fail_md, flags=re.MULTILINE) == sections[1:]
    assert re.findall(r"<h2>(.+?)</h2>", fail_html) == sections
    for text in (fail_md, visible(fail_html)):
        assert text.index("FAIL") < text.index("Reasons for this verdict")
        assert text.rstrip().endswith("run 71d3888f71e149668bdaf766d07b5dc9" + ("*" if text is fail_md else ""))
    assert "abq-dti-default@2026.11 sha256:251cacb69945" in fail_md
    assert "contract-1 v1 · 6,000 rows · sha256 101c25a08ff2" in fail_md
    assert "schema harness.assessment/1" in fail_md


# ------------------------------------------------------------------------------------------ hand-built

@pytest.mark.parametrize("fmt", ["md", "html"])
def test_insufficient_groups_undefined_rates_and_other_suites(fmt: str) -> None:
    text = visible(render(_review_result(), fmt))
    assert "NEEDS REVIEW" in text
    assert "A human reviewer must examine the findings below".lower() in text.lower()
    assert "too few rows to judge" in text
    assert "Too little data to judge (1)" in text
    # REVIEW before INSUFFICIENT before PASS
    assert text.index("could not be compared") < text.index("has only 12 rows") < text.index("0.93 times")
    assert "value — · no interval · threshold" in text  # a finding without value or interval
    assert "Skipped: suite 'hallucination' assesses question-answering data" in text
    # the unknown suite's table, rendered generically from its rows' keys
    assert re.search(r"column \|? ?psi \|? ?flagged \|? ?note", text)
    assert re.search(r"income \|? ?0\.31 \|? ?yes \|? ?—", text)


def test_insufficient_group_marked_in_markdown_table() -> None:
    md = render(_review_result(), "md")
    assert "| Pacific Islander (too few rows to judge) | 12 | 25.0% [20.0–30.0%] |" in md
    assert "| C | 40 | — | — | — | — | — | — | — |" in md
    assert "| A (**reference**) | 900 |" in md


def test_low_tier_uses_the_tier_limit_for_the_four_fifths_line() -> None:
    html = render(_review_result(tool=_tool(risk_tier="low")), "html")
    assert "four-fifths line: 0.70 × highest rate = 35.0%" in html  # 0.7 x A's 50%
    assert "for a low-risk tool it must be at least 0.70" in html


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_error_result_without_suites_renders_its_error(fmt: str) -> None:
    raw = render(_error_result(), fmt)
    text = visible(raw)
    assert "ERROR" in text
    assert "could not complete" in text
    assert "ToolError: vendor endpoint https://vendor.example/score timed out after 30 s (dataset city-apps)" in text
    assert "No suite ran." in text
    assert "stopped before any check could run" in text
    if fmt == "html":
        assert 'class="verdict verdict-error"' in raw
        assert not EXTERNAL.search(raw)  # the URL is text, not a link


def test_error_without_details_and_sparse_dicts_still_render() -> None:
    sparse = _error_result(tool={"name": "x"}, policy={}, error=None, reasons=[], datasets=[{"name": "d"}])
    for fmt in ("md", "html"):
        text = visible(render(sparse, fmt))
        assert "no error details were recorded" in text
        assert "not disclosed" in text


@pytest.mark.parametrize("verdict, sentence", [
    (Verdict.PASS, "Every judged finding passed; a human reviewer must still sign off"),
    (Verdict.NEEDS_REVIEW, "A human reviewer must examine the findings below before any approval"),
])
def test_verdict_sentences(verdict: Verdict, sentence: str) -> None:
    result = _review_result(verdict=verdict, suites=(), reasons=[])
    assert sentence.lower() in render(result, "md").lower()
    assert f"verdict-{verdict.value.lower()}" in render(result, "html")


def test_user_text_is_escaped_in_html() -> None:
    evil = "<script>alert(1)</script>"
    result = _review_result(
        tool=_tool(name=evil, vendor='"><img src=x onerror=alert(2)>'),
        reasons=[f"reason {evil}"],
        suites=(SuiteResult(
            suite="bias", suite_version="1", dataset=evil,
            findings=(Finding(suite="bias", check="c", metric="m", status=Status.FAIL, message=f"msg {evil}"),),
            tables={"bias.group_rates.sex": [_row(evil, 50, 0.4, reference=True), _row("$x$ & $y$", 60, 0.3)],
                    f"weird {evil}": [{evil: evil}]}),),
    )
    html = render(result, "html")
    assert evil not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<svg" in html  # "$" in a group name is not mathtext
    md = render(result, "md")
    assert "<script>" not in md and "&lt;script>" in md


def test_write_reports_writes_three_files(tmp_path: Path) -> None:
    paths = write_reports(_error_result(), tmp_path)
    assert [p.name for p in paths] == ["assessment.json", "report.md", "report.html"]
    assert "ToolError" in (tmp_path / "report.html").read_text("utf-8")


def test_odd_but_valid_results_never_crash() -> None:
    odd = SuiteResult(
        suite="bias", suite_version="", dataset="",
        findings=(Finding(suite="x", check="y", metric="z", status=Status.SKIPPED, message="",
                          severity=Severity.ADVISORY, value=float("nan"), threshold=float("nan")),
                  Finding(suite="x", check="y", metric="z", status=Status.ERROR, message="boom\nline 2",
                          value=1e9, threshold=0.025, greater_is_better=False)),
        tables={"bias.group_rates.a": [{"group": None, "n": None, "selection_rate": None}],
                "bias.group_rates.b": [{"group": "g", "n": 5, "selection_rate": 0.2, "reference": True},
                                       {"group": "h", "n": 5, "selection_rate": "?", "tpr": 0.5}],
                "empty": [], "scalars": [1, "a", None], "mixed": [{"a": 1}, 3],
                "big": [{"i": i} for i in range(250)]},
    )
    result = AssessmentResult(tool={"name": "t", "disclosure": None}, policy={"document": {"thresholds": {
        "bias.four_fifths.adverse_impact_ratio": {"limit": None}}}}, datasets=["x", {"rows": "many"}], suites=(odd,),
        verdict=Verdict.FAIL, reasons=[], seed=0, error={"message": None})
    md, html = render(result, "md"), visible(render(result, "html"))
    for text in (md, html):
        assert "value 1,000,000,000 · no interval · threshold <= 0.025" in text
        assert "(the check gave no message)" in text
        assert "Showing the first 200 of 250 rows" in text
        assert "This table is empty." in text


def test_many_passes_fold_into_details() -> None:
    passes = tuple(Finding(suite="bias", check="c", metric=f"m{i}", status=Status.PASS, message=f"fine {i}")
                   for i in range(8))
    fail = Finding(suite="bias", check="c", metric="bad", status=Status.FAIL, message="not fine")
    suite = SuiteResult(suite="bias", suite_version="1", dataset="d", findings=(*passes, fail))
    html = render(_review_result(suites=(suite,), verdict=Verdict.FAIL), "html")
    assert html.index("not fine") < html.index("<details") < html.index("fine 0") < html.index("</details>")
    assert "Show the 8 passed findings" in html


# ------------------------------------------------------------------------------------------ v2 bias suite

GROUPINGS = {"sex": "sex", "race": "race", "sex_x_race": "sex × race"}


@pytest.fixture(scope="module")
def v2_result() -> AssessmentResult:
    """A real FAIL assessment of the grown bias suite ("RentRank"), trimmed: only the disparity and
    counterfactual measurements are kept (the forest plots and the counterfactual note read them), and the
    reliability bins of the intersection are dropped; every table, finding and the policy are as run."""
    return AssessmentResult.from_dict(json.loads((RESOURCES / "assessment_v2_fail.json").read_text("utf-8")))


@pytest.fixture(scope="module")
def v2_html(v2_result: AssessmentResult) -> str:
    return render(v2_result, "html")


@pytest.fixture(scope="module")
def v2_md(v2_result: AssessmentResult) -> str:
    return render(v2_result, "md")


def svgs(html: str) -> dict[str, str]:
    """Each inline SVG of a page by its aria-label (entities decoded)."""
    return {htmllib.unescape(m.group(1)): m.group(0)
            for m in re.finditer(r'<svg role="img" aria-label="([^"]*)".*?</svg>', html, flags=re.DOTALL)}


@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_forest_plot_per_grouping_with_thresholds(v2_result: AssessmentResult, v2_html: str, grouping: str) -> None:
    plots = svgs(v2_html)
    forest = plots[f"Forest plot of the disparities: Disparities within {GROUPINGS[grouping]}"]
    assert "threshold ≥ 0.80" in forest and "threshold ≤ 0.10" in forest
    # one row per disparity measurement of the grouping: ratios and differences, and the AUC gap
    measured = [m for m in v2_result.suites[0].measurements
                if m.group == grouping and m.metric in ("difference", "ratio", "auc_difference")]
    assert len(measured) == 10
    for label in ("Demographic parity ratio", "Equalized odds difference", "FNR parity ratio", "AUC difference"):
        assert f">{label}</text>" in forest
    assert "not judged" in forest  # ratios without a policy threshold are shown, grey, and not judged
    # and the four-fifths forest plot of the same grouping, with significance marked
    air = next(svg for label, svg in plots.items()
               if label.startswith(f"Forest plot of the adverse impact ratios: Adverse impact ratio within "
                                   f"{GROUPINGS[grouping]},"))
    assert "four-fifths threshold ≥ 0.80" in air
    assert "significant after Holm adjustment" in air and "not significant after Holm adjustment" in air


def test_forest_points_coloured_by_status(v2_html: str) -> None:
    plots = svgs(v2_html)
    race = plots["Forest plot of the disparities: Disparities within race"]
    assert "0.634 [0.576–0.698]  FAIL" in race  # demographic parity ratio, judged against 0.80
    assert "0.023 [0.011–0.035]  PASS" in race  # predictive parity difference
    assert "#b42318" in race and "#1a7f37" in race and "#8c959f" in race  # FAIL, PASS, not judged
    air = plots["Forest plot of the adverse impact ratios: Adverse impact ratio within race, each group against White"]
    # Asian passes and is not significant (hollow); Black fails and is significant (filled)
    assert "fill: #ffffff; stroke: #1a7f37" in air
    assert "0.64 [0.59–0.69]  Holm p 5.3e-26  FAIL" in air


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_four_fifths_table_practical_and_statistical(v2_result: AssessmentResult, fmt: str) -> None:
    text = visible(render(v2_result, fmt)).replace("|", " ")
    text = " ".join(text.split())
    assert "Four-fifths rule within race: each group against White" in text
    assert "Adverse impact ratio [95% CI] Four-fifths rule (≥ 0.80) Test p Holm-adjusted p Significant after Holm" \
        in text
    assert "Holm's method over all 14 comparisons" in text
    # Black vs White: the ratio with its interval, the practical result, the test, p and Holm-adjusted p
    assert "Black 1,959 0.64 [0.59–0.69] FAIL two-proportion z-test 3.77e-27 5.28e-26 yes" in text
    assert "Asian 1,681 1.01 [0.93–1.08] PASS two-proportion z-test 0.864 1.000 no" in text
    assert "Female & Hispanic 2,621 0.88 [0.81–0.95] PASS two-proportion z-test 0.00114 0.00798 yes" in text


def test_four_fifths_result_is_a_badge(v2_html: str) -> None:
    assert '<td><span class="badge s-fail">FAIL</span></td>' in v2_html
    assert '<td><span class="badge s-not_judged">not judged</span></td>' in v2_html  # in the disparity tables


def test_mitigation_hint_is_labelled_an_illustration(v2_html: str, v2_md: str) -> None:
    box = v2_html[v2_html.index('<aside class="mitigation"'):]
    box = box[:box.index("</aside>")]
    assert '<p class="mitigation-label">Illustration, not a remedy</p>' in box
    assert "What per-group thresholds could reach on race" in box
    assert "The thresholds were fitted and evaluated on the same rows" in box  # the suite's note, in full
    assert "Black: 35%: select when score &gt; 0.011; 65%: select when score &gt; 0.001" in box
    assert "Selection-rate ratio (lowest ÷ highest)</td><td>0.63</td><td>1.00</td>" in box
    assert "> **Illustration, not a remedy.** What post-processing" in v2_md
    assert "| Equalized-odds difference | 0.323 | 0.072 |" in v2_md


def test_proxies_over_the_limit_are_marked(v2_html: str, v2_md: str) -> None:
    rows = re.findall(r"<tr[^>]*>.*?</tr>", v2_html[v2_html.index("Proxies: inputs that predict"):], flags=re.DOTALL)
    over = [r for r in rows if 'class="mark-over"' in r]
    assert len(over) == 1
    assert "<td>neighbourhood</td><td>race</td><td>Cramér&#39;s V</td><td>0.645</td><td>0.30</td>" in over[0]
    assert '<span class="tag over">over the limit</span>' in over[0]
    assert "| **neighbourhood** | **race** | **Cramér's V** | **0.645** | **0.30** | **yes** | **0.294** |" in v2_md
    assert "| neighbourhood | sex | Cramér's V | 0.025 | 0.30 | no | 0.000 |" in v2_md
    assert "1 input–attribute pair is over the limit." in v2_md


def test_scores_counterfactual_and_rates_tables(v2_html: str, v2_md: str) -> None:
    assert "| Black | 1,959 | 0.969 [0.963–0.975] | 0.179 | 0.226 | 4.82e-57 |" in v2_md
    assert "| White (**reference**) | 3,500 | 0.976 [0.971–0.981] | 0.036 | reference | — |" in v2_md
    assert "| Black | 1,959 | 16.3% [14.8–18.0%] | 25.6% | 39.8% | +14.2 points |" in v2_md
    assert "Overall 9.4% of 14,000 decisions change, 95% CI 8.9%–9.9%." in v2_md
    # the group table keeps to the common rates; every rate with its interval is one click away
    assert "| Group | n | Selection rate [95% CI] | TPR | FPR | FNR | Precision | NPV | Accuracy |" in v2_md
    assert "| Black | 43.6% [41.5–45.9%] | 25.6% [23.7–27.6%] |" in v2_md
    assert "<summary>Show all 10 rates of each group with their 95% intervals</summary>" in v2_html
    assert '<td>1.4%<span class="ci">[0.7–2.9%]</span></td>' in v2_html  # FDR of Black, interval below
    plots = svgs(v2_html)
    assert "Calibration by sex: reliability diagrams" in plots and "Calibration by race: reliability diagrams" in plots
    assert not any(label.startswith("Calibration by sex × race") for label in plots)  # its bins were trimmed


def test_v2_sections_in_order_findings_first(v2_html: str, v2_md: str) -> None:
    sections = ["By sex", "By race", "By sex × race (intersection)",
                "Across attributes: proxies, counterfactuals, mitigation"]
    assert re.findall(r'<h4 class="section">(.+?)</h4>', v2_html) == sections
    assert re.findall(r"^#### (.+)$", v2_md, flags=re.MULTILINE) == sections
    assert [h.split(" (")[0] for h in re.findall(r"<h2>(.+?)</h2>", v2_html)] == [
        "Reasons for this verdict", "At a glance", "Findings", "Results by suite and dataset", "Tool disclosure",
        "How to read this report"]
    for text in (visible(v2_html), v2_md):
        race = text[text.rindex("By race"):text.rindex("By sex × race (intersection)")]
        inside = ["Groups by race", "Disparities within race", "Four-fifths rule within race", "Scores by race"]
        assert [race.index(s) for s in inside] == sorted(race.index(s) for s in inside)
    # the tables have dedicated renderings: none falls back to the generic dump of its keys
    for text in (visible(v2_html), v2_md):
        for key in ("over_limit", "ks_vs_reference", "flip_rate_low", "p_adjusted", "observed_rate"):
            assert key not in text


def test_v2_html_small_self_contained_and_deterministic(v2_result: AssessmentResult, v2_html: str) -> None:
    assert len(v2_html.encode()) < 600_000
    assert v2_html.count("<svg") == 14  # 3 groupings x (selection, errors, disparities, four-fifths) + 2 reliability
    assert not EXTERNAL.search(v2_html) and "<script" not in v2_html
    ids = re.findall(r'\bid="([^"]+)"', v2_html)
    assert len(ids) == len(set(ids))
    again = AssessmentResult.from_dict(json.loads(json.dumps(v2_result.to_dict())))
    assert render(again, "html").encode() == v2_html.encode()


def test_old_results_without_the_new_tables_still_render(fail_html: str, fail_md: str) -> None:
    for text in (visible(fail_html), fail_md):
        assert "By sex × race (intersection)" in text
        for absent in ("Four-fifths rule within", "Disparities within", "Scores by", "Illustration, not a remedy",
                       "Proxies:"):
            assert absent not in text
    assert "Forest plot" not in fail_html
    assert "NPV" not in fail_md.split("## Results by suite")[1].split("Selection rate: share")[0]


def test_new_tables_of_an_unexpected_shape_fall_back_to_generic() -> None:
    odd = SuiteResult(
        suite="bias", suite_version="2", dataset="d",
        findings=(Finding(suite="bias", check="demographic_parity", metric="ratio", status=Status.REVIEW,
                          message="close call", value=0.82, ci_low=0.75, ci_high=0.9, threshold=0.8,
                          greater_is_better=True, group="race"),),
        measurements=(Measurement("bias", "demographic_parity", "ratio", 0.82, 0.75, 0.9, group="race"),
                      Measurement("bias", "custom_parity", "difference", float("nan"), group="race"),
                      Measurement("bias", "equalized_odds", "ratio", 0.5, group="elsewhere")),
        tables={"bias.group_rates.race": [_row("A", 900, 0.5, reference=True), _row("B", 700, 0.41)],
                "bias.four_fifths": [{"grouping": "race"}], "bias.proxies": "not a list",
                "bias.scores.race": [{"group": "A"}], "bias.reliability.race": [{"bin": 0}],
                "bias.counterfactual.flip_rate.race": [], "bias.mitigation_hint.race": [1, 2]},
    )
    result = _review_result(suites=(odd,))
    md, html = render(result, "md"), render(result, "html")
    for text in (md, visible(html)):
        assert "bias.four_fifths" in text and "bias.proxies" in text and "not a list" in text
        assert "bias.mitigation_hint.race" in text and "This table is empty." in text
        assert "Disparities within race" in text and "Custom parity difference" in text
    assert "| Demographic parity ratio | 0.820 [0.750–0.900] | ≥ 0.80 | — | REVIEW |" in md
    forest = svgs(html)["Forest plot of the disparities: Disparities within race"]
    assert "#c98a00" in forest and "not computed" in forest  # REVIEW amber; a NaN value is named, not drawn
    assert "Disparities within elsewhere" not in md  # a measurement of a grouping with no table is not invented


# ------------------------------------------------------------------------------ v3: data quality, degradation

@pytest.fixture(scope="module")
def v3_result() -> AssessmentResult:
    """A real FAIL assessment with the bias, data_quality and degradation suites ("RentRank" with a current
    sample), trimmed: the bias suite keeps sex and race (group rates, four-fifths, their findings) and no
    measurements; data_quality is whole; degradation keeps every table but the sex x race robustness rows,
    and only its graceful-failure measurements (latency)."""
    return AssessmentResult.from_dict(json.loads((RESOURCES / "assessment_v3_fail.json").read_text("utf-8")))


@pytest.fixture(scope="module")
def v3_html(v3_result: AssessmentResult) -> str:
    return render(v3_result, "html")


@pytest.fixture(scope="module")
def v3_md(v3_result: AssessmentResult) -> str:
    return render(v3_result, "md")


def md_rows(md: str, heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after `heading`, as lists of cells (header excluded)."""
    lines = md[md.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_v3_sections_of_the_new_suites_in_order(v3_html: str, v3_md: str) -> None:
    sections = ["By sex", "By race", "Expectations", "Personal data", "Tool outputs", "Robustness", "Drift",
                "Graceful failure", "Regression"]
    assert re.findall(r'<h4 class="section">(.+?)</h4>', v3_html) == sections
    assert re.findall(r"^#### (.+)$", v3_md, flags=re.MULTILINE) == sections
    # findings first, unchanged; the new tables have dedicated renderings, none is dumped generically
    for text in (visible(v3_html), v3_md):
        assert text.index("Findings (") < text.index("Results by suite and dataset")
        for key in ("unexpected_percent", "flip_rate_low", "psi_high", "timeout_s", "current_missing_share",
                    "degradation.robustness.calls", "'scanned'"):
            assert key not in text
    assert "robustness curves of each group against the severity" in v3_md


def test_v3_html_self_contained_small_deterministic(v3_result: AssessmentResult, v3_html: str, v3_md: str) -> None:
    assert len(v3_html.encode()) < 450_000
    assert not EXTERNAL.search(v3_html) and "<script" not in v3_html
    ids = re.findall(r'\bid="([^"]+)"', v3_html)
    assert len(ids) == len(set(ids))
    again = AssessmentResult.from_dict(json.loads(json.dumps(v3_result.to_dict())))
    assert render(again, "html").encode() == v3_html.encode()
    assert render(again, "md").encode() == v3_md.encode()
    assert "<svg" not in v3_md


def test_drift_chart_with_band_lines_and_policy_limit(v3_html: str) -> None:
    drift = svgs(v3_html)["Drift chart: PSI per feature, largest first"]
    assert "significant &gt; 0.20 · policy limit" in drift and "moderate &gt; 0.10" in drift
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", drift)
    features = ["rent", "rent_burden", "(tool score)", "months_in_arrears", "neighbourhood", "household_size",
                "monthly_income", "income_pct_ami", "has_children", "eviction_notice"]
    assert [t for t in labels if t in features] == features  # one bar per feature, largest PSI first
    assert "0.136 [0.111–0.168]  moderate" in labels
    assert "#e69f00" in drift and "#56a0d3" in drift  # moderate and stable bars


def test_drift_table_sorted_by_psi_rent_first(v3_html: str, v3_md: str) -> None:
    rows = md_rows(v3_md, "Drift between the reference data and the current sample")
    assert rows[0][:4] == ["rent", "numeric", "0.136 [0.111–0.168]", "moderate"]
    assert rows[0][7] == ">= 1565: 10.1% → 17.2%" and rows[0][8] == "3,000"
    psi = [float(r[2].split()[0]) for r in rows]
    assert psi == sorted(psi, reverse=True) and len(rows) == 10
    assert "neighbourhood | categorical" in v3_md and "Cramér's V (chi-square)" in v3_md
    assert '<td><span class="badge s-moderate">moderate</span></td>' in v3_html
    assert "The population stability index (PSI) is stable under 0.10" in v3_md


def test_robustness_curves_per_kind_and_group(v3_html: str, v3_md: str) -> None:
    plots = svgs(v3_html)
    for kind in ("measurement noise on numeric inputs", "redrawn categorical values"):
        curve = plots[f"Robustness curves: {kind}, by group"]
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", curve)
        for name in ("everyone", "Female", "Male", "Asian", "Black", "Hispanic", "Native American", "White"):
            assert name in labels  # one line per group of each attribute, and everyone
        for panel in ("decisions changed, by sex", "accuracy drop (points), by race"):
            assert panel in labels
        assert "policy limit 10%" in labels and "policy limit 5 points" in labels
    # missing values were refused at the lowest severity: a table row, no curve
    assert not any("missing input values" in label for label in plots)
    overall = md_rows(v3_md, "Every perturbation, on the whole reference data")
    assert overall[1][:4] == ["Noise", "medium (0.25) · judged", "result", "4.9% [4.5–5.2%]"]
    assert overall[-1][:3] == ["Missing values", "low (0.1)", "clear_error"]
    assert overall[-1][-1].startswith("0.015 s · ValueError: Input X contains NaN.")
    by_group = md_rows(v3_md, "Robustness to measurement noise on numeric inputs, by group")
    assert by_group[0] == ["everyone", "14,000", "1.9%", "4.9%", "10.3%", "+0.5", "+2.0", "+5.5"]
    assert by_group[1][:2] == ["Female (sex)", "7,280"] and len(by_group) == 8


def test_graceful_table_outcomes_errors_and_latency(v3_html: str, v3_md: str) -> None:
    rows = {r[0]: r for r in md_rows(v3_md, "Malformed inputs: result, clear error, crash or hang")}
    nulls = rows["missing values (nulls)"]
    assert nulls[2:4] == ["clear_error", "yes"]
    assert nulls[4].startswith("ValueError: Input X contains NaN.") and nulls[5] == "0.006 s"
    assert rows["out-of-range numbers (out_of_range)"][2:5] == ["result", "yes", "—"]
    assert len(rows) == 7
    assert "Latency per call on 5 ordinary batches of 100 rows: p50 0.012 s, p95 0.016 s." in v3_md
    html_row = re.search(r"<tr>\s*<td>missing values \(nulls\)</td>.*?</tr>", v3_html, flags=re.DOTALL)
    assert html_row and '<span class="badge s-clear_error">clear_error</span>' in html_row.group(0)


def test_pii_table_shows_columns_kinds_and_counts_only(v3_html: str, v3_md: str) -> None:
    rows = md_rows(v3_md, "Undeclared personal data in text columns")
    assert len(rows) == 20 and rows[0] == ["application_id", "social security number", "0", "14,000"]
    assert "No undeclared personal data found in 4 text columns." in v3_md
    assert "<summary>Show the 20 column–kind pairs scanned</summary>" in v3_html


def test_pii_values_are_never_rendered(v3_result: AssessmentResult) -> None:
    dq = v3_result.suites[1]
    secret = {"value": "123-45-6789", "values": ["jane.doe@example.org"], "sample": "555-867-5309"}
    pii = [*dq.tables["data_quality.pii"],
           {"column": "notes", "kind": "ssn", "count": 3, "scanned": 14000, **secret},
           {"column": "notes", "kind": "email", "count": 1, "scanned": 14000, **secret}]
    result = replace(v3_result, suites=(replace(dq, tables={**dq.tables, "data_quality.pii": pii}),))
    md, html = render(result, "md"), render(result, "html")
    for text in (md, html):
        for value in ("123-45-6789", "jane.doe", "555-867-5309"):
            assert value not in text
    rows = md_rows(md, "Undeclared personal data in text columns")
    assert rows[0] == ["**notes**", "**social security number**", "**3**", "**14,000**"]
    assert "2 column–kind pairs hold values that look like undeclared personal data." in md
    assert html.count('<tr class="mark-bad">') == 2


def test_expectations_summary_and_failed_first(v3_md: str, v3_html: str) -> None:
    assert "21 expectations, 0 failed." in v3_md
    assert "27 findings: 27 PASS; 21 expectations, 0 failed." in v3_md
    assert "27 findings: 27 PASS; 21 expectations, 0 failed." in visible(v3_html)
    rows = md_rows(v3_md, "Expectations (Great Expectations)")
    assert len(rows) == 21
    assert rows[0][:3] == ["Column exists (expect_column_to_exist)", "eligible", "PASS"]
    assert ["Protected groups represented (expect_protected_groups_to_be_represented)", "sex × race", "PASS",
            "advisory", "—", "—", "808", "—"] in rows


def _expectation(kind: str, column: str | None, status: str, **over: Any) -> dict[str, Any]:
    return {"expectation": f"expect_{kind}", "kind": kind, "column": column, "success": status == "PASS",
            "status": status, "severity": "advisory", "unexpected_count": None, "unexpected_percent": None,
            "observed_value": None, "sample": ""} | over


def _quality_result() -> AssessmentResult:
    """Hand-built data_quality and degradation suites with failures, a regression table and odd outcomes."""
    dq = SuiteResult(
        suite="data_quality", suite_version="1", dataset="d",
        findings=(Finding(suite="data_quality", check="outputs", metric="length", status=Status.FAIL,
                          message="the tool returned 90 labels for 100 input rows"),
                  Finding(suite="data_quality", check="outputs", metric="no_nan", status=Status.PASS,
                          message="no label or score is missing (NaN)")),
        tables={"data_quality.expectations": [
            _expectation("column_exists", "age", "PASS"),
            _expectation("values_in_set", "race", "FAIL", unexpected_count=42, unexpected_percent=2.1,
                         sample="'?' (40), 'unknown' (2)"),
            _expectation("in_range", "income", "SKIPPED", expectation=None, success=None),
            _expectation("not_null", "id", "ERROR", success=False),
            _expectation("unique", "id", "FAIL", unexpected_count=3, unexpected_percent=0.015),
        ], "data_quality.pii": [{"column": "note", "kind": "email", "count": 0, "scanned": 100}]},
    )
    calls = [{"kind": "noise", "severity": sev, "level": lv, "outcome": "result", "seconds": 0.1, "error": None,
              "message": ""} for sev, lv in (("low", 0.1), ("medium", 0.25))]
    calls.append({"kind": "noise", "severity": "high", "level": 0.5, "outcome": "hang", "seconds": 30.0,
                  "error": None, "message": ""})
    robust = [{"kind": "noise", "severity": sev, "level": lv, "grouping": g, "group": grp, "n": n,
               "insufficient": n < 30, "accuracy_before": 0.9, "accuracy_after": 0.9 - lv / 10,
               "accuracy_drop": lv / 10, "accuracy_drop_low": None, "accuracy_drop_high": None,
               "flip_rate": lv / 5, "flip_rate_low": lv / 6, "flip_rate_high": lv / 4}
              for sev, lv in (("low", 0.1), ("medium", 0.25))
              for g, grp, n in (("all", "all", 500), ("sex", "F", 250), ("sex", "M", 240), ("sex", "X", 10))]
    dg = SuiteResult(
        suite="degradation", suite_version="1", dataset="d",
        findings=(Finding(suite="degradation", check="drift", metric="psi", status=Status.SKIPPED,
                          message="no --current sample given"),
                  Finding(suite="degradation", check="robustness", metric="flip_rate", status=Status.SKIPPED,
                          message="the tool takes no categorical inputs, so the categorical perturbation does not "
                                  "apply")),
        tables={"degradation.robustness": robust, "degradation.robustness.calls": calls,
                "degradation.graceful_failure": [
                    {"case": "nulls", "input": "a batch with nulls", "rows": 20, "outcome": "crash", "failed": True,
                     "seconds": 0.01, "error": "KeyError", "message": "'x'"},
                    {"case": "custom", "input": "something new", "rows": 5, "outcome": "hang", "failed": True,
                     "seconds": 30.0, "error": None, "message": ""}],
                "degradation.regression": [
                    {"metric": "degradation.regression.accuracy", "baseline": 0.9, "current": 0.85, "status": "FAIL",
                     "change": -0.05, "tolerance": 0.01, "rule": "degradation.regression.accuracy"},
                    {"metric": "degradation.regression.auc", "baseline": 0.95, "current": 0.951, "status": "PASS",
                     "change": 0.001, "tolerance": 0.01, "rule": "degradation.regression.auc"}]},
    )
    return _review_result(suites=(dq, dg), verdict=Verdict.FAIL)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_failed_expectations_first_with_counts_and_samples(fmt: str) -> None:
    text = render(_quality_result(), fmt)
    if fmt == "md":
        assert "5 expectations, 2 failed, 1 could not be evaluated, 1 skipped." in text
        rows = md_rows(text, "Expectations (Great Expectations)")
        assert [r[2].strip("*") for r in rows] == ["FAIL", "FAIL", "ERROR", "PASS", "SKIPPED"]
        assert rows[0][:8] == ["**Values in the declared set (expect_values_in_set)**", "**race**", "**FAIL**",
                               "**advisory**", "**42**", "**2.1%**", "—", "**'?' (40), 'unknown' (2)**"]
        assert rows[1][5] == "**0.015%**"
    else:
        assert '<td>Values in the declared set<span class="sub">expect_values_in_set</span></td>' in text
        assert visible(text).index("'?' (40), 'unknown' (2)") < visible(text).index("Column exists")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_regression_outcomes_and_skipped_checks(fmt: str) -> None:
    text = visible(render(_quality_result(), fmt))
    flat = " ".join(text.replace("|", " ").replace("**", "").split())
    assert "2 metrics compared, 1 regressed." in flat
    assert "degradation.regression.accuracy 0.900 0.850 -0.05 0.010 FAIL" in flat
    assert "No --current sample given." in flat  # drift not measured: said, not hidden
    assert "Not run: the tool takes no categorical inputs, so the categorical perturbation does not apply." in flat
    assert "One output per input row FAIL the tool returned 90 labels for 100 input rows" in flat
    # a hung call: no figures for that severity, and the graceful failures are named
    assert "Noise high (0.5) hang — — — — 30.0 s" in flat
    assert "missing values (nulls) a batch with nulls crash no KeyError: 'x'" in flat
    assert "custom something new hang no" in flat
    assert "2 cases did not degrade gracefully." in flat


def test_robustness_curve_marks_small_groups_and_missing_intervals() -> None:
    html = render(_quality_result(), "html")
    curve = svgs(html)["Robustness curves: measurement noise on numeric inputs, by group"]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", curve)
    assert "X (too few rows)" in labels and "everyone" in labels
    assert '<span class="badge s-hang">hang</span>' in html and '<span class="badge s-crash">crash</span>' in html


def test_new_suite_tables_of_an_unexpected_shape_fall_back_to_generic() -> None:
    dq = SuiteResult(suite="data_quality", suite_version="1", dataset="d",
                     tables={"data_quality.expectations": [{"weird": 1}], "data_quality.pii": "not a list"})
    dg = SuiteResult(suite="degradation", suite_version="1", dataset="d",
                     tables={"degradation.drift": [{"feature": "a"}], "degradation.robustness": [],
                             "degradation.graceful_failure": [{"case": "x"}], "degradation.regression": [1]})
    result = _review_result(suites=(dq, dg))
    for text in (render(result, "md"), visible(render(result, "html"))):
        for key in ("data_quality.expectations", "data_quality.pii", "not a list", "degradation.drift",
                    "degradation.graceful_failure", "degradation.regression", "This table is empty."):
            assert key in text
        assert "Drift between" not in text and "expectations," not in text
