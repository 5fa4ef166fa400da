"""The target is never handed to the model (issue 12, section 1): a vendor model that names the card's target
column among its inputs was given the answers and PASSed; now it is refused (exit 2) before it is called. Nor
is a model fed a protected attribute that the card does not list among its features.

Real skops files and pickles of real scikit-learn models; the pickle runs in the real sandboxed worker.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import ToolConfigError
from harness.manifest import load_manifest
from harness.tools import load_tool
from harness.tools.inputs import model_inputs
from tests.conftest import MANIFEST, write_card, write_case

TARGET = ("the model in m.skops asks for column 'approved', the dataset card's target: a tool is never given the "
          "answers; refit the model without it")


def _tool(folder: Path, adapter: str) -> Path:
    p = folder / "tool.yaml"
    p.write_text(MANIFEST.format(id="t") + adapter)
    return p


def test_a_model_fitted_on_the_target_column_is_refused(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=200, seed=81)
    ds = load_dataset(str(card))
    X = ds.frame[["income", "approved"]]
    cheat = LogisticRegression().fit(X, ds.frame["approved"])  # reads the answer: a perfect score
    assert (cheat.predict(X) == ds.frame["approved"]).all()
    sio.dump(cheat, tmp_path / "m.skops")
    tool = load_tool(load_manifest(_tool(tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n")))
    with pytest.raises(ToolConfigError) as e:
        tool.predict(ds)
    assert str(e.value) == TARGET
    # the same through `harness assess`: bad input (exit 2), not a PASS
    r = CliRunner().invoke(main, ["assess", str(tmp_path / "tool.yaml"), "--dataset", str(card), "--suite", "bias",
                                  "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert r.exit_code == 2, r.output
    assert TARGET in " ".join(r.output.split())


def test_adapter_input_columns_cannot_name_the_target_either(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=200, seed=82)
    ds = load_dataset(str(card))
    cheat = LogisticRegression().fit(ds.frame[["income", "approved"]].to_numpy(), ds.frame["approved"])
    sio.dump(cheat, tmp_path / "m.skops")
    tool = load_tool(load_manifest(_tool(tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n"
                                                   "  input_columns: [income, approved]\n")))
    with pytest.raises(ToolConfigError) as e:
        tool.predict(ds)
    assert str(e.value) == TARGET
    with pytest.raises(ToolConfigError) as e:  # whatever the model is called, the rule is the same
        model_inputs(ds, names=["approved"], n_features=1, declared=None, model="the model in x.bin")
    assert str(e.value).startswith("the model in x.bin asks for column 'approved', the dataset card's target")


def test_a_sandboxed_pickle_fitted_on_the_target_is_refused(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=200, seed=83)
    ds = load_dataset(str(card))
    cheat = LogisticRegression().fit(ds.frame[["income", "approved"]], ds.frame["approved"])
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(cheat))
    tool = load_tool(load_manifest(_tool(tmp_path, "adapter:\n  kind: pickle\n  path: m.pkl\n")))
    try:
        with pytest.raises(ToolConfigError) as e:
            tool.predict(ds)
    finally:
        tool.close()  # type: ignore[attr-defined]
    assert str(e.value) == TARGET.replace("m.skops", "m.pkl")


def test_a_protected_attribute_the_card_does_not_give_tools_is_refused(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=200, seed=84)
    full = load_dataset(str(card))
    X = full.frame[["income", "sex"]]
    pre = ColumnTransformer([("sex", OneHotEncoder(), ["sex"])], remainder="passthrough")
    model = make_pipeline(pre, LogisticRegression()).fit(X, full.frame["approved"])
    sio.dump(model, tmp_path / "m.skops")
    manifest = load_manifest(_tool(tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n"))
    # the card gives tools only income: sex is not theirs to read
    write_card(card.parent, "case-84", features="[income]")
    ds = load_dataset(str(card))
    with pytest.raises(ToolConfigError) as e:
        load_tool(manifest).predict(ds)
    assert str(e.value) == ("the model in m.skops asks for the protected attribute(s) 'sex', which dataset 'case-84'"
                            "'s card does not give tools (its features are ['income']): a tool receives a protected "
                            "attribute only when the card lists it among its features; refit the model without it")
    # a card that lists sex among its features gives it to the tool
    write_card(card.parent, "case-84", features="[sex, race, income]")
    ds = load_dataset(str(card))
    preds = load_tool(manifest).predict(ds)
    assert preds.labels.tolist() == model.predict(ds.frame[["income", "sex"]]).tolist()
