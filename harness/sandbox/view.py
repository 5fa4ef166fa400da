"""What a worker sees: its whole environment (`worker_env`) and, under bubblewrap, the read-only view of the
Python runtime, the `harness` package and the model (`bwrap_argv`, `runtime_paths`). Shared by the probe that
decides whether bubblewrap works (`harness.sandbox.mode`) and the host that starts workers
(`harness.sandbox.host`), so both build the very same view."""
from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

# environment variables a worker may inherit when it runs without bubblewrap: nothing that can hold a secret
ENV_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")


def _package_dir() -> Path:
    """The `harness` package folder itself: the only part of a repository checkout the worker sees."""
    return Path(__file__).resolve().parent.parent


def _import_root() -> Path:
    """The folder that holds the `harness` package: the worker must import it from the same place."""
    return _package_dir().parent


def worker_env(scratch: Path, pythonpath: list[Path] | tuple[Path, ...] = ()) -> dict[str, str]:
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
    for k, v in worker_env(scratch, pythonpath).items():
        argv += ["--setenv", k, v]
    return [*argv, "--", *command]
