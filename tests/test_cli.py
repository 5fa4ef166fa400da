"""The command line as a user meets it: exit codes, one clear message, and what lands in MLflow.

The commands run in-process through click's CliRunner (issue 13: a fresh interpreter per call costs seconds of
imports); a tool that raises runs as the installed program, since its exit code and its worker's PYTHONPATH are
about the process, and the import check runs in a fresh interpreter, since it is about what a process loads."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_case

HARNESS = str(Path(sys.executable).with_name("harness"))


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`harness ARGS` in-process, answered as the program's process would be (exit code, stdout, stderr kept apart),
    `env` set for the call only. A bug that escapes the command's own error handling is raised, not counted as an
    exit code (the subprocess's "no Traceback on stderr")."""
    from click.testing import CliRunner

    from harness.cli import main

    r = CliRunner().invoke(main, list(args), env=env, prog_name="harness", catch_exceptions=False)
    return subprocess.CompletedProcess([HARNESS, *args], r.exit_code, r.stdout, r.stderr)


def harness_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `harness` program in a process of its own."""
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def store(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def test_help_and_version_import_no_heavy_library() -> None:
    code = (
        "import sys\nfrom harness.cli import main\n"
        "for argv in (['--help'], ['--version'], ['assess', '--help']):\n"
        "    sys.argv = ['harness', *argv]\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "heavy = {'mlflow', 'great_expectations', 'aif360', 'fairlearn', 'sklearn'}\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout
    assert "0.1.0" in r.stdout


def test_assess_records_the_run_in_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool, card = write_case(tmp_path / "biased", n=3000, disparity=0.2, seed=21)
    out = tmp_path / "out"
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "bias",
                "--tracking-uri", store(tmp_path), "--out", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL" in r.stdout and "bias.four_fifths.adverse_impact_ratio.sex.F" in r.stdout

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store(tmp_path))
    exp = client.get_experiment_by_name("harness/case-tool-21")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    tags = run.data.tags
    assert tags["harness.tool_id"] == "case-tool-21"
    assert tags["harness.tool_version"] == "1.0"
    assert tags["harness.verdict"] == "FAIL"
    assert tags["harness.kind"] == "pre-acquisition"
    assert tags["harness.policy"].startswith("abq-dti-default@2026.11 sha256:")
    # which plugin build measured it (issue 13): the entry point and the installed distribution's version
    from importlib.metadata import version

    assert tags["harness.suite.bias"] == f"ai-risk-harness {version('ai-risk-harness')} (test_suites.bias:BiasSuite)"
    record = json.loads((out / "assessment.json").read_text())
    assert record["extra"]["suite_provenance"] == {"bias": {
        "entry_point": "test_suites.bias:BiasSuite", "distribution": "ai-risk-harness",
        "version": version("ai-risk-harness")}}
    import hashlib

    assert tags["harness.dataset.case-21"] == hashlib.sha256((card.parent / "data.csv").read_bytes()).hexdigest()
    # the logged metric is the selection-rate ratio computed by hand from the files
    import pandas as pd

    data = pd.read_csv(card.parent / "data.csv")
    preds = pd.read_csv(card.parent / "predictions.csv")
    rates = preds["prediction"].groupby(data["sex"]).mean()
    assert run.data.metrics["bias.four_fifths.adverse_impact_ratio.sex.F"] == pytest.approx(
        rates["F"] / rates["M"], abs=1e-12)
    # a figure that is not a headline (issue 15) is in the suite's table, as MLflow's own reader reads it (which
    # searches the runs in the process's tracking URI, not the client's)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store(tmp_path))
    table = client.load_table(exp.experiment_id, "tables/bias-case-21.json", run_ids=[run.info.run_id])
    ratio = table.set_index("key").loc["bias.demographic_parity.ratio.sex"]
    assert "bias.demographic_parity.ratio.sex" not in run.data.metrics and pd.isna(ratio["mlflow_metric"])
    assert ratio["value"] == pytest.approx(rates.min() / rates.max(), abs=1e-12)
    assert tags["harness.decision_rule"] == "significant_violation"
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"assessment.json", "report.html", "report.md", "inputs"} <= arts
    inputs = {a.path for a in client.list_artifacts(run.info.run_id, "inputs")}
    assert inputs == {"inputs/tool.yaml", "inputs/policy.yaml", "inputs/case-21.card.yaml", "inputs/plan.json"}
    logged = json.loads(Path(client.download_artifacts(run.info.run_id, "assessment.json", str(tmp_path))).read_text())
    assert logged["schema"] == "harness.assessment/1" and logged["verdict"] == "FAIL"
    four_fifths = next(f for s in logged["suites"] for f in s["findings"]
                       if f["key"] == "bias.four_fifths.adverse_impact_ratio.sex.F")
    assert four_fifths["status"] == "FAIL" and "The difference is statistically significant" in four_fifths["message"]
    assert logged["policy"]["decision_rule"] == "significant_violation"
    assert logged["run_id"] == run.info.run_id
    # artifacts stay beside the store, not in ./mlruns of wherever the command ran
    assert (tmp_path / "artifacts").is_dir()

    # harness report re-renders from the logged assessment.json
    r = harness("report", run.info.run_id, "--format", "json", "--tracking-uri", store(tmp_path))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == logged
    md = tmp_path / "again.md"
    r = harness("report", run.info.run_id, "--format", "md", "--out", str(md), "--tracking-uri", store(tmp_path))
    assert r.returncode == 0 and md.read_text() == (out / "report.md").read_text()


def test_a_fair_tool_is_not_failed(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "fair", n=6000, seed=22)
    r = harness("assess", str(tool), "--dataset", str(card), "--tracking-uri", store(tmp_path),
                "--out", str(tmp_path / "o"))
    assert r.returncode in (0, 3), r.stdout + r.stderr
    doc = json.loads((tmp_path / "o" / "assessment.json").read_text())
    assert doc["verdict"] in ("PASS", "NEEDS_REVIEW")
    assert not [f for s in doc["suites"] for f in s["findings"] if f["status"] == "FAIL"]


def test_a_broken_manifest_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=50, seed=23)
    text = tool.read_text().replace("risk_tier: high", "risk_tier: extreme")
    text = text.replace("  model_type: generated predictions\n", "").replace("vendor: Test Vendor\n", "")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    r = harness("assess", str(bad), "--dataset", str(card), "--tracking-uri", store(tmp_path))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: tool manifest {bad} has 3 problem(s):\n")
    assert "  - vendor: required field is missing\n" in r.stderr
    assert "  - risk_tier (line 7): Input should be 'high', 'medium' or 'low'\n" in r.stderr
    assert "  - disclosure.model_type: required field is missing\n" in r.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_missing_data_file_names_the_source_and_the_places_looked(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=50, seed=24)
    (card.parent / "data.csv").unlink()
    r = harness("assess", str(tool), "--dataset", str(card), "--data-dir", str(tmp_path / "mirror"),
                "--tracking-uri", store(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"error: the data file 'data.csv' of dataset 'case-24' is missing. Looked in: {card.parent / 'data.csv'}, "
        f"{tmp_path / 'mirror' / 'data.csv'}. Download it from https://example.org/generated and put it next to "
        "the card, or pass --data-dir DIR (or set HARNESS_DATA_DIR) to a folder that holds it.")


def test_a_hash_mismatch_prints_both_hashes(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=50, seed=25)
    data = card.parent / "data.csv"
    import hashlib

    expected = hashlib.sha256(data.read_bytes()).hexdigest()
    data.write_text(data.read_text().replace("\n", "\n", 1) + "a99999,F,A,1.0,1\n")
    found = hashlib.sha256(data.read_bytes()).hexdigest()
    r = harness("assess", str(tool), "--dataset", str(card), "--tracking-uri", store(tmp_path))
    assert r.returncode == 2
    assert f"sha256 expected {expected}, found {found}" in r.stderr


def test_a_dataset_missing_a_declared_column(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=50, seed=26)
    card.write_text(card.read_text().replace("features: [sex, race, income]", "features: [sex, race, income, zip]"))
    # the card's hash still matches: the data file is unchanged
    r = harness("assess", str(tool), "--dataset", str(card), "--tracking-uri", store(tmp_path))
    assert r.returncode == 2
    assert "error: dataset 'case-26' (" in r.stderr
    assert "lacks the declared column(s) ['zip']; the file has ['id', 'sex', 'race', 'income', 'approved']" in r.stderr


def test_predictions_with_missing_ids(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=50, seed=27)
    preds = tool.parent / "predictions.csv"
    lines = preds.read_text().splitlines()
    preds.write_text("\n".join(lines[:1] + lines[3:]) + "\n")  # drop a00000 and a00001
    r = harness("assess", str(tool), "--dataset", str(card), "--tracking-uri", store(tmp_path))
    assert r.returncode == 2
    assert (f"error: predictions file {preds} has no prediction for 2 of 50 ids of dataset 'case-27' "
            "(id column 'id'), e.g. ['a00000', 'a00001']") in r.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_unknown_suite(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=50, seed=28)
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "no_such_suite",
                "--tracking-uri", store(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: unknown suite(s) ['no_such_suite']; "
                                "installed suites: bias, data_quality, degradation, explainability, hallucination, "
                                "performance, privacy, security")


def test_unreachable_tracking_server(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=50, seed=29)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}"
    r = harness("assess", str(tool), "--dataset", str(card), "--tracking-uri", url)
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: cannot reach the MLflow tracking server at {url}: ConnectionError.")
    assert "Traceback" not in r.stderr


def test_a_tool_that_raises_is_an_error_and_still_recorded(tmp_path: Path) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "flaky_tool.py").write_text(
        "def predict(frame):\n    raise RuntimeError('model server returned 503')\n")
    tool, card = write_case(tmp_path / "c", n=100, seed=30, kind="python")
    tool.write_text(tool.read_text().replace("{callable}", "flaky_tool:predict"))
    r = harness_process("assess", str(tool), "--dataset", str(card), "--tracking-uri", store(tmp_path),
                        "--out", str(tmp_path / "o"), env={"PYTHONPATH": str(tmp_path / "mods")})
    assert r.returncode == 4, r.stdout + r.stderr
    assert "ERROR" in r.stdout
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store(tmp_path))
    run = client.search_runs([client.get_experiment_by_name("harness/case-tool-30").experiment_id])[0]
    assert run.data.tags["harness.verdict"] == "ERROR"
    assert run.data.tags["harness.error"] == (
        "tool 'case-tool-30' raised RuntimeError during prediction: model server returned 503")
    assert run.info.status == "FAILED"
    assert "assessment.json" in {a.path for a in client.list_artifacts(run.info.run_id)}


@pytest.mark.slow
def test_a_relative_sqlite_uri_is_one_store_for_the_run_and_the_gate(tmp_path: Path, monkeypatch) -> None:
    """sqlite:///m.db means m.db in the working folder (SQLAlchemy's reading). It used to be read as /m.db in one
    place and m.db in another, so the run was recorded but the approval gate could not find it (exit 2)."""
    from click.testing import CliRunner

    from harness.cli import main
    from harness.tracking.runs import resolve_uri

    tool, card = write_case(tmp_path / "c", n=400, seed=30)
    monkeypatch.chdir(tmp_path)
    assert resolve_uri("sqlite:///m.db") == f"sqlite:///{(tmp_path / 'm.db').resolve().as_posix()}"
    assert resolve_uri("sqlite:////srv/h/m.db") == "sqlite:////srv/h/m.db"
    r = CliRunner().invoke(main, ["assess", str(tool), "--dataset", str(card), "--suite", "bias",
                                  "--tracking-uri", "sqlite:///m.db", "--out", "o"], env={"COLUMNS": "200"})
    assert r.exit_code in (0, 1, 3), r.output
    assert (tmp_path / "m.db").is_file() and not Path("/m.db").exists()
    r = CliRunner().invoke(main, ["status", "case-tool-30", "--tracking-uri", "sqlite:///m.db"])
    assert r.exit_code == 0 and "1.0" in r.output, r.output
