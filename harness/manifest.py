"""`tool.yaml`: what a vendor or analyst declares about a tool (DESIGN.md "Files users write").

The disclosure block is required in full: the policy's transparency clause says systems "should
disclose model type, training source, and legal access to data" and document their limitations, and
policy 2.1 requires vendors to be questioned on bias mitigation.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.tools.kinds import ADAPTERS, AdapterConfig
from harness.yamlio import read_yaml_mapping, validate

UNION_TAGS = {"adapter": frozenset(ADAPTERS)}
"""The tags a problem's path may carry after `adapter` (the table's kinds), for the error locator."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Disclosure(_Strict):
    model_type: str = Field(min_length=1)
    training_data_source: str = Field(min_length=1)
    data_access_basis: str = Field(min_length=1)
    known_limitations: str = Field(min_length=1)
    bias_mitigation: str = Field(min_length=1)


class Claims(_Strict):
    """Performance figures the vendor states for the tool (`claims:` in tool.yaml), each a share in [0, 1].
    The performance suite measures each on the reference data with its interval: a claim the interval lies
    wholly below FAILs (policy 4.2), so a vendor's marketing number becomes a checked statement."""

    accuracy: float | None = Field(None, ge=0, le=1)
    balanced_accuracy: float | None = Field(None, ge=0, le=1)
    auc: float | None = Field(None, ge=0, le=1)
    recall: float | None = Field(None, ge=0, le=1, description="true-positive rate")
    specificity: float | None = Field(None, ge=0, le=1, description="true-negative rate")
    precision: float | None = Field(None, ge=0, le=1)


class ToolManifest(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="lower-case slug, used as the MLflow name")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    department: str = Field(min_length=1)
    category: Literal["predictive", "generative", "decision-support"]
    status: Literal["proposed", "pilot", "in-use", "development", "retired"]
    risk_tier: Literal["high", "medium", "low"]
    intended_use: str = Field(min_length=1)
    automation_level: str = Field(min_length=1)
    human_oversight: str = Field(min_length=1)
    disclosure: Disclosure
    adapter: AdapterConfig  # one config per kind in the adapter table (`harness.tools.kinds`)
    claims: Claims | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, v: object) -> object:
        # `version: 1.0` in YAML is a float; keep what the user wrote as text
        return str(v) if isinstance(v, int | float) else v

    def identity(self) -> dict[str, str]:
        """Which tool version an answer is evidence about: its id, its version and the sha256 of the manifest's
        content (canonical JSON of the validated manifest; the manifest object carries no file path, and the
        same tool.yaml in another folder is the same tool). An endpoint's cache keys its answers by it."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return {"tool": self.id, "version": self.version,
                "manifest_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}

    def resolve(self, relative: str) -> Path:
        """Paths in the manifest are relative to the manifest's folder."""
        p = Path(relative)
        return p if p.is_absolute() else self.base_dir / p


def load_manifest(path: str | Path) -> ToolManifest:
    p = Path(path)
    data, text = read_yaml_mapping(p, "tool manifest")
    data = dict(data)
    data.pop("base_dir", None)
    manifest = validate(ToolManifest, data, text, f"tool manifest {p}", tags=UNION_TAGS)
    return manifest.model_copy(update={"base_dir": p.resolve().parent})
