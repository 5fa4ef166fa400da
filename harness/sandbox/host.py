"""The harness side of a worker: `SandboxedModel` spawns the worker (under bubblewrap or as a contained
subprocess, `harness.sandbox.mode`), speaks the file protocol described in `harness.sandbox`, enforces the
timeouts by killing it, and cleans its scratch folder up. `Limits` and `ModelSpec` say what a worker may use
and what it loads.
`HARNESS_SANDBOX` (or the `isolation` argument) chooses: `auto` (default), `bwrap` (required: refuse to
run without it) or `subprocess` (force the fallback, for tests and machines without namespaces; the policy
must allow it too).

Protocol, all through files in the scratch folder plus one line per step on the worker's stdout: the parent
writes `request.json` (what to load, the limits); the worker loads the model, writes `status-load.json` and
the line `load`. For each call the parent writes `in-<n>.parquet` (or `.pkl` when pyarrow cannot hold the
frame; written by the trusted parent, read only by the worker) and sends `{"op": "predict", "n": n}` on
stdin; the worker writes `out-<n>.npz` (labels, scores) and `status-<n>.json` and the line `<n>`. The
parent reads the worker's files without following links, loads the npz with `allow_pickle=False`, and
checks every shape, type and range: a crash, a timeout or garbage output is a `ToolError` carrying the tail
of the worker's stderr. Every text that comes back from the worker (its exception, its stderr, the names it
reports) is truncated and scrubbed (`harness.sandbox.scrub`) before the harness keeps it. The worker stays up
between calls, so the model is loaded once per assessment.
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn

from harness.errors import ToolConfigError, ToolError
from harness.sandbox.mode import choose_mode, choose_own_code_mode
from harness.sandbox.outputs import (
    MAX_STATUS_BYTES,
    MESSAGE_CHARS,
    ModelInfo,
    check_outputs,
    json_object,
    own_answers,
    own_outputs,
    own_text,
    parse_model_info,
    read_untrusted,
    rebuild_exception,
    value_type_name,
)
from harness.sandbox.scrub import scrub
from harness.sandbox.view import bwrap_argv, worker_env

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ModelFormat = Literal["pickle", "joblib", "cloudpickle", "mlflow", "skops"]
PYTHON = "python"  # the worker format of a `python` tool: the City's own callable, not a vendor's model file
WorkerFormat = Literal["pickle", "joblib", "cloudpickle", "mlflow", "skops", "python"]
STDERR_TAIL = 2000  # characters of the worker's stderr quoted in an error


@dataclass(frozen=True)
class Limits:
    """What one worker may use. Applied by the worker to itself (soft = hard, so the model cannot raise
    them) before it loads anything; the timeouts are enforced by the parent, which kills the worker."""

    cpu_s: int = 3600
    memory_bytes: int = 8 << 30
    file_bytes: int = 2 << 30
    load_timeout_s: float = 300.0
    call_timeout_s: float = 300.0


@dataclass(frozen=True)
class ModelSpec:
    """What the worker loads: a local file (pickle formats) or a local MLflow model folder. For MLflow
    models that return a frame, `label_column`/`score_column` name the columns to read. For format "python",
    `callable` is the manifest's "module:function" and `path` the manifest's folder it is looked up in."""

    format: WorkerFormat
    path: Path
    label_column: str | None = None
    score_column: str | None = None
    callable: str | None = None
    # a `python` tool's module imported from elsewhere than the manifest's folder (a package of the City's on the
    # harness's import path): the package folders or module files, bound read-only; their parents are imported from
    imports: tuple[Path, ...] = ()


# --- spawning ---------------------------------------------------------------------------------------------

# A child's "die with parent" signal fires when the *thread* that forked it ends, and callers may call a
# tool from short-lived threads (the degradation suite's timed calls). Workers are therefore always started
# from one long-lived thread.
_spawn_requests: queue.Queue[tuple[list[str], dict[str, Any], queue.Queue[Any]]] = queue.Queue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _spawn_loop() -> None:
    while True:
        argv, kwargs, reply = _spawn_requests.get()
        try:
            reply.put(subprocess.Popen(argv, **kwargs))
        except BaseException as e:
            reply.put(e)


def _spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawn_loop, name="harness-sandbox-spawner", daemon=True)
            _spawner.start()
    reply: queue.Queue[Any] = queue.Queue()
    _spawn_requests.put((argv, kwargs, reply))
    out = reply.get()
    if isinstance(out, BaseException):
        raise out
    return out


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the worker's whole process group (it leads a session of its own, `start_new_session`), so
    whatever the model started and left running dies with it, then reap the worker. Called whether or not
    the worker is still running: a model's child outlives a worker that exited cleanly."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to `timeout` for the worker to exit *without reaping it*: until it is reaped its pid stays
    taken, so the process group `_kill` signals next cannot be someone else's."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        if proc.returncode is not None:
            return True
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                return True
        except ChildProcessError:  # reaped elsewhere
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _cleanup(proc: subprocess.Popen[bytes] | None, scratch: Path, stderr: IO[bytes] | None) -> None:
    if proc is not None:
        _kill(proc)
    if stderr is not None:
        stderr.close()
    shutil.rmtree(scratch, ignore_errors=True)  # fd-based on Linux: links the worker left are not followed


# --- the worker handle ------------------------------------------------------------------------------------


@dataclass
class SandboxedModel:
    """A model loaded in an isolated worker. Started on first use, kept for later calls, restarted after a
    crash or a timeout, stopped by `close()` (or when garbage-collected or the harness exits)."""

    spec: ModelSpec
    name: str
    isolation: str | None = None
    limits: Limits = field(default_factory=Limits)
    scratch_parent: Path | None = None
    notes: list[str] = field(default_factory=list)
    # the analyst's consent (settings.sandbox.allow_subprocess_fallback) to run the model without bubblewrap
    allow_fallback: bool = False
    mode: str = field(init=False, default="")
    _proc: subprocess.Popen[bytes] | None = field(init=False, default=None, repr=False)
    _scratch: Path | None = field(init=False, default=None, repr=False)
    _stderr: IO[bytes] | None = field(init=False, default=None, repr=False)
    _info: ModelInfo | None = field(init=False, default=None, repr=False)
    _buffer: bytes = field(init=False, default=b"", repr=False)
    _calls: int = field(init=False, default=0, repr=False)
    _lock: threading.RLock = field(init=False, default_factory=threading.RLock, repr=False)
    _finalizer: Any = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if self.spec.format == PYTHON:
            self.mode, note = choose_own_code_mode(self.name, self.isolation)
        else:
            self.mode, note = choose_mode(self.name, self.isolation, self.allow_fallback)
        if note not in self.notes:
            self.notes.append(note)

    # public API

    @property
    def info(self) -> ModelInfo:
        with self._lock:
            self._ensure_started()
            assert self._info is not None
            return self._info

    def predict(self, frame: pd.DataFrame, favorable: object) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels and scores (for the `favorable` class, when the model gives probabilities). For a `python`
        tool: what its callable returned, normalised by `harness.tools.as_predictions` in the worker; the
        tool's own exception is raised as such (`_call_error`), for the adapter to wrap as it does in process."""
        source = f"tool {self.name!r}"
        if self.spec.format == PYTHON:
            return self._exchange("predict", frame, "predicting", {},
                                  lambda scratch, n, status: own_outputs(scratch, n, status, len(frame), source,
                                                                         self.limits.file_bytes))
        return self._exchange("predict", frame, "predicting", {"favorable": _plain(favorable)},
                              lambda scratch, n, status: check_outputs(
                                  read_untrusted(scratch / f"out-{n}.npz", self.limits.file_bytes), len(frame),
                                  source))

    def generate(self, items: pd.DataFrame, sample: int = 0) -> tuple[list[str], list[str | None]]:
        """A generative `python` tool's answers to `items` (one text per row) and per-item errors (None where it
        answered), checked by `GenerativePythonTool` rules in the worker and for type and length here."""
        if self.spec.format != PYTHON:
            raise ToolError(f"tool {self.name!r}: only a python tool's worker answers questions")
        source = f"tool {self.name!r}"
        return self._exchange("generate", items, "answering", {"sample": int(sample)},
                              lambda scratch, n, status: own_answers(scratch, n, len(items), source,
                                                                     self.limits.file_bytes))

    def kill(self) -> None:
        """Kill the worker's process group now, without waiting for a call in progress, which then fails: for a
        call its caller abandoned (the degradation suite's timed calls), so that closing does not wait for it.
        The process is signalled only while it has not exited (and so cannot have been reaped)."""
        proc = self._proc
        if proc is not None and proc.returncode is None and not _exited(proc, 0):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        """End the worker (cleanly when it listens: it ends on end of input), then kill its process group:
        nothing the model started outlives the model."""
        with self._lock:
            if self._proc is not None and self._proc.returncode is None and self._proc.stdin is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._proc.stdin.close()
                _exited(self._proc, 5)
            if self._finalizer is not None:
                self._finalizer()
            self._proc, self._scratch, self._stderr, self._info, self._finalizer = None, None, None, None, None

    # internals

    def _exchange(self, op: str, frame: pd.DataFrame, doing: str, fields: dict[str, Any],
                  read: Any) -> Any:
        """One call: write the input, send `op`, wait for the worker's line, then `read(scratch, n, status)`
        while the call's files still exist; a failed call raises the model's error (`_call_error`)."""
        with self._lock:
            self._ensure_started()
            assert self._scratch is not None
            self._calls += 1
            n = self._calls
            scratch = self._scratch
            try:
                name = self._write_frame(frame, n)
                self._send({"op": op, "n": n, "input": name, **fields})
                self._wait(str(n), self.limits.call_timeout_s, doing)
                status = json_object(read_untrusted(scratch / f"status-{n}.json", MAX_STATUS_BYTES))
                if status is None:
                    self._fail(f"tool {self.name!r}: the sandboxed worker wrote no valid status for call {n}")
                if not status.get("ok"):
                    raise self._call_error(status)
                return read(scratch, n, status)
            finally:  # a long assessment makes many calls: keep the scratch folder small
                for stale in (f"in-{n}.parquet", f"in-{n}.pkl", f"out-{n}.npz", f"out-{n}.json", f"status-{n}.json"):
                    with contextlib.suppress(OSError):
                        (scratch / stale).unlink()

    def _call_error(self, status: dict[str, Any]) -> BaseException:
        """A vendor model's failure: a ToolError with its scrubbed message, raised from the rebuilt exception. A
        `python` tool's: a ToolError (ToolConfigError) the harness code in the worker raised, as it was, else
        the tool's own exception, rebuilt (`rebuild_exception`), for the adapter to wrap as in process."""
        kind = value_type_name(status.get("type"))
        if self.spec.format != PYTHON:
            text = scrub(status.get("message"), MESSAGE_CHARS)
            error = ToolError(f"tool {self.name!r} raised {kind} during prediction (in the sandboxed worker): {text}")
            error.__cause__ = rebuild_exception(kind or "Exception", text)
            return error
        text = own_text(status.get("message"))
        harness_error = status.get("harness")
        if harness_error == "ToolConfigError":
            return ToolConfigError(text)
        if harness_error == "ToolError":
            return ToolError(text)
        args = status.get("args")
        plain = isinstance(args, list) and all(isinstance(a, str | int | float | bool) or a is None for a in args)
        return rebuild_exception(kind, text, base=status.get("builtin") or "Exception",
                                 args=[own_text(a) if isinstance(a, str) else a for a in args]
                                 if plain and isinstance(args, list) else None)

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._info is not None:
            return
        self.close()
        self._start()

    def _start(self) -> None:
        parent = self.scratch_parent
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="harness-sandbox-", dir=parent)).resolve()
        stderr = tempfile.TemporaryFile(prefix="harness-sandbox-stderr-")  # noqa: SIM115 (lives with the worker)
        request = {"format": self.spec.format, "path": str(self.spec.path.resolve()),
                   "label_column": self.spec.label_column, "score_column": self.spec.score_column,
                   "callable": self.spec.callable, "name": self.name, "limits": asdict(self.limits)}
        (scratch / "request.json").write_text(json.dumps(request))
        command = [sys.executable, "-P", "-m", "harness.sandbox.worker", str(scratch)]
        pythonpath = [p.parent for p in self.spec.imports]
        env = worker_env(scratch, pythonpath)
        if self.mode == "bwrap":
            exe = shutil.which("bwrap") or "bwrap"
            command = bwrap_argv(exe, scratch, command, needed=[self.spec.path.resolve(), *self.spec.imports],
                                 pythonpath=pythonpath)
        try:
            proc = _spawn(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env,
                          cwd=scratch, start_new_session=True, close_fds=True)
        except OSError as e:
            _cleanup(None, scratch, stderr)
            raise ToolError(f"tool {self.name!r}: cannot start the sandboxed worker: {e}") from None
        self._proc, self._scratch, self._stderr, self._buffer, self._calls = proc, scratch, stderr, b"", 0
        self._finalizer = weakref.finalize(self, _cleanup, proc, scratch, stderr)
        self._wait("load", self.limits.load_timeout_s, "loading the model")
        status = json_object(read_untrusted(scratch / "status-load.json", MAX_STATUS_BYTES))
        if status is None:
            self._fail(f"tool {self.name!r}: the sandboxed worker wrote no valid status after loading the model")
        if not status.get("ok"):
            if self.spec.format == PYTHON:
                self._load_failed(status)
            self._fail(f"tool {self.name!r}: the model could not be loaded in the sandboxed worker: "
                       f"{value_type_name(status.get('type'))}: {scrub(status.get('message'), MESSAGE_CHARS)}")
        self._info = parse_model_info(status)

    def _load_failed(self, status: dict[str, Any]) -> NoReturn:
        """A `python` tool's module that cannot be imported is bad input, as in process (ToolConfigError, with
        import_callable's message); one that ends or breaks while it loads is the tool's failure (ToolError)."""
        text = own_text(status.get("message"))
        if status.get("harness") == "ToolConfigError":
            if self._proc is not None:
                _kill(self._proc)
            self.close()
            raise ToolConfigError(text)
        self._fail(f"tool {self.name!r}: the callable {self.spec.callable!r} could not be loaded in the worker "
                   f"process: {value_type_name(status.get('type'))}: {text}")

    def _write_frame(self, frame: pd.DataFrame, n: int) -> str:
        """Parquet keeps dtypes (categories, nullable integers, text); a frame pyarrow cannot hold (mixed
        objects, as the degradation suite's malformed inputs have) goes as a pickle. Both are written by
        the parent and read only by the worker. A `python` tool's frame always goes as a pickle: its callable
        must get the very frame it got in process (index, dtypes, column names of any type)."""
        assert self._scratch is not None
        if self.spec.format == PYTHON:
            name = f"in-{n}.pkl"
            frame.to_pickle(self._scratch / name)
            return name
        try:
            name = f"in-{n}.parquet"
            frame.to_parquet(self._scratch / name)
        except Exception:
            name = f"in-{n}.pkl"
            frame.to_pickle(self._scratch / name)
        return name

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write((json.dumps(message) + "\n").encode())
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._fail(f"tool {self.name!r}: the sandboxed worker is gone (exit code {self._proc.poll()})")

    def _wait(self, token: str, timeout: float, doing: str) -> None:
        """Wait for the worker's line `token`; kill it at the timeout or when it ends or talks garbage."""
        import time

        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._fail(f"tool {self.name!r}: the sandboxed worker did not finish {doing} within "
                               f"{timeout:g} s and was killed")
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self._proc.wait(timeout=10)
                    self._fail(f"tool {self.name!r}: the sandboxed worker exited with code {code} while {doing}")
                self._buffer += chunk
                if len(self._buffer) > 4096:
                    self._fail(f"tool {self.name!r}: the sandboxed worker wrote garbage on its control channel")
        line, _, self._buffer = self._buffer.partition(b"\n")
        if line.decode(errors="replace").strip() != token:
            self._fail(f"tool {self.name!r}: the sandboxed worker answered {scrub(repr(line[:80]), 100)} instead "
                       f"of {token!r}")

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            size = self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, size - 4 * STDERR_TAIL))
            return scrub(self._stderr.read().decode(errors="replace").strip(), STDERR_TAIL, tail=True)
        return ""

    def _fail(self, message: str) -> NoReturn:
        """Stop the worker (the next call starts a fresh one) and raise with its stderr tail."""
        tail = self._stderr_tail()
        if self._proc is not None:
            _kill(self._proc)
        self.close()
        raise ToolError(message + (f"; the worker's stderr ends with:\n{tail}" if tail else
                                   "; the worker wrote nothing on stderr"))


def _plain(value: object) -> object:
    """A JSON-able form of a label value (numpy scalars become Python ones)."""
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
