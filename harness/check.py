"""Checks and suites: the units a plugin is made of (what they produce, `Measurement` and `Finding`, lives
in harness.findings).

A check measures; the policy judges. Keeping the two apart means a new policy can re-judge an old
assessment's measurements without re-running the tool.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from harness.findings import Finding, Measurement, Severity, Status

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pydantic import BaseModel

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.policy import Policy
    from harness.report.sections import ReportContext, Section, SuiteOutcome
    from harness.tools.base import Predictions, Tool


@dataclass
class CheckContext:
    """Everything a check may read. Tool outputs are computed once and shared by every check."""

    dataset: ReferenceDataset
    predictions: Predictions
    policy: Policy
    manifest: ToolManifest
    seed: int
    tool: Tool | None = None  # for checks that call the tool on changed inputs (counterfactuals)
    current: pd.DataFrame | None = None  # a current sample of production data, for drift checks
    baseline: dict[str, float] | None = None  # metrics of the tool's last approved assessment
    baseline_run: str | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    # the outputs are the tool's recorded decisions on a production sample (harness.monitoring), not a call of the
    # tool: checks that must ask the tool new questions were answered on the reference data and are not listed
    recorded: bool = False
    # `current` is a production sample whose outcomes are not known yet (harness.monitoring): nothing shows the tool
    # works on it, so its shift from the reference data is also judged as the approval's question
    # (degradation.population_shift.psi)
    current_unverified: bool = False

    @property
    def tier(self) -> str:
        return self.manifest.risk_tier

    @property
    def frame(self) -> pd.DataFrame:
        return self.dataset.frame

    def limit(self, suite: str, check: str, metric: str) -> float | None:
        """The policy's limit for a metric at this tool's risk tier (None: the policy sets none)."""
        t = self.policy.threshold(suite, check, metric)
        return None if t is None else t.limit_for(self.tier)

    def tool_inputs(self) -> tuple[list[str], bool]:
        """The columns the tool reads (a model's fitted columns), and whether that is known; else the
        card's features, a superset (a file of outputs says nothing about its inputs)."""
        fn = getattr(self.tool, "input_columns", None)
        if callable(fn):
            return list(fn(self.dataset)), True
        return list(self.dataset.card.features), False

    def rng(self, salt: str) -> np.random.Generator:
        """A generator per check, so adding a check never changes another check's numbers."""
        import zlib

        import numpy as np

        return np.random.default_rng([self.seed, zlib.crc32(salt.encode())])


@dataclass
class CheckOutput:
    """What a check returns: measurements for the policy to judge, findings it concludes itself
    (INSUFFICIENT, SKIPPED, messages for thresholded values), and tables for the report."""

    measurements: list[Measurement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)  # measurement key -> plain-language message
    # files for the record, not the report: name -> JSON-able content (e.g. a Great Expectations
    # validation result); written beside the reports and logged to MLflow under artifacts/<suite>/
    artifacts: dict[str, Any] = field(default_factory=dict)


def note(suite: str, check: Check, ctx: CheckContext, metric: str, why: str,
         status: Status = Status.SKIPPED, *, not_applicable: bool = False) -> Finding:
    """A check's own advisory finding for what it could not judge: SKIPPED with the reason, or ERROR.

    A SKIPPED check the policy judges as blocking caps the verdict at NEEDS_REVIEW ("not tested",
    `harness.decision.not_tested`), unless `not_applicable`: the question cannot arise for this tool (a
    model that does not read a protected attribute cannot change its decision when only that attribute
    changes), which is a property of the tool, not a gap in the evidence."""
    return Finding(suite=suite, check=check.name, metric=metric, status=status, severity=Severity.ADVISORY,
                   dataset=ctx.dataset.name, policy_section=check.policy_section, message=why,
                   details={"not_applicable": True} if not_applicable else {})



def cannot_generate(suite: str, check: Check, ctx: CheckContext, metric: str, what: str) -> Finding | None:
    """SKIPPED with the reason when the tool cannot be asked new questions (a vendor's file of answers);
    None when it can. One message for every check that must ask the tool something new."""
    from harness.tools.base import can_generate

    if ctx.tool is not None and can_generate(ctx.tool):
        return None
    kind = getattr(ctx.tool, "kind", None) if ctx.tool is not None else None
    source = f"adapter {kind!r}" if kind else "no tool object"
    return note(suite, check, ctx, metric,
                f"the tool ({source}) cannot be asked new questions, so {what} could not run; it needs an adapter "
                f"that generates answers (an endpoint or a callable), not a file of answers")


def unanswered(suite: str, check: Check, ctx: CheckContext, metric: str, ids: Sequence[str],
               errors: Sequence[str | None], what: str, consequence: str = "they are left out of the rates",
               ) -> Finding | None:
    """ERROR (advisory) naming the first items a generative tool gave no answer to (a timeout, an HTTP
    error, a malformed reply): the rest of the run stands, and the reader sees what is missing from it."""
    bad = [i for i, e in enumerate(errors) if e is not None]
    if not bad:
        return None
    first = ", ".join(str(ids[i]) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
    return note(suite, check, ctx, metric,
                f"the tool gave no answer to {len(bad):,} of {len(ids):,} {what} ({first}; first error: "
                f"{errors[bad[0]]}); {consequence}", status=Status.ERROR)


class Check:
    """Base class. Parameters are keyword-only and stored, like scikit-learn estimators, so a check
    is data that can be logged and re-created."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    policy_section: ClassVar[str] = ""
    data_only: ClassVar[bool] = False
    """True when `run` reads only the data, the policy, the tier and the seed (`ctx.dataset`, `ctx.policy`,
    `ctx.manifest`, `ctx.seed`): never the tool, its predictions, the current sample, the baseline or
    `ctx.cache`. The harness may then start it before the tool is loaded, in a second process
    (`harness.background`), with a context whose `predictions` and `tool` are None."""

    def __init__(self, **params: Any) -> None:
        self.params = params

    def run(self, ctx: CheckContext) -> CheckOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def run_data_checks(checks: Sequence[Check], ctx: CheckContext) -> list[CheckOutput | Exception]:
    """Each data-only check's output, or the exception it raised (kept per check, so one broken check
    becomes its own ERROR finding, as in `harness.assessment.run_suite`). Module-level: the background worker
    imports it by name."""
    outcomes: list[CheckOutput | Exception] = []
    for check in checks:
        try:
            outcomes.append(check.run(ctx))
        except Exception as e:  # handed back to run_suite, which records it
            outcomes.append(e)
    return outcomes


def declared(produces: frozenset[str] | None, name: str) -> bool:
    """True when `name` ("<check>.<metric>", possibly with more dotted parts) is among what a suite declares
    it produces: an entry itself, a name under an entry, or a match of an entry's wildcards."""
    from fnmatch import fnmatchcase

    return any(name == p or name.startswith(p + ".") or fnmatchcase(name, p) for p in produces or ())


def headline_keys(suite: Mapping[str, Any], patterns: Iterable[str]) -> set[str]:
    """The keys of a suite result's (`assessment.json` form) headline measurements: those its `Suite.headline`
    patterns match on `<check>.<metric>[.<group>]` (as `declared` matches `produces`), or, for a suite that names
    none, every measurement one of its findings judges with a value. `harness compare` puts these side by side
    and they are the run's MLflow metrics (`harness.tracking.browse`), so the two never disagree on what matters."""
    import math

    wanted = frozenset(patterns)
    judged = {f["key"] for f in suite.get("findings") or [] if f.get("judged_by_policy", True)
              and isinstance(f.get("value"), int | float) and not isinstance(f.get("value"), bool)
              and math.isfinite(f["value"])}
    out: set[str] = set()
    for m in suite.get("measurements") or []:
        name = f"{m['check']}.{m['metric']}" + (f".{m['group']}" if m.get("group") else "")
        if declared(wanted, name) if wanted else f"{m['suite']}.{name}" in judged:
            out.add(f"{m['suite']}.{name}")
    return out


class Suite:
    """A named group of checks, registered through the `harness.suites` entry-point group."""

    name: ClassVar[str]
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)
    # plain names of the suite's checks, for readers who do not know its metric keys (a department head, the
    # public record): the reports' summary and the decision memo name a check by these, never by a key. A
    # check not listed is named from its own name ("equal_opportunity" -> "Equal opportunity").
    check_titles: ClassVar[Mapping[str, str]] = {}
    # the suite's `settings.<name>` in the policy, validated before an assessment runs (a pydantic model with
    # extra="forbid", so a misspelt key is an error, not a silently ignored default); None: it takes none
    settings_model: ClassVar[type[BaseModel] | None] = None
    # every "<check>.<metric>" the suite measures or judges against a threshold: what `harness policy check`
    # matches the policy's threshold keys against, and what the conformance kit holds its output to. An entry
    # covers itself and every name under it ("expectations.not_null" covers "expectations.not_null.id") and
    # may use fnmatch wildcards ("profile.*"); None: undeclared (the kit reports it)
    produces: ClassVar[frozenset[str] | None] = None
    # the few "<check>.<metric>" figures a reader puts side by side when two runs are compared (`harness compare`:
    # two tools on the same data, or two versions of one tool), matched like `produces`; empty: every measurement
    # a finding of the suite judges, which is complete but long
    headline: ClassVar[tuple[str, ...]] = ()

    def applies_to(self, dataset: ReferenceDataset) -> str | None:
        """None when the suite can run on the dataset, else the reason it is SKIPPED."""
        if dataset.card.task not in self.tasks:
            return f"suite {self.name!r} assesses {', '.join(self.tasks)} data; {dataset.name!r} is {dataset.card.task}"
        return None

    def checks(self, ctx: CheckContext) -> list[Check]:  # pragma: no cover - abstract
        raise NotImplementedError

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """What the report shows of this suite's result (its `SuiteResult`): typed sections of tables, in order.
        A suite knows what its tables mean, so it presents them; the harness renders them (Markdown, HTML) and
        shows every table no section claimed (`view.claim`) generically after them, so nothing recorded is ever
        hidden. `view` holds the suite's findings by key, its tables, the recorded policy and the tool's tier.
        Default: every table generically, which is what a suite without presentation code gets."""
        return view.generic_sections(result)

    def after_all(self, ctx: CheckContext, results: list[Any]) -> CheckOutput | None:
        """Called once every suite has run on the dataset, with their `SuiteResult`s: for checks that
        need other suites' figures (a regression check compares every metric with the baseline).
        What it returns is added to this suite's result and judged by the policy like a check's."""
        return None
