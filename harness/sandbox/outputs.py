"""Reading what comes back from a worker, which the harness trusts no further than its type: the files it wrote
(read without following links, size-bounded), its outputs checked for shape, type and range, its exception
rebuilt without executing anything, and what it found on loading the model (`ModelInfo`). Every text is
truncated and scrubbed (vendor code) or made printable (the City's own code) before the harness keeps it."""
from __future__ import annotations

import builtins
import contextlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ToolError
from harness.sandbox.scrub import scrub

if TYPE_CHECKING:
    import numpy as np

MESSAGE_CHARS = 500  # characters of the model's exception message quoted in an error
OWN_MESSAGE_CHARS = 4000  # characters of a `python` tool's exception message kept (the worker sends no more)
MAX_STATUS_BYTES = 1 << 20


@dataclass(frozen=True)
class ModelInfo:
    """What the worker found after loading: the columns the model was fitted on (if it says), its classes
    and whether it gives scores. Plain JSON values only: the parent trusts none of it beyond its type."""

    type_name: str
    feature_names: list[str] | None = None
    classes: list[Any] | None = None
    has_scores: bool = False
    n_features: int | None = None  # `n_features_in_`: how many inputs a model fitted without names takes


class WorkerException(RuntimeError):
    """The model raised an exception of a type the parent does not rebuild (not a builtin)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name


def _builtin_exception(name: object) -> type[Exception] | None:
    cls = getattr(builtins, name, None) if isinstance(name, str) else None
    if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins":
        return cls
    return None


def rebuild_exception(type_name: str, message: str, *, base: object = None,
                      args: list[Any] | None = None) -> BaseException:
    """The model's exception as the parent can hold it: a builtin type by name (so callers that classify
    errors, like the degradation suite, see a ValueError as a ValueError), else `WorkerException`. Only
    names of builtin Exception subclasses are looked up; nothing from the worker is executed.

    For the City's own `python` tools the worker also sends the nearest builtin `base` of the type and the
    exception's plain `args`: a type of the tool's own (`class BadRow(ValueError)`) comes back as a class of
    that name deriving from the base, and the args make `str()` what it was (a KeyError's quotes included)."""
    cls = _builtin_exception(type_name)
    if cls is None and (parent := _builtin_exception(base)) is not None and type_name.isidentifier():
        cls = type(type_name, (parent,), {"__module__": "harness.sandbox.worker_exceptions"})
    if cls is not None:
        try:
            rebuilt = cls(*args) if args is not None else cls(message)
        except Exception:  # e.g. UnicodeDecodeError needs five arguments
            rebuilt = None
        if rebuilt is not None and (base is None or str(rebuilt) == message):
            return rebuilt
        if base is not None:  # keep the type; say what the tool said (a KeyError's text without added quotes)
            holder = type(type_name, (cls,), {"__module__": "harness.sandbox.worker_exceptions",
                                              "__str__": lambda self: message})
            with contextlib.suppress(Exception):
                return holder()
    return WorkerException(type_name, message)


def own_text(value: object, limit: int = OWN_MESSAGE_CHARS) -> str:
    """A text from a `python` tool's worker as the harness keeps it: the City's own code, so not scrubbed
    like a vendor's (nothing is masked), only printable (newlines and tabs kept, no terminal controls) and cut
    to `limit` characters."""
    if not isinstance(value, str):
        return ""
    text = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in value[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- reading what the worker wrote, without trusting it ---------------------------------------------------


def read_untrusted(path: Path, limit: int) -> bytes | None:
    """A regular file the worker wrote, at most `limit` bytes; None when it is absent, a link, a FIFO
    or too big (the worker could plant any of them in its scratch folder)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        return f.read(limit + 1)[:limit]


def json_object(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def value_type_name(value: Any) -> str:
    """The name of the model's exception type as the worker reported it: a dotted identifier, else a
    placeholder (the name is a channel out of the sandbox like the message)."""
    text = value if isinstance(value, str) else ""
    return text if len(text) <= 100 and all(part.isidentifier() and part.isascii() for part in text.split(".")) \
        else "Exception"


def check_outputs(raw: bytes | None, n: int, source: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (numbers, booleans or text) and optional scores in [0, 1], one per input row."""
    import io
    import zipfile

    import numpy as np

    if raw is None:
        raise ToolError(f"{source}: the worker wrote no readable output file")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ToolError(f"{source}: the worker's output is not a valid npz of plain arrays: {e}") from None
    labels, scores = arrays.get("labels"), arrays.get("scores")
    if labels is None:
        raise ToolError(f"{source}: the worker's output has no labels")
    if labels.ndim != 1 or len(labels) != n:
        raise ToolError(f"{source} returned {labels.shape} labels for {n} input rows; expected one per row")
    if labels.dtype.kind not in "biufU":
        raise ToolError(f"{source} returned labels of dtype {labels.dtype}; expected numbers, booleans or text")
    if scores is not None:
        if scores.dtype.kind not in "biuf" or scores.ndim != 1 or len(scores) != n:
            raise ToolError(f"{source} returned scores of dtype {scores.dtype} and shape {scores.shape} for {n} "
                            f"input rows; expected one number per row")
        scores = scores.astype(float)
        bad = ~np.isfinite(scores) | (scores < 0) | (scores > 1)
        if bad.any():
            raise ToolError(f"{source} returned {int(bad.sum())} score(s) that are not in [0, 1]")
    return labels, scores


def _npz(raw: bytes | None, source: str) -> dict[str, np.ndarray]:
    import io
    import zipfile

    import numpy as np

    if raw is None:
        raise ToolError(f"{source}: the worker wrote no readable output file")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ToolError(f"{source}: the worker's output is not a valid npz of plain arrays: {e}") from None


def _json_file(path: Path, limit: int, source: str) -> dict[str, Any]:
    data = json_object(read_untrusted(path, limit))
    if data is None:
        raise ToolError(f"{source}: the worker wrote no readable output file")
    return data


def _object_label(value: Any) -> Any:
    """One object label as the worker wrote it (`harness.sandbox.worker.plain_label`): a JSON scalar, a numpy
    scalar ({"np": dtype, "v": value}, numbers, booleans and text only), or {"missing": "NA"} / {"missing":
    "NaT"} for pandas' missing-value markers."""
    import re

    import numpy as np
    import pandas as pd

    if isinstance(value, dict) and len(value) == 1 and value.get("missing") in ("NA", "NaT"):
        return pd.NA if value["missing"] == "NA" else pd.NaT
    if isinstance(value, dict) and set(value) == {"np", "v"} and isinstance(value["np"], str) \
            and re.fullmatch(r"[<>|=]?[biufU]\d{1,3}", value["np"]) and isinstance(value["v"], str | int | float):
        try:
            return np.dtype(value["np"]).type(value["v"])
        except (TypeError, ValueError, OverflowError):
            pass
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    raise ToolError("the worker's object labels hold a value that is not text, a number, a boolean or missing")


def own_outputs(scratch: Path, n: int, status: dict[str, Any], rows: int, source: str,
                limit: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A `python` tool's labels and scores as it returned them: numbers, booleans and text from the npz, object
    labels from `out-<n>.json` (an object array again, each value of its own type), scores as floats, not
    checked for range (the data-quality suite judges them, as in process)."""
    import numpy as np

    arrays = _npz(read_untrusted(scratch / f"out-{n}.npz", limit), source)
    if status.get("labels") == "json":
        values = _json_file(scratch / f"out-{n}.json", limit, source).get("labels")
        if not isinstance(values, list) or len(values) != rows:
            raise ToolError(f"{source}: the worker's object labels are not one value per input row")
        labels = np.empty(rows, dtype=object)
        try:
            labels[:] = [_object_label(v) for v in values]
        except ToolError as e:
            raise ToolError(f"{source}: {e}") from None
    else:
        labels = arrays.get("labels")  # type: ignore[assignment]
        if labels is None:
            raise ToolError(f"{source}: the worker's output has no labels")
        if labels.ndim != 1 or len(labels) != rows or labels.dtype.kind not in "biufU":
            raise ToolError(f"{source} returned labels of dtype {labels.dtype} and shape {labels.shape} for {rows} "
                            f"input rows; expected one number, boolean or text per row")
    scores = arrays.get("scores")
    if scores is not None and (scores.dtype.kind not in "biuf" or scores.ndim != 1 or len(scores) != rows):
        raise ToolError(f"{source} returned scores of dtype {scores.dtype} and shape {scores.shape} for {rows} "
                        f"input rows; expected one number per row")
    return labels, None if scores is None else scores.astype(float)


def own_answers(scratch: Path, n: int, rows: int, source: str, limit: int) -> tuple[list[str], list[str | None]]:
    """A generative `python` tool's answers (text, one per item) and per-item errors (text or None)."""
    data = _json_file(scratch / f"out-{n}.json", limit, source)
    answers, errors = data.get("answers"), data.get("errors")
    if not isinstance(answers, list) or len(answers) != rows or not all(isinstance(a, str) for a in answers):
        raise ToolError(f"{source}: the worker's answers are not one text per item")
    if not isinstance(errors, list) or len(errors) != rows or \
            not all(e is None or isinstance(e, str) for e in errors):
        raise ToolError(f"{source}: the worker's per-item errors are not one text or null per item")
    return answers, errors


def parse_model_info(status: dict[str, Any]) -> ModelInfo:
    names = status.get("feature_names")
    classes = status.get("classes")
    return ModelInfo(
        type_name=scrub(status.get("type_name"), 200),
        # names and classes show up in messages (a column the model wants, a class it has): scrubbed too, but
        # not made ASCII, so a column named "âge" still matches the data
        feature_names=[scrub(str(c), 200, ascii_only=False) for c in names] if isinstance(names, list) else None,
        classes=[scrub(c, 200, ascii_only=False) if isinstance(c, str) else c for c in classes
                 if isinstance(c, str | int | float | bool)] if isinstance(classes, list) else None,
        has_scores=bool(status.get("has_scores")),
        n_features=n if isinstance(n := status.get("n_features"), int) and not isinstance(n, bool) and n > 0 else None,
    )
