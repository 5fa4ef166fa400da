"""Each suite presents its own results (`Suite.report_sections`), and the harness falls back to generic tables
whenever it cannot ask the suite: the suite is not installed any more, or its presentation code fails. The
harness's report package imports no suite (issue 13, items 1 and 3)."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from harness.assessment import AssessmentResult
from harness.report import render
from harness.verdict import SuiteResult, Verdict
from tests.conftest import ROOT

RATES = {"group": "F", "n": 40, "selection_rate": 0.25, "reference": False, "insufficient": False}


def _result(suite: str, tables: dict[str, list[dict[str, Any]]]) -> AssessmentResult:
    return AssessmentResult(
        tool={"id": "t", "name": "Screener", "risk_tier": "high"}, policy={"name": "p", "document": {}},
        datasets=[], suites=(SuiteResult(suite=suite, suite_version="1", dataset="d", tables=tables),),
        verdict=Verdict.NEEDS_REVIEW, reasons=[], seed=1)


def test_the_bias_suite_presents_its_group_table() -> None:
    md = render(_result("bias", {"bias.group_rates.sex": [RATES]}), "md")
    assert "#### By sex\n\n##### Groups by sex\n\n" in md
    assert "| F | 40 | 25.0% | — | — | — | — | — | — |" in md


def test_a_suite_no_longer_installed_shows_its_tables_generically() -> None:
    """The same table from a suite that is not installed: no suite code to ask, so the rows as recorded."""
    md = render(_result("retired", {"retired.group_rates.sex": [RATES]}), "md")
    assert "Groups by sex" not in md
    assert ("#### retired.group_rates.sex\n\n| group | n | selection_rate | reference | insufficient |\n"
            "|---|---|---|---|---|\n| F | 40 | 0.25 | no | no |\n") in md


@pytest.fixture
def plugin_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin of tests/resources/plugins/sectioned on the path: installed, as far as its entry point goes."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "resources" / "plugins" / "sectioned"))


@pytest.mark.usefixtures("plugin_installed")
def test_a_third_party_section_is_rendered_in_process() -> None:
    tables = {"selection.counts": [{"outcome": "favourable", "rows": 30}, {"outcome": "other", "rows": 70}]}
    md = render(_result("selection", tables), "md")
    assert ("#### Selection at a glance\n\n##### How often the tool selects\n\nThe tool selects — of the reference "
            "rows; the policy's floor is 10.0%.\n\n| Outcome | Rows |\n|---|---|\n| favourable | 30 |\n"
            "| other | 70 |\n") in md
    assert "selection.counts" not in md  # claimed: not shown again as a generic table


@pytest.mark.usefixtures("plugin_installed")
def test_a_suite_whose_sections_fail_shows_why_and_its_tables() -> None:
    """The plugin's section reads an `outcome` field this record lacks: its KeyError must not lose the table."""
    md = render(_result("selection", {"selection.counts": [{"kind": "favourable", "rows": 30}]}), "md")
    assert ("#### Report sections\n\nThe suite's own report sections could not be built (KeyError: 'outcome'); "
            "its tables are shown as recorded.\n\n\n#### Other tables\n\n##### selection.counts\n\n| kind | rows |\n"
            "|---|---|\n| favourable | 30 |\n") in md
    html = render(_result("selection", {"selection.counts": [{"kind": "favourable", "rows": 30}]}), "html")
    assert "could not be built (KeyError: &#39;outcome&#39;)" in html


def test_the_report_package_imports_no_suite() -> None:
    """harness/report asks a suite for its sections through the suite object; it never imports a suite."""
    found = []
    for path in sorted((ROOT / "harness" / "report").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{Path(path).name}: {n}" for n in names if n.split(".")[0] == "test_suites"]
    assert found == []
