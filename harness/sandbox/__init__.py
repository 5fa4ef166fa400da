"""Run model formats that execute code when loaded (pickle, joblib, cloudpickle, MLflow pyfunc, skops files
needing types the City does not trust), and the City's own `python` tools, only in an isolated worker process,
never in the harness process (issue 6, "Untrusted code never runs in the harness process"; issue 12, "Vendor
code stays in its box"; policy 1.3 and 1.4: AI use must not bypass the City's security protocols; the Code of
Ethics: "AI systems must not leak or export sensitive data outside City control").

One job a module: `mode` chooses the isolation (bubblewrap, or the subprocess fallback with the policy's
consent), `view` builds what the worker sees, `host` starts a worker and speaks its file protocol
(`SandboxedModel`), `outputs` reads and checks what comes back, `scrub` cleans every text from it, and
`worker` is the program that runs inside. The names below are the package's public API.
"""
from __future__ import annotations

from harness.sandbox.host import PYTHON, Limits, ModelFormat, ModelSpec, SandboxedModel, WorkerFormat
from harness.sandbox.mode import (
    BWRAP_NOTE,
    FALLBACK_NOTE,
    FALLBACK_PREFIX,
    FORCED_NOTE,
    ISOLATION_ENV,
    OWN_CODE_NOTE,
    Isolation,
    bwrap_status,
    choose_mode,
    choose_own_code_mode,
    isolation_choice,
)
from harness.sandbox.outputs import ModelInfo, WorkerException, check_outputs, rebuild_exception
from harness.sandbox.view import bwrap_argv, runtime_paths

__all__ = ["BWRAP_NOTE", "FALLBACK_NOTE", "FALLBACK_PREFIX", "FORCED_NOTE", "ISOLATION_ENV", "OWN_CODE_NOTE", "PYTHON",
           "Isolation", "Limits", "ModelFormat", "ModelInfo", "ModelSpec", "SandboxedModel", "WorkerException",
           "WorkerFormat", "bwrap_argv", "bwrap_status", "check_outputs", "choose_mode", "choose_own_code_mode",
           "isolation_choice", "rebuild_exception", "runtime_paths"]
