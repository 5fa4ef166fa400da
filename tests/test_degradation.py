"""The degradation suite: robustness (overall and per group), graceful failure, drift, on tools made
robust or brittle on purpose, on generated data whose answers are known and on Adult."""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.assessment import run_suite
from harness.check import Check, CheckContext, Suite
from harness.datasets import DatasetCard, ReferenceDataset, load_dataset
from harness.findings import Severity, Status
from harness.manifest import ToolManifest, load_manifest
from harness.measures.perturb import perturb, plan_columns
from harness.policy import Policy, load_policy
from harness.stats import wilson_interval
from harness.tools import Predictions, load_tool
from harness.tools.python import PythonTool
from harness.verdict import SuiteResult
from test_suites.degradation import DegradationSuite
from test_suites.degradation.calls import (
    CLEAR_ERROR,
    CRASH,
    HANG,
    INVALID_OUTPUT,
    RESULT,
    call_tool,
    is_clear,
    timed_call,
)
from test_suites.degradation.drift import NO_CURRENT, Drift, psi
from test_suites.degradation.robustness import (
    Effect,
    Robustness,
    auc_and_components,
    paired_auc_drop,
    row_states,
)
from tests.conftest import MANIFEST, write_case

JOBS = ("clerk", "driver", "nurse", "teacher")
FEATURES = ["sex", "race", "income", "savings", "hours", "job"]


def make_dataset(n: int = 4000, seed: int = 7) -> ReferenceDataset:
    """Two latent classes (qualified or not) that income and savings separate well (few rows near the
    tools' thresholds), hours weakly; the label is the class with 5 % of labels noisy."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2])
    qualified = rng.random(n) < 0.45
    income = np.where(qualified, rng.normal(72, 6, n), rng.normal(34, 6, n)).round(2)
    savings = np.where(qualified, rng.normal(30, 4, n), rng.normal(10, 4, n)).round(2)
    hours = np.clip(rng.normal(np.where(qualified, 42, 38), 6), 1, 80).round().astype(np.int64)
    job = rng.choice(JOBS, n)
    label = np.where(rng.random(n) < 0.05, ~qualified, qualified).astype(int)
    frame = pd.DataFrame({"sex": sex, "race": race, "income": income, "savings": savings, "hours": hours,
                          "job": job, "approved": label})
    card = DatasetCard.model_validate({
        "name": f"degradation-case-{seed}", "version": "1", "task": "binary-classification", "file": "data.csv",
        "sha256": "0" * 64, "source": "https://example.org/generated", "license": "CC0-1.0",
        "target": {"column": "approved", "positive": 1}, "features": FEATURES,
        "protected_attributes": {"sex": {"reference": "M"}, "race": {"reference": "A"}}})
    return ReferenceDataset(card=card, card_path=Path("card.yaml"), data_path=Path("data.csv"), frame=frame,
                            sha256="0" * 64)


def manifest(tool_id: str = "deg-tool") -> ToolManifest:
    text = MANIFEST.format(id=tool_id) + "adapter:\n  kind: python\n  callable: numpy:zeros\n"
    return ToolManifest.model_validate(yaml.safe_load(text))


def policy(**degradation: Any) -> Policy:
    base = load_policy()
    settings = {**base.settings, "degradation": {**base.settings["degradation"], "large_batch_rows": 5000,
                                                 **degradation}}
    return base.model_copy(update={"bootstrap_samples": 300, "settings": settings})


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(frame[col]):
        raise TypeError(f"column {col!r} must be numeric, got {frame[col].dtype}")
    return frame[col].to_numpy(dtype=float, na_value=np.nan)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def robust_tool(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Averages the evidence it has (a missing input is left out, not guessed), validates types with
    messages that name the column, and answers an empty batch with nothing."""
    z = np.column_stack([(_numeric(frame, "income") - 53) / 19, (_numeric(frame, "savings") - 20) / 10])
    known = np.isfinite(z)
    evidence = np.where(known, z, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1)
    score = _sigmoid(6 * evidence)
    return (score > 0.5).astype(int), score


def missing_breaks_it(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Brittle on purpose: a lookup table per job, indexed without a thought for missing or new values."""
    bonus = {"clerk": 0.0, "driver": 0.1, "nurse": 0.2, "teacher": 0.1}
    extra = np.array([bonus[v] for v in frame["job"]], dtype=float)  # KeyError on NaN or an unseen job
    labels, score = robust_tool(frame)
    return labels, np.clip(score + 0.01 * extra, 0, 1)


def degrades_for_women(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Brittle for one group on purpose: for women it relies on a pattern in income too fine to survive
    measurement noise (as a model overfitted to a small sample of women might), for men on the broad
    evidence. Under the same noise, women's decisions flip far more often than men's."""
    labels, score = robust_tool(frame)
    income = _numeric(frame, "income")
    women = (frame["sex"] == "F").to_numpy()
    fine = _sigmoid(4 * np.sin(income))
    return np.where(women, (fine > 0.5).astype(int), labels), np.where(women, fine, score)


def context(ds: ReferenceDataset, fn: Any = None, *, pol: Policy | None = None, tool: Any = None,
            **kw: Any) -> CheckContext:
    tool = tool if tool is not None else PythonTool(fn=fn, name="deg-tool")
    return CheckContext(dataset=ds, predictions=tool.predict(ds), policy=pol or policy(), manifest=manifest(),
                        seed=11, tool=tool, **kw)


def only(*checks: Check) -> Suite:
    class One(Suite):
        name = "degradation"
        tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)

        def checks(self, ctx: CheckContext) -> list[Check]:
            return list(checks)

    return One()


def by_key(result: SuiteResult) -> dict[str, Any]:
    return {f.key: f for f in result.findings}


@pytest.fixture(scope="module")
def ds() -> ReferenceDataset:
    return make_dataset()


# ---- perturbations --------------------------------------------------------------------------------


def test_perturbations_are_scaled_seeded_and_touch_only_the_tools_inputs(ds: ReferenceDataset) -> None:
    frame = ds.frame[FEATURES]
    plan = plan_columns(frame, ["income", "savings", "hours", "job"])
    assert plan.numeric == ("income", "savings", "hours") and plan.categorical == ("job",)
    rng = lambda: np.random.default_rng(5)  # noqa: E731
    noisy = perturb(frame, plan, "noise", 0.25, rng())
    assert noisy.equals(perturb(frame, plan, "noise", 0.25, rng()))  # seeded
    assert noisy[["sex", "race", "job"]].equals(frame[["sex", "race", "job"]])  # untouched columns
    assert noisy["hours"].dtype == frame["hours"].dtype  # integers stay integers
    shift = (noisy["savings"] - frame["savings"]).std()
    assert shift == pytest.approx(0.25 * frame["savings"].std(), rel=0.08)  # clipping trims a little
    assert noisy["income"].between(frame["income"].min(), frame["income"].max()).all()
    recoded = perturb(frame, plan, "categorical", 0.4, rng())
    changed = (recoded["job"] != frame["job"]).mean()
    assert changed == pytest.approx(0.4 * (1 - 1 / len(JOBS)), abs=0.03)  # a redraw can give the same job back
    assert str(recoded["job"].dtype) == str(frame["job"].dtype)
    gone = perturb(frame, plan, "missing", 0.1, rng())
    assert gone[["income", "savings", "hours", "job"]].isna().mean().between(0.08, 0.12).all()
    assert gone[["sex", "race"]].notna().all().all()


def test_effect_counts_flips_and_paired_accuracy_drop_by_hand() -> None:
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    flips = np.array([1, 0, 1, 0, 0, 0, 0, 1], dtype=np.int8)
    d = np.array([1, 0, -1, 0, 0, 0, 0, 1], dtype=np.int8)  # 1: right before, wrong after
    right = np.array([1, 1, 0, 0, 1, 1, 1, 1], dtype=np.int8)
    e = Effect.of(codes, 2, row_states(flips, d, right))
    rate, lo, hi = e.flip_rate(0.95)
    assert rate.tolist() == [0.5, 0.25]
    wl, wh = wilson_interval(np.array([2, 1]), np.array([4, 4]))
    assert np.allclose(lo, wl) and np.allclose(hi, wh)
    drop, _, dhi = e.accuracy_drop(0.95)
    assert drop.tolist() == [0.0, 0.25]
    sd = np.std([0, 0, 0, 1], ddof=1)
    assert dhi[1] - drop[1] == pytest.approx(1.959964 * sd / 2, rel=1e-5)
    before, after = e.accuracy()
    assert before.tolist() == [0.5, 1.0] and after.tolist() == [0.5, 0.75]


def test_auc_components_match_sklearn_and_the_midrank_form_and_an_unchanged_score_drops_nothing() -> None:
    from scipy.stats import rankdata
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s = np.round(y * 0.3 + rng.random(500), 2)  # ties on purpose
    auc, v10, v01 = auc_and_components(s, y)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    # Sun and Xu's midrank form of DeLong's components (three rankings) as the oracle for the one-sort form
    pos, neg = s[y == 1], s[y == 0]
    ranks = rankdata(np.concatenate([pos, neg]))
    assert np.allclose(v10, (ranks[: len(pos)] - rankdata(pos)) / len(neg))
    assert np.allclose(v01, 1 - (ranks[len(pos):] - rankdata(neg)) / len(pos))
    before, after, drop, lo, hi = paired_auc_drop(s, s, y, 0.95)
    assert before == after and drop == lo == hi == 0


# ---- the call machinery ---------------------------------------------------------------------------


def test_a_hung_call_is_abandoned_at_the_timeout() -> None:
    release = threading.Event()
    try:
        status, _, seconds = timed_call(lambda _x: release.wait(10), None, 0.2)
        assert status == "hung" and seconds == 0.2
    finally:
        release.set()
    assert timed_call(lambda x: x + 1, 1, 1.0)[:2] == ("returned", 2)
    status, exc, _ = timed_call(lambda _x: 1 / 0, None, 1.0)
    assert status == "raised" and isinstance(exc, ZeroDivisionError)


@pytest.mark.parametrize(("error", "mode", "clear"), [
    (ValueError("column 'income' has a missing value"), "named", True),
    (ValueError("Input X contains NaN."), "named", True),       # names the problem
    (ValueError("bad input"), "named", False),                  # says nothing useful
    (ValueError("bad input"), "typed", True),
    (TypeError("income must be numeric"), "named", True),
    (KeyError("income"), "named", False),                       # a lookup that failed: a crash
    (RuntimeError("missing value in income"), "named", False),  # untyped
    (ValueError(""), "typed", False),
])
def test_what_counts_as_a_clear_error(error: Exception, mode: str, clear: bool) -> None:
    assert is_clear(error, ("income", "nan", "missing"), mode) is clear


def test_outputs_that_are_not_one_answer_per_row_are_invalid(ds: ReferenceDataset) -> None:
    frame = ds.frame[FEATURES].head(10)
    short = PythonTool(fn=lambda f: np.zeros(len(f) - 1), name="short")
    assert call_tool(short, frame, 1.0).outcome == INVALID_OUTPUT
    ok = PythonTool(fn=lambda f: np.zeros(len(f)), name="ok")
    assert call_tool(ok, frame, 1.0).outcome == RESULT


# ---- the suite on tools made robust or brittle on purpose ----------------------------------------


def test_a_robust_tool_passes_every_check_with_one_call_per_perturbation(ds: ReferenceDataset) -> None:
    sizes: list[int] = []

    def counted(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        sizes.append(len(frame))
        return robust_tool(frame)

    ctx = context(ds, counted)
    sizes.clear()
    result = run_suite(DegradationSuite(), ctx)
    found = by_key(result)
    judged = {k: f for k, f in found.items() if f.check in ("robustness", "graceful_failure", "drift")}
    bad = {k: (f.status, f.message) for k, f in judged.items() if f.status not in (Status.PASS, Status.SKIPPED)}
    assert not bad
    for kind in ("noise", "categorical", "missing"):
        assert found[f"degradation.robustness.flip_rate.{kind}"].status is Status.PASS
        assert found[f"degradation.robustness.flip_rate_gap.{kind}.sex"].status is Status.PASS
    assert found["degradation.robustness.auc_drop.noise"].status is Status.PASS
    # one call on the whole data per kind x severity, never per group or per metric (plus the drift
    # check's none: no current sample), and the graceful-failure batches
    assert sizes.count(len(ds.frame)) == 3 * 3
    assert found["degradation.drift.psi"].message == NO_CURRENT
    assert found["degradation.regression.vs_baseline"].message.startswith("no approved baseline for deg-tool 1.0")
    for case in ("normal", "nulls", "out_of_range", "unseen_categories", "wrong_types", "empty", "large_batch"):
        assert found[f"degradation.graceful_failure.failure.{case}"].status is Status.PASS, case
    rows = {r["case"]: r for r in result.tables["degradation.graceful_failure"]}
    assert rows["wrong_types"]["outcome"] == CLEAR_ERROR and "income" in rows["wrong_types"]["message"]
    assert rows["nulls"]["outcome"] == RESULT and rows["empty"]["outcome"] == RESULT
    got = {m.key: m for m in result.measurements}
    latency = "degradation.graceful_failure.latency_p{}_s"
    assert got[latency.format(95)].value >= got[latency.format(50)].value
    profile = [got[f"degradation.robustness.flip_rate_by_severity.noise.{s}"].value for s in ("low", "medium", "high")]
    assert profile == sorted(profile)  # more noise, more flips
    assert profile[2] < 0.10


def test_same_seed_same_numbers(ds: ReferenceDataset) -> None:
    a = run_suite(only(Robustness()), context(ds, robust_tool))
    b = run_suite(only(Robustness()), context(ds, robust_tool))
    assert [(m.key, m.value, m.ci_low, m.ci_high) for m in a.measurements] == \
        [(m.key, m.value, m.ci_low, m.ci_high) for m in b.measurements]


def test_a_tool_that_degrades_for_one_group_gets_a_finding_of_its_own(ds: ReferenceDataset) -> None:
    result = run_suite(DegradationSuite(), context(ds, degrades_for_women))
    found = by_key(result)
    gap = found["degradation.robustness.flip_rate_gap.noise.sex"]
    assert gap.status is Status.FAIL and gap.severity is Severity.BLOCKING and gap.policy_section == "4.3"
    assert gap.details["most_affected"] == "F" and gap.details["least_affected"] == "M"
    assert gap.ci_low > 0.10
    assert "'F' flip against" in gap.message and "treats that group worse" in gap.message
    got = {m.key: m.value for m in result.measurements}
    women = got["degradation.robustness.group_flip_rate.noise.sex.F"]
    men = got["degradation.robustness.group_flip_rate.noise.sex.M"]
    assert women > 5 * men
    assert gap.value == pytest.approx(women - men)
    # race is not what it degrades on: the gap between races stays under the limit
    assert got["degradation.robustness.flip_rate_gap.noise.race"] < 0.05
    # graceful failure has nothing to say about it
    assert all(f.status is Status.PASS for f in result.findings if f.check == "graceful_failure")


def test_a_tool_that_breaks_on_a_missing_value_fails_graceful_failure_and_robustness(ds: ReferenceDataset) -> None:
    result = run_suite(DegradationSuite(), context(ds, missing_breaks_it))
    found = by_key(result)
    nulls = found["degradation.graceful_failure.failure.nulls"]
    assert nulls.status is Status.FAIL and nulls.severity is Severity.BLOCKING and nulls.policy_section == "Safety"
    assert nulls.details["outcome"] == CRASH and nulls.details["error"] == "KeyError"
    assert "not graceful: a crash" in nulls.message
    assert found["degradation.graceful_failure.failure.unseen_categories"].status is Status.FAIL
    assert found["degradation.graceful_failure.failure.out_of_range"].status is Status.PASS
    call = found["degradation.robustness.call.missing"]
    assert call.status is Status.FAIL and call.details["outcome"] == CRASH
    # it stopped at the first severity that crashed; noise alone does not hurt it
    calls = result.tables["degradation.robustness.calls"]
    assert [(c["kind"], c["outcome"]) for c in calls if c["kind"] == "missing"] == [("missing", CRASH)]
    assert found["degradation.robustness.flip_rate.noise"].status is Status.PASS


def test_a_tool_that_refuses_missing_values_clearly_is_graceful(ds: ReferenceDataset) -> None:
    def strict(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        gaps = [c for c in ("income", "savings") if frame[c].isna().any()]
        if gaps:
            raise ValueError(f"column {gaps[0]!r} has missing values; impute them first")
        return robust_tool(frame)

    result = run_suite(DegradationSuite(), context(ds, strict))
    found = by_key(result)
    assert found["degradation.graceful_failure.failure.nulls"].status is Status.PASS
    assert found["degradation.graceful_failure.failure.nulls"].details["outcome"] == CLEAR_ERROR
    skipped = [f for f in result.findings if f.check == "robustness" and f.status is Status.SKIPPED]
    assert len(skipped) == 1 and "refused the data" in skipped[0].message and "income" in skipped[0].message


def test_a_tool_that_hangs_on_missing_values_fails_and_is_not_handed_them_again(ds: ReferenceDataset) -> None:
    release = threading.Event()

    def hangs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if frame[["income", "savings", "hours"]].isna().any().any():
            release.wait(20)
        return robust_tool(frame)

    try:
        result = run_suite(DegradationSuite(), context(ds, hangs, pol=policy(call_timeout_s=0.5)))
    finally:
        release.set()
    found = by_key(result)
    f = found["degradation.graceful_failure.failure.nulls"]
    assert f.status is Status.FAIL and f.details["outcome"] == HANG and f.details["seconds"] == 0.5
    assert "did not return within 0.5 s" in f.message
    assert any("hung on missing values" in x.message for x in result.findings if x.check == "robustness")
    assert not [c for c in result.tables["degradation.robustness.calls"] if c["kind"] == "missing"]


def test_checks_that_call_the_tool_are_skipped_for_a_file_of_outputs(tmp_path: Path) -> None:
    tool_path, card = write_case(tmp_path, n=300, seed=64)
    data = load_dataset(str(card))
    m = load_manifest(tool_path)
    tool = load_tool(m)
    ctx = CheckContext(dataset=data, predictions=tool.predict(data), policy=policy(), manifest=m, seed=1, tool=tool)
    result = run_suite(DegradationSuite(), ctx)
    statuses = {f.check: f.status for f in result.findings}
    assert statuses == {"graceful_failure": Status.SKIPPED, "robustness": Status.SKIPPED,
                        "drift": Status.SKIPPED, "regression": Status.SKIPPED}
    assert "supplied as a file" in by_key(result)["degradation.robustness.flip_rate"].message


# ---- drift ----------------------------------------------------------------------------------------


def test_psi_by_hand() -> None:
    assert psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(0.25 * np.log(2) + 0.25 * np.log(1.5))
    assert psi(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(0.0)


def _adult_tool(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    z = (frame["education-num"].to_numpy(float) - 10) / 2.5 + (frame["hours-per-week"].to_numpy(float) - 40) / 12
    score = _sigmoid(z - 1)
    return np.where(score > 0.5, ">50K", "<=50K"), score


def _drift(reference: ReferenceDataset, current: pd.DataFrame) -> SuiteResult:
    return run_suite(only(Drift()), context(reference, _adult_tool, current=current))


def test_drift_between_adults_men_and_women_is_found_biggest_first(adult: ReferenceDataset) -> None:
    men = adult.frame[adult.frame["sex"] == "Male"].reset_index(drop=True)
    women = adult.frame[adult.frame["sex"] == "Female"].reset_index(drop=True)
    result = _drift(replace(adult, frame=men), women)
    found = by_key(result)
    table = result.tables["degradation.drift"]
    assert [r["psi"] for r in table] == sorted((r["psi"] for r in table), reverse=True)
    assert table[0]["feature"] == "sex"  # every row changed sex
    rel = found["degradation.drift.psi.relationship"]
    assert rel.status is Status.FAIL and rel.severity is Severity.ADVISORY and rel.value > 1.0  # Husband -> Wife
    assert rel.details["band"] == "significant" and "Husband" in rel.details["most_changed"]
    assert found["degradation.drift.psi.marital-status"].status is Status.FAIL
    hours = found["degradation.drift.psi.hours-per-week"]
    assert hours.value > 0.1 and hours.details["shift_test"] == "Kolmogorov-Smirnov D"
    # no PSI simulated at the limit of 0.2 (2,000 draws) reached the observed 0.35
    assert hours.details["shift_p_value"] < 1e-6 and hours.details["p_value"] == pytest.approx(1 / 2001)
    assert found["degradation.drift.score_psi"].value > 0.1  # women work fewer hours: lower scores
    assert found["degradation.drift.psi.fnlwgt"].status is Status.PASS  # a sampling weight, not a trait
    moved = [r["feature"] for r in table if r["band"] == "significant"]
    assert {"sex", "relationship", "marital-status"} <= set(moved)


def test_adult_against_a_random_half_of_itself_does_not_drift(adult: ReferenceDataset) -> None:
    half = adult.frame.sample(frac=0.5, random_state=3).reset_index(drop=True)
    result = _drift(adult, half)
    psis = [f for f in result.findings if f.metric in ("psi", "score_psi")]
    assert len(psis) == len(adult.card.features) + 1
    assert all(f.status is Status.PASS for f in psis), [(f.key, f.value, f.ci_high) for f in psis]
    assert max(f.value for f in psis) < 0.01
    assert all(r["band"] == "stable" for r in result.tables["degradation.drift"])


def test_drift_without_a_current_sample_or_with_missing_columns(ds: ReferenceDataset) -> None:
    assert by_key(run_suite(only(Drift()), context(ds, robust_tool)))["degradation.drift.psi"].message == NO_CURRENT
    current = ds.frame.drop(columns=["savings"]).head(500)
    result = run_suite(only(Drift()), context(ds, robust_tool, current=current))
    found = by_key(result)
    lacking = found["degradation.drift.psi"]
    assert lacking.status is Status.INSUFFICIENT and "'savings'" in lacking.message
    assert found["degradation.drift.score_psi"].status is Status.INSUFFICIENT
    assert found["degradation.drift.psi.income"].status is Status.PASS


def test_score_drift_uses_decisions_when_the_tool_gives_no_scores(ds: ReferenceDataset) -> None:
    labels_only = PythonTool(fn=lambda f: robust_tool(f)[0], name="labels")
    current = ds.frame[ds.frame["income"] > 50]  # only the qualified: nearly all favourable
    result = run_suite(only(Drift()), context(ds, tool=labels_only, current=current))
    f = by_key(result)["degradation.drift.score_psi"]
    assert f.status is Status.FAIL and f.details["kind"] == "decision"
    shift = next(m for m in result.measurements if m.metric == "selection_rate_shift")
    assert shift.value > 0.4


def test_predictions_object_is_not_recomputed(ds: ReferenceDataset) -> None:
    """The robustness check reads the shared reference predictions, never re-predicts the reference."""
    calls: list[int] = []

    def fn(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(frame))
        return robust_tool(frame)

    tool = PythonTool(fn=fn, name="t")
    labels, scores = robust_tool(ds.frame)
    ctx = CheckContext(dataset=ds, predictions=Predictions(labels, scores), policy=policy(), manifest=manifest(),
                       seed=1, tool=tool)
    Robustness().run(ctx)
    assert len(calls) == 9


def test_a_tool_without_scores_is_judged_on_decisions_only(ds: ReferenceDataset) -> None:
    labels_only = PythonTool(fn=lambda f: robust_tool(f)[0], name="labels")
    result = run_suite(only(Robustness()), context(ds, tool=labels_only))
    metrics = {m.metric for m in result.measurements}
    assert {"flip_rate", "accuracy_drop", "flip_rate_gap"} <= metrics
    assert not {"auc_drop", "auc_drop_by_severity"} & metrics
    assert all(f.status is Status.PASS for f in result.findings)


def test_a_bad_setting_is_an_error_finding_that_names_it(ds: ReferenceDataset) -> None:
    result = run_suite(only(Robustness()), context(ds, robust_tool, pol=policy(judged_severity="extreme")))
    f = by_key(result)["degradation.robustness.error"]
    assert f.status is Status.ERROR and "settings.degradation.judged_severity is 'extreme'" in f.message
    result = run_suite(only(Robustness()), context(ds, robust_tool, pol=policy(severities={"low": 2})))
    assert "severities.low must be a number in (0, 1]" in by_key(result)["degradation.robustness.error"].message
