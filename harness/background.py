"""Work started now and collected later, in a second process when the machine has a core to spare.

Why: one `harness assess` of a small tool spends most of its time importing libraries, and the heaviest of
them (Great Expectations, about 3 s of a 10 s run on two cores) is needed only by checks that read the data and
never the tool. Those checks can run in a second process while this one loads the tool and runs the checks
that call it, so the two heaviest phases overlap instead of adding up (issue 13, "fast where people wait").

The contract is the one of calling the function here and now: `Pending.result()` returns what `fn(*args)`
returns or raises what it raised (same type, same message), so an error becomes the same ERROR finding
either way. Nothing else changes: the function, its arguments and its result cross the process boundary by
pickle, so the result is the same object a local call would give (the built-in checks are deterministic
functions of their inputs; tests/test_background.py holds the demo's and Adult's outputs to be equal).

When there is no core to spare (one usable CPU), when `HARNESS_BACKGROUND=0`, or when the worker process
cannot be started or dies, the function runs in this process, when its result is asked for. The worker is
spawned (never forked: this process may hold threads, an MLflow engine or a sandbox's pipes) and kept for
the life of this process, so a `harness demo` or a cron re-assessment of several tools imports the heavy
library once. It holds no secret and no vendor code: only City code (a suite's data-only checks) runs in it.
"""
from __future__ import annotations

import atexit
import os
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

T = TypeVar("T")

ENV = "HARNESS_BACKGROUND"

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def usable_cores() -> int:
    """The CPUs this process may run on (a container's or taskset's limit, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def enabled() -> bool:
    """A second process is worth starting: a spare core, and not switched off with HARNESS_BACKGROUND=0."""
    return os.environ.get(ENV, "1").strip().lower() not in {"0", "false", "no", "off"} and usable_cores() >= 2


def _worker_pool() -> ProcessPoolExecutor | None:
    global _pool
    with _lock:
        if _pool is None:
            import multiprocessing

            try:
                _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_init)
            except (OSError, ValueError):
                return None
            atexit.register(shutdown)
        return _pool


def stop_worker() -> None:
    """Stop the worker process at once and leave the pool to notice (its manager thread then winds down by
    itself, in milliseconds). The program's quick exit calls this before Python's own exit step, which wakes and
    joins that manager thread: the pool must still be whole then (its wake-up pipe closed by `shutdown` first gave
    "Bad file descriptor" from concurrent.futures' exit hook), and a live worker would make the join wait for it
    to tear Great Expectations down (0.8 s)."""
    with _lock:
        pool = _pool
    for worker in list((getattr(pool, "_processes", None) or {}).values()):
        if worker.is_alive():
            worker.terminate()


def shutdown() -> None:
    """Stop the worker; work not yet collected is dropped (nothing of it was recorded anywhere)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    # a call still running would otherwise hold this process's exit until it finishes (concurrent.futures joins
    # its worker at exit); Python 3.14 has pool.terminate_workers(), 3.11 only the private table
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    pool.shutdown(wait=True)  # the worker is stopped: this only waits (milliseconds) for the pool to close its queues


def _worker_init() -> None:
    """In the worker, before any call: give tqdm (Great Expectations draws progress bars with it) a lock of this
    process's threads instead of the named semaphore it creates by default. The worker may be stopped with
    SIGTERM, which unlinks no semaphore, and Python's resource tracker would then print "There appear to be 1
    leaked semaphore objects" on the user's terminal after every assessment. Only this process writes bars."""
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with Great Expectations and MLflow; without it there is no lock to make
        return
    tqdm.set_lock(threading.RLock())


class Pending(Generic[T]):
    """`fn(*args)`, running in the worker or deferred to `result()`."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...], future: Future[tuple[str, Any]] | None) -> None:
        self._fn, self._args, self._future = fn, args, future
        self.in_background = future is not None

    def result(self) -> T:
        """What `fn(*args)` returns, or the exception it raised. Anything that goes wrong with the worker
        itself (it died, was killed, could not import or unpickle) costs time, never the answer: the call is
        then made here, so the outcome is always the one a local call gives."""
        if self._future is not None:
            try:
                status, data = self._future.result()
                if status == "ok":
                    value: T = pickle.loads(data)
                    return value
                if status == "raised":
                    error = pickle.loads(data)
                    if isinstance(error, Exception):
                        raise error
            except (BrokenProcessPool, CancelledError, pickle.UnpicklingError, EOFError, OSError, ImportError,
                    AttributeError):
                shutdown()  # a broken pool is not reused; the next submit starts a fresh one
        return self._fn(*self._args)

    def done(self) -> bool:
        """True when `result()` will not wait for the worker (a deferred call has not run yet, but it is not
        waiting for anything either)."""
        return self._future is None or self._future.done()

    def cancel(self) -> None:
        """Drop the call; one already running in the worker stops the worker (a fresh one starts on demand)."""
        if self._future is not None and not self._future.done() and not self._future.cancel():
            shutdown()


def _call(payload: bytes) -> tuple[str, Any]:
    """In the worker: ("ok", pickled result), ("raised", pickled exception) or ("unusable", why). The worker
    pickles both ways itself, so a transport problem is told apart from an error of the function."""
    try:
        fn, args = pickle.loads(payload)
    except Exception as e:
        return "unusable", f"cannot unpickle the call: {type(e).__name__}: {e}"
    try:
        value = fn(*args)
    except Exception as e:
        try:
            return "raised", pickle.dumps(e)
        except Exception:
            return "unusable", f"cannot pickle {type(e).__name__}"
    try:
        return "ok", pickle.dumps(value)
    except Exception as e:
        return "unusable", f"cannot pickle the result: {type(e).__name__}: {e}"


def submit(fn: Callable[..., T], *args: Any) -> Pending[T]:
    """Start `fn(*args)` in the worker when a second process is worth it; otherwise defer it to `result()`.
    `fn` must be importable by name (a module-level function) and its arguments picklable; when they are not,
    the call is deferred to `result()` too."""
    if not enabled():
        return Pending(fn, args, None)
    try:
        payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return Pending(fn, args, None)
    pool = _worker_pool()
    if pool is None:
        return Pending(fn, args, None)
    try:
        return Pending(fn, args, pool.submit(_call, payload))
    except (BrokenProcessPool, RuntimeError, OSError):
        shutdown()
        return Pending(fn, args, None)


def _warm(modules: tuple[str, ...]) -> None:
    import importlib

    for name in modules:
        importlib.import_module(name)


def prestart(*modules: str) -> None:
    """Start the worker now and have it import `modules`, so that it is ready when the first call comes: a
    command calls this before its own heavy imports, which then overlap the worker's (a no-op when the worker
    would not be used)."""
    if enabled():
        submit(_warm, modules)


__all__ = ["ENV", "Pending", "enabled", "prestart", "shutdown", "stop_worker", "submit", "usable_cores"]
