"""The approval gate against a real SQLite MLflow store and real assessments: every rule is tried and
must refuse with its exact message; the decision log is tampered with directly through MlflowClient
and verification must name the break."""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import gate
from harness.errors import GateError
from harness.gate.views import approved_baseline
from harness.manifest import load_manifest
from harness.workflows.assess import run_assessment
from tests.conftest import perfect_case, single_user, single_user_policy, write_case
from tests.workers import forked, register_many

POLICY = single_user_policy()  # what the template store has in force (conftest.single_user)
LABEL = POLICY.label


def other_version(tool: Path, version: str) -> Path:
    """The same tool declared under another version string (another manifest file, another digest)."""
    path = tool.with_name(f"tool-{version}.yaml")
    path.write_text(tool.read_text().replace('version: "1.0"', f'version: "{version}"'))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Template:
    root: Path
    runs: dict[str, str]
    manifests: dict[str, Path]
    cards: dict[str, Path]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """One store with five real assessments, all started by 'dana'; each test works on a copy of it."""
    root = tmp_path_factory.mktemp("gate-template")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    pass_tool, pass_card = perfect_case(root / "pass")
    review_tool, review_card = write_case(root / "review", n=6000, seed=2)
    fail_tool, fail_card = write_case(root / "fail", n=3000, disparity=0.2, seed=1)
    error_tool, error_card = write_case(root / "error", n=100, seed=3, kind="python")
    error_tool.write_text(error_tool.read_text().replace("{callable}", "flaky:predict"))
    (error_tool.parent / "flaky.py").write_text("def predict(frame):\n    raise RuntimeError('server returned 503')\n")
    pass2_tool = other_version(pass_tool, "2.0")
    plan = {"pass": (pass_tool, pass_card), "pass2": (pass2_tool, pass_card), "review": (review_tool, review_card),
            "fail": (fail_tool, fail_card), "error": (error_tool, error_card)}
    runs = {}
    for key, (tool, card) in plan.items():
        rec = run_assessment(tool, [str(card)], tracking_uri=uri, out=root / "out" / key,
                             submitter="dana")
        runs[key] = rec.result.run_id
    return Template(root=root, runs=runs, manifests={k: v[0] for k, v in plan.items()},
                    cards={k: v[1] for k, v in plan.items()})


@pytest.fixture
def uri(template: Template, tmp_path: Path) -> str:
    shutil.copyfile(template.root / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def mlflow_client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def run_time(uri: str, tool: str, version: str = "1.0") -> datetime:
    vs = gate.status(uri, tool, version)[0]
    assert vs.assessed is not None
    return datetime.fromisoformat(vs.assessed.run_at)


def refused(rule: str, section: str, what: str, detail: str) -> str:
    return f"{what} refused by rule '{rule}' (policy {section}): {detail}"


def test_references_and_submitters(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gate.parse_ref("rentrank") == ("rentrank", None)
    assert gate.parse_ref("rentrank:2.1.0") == ("rentrank", "2.1.0")
    with pytest.raises(GateError, match=r"^':2\.0' names no tool; write TOOL or TOOL:VERSION"):
        gate.parse_ref(":2.0")
    monkeypatch.setenv("HARNESS_USER", " analyst-ann ")
    assert gate.submitter_of(" bob ") == "bob"
    assert gate.submitter_of(None) == "analyst-ann"
    monkeypatch.setenv("HARNESS_USER", "")
    import getpass

    assert gate.submitter_of("") == getpass.getuser()


def test_records_hash_their_canonical_json() -> None:
    record = {"b": 1, "a": "é", "details": {"z": None, "y": [1, 2]}}
    text = gate.canonical(record)
    assert text == '{"a":"\\u00e9","b":1,"details":{"y":[1,2],"z":null}}'
    assert gate.sha256_text(text) == hashlib.sha256(text.encode("ascii")).hexdigest()


# -- registration and the pipeline hook -------------------------------------------------------------------


@pytest.mark.slow
def test_an_assessment_registers_its_version_and_records_submit_and_assess(template: Template, uri: str) -> None:
    t = template
    assert {k: gate.status(uri, load_manifest(m).id, load_manifest(m).version)[0].verdict
            for k, m in t.manifests.items()} == {"pass": "PASS", "pass2": "PASS", "review": "NEEDS_REVIEW",
                                                 "fail": "FAIL", "error": "ERROR"}
    rows = gate.status(uri, "case-tool-6")
    assert [(r.version, r.model_version, r.state, r.submitter) for r in rows] == [
        ("1.0", 1, "assessed", "dana"), ("2.0", 2, "assessed", "dana")]
    h = gate.history(uri, "case-tool-6")
    assert [(d.seq, d.action, d.version, d.state, d.actor, d.run_id) for d in h.records] == [
        (1, "submit", "1.0", "submitted", "dana", t.runs["pass"]),
        (2, "assess", "1.0", "assessed", "dana", t.runs["pass"]),
        (3, "submit", "2.0", "submitted", "dana", t.runs["pass2"]),
        (4, "assess", "2.0", "assessed", "dana", t.runs["pass2"]),
    ]
    # the chain: each prev is the sha256 of the previous record's canonical JSON
    prev = gate.GENESIS
    for d in h.records:
        assert d.prev == prev
        assert d.sha256 == hashlib.sha256(gate.canonical(d.record).encode()).hexdigest()
        prev = d.sha256
    assert h.verification.ok and h.verification.records == 4 and h.verification.head == prev
    assess = h.records[1]
    assert assess.verdict == "PASS" and assess.policy_digest == POLICY.digest
    assert assess.manifest_digest == sha(t.manifests["pass"])
    submit = h.records[0]
    # the version is its manifest and the files its adapter reads (issue 11): here the callable's module
    module = {"lookup.py": sha(t.manifests["pass"].parent / "lookup.py")}
    assert submit.details == {"model_version": 1, "name": "Generated case tool", "vendor": "Test Vendor",
                              "department": "Housing", "category": "decision-support", "risk_tier": "high",
                              "status": "proposed", "files_digest": None, "artifacts": module,
                              "identity": "unauthenticated",
                              "artifacts_digest": hashlib.sha256(
                                  json.dumps(module, sort_keys=True, separators=(",", ":")).encode()).hexdigest()}
    assert assess.details["artifacts"] == module
    assert assess.details["artifacts_digest"] == submit.details["artifacts_digest"]

    c = mlflow_client(uri)
    run = c.get_run(t.runs["pass"])
    assert run.data.tags["harness.manifest_digest"] == sha(t.manifests["pass"])
    assert run.data.tags["harness.submitter"] == "dana"
    mv = c.get_model_version("case-tool-6", "1")
    assert mv.source == f"runs:/{t.runs['pass']}/inputs/tool.yaml"
    assert mv.tags["harness.tool_version"] == "1.0"
    assert mv.tags["harness.manifest_digest"] == sha(t.manifests["pass"])
    assert mv.tags["harness.state"] == "assessed" and mv.tags["harness.verdict"] == "PASS"
    assert mv.tags["harness.last_decision"] == f"2:{h.records[1].sha256}"
    log = c.get_model_version("case-tool-6 (decision log)", "2")
    assert json.loads(log.tags["harness.decision.record"]) == assess.record
    assert log.tags["harness.decision.sha256"] == assess.sha256
    assert log.tags["harness.decision.actor"] == "dana"


def test_register_version_is_idempotent_and_one_version_has_one_manifest(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tool, _ = write_case(tmp_path / "c", n=50, seed=40)
    manifest = load_manifest(tool)
    files = {"tool.yaml": sha(tool), "predictions.csv": sha(tool.parent / "predictions.csv")}
    first = gate.register_version(uri, manifest, tool, submitter="vendor-co", files=files)
    again = gate.register_version(uri, manifest, tool, submitter="vendor-co", files=files)
    assert (first.tool, first.version, first.model_version, first.created) == ("case-tool-40", "1.0", 1, True)
    assert (again.model_version, again.created, again.manifest_digest) == (1, False, sha(tool))
    h = gate.history(uri, "case-tool-40")
    assert [(d.action, d.actor, d.state) for d in h.records] == [("submit", "vendor-co", "submitted")]
    assert h.records[0].details["files_digest"] == hashlib.sha256(gate.canonical(files).encode()).hexdigest()
    # the manifest and the file digests are kept in a registration run, the version's source
    c = mlflow_client(uri)
    mv = c.get_model_version("case-tool-40", "1")
    run = c.get_run(mv.run_id)
    assert run.data.tags["harness.kind"] == "registration"
    assert mv.source == f"runs:/{mv.run_id}/inputs/tool.yaml"
    assert Path(c.download_artifacts(mv.run_id, "inputs/tool.yaml", str(tmp_path))).read_bytes() == tool.read_bytes()
    listed = json.loads(Path(c.download_artifacts(mv.run_id, "registration/files.json", str(tmp_path))).read_text())
    assert listed == files

    changed = tool.with_name("changed.yaml")
    changed.write_text(tool.read_text().replace("known_limitations: none", "known_limitations: many"))
    with pytest.raises(GateError) as e:
        gate.register_version(uri, load_manifest(changed), changed, submitter="vendor-co")
    assert str(e.value) == refused(
        "one-manifest-per-version", "4.2", "registration of case-tool-40 1.0",
        f"case-tool-40 1.0 is registered with a manifest whose sha256 is {sha(tool)[:12]}..., but {changed} has "
        f"sha256 {sha(changed)[:12]}...; a changed tool is a new version: change `version` in the manifest")
    assert len(gate.history(uri, "case-tool-40").records) == 1


@pytest.mark.slow
def test_a_changed_manifest_under_a_registered_version_is_refused_before_anything_runs(
        template: Template, uri: str, tmp_path: Path) -> None:
    src = template.manifests["pass"]
    edited = src.with_name("edited.yaml")
    edited.write_text(src.read_text() + "# edited after registration\n")
    c = mlflow_client(uri)
    exp = c.get_experiment_by_name("harness/case-tool-6").experiment_id
    before = len(c.search_runs([exp]))
    with pytest.raises(GateError) as e:
        run_assessment(edited, [str(template.cards["pass"])], tracking_uri=uri,
                       out=tmp_path / "o", submitter="dana")
    assert "refused by rule 'one-manifest-per-version' (policy 4.2)" in str(e.value)
    assert len(c.search_runs([exp])) == before
    edited.unlink()


# -- approve ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_approving_a_pass_sets_the_alias_the_tags_and_opens_the_gate(template: Template, uri: str) -> None:
    run = template.runs["pass"]
    assert gate.gate(uri, "case-tool-6") == gate.GateDecision(
        False, "case-tool-6 has no approved version: nothing is approved (policy 4.1)", "case-tool-6")
    at = run_time(uri, "case-tool-6") + timedelta(days=1)
    d = gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="all checks pass", now=at)
    assert (d.seq, d.action, d.state, d.actor, d.reason, d.verdict, d.run_id) == (
        5, "approve", "approved", "rita", "all checks pass", "PASS", run)
    assert d.policy_digest == POLICY.digest and d.at == at.isoformat(timespec="seconds")
    c = mlflow_client(uri)
    assert c.get_model_version_by_alias("case-tool-6", "approved").version == 1
    tags = c.get_model_version("case-tool-6", "1").tags
    assert (tags["harness.state"], tags["harness.approved_by"], tags["harness.approval_run"]) == (
        "approved", "rita", run)
    assert c.get_run(run).data.tags["harness.approval"] == "approved"
    assert approved_baseline(uri, "case-tool-6", "1.0")[0] == run  # the re-assessment baseline (4.3)
    expected = gate.GateDecision(
        True, f"case-tool-6 1.0 is approved by rita on {gate.show_time(at)}, on run {run} (PASS); files verified "
              "(tool.yaml and what it names)", "case-tool-6", "1.0")
    assert gate.gate(uri, "case-tool-6", "1.0", now=at) == expected
    assert gate.gate(uri, "case-tool-6", now=at) == expected  # the alias names 1.0
    closed = gate.gate(uri, "case-tool-6", "2.0", now=at)
    assert not closed.open and closed.reason == (
        f"case-tool-6 2.0 is closed: not approved; assessed PASS in run {template.runs['pass2']}, no decision yet "
        "(policy 4.1)")
    # approving 2.0 moves the alias; 1.0 stays approved when asked for by version
    gate.approve(uri, "case-tool-6", "2.0", run_id=template.runs["pass2"], reviewer="rita", rationale="ok", now=at)
    assert gate.gate(uri, "case-tool-6", now=at).version == "2.0"
    assert gate.gate(uri, "case-tool-6", "1.0", now=at).open
    assert gate.verify_history(uri, "case-tool-6").ok


def test_an_alias_moved_outside_the_harness_closes_the_gate_asked_without_a_version(template: Template,
                                                                                   uri: str) -> None:
    """A vendor with EDIT on the registered model can move the alias `approved` (MLflow's permission, not the
    harness's): back from 2.0, the version in use, to 1.0, approved earlier and since replaced, or to a version
    never approved. A deployment pipeline that asks `harness gate TOOL` without a version must not be sent to the
    version the alias now names: the alias is a mirror of the decision log (the latest approval or waiver), and
    a mirror that disagrees with the log closes the gate, as an edited harness.state tag does (issue 11)."""
    at = run_time(uri, "case-tool-6", "2.0") + timedelta(days=1)
    gate.approve(uri, "case-tool-6", "1.0", run_id=template.runs["pass"], reviewer="rita", rationale="ok", now=at)
    gate.approve(uri, "case-tool-6", "2.0", run_id=template.runs["pass2"], reviewer="rita", rationale="ok", now=at)
    assert gate.gate(uri, "case-tool-6", now=at).version == "2.0"
    mlflow_client(uri).set_registered_model_alias("case-tool-6", "approved", "1")  # the vendor's move
    moved = gate.gate(uri, "case-tool-6", now=at)
    assert moved == gate.GateDecision(
        False, "case-tool-6 is closed: the alias 'approved' names version 1.0 but the decision log's latest approval "
               "or waiver is of 2.0; the alias was moved outside the harness. Ask for the version (harness gate "
               "case-tool-6:VERSION) or have a reviewer record the decision again (policy 3.2)", "case-tool-6")
    assert gate.gate(uri, "case-tool-6", "2.0", now=at).open  # asked by version, the log answers
    assert gate.gate(uri, "case-tool-6", "1.0", now=at).open
    # an alias set on a tool nothing of which was ever approved
    mlflow_client(uri).set_registered_model_alias("case-tool-2", "approved", "1")
    assert gate.gate(uri, "case-tool-2", now=at).reason == (
        "case-tool-2 is closed: the alias 'approved' names version 1.0 but the decision log records no approval or "
        "waiver; the alias was moved outside the harness. Ask for the version (harness gate case-tool-2:VERSION) or "
        "have a reviewer record the decision again (policy 3.2)")


@pytest.mark.slow
def test_a_fail_can_never_be_approved(template: Template, uri: str) -> None:
    run = template.runs["fail"]
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-1", "1.0", run_id=run, reviewer="rita", rationale="looks fine to me")
    assert str(e.value) == refused(
        "no-approval-of-fail", "4.2", "approval of case-tool-1 1.0",
        f"run {run} assessed case-tool-1 1.0 as FAIL; a tool that fails the assessment may not be used unless "
        "remediated. Remediate and re-assess, or escalate the risk with `harness waive`")
    assert not gate.gate(uri, "case-tool-1", "1.0").open
    assert [d.action for d in gate.history(uri, "case-tool-1").records] == ["submit", "assess"]


@pytest.mark.slow
def test_an_assessment_that_errored_cannot_be_approved(template: Template, uri: str) -> None:
    run = template.runs["error"]
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-3", "1.0", run_id=run, reviewer="rita", rationale="x")
    assert str(e.value) == refused(
        "no-approval-of-fail", "4.2", "approval of case-tool-3 1.0",
        f"run {run} ended in ERROR: the assessment did not complete, so there is no evidence to approve. Re-run "
        "the assessment, or escalate the risk with `harness waive`")


@pytest.mark.slow
def test_needs_review_is_approved_only_with_a_rationale(template: Template, uri: str) -> None:
    run = template.runs["review"]
    for rationale in ("", "   "):
        with pytest.raises(GateError) as e:
            gate.approve(uri, "case-tool-2", "1.0", run_id=run, reviewer="rita", rationale=rationale)
        assert str(e.value) == refused(
            "review-rationale", "2.3", "approval of case-tool-2 1.0",
            f"run {run} needs review (NEEDS_REVIEW); approving it needs a rationale that says why its open "
            "findings are acceptable (--rationale)")
    d = gate.approve(uri, "case-tool-2", "1.0", run_id=run, reviewer="rita",
                     rationale="intersectional intervals cross the limit at n=6000; monitored quarterly")
    assert (d.verdict, d.state) == ("NEEDS_REVIEW", "approved")


@pytest.mark.slow
def test_the_submitter_cannot_approve_their_own_submission(template: Template, uri: str, tmp_path: Path) -> None:
    run = template.runs["pass"]
    for name in ("dana", " Dana "):
        with pytest.raises(GateError) as e:
            gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer=name, rationale="mine is fine")
        assert str(e.value) == refused("separation-of-duties", "2.3, 4.1", "approval of case-tool-6 1.0",
                                       f"{name.strip()!r} submitted case-tool-6 1.0; the reviewer must be someone else")
    # a vendor submits, DTI's analyst assesses: neither may approve
    tool, card = perfect_case(tmp_path / "vendor", seed=6)
    v3 = other_version(tool, "3.0")
    gate.register_version(uri, load_manifest(v3), v3, submitter="vendor-co")
    rec = run_assessment(v3, [str(card)], tracking_uri=uri, out=tmp_path / "o", submitter="sam")
    assert gate.status(uri, "case-tool-6", "3.0")[0].submitter == "vendor-co"
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "3.0", run_id=rec.result.run_id, reviewer="SAM", rationale="ok")
    assert str(e.value) == refused("separation-of-duties", "2.3, 4.1", "approval of case-tool-6 3.0",
                                   f"'SAM' started assessment run {rec.result.run_id}; the reviewer must be "
                                   "someone else")
    with pytest.raises(GateError, match=r"'vendor-co' submitted case-tool-6 3\.0"):
        gate.approve(uri, "case-tool-6", "3.0", run_id=rec.result.run_id, reviewer="vendor-co", rationale="ok")
    assert gate.approve(uri, "case-tool-6", "3.0", run_id=rec.result.run_id, reviewer="rita", rationale="ok").seq


@pytest.mark.slow
def test_a_stale_run_cannot_be_approved(template: Template, uri: str) -> None:
    run = template.runs["pass"]
    ran = run_time(uri, "case-tool-6")
    days = POLICY.reassessment_days["high"]
    assert days == 90
    for late in (timedelta(days=days + 1), timedelta(days=days)):
        with pytest.raises(GateError) as e:
            # (+1 s: the record keeps the run's start to the second, MLflow to the millisecond)
            gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="ok",
                         now=ran + late + timedelta(seconds=1))
        assert str(e.value) == refused(
            "fresh-evidence", "4.3", "approval of case-tool-6 1.0",
            f"run {run} ran on {gate.show_time(ran)}, {late.days} days before this decision; evidence for a "
            "high-risk tool must be younger than 90 days (reassessment_days.high). Re-assess first")
    ok = gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="ok",
                      now=ran + timedelta(days=days) - timedelta(seconds=1))
    assert ok.state == "approved"


@pytest.mark.slow
def test_a_run_judged_under_another_policy_cannot_be_approved(template: Template, uri: str, tmp_path: Path) -> None:
    run = template.runs["pass"]
    stricter = POLICY.model_copy(update={"min_group_size": 50})
    assert stricter.digest != POLICY.digest
    # a policy file the approver passes is not the City's standard until it is adopted (issue 11)
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="ok", policy=stricter)
    assert str(e.value) == refused(
        "current-policy", "4.2", "approval of case-tool-6 1.0",
        f"the policy given, {stricter.label}, is not the policy in force; the policy in force is {LABEL} "
        f"({gate.in_force(uri).adopted}); approvals and waivers are judged against the policy "
        "in force. Adopt this policy first with `harness policy adopt`")
    path = tmp_path / "stricter.yaml"
    path.write_text(json.dumps(stricter.model_dump(mode="json")))  # JSON is YAML
    gate.adopt(uri, path, by="Paula Policy", reason="larger groups before a verdict",
               acknowledge_weakening="a larger minimum group leaves more groups unjudged; accepted for precision")
    for given in (stricter, None):  # once adopted, it is the standard whether passed or not
        with pytest.raises(GateError) as e:
            gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="ok", policy=given)
        assert str(e.value) == refused(
            "current-policy", "4.2", "approval of case-tool-6 1.0",
            f"run {run} was judged under {LABEL}, but the current policy is {stricter.label}; re-assess under the "
            "current policy")


@pytest.mark.slow
def test_a_run_of_another_version_or_manifest_cannot_be_approved(template: Template, uri: str) -> None:
    other = template.runs["pass2"]
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "1.0", run_id=other, reviewer="rita", rationale="ok")
    assert str(e.value) == refused("same-version", "4.2", "approval of case-tool-6 1.0",
                                   f"run {other} assessed case-tool-6 2.0, not case-tool-6 1.0")
    with pytest.raises(GateError, match=f"run {template.runs['fail']} assessed case-tool-1 1.0, not case-tool-6 1.0"):
        gate.approve(uri, "case-tool-6", "1.0", run_id=template.runs["fail"], reviewer="rita", rationale="ok")
    # a run that carries another manifest digest (its tag edited in the store) is not evidence for this one
    run = template.runs["pass"]
    mlflow_client(uri).set_tag(run, "harness.manifest_digest", "f" * 64)
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="ok")
    assert str(e.value) == refused(
        "same-manifest", "4.2", "approval of case-tool-6 1.0",
        f"run {run} assessed a manifest with sha256 ffffffffffff..., but case-tool-6 1.0 is registered with sha256 "
        f"{sha(template.manifests['pass'])[:12]}...")
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "1.0", run_id="0" * 32, reviewer="rita", rationale="ok")
    assert str(e.value) == refused("recorded-evidence", "4.2", "approval of case-tool-6 1.0",
                                   f"there is no MLflow run {'0' * 32!r} in {uri}")
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "9.9", run_id=run, reviewer="rita", rationale="ok")
    assert str(e.value) == refused("registered-version", "4.2", "approval of case-tool-6 9.9",
                                   "case-tool-6 has no registered version '9.9' (registered: 1.0, 2.0); assess it "
                                   "first")


# -- reject, suspend, retire -----------------------------------------------------------------------------


@pytest.mark.slow
def test_rejected_and_retired_versions_stay_closed(template: Template, uri: str) -> None:
    run = template.runs["pass"]
    at = run_time(uri, "case-tool-6") + timedelta(hours=1)
    with pytest.raises(GateError) as e:
        gate.reject(uri, "case-tool-6", "1.0", reviewer="rita", reason="  ", now=at)
    assert str(e.value) == refused("decision-reason", "3.1", "rejection of case-tool-6 1.0",
                                   "a rejection needs a reason: departments document their decision-making criteria")
    with pytest.raises(GateError) as e:
        gate.reject(uri, "case-tool-6", "1.0", reviewer="", reason="x", now=at)
    assert str(e.value) == refused("accountable-person", "2.3", "rejection of case-tool-6 1.0",
                                   "the reviewer must be named: a person answers for every decision")
    with pytest.raises(GateError) as e:  # the run a rejection cites must be about this version
        gate.reject(uri, "case-tool-6", "1.0", reviewer="rita", reason="x", run_id=template.runs["fail"], now=at)
    assert str(e.value) == refused("same-version", "4.2", "rejection of case-tool-6 1.0",
                                   f"run {template.runs['fail']} assessed case-tool-1 1.0, not case-tool-6 1.0")
    d = gate.reject(uri, "case-tool-6", "1.0", reviewer="rita", reason="vendor will not disclose training data",
                    run_id=run, now=at)
    assert (d.run_id, d.verdict) == (run, "PASS")
    assert (d.action, d.state, d.details) == ("reject", "rejected", {"from": "assessed", "identity": "unauthenticated"})
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="omar", rationale="ok", now=at)
    assert str(e.value) == refused(
        "open-version", "4.1", "approval of case-tool-6 1.0",
        f"case-tool-6 1.0 was rejected by rita on {gate.show_time(at)} (vendor will not disclose training data); "
        "a rejected version cannot be approved. Register a new version")
    assert gate.gate(uri, "case-tool-6", "1.0", now=at).reason == (
        f"case-tool-6 1.0 is closed: rejected by rita on {gate.show_time(at)}: vendor will not disclose training "
        "data (policy 4.1)")
    with pytest.raises(GateError, match="'reject-undecided'"):
        gate.reject(uri, "case-tool-6", "1.0", reviewer="rita", reason="again", now=at)
    gate.retire(uri, "case-tool-6", "2.0", by="omar", reason="replaced by another product", now=at)
    with pytest.raises(GateError) as e:
        gate.waive(uri, "case-tool-6", "2.0", run_id=template.runs["pass2"], approver="rita", rationale="r",
                   conditions="c", expires=at + timedelta(days=10), now=at)
    assert str(e.value).startswith("waiver of case-tool-6 2.0 refused by rule 'open-version' (policy 4.1): "
                                   "case-tool-6 2.0 was retired by omar")
    with pytest.raises(GateError) as e:
        gate.retire(uri, "case-tool-6", "2.0", by="omar", reason="twice", now=at)
    assert str(e.value) == refused("open-version", "4.1", "retirement of case-tool-6 2.0",
                                   "case-tool-6 2.0 is retired; it is already retired")
    assert [r.state for r in gate.status(uri, "case-tool-6")] == ["rejected", "retired"]


@pytest.mark.slow
def test_a_suspended_version_is_closed_until_approved_again(template: Template, uri: str) -> None:
    run = template.runs["pass"]
    at = run_time(uri, "case-tool-6") + timedelta(hours=1)
    with pytest.raises(GateError) as e:
        gate.suspend(uri, "case-tool-6", "1.0", by="omar", reason="complaints", now=at)
    assert str(e.value) == refused("suspend-approved", "4.3", "suspension of case-tool-6 1.0",
                                   "case-tool-6 1.0 is assessed; only an approved or waived version can be suspended")
    gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="ok", now=at)
    later = at + timedelta(days=3)
    gate.suspend(uri, "case-tool-6", "1.0", by="omar", reason="re-assessment failed on 2026 data", now=later)
    answer = gate.gate(uri, "case-tool-6", "1.0", now=later)
    assert answer == gate.GateDecision(
        False, f"case-tool-6 1.0 is closed: suspended by omar on {gate.show_time(later)}: re-assessment failed on "
               "2026 data (policy 4.1)", "case-tool-6", "1.0")
    assert gate.gate(uri, "case-tool-6", now=later) == answer  # the alias still names it, and it is closed
    again = gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="remediated",
                         now=later + timedelta(days=1))
    assert again.state == "approved" and gate.gate(uri, "case-tool-6", now=later + timedelta(days=1)).open


# -- waivers ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_approval_overdue_for_reassessment_closes_the_gate_after_the_grace_period(
        template: Template, uri: str) -> None:
    run = template.runs["pass"]
    ran = run_time(uri, "case-tool-6")
    gate.approve(uri, "case-tool-6", "1.0", run_id=run, reviewer="rita", rationale="ok", now=ran + timedelta(hours=1))
    tier = gate.status(uri, "case-tool-6", "1.0")[0].manifest["risk_tier"]
    interval = POLICY.reassessment_days[tier]
    grace = POLICY.setting("gate", "overdue_grace_days", None)
    assert grace == 30
    due = ran + timedelta(days=interval)
    assert [i.tool for i in gate.due(uri, as_of=due)] == ["case-tool-6"]
    assert gate.gate(uri, "case-tool-6", now=due + timedelta(days=grace) - timedelta(seconds=1)).open
    closed = gate.gate(uri, "case-tool-6", now=due + timedelta(days=grace))
    assert closed == gate.GateDecision(
        False, f"case-tool-6 1.0 is closed: its re-assessment was due on {gate.show_time(due)} ({interval} days after "
               f"run {run}) and is {grace} days overdue, past the {grace}-day grace period (policy 4.3). Re-assess it "
               "with `harness reassess case-tool-6:1.0`", "case-tool-6", "1.0")
    row = next(r for r in gate.inventory(uri, now=due + timedelta(days=grace)) if r.tool == "case-tool-6")
    assert not row.gate_open


@pytest.mark.slow
def test_a_waiver_opens_the_gate_until_it_expires_by_itself(template: Template, uri: str) -> None:
    run = template.runs["fail"]
    at = run_time(uri, "case-tool-1") + timedelta(hours=2)
    limit = POLICY.setting("gate", "max_waiver_days", None)
    assert limit == 90
    common = {"run_id": run, "approver": "chief-omar", "rationale": "no alternative before the 2027 procurement",
              "conditions": "caseworker reviews every denial; monthly parity report to DTI", "now": at}
    too_late = at + timedelta(days=91)
    with pytest.raises(GateError) as e:
        gate.waive(uri, "case-tool-1", "1.0", expires=too_late, **common)
    assert str(e.value) == refused(
        "waiver-limit", "4.2", "waiver of case-tool-1 1.0",
        f"the waiver would expire on {gate.show_time(too_late)}, 91 days from now; the policy allows at most 90 "
        "days (settings.gate.max_waiver_days)")
    with pytest.raises(GateError) as e:
        gate.waive(uri, "case-tool-1", "1.0", expires=at - timedelta(days=1), **common)
    assert "refused by rule 'waiver-expiry' (policy 4.2): the waiver must expire in the future" in str(e.value)
    with pytest.raises(GateError, match="'waiver-terms'"):
        gate.waive(uri, "case-tool-1", "1.0", expires=at + timedelta(days=5), **{**common, "conditions": " "})
    with pytest.raises(GateError, match="'separation-of-duties'"):
        gate.waive(uri, "case-tool-1", "1.0", expires=at + timedelta(days=5), **{**common, "approver": "dana"})

    expires = date.fromisoformat((at + timedelta(days=30)).date().isoformat())
    d = gate.waive(uri, "case-tool-1", "1.0", expires=expires, **common)
    lapse = datetime(expires.year, expires.month, expires.day, tzinfo=UTC)
    assert (d.state, d.verdict, d.expires, d.conditions) == ("waived", "FAIL", lapse.isoformat(), common["conditions"])
    before = gate.gate(uri, "case-tool-1", now=lapse - timedelta(seconds=1))
    assert before == gate.GateDecision(
        True, f"case-tool-1 1.0 is waived by chief-omar on {gate.show_time(at)} until {expires.isoformat()}; "
              f"conditions: {common['conditions']}; files verified (tool.yaml and what it names)", "case-tool-1", "1.0")
    after = gate.gate(uri, "case-tool-1", now=lapse)
    assert after == gate.GateDecision(
        False, f"case-tool-1 1.0 is closed: the waiver by chief-omar on {gate.show_time(at)} expired on "
               f"{expires.isoformat()} (policy 4.2)", "case-tool-1", "1.0")
    vs = gate.status(uri, "case-tool-1", now=lapse)[0]
    assert (vs.state, vs.approval_state, vs.expires) == ("waived", "waiver expired", lapse)
    c = mlflow_client(uri)
    assert c.get_run(run).data.tags["harness.approval"] == "waived"
    assert approved_baseline(uri, "case-tool-1", "1.0") is None  # a waived FAIL is no regression baseline


# -- the history ---------------------------------------------------------------------------------------------


def _approved_history(template: Template, uri: str) -> datetime:
    at = run_time(uri, "case-tool-6") + timedelta(hours=1)
    gate.approve(uri, "case-tool-6", "1.0", run_id=template.runs["pass"], reviewer="rita", rationale="ok", now=at)
    gate.suspend(uri, "case-tool-6", "1.0", by="omar", reason="complaints", now=at + timedelta(days=1))
    return at


LOG = "case-tool-6 (decision log)"


@pytest.mark.slow
def test_an_edited_record_is_reported_and_closes_the_gate(template: Template, uri: str) -> None:
    at = _approved_history(template, uri)
    assert gate.gate(uri, "case-tool-6", now=at).reason.startswith("case-tool-6 1.0 is closed: suspended by omar")
    c = mlflow_client(uri)
    record = json.loads(c.get_model_version(LOG, "5").tags["harness.decision.record"])
    assert record["action"] == "approve"
    record["actor"] = "mallory"
    c.set_model_version_tag(LOG, "5", "harness.decision.record", gate.canonical(record))
    v = gate.verify_history(uri, "case-tool-6")
    assert not v.ok and v.records == 4
    assert v.first_break == ("record 5 (approve of 1.0) was altered: its content no longer matches its sha256; "
                             "changed: actor (written 'rita', now 'mallory')")
    broken = gate.gate(uri, "case-tool-6", "1.0")
    assert not broken.open and broken.reason == (
        f"the decision history of 'case-tool-6' fails verification ({v.first_break}); the gate is closed. "
        "Investigate with `harness history case-tool-6 --verify` and restore the store from its backup (policy 3.2)")
    with pytest.raises(GateError) as e:
        gate.retire(uri, "case-tool-6", "1.0", by="omar", reason="x")
    assert str(e.value) == (
        f"the decision history of 'case-tool-6' fails verification ({v.first_break}); no decision is recorded on a "
        "broken history. Investigate with `harness history case-tool-6 --verify` and restore the store from its "
        "backup (policy 3.2)")


@pytest.mark.slow
def test_a_rewritten_record_with_a_fresh_hash_breaks_the_next_link(template: Template, uri: str) -> None:
    _approved_history(template, uri)
    c = mlflow_client(uri)
    tags = c.get_model_version(LOG, "5").tags
    record = json.loads(tags["harness.decision.record"])
    original = tags["harness.decision.sha256"]
    record["reason"] = "approved after full review"
    text = gate.canonical(record)
    forged = hashlib.sha256(text.encode()).hexdigest()
    for key, value in {"harness.decision.record": text, "harness.decision.sha256": forged,
                       "harness.decision.reason": record["reason"]}.items():
        c.set_model_version_tag(LOG, "5", key, value)
    v = gate.verify_history(uri, "case-tool-6")
    # its signature was made over the original text (harness.gate.signing): the rewrite is caught on the record
    assert v.first_break == (f"record 5 (approve of 1.0) was not written by a trusted harness installation: its "
                             f"signature does not match its content under {record['signer']}'s key; it was added or "
                             "rewritten through the MLflow API")
    # and had it been signed anew, the next record's link would still name the original
    from harness.gate.signing import SIGNATURE_TAG, load_signer

    c.set_model_version_tag(LOG, "5", SIGNATURE_TAG, load_signer().sign(text))
    v = gate.verify_history(uri, "case-tool-6")
    assert v.first_break == (f"record 5 was altered after record 6 was written: record 6's prev is "
                             f"{original[:12]}..., record 5's sha256 is {forged[:12]}...")
    # a tag edited alone disagrees with the record it was written with
    c.set_model_version_tag(LOG, "2", "harness.decision.verdict", "FAIL")
    assert gate.verify_history(uri, "case-tool-6").first_break == (
        "record 2 (assess of 1.0) was altered: tag harness.decision.verdict reads 'FAIL' but the record says 'PASS'")


@pytest.mark.slow
def test_a_deleted_record_is_reported(template: Template, uri: str) -> None:
    _approved_history(template, uri)
    c = mlflow_client(uri)
    digest3 = c.get_model_version(LOG, "3").tags["harness.decision.sha256"]
    c.delete_model_version(LOG, "3")
    v = gate.verify_history(uri, "case-tool-6")
    assert v.first_break == (f"record(s) 3 missing: deleted from the decision log (record 4 links to a record whose "
                             f"sha256 is {digest3[:12]}..., the last record present is 2)")
    assert v.records == 2 and not gate.gate(uri, "case-tool-6", "1.0").open


@pytest.mark.slow
def test_deleting_the_last_record_is_reported(template: Template, uri: str) -> None:
    _approved_history(template, uri)
    c = mlflow_client(uri)
    last = c.get_model_version(LOG, "6").tags["harness.decision.sha256"]
    assert c.get_model_version(LOG, "6").tags["harness.decision.action"] == "suspend"
    c.delete_model_version(LOG, "6")  # would re-open the gate, were the log the only witness
    v = gate.verify_history(uri, "case-tool-6")
    # the installation that wrote record 6 keeps its anchor outside the store (harness.gate.signing)
    assert v.first_break == (f"record 6 missing: deleted from the end of the decision log (this installation wrote "
                             f"record 6, sha256 {last[:12]}..., and the log now ends at record 5)")
    assert not gate.gate(uri, "case-tool-6", "1.0").open
    # elsewhere (no anchor), the version's mirror tag still names the deleted record
    from harness.gate.log import verify_chain
    from harness.tracking import Store

    reg = Store(uri).registry
    _, v = verify_chain("case-tool-6", reg.versions(LOG), reg.versions("case-tool-6"), uri="elsewhere")
    assert v.first_break == (f"version 1.0's tags name decision record 6 (sha256 {last[:12]}...), which is not in "
                             "the decision log: it was deleted")


# -- concurrency -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_registrations_and_decisions_lose_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first, _ = write_case(tmp_path / "init", n=50, seed=42)
    gate.register_version(uri, load_manifest(first), first, submitter="vendor-co")  # creates the store's tables
    tool, _ = write_case(tmp_path / "c", n=50, seed=41)
    same = [str(tool)] * 3  # four workers register 1.0 for the first time at once, three times each
    distinct = [[str(other_version(tool, f"w{w}.{i}")) for i in range(3)] for w in range(4)]
    with forked().Pool(4) as pool:
        numbers = pool.map(register_many, [(uri, same + d) for d in distinct])
    assert all(n[:3] == [1, 1, 1] for n in numbers)  # one version string, one model version, whoever asked
    rows = gate.status(uri, "case-tool-41")
    assert sorted(r.version for r in rows) == sorted(["1.0"] + [f"w{w}.{i}" for w in range(4) for i in range(3)])
    assert len({r.model_version for r in rows}) == 13
    versions = mlflow_client(uri).search_model_versions("name = 'case-tool-41'")
    assert len(versions) == 13  # the losers of the race for 1.0 gave their model versions back
    h = gate.history(uri, "case-tool-41")
    assert h.verification.ok and h.verification.problems == ()
    assert [d.action for d in h.records] == ["submit"] * 13  # one submit each, none lost, none twice
    assert sorted(d.version for d in h.records) == sorted(r.version for r in rows)
    entries = mlflow_client(uri).search_model_versions("name = 'case-tool-41 (decision log)'")
    assert len(entries) == 13 + len(h.verification.superseded)


# -- inventory and due -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_inventory_and_due_dates(template: Template, uri: str) -> None:
    ran = run_time(uri, "case-tool-6")
    at = ran + timedelta(hours=1)
    gate.approve(uri, "case-tool-6", "1.0", run_id=template.runs["pass"], reviewer="rita", rationale="ok", now=at)
    fail_ran = run_time(uri, "case-tool-1")
    gate.waive(uri, "case-tool-1", "1.0", run_id=template.runs["fail"], approver="omar", rationale="r",
               conditions="c", expires=at + timedelta(days=60), now=at)
    rows = {r.tool: r for r in gate.inventory(uri, now=at)}
    assert sorted(rows) == ["case-tool-1", "case-tool-2", "case-tool-3", "case-tool-6"]
    six = rows["case-tool-6"]
    assert six.as_dict() == {
        "tool": "case-tool-6", "name": "Generated case tool", "version": "1.0", "department": "Housing",
        "vendor": "Test Vendor", "category": "decision-support", "risk_tier": "high",
        # the decision log's lifecycle state, not the manifest's `status: proposed` (issue 16)
        "status": "approved", "declared_status": "proposed", "latest_verdict": "PASS",
        "latest_run": template.runs["pass"], "assessed_at": ran.isoformat(),
        "approval": "approved", "gate_open": True, "next_due": (ran + timedelta(days=90)).date().isoformat()}
    assert (rows["case-tool-1"].approval, rows["case-tool-1"].status, rows["case-tool-1"].next_due) == (
        "waived", "waived", (fail_ran + timedelta(days=90)).date().isoformat())
    assert (rows["case-tool-2"].approval, rows["case-tool-2"].latest_verdict, rows["case-tool-2"].next_due) == (
        "assessed", "NEEDS_REVIEW", None)
    assert (rows["case-tool-3"].latest_verdict, rows["case-tool-3"].gate_open) == ("ERROR", False)

    due_at = ran + timedelta(days=90)
    six_due = gate.DueItem(tool="case-tool-6", version="1.0", risk_tier="high", state="approved", last_assessed=ran,
                           last_run=template.runs["pass"], due=due_at, interval_days=90)
    assert gate.due(uri, due_at - timedelta(seconds=1)) == []
    # the waiver lapses after 60 days, before its tool falls due: a lapsed waiver is not in use, so not due
    assert gate.due(uri, due_at) == [six_due]
    assert gate.due(uri, due_at.date()) == [six_due]  # a date counts the whole day
    assert gate.due(uri, (due_at - timedelta(days=1)).date()) == []
    # under a 30-day interval both fall due while the waiver still runs, soonest first
    stricter = POLICY.model_copy(update={"reassessment_days": {"high": 30, "medium": 180, "low": 365}})
    assert [(i.tool, i.state, i.due) for i in gate.due(uri, fail_ran + timedelta(days=30), policy=stricter)] == [
        ("case-tool-6", "approved", ran + timedelta(days=30)), ("case-tool-1", "waived", fail_ran + timedelta(days=30))]


@pytest.mark.slow
def test_a_reassessment_of_an_approved_version_is_recorded_without_changing_the_decision(
        template: Template, uri: str, tmp_path: Path) -> None:
    gate.approve(uri, "case-tool-6", "1.0", run_id=template.runs["pass"], reviewer="rita", rationale="ok")
    rec = run_assessment(template.manifests["pass"], [str(template.cards["pass"])],
                         tracking_uri=uri, out=tmp_path / "again", kind="reassessment", submitter="scheduler")
    vs = gate.status(uri, "case-tool-6", "1.0")[0]
    assert (vs.state, vs.assessed.run_id, vs.assessed.actor, vs.assessed.details["kind"]) == (
        "approved", rec.result.run_id, "scheduler", "reassessment")
    assert vs.approval is not None and vs.approval.run_id == template.runs["pass"]
    assert gate.history(uri, "case-tool-6").records[-1].action == "assess"


def test_a_gate_failure_after_recording_says_the_run_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.workflows.assess as pipeline

    def broken(*_a: object, **_k: object) -> None:
        raise GateError("the decision history of 'case-tool-9' fails verification (record 2 was deleted)")

    monkeypatch.setattr(pipeline, "on_assessed", broken)
    tool, card = write_case(tmp_path / "case", n=600, seed=9)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(GateError) as e:
        run_assessment(tool, [str(card)], tracking_uri=uri, out=tmp_path / "out", submitter="dana")
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    exp = c.get_experiment_by_name(f"harness/{load_manifest(tool).id}")
    runs = c.search_runs([exp.experiment_id], filter_string="tags.`harness.verdict` != ''")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"  # the evidence is kept
    verdict = runs[0].data.tags["harness.verdict"]
    assert str(e.value) == (
        f"the assessment is recorded as run {runs[0].info.run_id} (verdict {verdict}, reports in {tmp_path / 'out'}), "
        "but the approval gate could not record it: the decision history of 'case-tool-9' fails verification "
        "(record 2 was deleted)")


# ------------------------------------------------------------------------------------------------------------
# An attacker with ordinary MLflow API access (issue 11, section 2): the gate decides from its log, not from tags


@pytest.mark.slow
def test_a_fail_whose_verdict_tag_was_set_to_pass_is_still_refused(template: Template, uri: str) -> None:
    run = template.runs["fail"]
    mlflow_client(uri).set_tag(run, "harness.verdict", "PASS")
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-1", "1.0", run_id=run, reviewer="rita", rationale="the tag says PASS")
    assert str(e.value) == refused(
        "logged-assessment", "4.2", "approval of case-tool-1 1.0",
        f"run {run} carries the verdict tag PASS, but the decision log recorded it as FAIL (record 2): the tag was "
        "changed after the assessment")
    assert not gate.gate(uri, "case-tool-1", "1.0").open


@pytest.mark.slow
def test_a_made_up_run_with_copied_tags_is_no_evidence(template: Template, uri: str) -> None:
    c = mlflow_client(uri)
    real = c.get_run(template.runs["pass"])
    forged = c.create_run(real.info.experiment_id, tags=dict(real.data.tags)).info.run_id
    c.set_terminated(forged, "FINISHED")
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "1.0", run_id=forged, reviewer="rita", rationale="copied evidence")
    assert str(e.value) == refused(
        "logged-assessment", "4.2", "approval of case-tool-6 1.0",
        f"run {forged} is not an assessment of case-tool-6 1.0 in its decision log; only a run the harness "
        "recorded when it assessed this version is evidence. Assess it with `harness assess`")
    with pytest.raises(GateError) as w:
        gate.waive(uri, "case-tool-6", "1.0", run_id=forged, approver="rita", rationale="r", conditions="c",
                   expires=datetime.now(UTC) + timedelta(days=10))
    assert "refused by rule 'logged-assessment'" in str(w.value)


@pytest.mark.slow
def test_an_older_pass_cannot_be_picked_over_a_later_fail(template: Template, uri: str, tmp_path: Path) -> None:
    tool, card = template.manifests["pass"], template.cards["pass"]
    old = template.runs["pass"]
    data = pd.read_csv(card.parent / "data.csv")
    biased = data["approved"].where((data["sex"] != "F") | (np.arange(len(data)) % 10 < 3), 0)  # 70 % of F refused
    original = (tool.parent / "predictions.csv").read_bytes()
    try:
        pd.DataFrame({"id": data["id"], "prediction": biased, "score": biased * 0.8 + 0.1}).to_csv(
            tool.parent / "predictions.csv", index=False)
        later = run_assessment(tool, [str(card)], tracking_uri=uri, out=tmp_path / "o",
                               submitter="dana")
    finally:
        (tool.parent / "predictions.csv").write_bytes(original)  # the template is shared by the module
    assert later.result.verdict.value == "FAIL"
    with pytest.raises(GateError) as e:
        gate.approve(uri, "case-tool-6", "1.0", run_id=old, reviewer="rita", rationale="the older run passed")
    assert str(e.value).startswith(refused(
        "latest-evidence", "4.2", "approval of case-tool-6 1.0",
        f"run {later.result.run_id} assessed case-tool-6 1.0 as FAIL on "))
    assert str(e.value).endswith(f"after run {old} (PASS); a decision rests on the latest evidence. Remediate and "
                                 "re-assess")
