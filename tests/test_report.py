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
                       "thresholds": {"bias.demographic_parity.ratio": {
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
        "bias.demographic_parity.ratio": {"limit": None}}}}, datasets=["x", {"rows": "many"}], suites=(odd,),
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
