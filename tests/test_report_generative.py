"""The report sections of a generative tool's assessment (issue 5): rates with intervals and the policy's
verdict beside the answers behind them, personal data masked, counterfactual pairs with their limit."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.assessment import AssessmentResult, assess
from harness.datasets import load_dataset
from harness.manifest import load_manifest
from harness.plugins import resolve
from harness.policy import load_policy
from harness.report import render
from harness.tools import load_tool
from tests.test_report import visible

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "city_services_qa"


@pytest.fixture(scope="module")
def careless() -> AssessmentResult:
    manifest = load_manifest(EXAMPLES / "careless_tool.yaml")
    policy = load_policy()
    suites = resolve(None, manifest.category, policy.required_suites)
    return assess(manifest, load_tool(manifest), [load_dataset("city-services-qa")], suites, policy)


@pytest.mark.slow
def test_generative_sections_in_markdown_and_html(careless: AssessmentResult) -> None:
    md = render(careless, "md")
    page = visible(render(careless, "html"))
    for heading in ("Answers at a glance", "Hallucinations, with the answers", "Consistency", "Personal data",
                    "Counterfactual prompts"):
        assert f"#### {heading}" in md
        assert heading in page
    # the careless tool answers all 120 unanswerable questions: Wilson 95 % interval of 120/120 is [96.9 %, 100 %]
    assert ("| **Questions the page cannot answer, answered anyway** | **100.0% [96.9–100.0%]** | **120** | "
            "**≤ 0.15** | **FAIL** |") in md
    # the hallucinated examples carry the question they answered
    start = "| csq-0005 | What is the base fee for a commercial building permit? |"
    row = next(line for line in md.splitlines() if line.startswith(start))
    assert "$186" in row  # the careless tool's altered fee; the page says $185
    assert "Not on the page" in md and "number '$186'" in md


@pytest.mark.slow
def test_personal_data_stays_masked_in_the_report(careless: AssessmentResult) -> None:
    md = render(careless, "md")
    privacy = next(s for s in careless.suites if s.suite == "privacy")
    examples = privacy.tables["privacy.outputs_pii_examples"]
    assert examples, "the careless tool invents phone numbers; the scan must find some"
    for r in examples:
        masked = r["values (masked)"]
        assert masked.startswith("***-***-") and masked in md
    # the raw invented number behind the first masked value is in the tool's answer but never in the report
    first = examples[0]["id"]
    raw = careless.suites[0].tables["hallucination.unsupported_claims"]
    phone = next(r["unsupported"] for r in raw if r["id"] == first).split("phone '")[1].split("'")[0]
    assert phone not in md.split("## Results by suite")[1].split("Suite `privacy`")[1]
