"""Issue 16, section 3 on a real SQLite MLflow store: `harness inventory add` enters a planned tool without a
submission (policy 6.2), the inventory's status is the decision log's lifecycle state (never the manifest's), the
register publishes only the public part of a tool's records (policy 1.2, 2.4, 6.7) and `records export` keeps
every field, extension fields included. No assessment runs here: registrations and plan records only."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness import gate
from harness.cli import main
from harness.errors import GateError
from harness.manifest import load_manifest
from harness.workflows.records_export import export_records
from harness.workflows.transparency import build_register, export_register
from tests.conftest import MANIFEST

FEEDBACK = "https://www.example.gov/ai-feedback"
ADAPTER = "adapter:\n  kind: predictions\n  path: predictions.csv\n  id_column: id\n  label_column: prediction\n"
SCRIPT = "<script>alert('x')</script>"
RECORDS = f"""records:
  data_collected: [rent, household income]
  purpose: "Ranks applications; questions to 505-555-0142 {SCRIPT}"
  retention: 7 years after the case closes
  privacy_impact_assessment: PIA-2026-014 internal-dms://housing/pia/14
  contact:
    role: Housing AI program lead
    email: housing-ai@cabq.gov
  public_facing: true
  public_disclosure: https://www.cabq.gov/housing/ai-notice
  x-records-system: "internal only: Laserfiche folder 12 {SCRIPT}"
x-risk_tier: low
x-state: approved
x-note: "<img src=x onerror=alert(1)> vendor says approved"
"""


def registered(root: Path, uri: str, tool: str, text: str, status: str = "in-use") -> Path:
    """A tool version registered (state submitted) without an assessment, its manifest declaring `status`."""
    folder = root / tool
    folder.mkdir(parents=True)
    (folder / "predictions.csv").write_text("id,prediction\na1,1\n")
    path = folder / "tool.yaml"
    path.write_text(MANIFEST.format(id=tool).replace("status: proposed", f"status: {status}") + ADAPTER + text)
    gate.register_version(uri, load_manifest(path), path, submitter="vera")
    return path


@pytest.fixture
def uri(tmp_path: Path) -> str:
    (tmp_path / "store").mkdir()
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


def invoke(*argv: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(argv), env={"HARNESS_USER": None, "COLUMNS": "200"})  # type: ignore[dict-item]
    return r.exit_code, r.stdout, r.stderr


def rows(uri: str) -> dict[str, dict]:
    code, out, err = invoke("inventory", "--format", "json", "--tracking-uri", uri)
    assert code == 0, err
    return {r["tool"]: r for r in json.loads(out)}


def test_inventory_add_records_a_planned_tool_without_a_submission(tmp_path: Path, uri: str) -> None:
    records = tmp_path / "records.yaml"
    records.write_text("\n".join(line[2:] for line in RECORDS.splitlines()[1:11]) + "\n")
    code, out, err = invoke("inventory", "add", "permit-triage", "--name", "Permit triage", "--department",
                            "Planning", "--category", "predictive", "--status", "planned", "--records", str(records),
                            "--by", "Paula Planner", "--tracking-uri", uri)
    assert code == 0, err
    assert out.startswith("entered permit-triage in the inventory as planned: decision record 1 (sha256 ")
    assert rows(uri) == {"permit-triage": {
        "tool": "permit-triage", "name": "Permit triage", "version": None, "department": "Planning", "vendor": "",
        "category": "predictive", "risk_tier": "", "status": "planned", "declared_status": None,
        "latest_verdict": None, "latest_run": None, "assessed_at": None, "approval": "planned", "gate_open": False,
        "next_due": None}}
    [d] = gate.history(uri, "permit-triage").records
    assert (d.action, d.state, d.version, d.actor, d.seq) == ("plan", "planned", None, "Paula Planner", 1)
    assert d.details["records"]["privacy_impact_assessment"] == "PIA-2026-014 internal-dms://housing/pia/14"
    assert d.details["records"]["x-records-system"] == f"internal only: Laserfiche folder 12 {SCRIPT}"
    assert (d.details["identity"], d.details["category"]) == ("unauthenticated", "predictive")
    # a planned tool is nothing the gate can open, nothing due, nothing the public register lists
    answer = gate.gate(uri, "permit-triage")
    assert (answer.open, answer.reason) == (False, "permit-triage has no approved version: nothing is approved "
                                                   "(policy 4.1)")
    assert gate.due(uri) == []
    assert build_register(uri, feedback_url=FEEDBACK).entries == ()


def test_an_id_already_in_the_inventory_is_refused_and_the_same_entry_is_a_no_op(tmp_path: Path, uri: str) -> None:
    add = ("inventory", "add", "permit-triage", "--name", "Permit triage", "--department", "Planning", "--category",
           "predictive", "--by", "Paula Planner", "--tracking-uri", uri)
    assert invoke(*add, "--status", "planned")[0] == 0
    at = gate.history(uri, "permit-triage").records[0].at
    # the same facts again: nothing recorded (a script may repeat it)
    code, out, _ = invoke(*add, "--status", "planned")
    assert (code, out) == (0, "permit-triage is already in the inventory as planned with these facts: nothing "
                              "recorded\n")
    assert len(gate.history(uri, "permit-triage").records) == 1
    # other facts under the same id: refused unless --update
    code, _, err = invoke(*add, "--status", "in-development")
    assert (code, err) == (2, "error: inventory entry of permit-triage refused by rule 'already-in-inventory' "
                              "(policy 6.2): permit-triage is already in the inventory as planned, entered by Paula "
                              f"Planner on {gate.show_time(at)}; pass --update to change its entry\n")
    assert invoke(*add, "--status", "in-development", "--update")[0] == 0
    assert rows(uri)["permit-triage"]["status"] == "in-development"
    code, _, err = invoke(*add, "--status", "planned", "--update")
    assert (code, err) == (2, "error: inventory entry of permit-triage refused by rule 'lifecycle-order' (policy "
                              "6.2): permit-triage is already in-development; its stage does not go back to planned\n")
    assert [d.state for d in gate.history(uri, "permit-triage").records] == ["planned", "in-development"]
    # a tool with a submitted version moves through the gate, never back to planned
    registered(tmp_path, uri, "rentrank", "")
    with pytest.raises(GateError) as e:
        gate.add_planned(uri, "rentrank", name="RentRank", department="Housing", category="predictive",
                         status="planned", by="Paula Planner", update=True)
    assert str(e.value) == ("inventory entry of rentrank refused by rule 'already-in-inventory' (policy 6.2): rentrank "
                            "is already in the inventory with version(s) 1.0 (submitted); a submitted tool's lifecycle "
                            "is recorded by the gate (assess, approve, suspend, retire), not by `inventory add`")


def test_a_planned_tool_once_submitted_shows_its_version_state(tmp_path: Path, uri: str) -> None:
    gate.add_planned(uri, "case-tool", name="Case tool", department="Housing", category="decision-support",
                     status="in-development", by="Paula Planner")
    registered(tmp_path, uri, "case-tool", "", status="development")
    row = rows(uri)["case-tool"]
    assert (row["version"], row["status"], row["declared_status"], row["approval"]) == (
        "1.0", "submitted", "development", "submitted")
    assert [(d.action, d.state) for d in gate.history(uri, "case-tool").records] == [
        ("plan", "in-development"), ("submit", "submitted")]


def test_who_enters_a_tool_is_a_named_person(uri: str) -> None:
    base = ("inventory", "add", "chat", "--name", "Chat", "--department", "311", "--category", "generative",
            "--status", "planned", "--tracking-uri", uri)
    code, _, err = invoke(*base)
    assert (code, err) == (2, "error: inventory entry of chat refused by rule 'accountable-person' (policy 2.3): the "
                              "person reporting the tool must be named: a person answers for every decision\n")
    code, _, err = invoke(*base, "--by", "root")
    assert (code, err) == (2, "error: inventory entry of chat refused by rule 'accountable-person' (policy 2.3): "
                              "'root' is an account, not a person; the person reporting the tool must be named as the "
                              "person who answers for the decision\n")
    with pytest.raises(GateError, match="'Chat Tool' is not a tool id"):
        gate.add_planned(uri, "Chat Tool", name="Chat", department="311", category="generative", status="planned",
                         by="Paula Planner")
    assert rows(uri) == {}


def test_a_vendor_declaring_its_tool_in_use_does_not_show_as_approved(tmp_path: Path, uri: str) -> None:
    """The manifest's `status: in-use` and `x-state: approved` are a vendor's words: the inventory and the register
    show the decision log's state (submitted), and the register says it is not approved."""
    registered(tmp_path, uri, "rentrank", RECORDS)
    row = rows(uri)["rentrank"]
    assert (row["status"], row["declared_status"], row["approval"], row["gate_open"], row["risk_tier"]) == (
        "submitted", "in-use", "submitted", False, "high")
    [e] = build_register(uri, feedback_url=FEEDBACK).entries
    assert (e.phase, e.declared_phase, e.risk_tier, e.approval_state, e.approval) == (
        "submitted", "in-use", "high", "submitted", "Not approved: awaiting assessment.")


def test_the_register_publishes_only_the_public_records_masked_and_escaped(tmp_path: Path, uri: str) -> None:
    registered(tmp_path, uri, "rentrank", RECORDS)
    other = RECORDS.replace("housing-ai@cabq.gov", "jane.doe@gmail.com").replace(
        "  privacy_impact_assessment: PIA-2026-014 internal-dms://housing/pia/14\n", "")
    registered(tmp_path, uri, "second-tool", other)
    done = export_register(uri, tmp_path / "public", feedback_url=FEEDBACK)
    data = {e["id"]: e for e in json.loads(done.json_path.read_text())["entries"]}
    assert data["rentrank"]["records"] == {
        "data_collected": ["rent", "household income"],
        "purpose": f"Ranks applications; questions to ***-***-0142 {SCRIPT}",
        "retention": "7 years after the case closes", "public_facing": True,
        "public_disclosure": "https://www.cabq.gov/housing/ai-notice", "privacy_impact_assessment": "on file",
        "contact": {"role": "Housing AI program lead", "email": "housing-ai@cabq.gov"}}
    # a mailbox outside the City's domains is never published; no privacy impact assessment on file is said so
    assert data["second-tool"]["records"]["contact"] == {"role": "Housing AI program lead", "email": None}
    assert data["second-tool"]["records"]["privacy_impact_assessment"] == "none recorded"
    for text in (done.json_path.read_text(), done.html_path.read_text()):
        # never published: the assessment's internal reference, extension fields, the private address
        for secret in ("PIA-2026-014", "internal-dms", "Laserfiche", "x-records-system", "x-risk_tier", "x-note",
                       "onerror", "jane.doe", "gmail", "555-0142"):
            assert secret not in text, secret
    html = done.html_path.read_text()
    assert "<script>" not in html and "<img" not in html
    assert "Ranks applications; questions to ***-***-0142 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Housing AI program lead: housing-ai@cabq.gov" in html
    assert "Awaiting assessment (not approved) (declared: In use)" in html


def test_records_export_keeps_every_field_extensions_included(tmp_path: Path, uri: str) -> None:
    path = registered(tmp_path, uri, "rentrank", RECORDS + "x-procurement: {contract: C-77, renewed: 2026-01-05}\n")
    gate.add_planned(uri, "permit-triage", name="Permit triage", department="Planning", category="predictive",
                     status="planned", by="Paula Planner", records=load_manifest(path).records)
    declared = yaml.safe_load(path.read_text())
    done = export_records(uri, "rentrank", tmp_path / "export")
    out = json.loads((done.folder / "records.json").read_text())
    [v] = out["versions"]
    assert v["records"] == declared["records"]  # every field of the block, its x- field included, as written
    assert v["extensions"] == {"x-risk_tier": "low", "x-state": "approved",
                               "x-note": "<img src=x onerror=alert(1)> vendor says approved",
                               "x-procurement": {"contract": "C-77", "renewed": "2026-01-05"}}
    assert (v["version"], v["manifest_sha256"]) == ("1.0", gate.manifest_digest(path))
    assert "records.json" in (done.folder / "SHA256SUMS").read_text()
    planned = json.loads((export_records(uri, "permit-triage", tmp_path / "export2").folder
                          / "records.json").read_text())
    assert planned["versions"] == []
    [p] = planned["planned"]
    assert (p["state"], p["actor"], p["name"], p["category"]) == ("planned", "Paula Planner", "Permit triage",
                                                                  "predictive")
    assert p["records"] == {**declared["records"], "privacy_impact_assessment": declared["records"][
        "privacy_impact_assessment"]}
