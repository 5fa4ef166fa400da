"""harness.background: a call made in the second process gives exactly what the call made here gives (its value,
or its exception's type and message), and nothing that goes wrong with the worker changes an outcome; and the
data-only checks started early (`DataChecks`) give the suite result running them in place gives.

The test session runs with HARNESS_BACKGROUND=0 (conftest: the two xdist workers already use both cores); each
test here switches it on for itself."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict
from typing import Any

import pytest

from harness import background
from harness.assessment import DataChecks, jsonable, run_suite
from harness.check import Check, CheckContext, CheckOutput, Measurement, run_data_checks
from harness.datasets import load_dataset
from harness.manifest import load_manifest
from harness.plugins import load_suite
from harness.policy import load_policy
from tests.conftest import ROOT


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(background.ENV, "1")
    if background.usable_cores() < 2:
        pytest.skip("one usable CPU: harness.background runs every call in this process")
    yield
    background.shutdown()


def _worker_pids() -> list[int]:
    pool = background._pool  # the test kills the worker the module keeps
    return [p.pid for p in (getattr(pool, "_processes", None) or {}).values() if p.pid is not None]


def test_a_value_and_an_error_cross_unchanged(on: Any) -> None:
    got = background.submit(sorted, [3, 1, 2])
    assert got.in_background and got.result() == [1, 2, 3]
    assert _worker_pids() and os.getpid() not in _worker_pids()
    bad = background.submit(int, "twelve")
    assert bad.in_background
    with pytest.raises(ValueError, match=r"^invalid literal for int\(\) with base 10: 'twelve'$"):
        bad.result()


def test_switched_off_or_unpicklable_runs_here(monkeypatch: pytest.MonkeyPatch, on: Any) -> None:
    f = lambda: 1  # noqa: E731 - a lambda cannot be pickled, which is the point
    here = background.submit(sorted, (f,))
    assert not here.in_background and here.result() == [f]
    monkeypatch.setenv(background.ENV, "0")
    off = background.submit(sorted, [2, 1])
    assert not off.in_background and off.result() == [1, 2]


def test_a_killed_worker_costs_time_not_the_answer(on: Any) -> None:
    got = background.submit(subprocess.check_output, ["sh", "-c", "sleep 2; echo done"])
    deadline = time.monotonic() + 30
    while not _worker_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in _worker_pids():
        os.kill(pid, signal.SIGKILL)
    assert got.result() == b"done\n"  # made again, here
    again = background.submit(sorted, [2, 1])  # a fresh worker replaces the dead one
    assert again.in_background and again.result() == [1, 2]


def test_cancelling_a_running_call_stops_its_worker(on: Any) -> None:
    slow = background.submit(subprocess.check_output, ["sleep", "60"])
    deadline = time.monotonic() + 30
    while not _worker_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let the call start
    pids = _worker_pids()
    slow.cancel()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
        os.kill(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        return False
    return True


class Broken(Check):
    """A data-only check that fails, as a check with a bug would."""

    name = "broken"
    data_only = True

    def run(self, ctx: CheckContext) -> CheckOutput:
        raise KeyError(f"no column 'x' in {ctx.dataset.name}")


class Rows(Check):
    name = "rows"
    data_only = True

    def run(self, ctx: CheckContext) -> CheckOutput:
        return CheckOutput(measurements=[Measurement("t", self.name, "n", float(len(ctx.frame)))])


def test_an_error_of_a_check_is_its_own_outcome(on: Any) -> None:
    ds = load_dataset("rental-assistance")
    manifest = load_manifest(ROOT / "examples" / "rental_assistance" / "fair_tool.yaml")
    ctx = CheckContext(dataset=ds, predictions=None, policy=load_policy(), manifest=manifest,  # type: ignore[arg-type]
                       seed=1)
    far = background.submit(run_data_checks, [Broken(), Rows()], ctx).result()
    near = run_data_checks([Broken(), Rows()], ctx)
    assert [type(o).__name__ for o in far] == ["KeyError", "CheckOutput"]
    assert str(far[0]) == str(near[0]) == '"no column \'x\' in rental-assistance"'
    assert far[1] == near[1] and near[1].measurements[0].value == float(len(ds.frame))


@pytest.mark.slow
def test_early_data_checks_give_the_suite_result_running_them_in_place_gives(on: Any) -> None:
    """Great Expectations in the worker, on the demo data: the data_quality suite's result (findings, measurements,
    tables and the scrubbed GX artifact) equals the result of the same suite run in this process."""
    from harness.tools import load_tool

    manifest_path = ROOT / "examples" / "rental_assistance" / "vendor_tool.yaml"
    manifest = load_manifest(manifest_path)
    policy = load_policy()
    ds = load_dataset("rental-assistance")
    tool = load_tool(manifest, None, policy=policy)
    suite = load_suite("data_quality")()
    early = DataChecks.start([ds], [suite], policy, manifest)
    ctx = CheckContext(dataset=ds, predictions=tool.predict(ds), policy=policy, manifest=manifest, seed=policy.seed,
                       tool=tool)
    far = run_suite(suite, ctx, early)
    near = run_suite(suite, ctx)
    assert _plain(far) == _plain(near)
    assert far.artifacts["gx_validation"]["results"]  # the GX results are compared, only their run stamps are not
    assert {f.check for f in far.findings} >= {"expectations", "pii", "outputs"}
    assert early.take(ds.name, suite.name) == {}  # taken once


def _plain(result: Any) -> str:
    """The suite result as JSON, without the stamps GX gives every validation (its time, the batch id with the
    time in it, a UUID per expectation), which differ between two runs in the same process too."""
    out = jsonable(asdict(result))
    gx = out["artifacts"]["gx_validation"]
    gx.pop("meta")
    for r in gx["results"]:
        r["expectation_config"].pop("id")  # a fresh UUID per expectation object
    return json.dumps(out, sort_keys=True)


class Sleepy(Check):
    name = "sleepy"
    data_only = True

    def run(self, ctx: CheckContext) -> CheckOutput:
        time.sleep(1.0)
        return CheckOutput(measurements=[Measurement("t", self.name, "n", float(len(ctx.frame)))])


class Slow:
    """A suite of one slow data-only check (only what DataChecks and run_suite read of a Suite)."""

    name = "slow"
    version = "1"

    def applies_to(self, ds: Any) -> str | None:
        return None

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [Sleepy()]


@pytest.mark.parametrize("switch", ["1", "0"])
def test_while_the_worker_finishes_the_caller_does_its_own_work_once(switch: str, on: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(background.ENV, switch)
    ds = load_dataset("rental-assistance")
    manifest = load_manifest(ROOT / "examples" / "rental_assistance" / "fair_tool.yaml")
    early = DataChecks.start([ds], [Slow()], load_policy(), manifest)  # type: ignore[list-item]
    calls: list[int] = []
    early.idle = lambda: calls.append(1)
    got = early.take(ds.name, "slow")
    assert [o.measurements[0].value for o in got.values()] == [float(len(ds.frame))]  # type: ignore[union-attr]
    assert calls == ([1] if switch == "1" else [])  # in place, nothing is waited for
    assert early.take(ds.name, "slow") == {} and calls == ([1] if switch == "1" else [])


def test_data_changed_after_the_start_means_the_checks_run_in_place(on: Any) -> None:
    """A tool that left rows unanswered: the checks see the answered rows only (harness.assessment.answered_rows),
    so what was started on the whole dataset is not used."""
    ds = load_dataset("rental-assistance")
    manifest = load_manifest(ROOT / "examples" / "rental_assistance" / "fair_tool.yaml")
    early = DataChecks.start([ds], [Slow()], load_policy(), manifest)  # type: ignore[list-item]
    early.discard(ds.name)
    assert early.take(ds.name, "slow") == {}
