"""Adapters: skops with the City's trusted types only, never a pickle; vendor CSVs keyed by id."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from harness.datasets import load_dataset
from harness.errors import ToolConfigError, ToolError
from harness.manifest import load_manifest
from harness.tools import load_tool
from harness.tools.sklearn import load_skops
from harness.tools.skops_trust import city_trusted
from tests.conftest import MANIFEST, write_case


def _manifest(folder: Path, adapter: str) -> Path:
    p = folder / "tool.yaml"
    p.write_text(MANIFEST.format(id="t") + adapter)
    return p


def test_sklearn_model_is_loaded_and_scores_the_favourable_class(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=300, seed=41)
    ds = load_dataset(str(card))
    X = ds.frame[["income"]]
    model = LogisticRegression().fit(X, ds.frame["approved"])
    sio.dump(model, tmp_path / "m.skops")
    tool = load_tool(load_manifest(_manifest(tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n")))
    preds = tool.predict(ds)
    assert np.array_equal(preds.labels, model.predict(X))
    assert np.allclose(preds.scores, model.predict_proba(X)[:, 1])


def test_untrusted_types_in_a_skops_file_are_never_loaded_in_process(tmp_path: Path) -> None:
    # a "model" that would hand os.system to whoever calls it: the harness process never builds it
    sio.dump(FunctionTransformer(os.system), tmp_path / "m.skops")
    with pytest.raises(ToolConfigError) as e:
        load_skops(tmp_path / "m.skops", city_trusted(None))
    assert "holds types the City does not trust in the harness process: ['posix.system']" in str(e.value)
    # and a manifest cannot trust it: only the City decides (issue 12; the sandbox route: tests/test_skops_trust.py)
    with pytest.raises(ToolConfigError) as e:
        load_tool(load_manifest(_manifest(
            tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n  trusted: [posix.system]\n")))
    assert "asks to trust ['posix.system'] in adapter.trusted; only the City decides" in str(e.value)


def test_a_pickle_is_never_loaded(tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(b"not even opened")
    with pytest.raises(ToolConfigError) as e:
        load_tool(load_manifest(_manifest(tmp_path, "adapter:\n  kind: sklearn\n  path: m.pkl\n")))
    assert "is a pickle: it can run arbitrary code when loaded" in str(e.value)


def test_python_callable_output_is_checked(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=20, seed=42)
    ds = load_dataset(str(card))
    m = load_manifest(_manifest(tmp_path, "adapter:\n  kind: python\n  callable: numpy:ones\n"))
    tool = load_tool(m, obj=lambda frame: np.ones(len(frame) - 1))
    with pytest.raises(ToolError) as e:
        tool.predict(ds)
    assert str(e.value) == "tool 't' returned (19,) labels for 20 input rows; expected one per row"
    tool = load_tool(m, obj=lambda frame: (np.ones(len(frame)), np.full(len(frame), 0.7)))
    preds = tool.predict(ds)
    assert preds.scores is not None and preds.scores.tolist() == [0.7] * 20


def test_predictions_follow_the_dataset_order(tmp_path: Path) -> None:
    tool_path, card = write_case(tmp_path, n=30, seed=43)
    preds_file = tool_path.parent / "predictions.csv"
    lines = preds_file.read_text().splitlines()
    preds_file.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")  # vendor's own order
    ds = load_dataset(str(card))
    preds = load_tool(load_manifest(tool_path)).predict(ds)
    expected = [int(line.split(",")[1]) for line in lines[1:]]
    assert preds.labels.tolist() == expected


def test_a_kind_the_table_plans_but_cannot_build_is_named(tmp_path: Path) -> None:
    """A row without a builder (a kind DESIGN.md names that a later version implements) validates but is refused by
    the loader, naming the kinds this version can load; `http` was one until issue 14."""
    from harness.errors import ConfigError
    from harness.tools import ToolSite
    from harness.tools.configs import HttpAdapter
    from harness.tools.kinds import AdapterKind

    planned = AdapterKind("http", HttpAdapter, None, "planned")
    with pytest.raises(ConfigError) as e:
        planned.build(HttpAdapter(kind="http", url="http://127.0.0.1:1/score"), ToolSite(tool_id="t"))
    assert "adapter kind 'http'" in str(e.value)
    assert "available: python, sklearn, predictions, responses, openai, pickle, mlflow, http" in str(e.value)


# --- one adapter table (issue 13) -------------------------------------------------------------------------


def test_the_manifest_schema_the_loader_and_the_error_locator_read_one_adapter_table(tmp_path: Path) -> None:
    from typing import get_args

    from harness.errors import ConfigError
    from harness.tools.kinds import ADAPTERS, AVAILABLE, AdapterConfig

    union = get_args(get_args(AdapterConfig)[0])
    assert union == tuple(a.config for a in ADAPTERS.values())  # the schema: one config per row, in order
    assert AVAILABLE == ("python", "sklearn", "predictions", "responses", "openai", "pickle", "mlflow", "http")
    # the locator drops the kind's tag from the path: "adapter.pathh", not "adapter.sklearn.pathh"
    with pytest.raises(ConfigError) as e:
        load_manifest(_manifest(tmp_path, "adapter:\n  kind: sklearn\n  pathh: m.skops\n"))
    assert str(e.value).endswith("has 2 problem(s):\n  - adapter.path: required field is missing\n"
                                 "  - adapter.pathh (line 20): unknown field (check the spelling)")
    # the loader: the http kind (a planned row until issue 14) builds its adapter from its config
    from harness.tools.http import HttpTool

    m = load_manifest(_manifest(tmp_path, "adapter:\n  kind: http\n  url: http://127.0.0.1:1/score\n"))
    tool = load_tool(m)
    assert isinstance(tool, HttpTool) and (tool.kind, tool.url, tool.name) == ("http", "http://127.0.0.1:1/score", "t")
    # ... and the locator drops its tag too
    with pytest.raises(ConfigError) as e:
        load_manifest(_manifest(tmp_path, "adapter:\n  kind: http\n  url: http://127.0.0.1:1/score\n  verify: false\n"))
    assert str(e.value).endswith("has 1 problem(s):\n  - adapter.verify (line 21): unknown field (check the spelling)")


def test_an_adapter_is_built_from_its_own_config_and_the_site(tmp_path: Path) -> None:
    from harness.tools import ToolSite
    from harness.tools.configs import PredictionsAdapter
    from harness.tools.predictions import PredictionsTool

    config = PredictionsAdapter(kind="predictions", path="p.csv", label_column="y", label_map={1: "yes"})
    with pytest.raises(ToolConfigError) as e:
        PredictionsTool.from_config(config, ToolSite(tool_id="vendor-x", base_dir=tmp_path))
    assert str(e.value) == f"predictions file {tmp_path / 'p.csv'} named by tool manifest 'vendor-x' does not exist"
    (tmp_path / "p.csv").write_text("id,y\n1,1\n")
    tool = PredictionsTool.from_config(config, ToolSite(tool_id="vendor-x", base_dir=tmp_path))
    assert (tool.path, tool.name, tool.label_column, tool.label_map) == (tmp_path / "p.csv", "vendor-x", "y",
                                                                        {1: "yes"})


def test_a_refused_trust_names_its_rule_and_policy_section(tmp_path: Path) -> None:
    sio.dump(LogisticRegression(), tmp_path / "m.skops")
    with pytest.raises(ToolConfigError) as e:
        load_tool(load_manifest(_manifest(
            tmp_path, "adapter:\n  kind: sklearn\n  path: m.skops\n  trusted: [posix.system]\n")))
    assert (e.value.rule, e.value.section, e.value.detail) == ("skops-trust", "1.3", "settings.sandbox.trusted_types")


def test_no_adapter_imports_the_tools_package_or_the_tracking_layer() -> None:
    """The loader (`harness/tools/__init__.py`) imports the adapters; an adapter importing it back, or reaching the
    MLflow store itself (the pipeline downloads a model_uri), would close the cycle issue 13 removed."""
    import ast

    import harness.tools

    folder = Path(harness.tools.__file__).parent
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            found += [(path.name, n) for n in names if n == "harness.tools" or n.startswith("harness.tracking")]
    assert len(list(folder.glob("*.py"))) >= 12 and found == []


def test_the_readme_lists_every_adapter_kind_with_its_keys() -> None:
    """The README's adapter table is the reader's copy of `harness.tools.kinds.ADAPTERS`: a kind added there, or a
    config key, is listed here too."""
    from harness.tools.kinds import ADAPTERS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line for line in readme.splitlines()
            if line.startswith("| `") and line.count("|") == 4}
    assert set(ADAPTERS) <= set(rows)
    missing = {k: [f for f in a.config.model_fields if f not in ("kind", "label_map", "input_columns", "trusted")
                   and f"`{f}`" not in rows[k]] for k, a in ADAPTERS.items()}
    assert {k: v for k, v in missing.items() if v} == {}
