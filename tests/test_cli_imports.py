"""The commands people wait on import nothing heavy (issue 13, section 5 "Fast where people wait").

`harness suites list`, `harness datasets list` and the `--help` of the program and of every command and group
must answer at once: none of them may import mlflow, Great Expectations, fairlearn, aif360, matplotlib,
scikit-learn, SciPy or pandas (each costs 0.3-2.3 s in a fresh process; NOTES.md). This is a structural test,
not a timing test: it runs the commands in one fresh interpreter and records which heavy libraries each one
loaded first. The speed targets themselves are measured by benchmarks/bench_cli.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# a wide console, so that no table cell is folded; the catalogue is the repository's own
ENV = {**{k: v for k, v in os.environ.items() if k != "HARNESS_CATALOG"}, "COLUMNS": "400"}
HEAVY = ("mlflow", "great_expectations", "fairlearn", "aif360", "matplotlib", "sklearn", "scipy", "pandas")

# Runs in a fresh interpreter from the repository root. argv[2] "help": the `--help` of the program and of every
# command and group found in the click tree (so a new command is held to the rule without editing this file);
# otherwise the one command given. For each command: the heavy libraries it loaded that were not loaded before
# it, and its exit code.
PROBE = r"""
import json, sys
from harness.cli import main

heavy = set(json.loads(sys.argv[1]))

def loaded():
    return {m.split(".")[0] for m in sys.modules} & heavy

paths = [[]]
def walk(group, prefix):
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        paths.append([*prefix, name])
        walk(cmd, [*prefix, name])
walk(main, [])
commands = [[*p, "--help"] for p in paths] if sys.argv[2] == "help" else [sys.argv[2].split()]
result = {"at_start": sorted(loaded()), "heavy": {}, "exit": {}}
for argv in commands:
    before = loaded()
    try:
        code = main(argv, prog_name="harness", standalone_mode=False)
    except SystemExit as e:
        code = e.code
    result["exit"][" ".join(argv)] = code or 0
    if loaded() - before:
        result["heavy"][" ".join(argv)] = sorted(loaded() - before)
print("RESULT " + json.dumps(result))
"""


def probe(what: str) -> tuple[dict[str, Any], str]:
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), what], capture_output=True, text=True,
                       timeout=300, cwd=ROOT, env=ENV)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["at_start"] == []  # `from harness.cli import main` itself
    # every command ran to its end (a command that failed early would prove nothing)
    assert {k: v for k, v in result["exit"].items() if v != 0} == {}
    return result, r.stdout


def test_every_help_imports_no_heavy_library() -> None:
    result, out = probe("help")
    assert result["heavy"] == {}
    assert {"--help", "assess --help", "gate --help", "status --help", "history --help", "inventory --help",
            "suites --help", "suites list --help", "datasets list --help", "keys init --help",
            "policy check --help"} <= set(result["exit"])
    assert "Usage: harness gate [OPTIONS] TOOL[:VERSION]" in out


def test_suites_list_imports_no_heavy_library() -> None:
    """What `suites list` prints comes from the suite classes themselves (version, tasks, description), so
    they are imported; that is cheap because their checks import the heavy libraries where they run."""
    result, out = probe("suites list")
    assert result["heavy"] == {}
    for text in ("bias", "data_quality", "degradation", "explainability", "hallucination", "performance", "privacy",
                 "binary-classification, grounded-qa", "Great Expectations validation of the dataset card"):
        assert text in out


def test_datasets_list_imports_no_heavy_library() -> None:
    """`datasets list` reads the cards (YAML); it opens no data file."""
    result, out = probe("datasets list")
    assert result["heavy"] == {}
    assert "rental-assistance" in out and "adult" in out and "squad2" in out


def test_suite_classes_and_their_metadata_load_without_heavy_libraries() -> None:
    """The registry loads every suite class (as `suites list` and the policy's settings check do), and reads
    what the suite declares (`produces`, `settings_model`), with none of the heavy libraries imported."""
    code = (
        "import json, sys\nfrom harness.plugins import load_suites\n"
        "suites = load_suites()\n"
        "declared = {n: len(c.produces or ()) for n, c in suites.items()}\n"
        "models = {n: c.settings_model.__name__ for n, c in suites.items() if c.settings_model}\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))\n"
        "print(json.dumps({'declared': declared, 'models': models, 'heavy': heavy}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=ENV)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["heavy"] == []
    assert sorted(got["declared"]) == ["bias", "data_quality", "degradation", "explainability", "hallucination",
                                       "performance", "privacy", "security"]
    assert all(n > 0 for n in got["declared"].values()), got["declared"]
    assert got["models"]["bias"] == "BiasSettings" and got["models"]["degradation"] == "DegradationSettings"
