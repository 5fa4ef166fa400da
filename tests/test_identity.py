"""People who are who they say (issue 12, section 2): roles from the policy in force, dual sign-off, names that
are written like another recorded person, and the packaged policy's refusal of a typed name for a high-risk
approval. Each test is an attempt to get through the gate; the server-confirmed identity is exercised against a
real MLflow server with authentication in tests/test_shared_deployment.py."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from harness import gate
from harness.errors import GateError
from harness.policy import load_policy
from harness.workflows.assess import run_assessment
from tests.conftest import perfect_case

ROLES = """    roles:
      dti: [dana, rita, dina]
      department: [omar]
      vendor: [sam]
"""


def policy_file(folder: Path, *, roles: bool) -> Path:
    """The packaged policy with typed names allowed to approve (so an embedded store can test the rest) and, when
    `roles`, who holds which role. Its dual sign-off for the high tier is the packaged one: dti and department."""
    from importlib import resources

    text = resources.files("harness.policies").joinpath("default.yaml").read_text()
    text = text.replace("    authenticated_approval: [high]\n", "    authenticated_approval: []\n")
    if roles:
        text = text.replace("    roles: {}\n", ROLES)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("roles.yaml" if roles else "dual.yaml")
    path.write_text(text)
    return path


def refused(rule: str, section: str, what: str, detail: str) -> str:
    return f"{what} refused by rule '{rule}' (policy {section}): {detail}"


@dataclass
class Store:
    root: Path
    run: str
    tool: str
    label: str


def make_store(root: Path, *, roles: bool) -> Store:
    uri = f"sqlite:///{root / 'mlflow.db'}"
    path = policy_file(root, roles=roles)
    gate.adopt(uri, path, by="Pat Admin", reason="roles for the test", acknowledge_weakening="typed names approve")
    tool, card = perfect_case(root / "case")
    rec = run_assessment(tool, [str(card)], tracking_uri=uri, out=root / "out", submitter="dana")
    assert rec.result.verdict.value == "PASS", rec.result.reasons
    return Store(root=root, run=str(rec.result.run_id), tool=rec.result.tool["id"], label=load_policy(path).label)


@pytest.fixture(scope="module")
def roles_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("roles"), roles=True)


@pytest.fixture(scope="module")
def dual_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("dual"), roles=False)


def copy(store: Store, to: Path) -> str:
    shutil.copyfile(store.root / "mlflow.db", to / "mlflow.db")
    return f"sqlite:///{to / 'mlflow.db'}"


def test_the_packaged_policy_refuses_a_typed_name_for_a_high_risk_approval(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tool, card = perfect_case(tmp_path / "case")
    rec = run_assessment(tool, [str(card)], tracking_uri=uri, out=tmp_path / "out", submitter="dana")
    name, run = rec.result.tool["id"], str(rec.result.run_id)
    for decide in (lambda: gate.approve(uri, name, "1.0", run_id=run, reviewer="rita", rationale="fine"),
                   lambda: gate.waive(uri, name, "1.0", run_id=run, approver="rita", rationale="r", conditions="c",
                                      expires=date.today() + timedelta(days=30))):
        with pytest.raises(GateError) as e:
            decide()
        verb = str(e.value).split(" of ")[0]
        assert str(e.value) == refused(
            "authenticated-identity", "2.3, 4.2", f"{verb} of {name} 1.0",
            f"{load_policy().label} requires an identity confirmed by the MLflow server to approve a high-risk tool "
            "(settings.gate.authenticated_approval), and 'rita' is only a name typed on this machine: record the "
            "decision on the City's tracking server with your own login (see deploy/README.md)")
    assert gate.gate(uri, name, "1.0").open is False
    assert [d.action for d in gate.history(uri, name).records] == ["submit", "assess"]
    assert {d.details["identity"] for d in gate.history(uri, name).records} == {"unauthenticated"}


def test_a_vendor_cannot_approve_and_one_signature_does_not_open_the_gate(roles_store: Store, tmp_path: Path) -> None:
    uri, t, run = copy(roles_store, tmp_path), roles_store.tool, roles_store.run
    what = f"approval of {t} 1.0"
    with pytest.raises(GateError) as e:
        gate.approve(uri, t, "1.0", run_id=run, reviewer="sam", rationale="my tool is fine")
    assert str(e.value) == refused("role", "2.3", what, f"'sam' holds the role(s) vendor in {roles_store.label}; "
                                   "recording 'approve' needs one of dti, department (settings.gate.may.approve)")
    with pytest.raises(GateError) as e:
        gate.approve(uri, t, "1.0", run_id=run, reviewer="Walter Walk-in", rationale="fine")
    assert "'Walter Walk-in' holds no role" in str(e.value)

    first = gate.approve(uri, t, "1.0", run_id=run, reviewer="rita", rationale="every check passed")
    assert (first.action, first.state, first.details["role"], first.details["awaiting"]) == (
        "signoff", "assessed", "dti", ["department"])
    answer = gate.gate(uri, t, "1.0")
    assert answer.open is False
    for again, detail in (("rita", "'rita' already signed this decision (as dti); it awaits department from someone "
                                   "else"),
                          ("dina", "'dina' holds dti; this decision awaits department (settings.gate.signoff)")):
        with pytest.raises(GateError) as e:
            gate.approve(uri, t, "1.0", run_id=run, reviewer=again, rationale="me too")
        assert str(e.value) == refused("dual-signoff", "2.3, 4.1", what, detail)
    with pytest.raises(GateError) as e:  # the assessor is no signer, whatever role she holds
        gate.approve(uri, t, "1.0", run_id=run, reviewer="dana", rationale="mine")
    assert "separation-of-duties" in str(e.value)

    last = gate.approve(uri, t, "1.0", run_id=run, reviewer="omar", rationale="the department agrees")
    assert (last.action, last.state, last.details["signoffs"]) == (
        "approve", "approved", [{"actor": "rita", "role": "dti"}, {"actor": "omar", "role": "department"}])
    assert gate.gate(uri, t, "1.0").open is True
    assert [d.action for d in gate.history(uri, t).records] == ["submit", "assess", "signoff", "approve"]


def test_the_department_may_sign_first(roles_store: Store, tmp_path: Path) -> None:
    uri, t, run = copy(roles_store, tmp_path), roles_store.tool, roles_store.run
    assert gate.approve(uri, t, "1.0", run_id=run, reviewer="omar", rationale="ok").details["awaiting"] == ["dti"]
    assert gate.approve(uri, t, "1.0", run_id=run, reviewer="dina", rationale="ok").action == "approve"
    assert gate.gate(uri, t, "1.0").open is True


def test_without_roles_a_dual_signoff_needs_two_different_people(dual_store: Store, tmp_path: Path) -> None:
    uri, t, run = copy(dual_store, tmp_path), dual_store.tool, dual_store.run
    d = gate.approve(uri, t, "1.0", run_id=run, reviewer="Rita Reviewer", rationale="ok")
    assert (d.action, d.details["role"]) == ("signoff", "dti")
    with pytest.raises(GateError) as e:  # the same person again, written the same way
        gate.approve(uri, t, "1.0", run_id=run, reviewer="Rita Reviewer", rationale="ok")
    assert str(e.value) == refused("dual-signoff", "2.3, 4.1", f"approval of {t} 1.0",
                                   "'Rita Reviewer' already signed this decision (as dti); it awaits department "
                                   "from someone else")
    assert gate.gate(uri, t, "1.0").open is False
    assert gate.gate(uri, t).reason == f"{t} has no approved version: nothing is approved (policy 4.1)"  # one signature
    assert gate.approve(uri, t, "1.0", run_id=run, reviewer="Omar Owner", rationale="ok").state == "approved"
    # the second signature sets the alias and the log's approval together: asked without a version, the gate agrees
    assert gate.gate(uri, t) == gate.gate(uri, t, "1.0") and gate.gate(uri, t).open


@pytest.mark.parametrize("written", ["Rita  Reviewer", "rita reviewer", "Rita\u00a0Reviewer", "R\u0456ta Reviewer",
                                     "Rita Reviewer, City of Albuquerque", "R. Reviewer", "rita.reviewer@cabq.gov",
                                     "Rita R."])
def test_a_name_written_like_another_recorded_person_is_refused(dual_store: Store, tmp_path: Path,
                                                               written: str) -> None:
    """After 'Rita Reviewer' signed, a second signature under a spelling of her name that a reader takes for hers
    is not a second person: refused before the separation and sign-off rules could be misled."""
    uri, t, run = copy(dual_store, tmp_path), dual_store.tool, dual_store.run
    gate.approve(uri, t, "1.0", run_id=run, reviewer="Rita Reviewer", rationale="ok")
    with pytest.raises(GateError) as e:
        gate.approve(uri, t, "1.0", run_id=run, reviewer=written, rationale="ok")
    assert str(e.value) in (
        refused("dual-signoff", "2.3, 4.1", f"approval of {t} 1.0", f"{written!r} already signed this decision (as "
                "dti); it awaits department from someone else"),
        refused("distinct-names", "2.3, 4.1", f"signoff of {t} 1.0", f"{written!r} is written like 'Rita Reviewer', "
                "already recorded in this log, but is not the same text: write the name exactly as recorded "
                "('Rita Reviewer') if it is the same person, or a distinguishable name if not"))
    assert gate.gate(uri, t, "1.0").open is False


def test_a_spelling_of_a_recorded_name_is_refused_on_any_record(dual_store: Store, tmp_path: Path) -> None:
    uri, t = copy(dual_store, tmp_path), dual_store.tool
    with pytest.raises(GateError) as e:  # 'dana' ran the assessment; 'DANA ' suspends nothing in her name
        gate.reject(uri, t, "1.0", reviewer="Dana", reason="not needed")
    assert str(e.value) == refused("distinct-names", "2.3, 4.1", f"reject of {t} 1.0",
                                   "'Dana' is written like 'dana', already recorded in this log, but is not the same "
                                   "text: write the name exactly as recorded ('dana') if it is the same person, or a "
                                   "distinguishable name if not")


def test_a_waiver_needs_every_signature_on_the_same_terms(dual_store: Store, tmp_path: Path) -> None:
    uri, t, run = copy(dual_store, tmp_path), dual_store.tool, dual_store.run
    until = (gate.history(uri, t).records[-1].when + timedelta(days=30)).date()
    d = gate.waive(uri, t, "1.0", run_id=run, approver="Rita Reviewer", rationale="needed for the pilot",
                   conditions="monthly review", expires=until)
    assert (d.action, d.details["for"], d.expires) == ("signoff", "waive", None)
    with pytest.raises(GateError) as e:
        gate.waive(uri, t, "1.0", run_id=run, approver="Omar Owner", rationale="needed", conditions="no review",
                   expires=until)
    assert str(e.value) == refused("dual-signoff", "2.3, 4.2", f"waiver of {t} 1.0",
                                   f"Rita Reviewer signed this waiver with other conditions or another expiry (record "
                                   f"{d.seq}); every signature must be on the same terms")
    done = gate.waive(uri, t, "1.0", run_id=run, approver="Omar Owner", rationale="needed", conditions="monthly review",
                      expires=until)
    assert (done.action, done.state) == ("waive", "waived") and gate.gate(uri, t, "1.0").open is True


def test_who_holds_a_role_decides_who_may_adopt_the_next_policy(roles_store: Store, tmp_path: Path) -> None:
    uri = copy(roles_store, tmp_path)
    path = policy_file(tmp_path / "next", roles=True)
    path.write_text(path.read_text().replace("min_group_size: 30 ", "min_group_size: 40 "))
    with pytest.raises(GateError) as e:  # Pat adopted the roles policy; under it Pat holds no role
        gate.adopt(uri, path, by="Pat Admin", reason="stricter", acknowledge_weakening="larger groups")
    assert "'Pat Admin' holds no role" in str(e.value) and "settings.gate.may.adopt" in str(e.value)
    assert gate.adopt(uri, path, by="rita", reason="stricter", acknowledge_weakening="larger groups").actor == "rita"


def test_signoff_roles_must_exist_when_roles_are_set(tmp_path: Path) -> None:
    from harness.errors import ConfigError
    from harness.policy_check import require_valid_settings

    path = policy_file(tmp_path, roles=True)
    path.write_text(path.read_text().replace("      high: [dti, department]\n", "      high: [dti, council]\n"))
    with pytest.raises(ConfigError, match=r"signoff names role\(s\) \['council'\] that settings.gate.roles does not "
                                          "define"):
        require_valid_settings(load_policy(path), path)


@pytest.mark.parametrize("account", ["root", "Admin", "administrator", "unknown"])
def test_an_account_name_cannot_approve(dual_store: Store, tmp_path: Path, account: str) -> None:
    uri, t, run = copy(dual_store, tmp_path), dual_store.tool, dual_store.run
    with pytest.raises(GateError) as e:
        gate.approve(uri, t, "1.0", run_id=run, reviewer=account, rationale="ok")
    assert str(e.value) == refused("accountable-person", "2.3", f"approval of {t} 1.0",
                                   f"{account!r} is an account, not a person; the reviewer must be named as the person "
                                   "who answers for the decision")


def test_names_a_reader_takes_for_one_person() -> None:
    from harness.gate.inputs import same_person

    same = [("Dana Analyst", "D. Analyst"), ("Dana Analyst", "dana.analyst@cabq.gov"), ("Dana Analyst", "Dana A"),
            ("Sam Seller, Example Vendor", "sam_seller@vendor.example"), ("dana", "DANA@cabq.gov")]
    different = [("Dana Analyst", "Dan Analyst"), ("Dana Analyst", "Omar Analyst"), ("D. Analyst", "O. Analyst"),
                 ("Dana", "D."), ("Dana Analyst", "Dana"), ("rita", "omar")]
    assert [same_person(a, b) for a, b in same] == [True] * len(same)
    assert [same_person(a, b) for a, b in different] == [False] * len(different)


def test_a_refusal_carries_its_rule_section_and_detail_as_data(dual_store: Store, tmp_path: Path) -> None:
    uri, t, run = copy(dual_store, tmp_path), dual_store.tool, dual_store.run
    with pytest.raises(GateError) as e:
        gate.approve(uri, t, "1.0", run_id=run, reviewer="dana", rationale="mine")
    assert (e.value.rule, e.value.section, e.value.detail) == (
        "separation-of-duties", "2.3, 4.1", f"'dana' submitted {t} 1.0; the reviewer must be someone else")
    assert str(e.value) == refused(e.value.rule, e.value.section, f"approval of {t} 1.0", e.value.detail)


def test_signatures_on_different_runs_do_not_add_up(roles_store: Store, tmp_path: Path) -> None:
    """The adversary's order: the DTI signs run A, a second assessment B is made, and the department signs B.
    Two halves of two decisions are not one decision: B still awaits the DTI, and the gate stays closed."""
    uri, t, run_a = copy(roles_store, tmp_path), roles_store.tool, roles_store.run
    gate.approve(uri, t, "1.0", run_id=run_a, reviewer="rita", rationale="run A passed")
    case = roles_store.root / "case"
    run_b = str(run_assessment(case / "tool.yaml", [str(case / "card.yaml")], tracking_uri=uri, out=tmp_path / "b",
                               submitter="dina").result.run_id)
    d = gate.approve(uri, t, "1.0", run_id=run_b, reviewer="omar", rationale="run B passed")
    assert (d.action, d.details["awaiting"], d.details["signoffs"]) == (
        "signoff", ["dti"], [{"actor": "omar", "role": "department"}])
    assert gate.gate(uri, t, "1.0").open is False
