"""The adapter table: every `adapter.kind` a tool.yaml may name, with its config model, the function that builds
the adapter from that config, and one line saying what it is. The manifest schema (`AdapterConfig`, the union
its `adapter:` field validates against), the loader (`harness.tools.load_tool`) and the error locator (which
drops a kind's tag from a problem's path, `harness.yamlio.problems_of`) all read this one table, so a new kind
is one row here, its config in `harness.tools.configs` and its adapter module.

A builder is named as "module:attribute" and imported only when a tool of that kind is loaded: validating a
manifest imports no adapter (nor httpx, skops or the sandbox), and no adapter is imported by the manifest.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from harness.errors import ConfigError
from harness.tools.configs import (
    AdapterBase,
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
    from harness.tools.base import Tool, ToolSite


@dataclass(frozen=True)
class AdapterKind:
    """One row of the table. `builder` is None for a kind DESIGN.md names that a later issue implements: its
    manifests validate, but the loader refuses them."""

    kind: str
    config: type[AdapterBase]
    builder: str | None
    description: str

    def build(self, config: AdapterBase, site: ToolSite) -> Tool:
        """The adapter for `config`, built by this kind's builder, imported now."""
        if self.builder is None:
            raise ConfigError(f"adapter kind {self.kind!r} in tool manifest {site.tool_id!r} is not available in "
                              f"this version; available: {', '.join(AVAILABLE)}", rule="adapter-kind",
                              detail=self.kind)
        module, _, attribute = self.builder.partition(":")
        target: Any = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
        tool: Tool = target(config, site)
        return tool


ADAPTERS: dict[str, AdapterKind] = {a.kind: a for a in (
    AdapterKind("python", PythonAdapter, "harness.tools.python:build",
                "a callable module:function, run in a worker process"),
    AdapterKind("sklearn", SklearnAdapter, "harness.tools.sklearn:build",
                "a scikit-learn model saved with skops (sandboxed when it holds a type the City does not trust)"),
    AdapterKind("predictions", PredictionsAdapter, "harness.tools.predictions:PredictionsTool.from_config",
                "a vendor's CSV of predictions keyed by the dataset's id column"),
    AdapterKind("responses", ResponsesAdapter, "harness.tools.responses:ResponsesTool.from_config",
                "a vendor's JSONL of answers keyed by item id"),
    AdapterKind("openai", OpenAIAdapter, "harness.tools.openai:OpenAITool.from_config",
                "an OpenAI-compatible chat-completions endpoint"),
    AdapterKind("pickle", PickleAdapter, "harness.tools.sandboxed:SandboxedTool.from_config",
                "a pickle, joblib or cloudpickle model, loaded only in the sandboxed worker"),
    AdapterKind("mlflow", MlflowAdapter, "harness.tools.sandboxed:SandboxedTool.from_config",
                "an MLflow model folder or model_uri, loaded only in the sandboxed worker"),
    AdapterKind("http", HttpAdapter, "harness.tools.http:HttpTool.from_config",
                "a vendor's JSON scoring endpoint: rows POSTed in batches, labels and scores read by JSON path"),
)}

AVAILABLE: tuple[str, ...] = tuple(k for k, a in ADAPTERS.items() if a.builder is not None)
"""The kinds this version can load, in the table's order (the loader's message lists them)."""

if TYPE_CHECKING:
    AdapterConfig = AdapterBase
else:  # the manifest's `adapter:` field: one config per kind, told apart by `kind`
    AdapterConfig = Annotated[Union[tuple(a.config for a in ADAPTERS.values())],  # noqa: UP007
                              Field(discriminator="kind")]


def adapter_kind(kind: str) -> AdapterKind:
    """The table's row for `kind` (a validated manifest only names kinds in the table)."""
    return ADAPTERS[kind]
