"""The City's policy in force is a recorded fact (issue 11, section 2; policy 4.2, 3.1): the attack was a copy
of the default policy with the same name and version but a blocking threshold made advisory and a waiver limit
of 40,000 days, passed to `approve --policy`. Here such a copy cannot be adopted without saying why, the
adopted file comes back from the store byte for byte (and an edited one is refused), a decision judged under
any other policy is refused, and every way a policy can be weaker is named in one sentence."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from click.testing import CliRunner

from harness import gate
from harness.decision import RULES
from harness.errors import GateError
from harness.findings import Severity
from harness.gate.log import read_book
from harness.gate.policies import PACKAGED, POLICY_FILE, POLICY_LOG
from harness.policy import Policy, load_policy
from harness.policy_check import policy_text
from harness.tracking import Store

POLICY = load_policy()
TEXT = policy_text(None)[0]
FOUR_FIFTHS = "bias.four_fifths.adverse_impact_ratio"
WHEN = datetime(2026, 12, 6, tzinfo=UTC)
ADMIN = "Dana Admin"
WEAK_LINES = [f"threshold {FOUR_FIFTHS} is advisory instead of blocking for all risk tiers",
              "settings.gate.max_waiver_days raised from 90 to 40000: a waiver may stay in force longer (policy 4.2)"]
ACK = "Council resolution 2026-41 suspends the four-fifths rule for the pilot"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'm.db'}"


@pytest.fixture
def default_file(tmp_path: Path) -> Path:
    """The packaged policy, copied with its comments (so byte identity is more than the digest)."""
    path = tmp_path / "city.yaml"
    path.write_text(TEXT)
    return path


def weakened(tmp_path: Path) -> Path:
    """The attack: same name and version, the four-fifths rule advisory, waivers for 40,000 days."""
    old = f"  {FOUR_FIFTHS}:\n    limit: 0.8\n    greater_is_better: true\n    severity: blocking\n"
    assert TEXT.count(old) == 1 and TEXT.count("max_waiver_days: 90 ") == 1
    path = tmp_path / "weak.yaml"
    path.write_text(TEXT.replace(old, old.replace("blocking", "advisory"))
                    .replace("max_waiver_days: 90 ", "max_waiver_days: 40000 "))
    return path


@pytest.fixture
def weak_file(tmp_path: Path) -> Path:
    return weakened(tmp_path)


def weak_refusal(weak: Policy, in_force: str) -> str:
    return (f"adoption of policy {weak.label} refused by rule 'acknowledged-weakening' (policy 4.2): it is weaker "
            f"than the policy in force, {POLICY.label} ({in_force}):\n"
            + "\n".join(f"  - {w}" for w in WEAK_LINES)
            + "\nIf that is intended, re-run with --acknowledge-weakening \"why\"; the record keeps the list and your "
              "words")


def artifact_path(uri: str, run_id: str) -> Path:
    from mlflow.tracking import MlflowClient

    root = MlflowClient(tracking_uri=uri).get_run(run_id).info.artifact_uri
    return Path(unquote(urlparse(root).path)) / POLICY_FILE


# -- the attack: a weakened copy ---------------------------------------------------------------------------


def test_weakened_copy_is_refused_without_acknowledgement(uri: str, weak_file: Path) -> None:
    weak = load_policy(weak_file)
    assert (weak.name, weak.version) == (POLICY.name, POLICY.version) and weak.digest != POLICY.digest
    none = "none has been adopted: the harness's packaged policy applies"
    for ack in (None, "   "):
        with pytest.raises(GateError) as e:
            gate.adopt(uri, weak_file, by=ADMIN, reason="pilot", acknowledge_weakening=ack, now=WHEN)
        assert str(e.value) == weak_refusal(weak, none)
    assert Store(uri).registry.versions(POLICY_LOG + " (decision log)") == []
    assert gate.in_force(uri).record is None
    # after the default is adopted, the refusal names who adopted the policy in force and when
    gate.adopt(uri, _copy_default(weak_file), by=ADMIN, reason="the City's standard", now=WHEN)
    with pytest.raises(GateError) as e:
        gate.adopt(uri, weak_file, by=ADMIN, reason="pilot", now=WHEN)
    assert str(e.value) == weak_refusal(weak, f"adopted by {ADMIN} on 2026-12-06")


def _copy_default(near: Path) -> Path:
    path = near.with_name("city.yaml")
    path.write_text(TEXT)
    return path


def test_weakened_copy_adopted_with_acknowledgement_records_the_weakenings(uri: str, weak_file: Path) -> None:
    weak = load_policy(weak_file)
    d = gate.adopt(uri, weak_file, by=f"  {ADMIN} ", reason="pilot of the tenant screener", acknowledge_weakening=ACK,
                   now=WHEN)
    data = weak_file.read_bytes()
    assert {k: d.record[k] for k in ("seq", "tool", "action", "version", "state", "actor", "at", "reason",
                                     "policy_digest", "verdict", "manifest_digest")} == {
        "seq": 1, "tool": POLICY_LOG, "action": "adopt", "version": "abq-dti-default@2026.11", "state": "in force",
        "actor": ADMIN, "at": "2026-12-06T00:00:00+00:00", "reason": "pilot of the tenant screener",
        "policy_digest": weak.digest, "verdict": None, "manifest_digest": None}
    assert d.details == {"policy": weak.label, "file_sha256": sha(data), "replaces": POLICY.label,
                         "weakenings": WEAK_LINES, "acknowledged": ACK, "identity": "unauthenticated"}
    now = gate.in_force(uri)
    assert now.policy == weak and now.record == d
    assert now.source == f"adopted by {ADMIN} on 2026-12-06 (policy log record 1)"
    assert Store(uri).run(str(d.run_id)).tags["harness.policy_digest"] == weak.digest  # type: ignore[union-attr]


def test_every_threshold_advisory_is_refused_and_its_record_names_each(uri: str, tmp_path: Path) -> None:
    """The issue's copy made every threshold advisory: each blocking one is named, and the record keeps them
    all within MLflow's tag limit, with a reason and an acknowledgement of ordinary length."""
    path = tmp_path / "all-advisory.yaml"
    path.write_text(TEXT.replace("    severity: blocking\n", "    severity: advisory\n"))
    blocking = [k for k, t in POLICY.thresholds.items() if t.severity == "blocking"]
    assert len(blocking) == 31
    with pytest.raises(GateError) as e:
        gate.adopt(uri, path, by=ADMIN, reason="pilot")
    listed = [line[4:] for line in str(e.value).splitlines() if line.startswith("  - ")]
    assert [w.split()[1] for w in listed] == blocking
    d = gate.adopt(uri, path, by=ADMIN, reason="r" * 400, acknowledge_weakening="a" * 400)
    assert d.details["weakenings"] == listed and len(gate.canonical(d.record)) < gate.MAX_RECORD_CHARS
    assert read_book(Store(uri).registry, POLICY_LOG).verification.ok


# -- the policy in force comes back byte for byte --------------------------------------------------------


def test_in_force_is_the_adopted_file_byte_for_byte(uri: str, default_file: Path) -> None:
    d = gate.adopt(uri, default_file, by=ADMIN, reason="the City's standard", now=WHEN)
    assert d.details["weakenings"] == [] and d.details["acknowledged"] is None
    assert d.details["replaces"] == POLICY.label and d.policy_digest == POLICY.digest
    stored = Store(uri).artifact_bytes(str(d.run_id), POLICY_FILE)
    assert stored == default_file.read_bytes() and "# Default assessment standard" in stored.decode()
    assert d.details["file_sha256"] == sha(stored)
    now = gate.in_force(uri)
    assert now.policy == POLICY and now.policy.digest == POLICY.digest and now.record == d


def test_tampered_policy_artifact_is_detected(uri: str, default_file: Path, tmp_path: Path) -> None:
    d = gate.adopt(uri, default_file, by=ADMIN, reason="the City's standard", now=WHEN)
    stored = artifact_path(uri, str(d.run_id))
    assert stored.read_bytes() == default_file.read_bytes()
    forged = weakened(tmp_path).read_bytes()
    stored.write_bytes(forged)
    expected = (f"the policy in force, {POLICY.label} (policy log record 1) cannot be trusted: policy.yaml of run "
                f"{d.run_id} has sha256 {sha(forged)[:12]}..., but the adoption record says "
                f"{sha(default_file.read_bytes())[:12]}...: the file was altered after adoption. Restore the store "
                "from its backup (policy 3.2)")
    with pytest.raises(GateError) as e:
        gate.in_force(uri)
    assert str(e.value) == expected
    with pytest.raises(GateError) as e:
        gate.check_current(uri, None, "approval of rentrank 1.0")
    assert str(e.value) == expected
    with pytest.raises(GateError) as e:  # nor can a new policy be judged against a standard nobody can vouch for
        gate.adopt(uri, default_file, by=ADMIN, reason="again")
    assert str(e.value) == expected
    stored.unlink()
    with pytest.raises(GateError) as e:
        gate.in_force(uri)
    assert str(e.value) == (f"the policy in force, {POLICY.label} (policy log record 1) cannot be loaded: policy.yaml "
                            f"of run {d.run_id} is missing from the store. Restore the store from its backup "
                            "(policy 3.2)")


def test_packaged_policy_is_in_force_when_nothing_was_adopted(uri: str, tmp_path: Path) -> None:
    now = gate.in_force(uri)
    assert now.policy == POLICY and now.record is None
    assert now.source == PACKAGED == "the harness's packaged policy (none adopted)"
    assert not (tmp_path / "m.db").exists()  # looking does not create a store
    assert gate.check_current(uri, None, "approval of x 1") == POLICY
    assert gate.check_current(uri, load_policy(), "approval of x 1") == POLICY


# -- decisions are judged against the policy in force ----------------------------------------------------


def test_check_current_refuses_a_policy_that_is_not_in_force(uri: str, default_file: Path, weak_file: Path) -> None:
    weak = load_policy(weak_file)
    with pytest.raises(GateError) as e:
        gate.check_current(uri, weak, "approval of rentrank 1.0")
    assert str(e.value) == (
        f"approval of rentrank 1.0 refused by rule 'current-policy' (policy 4.2): the policy given, {weak.label}, is "
        f"not the policy in force; the policy in force is {POLICY.label} (none has been adopted: the harness's "
        "packaged policy applies); approvals and waivers are judged against the policy in force. Adopt this policy "
        "first with `harness policy adopt`")
    gate.adopt(uri, default_file, by=ADMIN, reason="the City's standard", now=WHEN)
    with pytest.raises(GateError) as e:
        gate.check_current(uri, weak, "waiver of rentrank 1.0")
    assert str(e.value) == (
        f"waiver of rentrank 1.0 refused by rule 'current-policy' (policy 4.2): the policy given, {weak.label}, is "
        f"not the policy in force; the policy in force is {POLICY.label} (adopted by Dana Admin on 2026-12-06); "
        "approvals and waivers are judged against the policy in force. Adopt this policy first with `harness policy "
        "adopt`")
    assert gate.check_current(uri, None, "approval of rentrank 1.0") == POLICY
    assert gate.check_current(uri, load_policy(default_file), "approval of rentrank 1.0") == POLICY
    gate.adopt(uri, weak_file, by=ADMIN, reason="pilot", acknowledge_weakening=ACK, now=WHEN)
    assert gate.check_current(uri, None, "approval of rentrank 1.0") == weak
    with pytest.raises(GateError) as e:  # the packaged policy too, once another is in force
        gate.check_current(uri, POLICY, "approval of rentrank 1.0")
    assert str(e.value).startswith("approval of rentrank 1.0 refused by rule 'current-policy' (policy 4.2): the "
                                   f"policy given, {POLICY.label}, is not the policy in force; the policy in force is "
                                   f"{weak.label} (adopted by Dana Admin on 2026-12-06)")


# -- the policy log ----------------------------------------------------------------------------------------


def test_policy_log_verifies_after_several_adoptions_and_is_no_tool(uri: str, default_file: Path,
                                                                    weak_file: Path) -> None:
    first = gate.adopt(uri, default_file, by=ADMIN, reason="the City's standard", now=WHEN)
    assert gate.adopt(uri, default_file, by="Someone Else", reason="again") == first  # already in force: a no-op
    second = gate.adopt(uri, weak_file, by=ADMIN, reason="pilot", acknowledge_weakening=ACK,
                        now=datetime(2026, 12, 7, tzinfo=UTC))
    third = gate.adopt(uri, default_file, by="Lee Admin", reason="pilot over", now=datetime(2026, 12, 8, tzinfo=UTC))
    assert [d.seq for d in (first, second, third)] == [1, 2, 3]
    assert third.details["weakenings"] == [] and third.details["replaces"] == load_policy(weak_file).label
    assert third.prev == second.sha256 and second.prev == first.sha256
    reg = Store(uri).registry
    book = read_book(reg, POLICY_LOG)
    assert book.verification.ok and book.verification.records == 3 and book.verification.head == third.sha256
    assert [d.sha256 for d in gate.adoptions(uri)] == [first.sha256, second.sha256, third.sha256]
    assert gate.in_force(uri).record == third and gate.in_force(uri).policy == POLICY
    # the policy log is no tool: not in the tool registry, the inventory, the re-assessment list or the gate
    assert reg.model_names("tool") == []
    assert reg.model_names("decision-log") == [POLICY_LOG + " (decision log)"]
    assert gate.inventory(uri) == []
    assert gate.gate(uri, POLICY_LOG).open is False
    assert re.fullmatch(r"^[a-z0-9][a-z0-9._-]*$", POLICY_LOG) is None  # no manifest can take the id


def test_broken_policy_log_is_an_error(uri: str, default_file: Path, weak_file: Path) -> None:
    gate.adopt(uri, default_file, by=ADMIN, reason="the City's standard", now=WHEN)
    gate.adopt(uri, weak_file, by=ADMIN, reason="pilot", acknowledge_weakening=ACK, now=WHEN)
    Store(uri).registry.delete_version(POLICY_LOG + " (decision log)", 1)
    with pytest.raises(GateError) as e:
        gate.in_force(uri)
    assert str(e.value).startswith("the City's policy log fails verification (record(s) 1 missing: deleted from the "
                                   "decision log")
    assert str(e.value).endswith("no policy is in force on a broken history. Investigate with `harness history "
                                 "_city-policy --verify` and restore the store from its backup (policy 3.2)")
    with pytest.raises(GateError, match="fails verification"):
        gate.check_current(uri, None, "approval of rentrank 1.0")


def test_adoption_needs_a_person_a_reason_and_a_policy_the_harness_can_apply(uri: str, tmp_path: Path) -> None:
    path = _copy_default(tmp_path / "x")
    with pytest.raises(GateError) as e:
        gate.adopt(uri, path, by="  ", reason="r")
    assert str(e.value) == (f"adoption of policy {POLICY.label} refused by rule 'accountable-person' (policy 2.3): "
                            "the policy administrator must be named: a person answers for every decision")
    with pytest.raises(GateError) as e:
        gate.adopt(uri, path, by=ADMIN, reason=" ")
    assert str(e.value) == (f"adoption of policy {POLICY.label} refused by rule 'decision-reason' (policy 3.1): an "
                            "adoption needs a reason: the City documents why its standard changed")
    typo = tmp_path / "typo.yaml"
    typo.write_text(TEXT.replace(f"  {FOUR_FIFTHS}:", "  bias.four_fifth.adverse_impact_ratio:"))
    line = TEXT.splitlines().index(f"  {FOUR_FIFTHS}:") + 1
    with pytest.raises(GateError) as e:
        gate.adopt(uri, typo, by=ADMIN, reason="r")
    assert str(e.value) == (
        f"adoption of policy {load_policy(typo).label} refused by rule 'valid-policy' (policy 4.2): the installed "
        f"harness cannot apply it as written (1 problem(s); `harness policy check {typo}` lists them):\n"
        f"policy file {typo}, line {line}: thresholds.bias.four_fifth.adverse_impact_ratio is produced by no installed "
        "suite: suite 'bias' does not measure 'four_fifth.adverse_impact_ratio' (did you mean "
        "four_fifths.adverse_impact_ratio?)")
    assert Store(uri).registry.versions(POLICY_LOG + " (decision log)") == []


# -- every way a policy can be weaker, in one sentence ---------------------------------------------------


def threshold(key: str, **update: object) -> Policy:
    return POLICY.model_copy(update={"thresholds": {**POLICY.thresholds,
                                                    key: POLICY.thresholds[key].model_copy(update=update)}})


def settings(section: str, **update: object) -> Policy:
    return POLICY.model_copy(update={"settings": {**POLICY.settings,
                                                  section: {**POLICY.settings.get(section, {}), **update}}})


def test_weakenings_of_thresholds() -> None:
    eo = "bias.equalized_odds.difference"
    removed = POLICY.model_copy(update={"thresholds": {k: v for k, v in POLICY.thresholds.items() if k != eo}})
    assert gate.weakenings(POLICY, removed) == [f"threshold {eo} (blocking) is removed"]
    gap = "degradation.robustness.flip_rate_gap"  # blocking for high and medium, advisory for low
    gone = POLICY.model_copy(update={"thresholds": {k: v for k, v in POLICY.thresholds.items() if k != gap}})
    assert gate.weakenings(POLICY, gone) == [f"threshold {gap} (blocking for risk tiers high, medium) is removed"]
    assert gate.weakenings(POLICY, threshold(FOUR_FIFTHS, severity=Severity.ADVISORY)) == [
        f"threshold {FOUR_FIFTHS} is advisory instead of blocking for all risk tiers"]
    assert gate.weakenings(POLICY, threshold(gap, severity_by_tier={"low": Severity.ADVISORY,
                                                                    "medium": Severity.ADVISORY})) == [
        f"threshold {gap} is advisory instead of blocking for risk tier medium"]
    # higher is better: a lower limit is looser, a higher one stricter
    assert gate.weakenings(POLICY, threshold(FOUR_FIFTHS, limit=0.7)) == [
        f"threshold {FOUR_FIFTHS}: limit loosened from 0.8 to 0.7 for all risk tiers (higher is better)"]
    assert gate.weakenings(POLICY, threshold(FOUR_FIFTHS, limit=0.9)) == []
    # lower is better, with tier limits (0.10 high, 0.15 medium, 0.20 low)
    assert gate.weakenings(POLICY, threshold(eo, limit=0.12)) == [
        f"threshold {eo}: limit loosened from 0.1 to 0.12 for risk tier high (lower is better)"]
    assert gate.weakenings(POLICY, threshold(eo, by_tier={})) == []  # medium and low tightened to 0.10: stricter
    assert gate.weakenings(POLICY, threshold(eo, limit=0.2, by_tier={})) == [
        f"threshold {eo}: limit loosened from 0.1 to 0.2 for risk tier high (lower is better)",
        f"threshold {eo}: limit loosened from 0.15 to 0.2 for risk tier medium (lower is better)"]
    assert gate.weakenings(POLICY, threshold(eo, greater_is_better=True)) == [
        f"threshold {eo} reverses direction: higher is now better"]
    # stricter: an advisory threshold made blocking, a new threshold
    stricter = threshold("bias.demographic_parity.difference", severity=Severity.BLOCKING)
    assert gate.weakenings(POLICY, stricter) == [] and gate.weakenings(stricter, POLICY) == [
        "threshold bias.demographic_parity.difference is advisory instead of blocking for all risk tiers"]


def test_weakenings_of_the_rules() -> None:
    def change(**update: object) -> list[str]:
        return gate.weakenings(POLICY, POLICY.model_copy(update=update))

    assert change() == []
    suites = {**POLICY.required_suites, "predictive": ["bias", "data_quality"]}
    assert change(required_suites=suites) == [
        "required_suites.predictive no longer requires degradation, explainability, performance"]
    assert change(required_suites={k: v for k, v in POLICY.required_suites.items() if k != "generative"}) == [
        "required_suites.generative no longer requires hallucination, privacy, bias, security"]
    assert change(reassessment_days={"high": 120, "medium": 180, "low": 30}) == [
        "reassessment_days.high lengthened from 90 to 120 days (policy 4.3)"]
    assert change(min_group_size=10) == [
        "min_group_size lowered from 30 to 10: groups of 10 to 29 rows are judged instead of INSUFFICIENT"]
    assert change(min_group_size=50) == [
        "min_group_size raised from 30 to 50: groups of 30 to 49 rows are INSUFFICIENT, so a failing small group is "
        "no longer a FAIL"]
    assert change(confidence_level=0.9) == [
        "confidence_level lowered from 0.95 to 0.9: intervals are narrower, so a measurement PASSes on less evidence"]
    assert change(confidence_level=0.99) == [
        "confidence_level raised from 0.95 to 0.99: a violation must be more certain to FAIL, so more violations "
        "are REVIEW"]
    assert change(confidence_level=0.99, decision_rule="point") == []  # point FAILs on the estimate alone
    assert change(decision_rule="point") == []
    assert change(decision_rule="interval_beyond") == [
        f"decision_rule changed from significant_violation to interval_beyond: {RULES['interval_beyond']}"]
    assert gate.weakenings(POLICY.model_copy(update={"decision_rule": "point"}), POLICY) == [
        f"decision_rule changed from point to significant_violation: {RULES['significant_violation']}"]
    assert change(reference_rule="most_favourable") == []
    assert gate.weakenings(POLICY.model_copy(update={"reference_rule": "most_favourable"}), POLICY) == [
        "reference_rule changed from most_favourable to largest: ratios are taken against the largest group instead "
        "of the most favoured one, so they are higher"]


def test_weakenings_of_settings() -> None:
    assert gate.weakenings(POLICY, settings("gate", max_waiver_days=40000)) == [
        "settings.gate.max_waiver_days raised from 90 to 40000: a waiver may stay in force longer (policy 4.2)"]
    assert gate.weakenings(POLICY, settings("gate", overdue_grace_days=365)) == [
        "settings.gate.overdue_grace_days raised from 30 to 365: an overdue approval keeps the gate open longer "
        "(policy 4.3)"]
    assert gate.weakenings(POLICY, settings("gate", max_waiver_days=30, overdue_grace_days=0)) == []
    no_gate = POLICY.model_copy(update={"settings": {k: v for k, v in POLICY.settings.items() if k != "gate"}})
    assert gate.weakenings(no_gate, settings("gate", max_waiver_days=91)) == [
        "settings.gate.max_waiver_days raised from 90 to 91: a waiver may stay in force longer (policy 4.2)"]
    assert gate.weakenings(POLICY, settings("hallucination", max_error_share=0.9)) == [
        "settings.hallucination.max_error_share changed from 0.05 to 0.9: the harness cannot tell whether this is "
        "weaker"]
    dropped = POLICY.model_copy(update={"settings": {**POLICY.settings, "bias": {
        k: v for k, v in POLICY.settings["bias"].items() if k != "consistency_rows"}}})
    assert gate.weakenings(POLICY, dropped) == [
        "settings.bias.consistency_rows changed from 5000 to the suite's default: the harness cannot tell whether "
        "this is weaker"]
    rules = POLICY.settings["degradation"]["regression"][1:]
    assert gate.weakenings(POLICY, settings("degradation", regression=rules)) == [
        "settings.degradation.regression changed: the harness cannot tell whether this is weaker"]
    assert gate.weakenings(POLICY, settings("register", min_cell=1, feedback_url="https://x.example")) == []
    assert gate.weakenings(POLICY, POLICY.model_copy(update={"seed": 1, "bootstrap_samples": 500,
                                                             "description": "x"})) == []


# -- the command line ------------------------------------------------------------------------------------


def test_cli_adopt_and_show(uri: str, default_file: Path, weak_file: Path) -> None:
    from harness.cli import main

    def run(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(main, ["policy", *args, "--tracking-uri", uri])
        return r.exit_code, r.output

    code, out = run("show")
    assert code == 0 and out == (
        f"policy in force: {POLICY.label}\n  the harness's packaged policy (none adopted); a policy administrator "
        "adopts one with `harness policy adopt POLICY --by NAME --reason TEXT`\n")
    code, out = run("adopt", str(default_file), "--by", ADMIN, "--reason", "the City's standard")
    first = gate.in_force(uri).record
    assert code == 0 and first is not None and out == (
        f"adopted abq-dti-default@2026.11 as record 1 of the policy log: policy sha256 {POLICY.digest}, record sha256 "
        f"{first.sha256}\n")
    code, out = run("adopt", str(default_file), "--by", ADMIN, "--reason", "again")
    assert code == 0 and out == (f"{POLICY.label} is already in force (policy log record 1, adopted by {ADMIN} on "
                                 f"{gate.show_time(first.at)}); nothing recorded\n")
    code, out = run("adopt", str(weak_file), "--by", ADMIN, "--reason", "pilot")
    assert code == 2 and out == "error: " + weak_refusal(load_policy(weak_file), f"adopted by {ADMIN} on "
                                                                                  f"{gate.show_time(first.at)}") + "\n"
    code, out = run("adopt", str(weak_file), "--by", ADMIN, "--reason", "pilot", "--acknowledge-weakening", ACK)
    second = gate.in_force(uri).record
    assert code == 0 and second is not None and out == (
        f"adopted abq-dti-default@2026.11 as record 2 of the policy log: policy sha256 {load_policy(weak_file).digest},"
        f" record sha256 {second.sha256}\n2 weakening(s) acknowledged ({ACK}):\n"
        + "".join(f"  - {w}\n" for w in WEAK_LINES))
    code, out = run("show")
    weak = load_policy(weak_file)
    assert code == 0 and out == (
        f"policy in force: {weak.label}\n"
        f"  adopted by {ADMIN} on {gate.show_time(second.at)} (record 2 of the policy log '_city-policy')\n"
        "  reason: pilot\n"
        f"  replaces: {POLICY.label}\n"
        f"  file: policy.yaml of run {second.run_id} (sha256 {sha(weak_file.read_bytes())})\n"
        f"  weakenings acknowledged ({ACK}):\n"
        + "".join(f"    - {w}\n" for w in WEAK_LINES)
        + "adoption history (2, oldest first):\n"
        f"  1  {gate.show_time(first.at)}  {POLICY.label}  by {ADMIN}: the City's standard\n"
        f"  2  {gate.show_time(second.at)}  {weak.label}  by {ADMIN}: pilot (2 weakening(s) acknowledged)\n")
    r = CliRunner().invoke(main, ["policy", "adopt", str(default_file), "--reason", "r", "--tracking-uri", uri])
    assert (r.exit_code, r.output) == (2, f"error: adoption of policy {POLICY.label} refused by rule "
                                          "'accountable-person' (policy 2.3): the policy administrator must be named: "
                                          "a person answers for every decision\n")
