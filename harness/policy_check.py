"""The policy file, held to what is installed (issue 10: "The policy file is fail-closed too").

A policy is data an analyst edits by hand, and two slips in it pass every schema check and still change
verdicts silently: a misspelt setting (`settings.bias.consistency_row`) is ignored and the default used,
and a misspelt threshold key (`bias.four_fifth.adverse_impact_ratio`) is never applied, so the check it was
meant to block on judges nothing. Here each suite's `settings.<suite>` is validated by the model the suite
declares (`Suite.settings_model`, extra keys forbidden), the harness's own sections (`endpoints`, `gate`,
`notify`, `register`, `sandbox`, `tiers`) by theirs, and every threshold key is matched against what an installed suite
declares it produces (`Suite.produces`). `require_valid_settings` stops an assessment on a settings problem (exit 2)
with the key's line in the file; `harness policy check` (harness.cli.policy) reports every problem, thresholds too.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.check import declared
from harness.errors import ConfigError
from harness.gate.records import DEFAULT_MAX_WAIVER_DAYS, DEFAULT_OVERDUE_GRACE_DAYS
from harness.gate.roles import DEFAULT_AUTHENTICATED, DEFAULT_MAY, DEFAULT_SIGNOFF
from harness.notify.settings import NotifySettings
from harness.tiering import TierSettings
from harness.tools.endpoint import EndpointSettings
from harness.yamlio import line_index

if TYPE_CHECKING:
    from harness.check import Suite
    from harness.policy import Policy


class GateSettings(BaseModel):
    """`settings.gate`: the approval gate (harness.gate)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_waiver_days: int = Field(DEFAULT_MAX_WAIVER_DAYS, ge=1, strict=True)
    overdue_grace_days: int = Field(DEFAULT_OVERDUE_GRACE_DAYS, ge=0, strict=True)
    # who is who (harness.gate.roles): role -> user names; action -> roles; tier -> roles that sign; tiers that
    # need a server-confirmed identity to approve
    roles: dict[str, list[str]] = Field(default_factory=dict)
    may: dict[Literal["submit", "assess", "approve", "waive", "reject", "suspend", "retire", "adopt", "plan"],
              list[str]] = (
        Field(default_factory=lambda: dict(DEFAULT_MAY)))
    signoff: dict[Literal["high", "medium", "low"], list[str]] = Field(default_factory=lambda: dict(DEFAULT_SIGNOFF))
    authenticated_approval: list[Literal["high", "medium", "low"]] = Field(
        default_factory=lambda: list(DEFAULT_AUTHENTICATED))

    @model_validator(mode="after")
    def _signoff_roles_exist(self) -> GateSettings:
        """A sign-off naming a role nobody can hold could never complete: with roles set, each must exist."""
        if self.roles:
            unknown = sorted({r for rs in self.signoff.values() for r in rs} - set(self.roles))
            if unknown:
                raise ValueError(f"signoff names role(s) {unknown} that settings.gate.roles does not define")
        return self


class SandboxSettings(BaseModel):
    """`settings.sandbox`: what vendor code may do (harness.sandbox, harness.tools.skops_trust; policy 1.3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trusted_types: list[str] = Field(default_factory=list)
    allow_subprocess_fallback: bool = False
    max_memory_mb: int = Field(8192, ge=256, strict=True)
    max_timeout_s: float = Field(600, gt=0)


class RegisterSettings(BaseModel):
    """`settings.register`: the public transparency register (harness.workflows.transparency)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback_url: str | None = None
    min_cell: int = Field(10, ge=1, strict=True)  # harness.workflows.transparency.DEFAULT_MIN_CELL
    # the mail domains whose addresses the register publishes as a tool's contact (records.contact.email); any
    # other address is left out: a contact is a City role mailbox, never a person's own (policy 1.2, 6.7)
    contact_domains: list[str] = Field(default_factory=lambda: ["cabq.gov"])  # transparency.CONTACT_DOMAINS


HARNESS_SECTIONS: dict[str, type[BaseModel]] = {"endpoints": EndpointSettings, "gate": GateSettings,
                                                "notify": NotifySettings, "register": RegisterSettings,
                                                "sandbox": SandboxSettings, "tiers": TierSettings}
"""Sections of `settings:` the harness itself reads; every other key must name an installed suite."""


@dataclass(frozen=True)
class PolicyProblem:
    """One problem of a policy file: what kind (setting, threshold, suite), where (the dotted key), the line
    of that key in the file (None when unknown) and what is wrong, in words."""

    kind: str
    where: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.where} {self.message}"


def policy_text(path: str | Path | None) -> tuple[str, str]:
    """The policy's YAML text and how to name it in a message: the file, or the shipped default policy."""
    if path is None:
        return resources.files("harness.policies").joinpath("default.yaml").read_text(), "the default policy"
    p = Path(path)
    return p.read_text(), f"policy file {p}"


def _nearest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _line(index: dict[tuple[str, ...], int], *path: str) -> int | None:
    for cut in range(len(path), 0, -1):
        if path[:cut] in index:
            return index[path[:cut]]
    return None


def _section_problems(section: str, values: Any, model: type[BaseModel], owner: str,
                      index: dict[tuple[str, ...], int]) -> list[PolicyProblem]:
    try:
        model.model_validate(values)
    except ValidationError as e:
        out = []
        fields = list(model.model_fields)
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            where = ".".join(["settings", section, *loc])
            line = _line(index, "settings", section, *loc)
            if err["type"] == "extra_forbidden" and len(loc) == 1:
                listed = ", ".join(fields) if fields else "none"
                msg = f"is not a setting of {owner}{_nearest(loc[0], fields)}; its settings are: {listed}"
            elif err["type"] == "extra_forbidden":
                msg = "is not a known field (check the spelling)"
            else:
                given = err.get("input")
                shown = f" = {given!r}" if not isinstance(given, dict | list) else ""
                msg = f"{shown} is not valid: {err['msg'].removeprefix('Value error, ')}".lstrip()
            out.append(PolicyProblem("setting", where, line, msg))
        return out
    return []


def settings_problems(policy: Policy, suites: dict[str, type[Suite]],
                      index: dict[tuple[str, ...], int] | None = None) -> list[PolicyProblem]:
    """Every key of `settings:` checked: an installed suite's section against its settings model, `gate` and
    `register` against the harness's, anything else is an unknown section."""
    index = index or {}
    out: list[PolicyProblem] = []
    known = [*suites, *HARNESS_SECTIONS]
    for section, values in policy.settings.items():
        line = _line(index, "settings", section)
        if section in HARNESS_SECTIONS:
            out += _section_problems(section, values, HARNESS_SECTIONS[section], f"the harness's {section!r} section",
                                     index)
        elif section in suites:
            model = getattr(suites[section], "settings_model", None)
            if model is None:
                if values:
                    out.append(PolicyProblem("setting", f"settings.{section}", line,
                                             f"is given, but suite {section!r} takes no settings (it declares no "
                                             f"settings_model)"))
                continue
            out += _section_problems(section, values, model, f"suite {section!r}", index)
        else:
            out.append(PolicyProblem("setting", f"settings.{section}", line,
                                     f"is not an installed suite{_nearest(section, known)}; settings may name the "
                                     f"installed suites ({', '.join(suites) or 'none'}) and the harness's own "
                                     f"sections ({', '.join(HARNESS_SECTIONS)})"))
    return out


def threshold_problems(policy: Policy, suites: dict[str, type[Suite]],
                       index: dict[tuple[str, ...], int] | None = None) -> list[PolicyProblem]:
    """Thresholds that no installed suite produces: an unknown suite, a suite that does not say what it
    measures, or a `<check>.<metric>` the suite does not declare (a misspelling, or a metric it dropped)."""
    index = index or {}
    out: list[PolicyProblem] = []
    for key in policy.thresholds:
        suite, rest = key.split(".", 1)
        where, line = f"thresholds.{key}", _line(index, "thresholds", key)
        cls = suites.get(suite)
        if cls is None:
            out.append(PolicyProblem("threshold", where, line,
                                     f"names suite {suite!r}, which is not installed{_nearest(suite, list(suites))}; "
                                     f"installed: {', '.join(suites) or 'none'}"))
            continue
        produces = getattr(cls, "produces", None)
        if produces is None:
            out.append(PolicyProblem("threshold", where, line,
                                     f"cannot be matched: suite {suite!r} does not declare what it produces "
                                     f"(Suite.produces)"))
        elif not declared(produces, rest):
            exact = sorted(p for p in produces if not any(ch in p for ch in "*?["))
            out.append(PolicyProblem("threshold", where, line,
                                     f"is produced by no installed suite: suite {suite!r} does not measure "
                                     f"{rest!r}{_nearest(rest, exact)}"))
    return out


def required_problems(policy: Policy, suites: dict[str, type[Suite]],
                      index: dict[tuple[str, ...], int] | None = None) -> list[PolicyProblem]:
    """Required suites that are not installed: every assessment of that category would stop."""
    index = index or {}
    out = []
    for category, names in policy.required_suites.items():
        for i, name in enumerate(names):
            if name not in suites:
                out.append(PolicyProblem("suite", f"required_suites.{category}", _line(index, "required_suites",
                                                                                        category, str(i)),
                                         f"names suite {name!r}, which is not installed"
                                         f"{_nearest(name, list(suites))}; installed: {', '.join(suites) or 'none'}"))
    return out


def check_policy(policy: Policy, suites: dict[str, type[Suite]], text: str | None = None) -> list[PolicyProblem]:
    """Every problem of the policy against the installed suites, each with its line when `text` (the YAML the
    policy was read from) is given: settings, thresholds no suite produces, required suites not installed."""
    index = line_index(text) if text else {}
    return [*settings_problems(policy, suites, index), *required_problems(policy, suites, index),
            *threshold_problems(policy, suites, index)]


def describe(problems: list[PolicyProblem], source: str) -> str:
    """One line per problem: 'policy file p.yaml, line 41: settings.bias.consistency_row is not ...'."""
    return "\n".join(f"{source}{f', line {p.line}' if p.line else ''}: {p}" for p in problems)


def require_valid_settings(policy: Policy, path: str | Path | None = None,
                           suites: dict[str, type[Suite]] | None = None) -> None:
    """Stop before anything runs when the policy's settings are wrong, or a threshold names a metric its
    installed suite does not produce (ConfigError, exit 2), naming each unknown or invalid key with its line.
    `path` is the file the policy was loaded from (None: the shipped default policy); `suites` the installed
    suites (default: those registered by entry point)."""
    if suites is None:
        from harness.plugins import load_suites

        suites = load_suites()
    text, source = policy_text(path)
    index = line_index(text)
    # a misspelt threshold of an installed suite would judge nothing and let its check pass silently: refuse it
    # too (fail closed); a threshold for a suite that is not installed is left to `harness policy check`
    typos = [p for p in threshold_problems(policy, suites, index) if p.where.split(".")[1] in suites]
    problems = settings_problems(policy, suites, index) + typos
    if problems:
        raise ConfigError(describe(problems, source))


__all__ = ["HARNESS_SECTIONS", "GateSettings", "PolicyProblem", "RegisterSettings", "check_policy", "describe",
           "policy_text", "require_valid_settings", "required_problems", "settings_problems", "threshold_problems"]
