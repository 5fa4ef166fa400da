"""A third party's suite is a plugin for what a reviewer reads, too (issue 13, item 1).

The plugin of tests/resources/plugins/sectioned (a package plus its .dist-info, as pip installs it) ships a
settings model and its own report section. Installed through the `harness.suites` entry point, its section
appears in the HTML report, and an invalid value of its setting stops the assessment when the policy loads.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from markupsafe import escape

from harness.datasets import ReferenceDataset, load_dataset
from harness.testing.conformance import check_suite
from tests.conftest import ROOT, write_case

HARNESS = str(Path(sys.executable).with_name("harness"))
PLUGIN = ROOT / "tests" / "resources" / "plugins" / "sectioned"


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PLUGIN), "HARNESS_USER": "Dana Analyst"}
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def case_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_case(tmp_path_factory.mktemp("sectioned"), n=400, seed=3)


@pytest.fixture(scope="module")
def small(case_files: tuple[Path, Path]) -> ReferenceDataset:
    return load_dataset(str(case_files[1]))


def test_the_plugin_conforms_with_its_report_section(small: ReferenceDataset) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(PLUGIN))
        from harness_selection_suite import SelectionSuite  # type: ignore[import-not-found]
    assert check_suite(SelectionSuite, small, on_fail=None) == []


def test_its_section_appears_in_the_html_and_markdown_reports(case_files: tuple[Path, Path], tmp_path: Path) -> None:
    tool, card = case_files
    out = tmp_path / "out"
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "selection",
                "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(out))
    assert r.returncode == 3, r.stdout + r.stderr  # nothing judged: review
    doc = json.loads((out / "assessment.json").read_text())
    [m] = [m for s in doc["suites"] for m in s["measurements"] if m["key"] == "selection.share.overall"]
    [counts] = [s["tables"]["selection.counts"] for s in doc["suites"]]
    chosen = counts[0]["rows"]
    assert counts == [{"outcome": "favourable", "rows": chosen}, {"outcome": "other", "rows": 400 - chosen}]
    intro = f"The tool selects {m['value'] * 100:.1f}% of the reference rows; the policy's floor is 10.0%."
    page = (out / "report.html").read_text()
    assert '<h4 class="section">Selection at a glance</h4>' in page
    assert "<h5>How often the tool selects</h5>" in page
    assert f'<p class="intro">{escape(intro)}</p>' in page
    assert "selection.counts</h" not in page  # claimed by the section, not shown again as a generic table
    md = (out / "report.md").read_text()
    assert (f"#### Selection at a glance\n\n##### How often the tool selects\n\n{intro}\n\n| Outcome | Rows |\n"
            f"|---|---|\n| favourable | {chosen:,} |\n| other | {400 - chosen:,} |\n") in md


def test_an_invalid_value_of_its_setting_is_refused_when_the_policy_loads(case_files: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    lines = resources.files("harness.policies").joinpath("default.yaml").read_text().splitlines()
    at = lines.index("settings:") + 1
    lines[at:at] = ["  selection:", "    floor: 2"]
    policy = tmp_path / "p.yaml"
    policy.write_text("\n".join(lines) + "\n")
    tool, card = case_files
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "selection", "--policy", str(policy),
                "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr == (f"error: policy file {policy}, line {at + 2}: settings.selection.floor = 2 is not valid: "
                        "Input should be less than or equal to 1\n")
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()  # stopped before anything
