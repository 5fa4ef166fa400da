"""The conformance kit (`harness.testing.conformance`): every built-in suite and adapter passes it, and
deliberately broken fakes fail it with the exact failure named, so the kit is shown to catch what it claims."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from harness.check import Check, CheckContext, CheckOutput, Measurement, Suite
from harness.datasets import ReferenceDataset, load_dataset, matches
from harness.errors import ConfigError, ToolError
from harness.manifest import load_manifest
from harness.report.sections import ReportContext, Section, TableView
from harness.testing import (
    AdapterCase,
    ChatServer,
    ConformanceError,
    ConformanceFailure,
    SuiteCase,
    adapter_checks,
    check_adapter,
    check_suite,
    suite_checks,
)
from harness.tools import Predictions, load_tool
from harness.tools.python import PythonTool, import_callable
from tests.conftest import MANIFEST, ROOT, write_case

EXAMPLES = ROOT / "examples"
QA_BASELINE = EXAMPLES / "city_services_qa" / "baseline_tool.yaml"
WALL_CLOCK = ["degradation.graceful_failure.*_s"]  # latency and large-batch seconds: timings cannot repeat


def rule(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic scorer on write_case's columns: income 20 -> 0, 80 -> 1, approve from 0.5."""
    score = np.clip((frame["income"].to_numpy(dtype=float) - 20) / 60, 0, 1)
    return (score >= 0.5).astype(int), score


@pytest.fixture(scope="module")
def case_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_case(tmp_path_factory.mktemp("conformance"), n=600, seed=0)


@pytest.fixture(scope="module")
def small(case_files: tuple[Path, Path]) -> ReferenceDataset:
    return load_dataset(str(case_files[1]))


@pytest.fixture(scope="module")
def qa() -> ReferenceDataset:
    return load_dataset("city-services-qa")


def messages(failures: list[ConformanceFailure]) -> list[str]:
    return [str(f) for f in failures]


# ------------------------------------------------------------------------------ built-in suites conform


@pytest.mark.parametrize("tool_kind", [None, "predictions", "python"])
def test_bias_conforms_on_classification_data(small: ReferenceDataset, case_files: tuple[Path, Path],
                                              tool_kind: str | None) -> None:
    from test_suites.bias import BiasSuite

    tool = {None: None, "predictions": load_tool(load_manifest(case_files[0])),
            "python": PythonTool(fn=rule, name="rule")}[tool_kind]
    assert check_suite(BiasSuite, small, tool, on_fail=None) == []


@pytest.mark.slow  # Great Expectations: its import alone is about 2.3 s, and each run validates twice
def test_data_quality_conforms(small: ReferenceDataset, case_files: tuple[Path, Path]) -> None:
    from test_suites.data_quality import DataQualitySuite

    assert check_suite(DataQualitySuite(), small, load_tool(load_manifest(case_files[0])), on_fail=None) == []


def test_degradation_conforms_with_a_callable_tool_a_current_sample_and_a_baseline(small: ReferenceDataset,
                                                                                 tmp_path: Path) -> None:
    """A callable tool, so graceful failure and robustness run; a current sample, so drift runs; a baseline,
    so regression compares. Only the wall-clock seconds are exempt from determinism."""
    from test_suites.degradation import DegradationSuite

    _, card = write_case(tmp_path, n=400, seed=5)
    current = load_dataset(str(card)).frame
    baseline = {"degradation.regression.accuracy": 0.5, "bias.group_rates.selection_rate.sex.F": 0.4}
    case = SuiteCase(DegradationSuite(), small, PythonTool(fn=rule, name="rule"), nondeterministic=WALL_CLOCK,
                     current=current, baseline=baseline)
    run = case.run()
    checks = {m.check for m in run.result.measurements}
    assert {"graceful_failure", "robustness", "drift", "regression"} <= checks  # every check had work to do
    assert check_suite(DegradationSuite(), small, PythonTool(fn=rule, name="rule"), nondeterministic=WALL_CLOCK,
                       current=current, baseline=baseline, on_fail=None) == []


def test_timings_are_the_only_figures_of_degradation_that_do_not_repeat(small: ReferenceDataset) -> None:
    """Without the exemption, the determinism check names a wall-clock key of graceful_failure, nothing else."""
    from test_suites.degradation import DegradationSuite

    failures = check_suite(DegradationSuite(), small, PythonTool(fn=rule, name="rule"), on_fail=None)
    assert {f.check for f in failures} <= {"determinism"}
    for f in failures:  # the timer may, rarely, read the same twice; whenever it differs, it is a timing key
        keys = re.findall(r"(degradation\.[\w.]+): ", f.message)
        assert keys and all(k.startswith("degradation.graceful_failure.") and k.endswith("_s") for k in keys)


@pytest.mark.parametrize("tool_kind", [None, "predictions", "python"])
def test_explainability_conforms(small: ReferenceDataset, case_files: tuple[Path, Path], tool_kind: str | None) -> None:
    """Without a tool and with a file of outputs the suite only says why it cannot explain; with a callable every
    check has work to do."""
    from test_suites.explainability import ExplainabilitySuite

    tool = {None: None, "predictions": load_tool(load_manifest(case_files[0])),
            "python": PythonTool(fn=rule, name="rule")}[tool_kind]
    assert check_suite(ExplainabilitySuite, small, tool, on_fail=None) == []
    if tool_kind == "python":
        run = SuiteCase(ExplainabilitySuite(), small, tool).run()
        assert {m.check for m in run.result.measurements} >= {"importance", "protected_reliance", "reason_codes"}


@pytest.mark.parametrize("suite_name", ["hallucination", "privacy", "bias", "security"])
def test_generative_suites_conform_with_the_city_baseline(qa: ReferenceDataset, suite_name: str) -> None:
    from harness.plugins import load_suites

    manifest = load_manifest(QA_BASELINE)
    suite = load_suites()[suite_name]
    assert check_suite(suite, qa, load_tool(manifest), manifest=manifest, on_fail=None) == []


def test_a_suite_checked_without_a_tool_sees_a_perfect_tool(qa: ReferenceDataset) -> None:
    """No tool: the stand-in outputs are the truth, so a correctness check scores full marks."""
    from test_suites.hallucination import HallucinationSuite

    case = SuiteCase(HallucinationSuite(), qa)
    em = {m.key: m.value for m in case.run().result.measurements}
    assert em["hallucination.correctness.exact_match"] == 1.0
    assert em["hallucination.abstention.hallucination_rate"] == 0.0
    assert case.manifest is not None and case.manifest.category == "generative"
    assert case.manifest.risk_tier == "high"


# ------------------------------------------------------------------ the per-check form (pytest parametrised)


@pytest.fixture(scope="module")
def plugin_case(small: ReferenceDataset) -> SuiteCase:
    """The fake third-party plugin of tests/resources/plugins/good, imported the way its author would."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT / "tests" / "resources" / "plugins" / "good"))
        from harness_fake_suite import FakeSuite  # type: ignore[import-not-found]
    return SuiteCase(FakeSuite(), small)


@pytest.mark.parametrize("conformance", [fn for _, fn in suite_checks()])
def test_the_fake_plugin_conforms_check_by_check(plugin_case: SuiteCase, conformance) -> None:
    assert conformance(plugin_case) == []


def test_the_checks_are_named_and_listed_in_order() -> None:
    assert [n for n, _ in suite_checks()] == [
        "suite_attributes", "check_list", "check_params", "applies_to", "runs_cleanly", "measurement_keys",
        "declared_outputs", "measurement_values", "serialisation", "report_sections", "determinism", "other_seed"]
    assert [n for n, _ in adapter_checks()] == [
        "adapter_kind", "predict_outputs", "predict_deterministic", "input_columns", "predict_frame_one_row",
        "predict_frame_no_rows", "generate_in_order"]


def test_one_run_per_seed_is_shared_by_the_checks(plugin_case: SuiteCase) -> None:
    assert plugin_case.run() is plugin_case.run()
    assert plugin_case.run(plugin_case.seed) is not plugin_case.run(plugin_case.seed, fresh=True)


# ----------------------------------------------------------------------- broken suites are caught, by name


class Share(Check):
    """The selection share of the tool's outputs: a well-behaved check the broken fakes build on."""

    name: ClassVar[str] = "share"
    policy_section: ClassVar[str] = "4.2"
    suite: ClassVar[str] = ""
    metric: ClassVar[str] = "overall"

    def value(self, ctx: CheckContext) -> float:
        return float(matches(ctx.predictions.labels, ctx.dataset.card.target.favorable_value).mean())

    def run(self, ctx: CheckContext) -> CheckOutput:
        return CheckOutput(measurements=[Measurement(self.suite, self.name, self.metric, self.value(ctx))])


def suite_of(suite_name: str, *checks: type[Check], **attrs: Any) -> type[Suite]:
    """A suite class named `suite_name` running the given checks, each told which suite it is in (and
    declaring every metric under each check's name as produced, unless `attrs` says otherwise)."""
    made = [type(c.__name__, (c,), {"suite": suite_name}) for c in checks]
    return type(f"Suite_{suite_name}", (Suite,), {
        "name": suite_name, "version": "1", "checks": lambda self, ctx: [c() for c in made],
        "produces": frozenset(f"{c.name}.*" for c in made), **attrs})


class SpacedMetric(Share):
    metric = "selection rate"


class ForeignPrefix(Share):
    def run(self, ctx: CheckContext) -> CheckOutput:
        return CheckOutput(measurements=[Measurement("fake", self.name, "overall", self.value(ctx))])


class Divides(Share):
    name = "divide"

    def run(self, ctx: CheckContext) -> CheckOutput:
        return CheckOutput(measurements=[Measurement(self.suite, self.name, "ratio", 1 / 0)])


class Unseeded(Share):
    name = "draw"

    def run(self, ctx: CheckContext) -> CheckOutput:
        value = float(np.random.default_rng().random())  # the bug: not ctx.rng(self.name)
        return CheckOutput(measurements=[Measurement(self.suite, self.name, "value", value)])


class Positional(Share):
    def __init__(self, cutoff: float = 0.5) -> None:
        super().__init__(cutoff=cutoff)


class Forgetful(Share):
    def __init__(self, *, cutoff: float = 0.5) -> None:
        super().__init__()
        self.cutoff = cutoff


class NoSection(Share):
    policy_section = ""


class Twin(Share):
    metric = "twin"


class OutsideInterval(Share):
    def run(self, ctx: CheckContext) -> CheckOutput:
        return CheckOutput(measurements=[Measurement(self.suite, self.name, "overall", 0.5, ci_low=0.6, ci_high=0.9)])


class Infinite(Share):
    def run(self, ctx: CheckContext) -> CheckOutput:
        return CheckOutput(measurements=[Measurement(self.suite, self.name, "ratio", float("inf"))])


class Twice(Share):
    def run(self, ctx: CheckContext) -> CheckOutput:
        m = Measurement(self.suite, self.name, "overall", self.value(ctx))
        return CheckOutput(measurements=[m, m])


class SeedInKey(Share):
    def run(self, ctx: CheckContext) -> CheckOutput:
        return CheckOutput(measurements=[Measurement(self.suite, self.name, "overall", 0.5, group=f"s{ctx.seed}")])


class SetInTable(Share):
    def run(self, ctx: CheckContext) -> CheckOutput:
        out = super().run(ctx)
        out.tables["share"] = [{"groups": {"F", "M"}}]
        return out


class LaxSettings(BaseModel):
    """A settings model that ignores misspelt keys and has a setting without a default."""

    rows: int


def ragged_sections(self: Suite, result: Any, view: ReportContext) -> list[Section]:
    """Sections with a row short of a cell, an anchor used twice, and a claim on a table the result lacks."""
    view.claim("ragged.nowhere")
    table = TableView(key="ragged.t", kind="note", title="t", columns=["a", "b"], rows=[["1", "2"], ["3"]])
    return [Section("one", "s0-x", [table]), Section("two", "s0-x", [])]


def raising_sections(self: Suite, result: Any, view: ReportContext) -> list[Section]:
    raise KeyError("selection.counts")


BROKEN: list[tuple[type[Suite], list[str]]] = [
    (suite_of("ragged", Share, report_sections=ragged_sections), [
        "report_sections: table 'ragged.t' has rows [1] whose cells do not match its 2 columns",
        "report_sections: section anchor(s) ['s0-x'] are used twice; put view.index in each anchor ('s<index>-...')",
        "report_sections: report_sections claimed ['ragged.nowhere'], which are not tables of the result"]),
    (suite_of("raising", Share, report_sections=raising_sections), [
        "report_sections: report_sections(result, view) raised KeyError: 'selection.counts'; the report could not "
        "show the suite"]),
    (suite_of("spacey", SpacedMetric), [
        "measurement_keys: measurement key 'spacey.share.selection rate': metric 'selection rate' is not words of "
        "letters, digits, _ and - joined by dots (no space or slash)"]),
    (suite_of("mine", ForeignPrefix), [
        "measurement_keys: measurement key 'fake.share.overall' names suite 'fake'; a suite's keys start with its "
        "own name 'mine'"]),
    (suite_of("raiser", Divides), [
        "runs_cleanly: check 'divide' raised: ZeroDivisionError: division by zero"]),
    (suite_of("positional", Positional), [
        "check_params: Positional.__init__ takes ['cutoff'] positionally; check parameters are keyword-only "
        "(def __init__(self, *, ...)) so a call names every setting"]),
    (suite_of("forgetful", Forgetful), [
        "check_params: Forgetful takes ['cutoff'] but does not keep them in self.params; pass them on with "
        "super().__init__(name=value, ...) so the check is logged with its settings"]),
    (suite_of("nosection", NoSection), [
        "check_list: check 'share' (NoSection) cites no policy_section; every finding must name the section of "
        "the City's AI policy it enforces (e.g. '4.2')"]),
    (suite_of("twins", Share, Twin), [
        "check_list: check name(s) ['share'] are used twice; findings and keys of the two would be confused"]),
    (suite_of("bounds", OutsideInterval), [
        "measurement_values: measurement 'bounds.share.overall' = 0.5 lies outside its interval [0.6, 0.9]"]),
    (suite_of("infinite", Infinite), [
        "measurement_values: measurement 'infinite.share.ratio' is inf; a value is finite, or NaN when undefined "
        "(the policy judges NaN INSUFFICIENT)"]),
    (suite_of("twice", Twice), [
        "measurement_keys: measurement key(s) ['twice.share.overall'] are measured more than once; MLflow would "
        "keep only the last"]),
    (suite_of("seedkey", SeedInKey), [
        "other_seed: seeds 0 and 1 measured different keys: only with 0 ['seedkey.share.overall.s0'], only with 1 "
        "['seedkey.share.overall.s1']"]),
    (suite_of("tables", SetInTable), [
        "serialisation: SuiteResult.to_dict() is not JSON after harness.assessment.jsonable (tables ['share']): "
        "TypeError: Object of type set is not JSON serializable"]),
    (suite_of("Upper", Share), [
        "suite_attributes: name 'Upper' is not a lower-case name ([a-z][a-z0-9_-]*); it is the first segment of "
        "every metric key and the entry-point name in group 'harness.suites'"]),
    (suite_of("greedy", Share, applies_to=lambda self, dataset: None), [
        "applies_to: applies_to returned None for a grounded-qa dataset, a task the suite does not list "
        "(binary-classification); return the reason it is SKIPPED"]),
    (suite_of("undeclared", Twin, produces=frozenset({"share.overall"})), [
        "declared_outputs: measured or judged ['share.twin'], which produces does not declare; add them "
        "('<check>.<metric>')"]),
    (suite_of("silent", Share, produces=None), [
        "declared_outputs: produces is not declared; list every '<check>.<metric>' the suite measures or judges "
        "(produces: ClassVar[frozenset[str]]), so `harness policy check` can match the policy's thresholds "
        "against it"]),
    (suite_of("lax", Share, settings_model=LaxSettings), [
        "suite_attributes: settings_model LaxSettings accepts unknown keys; set model_config = "
        "ConfigDict(extra='forbid') so a misspelt setting is an error, not a silently ignored default",
        "suite_attributes: settings_model LaxSettings cannot be built from defaults (ValidationError); give every "
        "setting a default, as a policy may leave it out"]),
    (suite_of("tasky", Share, tasks=("binary-classification", "time-series")), [
        "suite_attributes: tasks ['time-series'] are not dataset tasks (binary-classification, grounded-qa, "
        "regression, generation, prompt-attacks); no card can declare them"]),
]


@pytest.mark.parametrize(("suite", "expected"), BROKEN, ids=[s.name for s, _ in BROKEN])
def test_a_broken_suite_fails_with_the_rule_it_breaks(small: ReferenceDataset, suite: type[Suite],
                                                      expected: list[str]) -> None:
    assert messages(check_suite(suite, small, seed=0, on_fail=None)) == expected


def test_the_seed_defaults_to_the_policy_seed(small: ReferenceDataset) -> None:
    from harness.policy import load_policy

    policy = load_policy().model_copy(update={"seed": 41})
    assert SuiteCase(suite_of("s", Share), small, policy=policy).seed == 41
    assert SuiteCase(suite_of("s", Share), small, policy=policy, seed=3).seed == 3
    failures = check_suite(suite_of("seedkey", SeedInKey), small, policy=policy, on_fail=None)
    assert messages(failures) == [
        "other_seed: seeds 41 and 42 measured different keys: only with 41 ['seedkey.share.overall.s41'], only with "
        "42 ['seedkey.share.overall.s42']"]


def test_an_unseeded_random_draw_fails_determinism(small: ReferenceDataset) -> None:
    failures = check_suite(suite_of("noisy", Unseeded), small, seed=7, on_fail=None)
    assert [f.check for f in failures] == ["determinism"]
    assert re.fullmatch(
        r"two runs with seed 7 gave different numbers for 1 measurement\(s\), e\.g\. noisy\.draw\.value: "
        r"0\.\d+ then 0\.\d+; draw random numbers from ctx\.rng\(salt\), which is seeded per check \(a wall-clock "
        r"figure belongs in nondeterministic=\[\.\.\.\]\)", failures[0].message)
    # named as wall-clock, the same key is exempt
    assert check_suite(suite_of("noisy", Unseeded), small, nondeterministic=["noisy.draw.*"], on_fail=None) == []


def test_a_seeded_draw_passes_and_may_differ_between_seeds(small: ReferenceDataset) -> None:
    class Seeded(Share):
        name = "draw"

        def run(self, ctx: CheckContext) -> CheckOutput:
            return CheckOutput(measurements=[Measurement(self.suite, self.name, "value",
                                                         float(ctx.rng(self.name).random()))])

    case = SuiteCase(suite_of("seeded", Seeded), small)
    assert check_suite(suite_of("seeded", Seeded), small, on_fail=None) == []
    a, b = case.run().result.measurements[0].value, case.run(case.seed + 1).result.measurements[0].value
    assert a != b


def test_by_default_every_failure_is_raised_at_once(small: ReferenceDataset) -> None:
    """One AssertionError listing every broken rule, as scikit-learn's check_estimator(on_fail='raise')."""
    suite = suite_of("both", SpacedMetric, NoSection)
    with pytest.raises(ConformanceError) as info:
        check_suite(suite, small)
    assert isinstance(info.value, AssertionError)
    assert str(info.value) == (
        "suite 'both' on dataset 'case-0' failed 3 conformance check(s):\n"
        "- check_list: check 'share' (NoSection) cites no policy_section; every finding must name the section of "
        "the City's AI policy it enforces (e.g. '4.2')\n"
        "- check_list: check name(s) ['share'] are used twice; findings and keys of the two would be confused\n"
        "- measurement_keys: measurement key 'both.share.selection rate': metric 'selection rate' is not words of "
        "letters, digits, _ and - joined by dots (no space or slash)")
    assert [f.check for f in info.value.failures] == ["check_list", "check_list", "measurement_keys"]


def test_a_clean_suite_raises_nothing_and_returns_no_failure(small: ReferenceDataset) -> None:
    assert check_suite(suite_of("clean", Share), small) == []


def test_a_tool_that_cannot_predict_is_a_bad_set_up_not_a_suite_failure(small: ReferenceDataset) -> None:
    def broken(frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("model file truncated")

    with pytest.raises(ConfigError, match=r"^the tool given to check suite 'clean' on dataset 'case-0' failed to "
                                          r"predict: ToolError: tool 'broken' raised RuntimeError during prediction: "
                                          r"model file truncated; check it with check_adapter first$"):
        check_suite(suite_of("clean", Share), small, PythonTool(fn=broken, name="broken"))


def test_on_fail_takes_raise_or_none(small: ReferenceDataset) -> None:
    with pytest.raises(ConfigError, match=r"^on_fail must be 'raise' or None, got 'warn'$"):
        check_suite(suite_of("clean", Share), small, on_fail="warn")  # type: ignore[arg-type]


def test_a_suite_whose_after_all_raises_is_named(small: ReferenceDataset) -> None:
    def after_all(self: Suite, ctx: CheckContext, results: list[Any]) -> CheckOutput:
        raise KeyError("baseline")

    failures = check_suite(suite_of("late", Share, after_all=after_all), small, on_fail=None)
    runs = {f.message for f in failures if f.check == "runs_cleanly"}
    assert runs == {"Suite_late.after_all raised KeyError: 'baseline'"}


# ---------------------------------------------------------------------------- built-in adapters conform


def test_the_predictions_adapter_conforms(small: ReferenceDataset, case_files: tuple[Path, Path]) -> None:
    assert check_adapter(load_tool(load_manifest(case_files[0])), small) == []


def test_the_python_adapter_conforms(small: ReferenceDataset, tmp_path: Path) -> None:
    tool_path, _ = write_case(tmp_path, n=600, seed=0, kind="python")
    tool_path.write_text(tool_path.read_text().replace("{callable}", "tests.test_conformance:rule"))
    tool = load_tool(load_manifest(tool_path))
    assert isinstance(tool, PythonTool) and tool.fn.__name__ == "rule"  # loaded through the manifest
    assert check_adapter(tool, small) == []


def test_the_sklearn_adapter_conforms() -> None:
    tool = load_tool(load_manifest(EXAMPLES / "rental_assistance" / "vendor_tool.yaml"))
    assert check_adapter(tool, load_dataset("rental-assistance")) == []


def test_the_generative_python_adapter_conforms(qa: ReferenceDataset) -> None:
    assert check_adapter(load_tool(load_manifest(QA_BASELINE)), qa) == []


def test_the_responses_adapter_conforms(qa: ReferenceDataset, tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "answer": "" if k % 3 else f"Answer {k}."}) for k, i in enumerate(qa.ids)]
    (tmp_path / "answers.jsonl").write_text("\n".join(lines) + "\n")
    manifest = tmp_path / "tool.yaml"
    manifest.write_text(MANIFEST.format(id="responses-tool").replace("decision-support", "generative")
                        + "adapter:\n  kind: responses\n  path: answers.jsonl\n")
    assert check_adapter(load_tool(load_manifest(manifest)), qa) == []


def test_the_openai_adapter_conforms_over_real_http(qa: ReferenceDataset, tmp_path: Path) -> None:
    from harness.tools.openai import OpenAITool

    answer = import_callable("qa_tools:answer_baseline", EXAMPLES / "city_services_qa")
    with ChatServer(answer) as url:
        tool = OpenAITool(name="served-baseline", base_url=url, model="baseline", concurrency=8,
                          cache_dir=tmp_path / "cache")
        assert check_adapter(tool, qa) == []


# ------------------------------------------------------------------------ broken adapters are caught, by name


class FakeAdapter:
    """A minimal adapter over write_case data: the rule's labels and scores, spoilt by `spoil`."""

    kind = "fake"

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        labels, scores = rule(dataset.frame)
        return self.spoil(labels, scores)

    def spoil(self, labels: np.ndarray, scores: np.ndarray) -> Predictions:
        return Predictions(labels=labels, scores=scores)


class OneShort(FakeAdapter):
    def spoil(self, labels: np.ndarray, scores: np.ndarray) -> Predictions:
        return Predictions(labels=labels[:-1], scores=scores[:-1])


class OverOne(FakeAdapter):
    def spoil(self, labels: np.ndarray, scores: np.ndarray) -> Predictions:
        scores = scores.copy()
        scores[::100] = 1.25  # rows 0, 100, ..., 500 of 600
        return Predictions(labels=labels, scores=scores)


class Drifting(FakeAdapter):
    calls = 0

    def spoil(self, labels: np.ndarray, scores: np.ndarray) -> Predictions:
        self.calls += 1
        return Predictions(labels=labels, scores=scores * (0.9 if self.calls > 1 else 1.0))


class CrashesOnEmpty(FakeAdapter):
    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        return ["income"]

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        if frame.empty:
            raise ValueError("Found array with 0 sample(s)")
        labels, scores = rule(frame)
        return Predictions(labels=labels, scores=scores)


class WrongColumns(CrashesOnEmpty):
    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        return ["income", "zip_code"]

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        raise ToolError("no zip_code")


BROKEN_ADAPTERS: list[tuple[FakeAdapter, list[str]]] = [
    (OneShort(), ["predict_outputs: predict(dataset) returned 599 labels for 600 rows; expected one per row",
                  "predict_outputs: predict(dataset) returned scores of shape (599,) for 600 rows; expected one per "
                  "row"]),
    (OverOne(), ["predict_outputs: predict(dataset) returned 6 score(s) outside [0, 1] (e.g. 1.25); scores are the "
                 "probability of the favourable outcome"]),
    (Drifting(), ["predict_deterministic: two calls of predict(dataset) gave different scores; the same inputs must "
                  "give the same outputs (seed any sampling, or cache the answers)"]),
    (CrashesOnEmpty(), ["predict_frame_no_rows: predict_frame on a 0-row frame raised ValueError: Found array with 0 "
                        "sample(s); return empty Predictions or raise harness.errors.ToolError with a message"]),
    (WrongColumns(), ["input_columns: input_columns(dataset) names column(s) ['zip_code'] that dataset 'case-0' does "
                      "not have",
                      "predict_frame_one_row: raised ConfigError: the tool expects column(s) ['zip_code'] that "
                      "dataset 'case-0' does not have",
                      "predict_frame_no_rows: raised ConfigError: the tool expects column(s) ['zip_code'] that "
                      "dataset 'case-0' does not have"]),
]


@pytest.mark.parametrize(("tool", "expected"), BROKEN_ADAPTERS, ids=[type(t).__name__ for t, _ in BROKEN_ADAPTERS])
def test_a_broken_adapter_fails_with_the_rule_it_breaks(small: ReferenceDataset, tool: FakeAdapter,
                                                        expected: list[str]) -> None:
    assert messages(check_adapter(tool, small, on_fail=None)) == expected


def test_an_adapter_that_raises_a_tool_error_on_no_rows_conforms(small: ReferenceDataset) -> None:
    class ClearOnEmpty(CrashesOnEmpty):
        def predict_frame(self, frame: pd.DataFrame) -> Predictions:
            if frame.empty:
                raise ToolError("tool 'fake' cannot score an empty batch")
            return super().predict_frame(frame)

    assert check_adapter(ClearOnEmpty(), small) == []


def test_predict_frame_must_agree_with_predict(small: ReferenceDataset) -> None:
    class Inverted(CrashesOnEmpty):
        def predict_frame(self, frame: pd.DataFrame) -> Predictions:
            labels, scores = rule(frame)
            return Predictions(labels=1 - labels, scores=1 - scores)

    first = rule(small.frame)[0][0]
    assert messages(check_adapter(Inverted(), small, on_fail=None)) == [
        f"predict_frame_one_row: predict_frame on the first row gave the label {np.int64(1 - first)!r}, "
        f"predict(dataset) {np.int64(first)!r}; both must run the same model"]


def test_a_generative_adapter_must_keep_the_order_of_items(qa: ReferenceDataset) -> None:
    class Sorting:
        """Answers each question with itself, but returns them sorted: the order of the items is lost."""

        kind = "fake"
        name = "sorting"

        def predict(self, dataset: ReferenceDataset) -> Predictions:
            answers = [str(q) for q in dataset.frame["question"]]
            return Predictions(labels=np.asarray(answers, dtype=object), answers=answers)

        def generate(self, items: pd.DataFrame, sample: int = 0) -> Predictions:
            answers = sorted(str(q) for q in items["question"])
            return Predictions(labels=np.asarray(answers, dtype=object), answers=answers)

    assert messages(check_adapter(Sorting(), qa, on_fail=None)) == [
        "generate_in_order: generate gave different answers for the same 3 items asked in reverse order; answers "
        "must come back in the order of the items"]


def test_a_generative_adapter_must_answer_in_text(qa: ReferenceDataset) -> None:
    class Numbers:
        kind = "fake"

        def predict(self, dataset: ReferenceDataset) -> Predictions:
            return Predictions(labels=np.zeros(len(dataset.frame)), answers=list(range(len(dataset.frame))),
                               errors=[None] * (len(dataset.frame) - 1))

    assert messages(check_adapter(Numbers(), qa, on_fail=None)) == [
        "predict_outputs: predict(dataset) returned answers of type ['int']; answers are text ('' for an abstention)",
        "predict_outputs: predict(dataset) returned 275 errors for 276 items; expected one per item (None when the "
        "item was answered)"]


def test_an_adapter_that_cannot_predict_fails_every_rule_that_needs_its_outputs(small: ReferenceDataset) -> None:
    class Down(FakeAdapter):
        kind = ""

        def predict(self, dataset: ReferenceDataset) -> Predictions:
            raise ToolError("endpoint unreachable")

    case = AdapterCase(Down(), small)
    assert messages(check_adapter(Down(), small, on_fail=None)) == [
        "adapter_kind: Down has kind ''; an adapter declares its kind (e.g. 'python')",
        "predict_outputs: predict(dataset) raised ToolError: endpoint unreachable",
        "predict_deterministic: predict(dataset) raised ToolError: endpoint unreachable"]
    assert case.subject == "adapter '' (Down) on dataset 'case-0'"
