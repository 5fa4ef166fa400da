"""Tool adapters: one interface over every way a vendor can hand the City a tool.

`predict(frame) -> Predictions` is called once per dataset by the assessment; every check reads the
same outputs, so a slow or costly tool is never asked twice for the same answer.

This package's own module is the loader: `load_tool` builds the adapter the manifest's kind names, through
the adapter table (`harness.tools.kinds`), from its typed config (`harness.tools.configs`) and a `ToolSite`.
What adapters and checks share lives in `harness.tools.base` (re-exported here for plugin authors); an adapter
imports that module, never this package, so the loader can import the adapters without an import cycle.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.tools.base import (
    GenerativeTool,
    Predictions,
    Tool,
    ToolSite,
    as_predictions,
    can_call,
    can_generate,
    input_frame,
    qa_items,
)
from harness.tools.kinds import adapter_kind

if TYPE_CHECKING:
    from harness.manifest import ToolManifest
    from harness.policy import Policy


def site_of(manifest: ToolManifest, obj: Any = None, *, use_cache: bool = True, policy: Policy | None = None,
            model_folder: Path | None = None) -> ToolSite:
    """What an adapter may know about the manifest's tool beyond its own config."""
    return ToolSite(tool_id=manifest.id, base_dir=manifest.base_dir, generative=manifest.category == "generative",
                    policy=policy, obj=obj, use_cache=use_cache, model_folder=model_folder,
                    identity=manifest.identity())


def load_tool(manifest: ToolManifest, obj: Any = None, *, use_cache: bool = True,
              policy: Policy | None = None, model_folder: Path | None = None) -> Tool:
    """Build the adapter the manifest names. `obj` passes a live callable or estimator (notebooks);
    `use_cache=False` makes an endpoint answer every question afresh (`assess --no-cache`, `reassess`).
    `policy` is the analyst's: it decides which skops types are trusted in the harness process beyond the
    harness allowlist (never the manifest) and bounds the sandboxed worker; without it, the allowlist alone.
    `model_folder` is a `model_uri` already downloaded by the pipeline (`harness.workflows.assess.local_model`)."""
    site = site_of(manifest, obj, use_cache=use_cache, policy=policy, model_folder=model_folder)
    return adapter_kind(manifest.adapter.kind).build(manifest.adapter, site)


__all__ = ["GenerativeTool", "Predictions", "Tool", "ToolSite", "as_predictions", "can_call", "can_generate",
           "input_frame", "load_tool", "qa_items", "site_of"]
