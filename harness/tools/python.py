"""The `python` adapter: a callable, for notebooks, tests and tools the City builds itself.

`module:function` is looked up next to the manifest first (`tools:baseline` names `tools.py` in the
manifest's folder), so an example folder works from any working folder without installing it or
touching `sys.path` for good. A generative tool's callable (manifest `category: generative`) takes a
DataFrame of items (columns id, context, question) and returns one answer string per item.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import ToolConfigError, ToolError
from harness.tools import Predictions, as_predictions, input_frame, qa_items
from harness.tools.labels import apply_label_map

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest


def _module_file(module: str, base_dir: Path) -> Path | None:
    """`<base_dir>/<a>/<b>.py` (or its package `__init__.py`) for module `a.b`, when it exists."""
    rel = Path(*module.split("."))
    for candidate in (base_dir / rel.with_suffix(".py"), base_dir / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _load_from_file(module: str, path: Path, base_dir: Path) -> ModuleType:
    """Import a file next to the manifest under a private module name (so a `tools.py` never collides
    with another `tools`), with `base_dir` on sys.path only while its top level runs (sibling imports)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_harness_tool_{digest}_{module.replace('.', '_')}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ToolConfigError(f"cannot import module {module!r} from {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses and pickling look a module up by name while it runs
    entry = str(base_dir)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:
        del sys.modules[name]
        raise ToolConfigError(f"cannot import module {module!r} from {path}: {type(e).__name__}: {e}") from None
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)
    return mod


def import_callable(spec: str, base_dir: Path | None = None) -> Callable[..., Any]:
    """Resolve `module:function`: a file in `base_dir` (the manifest's folder) first, else a normal import."""
    module, _, attr = spec.partition(":")
    path = _module_file(module, base_dir) if base_dir is not None else None
    if path is not None:
        obj: Any = _load_from_file(module, path, base_dir)  # type: ignore[arg-type]
    else:
        try:
            obj = importlib.import_module(module)
        except ImportError as e:
            where = f" (nor is there a {module.replace('.', '/')}.py in {base_dir})" if base_dir is not None else ""
            raise ToolConfigError(f"cannot import module {module!r} of callable {spec!r}: {e}{where}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ToolConfigError(f"module {module!r} has no attribute {attr!r} (callable {spec!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ToolConfigError(f"{spec!r} is not callable")
    return obj


@contextmanager
def _contained(name: str) -> Iterator[None]:
    """While the tool's code runs, it cannot end the harness: `sys.exit(0)` or `os._exit(0)` would make `harness
    assess` exit 0, the PASS code, with nothing recorded (issue 12). Both become the tool's ERROR instead. (Code
    that wants to escape can still reach the C library; the sandboxed worker is the real boundary.)"""
    import os

    real = os._exit

    def refuse(code: int) -> None:
        raise ToolError(f"tool {name!r} tried to end the harness process (os._exit({code})); a tool returns its "
                        "outputs, it never exits")

    os._exit = refuse  # type: ignore[assignment]
    try:
        yield
    except SystemExit as e:
        raise ToolError(f"tool {name!r} tried to end the harness process (sys.exit({e.code!r})); a tool returns its "
                        "outputs, it never exits") from None
    finally:
        os._exit = real


@dataclass
class PythonTool:
    fn: Callable[..., Any]
    name: str
    kind: str = "python"
    label_map: dict[Any, Any] | None = None  # the callable's labels -> the card's target values

    @classmethod
    def from_manifest(cls, manifest: ToolManifest, obj: Any = None) -> PythonTool | GenerativePythonTool:
        fn = obj if obj is not None else import_callable(manifest.adapter.callable,  # type: ignore[union-attr]
                                                         manifest.base_dir)
        if manifest.category == "generative":
            return GenerativePythonTool(fn=fn, name=manifest.id)
        return cls(fn=fn, name=manifest.id, label_map=getattr(manifest.adapter, "label_map", None))

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        return list(dataset.card.features)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        return self.predict_frame(input_frame(dataset))

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        try:
            with _contained(self.name):
                raw = self.fn(frame)
        except ToolError:
            raise
        except Exception as e:  # the tool's own failure: recorded as ERROR, never a crash of ours
            raise ToolError(f"tool {self.name!r} raised {type(e).__name__} during prediction: {e}") from e
        preds = as_predictions(raw, len(frame), f"tool {self.name!r}")
        if self.label_map:
            preds = Predictions(labels=apply_label_map(preds.labels, self.label_map), scores=preds.scores)
        return preds


@dataclass
class GenerativePythonTool:
    """A callable answering grounded questions: `fn(items) -> list[str]` (or a `Predictions` with
    answers and, optionally, per-item errors). It offers `generate`, so the checks that ask new
    questions (privacy canaries, counterfactual prompts, consistency) can use it; it has no
    `predict_frame`, since it answers questions, not feature rows."""

    fn: Callable[..., Any]
    name: str
    kind: str = "python"

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        return self.generate(qa_items(dataset, self.name))

    def generate(self, items: pd.DataFrame, sample: int = 0) -> Predictions:
        """A deterministic callable answers a repeated ask (`sample` > 0) the same way; that is the point
        of asking it again, so `sample` is not passed on."""
        missing = [c for c in ("context", "question") if c not in items.columns]
        if missing:
            raise ToolError(f"tool {self.name!r} was asked with items lacking column(s) {missing}; a generative "
                            f"tool needs 'context' and 'question'")
        try:
            with _contained(self.name):
                raw = self.fn(items)
        except ToolError:
            raise
        except Exception as e:  # the tool's own failure: recorded as ERROR, never a crash of ours
            raise ToolError(f"tool {self.name!r} raised {type(e).__name__} while answering: {e}") from e
        return self._answers(raw, len(items))

    def _answers(self, raw: Any, n: int) -> Predictions:
        errors: list[str | None] | None = None
        if isinstance(raw, Predictions):
            errors = list(raw.errors) if raw.errors is not None else None
            raw = raw.answers if raw.answers is not None else list(raw.labels)
        if isinstance(raw, str) or not hasattr(raw, "__len__"):
            raise ToolError(f"tool {self.name!r} returned {type(raw).__name__}; a generative callable returns a "
                            f"list of answer strings, one per item")
        answers: list[str] = []
        for i, a in enumerate(raw):
            if a is None:  # no answer is an abstention, as in the responses adapter
                a = ""
            if not isinstance(a, str):
                raise ToolError(f"tool {self.name!r} returned {type(a).__name__} for item {i}; answers must be text")
            answers.append(a)
        if len(answers) != n:
            raise ToolError(f"tool {self.name!r} returned {len(answers)} answers for {n} items; expected one per item")
        if errors is not None and len(errors) != n:
            raise ToolError(f"tool {self.name!r} returned {len(errors)} errors for {n} items; expected one per item")
        if errors is None:
            errors = [None] * n
        answers = ["" if e is not None else a for a, e in zip(answers, errors, strict=True)]
        return Predictions(labels=np.asarray(answers, dtype=object), answers=answers, errors=errors)
