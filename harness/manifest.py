"""`tool.yaml`: what a vendor or analyst declares about a tool (DESIGN.md "Files users write").

The disclosure block is required in full: the policy's transparency clause says systems "should
disclose model type, training source, and legal access to data" and document their limitations, and
policy 2.1 requires vendors to be questioned on bias mitigation.

The `records:` block holds what policy 1.2 asks departments to keep (what data is collected, how it is used and
why, a privacy impact assessment where one was done), the retention period (3.2), a department contact, and
whether the tool serves the public and where that use is disclosed (2.4). It is optional, so older manifests
still load. Extension fields, keys starting with `x-` at the top level or inside `records:`, are kept and
exported but never interpreted: they are held apart from the real fields (`ToolManifest.extensions`), so
`x-risk_tier` is never `risk_tier`. Any other unknown key is refused with its line, as before.

The impact questionnaire (`impact:`, issue 16) states the facts the tier follows from: what the tool decides,
for how many people, whether a person reviews each output, whether it can be contested and which data it uses.
The policy maps the answers to a minimum tier (`harness.tiering`); the vocabularies here are closed, so an
answer the mapping does not know is refused with its line rather than read as harmless.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from harness.tools.kinds import ADAPTERS, AdapterConfig
from harness.yamlio import read_yaml_mapping, validate

UNION_TAGS = {"adapter": frozenset(ADAPTERS)}
"""The tags a problem's path may carry after `adapter` (the table's kinds), for the error locator."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EXTENSION_PREFIX = "x-"
EXTENSIONS = "x-"
"""The one key the extension fields are gathered under while validating (a key starting with `x-` itself, so a
manifest that writes it is gathered with the others and can never set the field directly)."""


class _Extensible(_Strict):
    """A strict block that also keeps `x-` keys, uninterpreted, in `extensions` (and writes them back at their
    own level when dumped, so a record of the manifest round-trips). Unknown keys without the prefix are still
    `extra_forbidden`, which `harness.yamlio` reports with their line."""

    extensions: dict[str, Any] = Field(default_factory=dict, alias="x-")  # EXTENSIONS

    @model_validator(mode="before")
    @classmethod
    def _gather_extensions(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kept = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
        kept[EXTENSIONS] = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith(EXTENSION_PREFIX)}
        return kept

    @model_serializer(mode="wrap")
    def _spread_extensions(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = dict(handler(self))
        extensions = out.pop("extensions", None) or out.pop(EXTENSIONS, None) or {}
        return {**out, **extensions}


_MAILBOX = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


class Contact(_Strict):
    """Who in the department answers for the tool: a role and its mailbox (a team or role address such as
    ai-housing@cabq.gov), never a person's own details; the register publishes only a City mailbox."""

    role: str = Field(min_length=1, description="a role or team, e.g. 'Housing AI program lead'")
    email: str = Field(pattern=_MAILBOX.pattern, description="the role's mailbox")


class Records(_Extensible):
    """What policy 1.2 (data collected, how it is used and why; privacy impact assessments), 3.2 (retention) and
    2.4 (disclosure of AI in public-facing services) ask a department to keep about a tool."""

    data_collected: list[str] = Field(min_length=1, description="each kind of data the tool collects or uses")
    purpose: str = Field(min_length=1, description="how the data is used and why")
    retention: str = Field(min_length=1, description="retention period and the schedule it follows (3.2)")
    privacy_impact_assessment: str | None = Field(
        None, min_length=1, description="reference of the privacy impact assessment, where one was done (1.2)")
    contact: Contact
    public_facing: bool
    public_disclosure: str | None = Field(
        None, min_length=1, description="where the AI use is disclosed to the public (2.4): a page or notice")

    @field_validator("data_collected", mode="before")
    @classmethod
    def _one_kind_as_list(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _disclosed_when_public(self) -> Records:
        if self.public_facing and not self.public_disclosure:
            raise ValueError("a public-facing tool must say where its AI use is disclosed to the public "
                             "(public_disclosure: a page or notice; policy 2.4)")
        return self


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


class ToolManifest(_Extensible):
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
    records: Records | None = None
    impact: Impact | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, v: object) -> object:
        # `version: 1.0` in YAML is a float; keep what the user wrote as text
        return str(v) if isinstance(v, int | float) else v

    @model_serializer(mode="wrap")
    def _spread_extensions(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A manifest without `records:` or without the questionnaire dumps as it did before the block existed, so
        its assessment.json, its identity and an endpoint's cache keyed by it stay the same (DESIGN.md: the same
        inputs, the same result)."""
        out = super()._spread_extensions(handler)
        for block in ("records", "impact"):
            if out.get(block, ...) is None:
                del out[block]
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


def load_records(path: str | Path) -> Records:
    """A `records:` block on its own (the mapping, not under a `records:` key), for a tool entered in the inventory
    before it has a manifest (`harness inventory add --records FILE`); problems are listed with their lines."""
    p = Path(path)
    data, text = read_yaml_mapping(p, "records file")
    return validate(Records, data, text, f"records file {p}")
