"""Inputs that cannot be misread (issue 10, section 4): a tool whose labels are not the card's target values is
bad input (exit 2) unless `adapter.label_map` maps them, and a model fitted without column names is not fed
protected attributes by position (`adapter.input_columns`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import ConfigError, ToolConfigError
from harness.manifest import load_manifest
from harness.tools import Predictions, load_tool, site_of
from harness.tools.inputs import model_inputs
from harness.tools.labels import apply_label_map, canonical, check_labels, label_space
from tests.conftest import MANIFEST, write_card, write_case

MAP = '  label_map: {1: ">50K", 0: "<=50K"}\n'


def income_case(folder: Path, *, n: int = 2000, seed: int = 0, disparity: float = 0.0, adapter: str = "",
                favorable: str | None = None) -> tuple[Path, Path]:
    """A dataset whose target is text (">50K" / "<=50K", as in UCI Adult) and a vendor's 0/1 predictions file.

    Group F is predicted 1 with probability 0.45 - disparity, group M with 0.45."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["A", "B"], n)
    y = rng.binomial(1, 0.4, n)
    pred = rng.binomial(1, np.where(sex == "F", 0.45 - disparity, 0.45))
    ids = [f"p{i:05d}" for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "sex": sex, "race": race, "income": rng.normal(50, 10, n).round(2),
                  "age": rng.integers(18, 80, n), "outcome": np.where(y == 1, ">50K", "<=50K")}
                 ).to_csv(folder / "data.csv", index=False)
    pd.DataFrame({"id": ids, "prediction": pred}).to_csv(folder / "predictions.csv", index=False)
    fav = f", favorable: {json.dumps(favorable)}" if favorable else ""
    card = write_card(folder, f"incomes-{seed}", target=f'{{column: outcome, positive: ">50K"{fav}}}',
                      features="[sex, race, income, age]",
                      extra='columns:\n  outcome: {type: category, values: ["<=50K", ">50K"]}\n')
    tool = folder / "tool.yaml"
    tool.write_text(MANIFEST.format(id="income-tool") + (adapter or "adapter:\n  kind: predictions\n  path: "
                                                          "predictions.csv\n  id_column: id\n"))
    return tool, card


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env={"COLUMNS": "200", "HARNESS_DATA_DIR": ""})
    return r.exit_code, r.stdout, r.stderr


def assess(tmp_path: Path, tool: Path, card: Path, *suites: str) -> tuple[int, str, str]:
    args = [a for s in suites for a in ("--suite", s)]
    return invoke("assess", str(tool), "--dataset", str(card), *args, "--tracking-uri",
                  f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "out"))


# ------------------------------------------------------------------------------------------- the label check


def test_zero_one_labels_against_a_text_target_are_bad_input(tmp_path: Path) -> None:
    tool, card = income_case(tmp_path / "c")
    code, out, err = assess(tmp_path, tool, card, "bias")
    assert code == 2, out + err
    assert err == ("error: tool 'income-tool' outputs labels [0, 1] but the target column 'outcome' of dataset "
                   "'incomes-0' has values ['<=50K', '>50K']; map them with adapter.label_map (e.g. label_map: "
                   '{1: ">50K", 0: "<=50K"}) in tool.yaml\n')
    assert not (tmp_path / "out").exists()  # bad input: nothing ran, no report was written


def test_the_label_map_fixes_it_and_the_verdict_is_computed_on_the_mapped_labels(tmp_path: Path) -> None:
    adapter = "adapter:\n  kind: predictions\n  path: predictions.csv\n  id_column: id\n" + MAP
    tool, card = income_case(tmp_path / "c", n=3000, disparity=0.25, adapter=adapter)
    code, out, err = assess(tmp_path, tool, card, "bias", "data_quality")
    result = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert (code, result["verdict"]) == (1, "FAIL"), out + err
    # the selection rates are those of the mapped labels: 1 (">50K", the favourable outcome) per group, by hand
    data = pd.read_csv(card.parent / "data.csv")
    pred = pd.read_csv(card.parent / "predictions.csv")["prediction"]
    by_hand = pred.groupby(data["sex"]).mean()
    measured = {m["group"]: m["value"] for s in result["suites"] for m in s["measurements"]
                if m["key"].startswith("bias.group_rates.selection_rate.sex.")}
    assert measured == {"sex.F": pytest.approx(by_hand["F"], abs=1e-12),
                        "sex.M": pytest.approx(by_hand["M"], abs=1e-12)}
    ratio = next(f for s in result["suites"] for f in s["findings"]
                 if f["suite"] == "bias" and f["check"] == "four_fifths" and f["group"] == "sex.F")
    assert ratio["value"] == pytest.approx(by_hand["F"] / by_hand["M"], abs=1e-12)
    assert ratio["status"] == "FAIL"  # 0.20 / 0.45: far under 0.8, on 3,000 rows
    labels = next(f for s in result["suites"] for f in s["findings"] if f["metric"] == "labels_in_set")
    assert (labels["status"], labels["value"]) == ("PASS", 0.0)


def test_a_reversed_map_reverses_the_rates(tmp_path: Path) -> None:
    """The map is what the harness reads: mapping 0 to the favourable outcome turns each rate r into 1 - r."""
    adapter = ("adapter:\n  kind: predictions\n  path: predictions.csv\n  id_column: id\n"
               '  label_map: {0: ">50K", 1: "<=50K"}\n')
    tool, card = income_case(tmp_path / "c", n=500, seed=3, adapter=adapter)
    ds = load_dataset(str(card))
    preds = load_tool(load_manifest(tool)).predict(ds)
    raw = pd.read_csv(card.parent / "predictions.csv")["prediction"].to_numpy()
    assert preds.labels.tolist() == np.where(raw == 0, ">50K", "<=50K").tolist()
    assert check_labels(preds, ds, load_manifest(tool)) is preds


def test_labels_that_partly_match_are_left_to_labels_in_set(tmp_path: Path) -> None:
    tool, card = income_case(tmp_path / "c", n=50)
    ds, manifest = load_dataset(str(card)), load_manifest(tool)
    labels = np.array([">50K"] * 40 + [1] * 10, dtype=object)
    preds = Predictions(labels=labels)
    assert check_labels(preds, ds, manifest) is preds
    from harness.check import CheckContext
    from harness.policy import load_policy
    from test_suites.data_quality.outputs import label_space as dq_label_space

    ctx = CheckContext(dataset=ds, predictions=preds, policy=load_policy(), manifest=manifest, seed=0)
    f = dq_label_space(ctx, labels, True, "rows")
    assert (f.status.value, f.value, f.details["count"]) == ("FAIL", 0.2, 10)


@pytest.mark.parametrize("labels", [
    np.array(["1", "0", "1"]), np.array([1.0, 0.0, 1.0]), np.array([True, False, True]), np.array([1, 0, 1]),
    np.array([" 1", "0 ", "1"], dtype=object)])
def test_one_and_one_as_text_or_float_or_true_are_one_label(tmp_path: Path, labels: np.ndarray) -> None:
    tool, card = write_case(tmp_path / "c", n=3, seed=1)  # target `approved`, values 0 and 1
    preds = Predictions(labels=labels)
    assert check_labels(preds, load_dataset(str(card)), load_manifest(tool)) is preds


def test_other_labels_for_a_numeric_target_name_both_sets(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "c", n=4, seed=1)
    with pytest.raises(ToolConfigError) as e:
        check_labels(Predictions(labels=np.array(["yes", "no", "no", "yes"], dtype=object)),
                     load_dataset(str(card)), load_manifest(tool))
    assert str(e.value) == ("tool 'case-tool-1' outputs labels ['no', 'yes'] but the target column 'approved' of "
                            "dataset 'case-1' has values [0, 1]; map them with adapter.label_map (e.g. label_map: "
                            '{"no": <one of 0, 1>, ...}, one entry per label the tool outputs) in tool.yaml')


def test_a_tools_labels_are_quoted_cut_short_scrubbed_and_at_most_five(tmp_path: Path) -> None:
    """A python tool's or a predictions file's labels reach the message as the tool wrote them (a sandboxed
    tool's are scrubbed on the way in): each is cut to 64 characters and scrubbed, and five are named at most."""
    tool, card = write_case(tmp_path / "c", n=4, seed=1)
    ds, manifest = load_dataset(str(card)), load_manifest(tool)
    long, passwd = "x" * 10_000, "root:x:0:0:root:/root:/bin/bash"
    with pytest.raises(ToolConfigError) as e:
        check_labels(Predictions(labels=np.array([long, passwd, "no", long], dtype=object)), ds, manifest)
    cut = "x" * 61 + "..."
    assert str(e.value) == (f"tool 'case-tool-1' outputs labels ['no', '[redacted: account-file line]', '{cut}'] but "
                            "the target column 'approved' of dataset 'case-1' has values [0, 1]; map them with "
                            "adapter.label_map (e.g. label_map: {\"no\": <one of 0, 1>, ...}, one entry per label "
                            "the tool outputs) in tool.yaml")
    assert "x" * 65 not in str(e.value) and "/bin/bash" not in str(e.value)
    many = np.array(list("abcdefghijkl"), dtype=object)
    with pytest.raises(ToolConfigError, match=r"outputs labels \['a', 'b', 'c', 'd', 'e', \.\.\.\] \(12 values\) "
                                               r"but the target column"):
        check_labels(Predictions(labels=many), ds, manifest)
    # the example map quotes the tool's first label, scrubbed too
    with pytest.raises(ToolConfigError, match=r"\(e\.g\. label_map: \{\"\[redacted: account-file line\]\": <one"):
        check_labels(Predictions(labels=np.array([passwd, passwd, passwd, passwd], dtype=object)), ds, manifest)


def test_missing_labels_and_generative_tools_are_not_judged_here(tmp_path: Path) -> None:
    tool, card = income_case(tmp_path / "c", n=3)
    ds, manifest = load_dataset(str(card)), load_manifest(tool)
    nothing = Predictions(labels=np.array([np.nan, np.nan, np.nan]))
    assert check_labels(nothing, ds, manifest) is nothing  # all missing: the no_nan check says so
    generative = manifest.model_copy(update={"category": "generative"})
    answers = Predictions(labels=np.array(["a", "b", "c"], dtype=object), answers=["a", "b", "c"])
    assert check_labels(answers, ds, generative) is answers


def test_label_space_and_canonical_spellings(tmp_path: Path) -> None:
    _, card = income_case(tmp_path / "c", n=20)
    assert label_space(load_dataset(str(card))) == ["<=50K", ">50K"]
    assert [canonical(v) for v in (1, 1.0, "1", " 1 ", True, np.int64(1), "True")] == [1.0] * 7
    assert [canonical(v) for v in (None, np.nan, ">50K ")] == [None, None, ">50K"]
    assert apply_label_map(np.array([1, 0, 2]), {"1": "yes", 0.0: "no"}).tolist() == ["yes", "no", 2]


def test_a_label_map_names_each_label_once(tmp_path: Path) -> None:
    adapter = "adapter:\n  kind: predictions\n  path: predictions.csv\n  label_map: {1: a, \"1\": b}\n"
    tool, _ = income_case(tmp_path / "c", n=3, adapter=adapter)
    line = tool.read_text().splitlines().index('  label_map: {1: a, "1": b}') + 1
    with pytest.raises(ConfigError) as e:
        load_manifest(tool)
    assert str(e.value) == (f"tool manifest {tool} has 1 problem(s):\n  - adapter.label_map (line {line}): Value "
                            "error, label_map names the label 1 twice (as 1 and '1'); 1, 1.0, \"1\" and true are one "
                            "label")


def test_a_python_tool_maps_what_predict_frame_returns_too(tmp_path: Path) -> None:
    """The counterfactual and robustness checks call predict_frame: they must read the mapped labels."""
    adapter = "adapter:\n  kind: python\n  callable: numpy:ones\n" + MAP
    tool, card = income_case(tmp_path / "c", n=10, adapter=adapter)
    python = load_tool(load_manifest(tool), obj=lambda frame: (frame["income"].to_numpy() > 50).astype(int))
    ds = load_dataset(str(card))
    expected = np.where(ds.frame["income"] > 50, ">50K", "<=50K").tolist()
    assert python.predict(ds).labels.tolist() == expected
    assert python.predict_frame(ds.features.iloc[:3]).labels.tolist() == expected[:3]


@pytest.mark.parametrize(("favorable", "column"), [(None, 1), ("<=50K", 0)])
def test_sklearn_scores_are_read_for_the_favourable_class_through_the_map(tmp_path: Path, favorable: str | None,
                                                                          column: int) -> None:
    tool, card = income_case(tmp_path / "c", n=300, favorable=favorable)
    ds = load_dataset(str(card))
    X = ds.frame[["income", "age"]]
    model = LogisticRegression().fit(X, (ds.frame["outcome"] == ">50K").astype(int))
    sio.dump(model, card.parent / "m.skops")
    tool.write_text(MANIFEST.format(id="income-tool") + "adapter:\n  kind: sklearn\n  path: m.skops\n" + MAP)
    preds = load_tool(load_manifest(tool)).predict(ds)
    assert preds.labels.tolist() == np.where(model.predict(X) == 1, ">50K", "<=50K").tolist()
    assert np.allclose(preds.scores, model.predict_proba(X)[:, column])


# ------------------------------------------------------------------------- a model fitted without column names


def test_a_model_fitted_on_a_numpy_array_is_not_fed_protected_attributes(tmp_path: Path) -> None:
    tool, card = income_case(tmp_path / "c", n=400)
    ds = load_dataset(str(card))
    X = ds.frame[["income", "age"]].to_numpy()
    model = LogisticRegression().fit(X, (ds.frame["outcome"] == ">50K").astype(int))
    sio.dump(model, card.parent / "model.skops")
    tool.write_text(MANIFEST.format(id="income-tool") + "adapter:\n  kind: sklearn\n  path: model.skops\n" + MAP)
    code, out, err = assess(tmp_path, tool, card, "bias")
    assert code == 2, out + err
    assert err == ("error: the model in model.skops was fitted without column names and expects 2 inputs; the "
                   "dataset card's features are ['sex', 'race', 'income', 'age'] (4, including the protected "
                   "attributes 'sex', 'race'): name the model's inputs with adapter.input_columns in tool.yaml, in "
                   "the order it was fitted on\n")
    # named, the model gets exactly those columns, in that order
    tool.write_text(tool.read_text() + "  input_columns: [income, age]\n")
    sk = load_tool(load_manifest(tool))
    assert sk.input_columns(ds) == ["income", "age"]
    preds = sk.predict(ds)
    assert preds.labels.tolist() == np.where(model.predict(X) == 1, ">50K", "<=50K").tolist()
    assert np.allclose(preds.scores, model.predict_proba(X)[:, 1])
    code, out, err = assess(tmp_path, tool, card, "bias")
    assert code in (0, 3), out + err  # it runs: a verdict, not bad input


def test_input_columns_must_be_the_models_inputs(tmp_path: Path) -> None:
    _, card = income_case(tmp_path / "c", n=20)
    ds = load_dataset(str(card))
    same = model_inputs(ds, names=None, n_features=2, declared=["age", "income"], model="the model in m.skops")
    assert same == ["age", "income"]
    cases = [
        (dict(names=None, n_features=2, declared=["income", "wealth"]),
         "adapter.input_columns names column(s) ['wealth'] that dataset 'incomes-0' does not have; it has ['id', "
         "'sex', 'race', 'income', 'age', 'outcome']"),
        (dict(names=None, n_features=1, declared=["income", "age"]),
         "adapter.input_columns lists 2 columns but the model in m.skops expects 1 input; list the model's inputs, "
         "in the order it was fitted on"),
        (dict(names=["age", "income"], n_features=2, declared=["income", "age"]),
         "adapter.input_columns ['income', 'age'] differ from the columns the model in m.skops was fitted on, "
         "['age', 'income']; the model names its own inputs, so leave adapter.input_columns out or make it the same "
         "list"),
        (dict(names=None, n_features=4, declared=None),
         "the model in m.skops was fitted without column names and expects 4 inputs; the dataset card's features "
         "are ['sex', 'race', 'income', 'age'] (4, including the protected attributes 'sex', 'race'), which it would "
         "read by position: name the model's inputs with adapter.input_columns in tool.yaml, in the order it was "
         "fitted on"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ToolConfigError) as e:
            model_inputs(ds, model="the model in m.skops", **kwargs)
        assert str(e.value) == message
    # a model that says nothing about its inputs gets the card's features by name, as before
    assert model_inputs(ds, names=None, n_features=None, declared=None, model="m") == ["sex", "race", "income", "age"]


def test_the_sandbox_worker_reports_how_many_inputs_a_model_takes(tmp_path: Path) -> None:
    from harness.sandbox.worker import describe

    _, card = income_case(tmp_path / "c", n=100)
    ds = load_dataset(str(card))
    unnamed = LogisticRegression().fit(ds.frame[["income", "age"]].to_numpy(), ds.frame["outcome"])
    named = LogisticRegression().fit(ds.frame[["income"]], ds.frame["outcome"])
    assert describe(unnamed, {"format": "pickle"})["n_features"] == 2
    assert (describe(named, {"format": "pickle"})["feature_names"], describe(named, {"format": "pickle"})["n_features"]
            ) == (["income"], 1)


def test_a_sandboxed_pickle_gets_the_same_checks_and_map(tmp_path: Path) -> None:
    """The pickle adapter (the sandboxed worker, here its subprocess mode) reads the model's input count and
    applies the map to labels and to the class its scores are read for."""
    import pickle

    from harness.tools.sandboxed import SandboxedTool
    from tests.test_sandbox import fallback_policy  # the subprocess mode needs the policy's consent (issue 12)

    tool, card = income_case(tmp_path / "c", n=200)
    ds = load_dataset(str(card))
    X = ds.frame[["income", "age"]].to_numpy()
    model = LogisticRegression().fit(X, (ds.frame["outcome"] == ">50K").astype(int))
    (card.parent / "model.pkl").write_bytes(pickle.dumps(model))
    tool.write_text(MANIFEST.format(id="income-tool") + "adapter:\n  kind: pickle\n  path: model.pkl\n" + MAP)
    def sandboxed_tool() -> SandboxedTool:
        m = load_manifest(tool)
        return SandboxedTool.from_config(m.adapter, site_of(m, policy=fallback_policy()),  # type: ignore[arg-type]
                                         isolation="subprocess")

    with sandboxed_tool() as sandboxed, \
            pytest.raises(ToolConfigError) as e:
        sandboxed.predict(ds)
    assert str(e.value).startswith("the model in model.pkl was fitted without column names and expects 2 inputs; ")
    tool.write_text(tool.read_text() + "  input_columns: [income, age]\n")
    with sandboxed_tool() as sandboxed:
        preds = sandboxed.predict(ds)
    assert preds.labels.tolist() == np.where(model.predict(X) == 1, ">50K", "<=50K").tolist()
    assert np.allclose(preds.scores, model.predict_proba(X)[:, 1])
