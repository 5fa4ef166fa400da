"""The `harness` program's entry point: run the command, then leave the process without tearing it down.

Why: a cold `harness assess` spent 1.5-2 s after its last line was printed, on nothing anyone waits for: joining
the data-only checks' worker (which itself tears down Great Expectations), then freeing every module of
mlflow, pandas, scikit-learn and GX one object at a time. The operating system frees a process's memory at
once. So, once the command has returned, this module does what an orderly exit must do and skips the rest:

1. stops the background worker's process (`harness.background.stop_worker`), if one was started;
2. stops idle pool threads and waits for every other non-daemon thread, as Python's own exit does (a thread
   still writing must finish);
   then closes the worker's pool (`harness.background.shutdown`);
3. runs the `atexit` handlers (logging's flush, MLflow's, the sandbox's), in Python's order;
4. flushes stdout and stderr, and ends the process with the command's exit code (`os._exit`).

Everything recorded is already committed by then (the store commits each write; reports are closed files), so
nothing is lost. An exception that escapes the command is not caught here: Python prints it and exits as usual.
`HARNESS_FAST_EXIT=0` restores Python's full exit (a debugging aid: a leak checker wants the teardown).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading

ENV = "HARNESS_FAST_EXIT"


def exit_code(code: object) -> int:
    """The status Python's own exit gives `SystemExit(code)`: None is 0, an int is itself, anything else (a
    message) is printed to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run() -> None:
    """Console script `harness` and `python -m harness`."""
    from harness.cli.app import main

    try:
        main()  # click's standalone mode always ends in SystemExit
    except SystemExit as done:
        if os.environ.get(ENV, "1").strip().lower() in {"0", "false", "no", "off"}:
            raise
        leave(exit_code(done.code))


def leave(code: int) -> None:
    """Steps 1-4 above, then `os._exit(code)`."""
    background = sys.modules.get("harness.background")
    if background is not None:  # imported only by commands that may have started a worker
        background.stop_worker()
    # Python's own first exit step: it tells idle pool threads to stop (concurrent.futures registers that with
    # threading, e.g. MLflow's artifact upload pool), then joins every non-daemon thread; joining them without
    # that first would wait forever on an idle pool's threads
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None and threading.current_thread() is threading.main_thread():
        shutdown()
    if background is not None:
        background.shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`harness ... | head`), a closed stream
            stream.flush()
    os._exit(code)
