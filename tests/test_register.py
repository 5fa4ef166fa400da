"""The public transparency register (policy 6.7) built from a real SQLite MLflow store with real assessments:
which tools are listed, what each entry says, that small groups are suppressed, and that no run id or
path of the store reaches the published files."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from harness import gate
from harness.cli import main
from harness.errors import ConfigError
from harness.manifest import load_manifest
from harness.policy import Policy, load_policy
from harness.workflows.assess import run_assessment
from harness.workflows.transparency import (
    build_register,
    export_register,
    group_figures,
    suppressed_text,
    topic_of,
    verdict_sentence,
)
from tests.conftest import MANIFEST, single_user, write_card

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "rental_assistance"
FEEDBACK = "https://www.example.gov/ai-feedback"
FAIR, VENDOR, SMALL, LISTED = "rental-screen-baseline", "rentrank", "small-pilot", "chat-in-use"
# the store's tools are assessed with --suite bias only: the public is told what else the standard requires
ONLY_BIAS = ("passed every check that ran; not tested: data quality tests (it was not run); robustness and "
             "degradation tests (it was not run); performance tests (it was not run)")

# (sex, race, rows, favourable): the tool's decisions are the truth; race C and its intersections have
# fewer than 10 rows, race B 20 and its intersections exactly 10
CELLS = [("F", "A", 480, 192), ("M", "A", 480, 192), ("F", "B", 10, 3), ("M", "B", 10, 5), ("F", "C", 5, 2),
         ("M", "C", 4, 2)]


def small_groups_case(folder: Path) -> tuple[Path, Path]:
    """A pilot tool on data where some groups are tiny, with hand-countable selection rates."""
    rows = [{"sex": sex, "race": race, "income": 50.0 + i % 7, "approved": int(i < fav)}
            for sex, race, n, fav in CELLS for i in range(n)]
    data = pd.DataFrame(rows)
    data.insert(0, "id", [f"s{i:04d}" for i in range(len(data))])
    folder.mkdir(parents=True, exist_ok=True)
    data.to_csv(folder / "data.csv", index=False)
    data.rename(columns={"approved": "prediction"})[["id", "prediction"]].to_csv(folder / "predictions.csv",
                                                                                  index=False)
    card = write_card(folder, "small-groups")
    tool = folder / "tool.yaml"
    tool.write_text(MANIFEST.format(id=SMALL).replace("status: proposed", "status: pilot")
                    + "adapter:\n  kind: predictions\n  path: predictions.csv\n  id_column: id\n"
                      "  label_column: prediction\n")
    return tool, card


def listed_only(folder: Path, extra: str = "") -> Path:
    """A tool in use that is registered but was never assessed."""
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "tool.yaml"
    text = MANIFEST.format(id=LISTED).replace("status: proposed", "status: in-use").replace(
        "category: decision-support", "category: generative").replace("risk_tier: high", "risk_tier: low")
    if extra:
        text = text.replace("known_limitations: none", f"known_limitations: {extra}")
    tool.write_text(text + "adapter:\n  kind: responses\n  path: answers.jsonl\n")
    return tool


def long_date(ms: int) -> str:
    d = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{d.day} {d:%B %Y}"


@dataclass
class Store:
    root: Path
    uri: str
    runs: dict[str, str]
    started: dict[str, int]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The baseline (approved by rita), RentRank (FAIL, proposed), a pilot on tiny groups (NEEDS_REVIEW),
    a tool in use never assessed; every assessment started by dana."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("register")
    uri = f"sqlite:///{root / 'store' / 'mlflow.db'}"
    single_user(uri, root)
    small_tool, small_card = small_groups_case(root / "small")
    plan = {FAIR: (EXAMPLES / "fair_tool.yaml", "rental-assistance"),
            VENDOR: (EXAMPLES / "vendor_tool.yaml", "rental-assistance"), SMALL: (small_tool, str(small_card))}
    runs = {}
    for key, (tool, dataset) in plan.items():
        # the approved tool ran every required suite (an approval needs complete evidence, issue 11); the
        # others only bias, so the register's wording of what was not tested is exercised
        rec = run_assessment(tool, [dataset], suites=None if key == FAIR else ["bias"], tracking_uri=uri,
                             out=root / "out" / key, submitter="dana")
        runs[key] = str(rec.result.run_id)
    gate.approve(uri, FAIR, "1.0.0", run_id=runs[FAIR], reviewer="rita", rationale="all bias checks pass")
    listed = listed_only(root / "listed")
    gate.register_version(uri, load_manifest(listed), listed, submitter="vera")
    c = MlflowClient(uri)
    started = {k: int(c.get_run(r).info.start_time) for k, r in runs.items()}
    return Store(root=root, uri=uri, runs=runs, started=started)


def entries(data: dict) -> dict[str, dict]:
    return {e["id"]: e for e in data["entries"]}


def test_the_register_lists_tools_in_use_in_pilot_or_approved(store: Store) -> None:
    reg = build_register(store.uri, feedback_url=FEEDBACK)
    # the baseline is proposed but approved; RentRank is proposed and not approved: not listed. The phase is the
    # decision log's lifecycle state (issue 16), what the manifest declares stands beside it
    assert [(e.id, e.phase, e.declared_phase, e.approval_state) for e in reg.entries] == [
        (LISTED, "submitted", "in-use", "submitted"), (SMALL, "assessed", "pilot", "assessed"),
        (FAIR, "approved", "proposed", "approved")]
    assert reg.min_cell == 10 and reg.feedback_url == FEEDBACK


def test_an_approved_entry_says_what_the_tool_does_and_what_was_found(store: Store) -> None:
    data = build_register(store.uri, feedback_url=FEEDBACK).as_dict()
    e = entries(data)[FAIR]
    manifest = yaml.safe_load((EXAMPLES / "fair_tool.yaml").read_text())
    when = long_date(store.started[FAIR])
    due = datetime.fromtimestamp(store.started[FAIR] / 1000, UTC).date() + timedelta(days=90)
    today = datetime.now(UTC)
    assert {k: v for k, v in e.items() if k not in ("group_figures", "disclosure")} == {
        "id": FAIR, "name": "Rental Assistance Screening Baseline", "version": "1.0.0",
        "description": "Flags emergency rental-assistance applications that appear to meet the programme's "
                       "published points rule, so caseworkers can check eligible-looking applications first.",
        "department": "Housing and Homelessness",
        "vendor": "City Department of Technology and Innovation (in-house)",
        "category": "decision-support", "category_label": "Decision support", "phase": "approved",
        "phase_label": "Approved for use", "declared_phase": "proposed",
        "declared_phase_label": "Proposed (not in use)", "risk_tier": "high", "records": None,
        "tier_reasons": "high; the impact answers set at least high: decides housing: high (policy 6.4, 4.3); decides "
                        "benefits: high (policy 6.4, 4.3)",
        "automation_level": "Recommends only; a caseworker reviews the documents and decides every application.",
        "human_oversight": "Caseworkers decide every case and may override the flag without giving a reason. The "
                           "programme manager reviews overrides and a random 5 % of decisions monthly.",
        "assessment": {"date": datetime.fromtimestamp(store.started[FAIR] / 1000, UTC).date().isoformat(),
                       "verdict": "PASS", "summary": f"Assessed on {when}: passed every required check."},
        "approval": {"state": "approved",
                     "summary": f"Approved for use on {today.day} {today:%B %Y}. Signed by one person whose "
                                "identity no server confirmed (a name typed on a single computer). Next review due "
                                f"by {due.day} {due:%B %Y}."},
        "feedback_url": FEEDBACK}
    assert e["disclosure"]["model_type"] == manifest["disclosure"]["model_type"]
    assert e["disclosure"]["known_limitations"] == " ".join(manifest["disclosure"]["known_limitations"].split())
    # group figures of the rental data: every group is large, nothing suppressed
    sex = [g for g in e["group_figures"]["groups"] if g["grouping"] == "sex"]
    assert sex == [
        {"dataset": "rental-assistance", "grouping": "sex", "group": "Female", "reference": False,
         "selection_rate": 0.434, "ratio_to_reference": 1.002},
        {"dataset": "rental-assistance", "grouping": "sex", "group": "Male", "reference": True,
         "selection_rate": 0.434, "ratio_to_reference": 1.0}]
    assert not [g for g in e["group_figures"]["groups"] if "suppressed" in g]


def test_verdicts_and_approvals_in_a_sentence(store: Store) -> None:
    data = entries(build_register(store.uri, feedback_url=FEEDBACK).as_dict())
    assert data[SMALL]["assessment"]["summary"] == (
        f"Assessed on {long_date(store.started[SMALL])}: no check that ran failed, but a reviewer must weigh: some "
        "groups are too small in the test data for the tests to judge; not tested: data quality tests (it was not "
        "run); robustness and degradation tests (it was not run); explainability tests (it was not run); performance "
        "tests (it was not run); decisions when only a protected characteristic changes (the tool's outputs were "
        "supplied as a file).")
    assert data[SMALL]["approval"]["summary"] == "Not approved: assessed, awaiting a decision."
    assert data[LISTED]["assessment"] == {"date": None, "verdict": None, "summary": "Not yet assessed."}
    assert data[LISTED]["approval"]["summary"] == "Not approved: awaiting assessment."
    assert data[LISTED]["group_figures"] == {"from_assessment_of": None, "groups": []}
    # RentRank is not listed, but its FAIL reads like this, from its real assessment
    from harness.tracking import Store

    vendor = json.loads(Store(store.uri).artifact_text(store.runs[VENDOR], "assessment.json") or "{}")
    assert verdict_sentence("FAIL", vendor["started_at"], vendor) == (
        f"Assessed on {long_date(store.started[VENDOR])}: did not pass: some groups are selected at less than "
        "four-fifths the rate of others (the four-fifths rule); its mistakes fall more often on some groups than "
        "on others. Not tested: data quality tests (it was not run); robustness and degradation tests (it was not "
        "run); explainability tests (it was not run); performance tests (it was not run).")


def test_groups_of_fewer_than_k_rows_are_suppressed(store: Store) -> None:
    data = entries(build_register(store.uri, feedback_url=FEEDBACK).as_dict())
    figures = {(g["grouping"], g["group"]): {k: v for k, v in g.items() if k not in ("dataset", "grouping", "group")}
               for g in data[SMALL]["group_figures"]["groups"]}
    few = "too few rows for the tests to judge"
    hidden = {"reference": False, "suppressed": "suppressed (fewer than 10)"}
    assert figures == {
        ("sex", "F"): {"reference": False, "selection_rate": 0.398, "ratio_to_reference": 0.988},  # 197/495
        ("sex", "M"): {"reference": True, "selection_rate": 0.403, "ratio_to_reference": 1.0},  # 199/494
        ("race", "A"): {"reference": True, "selection_rate": 0.4, "ratio_to_reference": 1.0},
        ("race", "B"): {"reference": False, "selection_rate": 0.4, "ratio_to_reference": 1.0, "note": few},
        ("race", "C"): hidden,  # 9 rows
        ("sex × race", "F & A"): {"reference": False, "selection_rate": 0.4, "ratio_to_reference": 1.0},
        ("sex × race", "F & B"): {"reference": False, "selection_rate": 0.3, "ratio_to_reference": 0.75,
                                  "note": few},  # exactly 10 rows: published
        ("sex × race", "F & C"): hidden,
        ("sex × race", "M & A"): {"reference": True, "selection_rate": 0.4, "ratio_to_reference": 1.0},
        ("sex × race", "M & B"): {"reference": False, "selection_rate": 0.5, "ratio_to_reference": 1.25,
                                  "note": few},
        ("sex × race", "M & C"): hidden}
    assert data[SMALL]["group_figures"]["from_assessment_of"] == data[SMALL]["assessment"]["date"]


def test_k_comes_from_the_policy(store: Store) -> None:
    policy = load_policy().model_dump(mode="json")
    policy["settings"]["register"]["min_cell"] = 20
    policy["settings"]["register"]["feedback_url"] = "https://city.example.org/feedback"
    reg = build_register(store.uri, policy=Policy.model_validate(policy))
    assert reg.feedback_url == "https://city.example.org/feedback" and reg.min_cell == 20
    small = next(e for e in reg.entries if e.id == SMALL)
    shown = {(g.grouping, g.group): g.suppressed for g in small.group_figures}
    assert [k for k, hidden in shown.items() if hidden] == [
        ("race", "C"), ("sex × race", "F & B"), ("sex × race", "F & C"), ("sex × race", "M & B"),
        ("sex × race", "M & C")]
    # a reference group under k takes every ratio of its grouping with it
    tiny_ref = [{"group": "M", "n": 8, "reference": True, "selection_rate": 0.5, "adverse_impact_ratio": 1.0},
                {"group": "F", "n": 40, "reference": False, "selection_rate": 0.25, "adverse_impact_ratio": 0.5}]
    figures = group_figures({"suites": [{"suite": "bias", "dataset": "d", "tables": {"bias.group_rates.sex":
                                                                                    tiny_ref}}]}, 10)
    assert [g.as_dict(10) for g in figures] == [
        {"dataset": "d", "grouping": "sex", "group": "M", "reference": True, "suppressed": suppressed_text(10)},
        {"dataset": "d", "grouping": "sex", "group": "F", "reference": False, "selection_rate": 0.25,
         "ratio_to_reference": "suppressed (fewer than 10)"}]
    for bad in (0, "10", True):
        policy["settings"]["register"]["min_cell"] = bad
        with pytest.raises(ConfigError, match=r"^settings.register.min_cell must be a whole number of rows, at least "
                                              r"1; the policy abq-dti-default@2026.11 sha256:"):
            build_register(store.uri, policy=Policy.model_validate(policy))


def all_run_ids(uri: str) -> list[str]:
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    c = MlflowClient(uri)
    ids = [e.experiment_id for e in c.search_experiments(view_type=ViewType.ALL)]
    return [r.info.run_id for r in c.search_runs(ids, run_view_type=ViewType.ALL, max_results=10000)]


def test_the_export_publishes_no_run_id_and_no_path(store: Store, tmp_path: Path) -> None:
    done = export_register(store.uri, tmp_path / "site", feedback_url=FEEDBACK)
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["index.html", "register.json"]
    text = done.json_path.read_text() + done.html_path.read_text()
    ids = all_run_ids(store.uri)
    assert len(ids) == 5  # three assessments, one registration run and the single-user policy's adoption run
    assert [i for i in ids if i in text] == []
    for needle in (str(store.root), "sqlite:", "file:", "mlruns", "mlflow.db", "runs:/", "/tmp/"):
        assert needle not in text, needle
    assert not re.search(r"\b[0-9a-f]{32}\b", text)  # nothing shaped like a run id either
    assert json.loads(done.json_path.read_text())["entries"][2]["id"] == FAIR


def test_the_page_is_self_contained_and_links_only_to_the_feedback_form(store: Store, tmp_path: Path) -> None:
    done = export_register(store.uri, tmp_path, feedback_url=FEEDBACK)
    html = done.html_path.read_text()
    assert "<script" not in html and "src=" not in html and "@import" not in html
    assert re.findall(r'href="([^"]*)"', html) == [FEEDBACK, FEEDBACK]
    assert "Rental Assistance Screening Baseline" in html and "Generated case tool" in html
    assert f"Assessed on {long_date(store.started[FAIR])}: passed every required check." in html
    assert html.count("suppressed (fewer than 10)") == 3  # race C, F & C, M & C
    assert "Approved for use on " in html and "RentRank" not in html
    assert ("<tr><td>small-groups</td><td>sex</td><td>F</td><td class=\"num\">39.8%</td><td class=\"num\">0.99</td>"
            "</tr>") in html  # 197/495, ratio 0.988
    assert ("<tr><td>small-groups</td><td>race</td><td>C</td><td class=\"suppressed\" colspan=\"2\">suppressed "
            "(fewer than 10)</td></tr>") in html


def test_an_internal_identifier_in_a_manifest_stops_the_export(store: Store, tmp_path: Path) -> None:
    shutil.copyfile(Path(store.uri.removeprefix("sqlite:///")), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    leaky = listed_only(tmp_path / "leaky", extra=f"see the notes in {tmp_path}/notes.txt")
    text = leaky.read_text().replace(f"id: {LISTED}", "id: leaky-tool")
    leaky.write_text(text)
    gate.register_version(uri, load_manifest(leaky), leaky, submitter="vera")
    with pytest.raises(ConfigError) as e:
        export_register(uri, tmp_path / "site", feedback_url=FEEDBACK)
    assert str(e.value) == (
        "the register entry for leaky-tool would publish an internal identifier (a run id or the store's location) "
        "in disclosure.known_limitations; remove it from the tool's manifest (a new version) before publishing "
        "(policy 6.7)")
    assert not (tmp_path / "site").exists()


def test_personal_data_in_a_manifest_never_reaches_the_public_register(store: Store, tmp_path: Path) -> None:
    """A manifest is the vendor's and the department's free text; the register publishes it (policy 6.7) and no
    resident's personal data may go with it (policy 1.2). Every field the register prints passes through
    `mask_pii`, the one masking of every output: the name, department, vendor, intended use, automation level,
    oversight and each disclosure, not only the records block."""
    shutil.copyfile(Path(store.uri.removeprefix("sqlite:///")), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tool = listed_only(tmp_path / "pii", extra="call Ann Smith on 505-555-0187 or ann.smith@gmail.com")
    text = (tool.read_text().replace(f"id: {LISTED}", "id: pii-tool")
            .replace("intended_use: Tests the harness.", "intended_use: Tests the harness (case 078-05-1120).")
            .replace("human_oversight: Every recommendation is reviewed.",
                     "human_oversight: Reviewed; disputes paid back to card 4111 1111 1111 1111.")
            .replace("vendor: Test Vendor", "vendor: Test Vendor (505) 555-0100"))
    tool.write_text(text)
    gate.register_version(uri, load_manifest(tool), tool, submitter="vera")
    export_register(uri, tmp_path / "site", feedback_url=FEEDBACK)
    published = "".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "site").rglob("*")) if p.is_file())
    for value in ("505-555-0187", "ann.smith@gmail.com", "078-05-1120", "4111 1111 1111 1111", "555-0100"):
        assert value not in published
    entry = entries(build_register(uri, feedback_url=FEEDBACK).as_dict())["pii-tool"]
    assert entry["description"] == "Tests the harness (case ***-**-1120)."
    assert entry["disclosure"]["known_limitations"] == "call Ann Smith on ***-***-0187 or a***@gmail.com"


def test_the_feedback_link_is_required_and_must_be_a_web_address(store: Store) -> None:
    with pytest.raises(ConfigError) as e:
        build_register(store.uri)
    assert str(e.value) == ("the transparency register needs a link to the public feedback form (policy 6.7): set "
                            "settings.register.feedback_url in the policy, or pass --feedback-url https://...")
    with pytest.raises(ConfigError) as e:
        build_register(store.uri, feedback_url="file:///srv/form.html")
    assert str(e.value) == ("the feedback link 'file:///srv/form.html' is not a public web address; write it as "
                            "https://host/page (settings.register.feedback_url or --feedback-url)")


def test_sentences_for_the_other_verdicts() -> None:
    at = "2026-11-27T09:30:00+00:00"
    assert verdict_sentence(None, None, None) == "Not yet assessed."
    assert verdict_sentence("PASS", at, None, "reassessment") == ("Re-assessed on 27 November 2026: passed every "
                                                                   "required check.")
    assert verdict_sentence("ERROR", at, None) == "Assessed on 27 November 2026: the assessment could not be completed."
    review = {"suites": [{"findings": [
        {"suite": "bias", "check": "equalized_odds", "metric": "difference", "status": "REVIEW",
         "severity": "blocking"},
        {"suite": "hallucination", "check": "abstention", "metric": "over_refusal_rate", "status": "FAIL",
         "severity": "advisory"},
        {"suite": "acme", "check": "tone_check", "metric": "score", "status": "FAIL", "severity": "advisory"}]}]}
    assert verdict_sentence("NEEDS_REVIEW", at, review) == (
        "Assessed on 27 November 2026: no required check failed, but a reviewer must weigh: the tests could not rule "
        "out that its mistakes fall more often on some groups than on others; it declines questions it could answer; "
        "the tone check check of the acme tests.")
    assert topic_of("hallucination.abstention.hallucination_rate") == ("it answers questions its sources cannot "
                                                                       "answer")


def harness(folder: Path, *args: str, **env: str) -> Result:
    """`harness ARGS` in this process (click's CliRunner), run from `folder` with HOME there and `env` as the only
    harness settings (none of this process's store, user or cache)."""
    drop: dict[str, str | None] = {k: None for k in os.environ
                                   if k.startswith(("HARNESS_", "MLFLOW_TRACKING_", "XDG_"))}
    with contextlib.chdir(folder):
        return CliRunner().invoke(main, list(args), env={**drop, "HOME": str(folder), **env}, prog_name="harness",
                                  catch_exceptions=False)


@pytest.mark.slow
def test_the_command_line(store: Store, tmp_path: Path) -> None:
    # the installation whose key signed the records (a machine without it trusts none)
    r = harness(tmp_path, "register", "export", "--out", str(tmp_path / "site"), "--feedback-url", FEEDBACK,
                "--tracking-uri", store.uri, COLUMNS="300", HARNESS_SIGNING_KEY=os.environ["HARNESS_SIGNING_KEY"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == ("transparency register: 3 tool(s): Generated case tool (submitted), "
                                        "Generated case tool (assessed), Rental Assistance Screening Baseline "
                                        "(approved)")
    assert json.loads((tmp_path / "site" / "register.json").read_text())["published"] == (
        datetime.now(UTC).date().isoformat())
    r = harness(tmp_path, "register", "export", "--out", str(tmp_path / "x"), "--feedback-url", FEEDBACK)
    assert (r.exit_code, r.stderr) == (2, f"error: there is no MLflow store at {tmp_path / 'mlruns' / 'mlflow.db'}; "
                                           "run the commands from the folder that holds mlruns/, or pass "
                                           "--tracking-uri\n")
    assert not (tmp_path / "mlruns").exists()


def test_the_publishing_commands_import_no_heavy_library() -> None:
    code = (
        "import sys\nfrom harness.cli import main\n"
        "for argv in (['register', 'export', '--help'], ['records', 'export', '--help']):\n"
        "    sys.argv = ['harness', *argv]\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "heavy = {'mlflow', 'great_expectations', 'aif360', 'fairlearn', 'sklearn'}\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout and "--feedback-url" in r.stdout and "TOOL" in r.stdout


# ------------------------------------------------------------------ what was not tested is said, never hidden


def _gap(tier: str = "high", verdict_findings: list[dict] | None = None) -> dict:
    """A generative tool's assessment record: the bias suite did not run, and the privacy canary was SKIPPED
    because the tool is a file of answers (blocking at tiers high and medium, advisory at low)."""
    cannot = ("the tool (adapter 'responses') cannot be asked new questions, so {} could not run; it needs an adapter "
              "that generates answers (an endpoint or a callable), not a file of answers")
    return {
        "tool": {"risk_tier": tier, "category": "generative"},
        "policy": {"document": {
            "required_suites": {"generative": ["hallucination", "privacy", "bias"]},
            "thresholds": {
                "privacy.canary.leak_rate": {"severity": "blocking", "severity_by_tier": {"low": "advisory"}},
                "hallucination.consistency.repeat_disagreement_rate": {"severity": "advisory"}}}},
        "suites": [
            {"suite": "hallucination", "skipped_reason": None, "findings": [
                {"suite": "hallucination", "check": "consistency", "metric": "disagreement_rate", "status": "SKIPPED",
                 "severity": "advisory", "message": cannot.format("the consistency check")},
                *(verdict_findings or [])]},
            {"suite": "privacy", "skipped_reason": None, "findings": [
                {"suite": "privacy", "check": "canary", "metric": "leak_rate", "status": "SKIPPED",
                 "severity": "advisory", "message": cannot.format("the canary test")}]}]}


def test_a_pass_with_untested_requirements_never_claims_every_required_check() -> None:
    at = "2026-11-27T09:30:00+00:00"
    assert verdict_sentence("PASS", at, _gap()) == (
        "Assessed on 27 November 2026: passed every check that ran; not tested: bias tests (it was not run); privacy "
        "of planted personal data (the tool cannot be asked new questions).")
    # at tier low the canary is advisory: only the required suite that never ran is missing
    assert verdict_sentence("PASS", at, _gap("low")) == (
        "Assessed on 27 November 2026: passed every check that ran; not tested: bias tests (it was not run).")
    review = _gap(verdict_findings=[{"suite": "hallucination", "check": "abstention", "metric": "over_refusal_rate",
                                     "status": "FAIL", "severity": "advisory"}])
    assert verdict_sentence("NEEDS_REVIEW", at, review) == (
        "Assessed on 27 November 2026: no check that ran failed, but a reviewer must weigh: it declines questions it "
        "could answer; not tested: bias tests (it was not run); privacy of planted personal data (the tool cannot be "
        "asked new questions).")
    assert verdict_sentence("NEEDS_REVIEW", at, _gap()) == (
        "Assessed on 27 November 2026: no check that ran failed, but a reviewer must weigh what was not tested: bias "
        "tests (it was not run); privacy of planted personal data (the tool cannot be asked new questions).")
    failed = _gap(verdict_findings=[{"suite": "hallucination", "check": "abstention", "metric": "hallucination_rate",
                                     "status": "FAIL", "severity": "blocking"}])
    assert verdict_sentence("FAIL", at, failed) == (
        "Assessed on 27 November 2026: did not pass: it answers questions its sources cannot answer. Not tested: bias "
        "tests (it was not run); privacy of planted personal data (the tool cannot be asked new questions).")


def test_an_answer_file_that_copies_the_key_is_not_said_to_pass_every_required_check(tmp_path: Path) -> None:
    """Issue 10's case: a vendor's answer file that copies the answer key. Whatever its verdict, the register
    names what a file of answers cannot be tested for."""
    from harness.assessment import assess
    from harness.datasets import load_dataset
    from harness.plugins import resolve
    from harness.tools import load_tool

    qa = load_dataset("city-services-qa")
    with (tmp_path / "responses.jsonl").open("w") as f:
        for i, answers in zip(qa.frame["id"], qa.frame["answers"], strict=True):
            f.write(json.dumps({"id": i, "answer": answers[0] if len(answers) else ""}) + "\n")
    (tmp_path / "tool.yaml").write_text(
        MANIFEST.format(id="answer-key").replace("category: decision-support", "category: generative")
        + "adapter:\n  kind: responses\n  path: responses.jsonl\n")
    manifest, policy = load_manifest(tmp_path / "tool.yaml"), load_policy()
    result = assess(manifest, load_tool(manifest), [qa], resolve(None, "generative", policy.required_suites), policy)
    record = json.loads(json.dumps(result.to_dict()))
    sentence = verdict_sentence(result.verdict.value, result.started_at, record)
    assert "every required check" not in sentence
    assert sentence.endswith(
        "not tested: privacy of planted personal data (the tool cannot be asked new questions); answers when only a "
        "name, pronoun or stated ethnicity changes (the tool cannot be asked new questions); resistance to "
        "instructions planted in its sources (the tool cannot be asked new questions); resistance to attacks in a "
        "resident's message (the tool cannot be asked new questions).")
    # an old record that called this PASS is described the same way
    from harness.workflows.transparency import long_date as day

    assert verdict_sentence("PASS", result.started_at, record).startswith(
        f"Assessed on {day(result.started_at)}: passed every check that ran; not tested: privacy of planted "
        "personal data (the tool cannot be asked new questions)")
