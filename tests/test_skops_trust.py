"""Trust is the City's decision (issue 12, section 1): skops builds in the harness process only the types on the
harness allowlist plus the analyst's policy (`settings.sandbox.trusted_types`), never what a vendor's manifest
asks for; a skops file needing anything else runs in the sandboxed worker like a pickle.

Real parts throughout: real skops files of real scikit-learn models, the real default policy, the real CLI.
The attack model is the one from the issue: a pipeline whose first step is
`FunctionTransformer(functools.partial(builtins.eval, SRC, {}))`, which runs SRC when the model predicts (on the
harness before this change, it wrote the marker file during `harness assess`).
"""
from __future__ import annotations

import builtins
import functools
import importlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io as sio
from click.testing import CliRunner
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import ConfigError, ToolConfigError
from harness.manifest import load_manifest
from harness.policy import Policy, load_policy
from harness.tools import load_tool, site_of
from harness.tools.sklearn import SklearnTool, load_skops, untrusted_types
from harness.tools.skops_trust import NEVER, allowlist, city_trusted
from harness.workflows.bundle import validate_bundle
from tests.conftest import MANIFEST, write_case

EVAL_TRUST = "  trusted: [functools.partial, builtins.eval]\n"
REFUSAL = ("tool manifest 't' asks to trust ['builtins.eval', 'functools.partial'] in adapter.trusted; only the "
           "City decides which types are trusted: the harness allowlist (scikit-learn, numpy, scipy) plus the "
           "policy's settings.sandbox.trusted_types. Remove them from adapter.trusted: a model that needs other "
           "types runs in the sandboxed worker")


def _manifest(folder: Path, adapter: str, tool_id: str = "t") -> Path:
    p = folder / "tool.yaml"
    p.write_text(MANIFEST.format(id=tool_id) + adapter)
    return p


def _payload(folder: Path) -> tuple[Path, Path]:
    """A skops file holding a model whose first step, when the model predicts, runs vendor code that writes
    `marker` (eval with the input frame as its locals: any mapping will do)."""
    marker = folder / "payload-ran"
    src = f"__import__('pathlib').Path({str(marker)!r}).write_text('vendor code ran') and None"
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "m.skops"
    fitted = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    sio.dump(Pipeline([("f", FunctionTransformer(functools.partial(builtins.eval, src, {}))), ("m", fitted)]), model)
    return model, marker


def _policy(trusted: list[str]) -> Policy:
    p = load_policy()
    sandbox = {**p.settings.get("sandbox", {}), "trusted_types": trusted}
    return p.model_copy(update={"settings": {**p.settings, "sandbox": sandbox}})


# --- the allowlist -----------------------------------------------------------------------------------------


def test_the_allowlist_holds_classes_of_scikit_learn_numpy_and_scipy_only() -> None:
    names = allowlist()
    assert {n.split(".")[0] for n in names} == {"sklearn", "numpy", "scipy"}
    assert not [n for n in names if n.split(".")[0] in NEVER]
    for name in names:  # every entry is a class skops can name, never a function
        module, _, attr = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attr), type), name
    for expected in ("sklearn.linear_model._logistic.LogisticRegression", "sklearn.pipeline.Pipeline",
                     "sklearn.compose._column_transformer.ColumnTransformer",
                     "sklearn.preprocessing._function_transformer.FunctionTransformer",
                     "sklearn._loss.loss.HalfBinomialLoss", "sklearn.calibration._SigmoidCalibration",
                     "sklearn.neural_network._stochastic_optimizers.AdamOptimizer", "numpy.dtype", "numpy.ndarray",
                     "numpy.random.mtrand.RandomState", "scipy.sparse._csr.csr_matrix",
                     "scipy.sparse._csc.csc_array"):
        assert expected in names, expected
    # node stores scikit-learn follows without bounds checks stay out (skops' own reasons): a sandbox matter
    for left_out in ("sklearn.tree._tree.Tree", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
                     "sklearn.neighbors._kd_tree.KDTree", "sklearn.metrics._dist_metrics.EuclideanDistance64"):
        assert left_out not in names


def _dump(folder: Path, name: str, model: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.skops"
    sio.dump(model, path)
    return path


def test_ordinary_models_need_nothing_beyond_the_allowlist_and_trees_and_functions_do(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120), "c": rng.choice(["x", "y"], 120)})
    y = (X["a"] > 0).astype(int)
    num = X[["a", "b"]]
    pre = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["c"]),
                             ("sc", StandardScaler(), ["a", "b"])])
    in_process = {
        "logistic": LogisticRegression().fit(num, y),
        "column-pipeline": Pipeline([("pre", pre), ("lr", LogisticRegression())]).fit(X, y),
        "imputer": make_pipeline(SimpleImputer(), LogisticRegression()).fit(num, y),  # numpy.dtype
        "calibrated": CalibratedClassifierCV(LogisticRegression()).fit(num, y),  # sklearn.calibration internals
        "mlp": MLPClassifier(max_iter=5).fit(num, y),  # its optimiser
        # a numpy ufunc is on skops' own default list (numeric only, no code): it needs no trust
        "log1p": make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(num.abs(), y),
    }
    trusted = city_trusted(None)
    for name, model in in_process.items():
        assert untrusted_types(_dump(tmp_path, name, model), trusted) == [], name
    sandboxed = {
        "forest": (RandomForestClassifier(n_estimators=3, random_state=0).fit(num, y), ["sklearn.tree._tree.Tree"]),
        "hist": (HistGradientBoostingClassifier(max_iter=3).fit(num, y),
                 ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]),
        "sqrt-of-abs": (FunctionTransformer(functools.partial(np.power, 0.5)),  # a vendor's function
                        ["functools.partial"]),
        "payload": (FunctionTransformer(functools.partial(builtins.eval, "1")), ["builtins.eval", "functools.partial"]),
    }
    for name, (model, needs) in sandboxed.items():
        assert untrusted_types(_dump(tmp_path, name, model), trusted) == needs, name


# --- the attack: a manifest trusting eval --------------------------------------------------------------------


def test_a_manifest_trusting_eval_is_refused_and_the_payload_never_runs(tmp_path: Path) -> None:
    _, card = write_case(tmp_path / "data", n=50, seed=71)
    ds = load_dataset(str(card))
    _, marker = _payload(tmp_path / "vendor")
    m = load_manifest(_manifest(tmp_path / "vendor", "adapter:\n  kind: sklearn\n  path: m.skops\n" + EVAL_TRUST))
    with pytest.raises(ToolConfigError) as e:
        tool = load_tool(m, policy=load_policy())
        tool.predict(ds)  # what the old harness did: load with the vendor's trust, then call the model
    assert str(e.value) == REFUSAL
    with pytest.raises(ToolConfigError, match="asks to trust"):
        load_tool(m)  # without a policy: the allowlist alone
    with pytest.raises(ToolConfigError, match="asks to trust"):  # nor with a live estimator (notebooks)
        SklearnTool.from_config(m.adapter, site_of(m, LogisticRegression()))  # type: ignore[arg-type]
    assert not marker.exists()


def test_assess_refuses_a_manifest_trusting_eval_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _, card = write_case(tmp_path / "data", n=50, seed=72)
    _, marker = _payload(tmp_path / "vendor")
    tool = _manifest(tmp_path / "vendor", "adapter:\n  kind: sklearn\n  path: m.skops\n" + EVAL_TRUST)
    r = CliRunner().invoke(main, ["assess", str(tool), "--dataset", str(card), "--suite", "bias",
                                  "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert r.exit_code == 2, r.output
    assert "asks to trust ['builtins.eval', 'functools.partial'] in adapter.trusted" in " ".join(r.output.split())
    assert not marker.exists()


def test_submit_reports_a_manifest_trusting_eval_as_a_problem_of_the_bundle(tmp_path: Path) -> None:
    _payload(tmp_path / "b")
    _manifest(tmp_path / "b", "adapter:\n  kind: sklearn\n  path: m.skops\n" + EVAL_TRUST)
    line = MANIFEST.format(id="t").count("\n") + 4  # adapter:, kind, path, trusted
    with pytest.raises(ConfigError) as e:
        validate_bundle(tmp_path / "b")
    assert str(e.value).splitlines()[1:] == [f"  - tool.yaml, line {line}: {REFUSAL}"]
    r = CliRunner().invoke(main, ["submit", str(tmp_path / "b"), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert r.exit_code == 2 and "asks to trust ['builtins.eval', 'functools.partial']" in " ".join(r.output.split())
    # without the trust it is a valid bundle: such a model is run in the sandboxed worker, not refused
    _manifest(tmp_path / "b", "adapter:\n  kind: sklearn\n  path: m.skops\n")
    with validate_bundle(tmp_path / "b") as b:
        assert sorted(b.files) == ["m.skops", "tool.yaml"]


def test_types_the_city_already_trusts_in_adapter_trusted_are_harmless(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=80, seed=73)
    ds = load_dataset(str(card))
    model = LogisticRegression().fit(ds.frame[["income"]], ds.frame["approved"])
    sio.dump(model, tmp_path / "m.skops")
    m = load_manifest(_manifest(tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n"
                                          "  trusted: [sklearn.linear_model._logistic.LogisticRegression]\n"))
    tool = load_tool(m)
    assert isinstance(tool, SklearnTool)
    assert tool.predict(ds).labels.tolist() == model.predict(ds.frame[["income"]]).tolist()


# --- files needing other types: the sandbox, or the analyst's policy -----------------------------------------


def test_a_skops_file_needing_untrusted_types_is_routed_to_the_sandbox_not_loaded(tmp_path: Path) -> None:
    # needs H1b's SandboxedTool.from_config(config, site, model_format="skops") (issue 12, section 1)
    from harness.tools.sandboxed import SandboxedTool

    path, marker = _payload(tmp_path)
    with pytest.raises(ToolConfigError) as e:  # the in-process loader refuses it outright
        load_skops(path, city_trusted(load_policy()))
    assert str(e.value) == (f"{path} holds types the City does not trust in the harness process: ['builtins.eval', "
                            f"'functools.partial']; such a model runs only in the sandboxed worker (load it with "
                            f"load_tool)")
    m = load_manifest(_manifest(tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n"))
    tool = load_tool(m, policy=load_policy())
    try:
        assert isinstance(tool, SandboxedTool)
        assert tool.source == "the model in m.skops"
    finally:
        tool.close()
    assert not marker.exists()


def test_a_forest_is_run_in_the_sandbox_and_predicts_as_in_process(tmp_path: Path) -> None:
    # tree node stores are not trusted in the harness process; the model still works, in the worker
    from harness.sandbox import bwrap_status
    from harness.tools.sandboxed import SandboxedTool

    ok, why = bwrap_status()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"bubblewrap is required under CI: {why}")
        pytest.skip(f"bubblewrap is not usable here ({why}); the default policy refuses the subprocess fallback")
    _, card = write_case(tmp_path, n=150, seed=75)
    ds = load_dataset(str(card))
    X = ds.frame[["income"]]
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, ds.frame["approved"])
    sio.dump(forest, tmp_path / "m.skops")
    tool = load_tool(load_manifest(_manifest(tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n")),
                     policy=load_policy())
    try:
        assert isinstance(tool, SandboxedTool)
        preds = tool.predict(ds)
    finally:
        tool.close()
    assert preds.labels.tolist() == forest.predict(X).tolist()
    assert np.allclose(preds.scores, forest.predict_proba(X)[:, 1])


def test_the_policy_and_only_the_policy_extends_what_loads_in_process(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=120, seed=74)
    ds = load_dataset(str(card))
    X = ds.frame[["income"]]
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, ds.frame["approved"])
    sio.dump(forest, tmp_path / "m.skops")
    tree = "sklearn.tree._tree.Tree"
    manifest = _manifest(tmp_path, f"adapter:\n  kind: sklearn\n  path: m.skops\n  trusted: [{tree}]\n")
    with pytest.raises(ToolConfigError, match=r"asks to trust \['sklearn.tree._tree.Tree'\] in adapter.trusted"):
        load_tool(load_manifest(manifest), policy=load_policy())
    policy = _policy([tree])
    tool = load_tool(load_manifest(manifest), policy=policy)  # the analyst's trust: the manifest's is now moot
    assert isinstance(tool, SklearnTool)
    assert tool.predict(ds).labels.tolist() == forest.predict(X).tolist()
    with pytest.raises(ToolConfigError, match=r"holds types the City does not trust in the harness process: "
                                              r"\['sklearn.tree._tree.Tree'\]"):
        load_skops(tmp_path / "m.skops", city_trusted(load_policy()))
    with pytest.raises(ConfigError, match=r"settings.sandbox.trusted_types must be a list of type names"):
        city_trusted(_policy("sklearn.tree._tree.Tree"))  # type: ignore[arg-type]


def test_a_sparse_matrix_with_indices_outside_its_shape_is_not_loaded(tmp_path: Path) -> None:
    # scipy's C code follows these indices without bounds checks; skops checks only the type
    bad = sp.csr_matrix((np.array([1.0]), np.array([50]), np.array([0, 1, 1])), shape=(2, 3))
    path = tmp_path / "m.skops"
    sio.dump({"coef": bad}, path)
    with pytest.raises(ToolConfigError) as e:
        load_skops(path, city_trusted(None))
    assert str(e.value) == ("the model in m.skops holds a sparse matrix that is not well formed (indices must be "
                            "< 3); it cannot be loaded")
    sio.dump({"coef": sp.csr_matrix(np.eye(3))}, path)
    assert load_skops(path, city_trusted(None))["coef"].nnz == 3
