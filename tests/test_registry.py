"""Suites load through the `harness.suites` entry points and fail closed.

The plugins under tests/resources/plugins/ are laid out as pip installs them (a package plus its
.dist-info with entry_points.txt); putting such a folder on PYTHONPATH is what installing it into a
site-packages does, as far as importlib.metadata can tell.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

HARNESS = str(Path(sys.executable).with_name("harness"))
PLUGINS = ROOT / "tests" / "resources" / "plugins"


def harness(*args: str, plugin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if plugin:
        env["PYTHONPATH"] = str(PLUGINS / plugin)
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_builtin_suite_is_registered_through_the_entry_point_group() -> None:
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="harness.suites")}
    assert eps["bias"] == "test_suites.bias:BiasSuite"


def test_an_installed_plugin_is_found_and_runs(case) -> None:
    r = harness("suites", "list", plugin="good")
    assert r.returncode == 0, r.stderr
    assert "fake" in r.stdout and "bias" in r.stdout
    tool, card = case(seed=11)
    store = f"sqlite:///{tool.parent / 'mlflow.db'}"
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "fake", "--tracking-uri", store,
                "--out", str(tool.parent / "out"), plugin="good")
    # the fake suite sets no threshold: nothing judged, so the verdict asks for review
    assert r.returncode == 3, r.stdout + r.stderr
    doc = (tool.parent / "out" / "assessment.json").read_text()
    assert '"key": "fake.selection_share.overall"' in doc


def test_a_plugin_that_fails_to_import_is_an_error() -> None:
    r = harness("suites", "list", plugin="broken")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "error: suite plugin 'broken' from harness_broken_suite:BrokenSuite (distribution harness-broken-suite "
        "0.1.0) failed to import: ModuleNotFoundError: No module named 'harness_dependency_that_does_not_exist'. "
        "Fix or uninstall it.")
    assert "Traceback" not in r.stderr


def test_a_duplicate_suite_name_is_an_error(case) -> None:
    r = harness("suites", "list", plugin="duplicate")
    assert r.returncode == 2
    assert "error: two installed plugins register the suite name 'bias'" in r.stderr
    assert "harness-dup-suite 0.1.0" in r.stderr and "Uninstall one of them" in r.stderr
    # and an assessment refuses to run rather than pick one
    tool, card = case(seed=12)
    r = harness("assess", str(tool), "--dataset", str(card), "--tracking-uri",
                f"sqlite:///{tool.parent / 'm.db'}", plugin="duplicate")
    assert r.returncode == 2 and "register the suite name 'bias'" in r.stderr
    assert not (tool.parent / "m.db").exists()


def test_resolve_imports_only_the_suites_it_returns() -> None:
    """Suite modules are imported when their suite is asked for (issue 13, section 5): naming one suite loads
    that plugin alone, and the names of the others come from the entry points' metadata."""
    code = ("import sys\nfrom harness.plugins import installed, resolve\n"
            "suites = resolve(['performance'], 'decision-support', {})\n"
            "print([s.name for s in suites], installed(),"
            " sorted(m.split('.')[1] for m in sys.modules if m.count('.') == 1 and m.startswith('test_suites.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("['performance'] ['bias', 'data_quality', 'degradation', 'explainability', "
                                "'hallucination', 'performance', 'privacy', 'security'] ['performance']")
