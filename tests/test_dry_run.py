"""`harness check tool.yaml --dataset NAME` (issue 15, section 5): a dry run that holds a tool's outputs to the
assessment's rules on a few rows and records nothing. Every CLI call runs in-process (CliRunner) in an empty
working folder whose contents are compared before and after."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

from harness.cli import main
from harness.workflows.dry_run import dry_run
from tests.conftest import MANIFEST, ROOT, write_case

EXAMPLES = ROOT / "examples"


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder and a tracking URI naming a store in it that does not exist: a dry run must leave
    both as they are (no mlruns/, no .harness/ answer cache, no reports/, no SQLite file)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{cwd / 'store' / 'mlflow.db'}")
    return cwd


def _check(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["check", *args])
    return r.exit_code, " ".join(r.output.split())


def test_the_city_baseline_is_ready_and_nothing_is_recorded(empty_cwd: Path) -> None:
    code, text = _check(str(EXAMPLES / "rental_assistance" / "fair_tool.yaml"), "--dataset", "rental-assistance")
    assert code == 0, text
    assert "fair_tool.yaml: rental-screen-baseline 1.0.0 (decision-support, adapter sklearn): manifest valid" in text
    assert "dataset rental-assistance: sha256 verified; 20 of 14,000 rows scored in" in text
    assert ("inputs the tool reads: household_size, monthly_income, income_pct_ami, rent, rent_burden, "
            "months_in_arrears, has_children, eviction_notice") in text
    assert "labels: [0, 1], the target's values are [0, 1]; scores given" in text
    assert "fair_model.skops loads in the harness process: every type it holds is one the City trusts" in text
    assert ("would run bias, data_quality, degradation, explainability, performance on 14,000 rows") in text
    assert text.endswith("ready to be assessed; nothing was recorded")
    assert _files(empty_cwd) == []


def test_a_file_of_outputs_is_read_whole_and_a_missing_id_stops_it(tmp_path: Path, empty_cwd: Path) -> None:
    tool, card = write_case(tmp_path / "case", n=400, seed=11)
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 0, text
    assert "every row scored" in text and "at most about" not in text
    preds = pd.read_csv(tool.parent / "predictions.csv")
    preds.iloc[1:].to_csv(tool.parent / "predictions.csv", index=False)
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    assert text.endswith(f"error: predictions file {tool.parent / 'predictions.csv'} has no prediction for 1 of 400 "
                         "ids of dataset 'case-11' (id column 'id'), e.g. ['a00000']")
    assert _files(empty_cwd) == []


def test_labels_that_are_not_the_targets_values_are_named(tmp_path: Path, empty_cwd: Path) -> None:
    tool, card = write_case(tmp_path / "case", n=300, seed=12)
    preds = pd.read_csv(tool.parent / "predictions.csv")
    preds.assign(prediction=preds["prediction"].map({1: "approve", 0: "deny"})).to_csv(
        tool.parent / "predictions.csv", index=False)
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    assert text.endswith("error: tool 'case-tool-12' outputs labels ['approve', 'deny'] but the target column "
                         "'approved' of dataset 'case-12' has values [0, 1]; map them with adapter.label_map (e.g. "
                         "label_map: {\"approve\": <one of 0, 1>, ...}, one entry per label the tool outputs) in "
                         "tool.yaml")
    # some labels right, some not: the assessment would run and the data_quality suite FAIL it; the dry run says so
    preds.assign(prediction=preds["prediction"].astype(object)).pipe(
        lambda f: f.assign(prediction=[("maybe" if i < 7 else v) for i, v in enumerate(f["prediction"])])
    ).to_csv(tool.parent / "predictions.csv", index=False)
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    assert text.endswith("error: tool 'case-tool-12' is not ready to be assessed on 'case-12': 7 of 300 labels are "
                         "not values of the target 'approved' (e.g. 'maybe'); map them with adapter.label_map or "
                         "output [0, 1] (the data_quality suite FAILs a label outside them)")
    # the label_map the first message suggests makes it ready
    tool.write_text(tool.read_text() + "  label_map: {maybe: 0}\n")
    assert _check(str(tool), "--dataset", str(card))[0] == 0


def test_scores_outside_0_1_are_a_conformance_problem(tmp_path: Path, empty_cwd: Path) -> None:
    tool, card = write_case(tmp_path / "case", n=200, seed=13)
    preds = pd.read_csv(tool.parent / "predictions.csv")
    preds.assign(score=preds["score"] * 100).to_csv(tool.parent / "predictions.csv", index=False)
    worst = (preds["score"] * 100)[(preds["score"] * 100) > 1].iloc[0]
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    n = int(((preds["score"] * 100) > 1).sum())
    assert text.endswith(f"error: tool 'case-tool-13' is not ready to be assessed on 'case-13': predict_outputs: "
                         f"predict(dataset) returned {n} score(s) outside [0, 1] (e.g. {worst:.6g}); scores are the "
                         "probability of the favourable outcome")


def _callable_case(folder: Path, body: str, seed: int) -> tuple[Path, Path]:
    tool, card = write_case(folder, n=500, seed=seed, kind="python")
    (folder / "vendor.py").write_text(body)
    tool.write_text(tool.read_text().replace("{callable}", "vendor:predict"))
    return tool, card


def test_a_callable_is_asked_a_few_rows_and_its_inputs_are_the_cards(tmp_path: Path, empty_cwd: Path) -> None:
    body = ("import numpy as np\n"
            "def predict(frame):\n"
            "    return (frame['income'].to_numpy() > 50).astype(int), np.full(len(frame), 0.5)\n")
    tool, card = _callable_case(tmp_path / "case", body, seed=14)
    run = dry_run(tool, str(card), rows=7)
    assert (run.rows_scored, run.rows_total, run.problems, run.inputs) == (7, 500, [], ["sex", "race", "income"])
    assert run.labels == [0, 1] or run.labels == [1, 0]
    assert run.estimate_s == pytest.approx(run.seconds / 7 * 500)
    assert _files(empty_cwd) == []


def test_a_tool_that_answers_differently_twice_is_caught(tmp_path: Path, empty_cwd: Path) -> None:
    body = ("import numpy as np\n"
            "def predict(frame):\n"
            "    return np.random.default_rng().integers(0, 2, len(frame))\n")
    tool, card = _callable_case(tmp_path / "case", body, seed=15)
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    assert "predict_deterministic: two calls of predict(dataset) gave different labels" in text


def test_a_tool_that_crashes_is_an_error_exit_4(tmp_path: Path, empty_cwd: Path) -> None:
    body = "def predict(frame):\n    raise RuntimeError('model file corrupt')\n"
    tool, card = _callable_case(tmp_path / "case", body, seed=16)
    code, text = _check(str(tool), "--dataset", str(card))
    assert (code, text) == (4, "error: tool 'case-tool-16' raised RuntimeError during prediction: model file corrupt")
    assert _files(empty_cwd) == []


def test_a_model_reading_a_protected_attribute_the_card_withholds_is_refused(tmp_path: Path, empty_cwd: Path) -> None:
    folder = tmp_path / "case"
    _, card = write_case(folder, n=200, seed=17)
    card.write_text(card.read_text().replace("features: [sex, race, income]", "features: [income]"))
    frame = pd.read_csv(folder / "data.csv").assign(sex=lambda f: (f["sex"] == "F").astype(int))
    sio.dump(LogisticRegression().fit(frame[["income", "sex"]].to_numpy(), frame["approved"]), folder / "m.skops")
    tool = folder / "skops.yaml"
    tool.write_text(MANIFEST.format(id="reads-sex") + "adapter:\n  kind: sklearn\n  path: m.skops\n"
                    "  input_columns: [income, sex]\n")
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    assert text == ("error: the model in m.skops asks for the protected attribute(s) 'sex', which dataset 'case-17''s "
                    "card does not give tools (its features are ['income']): a tool receives a protected attribute "
                    "only when the card lists it among its features; refit the model without it")


def test_manifest_and_usage_errors_are_one_clear_error(tmp_path: Path, empty_cwd: Path) -> None:
    tool, card = write_case(tmp_path / "case", n=100, seed=18)
    tool.write_text(tool.read_text().replace("risk_tier: high", "risk_tier: extreme"))
    line = tool.read_text().splitlines().index("risk_tier: extreme") + 1
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    assert text == (f"error: tool manifest {tool} has 1 problem(s): - risk_tier (line {line}): Input should be 'high', "
                    "'medium' or 'low'")
    tool.write_text(tool.read_text().replace("risk_tier: extreme", "risk_tier: high"))
    code, text = _check(str(tool), "--dataset", "no-such-data")
    assert code == 2 and text.startswith("error: no dataset named 'no-such-data'")
    code, text = _check(str(tool), "--dataset", str(card), "--rows", "0")
    assert (code, text) == (2, "error: --rows 0: ask the tool for at least one row")
    code, text = _check(str(tool), "--dataset", str(card), "--suite", "nonesuch")
    assert code == 2 and text.startswith("error: unknown suite(s) ['nonesuch']")
    assert _files(empty_cwd) == []


def test_a_generative_tool_is_asked_questions_and_its_answers_counted(empty_cwd: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = _check(str(EXAMPLES / "city_services_qa" / "baseline_tool.yaml"), "--dataset", "city-services-qa",
                        "--rows", "10")
    assert code == 0, text
    assert "10 of 276 rows scored" in text
    import importlib.util

    from harness.datasets import load_dataset
    from harness.measures.answers import is_abstention
    from harness.tools import qa_items

    spec = importlib.util.spec_from_file_location("qa_tools_here", EXAMPLES / "city_services_qa" / "qa_tools.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "qa_tools_here", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    answers = module.baseline(qa_items(load_dataset("city-services-qa"), "t").iloc[:10])
    declined = sum(is_abstention(a) for a in answers)
    assert f"answers: 10 text answers, {declined} of them declining" in text
    assert "would run hallucination, privacy, bias, security on 276 rows" in text
    assert _files(empty_cwd) == []


def test_a_generative_tool_on_tabular_data_is_refused(tmp_path: Path, empty_cwd: Path) -> None:
    code, text = _check(str(EXAMPLES / "city_services_qa" / "baseline_tool.yaml"), "--dataset", "rental-assistance")
    assert code == 2
    assert text == ("error: tool 'city-qa-baseline' is generative, but dataset 'rental-assistance' "
                    "(binary-classification) has no column(s) ['context', 'question']; assess it on a grounded-qa "
                    "dataset such as city-services-qa")



@pytest.mark.slow  # the sandboxed worker: about 9 s
@pytest.mark.usefixtures("bwrap")
def test_a_tree_model_is_said_to_run_in_the_sandbox_and_adapter_trusted_cannot_change_it(tmp_path: Path,
                                                                                         empty_cwd: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier

    folder = tmp_path / "case"
    _, card = write_case(folder, n=200, seed=19)
    frame = pd.read_csv(folder / "data.csv")
    sio.dump(DecisionTreeClassifier(max_depth=2, random_state=0).fit(frame[["income"]], frame["approved"]),
             folder / "tree.skops")
    tool = folder / "tree.yaml"
    tool.write_text(MANIFEST.format(id="tree") + "adapter:\n  kind: sklearn\n  path: tree.skops\n")
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 0, text
    assert ("note: tree.skops runs in the sandboxed worker: it holds ['sklearn.tree._tree.Tree'], which the City does "
            "not trust in the harness process (settings.sandbox.trusted_types in the policy can add them; "
            "adapter.trusted cannot)") in text
    tool.write_text(tool.read_text() + "  trusted: [sklearn.tree._tree.Tree]\n")
    code, text = _check(str(tool), "--dataset", str(card))
    assert code == 2
    assert text == ("error: tool manifest 'tree' asks to trust ['sklearn.tree._tree.Tree'] in adapter.trusted; only "
                    "the City decides which types are trusted: the harness allowlist (scikit-learn, numpy, scipy) plus "
                    "the policy's settings.sandbox.trusted_types. Remove them from adapter.trusted: a model that needs "
                    "other types runs in the sandboxed worker")
    assert _files(empty_cwd) == []
