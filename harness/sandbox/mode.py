"""Which isolation a worker gets: bubblewrap when it works, the subprocess fallback only with the policy's consent
(`choose_mode`, vendor code) or without it for the City's own `python` tools (`choose_own_code_mode`), and the
notes that say so in the assessment. Probing bubblewrap (`bwrap_status`) is done once per process.

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
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

from harness.errors import ConfigError, ToolError
from harness.sandbox.view import bwrap_argv, worker_env

ISOLATION_ENV = "HARNESS_SANDBOX"
SANDBOX_CONSENT = "sandbox-consent"  # the rule a refused fallback names (policy 1.4: AI use must not bypass security)
Isolation = Literal["auto", "bwrap", "subprocess"]

FALLBACK_NOTE = ("isolation: subprocess fallback (bwrap not available); the model's code ran with the "
                 "harness user's file-system and network access")
FORCED_NOTE = ("isolation: subprocess fallback (subprocess isolation was requested); the model's code ran with "
               "the harness user's file-system and network access")
BWRAP_NOTE = ("isolation: bubblewrap (only the Python runtime, the model and a scratch folder visible, private "
              "/tmp, no network, cleared environment)")
FALLBACK_PREFIX = "isolation: subprocess fallback"
OWN_CODE_NOTE = ("isolation: worker process (the City's own code, without bubblewrap); a tool cannot end or change "
                 "the harness process")


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
                          f"allow running the model's code outside the sandbox; use bubblewrap, or {consent}",
                          rule=SANDBOX_CONSENT, section="1.4", detail="settings.sandbox.allow_subprocess_fallback")
    ok, why = bwrap_status() if choice != "subprocess" else (False, "")
    if choice == "bwrap" and not ok:
        raise ToolError(f"tool {name!r}: bubblewrap isolation is required ({ISOLATION_ENV}=bwrap) but not "
                        f"available: {why}")
    if not ok and not allow_fallback:
        raise ConfigError(f"tool {name!r} runs code when loaded and bubblewrap is not usable here ({why}); the "
                          f"policy does not allow the subprocess fallback: install bubblewrap (apt-get install "
                          f"bubblewrap), or {consent}",
                          rule=SANDBOX_CONSENT, section="1.4", detail="settings.sandbox.allow_subprocess_fallback")
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
            p = subprocess.run(argv, env=worker_env(scratch), capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"bwrap could not start: {e}"
        if p.returncode != 0:
            tail = p.stderr.decode(errors="replace").strip()[-300:]
            return False, f"bwrap failed on this machine (exit {p.returncode}): {tail}"
        return True, ""
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
