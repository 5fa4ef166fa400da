"""The assessment as a library call: outputs computed once, broken checks contained, results stable."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.assessment import AssessmentResult, assess
from harness.check import Check, CheckContext, CheckOutput, Suite
from harness.datasets import load_dataset
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.tools import load_tool
from harness.verdict import Verdict
from test_suites.bias import BiasSuite
from tests.conftest import write_case


class Counting:
    def __init__(self) -> None:
        self.frames = []

    @property
    def calls(self) -> int:
        return len(self.frames)

    def __call__(self, frame):
        self.frames.append(frame)
        return (frame["income"] > 50).astype(int).to_numpy()


def _inputs(tmp_path: Path, seed: int = 51):
    tool_path, card = write_case(tmp_path, n=2000, seed=seed, kind="python")
    tool_path.write_text(tool_path.read_text().replace("{callable}", "numpy:zeros"))
    return load_manifest(tool_path), load_dataset(str(card))


def test_tool_outputs_are_computed_once_and_shared(tmp_path: Path) -> None:
    manifest, ds = _inputs(tmp_path)
    fn = Counting()
    result = assess(manifest, load_tool(manifest, fn), [ds], [BiasSuite(), BiasSuite()], load_policy())
    original = ds.frame[ds.card.features]
    # the reference inputs are predicted once; every other call is a counterfactual with one column changed
    assert sum(f.equals(original) for f in fn.frames) == 1
    for f in fn.frames:
        assert sum(not f[c].equals(original[c]) for c in original) <= 1
    assert fn.calls == 1 + 2 * 2  # + (sex, race) flipped, once per suite
    assert len(result.suites) == 2 and len(result.findings) > 0


class Exploding(Check):
    name = "exploding"
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        raise ZeroDivisionError("division by zero")


class BrokenSuite(Suite):
    name = "broken"

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [Exploding()]


def test_a_check_that_raises_is_an_error_finding_that_fails_the_assessment(tmp_path: Path) -> None:
    manifest, ds = _inputs(tmp_path)
    result = assess(manifest, load_tool(manifest, Counting()), [ds], [BiasSuite(), BrokenSuite()], load_policy())
    err = [f for f in result.findings if f.status.value == "ERROR"]
    assert [f.message for f in err] == ["check 'exploding' could not compute: ZeroDivisionError: division by zero"]
    assert result.verdict is Verdict.FAIL
    # the bias suite's evidence is still there
    assert any(f.suite == "bias" for f in result.findings)


def test_same_inputs_and_seed_give_the_same_numbers_and_json_round_trips(tmp_path: Path) -> None:
    manifest, ds = _inputs(tmp_path)
    runs = [assess(manifest, load_tool(manifest, Counting()), [ds], [BiasSuite()], load_policy(), seed=5)
            for _ in range(2)]
    a, b = (r.to_dict() for r in runs)
    for d in (a, b):
        d.pop("started_at"), d.pop("finished_at"), d.pop("duration_s")
    assert a == b
    again = AssessmentResult.from_dict(runs[0].to_dict())
    assert again.to_dict() == runs[0].to_dict()
    # another seed moves the bootstrap bounds, not the point estimates
    other = assess(manifest, load_tool(manifest, Counting()), [ds], [BiasSuite()], load_policy(), seed=6)
    pts = lambda r: {m.key: m.value for m in r.measurements}  # noqa: E731
    assert pts(other) == pts(runs[0])
    assert {m.key: m.ci_low for m in other.measurements} != {m.key: m.ci_low for m in runs[0].measurements}


def test_a_task_the_suite_cannot_assess_is_skipped_with_the_reason(tmp_path: Path) -> None:
    manifest, ds = _inputs(tmp_path)

    class QA(Suite):
        name = "qa"
        tasks = ("grounded-qa",)

    result = assess(manifest, load_tool(manifest, Counting()), [ds], [QA(), BiasSuite()], load_policy())
    skipped = result.suites[0]
    assert skipped.status == "SKIPPED"
    assert skipped.skipped_reason == "suite 'qa' assesses grounded-qa data; 'case-51' is binary-classification"
    assert np.isfinite([m.value for m in result.suites[1].measurements if m.metric == "ratio"]).all()
