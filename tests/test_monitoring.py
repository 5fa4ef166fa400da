"""Production samples in re-assessment (issue 16, policy 4.3; harness.monitoring), against a real SQLite store and the
demo's samples (examples/rental_assistance/samples.py): a tool approved on the reference data is suspended by
`reassess --due` when its production sample shifts (the rent rise) or its recorded decisions became unfair, and keeps
its approval on a fair sample. And the department that wants to keep an approval: an old fair sample dropped again
under a new name, a card whose sha256 does not match, a sample without outcomes, a tiny sample."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from harness import gate
from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import DatasetError
from harness.findings import Status
from harness.monitoring import Assessed, choose, load_sample, quarter_before
from harness.workflows.assess import run_assessment
from harness.workflows.plan import Plan, PlannedDataset, differences
from tests.conftest import ROOT, single_user

EXAMPLES = ROOT / "examples" / "rental_assistance"
SAMPLES = EXAMPLES / "samples"


def drop(sample: str, folder: Path, period: str, name: str, *, rows: int | None = None,
         drop_columns: tuple[str, ...] = ()) -> Path:
    """A department's drop of a demo sample (optionally cut to `rows` or without some columns, with a true card)."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    card = yaml.safe_load((SAMPLES / f"{sample}.card.yaml").read_text())
    data = folder / f"{name}.csv"
    if rows is None and not drop_columns:
        shutil.copyfile(SAMPLES / f"{sample}.csv", data)
    else:
        frame = pd.read_csv(SAMPLES / f"{sample}.csv")
        frame = frame.head(rows) if rows is not None else frame
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
