"""The conformance kit for suite and adapter authors (DESIGN.md house style, after scikit-learn's
`check_estimator` and `parametrize_with_checks`).

An assessment is only as trustworthy as its weakest plugin: a suite whose metric keys collide in MLflow, whose
numbers change between two runs with the same seed, or whose result cannot be written to `assessment.json`
breaks the verdict rules (same inputs and seed, same verdict and numbers) without any test of the harness
noticing. `check_suite` and `check_adapter` run every rule the harness relies on against one suite or adapter
and name each one broken; a plugin author calls them in their own pytest file.

Each rule is a small named function taking a case (`SuiteCase`, `AdapterCase`) and returning the problems it
found, as sentences (an empty list when the rule holds). `suite_checks()` and `adapter_checks()` yield them
as `(name, function)` pairs so a pytest parametrisation shows them one by one; the case caches the expensive
parts (the tool's outputs, one run of the suite per seed), so the rules share one run as the assessment does.
"""
from __future__ import annotations

import inspect
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from harness.check import Check, CheckContext, Suite, declared
from harness.errors import ConfigError, ToolError
from harness.findings import Status

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.policy import Policy
    from harness.tools import Predictions, Tool
    from harness.verdict import SuiteResult

SUITE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
"""A suite's name: lower-case, no dot (it is the first segment of every metric key and the entry-point name)."""
CHECK_NAME = re.compile(r"[A-Za-z0-9_-]+")
"""A check's name, the second key segment: no dot, space or slash, so the key splits back unambiguously."""
METRIC_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
"""A metric's name: words joined by dots at most (data_quality's `column_exists.<column>`), no space or slash."""
MLFLOW_KEY = re.compile(r"[A-Za-z0-9_.\- /]+")
"""The characters MLflow accepts in a metric name; a key with any other character is refused at logging."""
MAX_KEY_LENGTH = 250
"""MLflow's longest metric name."""
TOLERANCE = 1e-9
"""Rounding slack when an interval is compared with its point estimate."""

Problems = list[str]
OnFail = Literal["raise"] | None


@dataclass(frozen=True)
class ConformanceFailure:
    """One broken rule: which conformance check, about what, and what was wrong."""

    check: str
    message: str
    subject: str = ""

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


class ConformanceError(AssertionError):
    """Raised by `check_suite` / `check_adapter` (with `on_fail="raise"`) listing every failure at once, so
    an author fixes them in one pass rather than one per test run. An AssertionError, so pytest shows it as a
    failed assertion."""

    def __init__(self, subject: str, failures: list[ConformanceFailure]) -> None:
        self.subject = subject
        self.failures = list(failures)
        lines = "\n".join(f"- {f}" for f in self.failures)
        super().__init__(f"{subject} failed {len(self.failures)} conformance check(s):\n{lines}")


class SubjectRaised(Exception):
    """The suite or adapter under test raised where it must not; the message says during what."""


# --------------------------------------------------------------------------------------------- suites


def stand_in_manifest(dataset: ReferenceDataset) -> ToolManifest:
    """A complete, valid manifest for a tool under test, at risk tier high (the strictest thresholds), so a
    suite author needs no tool.yaml to exercise a suite."""
    from harness.manifest import ToolManifest

    generative = dataset.card.task == "grounded-qa"
    text = "Stand-in tool of the harness.testing conformance kit."
    return ToolManifest.model_validate({
        "id": "conformance-tool", "name": "Conformance stand-in", "version": "0", "vendor": "harness.testing",
        "department": "none", "category": "generative" if generative else "decision-support",
        "status": "development", "risk_tier": "high", "intended_use": text, "automation_level": text,
        "human_oversight": text,
        "disclosure": {k: text for k in ("model_type", "training_data_source", "data_access_basis",
                                         "known_limitations", "bias_mitigation")},
        # never loaded: the kit hands the suite the tool's outputs itself
        "adapter": {"kind": "python", "callable": "harness.testing.conformance:oracle_predictions"},
    })


def oracle_predictions(dataset: ReferenceDataset) -> Predictions:
    """Outputs for a suite checked without a tool: the true label of every row (binary classification), or
    the first reference answer and an abstention where there is none (grounded QA). A perfect tool, so a
    suite's checks see outputs in the dataset's own label space."""
    from harness.tools import Predictions

    card = dataset.card
    if card.task == "binary-classification" and card.target is not None:
        return Predictions(labels=dataset.frame[card.target.column].to_numpy())
    if card.task == "grounded-qa" and "answers" in dataset.frame.columns:
        answers = [str(a[0]) if a is not None and len(a) else "" for a in dataset.frame["answers"]]
        return Predictions(labels=np.asarray(answers, dtype=object), answers=answers, errors=[None] * len(answers))
    raise ConfigError(f"check_suite has no stand-in outputs for dataset {dataset.name!r} (task {card.task}); "
                      f"pass the tool to check the suite with: check_suite(suite, dataset, tool)")


@dataclass(frozen=True)
class SuiteRun:
    """One run of a suite on the case's dataset, the way `assess` runs it: `run_suite`, then `after_all`."""

    seed: int
    result: SuiteResult


@dataclass
class SuiteCase:
    """A suite on a dataset (and a tool), with the tool's outputs computed once and one run per seed kept,
    so every conformance check reads the same evidence. `nondeterministic` lists fnmatch patterns of metric
    keys that measure wall-clock time (e.g. `degradation.graceful_failure.latency_*`) and so cannot repeat."""

    suite: Suite
    dataset: ReferenceDataset
    tool: Tool | None = None
    policy: Policy | None = None
    manifest: ToolManifest | None = None
    seed: int | None = None
    nondeterministic: Collection[str] = ()
    current: pd.DataFrame | None = None  # a production sample, for drift checks
    baseline: dict[str, float] | None = None  # the last approved figures, for regression checks
    _predictions: Predictions | None = field(default=None, init=False, repr=False)
    _runs: dict[int, SuiteRun | SubjectRaised] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.suite, type):
            self.suite = self.suite()
        if self.policy is None:
            from harness.policy import load_policy

            self.policy = load_policy()
        if self.manifest is None:
            self.manifest = stand_in_manifest(self.dataset)
        if self.seed is None:
            self.seed = self.policy.seed

    @property
    def name(self) -> str:
        return str(getattr(self.suite, "name", type(self.suite).__name__))

    @property
    def subject(self) -> str:
        return f"suite {self.name!r} on dataset {self.dataset.name!r}"

    def predictions(self) -> Predictions:
        """The tool's outputs, computed once (DESIGN.md: never re-predict per check)."""
        if self._predictions is None:
            if self.tool is None:
                self._predictions = oracle_predictions(self.dataset)
            else:
                try:
                    self._predictions = self.tool.predict(self.dataset)
                except Exception as e:
                    raise ConfigError(f"the tool given to check {self.subject} failed to predict: "
                                      f"{type(e).__name__}: {e}; check it with check_adapter first") from e
        return self._predictions

    def context(self, seed: int | None = None) -> CheckContext:
        """A fresh context (empty cache) for one run."""
        assert self.policy is not None and self.manifest is not None and self.seed is not None  # __post_init__
        return CheckContext(dataset=self.dataset, predictions=self.predictions(), policy=self.policy,
                            manifest=self.manifest, seed=self.seed if seed is None else seed, tool=self.tool,
                            current=self.current, baseline=self.baseline)

    def checks(self) -> list[Any]:
        try:
            return list(self.suite.checks(self.context()))
        except Exception as e:
            raise SubjectRaised(f"{type(self.suite).__name__}.checks(ctx) raised {type(e).__name__}: {e}") from e

    def run(self, seed: int | None = None, *, fresh: bool = False) -> SuiteRun:
        """The suite's result with this seed: cached unless `fresh` (the determinism check runs it again)."""
        seed = self.seed if seed is None else seed
        assert seed is not None
        if fresh or seed not in self._runs:
            try:
                self._runs[seed] = self._run(seed)
            except SubjectRaised as e:
                self._runs[seed] = e
        got = self._runs[seed]
        if isinstance(got, SubjectRaised):
            raise got
        return got

    def _run(self, seed: int) -> SuiteRun:
        from harness.assessment import merge_output, run_suite

        ctx = self.context(seed)
        try:
            result = run_suite(self.suite, ctx)
        except Exception as e:
            raise SubjectRaised(f"running {self.subject} with seed {seed} raised {type(e).__name__}: {e}") from e
        try:
            extra = self.suite.after_all(ctx, [result])
        except Exception as e:
            raise SubjectRaised(f"{type(self.suite).__name__}.after_all raised {type(e).__name__}: {e}") from e
        if extra is not None:
            result = merge_output(result, extra, ctx)
        return SuiteRun(seed=seed, result=result)

    def exempt(self, key: str) -> bool:
        return any(fnmatchcase(key, p) for p in self.nondeterministic)


def _tasks() -> tuple[str, ...]:
    from harness.datasets import DatasetCard

    return get_args(DatasetCard.model_fields["task"].annotation)


def suite_attributes(case: SuiteCase) -> Problems:
    """`name` (lower-case, no dot: it prefixes every key and must equal the entry-point name), `version`
    (recorded with every result) and `tasks` (what `applies_to` tests) are declared."""
    s, out = case.suite, []
    name = getattr(s, "name", None)
    if not isinstance(name, str) or not SUITE_NAME.fullmatch(name):
        out.append(f"name {name!r} is not a lower-case name ([a-z][a-z0-9_-]*); it is the first segment of every "
                   f"metric key and the entry-point name in group 'harness.suites'")
    version = getattr(s, "version", None)
    if not isinstance(version, str) or not version.strip():
        out.append(f"version {version!r} is not a non-empty string; it is recorded with every result")
    tasks = getattr(s, "tasks", None)
    if not isinstance(tasks, tuple | list) or not tasks or not all(isinstance(t, str) for t in tasks):
        out.append(f"tasks {tasks!r} is not a non-empty tuple of dataset tasks")
    else:
        unknown = [t for t in tasks if t not in _tasks()]
        if unknown:
            out.append(f"tasks {unknown} are not dataset tasks ({', '.join(_tasks())}); no card can declare them")
    out += _settings_model(getattr(s, "settings_model", None))
    return out


def _settings_model(model: Any) -> Problems:
    """A settings model is a pydantic model that forbids unknown keys (a misspelt setting must be an error,
    harness.policy_check) and has a default for every setting (a policy may leave any of them out)."""
    if model is None:
        return []
    from pydantic import BaseModel

    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return [f"settings_model {model!r} is not a pydantic model class"]
    out = []
    if model.model_config.get("extra") != "forbid":
        out.append(f"settings_model {model.__name__} accepts unknown keys; set model_config = "
                   f"ConfigDict(extra='forbid') so a misspelt setting is an error, not a silently ignored default")
    try:
        model()
    except Exception as e:
        out.append(f"settings_model {model.__name__} cannot be built from defaults ({type(e).__name__}); give every "
                   f"setting a default, as a policy may leave it out")
    return out


def check_list(case: SuiteCase) -> Problems:
    """`checks(ctx)` returns Check instances with unique names, each citing the policy section it serves."""
    checks, out = case.checks(), []
    names: list[str] = []
    for c in checks:
        if not isinstance(c, Check):
            out.append(f"checks(ctx) returned {c!r}, a {type(c).__name__}, not a harness.check.Check")
            continue
        name = getattr(c, "name", None)
        if not isinstance(name, str) or not CHECK_NAME.fullmatch(name):
            out.append(f"check {type(c).__name__} has the name {name!r}; a check name is letters, digits, _ and - "
                       f"(it is the second segment of every metric key)")
        else:
            names.append(name)
        section = getattr(c, "policy_section", "")
        if not isinstance(section, str) or not section.strip():
            out.append(f"check {name!r} ({type(c).__name__}) cites no policy_section; every finding must name "
                       f"the section of the City's AI policy it enforces (e.g. '4.2')")
    dup = sorted(n for n, k in Counter(names).items() if k > 1)
    if dup:
        out.append(f"check name(s) {dup} are used twice; findings and keys of the two would be confused")
    if not checks:
        out.append(f"checks(ctx) returned no check for dataset {case.dataset.name!r}")
    return out


_REPR_NAMES: dict[str, Any] = {"nan": math.nan, "inf": math.inf, "tuple": tuple, "list": list, "dict": dict,
                               "set": set, "frozenset": frozenset, "float": float, "int": int, "str": str}


def check_params(case: SuiteCase) -> Problems:
    """Every check's parameters are keyword-only and its `repr` rebuilds it (scikit-learn's estimators), so
    a check is data that can be logged with the result and re-created from the log."""
    out = []
    for c in case.checks():
        if not isinstance(c, Check):
            continue  # check_list reports it
        cls = type(c)
        positional = [p.name for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
                      if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]
        if positional:
            out.append(f"{cls.__name__}.__init__ takes {positional} positionally; check parameters are "
                       f"keyword-only (def __init__(self, *, ...)) so a call names every setting")
        named = [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY]
        unstored = [n for n in named if n not in getattr(c, "params", {})]
        if unstored:
            out.append(f"{cls.__name__} takes {unstored} but does not keep them in self.params; pass them on "
                       f"with super().__init__(name=value, ...) so the check is logged with its settings")
        try:
            text = repr(c)
        except Exception as e:
            out.append(f"repr of check {c.name!r} raised {type(e).__name__}: {e} (did __init__ call "
                       f"super().__init__(**params)?)")
            continue
        try:
            # the suite author's own repr, in their own test run, with no builtins: what a reader of the log would do
            rebuilt = eval(text, {"__builtins__": {}, cls.__name__: cls, **_REPR_NAMES})
        except Exception as e:
            out.append(f"repr {text!r} of check {c.name!r} does not rebuild it: {type(e).__name__}: {e}")
            continue
        if type(rebuilt) is not cls or repr(rebuilt) != text:
            out.append(f"repr {text!r} of check {c.name!r} rebuilds {rebuilt!r}; store every parameter in "
                       f"self.params (Check.__init__(**params))")
    return out


def applies_to(case: SuiteCase) -> Problems:
    """`applies_to` accepts the dataset under test and gives a reason for a task the suite does not list,
    which becomes the SKIPPED result's reason (DESIGN.md: a check that cannot apply is SKIPPED with a reason)."""
    out = []
    own = case.suite.applies_to(case.dataset)
    if own is not None:
        out.append(f"applies_to({case.dataset.name!r}) returned {own!r}: the suite would be SKIPPED on the "
                   f"dataset under test; check it on a dataset of task {', '.join(case.suite.tasks)}")
    other = next((t for t in _tasks() if t not in case.suite.tasks), "conformance-probe")
    probe = replace(case.dataset, card=case.dataset.card.model_copy(update={"task": other}))
    reason = case.suite.applies_to(probe)
    if not isinstance(reason, str) or not reason.strip():
        out.append(f"applies_to returned {reason!r} for a {other} dataset, a task the suite does not list "
                   f"({', '.join(case.suite.tasks)}); return the reason it is SKIPPED")
    return out


def runs_cleanly(case: SuiteCase) -> Problems:
    """Running the suite raises nothing, no check of it raises (run_suite would turn that into a blocking
    ERROR finding: a FAIL the tool did not earn), and it measures or concludes something."""
    run = case.run()
    out = []
    for f in run.result.findings:
        if f.status is Status.ERROR and f.message.startswith(f"check {f.check!r} could not compute:"):
            out.append(f"check {f.check!r} raised: {f.message.split(': ', 1)[1]}")
    if not run.result.findings and not run.result.measurements:
        out.append(f"the suite measured nothing and concluded nothing on dataset {case.dataset.name!r}")
    return out


def measurement_keys(case: SuiteCase) -> Problems:
    """Every key is MLflow-safe and reads `<suite>.<check>.<metric>[.<group>]` with the suite's own name, and
    no key is measured twice (MLflow would keep only the last). The check segment need not name one of the
    suite's checks (data_quality files its unthresholded figures under `profile`)."""
    run, name, out = case.run(), case.name, []
    for m in run.result.measurements:
        key = m.key
        where = f"measurement key {key!r}"
        if m.suite != name:
            out.append(f"{where} names suite {m.suite!r}; a suite's keys start with its own name {name!r}")
        if len(key) > MAX_KEY_LENGTH:
            out.append(f"{where} has {len(key)} characters; MLflow takes at most {MAX_KEY_LENGTH}")
        if not MLFLOW_KEY.fullmatch(key):
            bad = sorted(set(re.sub(r"[A-Za-z0-9_.\- /]", "", key)))
            out.append(f"{where} has characters MLflow refuses: {bad}")
        if not CHECK_NAME.fullmatch(m.check or ""):
            out.append(f"{where}: check {m.check!r} is not letters, digits, _ and - (no dot, space or slash)")
        if not METRIC_NAME.fullmatch(m.metric or ""):
            out.append(f"{where}: metric {m.metric!r} is not words of letters, digits, _ and - joined by dots "
                       f"(no space or slash)")
        if m.group is not None and not str(m.group).strip():
            out.append(f"{where} has an empty group; leave group None for an overall figure")
    for f in run.result.findings:
        if f.suite != name:
            out.append(f"finding {f.key!r} names suite {f.suite!r}, not {name!r}")
    dup = sorted(k for k, n in Counter(m.key for m in run.result.measurements).items() if n > 1)
    if dup:
        out.append(f"measurement key(s) {dup[:5]} are measured more than once; MLflow would keep only the last")
    return out


def declared_outputs(case: SuiteCase) -> Problems:
    """`produces` names every "<check>.<metric>" the suite measures or judges against a threshold (an entry
    covers the names under it and may use fnmatch wildcards): `harness policy check` reads it, without running
    the suite, to tell a policy's thresholds that can apply from misspelt ones that never will."""
    produces = getattr(case.suite, "produces", None)
    if produces is None:
        return ["produces is not declared; list every '<check>.<metric>' the suite measures or judges "
                "(produces: ClassVar[frozenset[str]]), so `harness policy check` can match the policy's thresholds "
                "against it"]
    if not isinstance(produces, frozenset | set | tuple | list) or not all(
            isinstance(p, str) and p.count(".") >= 1 and p.strip() == p and p for p in produces):
        return [f"produces {produces!r} is not a set of '<check>.<metric>' names"]
    run = case.run()
    names = [f"{m.check}.{m.metric}" for m in run.result.measurements]
    names += [f"{f.check}.{f.metric}" for f in run.result.findings if f.threshold is not None]
    undeclared = sorted({n for n in names if not declared(frozenset(produces), n)})
    if undeclared:
        more = f" and {len(undeclared) - 5} more" if len(undeclared) > 5 else ""
        return [f"measured or judged {undeclared[:5]}{more}, which produces does not declare; add them "
                f"('<check>.<metric>')"]
    return []


def _real(x: Any) -> float | None:
    """The value as a float, or None when it is not a real number (a str, a list, a complex)."""
    if isinstance(x, bool | int | float | np.integer | np.floating):
        return float(x)
    return None


def measurement_values(case: SuiteCase) -> Problems:
    """Values are finite or NaN (undefined), interval bounds finite, and `ci_low <= value <= ci_high` when
    both bounds are given: the fail-closed rule compares the whole interval with the limit."""
    out = []
    for m in case.run().result.measurements:
        where = f"measurement {m.key!r}"
        value = _real(m.value)
        if value is None:
            out.append(f"{where} has the value {m.value!r} ({type(m.value).__name__}); a value is a number, "
                       f"NaN when undefined")
            continue
        if math.isinf(value):
            out.append(f"{where} is {value}; a value is finite, or NaN when undefined (the policy judges NaN "
                       f"INSUFFICIENT)")
        bounds = {}
        for side in ("ci_low", "ci_high"):
            raw = getattr(m, side)
            if raw is None:
                continue
            b = _real(raw)
            if b is None or math.isinf(b):
                out.append(f"{where} has {side} = {raw!r}; interval bounds are finite numbers or None")
            elif not math.isnan(b):
                bounds[side] = b
        if len(bounds) == 2:
            lo, hi = bounds["ci_low"], bounds["ci_high"]
            slack = TOLERANCE * max(1.0, abs(value) if math.isfinite(value) else 1.0)
            if lo > hi + slack:
                out.append(f"{where} has ci_low {lo:.6g} above ci_high {hi:.6g}")
            elif math.isfinite(value) and not lo - slack <= value <= hi + slack:
                out.append(f"{where} = {value:.6g} lies outside its interval [{lo:.6g}, {hi:.6g}]")
        if m.n is not None and (not isinstance(m.n, int | np.integer) or m.n < 0):
            out.append(f"{where} has n = {m.n!r}; n is a count of rows or items")
    return out


def serialisation(case: SuiteCase) -> Problems:
    """The result is strict JSON (`assessment.json` allows no NaN) and `SuiteResult.from_dict` rebuilds it,
    so reports can be re-rendered from the record without the tool, the data or the suite."""
    from harness.assessment import jsonable
    from harness.verdict import SuiteResult

    result, out = case.run().result, []
    d = jsonable(result.to_dict())
    try:
        text = json.dumps(d, allow_nan=False)
    except (TypeError, ValueError) as e:
        bad = [k for k, v in d.get("tables", {}).items() if not _dumps_ok(v)]
        hint = f" (tables {bad})" if bad else ""
        return [f"SuiteResult.to_dict() is not JSON after harness.assessment.jsonable{hint}: "
                f"{type(e).__name__}: {e}"]
    try:
        back = jsonable(SuiteResult.from_dict(json.loads(text)).to_dict())
    except Exception as e:
        return [f"SuiteResult.from_dict could not read the result's JSON: {type(e).__name__}: {e}"]
    if back != d:
        diff = [k for k in d if back.get(k) != d[k]]
        out.append(f"the result changed in a JSON round trip (from_dict(to_dict())) in {diff}")
    bad = [k for k, v in jsonable(result.artifacts).items() if not _dumps_ok(v)]
    if bad:
        out.append(f"artifact(s) {bad} are not JSON after harness.assessment.jsonable; they are written as files")
    return out


def report_sections(case: SuiteCase) -> Problems:
    """`report_sections(result, view)` builds typed sections from the result as recorded (after a JSON round
    trip, as `harness report RUN_ID` re-renders it): a list of `Section`s of `TableView`s whose rows have one
    cell per column, with anchors unique in the report, claiming only tables the result holds."""
    from harness.assessment import jsonable
    from harness.report.sections import ReportContext, Section, TableView
    from harness.verdict import SuiteResult

    try:
        result = SuiteResult.from_dict(json.loads(json.dumps(jsonable(case.run().result.to_dict()))))
    except Exception:
        return []  # `serialisation` reports it
    view = ReportContext(index=0, confidence="95%", min_group_size=30, ratio_limit=None, document={},
                         risk_tier=case.manifest.risk_tier if case.manifest is not None else None,
                         findings={f.key: f for f in result.findings},
                         tables={str(k): v for k, v in result.tables.items()})
    try:
        sections = case.suite.report_sections(result, view)
    except Exception as e:
        return [f"report_sections(result, view) raised {type(e).__name__}: {e}; the report could not show the suite"]
    if not isinstance(sections, list):
        return [f"report_sections returned a {type(sections).__name__}, not a list of harness.report.sections.Section"]
    out: list[str] = []
    anchors: list[str] = []
    for sec in sections:
        if not isinstance(sec, Section):
            out.append(f"report_sections returned {sec!r}, not a harness.report.sections.Section")
            continue
        anchors.append(sec.anchor)
        for t in sec.tables:
            if not isinstance(t, TableView):
                out.append(f"section {sec.title!r} holds {t!r}, not a harness.report.sections.TableView")
                continue
            width = len(t.columns)
            bad = [i for i, r in enumerate(t.rows) if len(r) != width]
            bad += [i for i, g in enumerate(t.group_rows) if len(g.cells) + 1 != width]
            if bad:
                out.append(f"table {t.key!r} has rows {bad[:3]} whose cells do not match its {width} columns")
    dup = sorted(a for a, k in Counter(anchors).items() if k > 1)
    if dup:
        out.append(f"section anchor(s) {dup} are used twice; put view.index in each anchor ('s<index>-...')")
    stray = sorted(k for k in view.claimed if k not in view.tables)
    if stray:
        out.append(f"report_sections claimed {stray[:3]}, which are not tables of the result")
    return out


def _dumps_ok(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _fmt(x: float | None) -> str:
    return "None" if x is None else f"{x:.6g}"


def determinism(case: SuiteCase) -> Problems:
    """Two runs with the same seed give the same numbers and the same findings (DESIGN.md "Verdict rules":
    the same inputs and seed give the same verdict and the same numbers). Wall-clock keys listed in
    `nondeterministic` are left out; details and tables are not compared (they may hold timings)."""
    first = case.run()
    second = case.run(first.seed, fresh=True)

    def numbers(run: SuiteRun) -> list[tuple[str, Any, Any, Any, Any]]:
        return [(m.key, _real(m.value), _real(m.ci_low), _real(m.ci_high), m.n)
                for m in run.result.measurements if not case.exempt(m.key)]

    a, b = numbers(first), numbers(second)
    out = []
    if [x[0] for x in a] != [x[0] for x in b]:
        gone = sorted({x[0] for x in a} ^ {x[0] for x in b})
        out.append(f"two runs with seed {first.seed} measured different keys (e.g. {gone[:3]}) or in a different "
                   f"order; a suite's output may depend only on its inputs and the seed")
    else:
        differ = [(x, y) for x, y in zip(a, b, strict=True)
                  if not all(_same(p, q) for p, q in zip(x[1:4], y[1:4], strict=True)) or x[4] != y[4]]
        if differ:
            eg = "; ".join(f"{x[0]}: {_fmt(x[1])} then {_fmt(y[1])}" for x, y in differ[:3])
            out.append(f"two runs with seed {first.seed} gave different numbers for {len(differ)} measurement(s), "
                       f"e.g. {eg}; draw random numbers from ctx.rng(salt), which is seeded per check (a wall-clock "
                       f"figure belongs in nondeterministic=[...])")
    fa = [(f.key, f.status.value) for f in first.result.findings if not case.exempt(f.key)]
    fb = [(f.key, f.status.value) for f in second.result.findings if not case.exempt(f.key)]
    if fa != fb and not out:
        changed = [f"{x[0]} {x[1]} then {y[1]}" for x, y in zip(fa, fb, strict=False) if x != y][:3]
        out.append(f"two runs with seed {first.seed} gave different findings, e.g. {changed or 'a different count'}")
    return out


def other_seed(case: SuiteCase) -> Problems:
    """Another seed may change the numbers but not which keys are measured: the regression check and the
    MLflow comparison of two assessments match figures by key."""
    base = case.run()
    assert case.seed is not None
    other = case.run(case.seed + 1)
    a = {m.key for m in base.result.measurements if not case.exempt(m.key)}
    b = {m.key for m in other.result.measurements if not case.exempt(m.key)}
    if a != b:
        return [f"seeds {base.seed} and {other.seed} measured different keys: only with {base.seed} "
                f"{sorted(a - b)[:3]}, only with {other.seed} {sorted(b - a)[:3]}"]
    return []


SUITE_CHECKS: tuple[Callable[[SuiteCase], Problems], ...] = (
    suite_attributes, check_list, check_params, applies_to, runs_cleanly, measurement_keys, declared_outputs,
    measurement_values, serialisation, report_sections, determinism, other_seed,
)


def suite_checks() -> Iterator[tuple[str, Callable[[SuiteCase], Problems]]]:
    """Every suite conformance check as (name, function); `function(case)` returns the problems found."""
    for fn in SUITE_CHECKS:
        yield fn.__name__, fn


def _collect(checks: Iterator[tuple[str, Callable[[Any], Problems]]], case: Any, subject: str,
             on_fail: OnFail) -> list[ConformanceFailure]:
    if on_fail not in ("raise", None):
        raise ConfigError(f"on_fail must be 'raise' or None, got {on_fail!r}")
    failures: list[ConformanceFailure] = []
    for name, fn in checks:
        try:
            problems = fn(case)
        except SubjectRaised as e:
            problems = [str(e)]
        except Exception as e:  # the subject broke in a way no rule foresaw: still a named failure
            problems = [f"raised {type(e).__name__}: {e}"]
        failures += [ConformanceFailure(check=name, message=p, subject=subject) for p in problems]
    if failures and on_fail == "raise":
        raise ConformanceError(subject, failures)
    return failures


def check_suite(suite: Suite | type[Suite], dataset: ReferenceDataset, tool: Tool | None = None, *,
                policy: Policy | None = None, manifest: ToolManifest | None = None, seed: int | None = None,
                nondeterministic: Collection[str] = (), current: pd.DataFrame | None = None,
                baseline: dict[str, float] | None = None, on_fail: OnFail = "raise") -> list[ConformanceFailure]:
    """Run every suite conformance check; raise a `ConformanceError` listing all failures (`on_fail="raise"`,
    the default, like scikit-learn's `check_estimator`), or return them (`on_fail=None`).

    Without a tool the suite sees a perfect tool's outputs (`oracle_predictions`) and `ctx.tool` is None;
    pass a tool to exercise checks that call it. The policy defaults to the harness's default policy and the
    manifest to a stand-in at risk tier high; the seed to the policy's. `current` and `baseline` reach the
    checks as in `assess` (drift, regression). `nondeterministic` names wall-clock keys (fnmatch patterns)
    that the determinism check leaves out."""
    case = SuiteCase(suite if isinstance(suite, Suite) else suite(), dataset, tool, policy=policy,
                     manifest=manifest, seed=seed, nondeterministic=nondeterministic, current=current,
                     baseline=baseline)
    case.predictions()  # a tool that cannot predict is a bad set-up (ConfigError), not a fault of the suite
    return _collect(suite_checks(), case, case.subject, on_fail)


# ------------------------------------------------------------------------------------------- adapters


@dataclass
class AdapterCase:
    """A tool adapter on a dataset, with its first `predict(dataset)` kept for every check to read."""

    tool: Any
    dataset: ReferenceDataset
    _first: Predictions | SubjectRaised | None = field(default=None, init=False, repr=False)

    @property
    def subject(self) -> str:
        kind = getattr(self.tool, "kind", type(self.tool).__name__)
        return f"adapter {kind!r} ({type(self.tool).__name__}) on dataset {self.dataset.name!r}"

    @property
    def rows(self) -> int:
        return len(self.dataset.frame)

    def predict(self, *, fresh: bool = False) -> Predictions:
        if fresh:
            return self._predict()
        if self._first is None:
            try:
                self._first = self._predict()
            except SubjectRaised as e:
                self._first = e
        if isinstance(self._first, SubjectRaised):
            raise self._first
        return self._first

    def _predict(self) -> Predictions:
        try:
            return self.tool.predict(self.dataset)
        except Exception as e:
            raise SubjectRaised(f"predict(dataset) raised {type(e).__name__}: {e}") from e

    def input_frame(self) -> Any:
        from harness.tools import input_frame

        cols = self.tool.input_columns(self.dataset) if callable(getattr(self.tool, "input_columns", None)) else None
        return input_frame(self.dataset, None if cols is None else list(cols))


def _outputs(preds: Any, n: int, what: str, *, generative: bool) -> Problems:
    """The shape rules of `Predictions` for `n` inputs (shared by predict, predict_frame and generate)."""
    from harness.tools import Predictions

    if not isinstance(preds, Predictions):
        return [f"{what} returned {type(preds).__name__}, not harness.tools.Predictions"]
    out = []
    labels = preds.labels
    if not isinstance(labels, np.ndarray) or labels.ndim != 1:
        out.append(f"{what} returned labels of type {type(labels).__name__} "
                   f"{getattr(labels, 'shape', '')}; labels are a 1-d numpy array")
    elif len(labels) != n:
        out.append(f"{what} returned {len(labels)} labels for {n} rows; expected one per row")
    if preds.scores is not None:
        s = preds.scores
        if not isinstance(s, np.ndarray) or s.ndim != 1 or len(s) != n:
            out.append(f"{what} returned scores of shape {getattr(s, 'shape', type(s).__name__)} for {n} rows; "
                       f"expected one per row")
        else:
            try:
                v = s.astype(float)
            except (TypeError, ValueError):
                out.append(f"{what} returned scores of dtype {s.dtype}; scores are numbers in [0, 1]")
            else:
                bad = ~((v >= 0) & (v <= 1))  # NaN counts as outside
                if bad.any():
                    worst = v[bad][0]
                    out.append(f"{what} returned {int(bad.sum())} score(s) outside [0, 1] (e.g. {worst:.6g}); "
                               f"scores are the probability of the favourable outcome")
    if generative and preds.answers is None:
        out.append(f"{what} returned no answers; a generative tool returns its text answers in "
                   f"Predictions.answers")
    if preds.answers is not None:
        answers = list(preds.answers)
        if len(answers) != n:
            out.append(f"{what} returned {len(answers)} answers for {n} items; expected one per item")
        kinds = sorted({type(a).__name__ for a in answers if not isinstance(a, str)})
        if kinds:
            out.append(f"{what} returned answers of type {kinds}; answers are text ('' for an abstention)")
    if preds.errors is not None:
        errors = list(preds.errors)
        if len(errors) != n:
            out.append(f"{what} returned {len(errors)} errors for {n} items; expected one per item (None when "
                       f"the item was answered)")
        elif any(not (e is None or (isinstance(e, str) and e.strip())) for e in errors):
            out.append(f"{what} returned errors that are neither None nor a message")
    return out


def adapter_kind(case: AdapterCase) -> Problems:
    """`kind` names the adapter; it is recorded with the assessment."""
    kind = getattr(case.tool, "kind", None)
    if not isinstance(kind, str) or not kind.strip():
        return [f"{type(case.tool).__name__} has kind {kind!r}; an adapter declares its kind (e.g. 'python')"]
    return []


def predict_outputs(case: AdapterCase) -> Problems:
    """`predict(dataset)` gives one label per row, scores in [0, 1] when it gives any, text answers for a
    generative tool and per-item errors of the same length when it reports any."""
    from harness.tools import can_generate

    generative = can_generate(case.tool) or case.dataset.card.task == "grounded-qa"
    return _outputs(case.predict(), case.rows, "predict(dataset)", generative=generative)


def _diff(a: Predictions, b: Predictions) -> list[str]:
    """Which outputs of two predictions differ."""
    def arrays_equal(x: Any, y: Any) -> bool:
        if x is None or y is None:
            return x is None and y is None
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            return False
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            return bool(np.array_equal(x, y, equal_nan=True))
        return bool(np.array_equal(x.astype(str), y.astype(str)))

    return [name for name in ("labels", "scores", "answers", "errors")
            if not arrays_equal(getattr(a, name), getattr(b, name))]


def predict_deterministic(case: AdapterCase) -> Problems:
    """A second `predict(dataset)` gives the same outputs: the assessment's numbers must repeat."""
    first = case.predict()
    diff = _diff(first, case.predict(fresh=True))
    if diff:
        return [f"two calls of predict(dataset) gave different {', '.join(diff)}; the same inputs must give the "
                f"same outputs (seed any sampling, or cache the answers)"]
    return []


def input_columns(case: AdapterCase) -> Problems:
    """`input_columns(dataset)`, when offered, names columns the dataset has (the counterfactual check
    changes them)."""
    fn = getattr(case.tool, "input_columns", None)
    if not callable(fn):
        return []
    cols = list(fn(case.dataset))
    missing = [c for c in cols if c not in case.dataset.frame.columns]
    if missing:
        return [f"input_columns(dataset) names column(s) {missing} that dataset {case.dataset.name!r} does not have"]
    if not cols:
        return ["input_columns(dataset) is empty; name the columns the tool reads"]
    return []


def predict_frame_one_row(case: AdapterCase) -> Problems:
    """A callable tool answers a 1-row frame with one output, the same as for that row in `predict(dataset)`:
    the counterfactual and robustness checks call `predict_frame` on changed rows and compare."""
    from harness.tools import can_call

    if not can_call(case.tool):
        return []
    frame = case.input_frame().iloc[:1]
    try:
        one = case.tool.predict_frame(frame)
    except Exception as e:
        return [f"predict_frame on a 1-row frame raised {type(e).__name__}: {e}"]
    out = _outputs(one, 1, "predict_frame on a 1-row frame", generative=False)
    if not out:
        full = case.predict()
        if str(one.labels[0]) != str(full.labels[0]):
            out.append(f"predict_frame on the first row gave the label {one.labels[0]!r}, predict(dataset) "
                       f"{full.labels[0]!r}; both must run the same model")
    return out


def predict_frame_no_rows(case: AdapterCase) -> Problems:
    """A 0-row frame gives empty Predictions or a ToolError with a message, never another exception: the
    graceful-failure check sends an empty batch and a crash of the adapter would end the assessment."""
    from harness.tools import can_call

    if not can_call(case.tool):
        return []
    frame = case.input_frame().iloc[:0]
    try:
        none = case.tool.predict_frame(frame)
    except ToolError as e:
        return [] if str(e).strip() else ["predict_frame on a 0-row frame raised a ToolError without a message"]
    except Exception as e:
        return [f"predict_frame on a 0-row frame raised {type(e).__name__}: {e}; return empty Predictions or "
                f"raise harness.errors.ToolError with a message"]
    return _outputs(none, 0, "predict_frame on a 0-row frame", generative=False)


GENERATE_ITEMS = 3
"""How many items `generate_in_order` asks: enough to see the order, few enough for a paid endpoint."""


def generate_in_order(case: AdapterCase) -> Problems:
    """`generate(items, sample=0)` answers every item, in the order given: asked in reverse, the answers
    come back reversed (checks match answers to items by position)."""
    from harness.tools import can_generate, qa_items

    if not can_generate(case.tool):
        return []
    items = qa_items(case.dataset, str(getattr(case.tool, "name", "tool"))).iloc[:GENERATE_ITEMS]
    n = len(items)
    forward = case.tool.generate(items.reset_index(drop=True), sample=0)
    out = _outputs(forward, n, f"generate({n} items)", generative=True)
    if out:
        return out
    backward = case.tool.generate(items.iloc[::-1].reset_index(drop=True), sample=0)
    out = _outputs(backward, n, f"generate({n} items reversed)", generative=True)
    if not out and list(backward.answers or [])[::-1] != list(forward.answers or []):
        out.append(f"generate gave different answers for the same {n} items asked in reverse order; answers "
                   f"must come back in the order of the items")
    return out


ADAPTER_CHECKS: tuple[Callable[[AdapterCase], Problems], ...] = (
    adapter_kind, predict_outputs, predict_deterministic, input_columns, predict_frame_one_row,
    predict_frame_no_rows, generate_in_order,
)


def adapter_checks() -> Iterator[tuple[str, Callable[[AdapterCase], Problems]]]:
    """Every adapter conformance check as (name, function); `function(case)` returns the problems found.
    Checks of a capability the tool lacks (`predict_frame`, `generate`) find nothing."""
    for fn in ADAPTER_CHECKS:
        yield fn.__name__, fn


def check_adapter(tool: Any, dataset: ReferenceDataset, *, on_fail: OnFail = "raise") -> list[ConformanceFailure]:
    """Run every adapter conformance check on `tool` with `dataset`; raise a `ConformanceError` listing all
    failures (`on_fail="raise"`, the default) or return them (`on_fail=None`)."""
    case = AdapterCase(tool, dataset)
    return _collect(adapter_checks(), case, case.subject, on_fail)


__all__ = [
    "ADAPTER_CHECKS", "SUITE_CHECKS", "AdapterCase", "ConformanceError", "ConformanceFailure", "SuiteCase",
    "SuiteRun", "adapter_checks", "check_adapter", "check_suite", "oracle_predictions", "stand_in_manifest",
    "suite_checks",
]
