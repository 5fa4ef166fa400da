"""DTI's assessment standards as data (policy 4.2: "DTI ... will define data quality and bias
assessment standards for the approval of tools").

Thresholds are validated when the policy is built, serialised into every assessment and logged with a
digest, so an approval always names the exact standard it was judged against.
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from harness.findings import Finding, Severity, Status
from harness.yamlio import read_yaml_mapping, safe_yaml, validate

RiskTier = Literal["high", "medium", "low"]
DEFAULT_REASSESSMENT_DAYS: dict[RiskTier, int] = {"high": 90, "medium": 180, "low": 365}  # policy 4.3
TIERS: tuple[str, ...] = ("high", "medium", "low")
DecisionRule = Literal["significant_violation", "interval_beyond", "point"]


class Threshold(BaseModel):
    """A limit on one metric, like MLflow's `MetricThreshold`: a value, a direction, a severity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: float
    greater_is_better: bool
    severity: Severity = Severity.BLOCKING
    # the only mode: a limit relative to the approved baseline is the degradation suite's regression check
    mode: Literal["absolute"] = "absolute"
    by_tier: dict[RiskTier, float] = Field(default_factory=dict)
    severity_by_tier: dict[RiskTier, Severity] = Field(default_factory=dict)
    policy_section: str
    benchmark: str = ""
    description: str = ""

    def limit_for(self, tier: str) -> float:
        return self.by_tier.get(tier, self.limit)  # type: ignore[call-overload]

    def severity_for(self, tier: str) -> Severity:
        return self.severity_by_tier.get(tier, self.severity)  # type: ignore[call-overload]

    def passes(self, value: float, tier: str) -> bool:
        limit = self.limit_for(tier)
        return value >= limit if self.greater_is_better else value <= limit


class Policy(BaseModel):
    """The whole standard. Keys of `thresholds` are `<suite>.<check>.<metric>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    min_group_size: int = Field(30, ge=1)
    confidence_level: float = Field(0.95, gt=0.5, lt=1.0)
    bootstrap_samples: int = Field(2000, ge=100)
    seed: int = 0
    reassessment_days: dict[RiskTier, int] = Field(default_factory=lambda: dict(DEFAULT_REASSESSMENT_DAYS))
    required_suites: dict[str, list[str]] = Field(default_factory=dict)
    reference_rule: Literal["largest", "most_favourable"] = "largest"  # when the card names no reference
    # when a blocking limit violation is a FAIL (harness.decision): shown real by a test, Holm-adjusted across
    # the run (default); only when a multiplicity-adjusted interval lies wholly beyond the limit; or on the
    # point estimate alone (the first release's rule, kept for comparison only)
    decision_rule: DecisionRule = "significant_violation"
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per suite, e.g. bias.consistency_rows
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    citations: dict[str, str] = Field(default_factory=dict)

    @field_validator("settings")
    @classmethod
    def _notices_valid_and_allowed(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """`settings.notify` is checked when the policy is loaded, webhooks against this policy's own allow-list
        (harness.notify.settings): a policy that would send notices to a host the City has not approved is never in
        force. Imported only when the section is there, so loading a policy without it stays light."""
        if "notify" in v:
            from harness.notify.settings import notify_problems

            problems = notify_problems(v)
            if problems:
                raise PydanticCustomError("notify", "{problems}", {"problems": "; ".join(problems)})
        return v

    @model_validator(mode="after")
    def _keys_are_metric_paths(self) -> Policy:
        bad = [k for k in self.thresholds if k.count(".") != 2]
        if bad:
            raise ValueError(f"threshold keys must be <suite>.<check>.<metric>, got {bad}")
        return self

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON form: two policies with the same rules share a digest."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version} sha256:{self.digest[:12]}"

    def setting(self, suite: str, name: str, default: Any) -> Any:
        return self.settings.get(suite, {}).get(name, default)

    def threshold(self, suite: str, check: str, metric: str) -> Threshold | None:
        return self.thresholds.get(f"{suite}.{check}.{metric}")

    def evaluate(self, m: Any, tier: str, *, message: str, dataset: str | None = None) -> Finding | None:
        """Judge one measurement against its limit, before the run-level decision rule.

        PASS only when the whole confidence interval lies on the passing side; FAIL (provisional) when the
        point estimate violates the limit; REVIEW when the point passes but the interval crosses it.
        `harness.decision.apply_decision_rule` then keeps a blocking FAIL only when the violation is shown
        to be real under `decision_rule`. Returns None when the policy sets no threshold for the measurement.
        """
        t = self.threshold(m.suite, m.check, m.metric)
        if t is None:
            return None
        limit = t.limit_for(tier)
        if m.value is None or m.value != m.value:  # NaN: the metric is undefined for this data
            status = Status.INSUFFICIENT
        elif not t.passes(m.value, tier):
            status = Status.FAIL
        elif m.ci_low is None or m.ci_high is None or (t.passes(m.ci_low, tier) and t.passes(m.ci_high, tier)):
            status = Status.PASS
        else:
            status = Status.REVIEW
        return Finding(
            suite=m.suite, check=m.check, metric=m.metric, status=status, message=message,
            severity=t.severity_for(tier), value=m.value, ci_low=m.ci_low, ci_high=m.ci_high,
            threshold=limit, greater_is_better=t.greater_is_better, group=m.group,
            reference=m.reference, n=m.n, policy_section=t.policy_section, benchmark=t.benchmark,
            dataset=dataset, details=dict(m.details), judged_by_policy=True,
        )


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy YAML, or the default policy shipped with the harness when `path` is None."""
    if path is None:
        text = resources.files("harness.policies").joinpath("default.yaml").read_text()
        return validate(Policy, safe_yaml(text), text, "the default policy")
    p = Path(path)
    data, text = read_yaml_mapping(p, "policy file")
    return validate(Policy, data, text, f"policy file {p}")


SINGLE_USER_WEAKENING = ("one analyst's embedded store, with no MLflow server to confirm identities: approvals of "
                         "high-risk tools rest on a typed name and one signature")


def single_user_policy_text() -> str:
    """The packaged policy for an installation without the City's tracking server (the demo, a test store, one
    analyst's laptop): the same thresholds, but high-risk approvals need neither a server-confirmed identity
    nor a second signature, since no server can confirm anyone. Adopting it is a recorded weakening
    (`harness policy adopt ... --acknowledge-weakening`), so every record made under it says so."""
    text = resources.files("harness.policies").joinpath("default.yaml").read_text()
    out = text
    for old, new in (("    authenticated_approval: [high]\n", "    authenticated_approval: []\n"),
                     ("      high: [dti, department]\n", "      high: [dti]\n")):
        if out.count(old) != 1:  # pragma: no cover - the packaged file changed shape
            raise RuntimeError(f"the packaged policy no longer has exactly one line {old.strip()!r}")
        out = out.replace(old, new)
    head = f"name: {load_policy().name}\nversion: \"{load_policy().version}\"\n"
    if head not in out:  # pragma: no cover
        raise RuntimeError("the packaged policy's name and version lines changed shape")
    return out.replace(head, head.replace('"\n', '-single-user"\n'))
