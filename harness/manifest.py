"""`tool.yaml`: what a vendor or analyst declares about a tool (DESIGN.md "Files users write").

The disclosure block is required in full: the policy's transparency clause says systems "should
disclose model type, training source, and legal access to data" and document their limitations, and
policy 2.1 requires vendors to be questioned on bias mitigation.

The impact questionnaire (`impact:`, issue 16) states the facts the tier follows from: what the tool decides,
for how many people, whether a person reviews each output, whether it can be contested and which data it uses.
The policy maps the answers to a minimum tier (`harness.tiering`); the vocabularies here are closed, so an
answer the mapping does not know is refused with its line rather than read as harmless.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

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


Decides = Literal["benefits", "housing", "employment", "policing", "health", "education", "child-welfare",
                  "enforcement", "licensing", "resource-allocation", "public-information", "internal-operations"]
"""What a tool decides or recommends (`impact.decides`): the areas the policy's tier mapping names
(`settings.tiers.decides`). `policing` covers every decision touching liberty (policing, detention, probation,
courts); `enforcement` sanctions (fines, code enforcement); `child-welfare` investigations and placements."""

DataType = Literal["pii", "health", "criminal-history", "financial", "children", "biometric", "location",
                   "protected-attributes", "public"]
"""Which data a tool uses (`impact.data`, policy 1.2): `pii` any data about an identifiable person,
`protected-attributes` race, sex, age, disability and the like, `public` only published or aggregate data about
no one in particular."""

DECIDES: tuple[str, ...] = Decides.__args__  # type: ignore[attr-defined]
DATA_TYPES: tuple[str, ...] = DataType.__args__  # type: ignore[attr-defined]


class Impact(_Strict):
    """The impact questionnaire: facts, from which the policy sets the minimum risk tier (harness.tiering).
    Every field is required: an omitted answer is a problem with its line, never a default."""

    decides: list[Decides] = Field(min_length=1, description="what the tool decides or recommends")
    affected: str = Field(min_length=1, max_length=300, description="who is affected, in a sentence")
    people_per_year: int = Field(ge=0, strict=True, description="roughly how many people a year; 0: nobody")
    human_review: bool = Field(strict=True, description="a person reviews every output before it takes effect")
    contestable: bool = Field(strict=True, description="residents can contest a decision the tool informs")
    data: list[DataType] = Field(min_length=1, description="the data types the tool uses")


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
    impact: Impact | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, v: object) -> object:
        # `version: 1.0` in YAML is a float; keep what the user wrote as text
        return str(v) if isinstance(v, int | float) else v

    @model_serializer(mode="wrap")
    def _no_empty_impact(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """A manifest without the questionnaire dumps as before it existed, so its assessment.json, its identity
        and an endpoint's cache keyed by it stay the same (DESIGN.md: the same inputs, the same result)."""
        out: dict[str, object] = handler(self)
        if out.get("impact", 0) is None:
            del out["impact"]
        return out

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
