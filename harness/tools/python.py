"""The `python` adapter: a callable, for notebooks, tests and tools the City builds itself.

`module:function` is looked up next to the manifest first (`tools:baseline` names `tools.py` in the
manifest's folder), so an example folder works from any working folder without installing it or
touching `sys.path` for good. A generative tool's callable (manifest `category: generative`) takes a
DataFrame of items (columns id, context, question, and system when the harness adds instructions for an item:
`harness.tools.base.GenerativeTool`) and returns one answer string per item.

Loaded from its manifest (`harness assess`, `run_assessment(tool_yaml)`), the callable runs in a worker process
(`WorkerCallable`, through `harness.sandbox`; issue 12, "CLI assessments run `python` tools in a worker process
too, so a tool cannot end the harness with a PASS exit code"): an `os._exit(0)`, a `sys.exit(0)` or an exit
below Python ends only the worker, and the assessment is recorded as ERROR (exit 4); the tool cannot read or
change the harness process's memory or environment. The adapter classes are the same either way: the worker
answers with what the callable returned, normalised as in process, and raises the tool's own exception as
such. A live callable passed in (`obj`: notebooks, tests) still runs in the harness process, inside
`contained`.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import ToolConfigError, ToolError
from harness.tools.base import Predictions, as_predictions, input_frame, qa_items
from harness.tools.labels import apply_label_map

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.sandbox.host import SandboxedModel
    from harness.tools.base import ToolSite
    from harness.tools.configs import PythonAdapter

MAX_WORKERS = 4  # worker processes of one tool at once: more only while callers abandoned calls still run


def module_file(module: str, base_dir: Path) -> Path | None:
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
    path = module_file(module, base_dir) if base_dir is not None else None
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


def import_locations(spec: str, base_dir: Path) -> tuple[Path, ...]:
    """Where a worker must be able to import the module of callable `spec` from, when it is not a file next to the
    manifest: the folders (a package) or the file (a module) the harness process would import it from, found
    without running any of its code (`find_spec` of the top-level name only). Empty when it lives in the Python
    runtime (the worker sees that anyway) or is not found (the worker then says so, as `import_callable` does)."""
    from harness.sandbox.view import runtime_paths

    module = spec.partition(":")[0]
    if module_file(module, base_dir) is not None:
        return ()
    try:
        found = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return ()
    if found is None:
        return ()
    if found.submodule_search_locations:
        places = [Path(p) for p in found.submodule_search_locations]
    elif found.origin and found.has_location:
        places = [Path(found.origin)]
    else:  # built in, frozen
        return ()
    runtime = runtime_paths()
    return tuple(p for p in (q.resolve() for q in places)
                 if p.exists() and not any(p == r or p.is_relative_to(r) for r in runtime))


@contextmanager
def contained(name: str) -> Iterator[None]:
    """While the tool's code runs, it cannot end the harness: `sys.exit(0)` or `os._exit(0)` would make `harness
    assess` exit 0, the PASS code, with nothing recorded (issue 12). Both become the tool's ERROR instead. Used
    around a live callable in the harness process and around every call in the worker, where it gives the same
    message; the worker is the real boundary (code that wants to escape can still reach the C library, which ends
    only the worker there)."""
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


class WorkerCallable:
    """The callable of a `python` tool loaded from its manifest, as the harness process holds it: each call goes
    to a worker process that imported the module (`harness.sandbox`, format "python") and comes back as a
    `Predictions` (predictive: labels and scores; generative: answers and per-item errors), or as the tool's own
    exception, rebuilt, which the adapter wraps as it does in process.

    The module is imported once per worker and the worker stays up between calls. A call made while another is
    still running (a caller such as the degradation suite abandons a call that hangs, and goes on) gets another
    worker, up to `MAX_WORKERS`, so one hung call does not hold up the rest, as it would not in process."""

    def __init__(self, config: PythonAdapter, site: ToolSite, *, isolation: str | None = None):
        from harness.sandbox.host import ModelSpec
        from harness.tools.sandboxed import worker_limits

        policy = site.policy
        if policy is None:
            from harness.policy import load_policy

            policy = load_policy()
        spec: str = config.callable
        self.__name__ = self.__qualname__ = spec.partition(":")[2].rpartition(".")[2]
        self.spec = spec
        self.name = site.tool_id
        self.generative = site.generative
        folder = site.base_dir.resolve()
        self._model_spec = ModelSpec(format="python", path=folder, callable=spec,
                                     imports=import_locations(spec, folder))
        self._limits = worker_limits(site.tool_id, config, policy)
        self._isolation = isolation
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)
        self._workers: list[list[Any]] = []  # [SandboxedModel, busy]
        first = self._new()
        try:
            first.info  # noqa: B018  (load now: a module that cannot be imported is bad input, exit 2)
        except ToolConfigError:
            first.close()
            raise
        except ToolError:  # it ends or breaks while loading: the tool's failure, raised (and recorded) at its call
            pass
        self._workers.append([first, False])

    def _new(self) -> SandboxedModel:
        from harness.sandbox.host import SandboxedModel

        return SandboxedModel(self._model_spec, name=self.name, isolation=self._isolation, limits=self._limits)

    def _acquire(self) -> list[Any]:
        with self._free:
            while True:
                for slot in self._workers:
                    if not slot[1]:
                        slot[1] = True
                        return slot
                if len(self._workers) < MAX_WORKERS:
                    slot = [self._new(), True]
                    self._workers.append(slot)
                    return slot
                self._free.wait()

    def _release(self, slot: list[Any]) -> None:
        with self._free:
            slot[1] = False
            self._free.notify()

    def __call__(self, frame: pd.DataFrame) -> Predictions:
        slot = self._acquire()
        try:
            if self.generative:
                answers, errors = slot[0].generate(frame)
                return Predictions(labels=np.asarray(answers, dtype=object), answers=answers, errors=errors)
            labels, scores = slot[0].predict(frame, None)
            return Predictions(labels=labels, scores=scores)
        finally:
            self._release(slot)

    def close(self) -> None:
        """End every worker, and with it everything the tool started (process group). A call still running in
        an abandoned thread is cut short (it fails there) rather than waited for."""
        with self._lock:
            workers, self._workers = list(self._workers), []
        for model, busy in workers:
            if busy:
                model.kill()
            model.close()


def _guarded(fn: Callable[..., Any], name: str) -> AbstractContextManager[None]:
    """`contained` around a live callable; nothing around a `WorkerCallable`, whose code runs (contained) in the
    worker: patching `os._exit` of the harness process for it would only race with calls from other threads."""
    return nullcontext() if isinstance(fn, WorkerCallable) else contained(name)


@dataclass
class PythonTool:
    fn: Callable[..., Any]
    name: str
    kind: str = "python"
    label_map: dict[Any, Any] | None = None  # the callable's labels -> the card's target values

    def close(self) -> None:
        """End the worker of a tool loaded from its manifest; a live callable is left alone."""
        if isinstance(self.fn, WorkerCallable):
            self.fn.close()

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        return list(dataset.card.features)

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        return self.predict_frame(input_frame(dataset))

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        try:
            with _guarded(self.fn, self.name):
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

    def close(self) -> None:
        """End the worker of a tool loaded from its manifest; a live callable is left alone."""
        if isinstance(self.fn, WorkerCallable):
            self.fn.close()

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
            with _guarded(self.fn, self.name):
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


def build(config: PythonAdapter, site: ToolSite) -> PythonTool | GenerativePythonTool:
    """The adapter for a `python` config (the adapter table's builder). With `site.obj`, that live callable,
    called in this process; without, the config's callable, called in a worker process (`WorkerCallable`)
    bounded by the site's policy's sandbox limits (the default policy's when None)."""
    fn = site.obj if site.obj is not None else WorkerCallable(config, site)
    if site.generative:
        return GenerativePythonTool(fn=fn, name=site.tool_id)
    return PythonTool(fn=fn, name=site.tool_id, label_map=config.label_map)
