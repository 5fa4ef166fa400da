"""`harness trend TOOL` and the "Over time" section of a report and a memo (issue 16, section 1), on runs recorded by
`harness assess` in a temporary SQLite store: generated cases (tests/conftest.py `write_case`) with the performance
and bias suites, about 2 s each.

- A: case-tool-0 on its data; C: case-tool-0 on a new version of its data (same name, other bytes);
- case-tool-0-beta: another tool whose id starts the same, assessed once (its own one-point trend);
- logged by hand into the tool's experiment: a FAILED and a RUNNING re-assessment (never part of the trend), and a
  finished record that started an hour before A although it was logged last (the trend is ordered by time).

Every figure is read back against the assessment.json of its run. The slow test approves a tool on its full
suites, lets it regress, re-assesses it, and reads what moved since the approval in its report and memo.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import write_card, write_case

SUITES = ("performance", "bias")
TOOL = "case-tool-0"


def harness(*args: str, width: str = "250") -> Result:
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": width, "HARNESS_DATA_DIR": None,
                                                     "MLFLOW_TRACKING_URI": None},
                              prog_name="harness", catch_exceptions=False)


def _assess(root: Path, uri: str, tool: Path, card: Path, out: str) -> str:
    args = ["assess", str(tool), "--dataset", str(card), "--tracking-uri", uri, "--out", str(root / out)]
    for s in SUITES:
        args += ["--suite", s]
    r = harness(*args)
    assert r.exit_code in (0, 1, 3), r.stdout + r.stderr
    return str(json.loads((root / out / "assessment.json").read_text())["run_id"])


@dataclass
class Runs:
    uri: str
    root: Path
    a: str
    c: str
    beta: str
    early: str  # logged last by hand, started an hour before A
    failed: str
    running: str

    def record(self, name: str) -> dict[str, Any]:
        return json.loads((self.root / name / "assessment.json").read_text())


def _log_by_hand(uri: str, doc: dict[str, Any], status: str | None, tmp: Path) -> str:
    """A run in the tool's experiment holding `doc` as its assessment.json (its run id and tags set as the pipeline
    sets them), ended `status` (None: left RUNNING, as after a kill)."""
    from harness.tracking import Store, tags_of

    store = Store(uri)
    client = store.client
    run_id = client.create_run(store.experiment_id(TOOL), run_name="by hand").info.run_id
    doc = dict(doc, run_id=run_id)
    tags = tags_of(tool=doc["tool"], policy=doc["policy"], verdict=doc["verdict"], kind=doc["kind"],
                   suites=[s["suite"] for s in doc["suites"]], seed=doc["seed"], datasets=doc["datasets"],
                   extra=doc["extra"], error=None)
    for k, v in tags.items():
        client.set_tag(run_id, k, v)
    path = tmp / run_id / "assessment.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    client.log_artifact(run_id, str(path))
    if status is not None:
        client.set_terminated(run_id, status)
    return str(run_id)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("trend")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    tool, card = write_case(root / "a", seed=0)
    a = _assess(root, uri, tool, card, "A")
    # the same tool (the same files) on a new version of its data: other rows under the same dataset name
    write_case(root / "c", seed=1)
    card_c = write_card(root / "c", "case-0")
    tool_c = root / "c" / "tool.yaml"
    tool_c.write_text(tool.read_text())
    (root / "c" / "predictions.csv").write_bytes((root / "a" / "predictions.csv").read_bytes())
    c = _assess(root, uri, tool_c, card_c, "C")
    # another tool whose id starts the same
    beta_tool = root / "a" / "beta.yaml"
    beta_tool.write_text(tool.read_text().replace(f"id: {TOOL}", f"id: {TOOL}-beta"))
    beta = _assess(root, uri, beta_tool, card, "beta")
    doc_a = json.loads((root / "A" / "assessment.json").read_text())
    started = datetime.fromisoformat(doc_a["started_at"])
    earlier = dict(doc_a, started_at=(started - timedelta(hours=1)).isoformat())
    later = dict(doc_a, kind="reassessment", verdict="FAIL", started_at=(started + timedelta(days=2)).isoformat())
    hand = root / "hand"
    return Runs(uri=uri, root=root, a=a, c=c, beta=beta, early=_log_by_hand(uri, earlier, "FINISHED", hand),
                failed=_log_by_hand(uri, later, "FAILED", hand), running=_log_by_hand(uri, later, None, hand))


def trend_json(runs: Runs, *args: str) -> dict[str, Any]:
    r = harness("trend", *args, "--format", "json", "--tracking-uri", runs.uri)
    assert r.exit_code == 0, r.stdout + r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def measurement(record: dict[str, Any], key: str) -> dict[str, Any]:
    return next(m for s in record["suites"] for m in s["measurements"] if m["key"] == key)


# -- the record ------------------------------------------------------------------------------------------------

def test_runs_in_time_order_only_finished_runs_of_this_tool(runs: Runs) -> None:
    doc = trend_json(runs, TOOL)
    assert doc["schema"] == "harness.trend/1" and (doc["tool_id"], doc["version"]) == (TOOL, None)
    # the record logged last but started first comes first; the FAILED and RUNNING re-assessments and the other
    # tool's run are not there, although each holds an assessment.json of this tool (or of one named alike)
    assert [r["run_id"] for r in doc["runs"]] == [runs.early, runs.a, runs.c]
    assert [r["started_at"] for r in doc["runs"]] == sorted(r["started_at"] for r in doc["runs"])
    assert {r["kind"] for r in doc["runs"]} == {"assessment"}
    a = runs.record("A")
    assert doc["runs"][1] == {"run_id": runs.a, "kind": "assessment", "started_at": a["started_at"],
                              "tool_version": "1.0", "verdict": a["verdict"], "policy": a["policy"]["label"],
                              "datasets": [{"name": "case-0", "sha256": a["datasets"][0]["sha256"]}]}
    # the hand-made runs are really there: FAILED and RUNNING, in the tool's experiment
    from harness.tracking import Store

    store = Store(runs.uri)
    assert [store.run(r).status for r in (runs.failed, runs.running)] == ["FAILED", "RUNNING"]  # type: ignore[union-attr]
    assert trend_json(runs, f"{TOOL}-beta")["runs"][0]["run_id"] == runs.beta


def test_every_point_is_its_runs_own_figure(runs: Runs) -> None:
    from harness.check import headline_keys
    from harness.workflows.compare import headlines

    doc = trend_json(runs, TOOL)
    wanted = headlines(list(SUITES))
    records = {runs.a: runs.record("A"), runs.c: runs.record("C")}
    keys = {k for s in records[runs.a]["suites"] for k in headline_keys(s, wanted[s["suite"]])}
    assert {s["key"] for s in doc["series"]} == keys and len(keys) > 15
    for s in doc["series"]:
        assert [p["run_id"] for p in s["points"]] == [runs.early, runs.a, runs.c]
        for p in s["points"][1:]:
            m = measurement(records[p["run_id"]], s["key"])
            f = next((f for x in records[p["run_id"]]["suites"] for f in x["findings"] if f["key"] == s["key"]), None)
            assert (p["value"], p["low"], p["high"], p["n"]) == (m["value"], m["ci_low"], m["ci_high"], m["n"])
            assert p["status"] == (f["status"] if f else None)
        f_c = next((f for x in records[runs.c]["suites"] for f in x["findings"] if f["key"] == s["key"]), None)
        assert s["threshold"] == (f_c["threshold"] if f_c else None)
    ratio = next(s for s in doc["series"] if s["key"] == "bias.four_fifths.adverse_impact_ratio.sex.F")
    assert (ratio["threshold"], ratio["greater_is_better"]) == (0.8, True)
    # the early record is a copy of A's: the same figures on the same bytes, nothing moved between them
    assert all(s["points"][0] | {"run_id": ""} == s["points"][1] | {"run_id": ""} for s in doc["series"])


def test_a_change_of_data_is_marked(runs: Runs) -> None:
    doc = trend_json(runs, TOOL)
    sha_a, sha_c = runs.record("A")["datasets"][0]["sha256"], runs.record("C")["datasets"][0]["sha256"]
    assert sha_a != sha_c
    for s in doc["series"]:
        assert [p["data_changed"] for p in s["points"]] == [False, False, True]
        assert [p["sha256"] for p in s["points"]] == [sha_a, sha_a, sha_c]
        assert s["change"] in ("on other data",) or "->" in s["change"]  # a status change is named first
    # the table names the data of each run and marks the new data; nothing is cut when piped
    r = harness("trend", TOOL, "--tracking-uri", runs.uri)
    assert r.exit_code == 0, r.stderr
    run_lines = [ln for ln in r.stdout.splitlines() if runs.c in ln]
    assert len(run_lines) == 1 and f"case-0 sha256 {sha_c[:12]} (new data)" in run_lines[0]
    assert f"case-0 sha256 {sha_a[:12]} " in next(ln for ln in r.stdout.splitlines() if runs.a in ln)
    assert max(len(ln) for ln in r.stdout.splitlines()) <= 200
    # the report of C, written when it was assessed, shows the runs recorded before it (not the early record, logged
    # later) and marks the new data
    html = (runs.root / "C" / "report.html").read_text()
    section = html[html.index('<section id="over-time">'):html.index('<section id="results">')]
    assert re.findall(r"<code>([0-9a-f]{32})</code>", section) == [runs.a, runs.c]
    assert section.count("(new data)") == 1 and section.count('<figure class="trend"') == len(doc["series"])
    assert "## Over time" in (runs.root / "C" / "report.md").read_text()


def test_the_memo_shows_at_most_three_figures(runs: Runs) -> None:
    memo = (runs.root / "C" / "memo.html").read_text()
    assert 1 <= memo.count('<figure class="trend"') <= 3
    assert "3 assessments" not in memo  # C's memo was written before the early record was logged
    assert re.search(r"2 assessments, \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(the data changed\)\.", memo)
    # a tool assessed once: its memo and report show no chart (a single run's trend says no more than its verdict),
    # the report lists the run
    assert '<figure class="trend"' not in (runs.root / "A" / "memo.html").read_text()
    report = (runs.root / "A" / "report.html").read_text()
    assert '<figure class="trend"' not in report and "The first assessment of this tool" in report
    assert f"<code>{runs.a}</code>" in report[report.index('<section id="over-time">'):]


def test_one_run_gives_a_one_point_trend_with_its_charts(runs: Runs) -> None:
    doc = trend_json(runs, f"{TOOL}-beta")
    assert len(doc["runs"]) == 1 and all(len(s["points"]) == 1 for s in doc["series"])
    assert all(s["change"] == "" and not s["points"][0]["data_changed"] for s in doc["series"])
    out = runs.root / "beta.html"
    r = harness("trend", f"{TOOL}-beta", "--format", "html", "--out", str(out), "--tracking-uri", runs.uri)
    assert r.exit_code == 0, r.stderr
    html = out.read_text()
    assert html.count("<svg") == len(doc["series"]) > 15
    assert html.count("<circle") == len(doc["series"])  # one point per chart
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_one_version_and_unknown_tools(runs: Runs) -> None:
    assert [r["run_id"] for r in trend_json(runs, TOOL, "--version", "1.0")["runs"]][-1] == runs.c
    r = harness("trend", TOOL, "--version", "9.9", "--tracking-uri", runs.uri)
    assert r.exit_code == 2
    assert f"no completed assessment of {TOOL} 9.9 is recorded in {runs.uri}" in r.stderr
    r = harness("trend", "case-tool", "--tracking-uri", runs.uri)  # a prefix of two tools' ids is neither
    assert r.exit_code == 2 and "no completed assessment of case-tool is" in r.stderr


def test_the_chart_draws_the_threshold_and_the_data_change() -> None:
    from harness.report.plots import LINE, trend_svg

    points = [{"x": 0, "value": 0.9, "ci_low": 0.85, "ci_high": 0.95, "status": "PASS", "date": "2026-01-01"},
              {"x": 1, "value": 0.7, "ci_low": 0.6, "ci_high": 0.75, "status": "FAIL", "date": "2026-04-01",
               "new_data": True}]
    svg = trend_svg(points, title="four_fifths.adverse_impact_ratio\nbias · sex.F", runs=2, threshold=0.8,
                    greater_is_better=True)
    assert svg is not None
    assert svg.count("<circle") == 2 and "threshold ≥ 0.8" in svg and f'stroke="{LINE}"' in svg
    assert svg.count("new data") == 1 and "2026-01-01" in svg and "2026-04-01" in svg
    assert trend_svg([{"x": 0, "value": None, "date": ""}], title="t", runs=1, threshold=None,
                     greater_is_better=None) is None


# -- what moved since the approval --------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_reassessment_report_shows_what_moved_since_the_approval(tmp_path: Path) -> None:
    from harness import gate
    from harness.workflows.assess import run_assessment
    from tests.conftest import perfect_case, single_user
    from tests.test_reassess import make_biased

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single_user(uri, tmp_path)
    tool, card = perfect_case(tmp_path / "t", 41, n=4000)
    rec = run_assessment(tool, [str(card)], tracking_uri=uri, out=tmp_path / "first", submitter="dana")
    approved = str(rec.result.run_id)
    gate.approve(uri, "case-tool-41", "1.0", run_id=approved, reviewer="omar", rationale="fair on the reference")
    make_biased(tool)
    r = harness("reassess", "case-tool-41:1.0", "--by", "cron", "--out", str(tmp_path / "re"), "--tracking-uri", uri)
    assert r.exit_code == 1, r.stdout + r.stderr  # FAIL: suspended
    [folder] = (tmp_path / "re" / "case-tool-41").glob("1.0-*")
    doc = json.loads((folder / "assessment.json").read_text())
    first = json.loads((tmp_path / "first" / "assessment.json").read_text())
    html, md = (folder / "report.html").read_text(), (folder / "report.md").read_text()
    assert "What moved since the approval" in html and "### What moved since the approval" in md
    key = "bias.four_fifths.adverse_impact_ratio.sex.F"
    f_now = next(f for s in doc["suites"] for f in s["findings"] if f["key"] == key)
    f_then = next(f for s in first["suites"] for f in s["findings"] if f["key"] == f_now["key"])
    assert (f_then["status"], f_now["status"]) == ("PASS", "FAIL")
    assert f"| {f_now['key']} | PASS | FAIL |" in md.replace("\\_", "_")
    m_now, m_then = measurement(doc, f_now["key"]), measurement(first, f_now["key"])
    low = m_now["ci_low"] - m_then["ci_high"]  # the conservative interval of now - approved, by hand
    high = m_now["ci_high"] - m_then["ci_low"]
    assert high < 0 and f"{m_now['value'] - m_then['value']:+.3f} [{low:+.3f}, {high:+.3f}]" in md
    assert f"Since the approved run {approved} ({first['started_at'][:10]}, {first['verdict']}), on the same data" in md
    # the trend: the approval's run and the re-assessment, oldest first; the memo shows the failed figures
    t = trend_json(Runs(uri, tmp_path, "", "", "", "", "", ""), "case-tool-41")
    assert [(r["run_id"], r["kind"]) for r in t["runs"]] == [(approved, "assessment"), (doc["run_id"], "reassessment")]
    memo = (folder / "memo.html").read_text()
    assert 1 <= memo.count('<figure class="trend"') <= 3
    assert f"Since the approval ({first['started_at'][:10]}): " in memo and "finding(s) changed status" in memo
