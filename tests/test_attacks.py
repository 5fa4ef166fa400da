"""The attacks of issue 11, each tried from the attacker's side against a real SQLite MLflow store: with
MlflowClient (tags, runs, registered-model versions), with sqlite3 on the store's database, and with plain file
edits (artifacts, the model's outputs, the signing key). Every attack must end in the exact refusal or closure
message the defence gives; nothing here calls a private function of the harness to make the attack.

Covered elsewhere, not repeated here (tests/test_gate.py):
- a verdict tag set to PASS on a FAIL run: `test_a_fail_whose_verdict_tag_was_set_to_pass_is_still_refused`;
- a made-up run with copied tags and no artifacts: `test_a_made_up_run_with_copied_tags_is_no_evidence`;
- an older PASS picked over a later FAIL ('latest-evidence'): `test_an_older_pass_cannot_be_picked_over_a_later_fail`;
- a deleted last record without resetting the mirror tags: `test_deleting_the_last_record_is_reported`.
The answer-cache replay is tests/test_cache_binding.py.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from harness import gate
from harness.errors import ConfigError, GateError
from harness.gate.records import FIELD_TAG, FIELDS, HASH_TAG, RECORD_TAG, SCHEMA
from harness.policy import load_policy
from harness.workflows.assess import run_assessment
from tests.conftest import perfect_case, single_user, single_user_policy, write_case
from tests.workers import first_key

POLICY = single_user_policy()  # what the template store has in force (conftest.single_user)
LABEL = POLICY.label
SIGNATURE_TAG = "harness.decision.signature"  # what the harness writes (harness.gate.signing), as an attacker sees it
BIASED, REVIEW = "case-tool-11", "case-tool-2"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def refused(rule: str, section: str, what: str, detail: str) -> str:
    return f"{what} refused by rule '{rule}' (policy {section}): {detail}"


def broken(tool: str, first_break: str, consequence: str = "the gate is closed") -> str:
    return (f"the decision history of {tool!r} fails verification ({first_break}); {consequence}. Investigate with "
            f"`harness history {tool} --verify` and restore the store from its backup (policy 3.2)")


def cli(*args: str) -> Result:
    """The command line in-process; a wide terminal so that rich never folds a message."""
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "3000"})


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def log_of(tool: str) -> str:
    return f"{tool} (decision log)"


@dataclass
class Template:
    root: Path
    runs: dict[str, str]
    manifests: dict[str, Path]
    cards: dict[str, Path]


def biased_case(folder: Path) -> tuple[Path, Path]:
    """A callable tool (so every required suite can test it) that refuses 70 % of the women it should select:
    it FAILs the four-fifths rule, and its data quality is fine (a data_quality-only run PASSes)."""
    tool, card = perfect_case(folder, seed=11, n=3000)
    data = pd.read_csv(card.parent / "data.csv")
    biased = data["approved"].where((data["sex"] != "F") | (np.arange(len(data)) % 10 < 3), 0)
    pd.DataFrame({"id": data["id"], "prediction": biased, "score": biased * 0.8 + 0.1}).to_csv(
        folder / "predictions.csv", index=False)
    return tool, card


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """One store, two real assessments started by 'dana' with every required suite: a callable tool that FAILs
    bias, and a tool whose outputs are a predictions file (NEEDS_REVIEW, approvable with a rationale). Each test
    works on a copy of the database; the artifacts stay in this folder, so no test here rewrites them."""
    root = tmp_path_factory.mktemp("attacks")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    plan = {"biased": biased_case(root / "biased"), "review": write_case(root / "review", n=3000, seed=2)}
    runs = {}
    for key, (tool, card) in plan.items():
        rec = run_assessment(tool, [str(card)], tracking_uri=uri, out=root / "out" / key, submitter="dana")
        runs[key] = str(rec.result.run_id)
    assert gate.status(uri, BIASED, "1.0")[0].verdict == "FAIL"
    assert gate.status(uri, REVIEW, "1.0")[0].verdict == "NEEDS_REVIEW"
    return Template(root=root, runs=runs, manifests={k: v[0] for k, v in plan.items()},
                    cards={k: v[1] for k, v in plan.items()})


@pytest.fixture
def uri(template: Template, tmp_path: Path) -> str:
    shutil.copyfile(template.root / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def copy_store(template: Template, to: Path) -> str:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template.root / "mlflow.db", to / "mlflow.db")
    return f"sqlite:///{to / 'mlflow.db'}"


def logged_run_at(uri: str, tool: str) -> datetime:
    vs = gate.status(uri, tool, "1.0")[0]
    assert vs.assessed is not None
    return datetime.fromisoformat(vs.assessed.run_at)


def actions(uri: str, tool: str) -> list[str]:
    return [d.action for d in gate.history(uri, tool).records]


# -- 3. moving an old run's start time forward -------------------------------------------------------------


@pytest.mark.slow
def test_a_start_time_moved_forward_does_not_revive_stale_evidence(template: Template, uri: str,
                                                                   tmp_path: Path) -> None:
    run = template.runs["review"]
    ran = logged_run_at(uri, REVIEW)
    at = ran + timedelta(days=91)  # the evidence is 91 days old; high risk allows fewer than 90
    moved = int((at - timedelta(days=1)).timestamp() * 1000)
    with sqlite3.connect(tmp_path / "mlflow.db") as db:  # MlflowClient cannot set a start time: the database can
        assert db.execute("UPDATE runs SET start_time = ? WHERE run_uuid = ?", (moved, run)).rowcount == 1
    assert client(uri).get_run(run).info.start_time == moved  # the run now says it started a day before `at`
    with pytest.raises(GateError) as e:
        gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer="rita", rationale="the run is a day old", now=at)
    assert str(e.value) == refused(
        "fresh-evidence", "4.3", f"approval of {REVIEW} 1.0",
        f"run {run} ran on {gate.show_time(ran)}, 91 days before this decision; evidence for a high-risk tool must "
        "be younger than 90 days (reassessment_days.high). Re-assess first")
    with pytest.raises(GateError) as e:
        gate.waive(uri, REVIEW, "1.0", run_id=run, approver="omar", rationale="r", conditions="c",
                   expires=at + timedelta(days=10), now=at)
    assert str(e.value) == refused(
        "fresh-evidence", "4.3", f"waiver of {REVIEW} 1.0",
        f"run {run} ran on {gate.show_time(ran)}, 91 days before this decision; evidence for a high-risk tool must "
        "be younger than 90 days (reassessment_days.high). Re-assess first")
    assert actions(uri, REVIEW) == ["submit", "assess"]


# -- 4. deleting the last record (a suspension) and resetting the mirrors ------------------------------------


@pytest.mark.slow
def test_a_deleted_suspension_with_reset_mirrors_is_caught_by_the_anchor_and_by_the_published_head(
        template: Template, uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.gate.signing import init_key, load_signer, public_text

    run = template.runs["review"]
    at = logged_run_at(uri, REVIEW) + timedelta(hours=1)
    gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer="rita", rationale="findings monitored", now=at)
    gate.suspend(uri, REVIEW, "1.0", by="omar", reason="complaints from tenants", now=at + timedelta(days=1))
    before = cli("history", REVIEW, "--verify", "--tracking-uri", uri)
    assert before.exit_code == 0, before.output
    printed = re.search(r"chain verified: 4 records, head sha256 ([0-9a-f]{64})\n", before.output)
    assert printed is not None, before.output
    head4 = printed.group(1)  # what an auditor copied from the screen, or an export published

    c = client(uri)
    log = log_of(REVIEW)
    record4, record3 = c.get_model_version(log, "4").tags, c.get_model_version(log, "3").tags
    assert (record4["harness.decision.action"], record4[HASH_TAG]) == ("suspend", head4)
    head3 = record3[HASH_TAG]
    c.delete_model_version(log, "4")
    for key, value in {"harness.state": "approved", "harness.last_decision": f"3:{head3}",
                       "harness.last_action": "approve", "harness.last_actor": "rita",
                       "harness.last_at": record3["harness.decision.at"]}.items():
        c.set_model_version_tag(REVIEW, "1", key, value)
    c.delete_model_version_tag(REVIEW, "1", "harness.closed_reason")

    first_break = (f"record 4 missing: deleted from the end of the decision log (this installation wrote record 4, "
                   f"sha256 {head4[:12]}..., and the log now ends at record 3)")
    later = at + timedelta(days=2)
    assert gate.gate(uri, REVIEW, "1.0", now=later) == gate.GateDecision(False, broken(REVIEW, first_break), REVIEW,
                                                                         "1.0")
    assert gate.gate(uri, REVIEW, now=later).reason == broken(REVIEW, first_break)  # through the alias too
    r = cli("history", REVIEW, "--verify", "--tracking-uri", uri)
    assert r.exit_code == 1 and r.output.endswith(f"chain broken: {first_break}\n"), r.output
    r = cli("gate", REVIEW, "--tracking-uri", uri)
    assert (r.exit_code, r.output) == (1, f"CLOSED: {broken(REVIEW, first_break)}\n")

    # another installation (no anchor of this log) that trusts the first one's key: only the head published
    # before the deletion tells it that the log lost its end
    trusted = tmp_path / "trusted-keys"
    trusted.write_text(f"# the DTI workstation that writes the records\n{public_text(load_signer().public)}\n")
    monkeypatch.setenv("HARNESS_SIGNING_KEY", str(tmp_path / "auditor" / "signing.key"))
    monkeypatch.setenv("HARNESS_TRUSTED_KEYS", str(trusted))
    init_key()
    assert gate.verify_history(uri, REVIEW).ok  # without the anchor the shortened chain verifies...
    r = cli("history", REVIEW, "--verify", "--expect", head4, "--tracking-uri", uri)
    assert r.exit_code == 1, r.output
    assert r.output.endswith(  # ...but not against the head published before the deletion
        f"chain verified: 3 records, head sha256 {head3}\nunexpected head: the chain ends at {head3[:12]}..., not the "
        f"expected {head4[:12]}..., which is no record of this chain: records were removed or rewritten, or the head "
        "is of another store\n"), r.output
    r = cli("history", REVIEW, "--verify", "--expect", head3[:16], "--tracking-uri", uri)
    assert r.exit_code == 0 and r.output.endswith(f"chain verified: 3 records, head sha256 {head3}\n"), r.output


# -- 5. a forged approval appended with a correct hash and link ---------------------------------------------


def fingerprint_of(raw_public: bytes) -> str:
    """How the harness names a key (`ed25519:` and 40 hex digits of the raw key's sha256), recomputed."""
    return "ed25519:" + sha(raw_public)[:40]


def forge_approval(uri: str, tool: str, run_id: str, *, signer: str | None,
                   sign: Callable[[str], str | None]) -> tuple[int, str]:
    """Append an approval to the tool's decision log through the MLflow API, exactly as the harness writes one
    (canonical JSON, its sha256, the field tags, the next number, `prev` = the last record's sha256), and set the
    mirrors and the alias. Returns the record's number and sha256."""
    c = client(uri)
    log = log_of(tool)
    last = max(c.search_model_versions(f"name = '{log}'"), key=lambda v: int(v.version))
    logged = json.loads(last.tags[RECORD_TAG])
    assert logged["action"] == "assess" and logged["verdict"] == "FAIL"
    seq = int(last.version) + 1
    record: dict[str, object] = {k: None for k in FIELDS}
    record.update(schema=SCHEMA, seq=seq, prev=last.tags[HASH_TAG], tool=tool, version="1.0", action="approve",
                  state="approved", actor="rita", at=datetime.now(UTC).isoformat(timespec="seconds"),
                  reason="all checks pass", run_id=run_id, run_at=logged["run_at"], verdict="PASS",
                  policy_digest=logged["policy_digest"], manifest_digest=logged["manifest_digest"],
                  details={"policy": LABEL, "assess_record": logged["seq"]}, signer=signer)
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert text == gate.canonical(record)
    digest = sha(text.encode())
    tags = {"harness.kind": "decision", RECORD_TAG: text, HASH_TAG: digest}
    for k, v in record.items():
        if v is not None:
            tags[FIELD_TAG + k] = gate.canonical(v) if isinstance(v, dict) else str(v)
    signature = sign(text)
    if signature is not None:
        tags[SIGNATURE_TAG] = signature
    mv = c.create_model_version(log, source=f"harness-decision:/harness-decision-log/{tool}/{seq}", run_id=run_id,
                                tags=tags)
    assert int(mv.version) == seq  # the forged record took exactly the next number
    c.set_registered_model_alias(tool, "approved", "1")
    for key, value in {"harness.state": "approved", "harness.last_decision": f"{seq}:{digest}",
                       "harness.last_action": "approve", "harness.approved_by": "rita"}.items():
        c.set_model_version_tag(tool, "1", key, value)
    return seq, digest


@pytest.mark.slow
def test_a_forged_approval_with_a_correct_hash_breaks_the_history_and_closes_the_gate(
        template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    run = template.runs["biased"]
    attacker = Ed25519PrivateKey.generate()
    own = fingerprint_of(attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def signed(text: str) -> str:
        return base64.b64encode(attacker.sign(text.encode())).decode("ascii")

    installation = gate.history(copy_store(template, tmp_path / "peek"), BIASED).records[-1].signer
    assert installation is not None and installation != own
    forgeries = {
        "no key": (None, lambda _t: None, "it carries no signature"),
        "the attacker's own key": (own, signed, f"it is signed by {own}, which is not this installation's key nor "
                                                "one listed in HARNESS_TRUSTED_KEYS"),
        "the attacker's key under the installation's name": (
            installation, signed, f"its signature does not match its content under {installation}'s key"),
        # a vendor's installation the City trusts for its own submissions only (issue 12): it cannot approve
        "a vendor key trusted only for submissions": (
            own, signed, f"it is an approve record signed by {own}, which HARNESS_TRUSTED_KEYS trusts only for "
                         "submit records"),
    }
    listing = tmp_path / "trusted-keys"
    listing.write_text(base64.b64encode(attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
                       + " only=submit  # Example Vendor's workstation\n")
    for n, (name, (signer, sign, why)) in enumerate(forgeries.items()):
        if name.startswith("a vendor key"):
            monkeypatch.setenv("HARNESS_TRUSTED_KEYS", str(listing))
        uri = copy_store(template, tmp_path / f"forged-{n}")
        seq, _ = forge_approval(uri, BIASED, run, signer=signer, sign=sign)
        first_break = (f"record {seq} (approve of 1.0) was not written by a trusted harness installation: {why}; it "
                       "was added or rewritten through the MLflow API")
        v = gate.verify_history(uri, BIASED)
        assert (v.ok, v.records, v.first_break) == (False, 2, first_break), name
        closed = gate.GateDecision(False, broken(BIASED, first_break), BIASED, "1.0")
        assert gate.gate(uri, BIASED, "1.0") == closed, name
        assert gate.gate(uri, BIASED) == closed, name  # the alias the attacker set names 1.0: still closed
        r = cli("history", BIASED, "--verify", "--tracking-uri", uri)
        assert r.exit_code == 1 and r.output.endswith(f"chain broken: {first_break}\n"), (name, r.output)
        r = cli("gate", BIASED, "--tracking-uri", uri)
        assert (r.exit_code, r.output) == (1, f"CLOSED: {broken(BIASED, first_break)}\n"), name


# -- 6. an evidence artifact rewritten after the assessment ----------------------------------------------------


def own_store(tmp_path: Path, case: tuple[Path, Path]) -> tuple[str, str]:
    """A store of the test's own (for attacks that rewrite artifacts, which copies of the template would share)
    with one assessment of `case` started by 'dana': (uri, run id)."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    single_user(uri, tmp_path)
    tool_yaml, card = case
    run = str(run_assessment(tool_yaml, [str(card)], tracking_uri=uri, out=tmp_path / "out",
                             submitter="dana").result.run_id)
    return uri, run


def artifact_dir(uri: str, run_id: str) -> Path:
    return Path(unquote(urlparse(client(uri).get_run(run_id).info.artifact_uri).path))


@pytest.mark.slow
def test_a_rewritten_report_or_assessment_is_refused_and_named_by_the_records_export(tmp_path: Path) -> None:
    # its own store: the attack rewrites artifacts, which a copy of the template's database would share
    uri, run = own_store(tmp_path, write_case(tmp_path / "case", n=600, seed=9))
    tool = "case-tool-9"
    assert gate.status(uri, tool, "1.0")[0].verdict == "NEEDS_REVIEW"
    c = client(uri)

    # through the API: download the report, make it read PASS, log it back into the same path of the run
    report = Path(c.download_artifacts(run, "report.md", str(tmp_path / "dl")))
    original = report.read_bytes()
    assert b"NEEDS_REVIEW" in original
    report.write_bytes(original.replace(b"NEEDS_REVIEW", b"PASS"))
    c.log_artifact(run, str(report))
    assert (artifact_dir(uri, run) / "report.md").read_bytes() == report.read_bytes()
    problem = (f"run {run}'s artifact report.md has sha256 {sha(report.read_bytes())[:12]}..., recorded "
               f"{sha(original)[:12]}...: it was rewritten after the assessment")
    with pytest.raises(GateError) as e:
        gate.approve(uri, tool, "1.0", run_id=run, reviewer="rita", rationale="the report says PASS")
    assert str(e.value) == refused("intact-evidence", "3.2, 4.2", f"approval of {tool} 1.0", problem)
    with pytest.raises(GateError) as e:
        gate.waive(uri, tool, "1.0", run_id=run, approver="omar", rationale="r", conditions="c",
                   expires=datetime.now(UTC) + timedelta(days=10))
    assert str(e.value) == refused("intact-evidence", "3.2, 4.2", f"waiver of {tool} 1.0", problem)
    r = cli("records", "export", tool, "--out", str(tmp_path / "export"), "--tracking-uri", uri)
    assert r.exit_code == 1, r.output
    assert f"evidence altered: {problem}\n" in r.output and "evidence verified" not in r.output
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert (manifest["decisions"]["ok"], manifest["decisions"]["evidence_ok"]) == (True, False)
    assert manifest["decisions"]["evidence_problems"] == [problem]

    # on the store's disk: assessment.json edited, and evidence.json rewritten to list the new digests
    folder = artifact_dir(uri, run)
    (folder / "report.md").write_bytes(original)
    assessment = folder / "assessment.json"
    data = json.loads(assessment.read_text())
    assert data["verdict"] == "NEEDS_REVIEW"
    assessment.write_text(json.dumps({**data, "verdict": "PASS"}, indent=1))
    problem = (f"run {run}'s artifact assessment.json has sha256 {sha(assessment.read_bytes())[:12]}..., recorded "
               f"{sha((tmp_path / 'out' / 'assessment.json').read_bytes())[:12]}...: it was rewritten after the "
               "assessment")
    with pytest.raises(GateError) as e:
        gate.approve(uri, tool, "1.0", run_id=run, reviewer="rita", rationale="ok")
    assert str(e.value) == refused("intact-evidence", "3.2, 4.2", f"approval of {tool} 1.0", problem)
    evidence = folder / "evidence.json"
    recorded = sha(evidence.read_bytes())
    listing = json.loads(evidence.read_text())
    listing["files"]["assessment.json"] = sha(assessment.read_bytes())
    evidence.write_text(json.dumps(listing, sort_keys=True, indent=1) + "\n")
    problem = (f"run {run}'s evidence.json has sha256 {sha(evidence.read_bytes())[:12]}..., but its assess record "
               f"says {recorded[:12]}...: the evidence was rewritten after the assessment")
    with pytest.raises(GateError) as e:
        gate.approve(uri, tool, "1.0", run_id=run, reviewer="rita", rationale="ok")
    assert str(e.value) == refused("intact-evidence", "3.2, 4.2", f"approval of {tool} 1.0", problem)
    r = cli("records", "export", tool, "--out", str(tmp_path / "export2"), "--tracking-uri", uri)
    assert r.exit_code == 1 and f"evidence altered: {problem}\n" in r.output, r.output
    assert json.loads((tmp_path / "export2" / "manifest.json").read_text())["decisions"]["evidence_problems"] == [
        problem]
    assert actions(uri, tool) == ["submit", "assess"]


@pytest.mark.slow
def test_evidence_rewritten_after_approval_closes_the_gate(tmp_path: Path) -> None:
    uri, run = own_store(tmp_path, perfect_case(tmp_path / "case", seed=12, n=2000))
    tool = "case-tool-12"
    gate.approve(uri, tool, "1.0", run_id=run, reviewer="rita", rationale="ok")
    assert gate.gate(uri, tool, "1.0").open
    page = artifact_dir(uri, run) / "report.html"
    original = page.read_bytes()
    page.write_bytes(original.replace(b"PASS", b"PASS (reviewed)"))
    problem = (f"run {run}'s artifact report.html has sha256 {sha(page.read_bytes())[:12]}..., recorded "
               f"{sha(original)[:12]}...: it was rewritten after the assessment")
    assert gate.gate(uri, tool, "1.0") == gate.GateDecision(
        False, f"{tool} 1.0 is closed: the evidence its approval rests on was altered ({problem}); restore the store "
               "from its backup (policy 3.2)", tool, "1.0")
    page.write_bytes(original)  # the bytes restored from a backup: open again
    assert gate.gate(uri, tool, "1.0").open


@pytest.mark.slow
def test_a_submitted_bundle_is_the_tool_that_gets_assessed(tmp_path: Path) -> None:
    """The vendor submits a bundle, then hands DTI a copy whose outputs differ: the copy is not assessed."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    tool_yaml, card = write_case(tmp_path / "bundle", n=600, seed=13)
    r = cli("submit", str(tool_yaml.parent), "--submitter", "Vendor Val", "--tracking-uri", uri)
    assert r.exit_code == 0, r.output
    copy = tmp_path / "copy"
    shutil.copytree(tool_yaml.parent, copy)
    outputs = copy / "predictions.csv"
    submitted = sha(outputs.read_bytes())
    frame = pd.read_csv(outputs)
    frame["prediction"] = 1
    frame.to_csv(outputs, index=False)
    with pytest.raises(GateError) as e:
        run_assessment(copy / "tool.yaml", [str(card)], tracking_uri=uri, out=tmp_path / "out", submitter="dana")
    assert str(e.value) == refused(
        "same-files", "4.2", "registration of case-tool-13 1.0",
        f"case-tool-13 1.0 was registered with other files than it has now (predictions.csv: recorded sha256 "
        f"{submitted[:12]}..., found {sha(outputs.read_bytes())[:12]}...); a changed tool is a new version: change "
        "`version` in the manifest")
    assert actions(uri, "case-tool-13") == ["submit"]


@pytest.mark.slow
def test_the_regression_baseline_is_the_logged_approval_with_its_recorded_metrics(tmp_path: Path) -> None:
    """A re-assessment measures regression against the approved run: moving that baseline (tagging another run
    approved, or logging the approved run's metric again) would hide a regression."""
    from harness.gate.views import approved_baseline

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    single_user(uri, tmp_path)
    tool_yaml, card = perfect_case(tmp_path / "case", seed=14, n=2000)
    first = str(run_assessment(tool_yaml, [str(card)], tracking_uri=uri, out=tmp_path / "o1",
                               submitter="dana").result.run_id)
    gate.approve(uri, "case-tool-14", "1.0", run_id=first, reviewer="rita", rationale="ok")
    second = str(run_assessment(tool_yaml, [str(card)], tracking_uri=uri, out=tmp_path / "o2",
                                submitter="dana").result.run_id)
    c = client(uri)
    key = "performance.baselines.balanced_accuracy"
    recorded = c.get_run(first).data.metrics[key]
    c.set_tag(second, "harness.approval", "approved")  # the mirror tag the old lookup searched for
    c.log_metric(first, key, 0.01)  # the approved run's figure re-logged
    run, metrics = approved_baseline(uri, "case-tool-14", "1.0")
    assert (run, metrics[key]) == (first, recorded)
    page = artifact_dir(uri, first) / "assessment.json"
    page.write_text(page.read_text().replace(f"{recorded}", "0.01", 1))
    with pytest.raises(GateError) as e:
        approved_baseline(uri, "case-tool-14", "1.0")
    assert str(e.value).startswith(f"the approved run {first} of case-tool-14 1.0, the baseline of a re-assessment, "
                                   f"was altered after approval (run {first}'s artifact assessment.json has sha256 ")


# -- 7. a partial-suite run ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_pass_on_a_narrowed_run_is_no_evidence_for_an_approval(template: Template, uri: str,
                                                                  tmp_path: Path) -> None:
    full = template.runs["biased"]
    assert gate.status(uri, BIASED, "1.0")[0].assessed.run_id == full  # type: ignore[union-attr]
    partial = run_assessment(template.manifests["biased"], [str(template.cards["biased"])], suites=["data_quality"],
                             tracking_uri=uri, out=tmp_path / "dq", submitter="dana").result
    assert partial.verdict.value == "PASS"
    run = str(partial.run_id)
    required = POLICY.required_suites["decision-support"]
    assert required == ["bias", "data_quality", "degradation", "explainability", "performance"]
    detail = (f"run {run} ran data_quality, but {LABEL} requires bias, data_quality, degradation, explainability, "
              "performance for a decision-support tool; missing: bias, degradation, explainability, performance. "
              "Assess it with every required suite (leave out --suite)")
    with pytest.raises(GateError) as e:
        gate.approve(uri, BIASED, "1.0", run_id=run, reviewer="rita", rationale="the latest run passed")
    assert str(e.value) == refused("complete-evidence", "4.2", f"approval of {BIASED} 1.0", detail)
    with pytest.raises(GateError) as e:  # a risk accepted must be a risk that was looked for
        gate.waive(uri, BIASED, "1.0", run_id=run, approver="omar", rationale="r", conditions="c",
                   expires=datetime.now(UTC) + timedelta(days=10))
    assert str(e.value) == refused("complete-evidence", "4.2", f"waiver of {BIASED} 1.0", detail)
    r = cli("approve", f"{BIASED}:1.0", "--run", run, "--reviewer", "rita", "--rationale", "x", "--tracking-uri", uri)
    assert (r.exit_code, r.output) == (2, "error: " + refused("complete-evidence", "4.2", f"approval of {BIASED} 1.0",
                                                              detail) + "\n")
    assert actions(uri, BIASED) == ["submit", "assess", "assess"]
    assert not gate.gate(uri, BIASED, "1.0").open


# -- 8. a self-made policy ---------------------------------------------------------------------------------------


def every_threshold_advisory(folder: Path) -> Path:
    """The attack: the policy in force, same name and version, every threshold advisory, waivers for 40,000 days."""
    from harness.policy import single_user_policy_text

    text = single_user_policy_text()
    assert text.count("    severity: blocking\n") == 31 and text.count("max_waiver_days: 90 ") == 1
    path = folder / "city-policy.yaml"
    path.write_text(text.replace("    severity: blocking\n", "    severity: advisory\n")
                    .replace("max_waiver_days: 90 ", "max_waiver_days: 40000 "))
    return path


@pytest.mark.slow
def test_a_self_made_policy_neither_approves_a_fail_nor_gets_adopted_unannounced(
        template: Template, uri: str, tmp_path: Path) -> None:
    run = template.runs["biased"]
    path = every_threshold_advisory(tmp_path)
    weak = load_policy(path)
    assert (weak.name, weak.version) == (POLICY.name, POLICY.version) and weak.digest != POLICY.digest
    assert "bias.four_fifths.adverse_impact_ratio" in POLICY.thresholds  # the rule the tool FAILs
    not_in_force = (f"the policy given, {weak.label}, is not the policy in force; the policy in force is {LABEL} "
                    f"({gate.in_force(uri).adopted}); approvals and waivers are judged against the policy in force. "
                    "Adopt this policy first with `harness policy adopt`")
    r = cli("approve", f"{BIASED}:1.0", "--run", run, "--reviewer", "rita", "--rationale", "advisory only",
            "--policy", str(path), "--tracking-uri", uri)
    assert (r.exit_code, r.output) == (2, "error: " + refused("current-policy", "4.2", f"approval of {BIASED} 1.0",
                                                              not_in_force) + "\n")
    r = cli("waive", f"{BIASED}:1.0", "--run", run, "--approver", "omar", "--rationale", "r", "--conditions", "c",
            "--expires", "2120-01-01", "--policy", str(path), "--tracking-uri", uri)
    assert (r.exit_code, r.output) == (2, "error: " + refused("current-policy", "4.2", f"waiver of {BIASED} 1.0",
                                                              not_in_force) + "\n")

    weakenings = []
    for key, t in POLICY.thresholds.items():  # each threshold that blocked for a tier is named, with its tiers
        tiers = [tier for tier in ("high", "medium", "low") if t.severity_for(tier).value == "blocking"]
        where = "all risk tiers" if len(tiers) == 3 else ("risk tiers " if len(tiers) > 1 else "risk tier ") + \
            ", ".join(tiers)
        if tiers:
            weakenings.append(f"threshold {key} is advisory instead of blocking for {where}")
    assert len(weakenings) == 31 and weakenings[1] == ("threshold bias.four_fifths.adverse_impact_ratio is advisory "
                                                       "instead of blocking for all risk tiers")
    weakenings.append("settings.gate.max_waiver_days raised from 90 to 40000: a waiver may stay in force longer "
                      "(policy 4.2)")
    listed = "".join(f"  - {w}\n" for w in weakenings)
    r = cli("policy", "adopt", str(path), "--by", "Pat Admin", "--reason", "pilot", "--tracking-uri", uri)
    assert (r.exit_code, r.output) == (2, "error: " + refused(
        "acknowledged-weakening", "4.2", f"adoption of policy {weak.label}",
        f"it is weaker than the policy in force, {LABEL} ({gate.in_force(uri).adopted}):\n{listed}"
        + "If that is intended, re-run with --acknowledge-weakening \"why\"; the record keeps the list and your "
          "words") + "\n")
    assert gate.in_force(uri).policy.digest == POLICY.digest  # still the single-user policy the store adopted

    at = logged_run_at(uri, BIASED) + timedelta(hours=1)
    until = datetime(2120, 1, 1, tzinfo=UTC)
    with pytest.raises(GateError) as e:
        gate.waive(uri, BIASED, "1.0", run_id=run, approver="omar", rationale="no alternative", conditions="none",
                   expires=date(2120, 1, 1), now=at)
    assert str(e.value) == refused(
        "waiver-limit", "4.2", f"waiver of {BIASED} 1.0",
        f"the waiver would expire on 2120-01-01, {(until - at).days} days from now; the policy allows at most 90 "
        "days (settings.gate.max_waiver_days)")
    assert actions(uri, BIASED) == ["submit", "assess"] and not gate.gate(uri, BIASED, "1.0").open


# -- 9. the model's outputs swapped under an approved manifest --------------------------------------------------


@pytest.mark.slow
def test_a_swapped_predictions_file_closes_the_gate_and_is_never_assessed_or_approved(
        template: Template, uri: str, tmp_path: Path) -> None:
    run = template.runs["review"]
    tool_yaml = template.manifests["review"]
    outputs = tool_yaml.parent / "predictions.csv"
    deployed_clean = tmp_path / "deployed-clean"
    shutil.copytree(tool_yaml.parent, deployed_clean)
    gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer="rita", rationale="open findings monitored monthly")
    opened = gate.gate(uri, REVIEW, "1.0")
    assert opened.open and opened.reason.endswith("; files verified (tool.yaml and what it names)")
    records = len(gate.history(uri, REVIEW).records)

    original = outputs.read_bytes()
    stat = outputs.stat()
    table = pd.read_csv(outputs)
    table.loc[table["prediction"] == 0, "prediction"] = 1  # everyone selected: a different tool
    try:
        table.to_csv(outputs, index=False)
        swapped = outputs.read_bytes()
        change = f"predictions.csv: recorded sha256 {sha(original)[:12]}..., found {sha(swapped)[:12]}..."
        closed = gate.GateDecision(False, f"{REVIEW} 1.0 is closed: its files are not the ones assessed ({change}); a "
                                          "changed tool is a new version and needs its own assessment and approval "
                                          "(policy 4.2)", REVIEW, "1.0")
        assert gate.gate(uri, REVIEW, "1.0") == closed  # where the assessment found the manifest
        assert gate.gate(uri, REVIEW) == closed  # the alias
        deployed = tmp_path / "deployed"
        shutil.copytree(tool_yaml.parent, deployed)
        assert gate.gate(uri, REVIEW, "1.0", manifest=deployed / "tool.yaml") == closed  # the copy in use
        assert gate.gate(uri, REVIEW, "1.0", manifest=deployed_clean / "tool.yaml").open
        r = cli("gate", f"{REVIEW}:1.0", "--manifest", str(deployed / "tool.yaml"), "--tracking-uri", uri)
        assert (r.exit_code, r.output) == (1, f"CLOSED: {closed.reason}\n")

        not_registered = refused("same-files", "4.2", f"registration of {REVIEW} 1.0",
                                 f"{REVIEW} 1.0 was registered with other files than it has now ({change}); a changed "
                                 "tool is a new version: change `version` in the manifest")
        r = cli("assess", str(tool_yaml), "--dataset", str(template.cards["review"]), "--by", "dana", "--out",
                str(tmp_path / "again"), "--tracking-uri", uri)
        assert r.exit_code == 2 and r.stderr.endswith(f"error: {not_registered}\n"), r.output
        r = cli("reassess", f"{REVIEW}:1.0", "--by", "scheduler", "--format", "json", "--tracking-uri", uri)
        assert r.exit_code == 4, r.output
        assert json.loads(r.stdout) == [{"tool": REVIEW, "version": "1.0", "verdict": "ERROR", "run": None,
                                         "approval": "unchanged; still due", "next_due": None,
                                         "reason": not_registered}]
        changed = f"{REVIEW} 1.0's files changed since they were assessed ({change}); a changed tool is a new " \
                  "version: change `version` in the manifest and assess it"
        with pytest.raises(GateError) as e:
            gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer="rita", rationale="same manifest")
        assert str(e.value) == refused("same-files", "4.2", f"approval of {REVIEW} 1.0", changed)
        with pytest.raises(GateError) as e:
            gate.waive(uri, REVIEW, "1.0", run_id=run, approver="omar", rationale="r", conditions="c",
                       expires=datetime.now(UTC) + timedelta(days=10))
        assert str(e.value) == refused("same-files", "4.2", f"waiver of {REVIEW} 1.0", changed)
        assert len(gate.history(uri, REVIEW).records) == records  # nothing recorded: no assessment, no approval
        assert gate.status(uri, REVIEW, "1.0")[0].state == "approved" and gate.gate(uri, REVIEW) == closed
    finally:
        outputs.write_bytes(original)  # the swap back: the same bytes
    os.utime(outputs, (stat.st_atime + 86400, stat.st_mtime + 86400))  # at another time: bytes count, not mtime
    assert gate.gate(uri, REVIEW, "1.0") == opened


# -- 10. the signing key ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_signing_key_is_private_never_replaced_and_refused_when_others_can_read_it(
        template: Template, uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.gate.signing import load_signer, public_text

    trusted = tmp_path / "trusted-keys"
    trusted.write_text(public_text(load_signer().public) + "\n")  # the installation that wrote the template
    key = tmp_path / "second" / "signing.key"
    monkeypatch.setenv("HARNESS_SIGNING_KEY", str(key))
    monkeypatch.setenv("HARNESS_TRUSTED_KEYS", str(trusted))
    r = cli("keys", "init")
    assert r.exit_code == 0, r.output
    assert key.stat().st_mode & 0o777 == 0o600
    public = key.with_suffix(".pub").read_text().strip()
    raw = base64.b64decode(public)
    assert r.output == (f"signing key: {key}\nfingerprint: {fingerprint_of(raw)}\npublic key:  {public}\n")
    pem = key.read_bytes()
    r = cli("keys", "init")
    assert (r.exit_code, r.output) == (2, f"error: a signing key already exists at {key}; the records it signed are "
                                          "verified with it, so it is never replaced. Point HARNESS_SIGNING_KEY "
                                          "elsewhere to make another\n")
    assert key.read_bytes() == pem

    run = template.runs["review"]
    key.chmod(0o644)
    readable = (f"the signing key {key} can be read by other users (mode 0o644); run `chmod 600 {key}`")
    with pytest.raises(ConfigError) as e:
        gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer="rita", rationale="findings monitored")
    assert str(e.value) == readable
    r = cli("approve", f"{REVIEW}:1.0", "--run", run, "--reviewer", "rita", "--rationale", "findings monitored",
            "--tracking-uri", uri)
    assert (r.exit_code, r.output) == (2, f"error: {readable}\n")
    key.chmod(0o600)
    assert actions(uri, REVIEW) == ["submit", "assess"]  # nothing was recorded with the exposed key
    d = gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer="rita", rationale="findings monitored")
    assert d.signer == fingerprint_of(raw)  # the second installation signs with its own key


# ------------------------------------------------------------------------------------------------------------
# Defences that did not hold when this file was first written (each read a run tag or a version tag where it
# should read the decision log); fixed since: each test is the attack and what the harness answers.


@pytest.mark.slow
def test_a_swapped_predictions_file_with_its_mirror_tag_edited_is_still_not_assessed(
        template: Template, uri: str, tmp_path: Path) -> None:
    from harness.manifest import load_manifest
    from harness.tools.artifacts import artifact_digests, combined

    tool_yaml = template.manifests["review"]
    outputs = tool_yaml.parent / "predictions.csv"
    original = outputs.read_bytes()
    table = pd.read_csv(outputs)
    table.loc[table["prediction"] == 0, "prediction"] = 1
    records = len(gate.history(uri, REVIEW).records)
    try:
        table.to_csv(outputs, index=False)
        change = f"predictions.csv: recorded sha256 {sha(original)[:12]}..., found {sha(outputs.read_bytes())[:12]}..."
        client(uri).set_model_version_tag(REVIEW, "1", "harness.artifacts_digest",
                                          combined(artifact_digests(load_manifest(tool_yaml))))
        with pytest.raises(GateError) as e:  # on main: the assessment runs and its record joins the log
            run_assessment(tool_yaml, [str(template.cards["review"])], tracking_uri=uri, out=tmp_path / "o",
                           submitter="dana")
        assert str(e.value) == refused("same-files", "4.2", f"registration of {REVIEW} 1.0",
                                       f"{REVIEW} 1.0 was registered with other files than it has now ({change}); a "
                                       "changed tool is a new version: change `version` in the manifest")
    finally:
        outputs.write_bytes(original)
    assert len(gate.history(uri, REVIEW).records) == records


@pytest.mark.slow
def test_an_analyst_who_edits_the_submitter_tag_still_cannot_approve_their_own_run(uri: str, tmp_path: Path) -> None:
    from harness.manifest import load_manifest

    tool_yaml, card = write_case(tmp_path / "vendor", n=600, seed=9)
    gate.register_version(uri, load_manifest(tool_yaml), tool_yaml, submitter="vendor-co")
    run = str(run_assessment(tool_yaml, [str(card)], tracking_uri=uri, out=tmp_path / "o",
                             submitter="sam").result.run_id)
    assert gate.history(uri, "case-tool-9").records[-1].actor == "sam"  # the log knows who ran it
    client(uri).set_tag(run, "harness.submitter", "dana")
    with pytest.raises(GateError) as e:  # on main: approved, by sam, of sam's own run
        gate.approve(uri, "case-tool-9", "1.0", run_id=run, reviewer="sam", rationale="looks fine")
    assert str(e.value) == refused("separation-of-duties", "2.3, 4.1", "approval of case-tool-9 1.0",
                                   f"'sam' started assessment run {run}; the reviewer must be someone else")


@pytest.mark.slow
def test_a_run_whose_policy_tag_was_edited_is_still_judged_under_its_logged_policy(
        template: Template, uri: str, tmp_path: Path) -> None:
    run = template.runs["review"]
    stricter = POLICY.model_copy(update={"min_group_size": 50})
    path = tmp_path / "stricter.yaml"
    path.write_text(json.dumps(stricter.model_dump(mode="json")))
    gate.adopt(uri, path, by="Paula Policy", reason="larger groups before a verdict",
               acknowledge_weakening="a larger minimum group leaves more groups unjudged; accepted for precision")
    adopted = gate.in_force(uri).policy
    client(uri).set_tag(run, "harness.policy_digest", adopted.digest)
    with pytest.raises(GateError) as e:  # on main: approved, and the record says it rests on the adopted policy
        gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer="rita", rationale="findings monitored")
    assert str(e.value).startswith(refused("current-policy", "4.2", f"approval of {REVIEW} 1.0",
                                           f"run {run} was judged under "))
    assert actions(uri, REVIEW) == ["submit", "assess"]


@pytest.mark.slow
def test_a_narrowed_run_of_an_approved_version_does_not_move_its_due_date(
        template: Template, uri: str, tmp_path: Path) -> None:
    gate.approve(uri, REVIEW, "1.0", run_id=template.runs["review"], reviewer="rita", rationale="findings monitored")
    due = gate.next_due(gate.status(uri, REVIEW, "1.0")[0])
    assert due == logged_run_at(uri, REVIEW) + timedelta(days=90)
    later = run_assessment(template.manifests["review"], [str(template.cards["review"])], suites=["data_quality"],
                           tracking_uri=uri, out=tmp_path / "dq", submitter="dana").result
    assert later.verdict.value != "ERROR"
    assert gate.next_due(gate.status(uri, REVIEW, "1.0")[0]) == due  # on main: 90 days after the narrowed run


@pytest.mark.slow
def test_reassess_refuses_a_rewritten_plan_of_the_approved_run(tmp_path: Path) -> None:
    # its own store: the attack rewrites an artifact
    uri, run = own_store(tmp_path, write_case(tmp_path / "case", n=600, seed=9))
    gate.approve(uri, "case-tool-9", "1.0", run_id=run, reviewer="rita", rationale="findings monitored")
    plan = artifact_dir(uri, run) / "inputs" / "plan.json"
    doc = json.loads(plan.read_text())
    assert doc["suites"] == ["bias", "data_quality", "degradation", "explainability", "performance"]
    plan.write_text(json.dumps({**doc, "suites": ["data_quality"]}, sort_keys=True, indent=1))
    client(uri).set_tag(run, "harness.inputs_sha256", sha(plan.read_bytes()))
    records = len(gate.history(uri, "case-tool-9").records)
    from harness.workflows.reassess import reassess

    [outcome] = reassess(uri, "case-tool-9:1.0", by="scheduler")
    assert outcome.verdict == "ERROR" and outcome.run_id is None, outcome  # on main: a data_quality-only run, kept
    assert len(gate.history(uri, "case-tool-9").records) == records


def test_a_store_whose_records_no_trusted_key_signed_is_listed_as_broken_and_closed(
        template: Template, uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On an installation that trusts none of the store's signers (or a store whose records were all forged),
    every tool stays in the inventory (policy 6.2), marked 'history broken', with its gate closed."""
    from harness.gate.signing import load_signer

    signer = load_signer().fingerprint
    monkeypatch.setenv("HARNESS_SIGNING_KEY", str(tmp_path / "elsewhere" / "signing.key"))  # no key there
    rows = {r.tool: r for r in gate.inventory(uri)}
    assert {t: (r.approval, r.status, r.gate_open, r.version, r.name) for t, r in rows.items()} == {
        BIASED: ("history broken", "history broken", False, "1.0", "Generated case tool"),
        REVIEW: ("history broken", "history broken", False, "1.0", "Generated case tool")}
    first_break = (f"record 1 (submit of 1.0) was not written by a trusted harness installation: it is signed by "
                   f"{signer}, which is not this installation's key nor one listed in HARNESS_TRUSTED_KEYS; it was "
                   "added or rewritten through the MLflow API")
    assert gate.gate(uri, REVIEW, "1.0") == gate.GateDecision(False, broken(REVIEW, first_break), REVIEW, "1.0")


@pytest.mark.parametrize("written", ["dana", "Dana", "  dana  ", "da\u200bna", "\u2060dana", "d\u0430na",
                                     "\uff44\uff41\uff4e\uff41", "d\u00e1na", "DANA\u200d"])
def test_separation_of_duties_sees_through_spacing_case_invisible_characters_and_lookalikes(
        template: Template, uri: str, written: str) -> None:
    """'dana' started the run; each spelling below is how she would try to approve it herself (issue 12)."""
    run = template.runs["review"]
    with pytest.raises(GateError) as e:
        gate.approve(uri, REVIEW, "1.0", run_id=run, reviewer=written, rationale="looked at it")
    assert str(e.value) == refused("separation-of-duties", "2.3, 4.1", f"approval of {REVIEW} 1.0",
                                   f"{written.strip()!r} submitted {REVIEW} 1.0; the reviewer must be someone else")


def test_people_keys() -> None:
    from harness.gate.inputs import person_key

    assert person_key("Dana\u00a0\u00a0Analyst") == person_key("dana analyst") == "dana analyst"
    assert person_key("Dana\u2003Analyst\u200b") == "dana analyst"
    assert person_key("\u0421\u0430m S\u0435ller") == "cam seller"  # Cyrillic С а е: read as Latin
    assert person_key("Omar") != person_key("Dana")


def test_processes_making_the_first_key_at_once_all_get_the_same_whole_key(tmp_path: Path) -> None:
    """The first decisions of a new installation, at once (cron and an analyst): one key is made, none of them
    reads it half-written, and the key file is never replaced."""
    import multiprocessing

    path = str(tmp_path / "keys" / "signing.key")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        prints = pool.map(first_key, [path] * 8)
    assert len(set(prints)) == 1 and prints[0].startswith("ed25519:")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["signing.key", "signing.pub"]
    assert oct((tmp_path / "keys" / "signing.key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_a_vendor_who_submits_after_dti_assessed_can_never_decide_on_their_version(tmp_path: Path) -> None:
    """DTI assesses first (the version is registered under the analyst), then the vendor submits the same bundle:
    the vendor is recorded as a submitter too, and neither the vendor's person nor the vendor organisation can
    approve or waive it (issue 12, section 2)."""
    tool_yaml, card = write_case(tmp_path / "bundle", n=3000, seed=15, disparity=0.2)
    uri, run = own_store(tmp_path, (tool_yaml, card))
    assert gate.status(uri, "case-tool-15", "1.0")[0].verdict == "FAIL"
    r = cli("submit", str(tool_yaml.parent), "--submitter", "Sam Seller, Test Vendor", "--tracking-uri", uri)
    assert r.exit_code == 0, r.output
    records = gate.history(uri, "case-tool-15").records
    assert [(d.action, d.actor, d.state) for d in records] == [
        ("submit", "dana", "submitted"), ("assess", "dana", "assessed"),
        ("submit", "Sam Seller, Test Vendor", "assessed")]
    r = cli("submit", str(tool_yaml.parent), "--submitter", "sam seller, test vendor", "--tracking-uri", uri)
    assert r.exit_code == 0 and len(gate.history(uri, "case-tool-15").records) == 3  # once per person
    waiver = {"run_id": run, "rationale": "r", "conditions": "c", "expires": datetime.now(UTC) + timedelta(days=10)}
    for who, why in (("Sam Seller", "'Sam Seller' submitted case-tool-15 1.0; the approver must be someone else"),
                     ("Test Vendor", "'Test Vendor' names the vendor of case-tool-15 1.0, Test Vendor; the approver "
                                     "must be someone at the City"),
                     ("Omar O, Test Vendor", "'Omar O, Test Vendor' names the vendor of case-tool-15 1.0, Test "
                                             "Vendor; the approver must be someone at the City")):
        with pytest.raises(GateError) as e:
            gate.waive(uri, "case-tool-15", "1.0", approver=who, **waiver)
        assert str(e.value) == refused("separation-of-duties", "2.3, 4.1", "waiver of case-tool-15 1.0", why)
    assert gate.waive(uri, "case-tool-15", "1.0", approver="Omar O, DTI", **waiver).state == "waived"


def test_a_new_store_at_the_same_place_never_meets_the_old_stores_anchor(tmp_path: Path) -> None:
    """The null of the anchor: `make demo` twice, or a fresh store where an old one was deleted, is not a deleted
    tail (the anchor is keyed by the log's first record), while the old store's tail cut off is."""
    from harness.manifest import load_manifest

    tool_yaml, _ = write_case(tmp_path / "case", n=50, seed=16)
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    second = tool_yaml.with_name("tool-2.0.yaml")
    second.write_text(tool_yaml.read_text().replace('version: "1.0"', 'version: "2.0"'))
    # the first store in a process of its own (as a first `make demo` would be), on this installation's key
    import subprocess
    import sys

    code = ("import sys\nfrom harness import gate\nfrom harness.manifest import load_manifest\n"
            "for m in sys.argv[2:]:\n    gate.register_version(sys.argv[1], load_manifest(m), m, submitter='v')\n"
            "print(gate.verify_history(sys.argv[1], 'case-tool-16').records)\n")
    r = subprocess.run([sys.executable, "-c", code, uri, str(tool_yaml), str(second)], capture_output=True,
                       text=True, timeout=300)
    assert (r.returncode, r.stdout) == (0, "2\n"), r.stderr
    from harness.gate.signing import heads

    assert [v["seq"] for k, v in heads().items() if k.startswith(f"{uri}|case-tool-16 (decision log)|")] == [2]
    shutil.rmtree(tmp_path / "store")
    gate.register_version(uri, load_manifest(tool_yaml), tool_yaml, submitter="vendor-co")
    v = gate.verify_history(uri, "case-tool-16")
    assert (v.ok, v.records) == (True, 1)
