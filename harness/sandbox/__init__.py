"""Run model formats that execute code when loaded (pickle, joblib, cloudpickle, MLflow pyfunc, skops files
needing types the City does not trust) only in an isolated worker process, never in the harness process
(issue 6, "Untrusted code never runs in the harness process"; issue 12, "Vendor code stays in its box";
policy 1.3 and 1.4: AI use must not bypass the City's security protocols; the Code of Ethics: "AI systems
must not leak or export sensitive data outside City control").

The worker (`python -m harness.sandbox.worker SCRATCH`) runs:

* under bubblewrap when `bwrap` is on PATH and works (probed once): it sees only what it needs
  (`bwrap_argv`): the Python runtime and the `harness` package read-only, the model file (or MLflow model
  folder) read-only, its scratch folder writable, a private /tmp, a minimal /dev and its own /proc. Not the
  MLflow store, other vendors' files, the reference data, /etc, the parent's $HOME or host sockets. No
  network and new PID/IPC/UTS namespaces (`--unshare-all`), all capabilities dropped, a cleared
  environment, killed when the harness dies (`--die-with-parent`);
* otherwise, only when the analyst's policy allows it (`settings.sandbox.allow_subprocess_fallback`), as a
  plain subprocess with a scrubbed environment, cwd = scratch, and resource limits (the same limits are set
  under bubblewrap), in a process group of its own that is killed whole when the model is closed, so
  nothing it started outlives the assessment. The tool then carries `FALLBACK_NOTE`, which the assessment
  turns into an advisory finding, so such a run can never be a clean PASS. Without that consent the model
  is refused (fail closed): an environment variable alone never opens the fallback.

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

The City's own `python` tools loaded from a manifest run in the same worker (format "python", issue 12: "CLI
assessments run `python` tools in a worker process too, so a tool cannot end the harness with a PASS exit
code"): the request names the callable ("module:function") and the manifest's folder, which the worker
imports with `harness.tools.python.import_callable`. Being the City's code, not a vendor's, it needs no
fallback consent (`choose_own_code_mode`), and what comes back keeps its meaning rather than being scrubbed:
labels of any plain dtype (object labels as `out-<n>.json`, so 1 stays 1 and "1" stays "1"), scores unchecked
in range (as in process), and the tool's exception by type, builtin base and arguments, so the degradation
suite still sees a ValueError as a ValueError. Besides "predict" it answers `{"op": "generate", "n": n,
"input": ...}` for a generative callable: `out-<n>.json` holds `answers` (text) and `errors` (text or null
per item). Its inputs always go as pickles (written by the parent), so index and dtypes reach it exactly.
"""
from __future__ import annotations

import builtins
import contextlib
import functools
import json
import os
import queue
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from harness.errors import ConfigError, ToolConfigError, ToolError
from harness.sandbox.scrub import scrub

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ISOLATION_ENV = "HARNESS_SANDBOX"
Isolation = Literal["auto", "bwrap", "subprocess"]
ModelFormat = Literal["pickle", "joblib", "cloudpickle", "mlflow", "skops"]
PYTHON = "python"  # the worker format of a `python` tool: the City's own callable, not a vendor's model file
WorkerFormat = Literal["pickle", "joblib", "cloudpickle", "mlflow", "skops", "python"]

FALLBACK_NOTE = ("isolation: subprocess fallback (bwrap not available); the model's code ran with the "
                 "harness user's file-system and network access")
FORCED_NOTE = ("isolation: subprocess fallback (subprocess isolation was requested); the model's code ran with "
               "the harness user's file-system and network access")
BWRAP_NOTE = ("isolation: bubblewrap (only the Python runtime, the model and a scratch folder visible, private "
              "/tmp, no network, cleared environment)")
FALLBACK_PREFIX = "isolation: subprocess fallback"
OWN_CODE_NOTE = ("isolation: worker process (the City's own code, without bubblewrap); a tool cannot end or change "
                 "the harness process")

# environment variables a worker may inherit when it runs without bubblewrap: nothing that can hold a secret
ENV_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
STDERR_TAIL = 2000  # characters of the worker's stderr quoted in an error
MESSAGE_CHARS = 500  # characters of the model's exception message quoted in an error
OWN_MESSAGE_CHARS = 4000  # characters of a `python` tool's exception message kept (the worker sends no more)
MAX_STATUS_BYTES = 1 << 20


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
                return holder()  # type: ignore[no-any-return]
    return WorkerException(type_name, message)


def own_text(value: object, limit: int = OWN_MESSAGE_CHARS) -> str:
    """A text from a `python` tool's worker as the harness keeps it: the City's own code, so not scrubbed
    like a vendor's (nothing is masked), only printable (newlines and tabs kept, no terminal controls) and cut
    to `limit` characters."""
    if not isinstance(value, str):
        return ""
    text = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in value[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- choosing the isolation ------------------------------------------------------------------------------


def isolation_choice(isolation: str | None = None) -> Isolation:
    value = (isolation or os.environ.get(ISOLATION_ENV) or "auto").strip().lower()
    if value not in ("auto", "bwrap", "subprocess"):
        raise ConfigError(f"{ISOLATION_ENV}={value!r} is not an isolation mode; use auto, bwrap or subprocess")
    return value  # type: ignore[return-value]


def choose_mode(name: str, isolation: str | None, allow_fallback: bool) -> tuple[str, str]:
    """How tool `name` runs, "bwrap" or "subprocess", with the note the assessment records. Fails closed
    (issue 12): without a working bubblewrap the model runs only with the policy's consent
    (`allow_fallback`); `HARNESS_SANDBOX=subprocess` asks for the fallback but cannot give that consent."""
    choice = isolation_choice(isolation)
    consent = "accept the risk with settings.sandbox.allow_subprocess_fallback: true in the analyst's policy"
    if choice == "subprocess" and not allow_fallback:
        asked = f"{ISOLATION_ENV}=subprocess" if isolation is None else "isolation='subprocess'"
        raise ConfigError(f"tool {name!r}: subprocess isolation was requested ({asked}) but the policy does not "
                          f"allow running the model's code outside the sandbox; use bubblewrap, or {consent}")
    ok, why = bwrap_status() if choice != "subprocess" else (False, "")
    if choice == "bwrap" and not ok:
        raise ToolError(f"tool {name!r}: bubblewrap isolation is required ({ISOLATION_ENV}=bwrap) but not "
                        f"available: {why}")
    if not ok and not allow_fallback:
        raise ConfigError(f"tool {name!r} runs code when loaded and bubblewrap is not usable here ({why}); the "
                          f"policy does not allow the subprocess fallback: install bubblewrap (apt-get install "
                          f"bubblewrap), or {consent}")
    if ok:
        return "bwrap", BWRAP_NOTE
    return "subprocess", FORCED_NOTE if choice == "subprocess" else FALLBACK_NOTE


def choose_own_code_mode(name: str, isolation: str | None) -> tuple[str, str]:
    """How a `python` tool loaded from its manifest runs: under bubblewrap when it works (`HARNESS_SANDBOX=bwrap`
    requires it), else as a plain subprocess. No fallback consent is asked: that consent is about a vendor's code
    seeing the harness user's files, and this is the City's own code, which ran in the harness process before.
    The worker is there so that the tool cannot end the harness with a PASS exit code or change its state
    (issue 12); it still runs in a process group of its own, killed whole at close, and dies with the harness."""
    choice = isolation_choice(isolation)
    ok, why = bwrap_status() if choice != "subprocess" else (False, "")
    if choice == "bwrap" and not ok:
        raise ToolError(f"tool {name!r}: bubblewrap isolation is required ({ISOLATION_ENV}=bwrap) but not "
                        f"available: {why}")
    return ("bwrap", BWRAP_NOTE) if ok else ("subprocess", OWN_CODE_NOTE)


@functools.cache
def bwrap_status() -> tuple[bool, str]:
    """Probe bubblewrap once per process with the view a worker gets: (works, why not). The probe imports
    what every worker imports, so a view that misses part of the runtime counts as "bwrap not usable" (and
    is refused unless the policy allows the fallback) rather than failing on each model."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bwrap is not on PATH"
    scratch = Path(tempfile.mkdtemp(prefix="harness-bwrap-probe-"))
    try:
        probe = [sys.executable, "-P", "-c", "import harness.sandbox.worker, numpy"]
        argv = bwrap_argv(exe, scratch, probe, needed=[])
        try:
            p = subprocess.run(argv, env=_base_env(scratch), capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"bwrap could not start: {e}"
        if p.returncode != 0:
            tail = p.stderr.decode(errors="replace").strip()[-300:]
            return False, f"bwrap failed on this machine (exit {p.returncode}): {tail}"
        return True, ""
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _package_dir() -> Path:
    """The `harness` package folder itself: the only part of a repository checkout the worker sees."""
    return Path(__file__).resolve().parent.parent


def _import_root() -> Path:
    """The folder that holds the `harness` package: the worker must import it from the same place."""
    return _package_dir().parent


def _base_env(scratch: Path, pythonpath: list[Path] | tuple[Path, ...] = ()) -> dict[str, str]:
    """The worker's whole environment (and bwrap's own, since a sandboxed process can read its
    /proc/1/environ): no tokens, no cloud credentials, no MLflow settings. `pythonpath`: more folders to import
    from (where a `python` tool's module lives when it is not next to its manifest)."""
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(_import_root()), *map(str, pythonpath)])),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MPLCONFIGDIR": str(scratch),
        "LC_ALL": "C.UTF-8",
    }
    from harness import TELEMETRY_OFF

    env.update(TELEMETRY_OFF)  # the worker may load MLflow for a vendor's pyfunc: it sends nothing either
    for k in ENV_ALLOWLIST:
        if k in os.environ and k not in env:
            env[k] = os.environ[k]
    return env


# the system's shared libraries (the C library, the dynamic loader, what numpy's and scikit-learn's wheels link
# against); on a merged-/usr system /lib and /lib64 are links into /usr, reproduced as links
SYSTEM_LIBS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32")


def runtime_paths() -> list[Path]:
    """The folders the Python runtime lives in, read-only in the sandbox: the environment's prefix and the
    base interpreter's (which holds the standard library and libpython, e.g. a pyenv Python under $HOME,
    bound alone, never the rest of $HOME), the real interpreter's folder, the standard library and the
    site-packages folders, and the `harness` package. Never "/": a runtime installed there cannot be boxed."""
    import site

    paths: list[str | Path] = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                               Path(os.path.realpath(sys.executable)).parent, _package_dir()]
    paths += [v for k, v in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib")]
    paths += site.getsitepackages()
    found = [Path(p).resolve() for p in paths if p]
    return [p for p in dict.fromkeys(found) if p != Path("/") and p.exists()]


def _outermost(paths: list[Path]) -> list[Path]:
    """The paths with those inside another one left out (a bind of the outer folder shows them), parents
    first, so no mount hides another."""
    out: list[Path] = []
    for p in sorted(dict.fromkeys(paths), key=lambda q: (len(q.parts), str(q))):
        if not any(p == o or p.is_relative_to(o) for o in out):
            out.append(p)
    return out


def bwrap_argv(exe: str, scratch: Path, command: list[str], needed: list[Path],
               pythonpath: list[Path] | tuple[Path, ...] = ()) -> list[str]:
    """The bubblewrap command line: an empty root with only what the worker needs in it (issue 12, "the
    sandbox sees only what it needs"). The system libraries and the Python runtime read-only, the `harness`
    package folder alone (never the rest of a repository checkout, which may hold data, the store or other
    vendors' files), `needed` (the model file or MLflow model folder) read-only, a private /tmp with the
    scratch folder bound writable on top of it, a minimal /dev and a /proc of its own. Nothing of /etc,
    $HOME, /run or /var: no account files, no credentials, no host sockets."""
    tmp = Path("/tmp")
    argv = [exe, "--tmpfs", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", str(tmp)]
    for lib in SYSTEM_LIBS:
        if os.path.islink(lib):
            argv += ["--symlink", os.readlink(lib), lib]
        elif os.path.isdir(lib):
            argv += ["--ro-bind", lib, lib]
    libs = [Path(lib) for lib in SYSTEM_LIBS if os.path.isdir(lib) and not os.path.islink(lib)]
    scratch = scratch.resolve()
    for p in _outermost([*runtime_paths(), *(p.resolve() for p in needed)]):
        if any(p == lib or p.is_relative_to(lib) for lib in libs) or p == scratch:
            continue
        argv += ["--ro-bind", str(p), str(p)]
    argv += ["--bind", str(scratch), str(scratch), "--remount-ro", "/", "--chdir", str(scratch),
             "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    for k, v in _base_env(scratch, pythonpath).items():
        argv += ["--setenv", k, v]
    return [*argv, "--", *command]


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
    return out  # type: ignore[no-any-return]


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


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _type_name(value: Any) -> str:
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
    data = _json_object(read_untrusted(path, limit))
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
                status = _json_object(read_untrusted(scratch / f"status-{n}.json", MAX_STATUS_BYTES))
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
        kind = _type_name(status.get("type"))
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
                                 args=[own_text(a) if isinstance(a, str) else a for a in args] if plain else None)

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
        env = _base_env(scratch, pythonpath)
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
        status = _json_object(read_untrusted(scratch / "status-load.json", MAX_STATUS_BYTES))
        if status is None:
            self._fail(f"tool {self.name!r}: the sandboxed worker wrote no valid status after loading the model")
        if not status.get("ok"):
            if self.spec.format == PYTHON:
                self._load_failed(status)
            self._fail(f"tool {self.name!r}: the model could not be loaded in the sandboxed worker: "
                       f"{_type_name(status.get('type'))}: {scrub(status.get('message'), MESSAGE_CHARS)}")
        self._info = _model_info(status)

    def _load_failed(self, status: dict[str, Any]) -> None:
        """A `python` tool's module that cannot be imported is bad input, as in process (ToolConfigError, with
        import_callable's message); one that ends or breaks while it loads is the tool's failure (ToolError)."""
        text = own_text(status.get("message"))
        if status.get("harness") == "ToolConfigError":
            if self._proc is not None:
                _kill(self._proc)
            self.close()
            raise ToolConfigError(text)
        self._fail(f"tool {self.name!r}: the callable {self.spec.callable!r} could not be loaded in the worker "
                   f"process: {_type_name(status.get('type'))}: {text}")

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

    def _fail(self, message: str) -> Any:
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


def _model_info(status: dict[str, Any]) -> ModelInfo:
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
