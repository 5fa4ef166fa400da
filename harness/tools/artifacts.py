"""What a tool version is made of, byte for byte (issue 11, policy 4.2): every file an adapter reads, by its
sha256, so that an approval is bound to the model (or the vendor's outputs) that was tested and not only to
the manifest that names it. A vendor who overwrites `model.skops` under an approved `tool.yaml` has made a new
tool; the gate and `reassess` re-hash these files and refuse a mismatch, naming the file.

The digests are taken from the files as they are on disk when the assessment starts and again when it ends
(`changed`), so a file swapped while the tool was being run is caught too.

What each adapter reads:
- `sklearn`, `pickle`, `predictions`, `responses`: the file `adapter.path`;
- `mlflow` with `path`: every file under the model folder; with `model_uri`: the URI itself (the registry
  is the authority for what it names);
- `python`: the module file next to the manifest that holds the callable (an installed module is named by
  its module name and, when it has one, its file's digest);
- `openai`: no file; the endpoint's facts (base URL, model name, the model list the endpoint reports) are
  recorded by the adapter (`harness.tools.openai.endpoint_facts`) and bound the same way;
- `http`: no file; the scoring URL is the version's identity (`endpoint.url`).
A live object handed to the pipeline (a notebook's estimator) has no bytes to bind: it is recorded as such.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.digests import sha256_file
from harness.tools.configs import (
    HttpAdapter,
    MlflowAdapter,
    OpenAIAdapter,
    PickleAdapter,
    PredictionsAdapter,
    PythonAdapter,
    ResponsesAdapter,
    SklearnAdapter,
)

if TYPE_CHECKING:
    from harness.manifest import ToolManifest
    from harness.policy import Policy

LIVE_OBJECT = "live object passed to the pipeline (no file to hash)"
MAX_LISTED_CHARS = 1500  # a decision record is at most 5,000 bytes: more files are bound by the combined digest


def _label(manifest: ToolManifest, path: Path) -> str:
    """A file's name as the manifest's author sees it: relative to the manifest's folder when inside it."""
    try:
        return path.resolve().relative_to(manifest.base_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def tool_files(manifest: ToolManifest) -> dict[str, Path]:
    """label -> path of every file the manifest's adapter will read (existing or not: a missing file is
    reported by the adapter with its own message)."""
    a = manifest.adapter
    paths: list[Path] = []
    if isinstance(a, SklearnAdapter | PickleAdapter | PredictionsAdapter | ResponsesAdapter):
        paths.append(manifest.resolve(a.path))
    elif isinstance(a, MlflowAdapter) and a.path:
        folder = manifest.resolve(a.path)
        paths += sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else [folder]
    elif isinstance(a, PythonAdapter):
        from harness.tools.python import module_file

        module = a.callable.partition(":")[0]
        found = module_file(module, manifest.base_dir)
        if found is not None:
            paths.append(found)
    return {_label(manifest, p): p for p in paths}


def artifact_digests(manifest: ToolManifest, tool_obj: Any = None, *, ask_endpoint: bool = True,
                     policy: Policy | None = None) -> dict[str, str]:
    """label -> sha256 (or a fact, for what has no file) of everything that makes up the tool. `ask_endpoint`
    False leaves out what only the endpoint can say (not part of the identity), for a check that must not
    make a network call; an endpoint the endpoint rules of `policy` forbid is never asked either
    (`harness.tools.endpoint`; the packaged default policy when None)."""
    if tool_obj is not None:
        return {"tool": LIVE_OBJECT}
    a = manifest.adapter
    out: dict[str, str] = {}
    for label, path in tool_files(manifest).items():
        out[label] = sha256_file(path) if path.is_file() else "missing"
    if isinstance(a, MlflowAdapter) and a.model_uri:
        out["model_uri"] = str(a.model_uri)
    if isinstance(a, PythonAdapter) and not out:
        out.update(_installed_module(a.callable))
    if isinstance(a, OpenAIAdapter):
        from harness.tools.openai import endpoint_facts

        out.update(endpoint_facts(manifest, policy) if ask_endpoint else {
            "endpoint.base_url": str(a.base_url).rstrip("/"), "endpoint.model": str(a.model)})
    if isinstance(a, HttpAdapter):
        out["endpoint.url"] = str(a.url)
    return out


def _installed_module(spec: str) -> dict[str, str]:
    """A callable from an installed module: its name, and its file's digest when the module has a file."""
    import importlib.util

    module = spec.partition(":")[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    origin = getattr(found, "origin", None)
    if origin and Path(origin).is_file():
        return {f"module {module}": sha256_file(Path(origin))}
    return {f"module {module}": "not found"}


REPORTED = "endpoint.models"  # what an endpoint says it serves: recorded as evidence, not part of the identity


def binding(digests: dict[str, str]) -> dict[str, str]:
    """The digests that make up the version's identity: every file, the endpoint's URL and model name. The
    model list an endpoint reports is evidence of what it served, but it comes and goes with the endpoint's
    availability, so it does not make a new version."""
    return {k: v for k, v in digests.items() if not k.startswith(REPORTED)}


def combined(digests: dict[str, str]) -> str:
    """One sha256 over the binding digests (sorted, canonical JSON): the tool's identity with the manifest's."""
    text = json.dumps(binding(digests), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def listed(digests: dict[str, str]) -> dict[str, str] | None:
    """The per-file digests when few enough to keep in a decision record, else None (the combined one binds)."""
    text = json.dumps(digests, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return dict(digests) if len(text) <= MAX_LISTED_CHARS else None


def _short(value: str | None) -> str:
    if value is None:
        return "absent"
    return value[:12] + "..." if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else repr(value)


def changed(recorded: dict[str, str], found: dict[str, str]) -> list[str]:
    """One phrase per file that differs: '<file>: approved sha256 <a>, found <b>' (a missing or new file too)."""
    out = []
    recorded, found = binding(recorded), binding(found)
    for name in sorted(set(recorded) | set(found)):
        was, now = recorded.get(name), found.get(name)
        if was == now:
            continue
        if now is None or now == "missing":
            out.append(f"{name}: recorded sha256 {_short(was)}, the file is missing")
        elif was is None:
            out.append(f"{name}: not part of the recorded tool, found sha256 {_short(now)}")
        else:
            out.append(f"{name}: recorded sha256 {_short(was)}, found {_short(now)}")
    return out
