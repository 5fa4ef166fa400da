"""The `python` adapter for generative tools: a callable answering a frame of items, found next to its
manifest from any working folder, and held to one answer string per item."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.datasets import load_dataset
from harness.errors import ConfigError, ToolConfigError, ToolError
from harness.manifest import load_manifest
from harness.tools import Predictions, can_call, can_generate, load_tool
from harness.tools.python import GenerativePythonTool, PythonTool
from tests.conftest import MANIFEST, write_case

TOOLS = '''
from helper import PREFIX  # a sibling module: importable while tools.py loads

def echo(items):
    return [f"{PREFIX}{q}" for q in items["question"]]

def ids(items):
    return list(items["id"])

def abstain(items):
    return [""] * len(items)

def with_errors(items):
    from harness.tools import Predictions
    n = len(items)
    return Predictions(labels=None, answers=["a"] * n, errors=[None] + ["timed out"] * (n - 1))

def too_few(items):
    return ["a"]

def numbers(items):
    return [1] * len(items)

def nones(items):
    return [None] * len(items)

def text(items):
    return "one answer for all"

def broken(items):
    raise RuntimeError("model file missing")
'''


def folder_with_tools(tmp_path: Path, name: str = "tools", prefix: str = "A: ") -> Path:
    folder = tmp_path / "tool"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(TOOLS)
    (folder / "helper.py").write_text(f"PREFIX = {prefix!r}\n")
    return folder


def manifest(folder: Path, callable_: str, category: str = "generative", tool_id: str = "qa") -> Path:
    p = folder / f"{tool_id}.yaml"
    p.write_text(MANIFEST.format(id=tool_id).replace("category: decision-support", f"category: {category}")
                 + f"adapter:\n  kind: python\n  callable: {callable_}\n")
    return p


def items(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"q{i}" for i in range(n)], "context": ["c"] * n,
                         "question": [f"question {i}?" for i in range(n)]})


def test_a_module_next_to_the_manifest_is_found_from_any_working_folder(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = folder_with_tools(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path_before = list(sys.path)
    tool = load_tool(load_manifest(manifest(folder, "tools:echo")))
    assert sys.path == path_before  # the manifest's folder was on sys.path only while tools.py loaded
    assert "tools" not in sys.modules  # loaded under a private name, so no other `tools` is shadowed
    assert isinstance(tool, GenerativePythonTool) and tool.kind == "python"
    preds = tool.generate(items())
    assert preds.answers == ["A: question 0?", "A: question 1?", "A: question 2?"]
    assert preds.labels.dtype == object and preds.labels.tolist() == preds.answers
    assert preds.errors == [None, None, None]
    assert can_generate(tool) and not can_call(tool)


def test_two_manifests_with_a_tools_py_each_get_their_own(tmp_path: Path) -> None:
    a = folder_with_tools(tmp_path / "a", name="qa_tools")
    b = tmp_path / "b"
    b.mkdir()
    (b / "qa_tools.py").write_text("def echo(items):\n    return ['from b'] * len(items)\n")
    first = load_tool(load_manifest(manifest(a, "qa_tools:echo")))
    second = load_tool(load_manifest(manifest(b, "qa_tools:echo")))
    assert first.generate(items(1)).answers == ["A: question 0?"]
    assert second.generate(items(1)).answers == ["from b"]


def test_an_installed_module_is_imported_as_before(tmp_path: Path) -> None:
    tool = load_tool(load_manifest(manifest(tmp_path, "numpy:ones", category="decision-support")))
    assert isinstance(tool, PythonTool) and can_call(tool) and not can_generate(tool)


def test_a_missing_module_names_both_places_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ToolConfigError) as e:
        load_tool(load_manifest(manifest(tmp_path, "no_such_tools:answer")))
    assert str(e.value) == (f"cannot import module 'no_such_tools' of callable 'no_such_tools:answer': No module "
                            f"named 'no_such_tools' (nor is there a no_such_tools.py in {tmp_path.resolve()})")


def test_a_module_that_fails_to_load_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text("raise ImportError('needs torch')\n")
    with pytest.raises(ToolConfigError) as e:
        load_tool(load_manifest(manifest(tmp_path, "tools:answer")))
    where = tmp_path.resolve() / "tools.py"
    assert str(e.value) == f"cannot import module 'tools' from {where}: ImportError: needs torch"
    folder = folder_with_tools(tmp_path / "x")
    with pytest.raises(ToolConfigError) as e:
        load_tool(load_manifest(manifest(folder, "tools:nothing")))
    assert str(e.value) == "module 'tools' has no attribute 'nothing' (callable 'tools:nothing')"


def test_predict_asks_the_dataset_questions_in_order_with_text_ids(tmp_path: Path) -> None:
    ds = load_dataset("city-services-qa")
    folder = folder_with_tools(tmp_path)
    preds = load_tool(load_manifest(manifest(folder, "tools:ids"))).predict(ds)
    assert preds.answers == ds.frame["id"].astype(str).tolist()
    assert preds.answers[:2] == ["csq-0001", "csq-0002"] and len(preds) == 276
    echo = load_tool(load_manifest(manifest(folder, "tools:echo"))).predict(ds)
    assert echo.answers == [f"A: {q}" for q in ds.frame["question"]]


def test_per_item_errors_from_the_callable_are_kept(tmp_path: Path) -> None:
    tool = load_tool(load_manifest(manifest(folder_with_tools(tmp_path), "tools:with_errors")))
    preds = tool.generate(items(3))
    assert preds.answers == ["a", "", ""]  # an errored item's answer is "", whatever the callable said
    assert preds.errors == [None, "timed out", "timed out"]


@pytest.mark.parametrize(("fn", "message"), [
    ("too_few", "tool 'qa' returned 1 answers for 3 items; expected one per item"),
    ("numbers", "tool 'qa' returned int for item 0; answers must be text"),
    ("text", "tool 'qa' returned str; a generative callable returns a list of answer strings, one per item"),
    ("broken", "tool 'qa' raised RuntimeError while answering: model file missing"),
])
def test_unusable_output_is_a_tool_error(tmp_path: Path, fn: str, message: str) -> None:
    tool = load_tool(load_manifest(manifest(folder_with_tools(tmp_path), f"tools:{fn}")))
    with pytest.raises(ToolError) as e:
        tool.generate(items(3))
    assert str(e.value) == message
    assert type(e.value) is ToolError  # exit 4, recorded as verdict ERROR: the tool failed, not the input


def test_no_answer_is_an_abstention(tmp_path: Path) -> None:
    tool = load_tool(load_manifest(manifest(folder_with_tools(tmp_path), "tools:nones")))
    assert tool.generate(items(2)).answers == ["", ""]


def test_a_live_callable_can_be_passed_in(tmp_path: Path) -> None:
    def shout(frame: pd.DataFrame) -> list[str]:
        return [q.upper() for q in frame["question"]]

    tool = load_tool(load_manifest(manifest(tmp_path, "anything:here")), shout)
    assert tool.generate(items(2), sample=3).answers == ["QUESTION 0?", "QUESTION 1?"]
    via_predictions = GenerativePythonTool(fn=lambda f: Predictions(labels=np.asarray(["x", "y"], dtype=object)),
                                           name="p")
    assert via_predictions.generate(items(2)).answers == ["x", "y"]


def test_a_generative_tool_needs_questions(tmp_path: Path) -> None:
    _, card = write_case(tmp_path / "case", n=40, seed=3)
    tool = load_tool(load_manifest(manifest(folder_with_tools(tmp_path), "tools:echo")))
    with pytest.raises(ConfigError) as e:
        tool.predict(load_dataset(str(card)))
    assert str(e.value) == ("tool 'qa' is generative, but dataset 'case-3' (binary-classification) has no column(s) "
                            "['context', 'question']; assess it on a grounded-qa dataset such as city-services-qa")
    with pytest.raises(ToolError) as e:
        tool.generate(items(2).drop(columns="question"))
    assert str(e.value) == ("tool 'qa' was asked with items lacking column(s) ['question']; a generative tool "
                            "needs 'context' and 'question'")


@pytest.mark.slow
def test_an_always_abstaining_callable_scores_the_unanswerable_share(tmp_path: Path) -> None:
    """The issue's known answer on city-services-qa: abstaining everywhere is exact match 120 / 276."""
    from harness.workflows.assess import run_assessment

    path = manifest(folder_with_tools(tmp_path), "tools:abstain")
    done = run_assessment(path, ["city-services-qa"], suites=["hallucination"],
                          tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", out=tmp_path / "out")
    values = {m.key: m for m in done.result.measurements}
    assert values["hallucination.correctness.exact_match"].value == 120 / 276
    assert values["hallucination.abstention.hallucination_rate"].value == 0.0
    assert values["hallucination.abstention.over_refusal_rate"].value == 1.0
    # the consistency check asked the callable again (it can generate): always "" is perfectly consistent
    assert values["hallucination.consistency.repeat_disagreement_rate"].value == 0.0
    assert done.result.error is None
