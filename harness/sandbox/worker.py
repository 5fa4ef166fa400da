"""The isolated worker: `python -m harness.sandbox.worker SCRATCH` (see `harness.sandbox` for the protocol).

Everything here runs in the sandbox, next to the untrusted model. It sets its resource limits before it
loads anything, answers on a private copy of its stdout (the model's own prints go to stderr, so they
cannot forge an answer by accident), and writes only plain arrays (npz without pickles) and JSON, which
the parent checks. It imports nothing heavy until the request says what to load.

A `python` tool (format "python", the City's own callable) is imported with the harness's own lookup rules
(`harness.tools.python.import_callable`) and called as the `python` adapter calls it in process: inside
`contained` (an `os._exit` or `sys.exit` becomes the tool's error, reported, not the end of the worker), its
output normalised by `as_predictions` (predictive) or the generative adapter's `_answers` rules, so the parent
gets what it would have got in process.
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any


def set_limits(limits: dict[str, Any]) -> None:
    """CPU seconds, address space, file size, no core dumps; soft = hard so the model cannot lift them."""
    import resource

    for name, value in (("RLIMIT_CPU", limits.get("cpu_s")), ("RLIMIT_AS", limits.get("memory_bytes")),
                        ("RLIMIT_FSIZE", limits.get("file_bytes")), ("RLIMIT_CORE", 0)):
        if value is None or not hasattr(resource, name):
            continue
        try:
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))
        except (ValueError, OSError) as e:  # a hard limit already lower: keep it
            print(f"harness worker: cannot set {name}={value}: {e}", file=sys.stderr)


def die_with_parent() -> None:
    """Without bubblewrap nothing else ends the worker if the harness is killed: ask the kernel to."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def load_model(request: dict[str, Any]) -> Any:
    fmt, path = request["format"], request["path"]
    if fmt == "pickle":
        import pickle

        with open(path, "rb") as f:
            return pickle.load(f)
    if fmt == "cloudpickle":
        import pickle

        import cloudpickle  # noqa: F401  (by-value functions refer to cloudpickle's helpers)

        with open(path, "rb") as f:
            return pickle.load(f)
    if fmt == "joblib":
        import joblib

        return joblib.load(path)
    if fmt == "skops":
        # a skops file that needs types the City does not trust (harness.tools.skops_trust) comes here: inside
        # the box every type it names is allowed, because the box is the boundary (issue 12)
        import skops.io as sio

        return sio.load(path, trusted=sio.get_untrusted_types(file=path))
    if fmt == "python":
        # the City's own callable: found next to the manifest (`path`) first, as in the harness process
        from harness.tools.python import import_callable

        return import_callable(str(request["callable"]), Path(path))
    if fmt == "mlflow":
        import logging

        import mlflow.pyfunc

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        return mlflow.pyfunc.load_model(path)
    raise ValueError(f"unknown model format {fmt!r}")


def estimator_of(model: Any, request: dict[str, Any]) -> Any:
    """The object that may have `predict_proba`, `classes_` and `feature_names_in_`: for an MLflow model
    the raw model behind the pyfunc wrapper, when the flavour exposes it."""
    if request["format"] != "mlflow":
        return model
    try:
        return model.get_raw_model()
    except Exception:
        return None


def _plain_list(values: Any) -> list[Any] | None:
    if values is None:
        return None
    out = []
    for v in list(values):
        item = getattr(v, "item", None)
        v = item() if callable(item) else v
        out.append(v if isinstance(v, str | int | float | bool) else str(v))
    return out


def _count(value: Any) -> int | None:
    """`n_features_in_` as a plain int (numpy ints included), None when absent or not a count."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n == value and n > 0 and not isinstance(value, bool) else None


def describe(model: Any, request: dict[str, Any]) -> dict[str, Any]:
    if request["format"] == "python":
        return {"type_name": f"python callable {request['callable']}"}
    if request["format"] != "mlflow" and not callable(getattr(model, "predict", None)):
        raise TypeError(f"the unpickled object (type {type(model).__module__}.{type(model).__qualname__}) has no "
                        f"predict method")
    est = estimator_of(model, request)
    names = getattr(est, "feature_names_in_", None)
    if names is None and request["format"] == "mlflow":
        try:
            schema = model.metadata.get_input_schema()
            names = schema.input_names() if schema is not None and schema.has_input_names() else None
        except Exception:
            names = None
    classes = getattr(est, "classes_", None)
    return {"type_name": f"{type(model).__module__}.{type(model).__qualname__}",
            "feature_names": _plain_list(names), "classes": _plain_list(classes),
            "n_features": _count(getattr(est, "n_features_in_", None)),
            "has_scores": bool(request.get("score_column")) or callable(getattr(est, "predict_proba", None))}


def as_plain_array(values: Any) -> Any:
    """Labels as an array numpy can save without pickling: numbers and booleans stay, anything else
    (objects, pandas text) becomes text."""
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype.kind in "biufU":
        return arr
    if arr.dtype.kind == "O" and all(isinstance(v, bool | np.bool_) for v in arr.ravel()):
        return arr.astype(bool)
    return arr.astype(str)


def predict(model: Any, request: dict[str, Any], frame: Any, favorable: object) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    out = model.predict(frame)
    label_col, score_col = request.get("label_column"), request.get("score_column")
    scores = None
    if isinstance(out, pd.DataFrame):
        if label_col is None and out.shape[1] != 1:
            raise ValueError(f"the model returned a frame with columns {list(out.columns)}; name the label "
                             f"column with adapter.label_column")
        col = label_col if label_col is not None else out.columns[0]
        if col not in out.columns:
            raise ValueError(f"the model's output has no column {col!r}; it has {list(out.columns)}")
        if score_col is not None:
            if score_col not in out.columns:
                raise ValueError(f"the model's output has no column {score_col!r}; it has {list(out.columns)}")
            scores = np.asarray(out[score_col], dtype=float)
        out = out[col]
    labels = as_plain_array(out)
    est = estimator_of(model, request)
    if scores is None and callable(getattr(est, "predict_proba", None)):
        proba = np.asarray(est.predict_proba(frame), dtype=float)
        classes = list(getattr(est, "classes_", range(proba.shape[1])))
        idx = next((i for i, c in enumerate(classes) if str(c) == str(favorable)), len(classes) - 1)
        scores = proba[:, idx]
    arrays = {"labels": labels} if scores is None else {"labels": labels, "scores": np.asarray(scores, dtype=float)}
    return arrays


def plain_label(value: Any) -> Any:
    """An object label as JSON holds it: text, numbers, booleans and None as such, numpy's scalars with their
    dtype ({"np": "<i8", "v": 1}), pandas' NA and NaT as markers, anything else as its text."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.generic) and value.dtype.kind in "biufU":
        return {"np": value.dtype.str, "v": value.item()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if value is pd.NA:
        return {"missing": "NA"}
    if value is pd.NaT:
        return {"missing": "NaT"}
    return str(value)


def call_python(fn: Any, request: dict[str, Any], op: str, frame: Any, scratch: Path, n: int) -> dict[str, Any]:
    """Call a `python` tool's callable as the adapter does in process and write what it returned; the status
    to report. The tool's own exception propagates (`own_error_status`); so does the ToolError of `contained`
    or of the output rules, with the message the adapter would have raised in process."""
    import numpy as np

    from harness.tools.base import as_predictions
    from harness.tools.python import GenerativePythonTool, contained

    name = str(request.get("name"))
    with contained(name):
        raw = fn(frame)
    if op == "generate":
        preds = GenerativePythonTool(fn=fn, name=name)._answers(raw, len(frame))
        write_json(scratch / f"out-{n}.json", {"answers": preds.answers, "errors": preds.errors})
        return {"ok": True}
    preds = as_predictions(raw, len(frame), f"tool {name!r}")
    labels, status = preds.labels, {"ok": True, "labels": "npz"}
    arrays = {} if preds.scores is None else {"scores": np.asarray(preds.scores, dtype=float)}
    if labels.dtype.kind == "O":  # each value keeps its type: 1 stays 1, "1" stays "1", None stays None
        (scratch / f"out-{n}.json").write_text(json.dumps({"labels": [plain_label(v) for v in labels]}))
        status["labels"] = "json"
    else:
        arrays["labels"] = as_plain_array(labels)
    np.savez(scratch / f"out-{n}.npz", **arrays)  # type: ignore[arg-type]  # stub: a **key might be allow_pickle
    return status


def own_error_status(e: BaseException) -> dict[str, Any]:
    """A `python` tool's failure, for the parent to rebuild (`harness.sandbox.rebuild_exception`): its type, its
    nearest builtin base, its args when they are plain and give the same text, and whether it is a ToolError
    of the harness code (the adapter's own verdict, passed on as it is)."""
    from harness.errors import ToolConfigError, ToolError

    status = error_status(e)
    if isinstance(e, ToolError):
        status["harness"] = "ToolConfigError" if isinstance(e, ToolConfigError) else "ToolError"
        return status
    base = next((c for c in type(e).__mro__ if c.__module__ == "builtins" and issubclass(c, Exception)), Exception)
    status["builtin"] = base.__name__
    args = list(e.args)
    if all(isinstance(a, str | int | float | bool) or a is None for a in args):
        try:
            same = str(base(*args)) == status["message"]
        except Exception:
            same = False
        if same and len(json.dumps(args, default=str)) <= 16000:
            status["args"] = args
    return status


def read_frame(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_pickle(path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, default=str))


def error_status(e: BaseException) -> dict[str, Any]:
    try:
        message = str(e)
    except Exception:  # an exception whose __str__ fails still reports its type
        message = ""
    return {"ok": False, "type": type(e).__name__, "message": message[:4000]}


def serve(scratch: Path, control: Any) -> int:
    request = json.loads((scratch / "request.json").read_text())
    own = request.get("format") == "python"
    set_limits(request.get("limits", {}))
    die_with_parent()
    try:
        model = load_model(request)
        status = {"ok": True, **describe(model, request)}
    except BaseException as e:  # the model's failure, whatever it is, goes back to the parent
        traceback.print_exc()
        write_json(scratch / "status-load.json", own_error_status(e) if own else error_status(e))
        control.write("load\n")
        control.flush()
        return 3
    write_json(scratch / "status-load.json", status)
    control.write("load\n")
    control.flush()
    import numpy as np

    for line in sys.stdin:
        msg = json.loads(line)
        op = msg.get("op")
        if op not in ("predict", "generate") or (op == "generate" and not own):
            break
        n = int(msg["n"])
        try:
            frame = read_frame(scratch / str(msg["input"]))
            if own:  # a generative callable is asked once per ask: `sample` is not passed on, as in process
                write_json(scratch / f"status-{n}.json", call_python(model, request, op, frame, scratch, n))
            else:
                arrays = predict(model, request, frame, msg.get("favorable"))
                np.savez(scratch / f"out-{n}.npz", **arrays)
                write_json(scratch / f"status-{n}.json", {"ok": True})
        except Exception as e:
            traceback.print_exc()
            write_json(scratch / f"status-{n}.json", own_error_status(e) if own else error_status(e))
        control.write(f"{n}\n")
        control.flush()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m harness.sandbox.worker SCRATCH", file=sys.stderr)
        return 2
    # answers go on a private copy of stdout; fd 1 (and sys.stdout) now point at stderr
    control = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return serve(Path(argv[1]), control)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
