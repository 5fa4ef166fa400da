"""Production samples in re-assessment (issue 16, policy 4.3; harness.monitoring), against a real SQLite store and the
demo's samples (examples/rental_assistance/samples.py): a tool approved on the reference data is suspended by
`reassess --due` when its production sample shifts (the rent rise) or its recorded decisions became unfair, and keeps
its approval on a fair sample. And the department that wants to keep an approval: an old fair sample dropped again
under a new name, a card whose sha256 does not match, a sample without outcomes, a tiny sample."""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from harness import gate
from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import DatasetError
from harness.findings import Status
from harness.measures.significance import binomial_above
from harness.monitoring import (
    ApprovedAccuracy,
    Assessed,
    Choice,
    Sample,
    agreement,
    approved_accuracy,
    choose,
    copied_outcomes,
    load_sample,
    monitoring_result,
    quarter_before,
    recorded_outputs,
    vetted,
)
from harness.tracking.assessments import load_assessment
from harness.workflows.assess import run_assessment
from harness.workflows.plan import Plan, PlannedDataset, differences
from test_suites.performance.metrics import wilson, z_for
from tests.conftest import ROOT, single_user

EXAMPLES = ROOT / "examples" / "rental_assistance"
SAMPLES = EXAMPLES / "samples"


def drop(sample: str, folder: Path, period: str, name: str, *, rows: int | None = None,
         drop_columns: tuple[str, ...] = (), outcomes: Callable[[pd.DataFrame], Any] | None = None) -> Path:
    """A department's drop of a demo sample (optionally cut to `rows`, without some columns or with the outcome
    column `eligible` set to `outcomes(frame)`, with a true card)."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    card = yaml.safe_load((SAMPLES / f"{sample}.card.yaml").read_text())
    data = folder / f"{name}.csv"
    if rows is None and not drop_columns and outcomes is None:
        shutil.copyfile(SAMPLES / f"{sample}.csv", data)
    else:
        frame = pd.read_csv(SAMPLES / f"{sample}.csv")
        frame = frame.head(rows) if rows is not None else frame
        if outcomes is not None:
            frame["eligible"] = outcomes(frame)
        frame.drop(columns=list(drop_columns)).to_csv(data, index=False, lineterminator="\n")
    card |= {"name": name, "period": period, "file": data.name, "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}
    path = folder / f"{name}.card.yaml"
    path.write_text(yaml.safe_dump(card, sort_keys=False))
    return path


# -- without a store -----------------------------------------------------------------------------------------


def test_the_expected_period_is_the_last_quarter_ended_before_the_day() -> None:
    assert [quarter_before(datetime(2026, m, 5)) for m in (1, 3, 4, 7, 10, 12)] == [
        "2025Q4", "2025Q4", "2026Q1", "2026Q2", "2026Q3", "2026Q3"]


def test_a_plan_without_a_monitoring_source_hashes_as_before_and_a_changed_source_is_a_difference() -> None:
    base = Plan(tool="t", version="1", manifest_digest="m", suites=("bias",),
                datasets=(PlannedDataset("d", "d", "s", "c"),), policy="p", policy_digest="pd", seed=1)
    assert "monitoring" not in base.document()  # the inputs sha256 of every run without one is unchanged
    watched = Plan(**{**base.__dict__, "monitoring": "/city/housing/samples"})
    assert watched.document()["monitoring"] == "/city/housing/samples"
    assert differences(watched, base) == ["monitoring source None differs from the plan's /city/housing/samples"]


@pytest.fixture(scope="module")
def reference():
    return load_dataset("rental-assistance")


def test_a_card_whose_sha256_does_not_match_its_file_is_refused_naming_both(tmp_path: Path, reference) -> None:
    card = drop("fair_a", tmp_path, "2026Q3", "q3")
    text = (tmp_path / "q3.csv").read_text()
    (tmp_path / "q3.csv").write_text(text.replace(",Black,1,1\n", ",White,1,1\n", 1))  # one row's race rewritten
    assert (tmp_path / "q3.csv").read_text() != text
    with pytest.raises(DatasetError, match=r"production sample .*q3.card.yaml: its file .*q3.csv has sha256 "
                                           r"[0-9a-f]{64}, the card declares [0-9a-f]{64}; .*Nothing was assessed "
                                           r"or recorded"):
        load_sample(card, reference)


def test_the_newest_new_sample_is_taken_and_a_re_dropped_one_is_flagged_not_taken(tmp_path: Path, reference) -> None:
    folder = tmp_path / "samples"
    old = drop("fair_a", folder, "2026Q2", "q2")
    sha = load_sample(old, reference).sha256
    assessed = {sha: Assessed(name="q2", period="2026Q2", run_id="run-q2")}
    # the department drops the same fair data again as the Q3 sample
    drop("fair_a", folder, "2026Q3", "q3")
    got = choose(folder, reference, assessed, expected="2026Q3")
    assert got.sample is None and got.previous is not None and got.previous.sha256 == sha
    assert [(n.metric, n.status) for n in got.notes] == [("repeated", Status.REVIEW), ("missing", Status.REVIEW)]
    assert got.notes[0].message.startswith("the monitoring folder holds q3.card.yaml (period 2026Q3) whose data "
                                           f"(sha256 {sha[:12]}...) are those of sample q2 (2026Q2) assessed in run "
                                           "run-q2: a sample assessed before is not taken as a new one")
    assert got.notes[1].message.startswith("no production sample for 2026Q3: re-assessment ran on reference data only")
    # a genuinely new sample is taken, the newest first
    drop("fair_b", folder, "2026Q3", "q3b")
    got = choose(folder, reference, assessed, expected="2026Q3")
    assert got.sample is not None and got.sample.dataset.name == "q3b" and got.sample.period == "2026Q3"
    assert [n.metric for n in got.notes] == ["repeated"]
    # named explicitly, an assessed sample runs but is flagged as no new evidence
    got = choose(folder, reference, assessed, expected="2026Q3", explicit=old)
    assert got.repeat == assessed[sha] and [n.metric for n in got.notes] == ["repeated"]


def test_a_sample_without_outcomes_has_none_and_one_with_gaps_is_refused(tmp_path: Path, reference) -> None:
    s = load_sample(drop("rent_rise", tmp_path, "2026Q3", "rr"), reference)
    assert not s.dataset.outcomes_known and len(s.labels) == 9000
    frame = pd.read_csv(SAMPLES / "fair_a.csv")
    frame.loc[:9, "eligible"] = None
    card = drop("fair_a", tmp_path, "2026Q3", "gap")
    frame.to_csv(tmp_path / "gap.csv", index=False, lineterminator="\n")
    import hashlib

    doc = yaml.safe_load(card.read_text()) | {"sha256": hashlib.sha256((tmp_path / "gap.csv").read_bytes()).hexdigest()}
    card.write_text(yaml.safe_dump(doc))
    with pytest.raises(DatasetError, match=r"10 rows have no recorded outcomes in column 'eligible'"):
        load_sample(card, reference)


# -- with a store: the done-when of issue 16 -----------------------------------------------------------------


@dataclass
class Deployed:
    uri: str
    root: Path
    folders: dict[str, Path]
    approved: dict[str, str]


def harness(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"HARNESS_DATA_DIR": None, "MLFLOW_TRACKING_URI": None,
                                                     "COLUMNS": "250"}, prog_name="harness", catch_exceptions=False)


def tool_copy(tool_id: str, folder: Path) -> Path:
    doc = yaml.safe_load((EXAMPLES / "fair_tool.yaml").read_text()) | {"id": tool_id}
    folder.mkdir(parents=True)
    shutil.copyfile(EXAMPLES / "fair_model.skops", folder / "fair_model.skops")
    (folder / "tool.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder / "tool.yaml"


TOOLS = ("steady", "rent", "unfair")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """The baseline model deployed three times, each approved on the reference data with its monitoring folder."""
    root = tmp_path_factory.mktemp("deployed")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    folders, approved = {}, {}
    for name in TOOLS:
        folders[name] = root / "monitoring" / name
        folders[name].mkdir(parents=True)
        rec = run_assessment(tool_copy(f"screen-{name}", root / "tools" / name), ["rental-assistance"],
                             tracking_uri=uri, out=root / "out" / name, submitter="dana", monitoring=folders[name])
        assert rec.result.verdict.value == "PASS", rec.result.reasons
        gate.approve(uri, f"screen-{name}", "1.0.0", run_id=str(rec.result.run_id), reviewer="omar",
                     rationale="fair on the reference data")
        approved[name] = str(rec.result.run_id)
    return Deployed(uri, root, folders, approved)


def findings(report: Path) -> list[dict]:
    doc = json.loads(report.read_text())
    return [f | {"dataset": s["dataset"]} for s in doc["suites"] for f in s["findings"]]


@pytest.mark.slow
def test_reassess_due_suspends_the_shifted_and_the_unfair_and_keeps_the_fair(deployed: Deployed) -> None:
    uri, root = deployed.uri, deployed.root
    as_of = datetime.now(UTC) + timedelta(days=91)
    period = quarter_before(as_of)
    drop("fair_b", deployed.folders["steady"], period, "steady-q")
    drop("rent_rise", deployed.folders["rent"], period, "rent-q")
    drop("unfair", deployed.folders["unfair"], period, "unfair-q")
    r = harness("reassess", "--due", "--as-of", as_of.date().isoformat(), "--by", "cron", "--format", "json",
                "--out", str(root / "q1"), "--tracking-uri", uri)
    assert r.exit_code == 1, r.stdout + r.stderr  # gates were closed
    got = {o["tool"]: o for o in json.loads(r.stdout)}
    assert {k: (got[f"screen-{k}"]["verdict"], got[f"screen-{k}"]["approval"]) for k in TOOLS} == {
        "steady": ("NEEDS_REVIEW", "kept; a reviewer should look at the findings"),
        "rent": ("FAIL", "suspended: the gate is closed"), "unfair": ("FAIL", "suspended: the gate is closed")}
    assert [gate.status(uri, f"screen-{k}", "1.0.0")[0].state for k in TOOLS] == ["approved", "suspended", "suspended"]

    # the rent rise: inputs moved beyond the stable band while outcomes are unknown; rent itself by PSI 0.132
    [report] = (root / "q1" / "screen-rent").glob("1.0.0-*/assessment.json")
    doc = json.loads(report.read_text())
    assert doc["extra"]["monitoring"]["sample"]["sha256"] == yaml.safe_load(
        (deployed.folders["rent"] / "rent-q.card.yaml").read_text())["sha256"]
    fs = findings(report)
    shift = {f["group"]: f for f in fs if f["check"] == "population_shift"}
    assert (shift["rent"]["status"], shift["rent"]["severity"], round(shift["rent"]["value"], 3)) == (
        "FAIL", "blocking", 0.132)
    assert shift["household_size"]["status"] == "PASS"
    drift = {f["group"]: f for f in fs if f["metric"] == "psi" and f["dataset"] == "rental-assistance"}
    assert drift["rent"]["value"] == shift["rent"]["value"]  # the degradation suite's figure, judged again
    # no outcomes: the selection-rate checks alone ran on the recorded decisions, and a finding says so
    on_sample = {(f["suite"], f["check"]) for f in fs if f["dataset"] == "rent-q"}
    assert {c for s, c in on_sample if s == "bias"} == {"demographic_parity", "four_fifths"}
    assert not {c for s, c in on_sample if s == "performance"}
    [said] = [f for f in fs if f["check"] == "sample" and f["metric"] == "outcomes"]
    assert "its outcomes are not known yet, so only the selection-rate checks" in said["message"]

    # unfair recorded decisions: the four-fifths rule catches what re-running the model could not
    [report] = (root / "q1" / "screen-unfair").glob("1.0.0-*/assessment.json")
    air = {f["group"]: f for f in findings(report) if f["check"] == "four_fifths" and f["dataset"] == "unfair-q"}
    black = air["race.Black"] if "race.Black" in air else next(v for k, v in air.items() if k.endswith("Black"))
    assert black["status"] == "FAIL" and round(black["value"], 2) == 0.73
    frame = pd.read_csv(SAMPLES / "unfair.csv")  # the hand-computed ratio: 28.3 % against 39.0 %
    rates = frame.groupby("race")["decision"].mean()
    assert round(rates["Black"] / rates["White"], 2) == 0.73

    # the fair sample: nothing blocking; the approval stands and its next due date moved
    [report] = (root / "q1" / "screen-steady").glob("1.0.0-*/assessment.json")
    fs = findings(report)
    assert not [f for f in fs if f["status"] == "FAIL"]
    assert {f["check"] for f in fs if f["dataset"] == "steady-q" and f["suite"] == "performance"} >= {"baselines"}

    # -- the department that wants to keep the approval ----------------------------------------------------
    steady = deployed.folders["steady"]
    before = {r.run_id for r in _runs(uri, "screen-steady")}
    # the same fair sample again under a new name: flagged, not taken as new; the verdict cannot be PASS
    drop("fair_b", steady, quarter_before(as_of + timedelta(days=91)), "steady-q-again")
    r = harness("reassess", "screen-steady:1.0.0", "--by", "cron", "--format", "json", "--tracking-uri", uri,
                "--out", str(root / "q2"))
    [o] = json.loads(r.stdout)
    assert (r.exit_code, o["verdict"]) == (3, "NEEDS_REVIEW"), r.stdout + r.stderr
    [report] = (root / "q2" / "screen-steady").glob("1.0.0-*/assessment.json")
    notes = {f["metric"]: f for f in findings(report) if f["suite"] == "monitoring"}
    assert notes["repeated"]["status"] == "REVIEW" and "steady-q-again.card.yaml" in notes["repeated"]["message"]
    assert notes["missing"]["message"].startswith("no production sample for")
    # a card whose sha256 does not match: ERROR for that tool, nothing recorded
    bad = drop("fair_a", steady, "2027Q4", "steady-tampered")
    doc = yaml.safe_load(bad.read_text()) | {"sha256": "0" * 64}
    bad.write_text(yaml.safe_dump(doc))
    known = {r.run_id for r in _runs(uri, "screen-steady")}
    r = harness("reassess", "screen-steady:1.0.0", "--by", "cron", "--format", "json", "--tracking-uri", uri)
    [o] = json.loads(r.stdout)
    assert (r.exit_code, o["verdict"], o["approval"], o["run"]) == (4, "ERROR", "unchanged; still due", None)
    assert "the card declares 0000000000000000000000000000000000000000000000000000000000000000" in o["reason"]
    assert {r.run_id for r in _runs(uri, "screen-steady")} == known
    bad.unlink()
    # a tiny sample (25 rows, every group under min_group_size 30): INSUFFICIENT, never PASS
    drop("fair_a", steady, "2027Q4", "steady-tiny", rows=25)
    r = harness("reassess", "screen-steady:1.0.0", "--by", "cron", "--format", "json", "--tracking-uri", uri,
                "--out", str(root / "q3"))
    [o] = json.loads(r.stdout)
    assert (r.exit_code, o["verdict"]) == (3, "NEEDS_REVIEW"), o
    [report] = (root / "q3" / "screen-steady").glob("1.0.0-*/assessment.json")
    tiny = [f for f in findings(report) if f["dataset"] == "steady-tiny" and f["suite"] in ("bias", "performance")]
    assert tiny and not [f for f in tiny if f["status"] in ("PASS", "FAIL") and f.get("group")]
    assert {f["status"] for f in tiny if f["suite"] == "bias"} == {"INSUFFICIENT"}
    assert len({r.run_id for r in _runs(uri, "screen-steady")} - before) == 2  # the refused run left no trace
    assert gate.status(uri, "screen-steady", "1.0.0")[0].state == "approved"


def _runs(uri: str, tool: str) -> list:
    from harness.tracking.store import Store

    return Store(uri).runs(tool)


def test_the_committed_samples_are_what_their_generator_makes(tmp_path: Path) -> None:
    """samples.py regenerates every committed sample byte for byte (the cards pin the sha256); the unfair quarter's
    figures are the ones its docstring states."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ra_samples", EXAMPLES / "samples.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for path in mod.write(tmp_path):
        assert path.read_bytes() == (SAMPLES / path.name).read_bytes(), path.name
        card = yaml.safe_load((SAMPLES / f"{path.stem}.card.yaml").read_text())
        assert card["sha256"] == yaml.safe_load((tmp_path / f"{path.stem}.card.yaml").read_text())["sha256"]
    rates = pd.read_csv(SAMPLES / "unfair.csv").groupby("race")["decision"].mean()
    assert (round(rates["Black"], 3), round(rates["Native American"], 3), round(rates["White"], 3)) == (
        0.283, 0.275, 0.39)


# -- the department that fills in the outcomes from the tool's own decisions ------------------------------------


def generator() -> Any:
    """The reference data's generator (datasets/rental-assistance/generate.py): its points rule and review noise
    give the outcomes a caseworkers' review would settle."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ra_generate", ROOT / "datasets" / "rental-assistance" /
                                                  "generate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def observed_outcomes(frame: pd.DataFrame, seed: int = 20261231) -> np.ndarray:
    """Outcomes as the review would settle them (the generator's process: the points rule plus the review's
    Normal(0, 2) points), not as the tool decided."""
    ra = generator()
    points = ra.need_points(*(frame[c].to_numpy() for c in ("income_pct_ami", "rent_burden", "months_in_arrears",
                                                             "eviction_notice", "has_children")))
    review = np.random.default_rng(seed).normal(0.0, ra.REVIEW_SD, len(frame))
    return (points + review >= ra.CUTOFF).astype(int)


APPROVED = ApprovedAccuracy(run_id="run-approved", dataset="rental-assistance", value=13_577 / 14_000,
                            high=wilson(13_577 / 14_000, 14_000, z_for(0.95))[1], rows=14_000, confidence=0.95)
"""What the approved baseline's run measures on the reference data: 13,577 of 14,000 right, 95 % Wilson interval up
to 97.25 % (the store test below reads the same from a real approved run)."""


def with_outcomes(sample: Sample, outcomes: Any, rows: int | None = None) -> Sample:
    """The sample's first `rows` rows with the outcome column set to `outcomes`."""
    frame = sample.dataset.frame if rows is None else sample.dataset.frame.head(rows)
    return replace(sample, dataset=replace(sample.dataset, frame=frame.assign(eligible=outcomes)),
                   labels=sample.labels[:len(frame)])


def test_the_fair_quarters_outcomes_are_taken_as_observed_and_a_copy_of_their_decisions_is_set_aside(
        tmp_path: Path, reference) -> None:
    assert round(APPROVED.high, 5) == 0.97249 and round(APPROVED.ceiling, 5) == 0.98625
    for name, agreed in (("fair_a", 2934), ("fair_b", 2909)):
        s = load_sample(drop(name, tmp_path, "2026Q3", name), reference)
        frame = pd.read_csv(SAMPLES / f"{name}.csv")
        assert agreement(s) == (agreed, 3000) == (int((frame["eligible"] == frame["decision"]).sum()), len(frame))
        choice = Choice(str(tmp_path), "2026Q3", s)
        assert vetted(choice, APPROVED) is choice  # observed outcomes: nothing found, nothing changed
    # fair_a's outcome column replaced by its decision column: all 3,000 agree, p = 0.98625 ** 3000
    s = load_sample(drop("fair_a", tmp_path, "2026Q3", "copied", outcomes=lambda f: f["decision"]), reference)
    got = vetted(Choice(str(tmp_path), "2026Q3", s), APPROVED)
    assert got.sample is not None and got.sample.sha256 == s.sha256 and got.sample.outcomes_set_aside
    assert not got.sample.dataset.outcomes_known and "eligible" not in got.sample.dataset.frame
    [note] = got.notes
    assert (note.status, note.severity, note.metric, note.value, note.n, note.threshold) == (
        Status.FAIL, "blocking", "outcomes_agreement", 1.0, 3000, APPROVED.ceiling)
    assert note.details["p_value"] == pytest.approx(APPROVED.ceiling ** 3000, rel=1e-9)
    assert note.message == (
        "production sample copied: its outcomes agree with the tool's recorded decisions on 3,000 of 3,000 rows "
        "(100.0%); the approved run run-approved measured the tool's accuracy on rental-assistance at 97.0% (95% "
        "interval up to 97.2%, 14,000 rows), so observed outcomes would disagree with the decisions on at least half "
        "as many rows: an agreement of at most 98.6% (one-sided exact binomial test, p < 1e-16). Outcomes filled in "
        "from the decisions look like this: they are set aside and the sample is judged as one whose outcomes are "
        "not known (policy 4.3); send the outcomes the review settled")
    # judged as a sample without outcomes: the selection-rate checks only, and the record says why
    assert [r.suites for r in recorded_outputs(got)] == [("bias",)]
    assert got.record()["sample"]["outcomes_known"] is False and got.record()["sample"]["outcomes_set_aside"]
    said = {f.metric: f for f in monitoring_result(got).findings}
    assert said["outcomes"].status is Status.SKIPPED and said["outcomes"].message.startswith(
        "production sample copied (2026Q3, 3,000 rows, outcomes set aside, sha256 ")
    assert "its outcomes were set aside (finding outcomes_agreement), so only the selection-rate checks" in (
        said["outcomes"].message)
    # an approved run that measured no accuracy gives nothing to hold outcomes to: set aside, for review
    got = vetted(Choice(str(tmp_path), "2026Q3", load_sample(drop("fair_a", tmp_path, "2026Q3", "fa"), reference)),
                 None)
    assert got.sample is not None and got.sample.outcomes_set_aside
    assert [(n.status, n.metric) for n in got.notes] == [(Status.REVIEW, "outcomes_agreement")]


def test_outcomes_drawn_at_the_approved_accuracy_raise_no_alarm_beyond_chance(tmp_path: Path, reference) -> None:
    """200 seeded samples of 60, 300 and 3,000 rows (the fair quarter's decisions, each outcome differing from its
    decision with the approved run's error rate, or 3/4 of it as on fair_a): false alarms under 8 % (a 5 % test);
    a copy is caught from 300 rows on. The upper bound alone as the ceiling (no margin) would suspend a tool doing a
    little better on a new population half the time at 3,000 rows."""
    base = load_sample(drop("fair_a", tmp_path, "2026Q3", "fa"), reference)
    error = 1 - APPROVED.value
    for n in (60, 300, 3000):
        decisions = base.labels[:n]
        alarms = {"approved": 0, "3/4 of its errors": 0}
        bare_bound = 0
        for seed in range(200):
            rng = np.random.default_rng([n, seed])
            for what, e in (("approved", error), ("3/4 of its errors", 0.75 * error)):
                outcomes = np.where(rng.random(n) < e, 1 - decisions, decisions)
                alarms[what] += copied_outcomes(with_outcomes(base, outcomes, n), APPROVED) is not None
                if what != "approved":
                    bare_bound += binomial_above(int((outcomes == decisions).sum()), n, APPROVED.high) < 0.05
        assert {k: v / 200 for k, v in alarms.items()} == {k: pytest.approx(0.0, abs=0.08) for k in alarms}, n
        if n == 3000:
            assert bare_bound / 200 > 0.3, bare_bound
        copy = copied_outcomes(with_outcomes(base, decisions, n), APPROVED)
        # all n agree: p = 0.98625 ** n, 0.44 at 60 rows (a 97 %-accurate tool's 60 rows all agree 1 time in 6)
        assert (copy is None) is (n == 60), n
    assert round(APPROVED.ceiling ** 60, 2) == 0.44 and round((1 - error) ** 60, 2) == 0.16
    # copying 80 % of a 3,000-row quarter's rows leaves 1/5 of the errors: caught
    rng = np.random.default_rng(7)
    decisions = base.labels
    outcomes = np.where(rng.random(3000) < 0.8, decisions, base.dataset.frame["eligible"].to_numpy())
    assert copied_outcomes(with_outcomes(base, outcomes), APPROVED) is not None


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """The baseline deployed once more, in its own store (so `reassess --due` of the test above never sees it),
    approved on the reference data with its monitoring folder."""
    root = tmp_path_factory.mktemp("watched")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    folder = root / "monitoring" / "watched"
    folder.mkdir(parents=True)
    rec = run_assessment(tool_copy("screen-watched", root / "tools" / "watched"), ["rental-assistance"],
                         tracking_uri=uri, out=root / "out" / "approval", submitter="dana", monitoring=folder)
    assert rec.result.verdict.value == "PASS", rec.result.reasons
    gate.approve(uri, "screen-watched", "1.0.0", run_id=str(rec.result.run_id), reviewer="omar",
                 rationale="fair on the reference data")
    return Deployed(uri, root, {"watched": folder}, {"watched": str(rec.result.run_id)})


@pytest.mark.slow
def test_outcomes_copied_from_the_decisions_do_not_switch_the_population_shift_rule_off(watched: Deployed) -> None:
    """The rent-rise quarter is suspended while its outcomes are unknown (test above). With outcomes observed by the
    review the shift is advisory and the approval stands; with the outcome column filled in from the decision
    column (perfect accuracy, no error-rate gaps, the shift rule advisory) it must still be suspended."""
    uri, root, folder = watched.uri, watched.root, watched.folders["watched"]
    # the null: outcomes as the review settles them agree with the decisions on 96.8 % of the 9,000 rows (the
    # approved run measured 97.0 % on the reference data): taken as observed, so the rent shift is advisory
    drop("rent_rise", folder, "2026Q3", "rent-observed", outcomes=observed_outcomes)
    frame = pd.read_csv(folder / "rent-observed.csv")
    assert round(float((frame["eligible"] == frame["decision"]).mean()), 3) == 0.968
    r = harness("reassess", "screen-watched:1.0.0", "--by", "cron", "--format", "json", "--tracking-uri", uri,
                "--out", str(root / "observed"))
    [o] = json.loads(r.stdout)
    assert (o["verdict"], o["approval"]) == ("NEEDS_REVIEW", "kept; a reviewer should look at the findings"), o
    [report] = (root / "observed" / "screen-watched").glob("1.0.0-*/assessment.json")
    fs = findings(report)
    assert not [f for f in fs if f["check"] == "population_shift"]  # the sample's own findings are the evidence
    drift = {f["group"]: f for f in fs if f["metric"] == "psi" and f["dataset"] == "rental-assistance"}
    assert (drift["rent"]["severity"], round(drift["rent"]["value"], 3)) == ("advisory", 0.132)
    assert {f["check"] for f in fs if f["dataset"] == "rent-observed" and f["suite"] == "performance"} >= {"baselines"}
    assert not [f for f in fs if f["suite"] == "monitoring" and f["status"] == "FAIL"]

    # the adversary: the same quarter with its outcome column a copy of the decision column
    drop("rent_rise", folder, "2026Q3", "rent-copied", outcomes=lambda f: f["decision"])
    r = harness("reassess", "screen-watched:1.0.0", "--by", "cron", "--format", "json", "--tracking-uri", uri,
                "--out", str(root / "copied"))
    [o] = json.loads(r.stdout)
    assert (r.exit_code, o["verdict"], o["approval"]) == (1, "FAIL", "suspended: the gate is closed"), o
    assert gate.status(uri, "screen-watched", "1.0.0")[0].state == "suspended"
    [report] = (root / "copied" / "screen-watched").glob("1.0.0-*/assessment.json")
    fs = findings(report)
    # the copied outcomes are named, blocking, with the agreement, n and the accuracy the approval measured
    [copied] = [f for f in fs if f["suite"] == "monitoring" and f["metric"] == "outcomes_agreement"]
    assert (copied["status"], copied["severity"], copied["policy_section"], copied["value"], copied["n"]) == (
        "FAIL", "blocking", "4.3", 1.0, 9000)
    assert copied["message"].startswith(
        "production sample rent-copied: its outcomes agree with the tool's recorded decisions on 9,000 of 9,000 "
        f"rows (100.0%); the approved run {watched.approved['watched']} measured the tool's accuracy on "
        "rental-assistance at 97.0% (95% interval up to 97.2%, 14,000 rows), so observed outcomes would disagree "
        "with the decisions on at least half as many rows: an agreement of at most 98.6% (one-sided exact binomial "
        "test, p < 1e-16).")
    # and the sample is judged as one whose outcomes are not known: the shift blocks, as in the test above
    shift = {f["group"]: f for f in fs if f["check"] == "population_shift"}
    assert (shift["rent"]["status"], shift["rent"]["severity"], round(shift["rent"]["value"], 3)) == (
        "FAIL", "blocking", 0.132)
    on_sample = {(f["suite"], f["check"]) for f in fs if f["dataset"] == "rent-copied"}
    assert {c for s, c in on_sample if s == "bias"} == {"demographic_parity", "four_fifths"}
    assert not {c for s, c in on_sample if s == "performance"}
    doc = json.loads(report.read_text())
    assert doc["extra"]["monitoring"]["sample"]["outcomes_known"] is False
    # what the outcomes were held to is what the approved run recorded (APPROVED above, by hand)
    from harness.tracking.store import Store

    measured = approved_accuracy(load_assessment(Store(uri), watched.approved["watched"]), "rental-assistance")
    assert measured == replace(APPROVED, run_id=watched.approved["watched"])
