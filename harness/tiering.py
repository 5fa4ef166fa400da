"""The minimum risk tier a tool's impact answers set (issue 16, "Tiers from facts").

A tier chosen by the vendor decides which limits the tool is held to and how often it is re-assessed (policy
4.3), so it cannot rest on the vendor's word alone: the manifest's impact questionnaire (`impact:`,
`harness.manifest.Impact`) states facts, and the policy (`settings.tiers`, `TierSettings`) maps each fact to a
minimum tier, proportionate to what the tool decides (6.4), the data it uses (1.2), whether a person reviews
every output and whether residents can contest (2.3), and how many people it reaches (4.3). The minimum is the
highest tier any answer sets; a declared `risk_tier` below it is refused, naming the answers that set it.

`require_tier` is the one rule; every command that accepts a tool version for assessment applies it with the
policy that will judge the tool: `harness submit` and `harness assess` / `reassess` (the in-force policy),
`harness check` (the dry run) and `harness plan` (on the answers recorded with the version).

A manifest without the questionnaire must declare at least `settings.tiers.unanswered` (default high: nothing
can then be under-declared). A version recorded before questionnaires existed keeps its declared tier, so an
existing store stays readable and re-assessable; its report says the tier was declared, not derived.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.errors import ConfigError
from harness.manifest import DATA_TYPES, DECIDES

if TYPE_CHECKING:
    from harness.manifest import ToolManifest
    from harness.policy import Policy

Tier = Literal["high", "medium", "low"]
RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}

DEFAULT_DECIDES: dict[str, Tier] = {
    # access to benefits, housing, employment, liberty, care and schooling: high (6.4, 4.3)
    "benefits": "high", "housing": "high", "employment": "high", "policing": "high", "health": "high",
    "education": "high", "child-welfare": "high", "enforcement": "high",
    "licensing": "medium", "resource-allocation": "medium", "public-information": "medium",
    "internal-operations": "low"}
DEFAULT_DATA: dict[str, Tier] = {
    # sensitive data types trigger additional review (1.2); the Safety clause names HR, health and other PII
    "pii": "medium", "health": "medium", "criminal-history": "medium", "financial": "medium", "children": "medium",
    "biometric": "medium", "location": "medium", "protected-attributes": "medium", "public": "low"}
DEFAULT_PEOPLE: dict[Tier, int] = {"medium": 10_000}
SECTIONS = {"decides": "6.4, 4.3", "data": "1.2", "unreviewed": "2.3", "uncontestable": "2.3",
            "people_per_year": "4.3", "unanswered": "6.4"}


def _complete(given: dict[str, Tier], default: dict[str, Tier], vocabulary: tuple[str, ...], what: str
              ) -> dict[str, Tier]:
    unknown = sorted(set(given) - set(vocabulary))
    if unknown:
        raise ValueError(f"{what} names {unknown}, not in the questionnaire's vocabulary {list(vocabulary)}")
    return {**default, **given}


class TierSettings(BaseModel):
    """`settings.tiers`: answers -> minimum tier. A mapping left out keeps the packaged default, so a policy can
    never leave an answer unmapped (fail closed); a key outside the vocabulary is refused with its line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unanswered: Tier = "high"  # a manifest without `impact:` must declare at least this
    decides: dict[str, Tier] = Field(default_factory=lambda: dict(DEFAULT_DECIDES))
    data: dict[str, Tier] = Field(default_factory=lambda: dict(DEFAULT_DATA))
    unreviewed: Tier = "medium"  # not every output reviewed by a person before it takes effect (2.3)
    uncontestable: Tier = "medium"  # people affected cannot contest a decision (2.3)
    people_per_year: dict[Tier, int] = Field(default_factory=lambda: dict(DEFAULT_PEOPLE))  # at least N: tier

    @field_validator("decides")
    @classmethod
    def _decides(cls, v: dict[str, Tier]) -> dict[str, Tier]:
        return _complete(v, DEFAULT_DECIDES, DECIDES, "decides")

    @field_validator("data")
    @classmethod
    def _data(cls, v: dict[str, Tier]) -> dict[str, Tier]:
        return _complete(v, DEFAULT_DATA, DATA_TYPES, "data")

    @field_validator("people_per_year")
    @classmethod
    def _people(cls, v: dict[Tier, int]) -> dict[Tier, int]:
        if any(n < 0 for n in v.values()):
            raise ValueError("people_per_year counts must be 0 or more")
        return v


def tier_settings(policy: Policy | Mapping[str, Any] | None) -> TierSettings:
    """The policy's `settings.tiers` (the packaged defaults when the section is absent). Takes a policy or its
    JSON form (`assessment.json`'s policy document)."""
    if policy is None:
        return TierSettings()
    settings = policy.get("settings") if isinstance(policy, Mapping) else policy.settings
    return TierSettings.model_validate(dict((settings or {}).get("tiers") or {}))


@dataclass(frozen=True)
class Floor:
    """What the answers set: the declared tier, the minimum and the reasons (each answer that set a tier above
    low, with the policy sections). `answered` is False for a manifest without the questionnaire."""

    declared: str
    minimum: str
    reasons: tuple[str, ...]
    answered: bool

    @property
    def below(self) -> bool:
        return RANK.get(self.declared, -1) < RANK[self.minimum]

    def as_dict(self) -> dict[str, Any]:
        """The computed tier as `assessment.json` and the decision log keep it."""
        return {"declared": self.declared, "minimum": self.minimum, "reasons": list(self.reasons),
                "answered": self.answered}


def _highest(tiers: list[str]) -> str:
    return max(tiers, key=RANK.__getitem__, default="low")


def floor_of(impact: Mapping[str, Any] | None, declared: str, settings: TierSettings) -> Floor:
    """The minimum tier the answers set under `settings` (the highest any answer sets), with its reasons."""
    if impact is None:
        return Floor(declared, settings.unanswered, (
            f"no impact questionnaire: at least {settings.unanswered} (policy {SECTIONS['unanswered']})",), False)
    found: list[tuple[str, str]] = []
    for d in impact.get("decides") or []:
        found.append((settings.decides.get(d, "high"), f"decides {d}: {{t}} (policy {SECTIONS['decides']})"))
    for d in impact.get("data") or []:
        found.append((settings.data.get(d, "high"), f"uses {d} data: {{t}} (policy {SECTIONS['data']})"))
    people = int(impact.get("people_per_year") or 0)
    if people > 0 and impact.get("human_review") is not True:
        found.append((settings.unreviewed, "no person reviews every output before it takes effect: {t} "
                                           f"(policy {SECTIONS['unreviewed']})"))
    if people > 0 and impact.get("contestable") is not True:
        found.append((settings.uncontestable, "people affected cannot contest a decision: {t} "
                                              f"(policy {SECTIONS['uncontestable']})"))
    for tier, at_least in settings.people_per_year.items():
        if people >= at_least:
            found.append((tier, f"{people:,} people a year (at least {at_least:,}): {{t}} "
                                f"(policy {SECTIONS['people_per_year']})"))
    minimum = _highest([t for t, _ in found])
    # the reasons are the answers that set the minimum, strongest first; those below it are not why
    reasons = tuple(r.format(t=t) for t, r in found if t == minimum and RANK[t] > 0)
    return Floor(declared, minimum, reasons, True)


def floor(manifest: ToolManifest | Mapping[str, Any], policy: Policy | Mapping[str, Any] | None) -> Floor:
    """`floor_of` for a manifest (a `ToolManifest`, or its JSON form: assessment.json's tool block, a record)."""
    m = manifest if isinstance(manifest, Mapping) else manifest.model_dump(mode="json")
    impact = m.get("impact")
    return floor_of(impact if isinstance(impact, Mapping) else None, str(m.get("risk_tier", "")),
                    tier_settings(policy))


def require_tier(manifest: ToolManifest | Mapping[str, Any], policy: Policy | None, source: str, *,
                 recorded: bool | Callable[[], bool] = False) -> Floor:
    """Refuse (ConfigError, exit 2: one line naming the answers that set the minimum) a declared tier below the
    minimum. `recorded` (or a callable asking the store, only when needed) says the version is already in the
    decision log: then a missing questionnaire keeps the declared tier, as that version was accepted before
    questionnaires existed and its manifest is bound by digest (an existing store stays re-assessable)."""
    f = floor(manifest, policy)
    if not f.below:
        return f
    if not f.answered and (recorded() if callable(recorded) else recorded):
        return f
    if not f.answered:
        raise ConfigError(f"{source}: risk_tier {f.declared} without an impact questionnaire; the policy requires "
                          f"`impact:` for a tier below {f.minimum} (settings.tiers.unanswered, policy "
                          f"{SECTIONS['unanswered']}): answer it, or declare risk_tier: {f.minimum}")
    raise ConfigError(f"{source}: risk_tier {f.declared} is below the minimum tier {f.minimum} its impact answers "
                      f"set ({'; '.join(f.reasons)}): declare risk_tier: {f.minimum}")


def tier_text(tool: Mapping[str, Any]) -> str:
    """How the report, the memo and the register explain a tool's tier, from assessment.json's tool block (or a
    record holding the same `tier` and `impact`): the computed minimum and the answers that set it, or that the
    tier was declared without facts (a manifest, or a recorded run, from before the questionnaire)."""
    declared = str(tool.get("risk_tier") or "unknown")
    t = tool.get("tier")
    if not isinstance(t, Mapping) or not t.get("answered"):
        return (f"{declared}, as declared: the manifest has no impact questionnaire, so the tier was not derived "
                "from facts (policy 6.4)")
    reasons = [str(r) for r in t.get("reasons") or []]
    because = "; ".join(reasons) if reasons else "no answer sets a tier above low"
    return f"{declared}; the impact answers set at least {t.get('minimum')}: {because}"


def weaker_tiers(before: Policy, after: Policy) -> list[str]:
    """Each mapping whose minimum tier `after` lowers (or a head-count a tier starts at that it raises): a
    weakening, since tools answering the same facts would be held to less (harness.gate.policies)."""
    a, b = tier_settings(before), tier_settings(after)
    out: list[str] = []

    def lower(what: str, old: str, new: str) -> None:
        if RANK[new] < RANK[old]:
            out.append(f"settings.tiers.{what} lowered from {old} to {new}")

    for key in ("unanswered", "unreviewed", "uncontestable"):
        lower(key, getattr(a, key), getattr(b, key))
    for section in ("decides", "data"):
        old_map, new_map = getattr(a, section), getattr(b, section)
        for k in old_map:
            lower(f"{section}.{k}", old_map[k], new_map[k])
    for tier, n in a.people_per_year.items():  # n people a year set `tier` before: do they still, or more?
        if not any(RANK[t] >= RANK[tier] and m <= n for t, m in b.people_per_year.items()):
            m = b.people_per_year.get(tier)
            out.append(f"settings.tiers.people_per_year.{tier}: {n:,} people a year no longer set {tier} "
                       f"({'no count does' if m is None else f'it now takes {m:,}'})")
    return out


__all__ = ["Floor", "TierSettings", "floor", "floor_of", "require_tier", "tier_settings", "tier_text",
           "weaker_tiers"]
