"""A `python` tool loaded from its manifest runs in a worker process (issue 12, section 1: "CLI assessments run
`python` tools in a worker process too, so a tool cannot end the harness with a PASS exit code").

Real parts throughout: real worker processes (under bubblewrap where it works, else a plain subprocess), real
CLI runs recording into a real SQLite MLflow store. A live callable passed in (`obj`, notebooks) still runs in
the harness process, and the worker must not change what a tool answers: labels (with their dtype), scores,
answers, per-item errors and the tool's own exceptions come back as they would in process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import harness
from harness.assessment import assess
from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import ToolError
from harness.manifest import load_manifest
from harness.plugins import resolve
from harness.policy import load_policy
from harness.sandbox import ISOLATION_ENV, bwrap_status
from harness.tools import Predictions, load_tool
from harness.tools.python import GenerativePythonTool, PythonTool, import_callable
from test_suites.degradation.calls import CLEAR_ERROR, call_tool
from tests.conftest import LOOKUP, write_case

HARNESS = str(Path(sys.executable).with_name("harness"))
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXIT_MESSAGE = "tool 'case-tool-21' tried to end the harness process ({}); a tool returns its outputs, it never exits"


def python_case(folder: Path, module: str, body: str, *, n: int = 200, seed: int = 21) -> tuple[Path, Path]:
    """write_case's generated data with a `python` tool `module:predict` whose module is `body`."""
    tool, card = write_case(folder, n=n, seed=seed, kind="python")
    tool.write_text(tool.read_text().replace("{callable}", f"{module}:predict"))
    (folder / f"{module}.py").write_text(body)
    return tool, card


def assess_args(tool: Path, card: Path, tmp_path: Path) -> list[str]:
    return ["assess", str(tool), "--dataset", str(card), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}",
            "--out", str(tmp_path / "out"), "--by", "dana"]


def recorded_verdict(tmp_path: Path, tool_id: str = "case-tool-21") -> tuple[str, str]:
    """The verdict tag and status of the one run recorded for `tool_id`."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
    exp = client.get_experiment_by_name(f"harness/{tool_id}")
    [run] = client.search_runs([exp.experiment_id], filter_string="tags.`harness.kind` = 'pre-acquisition'")
    return run.data.tags["harness.verdict"], run.info.status


# --- a tool cannot end the harness ------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "shown"), [("os._exit(0)", "os._exit(0)"), ("sys.exit(0)", "sys.exit(0)")])
def test_a_tool_that_exits_ends_neither_the_harness_nor_the_record(tmp_path: Path, call: str, shown: str) -> None:
    tool, card = python_case(tmp_path / "case", "quitter", f"import os\nimport sys\n\n\ndef predict(frame):\n"
                                                           f"    {call}\n")
    r = CliRunner().invoke(main, assess_args(tool, card, tmp_path), env={"COLUMNS": "200"})
    assert r.exit_code == 4, r.output
    result = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert result["verdict"] == "ERROR"
    assert result["error"]["message"] == EXIT_MESSAGE.format(shown)
    assert recorded_verdict(tmp_path) == ("ERROR", "FAILED")


@pytest.mark.parametrize(("body", "start"), [
    # below Python: the C library's _exit, which no patching of os._exit can catch in the harness process
    ("import ctypes\n\n\ndef predict(frame):\n    ctypes.CDLL(None)._exit(0)\n",
     "tool 'case-tool-21': the sandboxed worker exited with code 0 while predicting"),
    # while the module is imported: SystemExit is no Exception, so no import error handler catches it
    ("import sys\n\nsys.exit(0)\n\n\ndef predict(frame):\n    return [0] * len(frame)\n",
     "tool 'case-tool-21': the callable 'quitter:predict' could not be loaded in the worker process: SystemExit: 0"),
])
def test_an_exit_the_tool_code_cannot_be_stopped_from_ends_only_its_worker(tmp_path: Path, body: str,
                                                                           start: str) -> None:
    """In a subprocess: on code that runs the tool in process, this test would end pytest itself with exit 0."""
    tool, card = python_case(tmp_path / "case", "quitter", body)
    r = subprocess.run([HARNESS, *assess_args(tool, card, tmp_path)], capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)
    assert r.returncode == 4, r.stdout + r.stderr
    result = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert result["verdict"] == "ERROR" and result["error"]["message"].startswith(start), result["error"]
    assert recorded_verdict(tmp_path) == ("ERROR", "FAILED")


# --- it runs elsewhere -----------------------------------------------------------------------------------

STATEFUL = """import os

import numpy as np

import harness

CALLS = 0
os.environ["HARNESS_WORKER_PROBE"] = "set while the module loaded"


def predict(frame):
    global CALLS
    CALLS += 1
    harness.WORKER_PROBE = "set by the tool"
    os.environ["HARNESS_WORKER_PROBE"] = "set by the tool"
    seen = os.environ.get("HARNESS_TEST_SECRET") is not None
    return np.full(len(frame), CALLS), np.full(len(frame), 1.0 if seen else 0.0)
"""


def test_the_tool_cannot_reach_the_harness_process_and_stays_loaded_between_calls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_SECRET", "hunter2")
    monkeypatch.delenv("HARNESS_WORKER_PROBE", raising=False)
    tool_path, card = python_case(tmp_path / "case", "stateful", STATEFUL)
    ds = load_dataset(str(card))
    tool = load_tool(load_manifest(tool_path))
    try:
        first, second = tool.predict(ds), tool.predict_frame(ds.features.iloc[:5])
    finally:
        tool.close()  # type: ignore[attr-defined]
    assert "HARNESS_WORKER_PROBE" not in os.environ
    assert not hasattr(harness, "WORKER_PROBE")
    assert first.scores is not None and set(first.scores) == {0.0}  # the harness's environment is not the tool's
    assert set(first.labels) == {1} and second.labels.tolist() == [2] * 5  # loaded once, kept up between calls
    assert first.labels.dtype == np.int64


def test_a_live_callable_still_runs_in_the_harness_process(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WORKER_PROBE", raising=False)
    tool_path, card = python_case(tmp_path / "case", "stateful", STATEFUL)
    fn = import_callable("stateful:predict", tool_path.parent)
    tool = load_tool(load_manifest(tool_path), fn)
    assert isinstance(tool, PythonTool) and tool.fn is fn
    tool.predict(load_dataset(str(card)))
    assert os.environ["HARNESS_WORKER_PROBE"] == "set by the tool"


# a tool that starts a process of its own and says which (the pid it sees is the host's without bubblewrap)
SPAWNER = """import subprocess

import numpy as np


def predict(frame):
    child = subprocess.Popen(["sleep", "300"])
    return np.full(len(frame), child.pid)
"""


def test_the_city_s_own_code_runs_without_bubblewrap_and_its_processes_end_with_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `python` tool is the City's own code: the plain-subprocess mode needs no fallback consent from the policy
    (the default policy gives none), and what the tool started is killed with the worker's process group."""
    monkeypatch.setenv(ISOLATION_ENV, "subprocess")
    assert load_policy().setting("sandbox", "allow_subprocess_fallback", False) is not True
    tool_path, card = python_case(tmp_path / "case", "spawner", SPAWNER)
    tool = load_tool(load_manifest(tool_path))
    [pid] = set(tool.predict(load_dataset(str(card))).labels.tolist())
    assert Path(f"/proc/{pid}").exists()
    tool.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "\nState:\tZ" not in _status(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "\nState:\tZ" in _status(pid)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


PEEKER = """from pathlib import Path

import numpy as np
import pandas as pd


def predict(frame):
    table = pd.read_csv(Path(__file__).with_name("predictions.csv"))  # its own folder: readable
    secret = Path(__file__).parents[1] / "secret.txt"
    return table["prediction"].to_numpy()[: len(frame)], np.full(len(frame), 1.0 if secret.exists() else 0.0)
"""


def test_under_bubblewrap_the_tool_sees_its_own_folder_and_not_beside_it(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ok, why = bwrap_status()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"bubblewrap is required under CI: {why}")
        pytest.skip(f"bubblewrap is not usable here ({why})")
    monkeypatch.setenv(ISOLATION_ENV, "bwrap")
    (tmp_path / "secret.txt").write_text("the true labels")
    tool_path, card = python_case(tmp_path / "case", "peeker", PEEKER)
    tool = load_tool(load_manifest(tool_path))
    try:
        preds = tool.predict(load_dataset(str(card)))
    finally:
        tool.close()  # type: ignore[attr-defined]
    assert preds.labels.tolist() == pd.read_csv(tool_path.parent / "predictions.csv")["prediction"].tolist()
    assert preds.scores is not None and set(preds.scores) == {0.0}


# --- the same answers as in process ----------------------------------------------------------------------


def _both(tool_path: Path) -> tuple[PythonTool, PythonTool]:
    m = load_manifest(tool_path)
    worker = load_tool(m)
    inproc = load_tool(m, import_callable(m.adapter.callable, m.base_dir))  # type: ignore[union-attr]
    return worker, inproc  # type: ignore[return-value]


def test_predictive_labels_and_scores_are_those_of_the_tool_in_process(tmp_path: Path) -> None:
    tool_path, card = python_case(tmp_path / "case", "lookup", LOOKUP, n=600)
    ds = load_dataset(str(card))
    worker, inproc = _both(tool_path)
    try:
        a, b = worker.predict(ds), inproc.predict(ds)
        assert a.labels.dtype == b.labels.dtype and a.labels.tolist() == b.labels.tolist()
        assert a.scores is not None and b.scores is not None and a.scores.tolist() == b.scores.tolist()
        shuffled = ds.features.sample(frac=0.5, random_state=1)  # the index travels: the lookup reads it
        a, b = worker.predict_frame(shuffled), inproc.predict_frame(shuffled)
        assert a.labels.tolist() == b.labels.tolist() and a.scores.tolist() == b.scores.tolist()  # type: ignore
    finally:
        worker.close()  # type: ignore[attr-defined]


SHAPES = """import numpy as np
import pandas as pd

from harness.tools import Predictions


def predict(frame):
    n = len(frame)
    half = np.arange(n) % 2 == 0
    return {{
        "ints": lambda: np.where(half, 1, 0),
        "int_list": lambda: [int(h) for h in half],
        "text": lambda: np.where(half, "yes", "no"),
        "text_objects": lambda: pd.Series(np.where(half, "yes", "no"), dtype=object),
        "bools": lambda: half,
        "bool_objects": lambda: np.asarray(list(half), dtype=object),
        "int_objects": lambda: np.asarray([int(h) for h in half], dtype=object),
        "with_none": lambda: np.asarray(["yes" if h else None for h in half], dtype=object),
        "floats_nan": lambda: np.where(half, 1.0, np.nan),
        "pair": lambda: (np.where(half, 1, 0), np.where(half, 0.9, 0.2)),
        "dict": lambda: {{"labels": np.where(half, "yes", "no"), "scores": np.where(half, 0.9, 0.2)}},
        "predictions": lambda: Predictions(labels=np.where(half, True, False), scores=np.where(half, 0.9, 0.2)),
        "scores_out_of_range": lambda: (np.where(half, 1, 0), np.where(half, 1.5, -0.5)),
    }}["{shape}"]()
"""


@pytest.mark.parametrize("shape", ["ints", "int_list", "text", "text_objects", "bools", "bool_objects",
                                   "int_objects", "with_none", "floats_nan", "pair", "dict", "predictions",
                                   "scores_out_of_range"])
def test_every_shape_of_output_comes_back_with_its_dtype(tmp_path: Path, shape: str) -> None:
    tool_path, card = python_case(tmp_path / "case", "shapes", SHAPES.format(shape=shape), n=40)
    frame = load_dataset(str(card)).features
    worker, inproc = _both(tool_path)
    try:
        a, b = worker.predict_frame(frame), inproc.predict_frame(frame)
    finally:
        worker.close()  # type: ignore[attr-defined]
    assert a.labels.dtype == b.labels.dtype
    assert [type(v) for v in a.labels.tolist()] == [type(v) for v in b.labels.tolist()]
    assert pd.Series(a.labels).equals(pd.Series(b.labels))
    assert (a.scores is None) == (b.scores is None)
    if a.scores is not None:
        assert a.scores.dtype == b.scores.dtype and a.scores.tolist() == b.scores.tolist()  # type: ignore[union-attr]


REFUSER = """import numpy as np


class MissingValue(ValueError):
    pass


def predict(frame):
    if frame["income"].isna().any():
        raise ValueError("column 'income' has NaN values; impute them first")
    if (frame["income"] < 0).any():
        raise MissingValue("income out of range")
    if len(frame) == 0:
        raise KeyError("empty")
    return np.zeros(len(frame), dtype=int)
"""


def test_the_tool_s_own_exceptions_reach_the_degradation_suite_as_they_were(tmp_path: Path) -> None:
    tool_path, card = python_case(tmp_path / "case", "refuser", REFUSER)
    frame = load_dataset(str(card)).features
    nulls = frame.assign(income=np.nan)
    worker, inproc = _both(tool_path)
    try:
        with pytest.raises(ToolError) as e:
            worker.predict_frame(nulls)
        assert str(e.value) == ("tool 'case-tool-21' raised ValueError during prediction: column 'income' has NaN "
                                "values; impute them first")
        assert type(e.value.__cause__) is ValueError
        assert str(e.value.__cause__) == "column 'income' has NaN values; impute them first"
        assert call_tool(worker, nulls, 60, ["income"]).outcome == CLEAR_ERROR
        for bad in (nulls, frame.assign(income=-1.0), frame.iloc[:0]):
            a, b = call_tool(worker, bad, 60, ["income"]), call_tool(inproc, bad, 60, ["income"])
            assert (a.outcome, a.error_type, a.message) == (b.outcome, b.error_type, b.message)
        with pytest.raises(ToolError) as e:
            worker.predict_frame(frame.assign(income=-1.0))
        assert isinstance(e.value.__cause__, ValueError) and type(e.value.__cause__).__name__ == "MissingValue"
    finally:
        worker.close()  # type: ignore[attr-defined]


def test_a_whole_assessment_has_the_verdict_and_numbers_of_the_tool_in_process(tmp_path: Path) -> None:
    tool_path, card = python_case(tmp_path / "case", "lookup", LOOKUP, n=1500)
    m = load_manifest(tool_path)
    ds = load_dataset(str(card))
    policy = load_policy()
    suites = resolve(None, m.category, policy.required_suites)
    worker, inproc = _both(tool_path)
    try:
        a = assess(m, worker, [ds], suites, policy)
    finally:
        worker.close()  # type: ignore[attr-defined]
    b = assess(m, inproc, [ds], suites, policy)
    assert a.error is None and a.verdict == b.verdict and a.reasons == b.reasons
    wall_clock = ("latency", "seconds", "large_batch")  # the degradation suite times its calls

    def numbers(result: object) -> dict[str, float]:
        return {f"{s.dataset}/{m.key}": m.value for s in result.suites for m in s.measurements  # type: ignore
                if not any(w in m.key for w in wall_clock)}

    assert numbers(a) == numbers(b) and len(numbers(a)) > 20
    assert [(f.key, f.status) for f in a.findings if not any(w in f.key for w in wall_clock)] == \
        [(f.key, f.status) for f in b.findings if not any(w in f.key for w in wall_clock)]
    assert "tool_notes" not in a.extra  # the City's own code: no isolation finding, as in process


def test_a_generative_tool_answers_as_it_does_in_process() -> None:
    worker, inproc = _both(EXAMPLES / "city_services_qa" / "baseline_tool.yaml")
    ds = load_dataset("city-services-qa")
    try:
        assert isinstance(worker, GenerativePythonTool)
        a, b = worker.predict(ds), inproc.predict(ds)
        assert a.answers == b.answers and a.errors == b.errors and len(a.answers or []) == 276
        assert a.labels.dtype == object and a.labels.tolist() == b.labels.tolist()
        items = pd.DataFrame({"id": ["x1"], "context": [ds.frame["context"].iloc[0]],
                              "question": [ds.frame["question"].iloc[0]]})
        assert worker.generate(items, sample=2).answers == inproc.generate(items, sample=2).answers
    finally:
        worker.close()  # type: ignore[attr-defined]


ERRORS = """from harness.tools import Predictions


def predict(items):
    n = len(items)
    return Predictions(labels=None, answers=["ans\\u00e9"] * n, errors=[None] + ["timed out"] * (n - 1))
"""


def test_a_generative_tool_s_per_item_errors_come_back(tmp_path: Path) -> None:
    folder = tmp_path / "qa"
    folder.mkdir()
    (folder / "answers.py").write_text(ERRORS)
    text = (EXAMPLES / "city_services_qa" / "baseline_tool.yaml").read_text()
    (folder / "tool.yaml").write_text(text.replace('"qa_tools:baseline"', '"answers:predict"'))
    tool = load_tool(load_manifest(folder / "tool.yaml"))
    try:
        preds = tool.generate(pd.DataFrame({"id": ["a", "b"], "context": ["c", "c"], "question": ["q", "q"]}))
    finally:
        tool.close()  # type: ignore[attr-defined]
    assert isinstance(preds, Predictions)
    assert preds.answers == ["ans\u00e9", ""] and preds.errors == [None, "timed out"]


SLOW_ON_NULLS = """import time

import numpy as np


def predict(frame):
    if frame["income"].isna().any():
        time.sleep(120)
    return np.zeros(len(frame), dtype=int)
"""


def test_a_call_that_hangs_holds_up_neither_the_next_call_nor_the_end(tmp_path: Path) -> None:
    """The degradation suite abandons a call that does not return in time and goes on, as it can in process."""
    tool_path, card = python_case(tmp_path / "case", "slow", SLOW_ON_NULLS)
    frame = load_dataset(str(card)).features
    tool = load_tool(load_manifest(tool_path))
    try:
        assert call_tool(tool, frame.assign(income=np.nan), 1.0).outcome == "hang"
        t0 = time.monotonic()
        after = call_tool(tool, frame, 60)
        assert after.outcome == "result" and after.predictions is not None
        assert after.predictions.labels.tolist() == [0] * len(frame)
        assert time.monotonic() - t0 < 30
    finally:
        t0 = time.monotonic()
        tool.close()  # type: ignore[attr-defined]
        assert time.monotonic() - t0 < 15  # the hung worker is killed, not waited for


def test_a_package_on_the_harness_s_import_path_is_imported_in_the_worker_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`callable: citypkg.rules:predict` names a package the harness can import (installed, or on its path), not a
    file next to the manifest: the worker imports it from the same place (bound read-only under bubblewrap), and
    the harness process never runs its code."""
    lib = tmp_path / "lib"
    (lib / "citypkg").mkdir(parents=True)
    (lib / "citypkg" / "__init__.py").write_text("")
    (lib / "citypkg" / "rules.py").write_text("import numpy as np\n\n\ndef predict(frame):\n"
                                              "    return np.ones(len(frame), dtype=int)\n")
    monkeypatch.syspath_prepend(str(lib))
    tool_path, card = write_case(tmp_path / "case", n=50, seed=21, kind="python")
    tool_path.write_text(tool_path.read_text().replace("{callable}", "citypkg.rules:predict"))
    tool = load_tool(load_manifest(tool_path))
    try:
        assert tool.predict(load_dataset(str(card))).labels.tolist() == [1] * 50
    finally:
        tool.close()  # type: ignore[attr-defined]
    assert "citypkg" not in sys.modules and "citypkg.rules" not in sys.modules
