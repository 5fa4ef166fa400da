"""Tiers from facts (issue 16, section 2; harness.tiering): the impact questionnaire sets a minimum tier, a
declared tier below it is refused at `submit`, `assess`, `check` and `plan` with the answers that set it, a
questionnaire with an answer left out or outside the vocabulary is refused with its line, and answers changed
after an approval close the gate (the approval is bound to the manifest's bytes, answers included)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.errors import ConfigError
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.tiering import floor, floor_of, require_tier, tier_settings, tier_text, weaker_tiers
from tests.conftest import write_case

ROOT = Path(__file__).resolve().parents[1]

HOUSING = """impact:
  decides: [housing]
  affected: Households applying for housing assistance.
  people_per_year: 2000
  human_review: true
  contestable: true
  data: [pii, financial]
"""
INTERNAL = """impact:
  decides: [internal-operations]
  affected: Nobody; it sorts the department's own mail.
  people_per_year: 0
  human_review: false
  contestable: false
  data: [public]
"""
HOUSING_LOW_LINE = ("risk_tier low is below the minimum tier high its impact answers set (decides housing: high "
                    "(policy 6.4, 4.3)): declare risk_tier: high")


def harness(*args: str) -> Result:
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250", "HARNESS_DATA_DIR": ""}, prog_name="harness",
                              catch_exceptions=False)


def tool_at(folder: Path, tier: str, impact: str, *, n: int = 400, seed: int = 3) -> tuple[Path, Path]:
    """A generated case (conftest.write_case) whose manifest declares `tier` and answers `impact` (may be "")."""
    tool, card = write_case(folder, n=n, seed=seed)
    text = tool.read_text().replace("risk_tier: high", f"risk_tier: {tier}")
    tool.write_text(text.replace("disclosure:", impact + "disclosure:", 1))
    return tool, card


def adopt_bias_only(uri: str, folder: Path) -> None:
    """The single-user policy (conftest.single_user) requiring only the bias suite of a decision-support tool, so
    an approval can rest on a bias-only assessment of a small generated case."""
    from harness.gate import adopt
    from harness.policy import single_user_policy_text

    text = single_user_policy_text()
    old = "  decision-support: [bias, data_quality, degradation, explainability, performance]\n"
    assert text.count(old) == 1
    path = folder / "bias-only.yaml"
    path.write_text(text.replace(old, "  decision-support: [bias]\n"))
    adopt(uri, path, by="Pat Admin", reason="a test store", acknowledge_weakening="a test of the tier rules")


def answers(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"decides": ["internal-operations"], "affected": "staff", "people_per_year": 0,
                               "human_review": True, "contestable": True, "data": ["public"]}
    return {**base, **kw}


# -- the mapping ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("impact", "minimum", "reasons"), [
    (answers(), "low", ()),
    (answers(decides=["housing"]), "high", ("decides housing: high (policy 6.4, 4.3)",)),
    (answers(decides=["public-information", "benefits"], data=["criminal-history"]), "high",
     ("decides benefits: high (policy 6.4, 4.3)",)),
    (answers(data=["health", "public"]), "medium", ("uses health data: medium (policy 1.2)",)),
    (answers(data=["biometric"]), "medium", ("uses biometric data: medium (policy 1.2)",)),
    # unreviewed and uncontestable count only when someone is affected
    (answers(human_review=False, contestable=False), "low", ()),
    (answers(people_per_year=12, human_review=False), "medium",
     ("no person reviews every output before it takes effect: medium (policy 2.3)",)),
    (answers(people_per_year=12, contestable=False), "medium",
     ("people affected cannot contest a decision: medium (policy 2.3)",)),
    # the scale rule's boundary: 10,000 a year is medium, one fewer is not
    (answers(people_per_year=9_999), "low", ()),
    (answers(people_per_year=10_000), "medium", ("10,000 people a year (at least 10,000): medium (policy 4.3)",)),
])
def test_the_minimum_is_the_highest_tier_any_answer_sets(impact: dict[str, object], minimum: str,
                                                         reasons: tuple[str, ...]) -> None:
    f = floor_of(impact, "low", tier_settings(load_policy()))
    assert (f.minimum, f.reasons, f.answered) == (minimum, reasons, True)
    assert f.below == (minimum != "low")


def test_every_answer_in_the_vocabulary_is_mapped_and_a_policy_cannot_leave_one_out(tmp_path: Path) -> None:
    from harness.manifest import DATA_TYPES, DECIDES

    s = tier_settings(load_policy())
    assert set(s.decides) == set(DECIDES) and set(s.data) == set(DATA_TYPES)
    # the rule: access to benefits, housing, employment or liberty is high
    assert {d: s.decides[d] for d in ("benefits", "housing", "employment", "policing")} == dict.fromkeys(
        ("benefits", "housing", "employment", "policing"), "high")
    assert {d: s.data[d] for d in ("health", "criminal-history", "biometric")} == dict.fromkeys(
        ("health", "criminal-history", "biometric"), "medium")
    # a policy naming one mapping keeps the packaged default for the others (fail closed)
    partial = tier_settings({"settings": {"tiers": {"decides": {"licensing": "high"}}}})
    assert (partial.decides["licensing"], partial.decides["housing"]) == ("high", "high")
    # a key outside the vocabulary is a policy problem with its line (harness policy check)
    text = (ROOT / "harness" / "policies" / "default.yaml").read_text().replace("      licensing: medium",
                                                                               "      licencing: medium")
    bad = tmp_path / "policy.yaml"
    bad.write_text(text)
    from harness.policy_check import require_valid_settings

    with pytest.raises(ConfigError) as e:
        require_valid_settings(load_policy(bad), bad)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("    decides:"))  # the mapping's
    assert str(e.value) == (f"policy file {bad}, line {line}: settings.tiers.decides is not valid: decides names "
                            "['licencing'], not in the questionnaire's vocabulary ['benefits', 'housing', "
                            "'employment', 'policing', 'health', 'education', 'child-welfare', 'enforcement', "
                            "'licensing', 'resource-allocation', 'public-information', 'internal-operations']")


# -- the done-when: a housing tool declared low ------------------------------------------------------------


def test_a_housing_eligibility_tool_declared_low_is_refused_by_assess_with_the_reason(tmp_path: Path) -> None:
    tool, card = tool_at(tmp_path / "t", "low", HOUSING)
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "bias",
                "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "out"))
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == f"error: tool manifest {tool}: {HOUSING_LOW_LINE}\n"
    assert not (tmp_path / "out").exists()  # refused before anything ran or was recorded
    # medium is still below; high is accepted
    tool.write_text(tool.read_text().replace("risk_tier: low", "risk_tier: medium"))
    r = harness("check", str(tool), "--dataset", str(card))
    assert (r.exit_code, r.stderr) == (2, f"error: tool manifest {tool}: " + HOUSING_LOW_LINE.replace(
        "risk_tier low", "risk_tier medium") + "\n")
    tool.write_text(tool.read_text().replace("risk_tier: medium", "risk_tier: high"))
    r = harness("check", str(tool), "--dataset", str(card))
    assert r.exit_code == 0, r.stderr


def test_submit_refuses_the_bundle_before_logging_anything(tmp_path: Path) -> None:
    tool, _card = tool_at(tmp_path / "bundle", "low", HOUSING)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    r = harness("submit", str(tool.parent), "--submitter", "vera", "--tracking-uri", uri)
    assert r.exit_code == 2
    assert r.stderr.endswith(f"error: tool manifest tool.yaml in bundle {tool.parent}: {HOUSING_LOW_LINE}\n")
    from harness.tracking import Store

    assert Store(uri).registry.versions("case-tool-3") == []


# -- the vendor who omits, misspells or leaves the questionnaire out ---------------------------------------


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("  contestable: true\n", "", "  - impact.contestable: required field is missing"),
    ("[housing]", "[hosuing]", "  - impact.decides.0 (line 13): Input should be 'benefits', 'housing', 'employment', "
                               "'policing', 'health', 'education', 'child-welfare', 'enforcement', 'licensing', "
                               "'resource-allocation', 'public-information' or 'internal-operations'"),
    ("[pii, financial]", "[pii, dna]", "  - impact.data.1 (line 18): Input should be 'pii', 'health', "
                                       "'criminal-history', 'financial', 'children', 'biometric', 'location', "
                                       "'protected-attributes' or 'public'"),
    ("[housing]", "[]", "  - impact.decides (line 13): List should have at least 1 item after validation, not 0"),
    ("human_review: true", "human_review: sometimes", "  - impact.human_review (line 16): Input should be a valid "
                                                       "boolean"),
    ("people_per_year: 2000", "people_per_year: lots", "  - impact.people_per_year (line 15): Input should be a "
                                                       "valid integer"),
    ("  data: [pii, financial]\n", "  data: [pii]\n  risk: none\n", "  - impact.risk (line 19): unknown field (check "
                                                                     "the spelling)"),
])
def test_a_questionnaire_with_an_answer_left_out_or_unknown_is_refused_with_its_line(
        tmp_path: Path, old: str, new: str, problem: str) -> None:
    tool, card = tool_at(tmp_path, "high", HOUSING)
    text = tool.read_text()
    assert old in text
    tool.write_text(text.replace(old, new, 1))
    r = harness("check", str(tool), "--dataset", str(card))
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert lines[0] == f"error: tool manifest {tool} has 1 problem(s):"
    assert lines[1] == problem


def test_without_a_questionnaire_only_the_highest_tier_is_accepted_for_a_new_version(tmp_path: Path) -> None:
    tool, card = tool_at(tmp_path, "medium", "")
    r = harness("check", str(tool), "--dataset", str(card))
    assert (r.exit_code, r.stderr) == (2, (
        f"error: tool manifest {tool}: risk_tier medium without an impact questionnaire; the policy requires "
        "`impact:` for a tier below high (settings.tiers.unanswered, policy 6.4): answer it, or declare "
        "risk_tier: high\n"))
    tool.write_text(tool.read_text().replace("risk_tier: medium", "risk_tier: high"))
    assert harness("check", str(tool), "--dataset", str(card)).exit_code == 0
    # and a tool that decides nothing about anyone, answered, may be low
    tool2, card2 = tool_at(tmp_path / "internal", "low", INTERNAL)
    assert harness("check", str(tool2), "--dataset", str(card2)).exit_code == 0


@pytest.mark.slow
def test_a_version_recorded_before_questionnaires_stays_readable_and_re_assessable(tmp_path: Path) -> None:
    """An existing store: a medium-tier version registered without answers (as every version was before issue 16)
    is assessed again under its declared tier, and its report says the tier was declared, not derived."""
    from harness import gate

    tool, card = tool_at(tmp_path, "medium", "")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    gate.register_version(uri, load_manifest(tool), tool, submitter="vera")  # what submit wrote before
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "bias", "--by", "dana",
                "--tracking-uri", uri, "--out", str(tmp_path / "out"))
    assert r.exit_code in (0, 3), r.stderr
    doc = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert "tier" not in doc["tool"] and "impact" not in doc["tool"]
    assert tier_text(doc["tool"]) == ("medium, as declared: the manifest has no impact questionnaire, so the tier "
                                      "was not derived from facts (policy 6.4)")
    report = (tmp_path / "out" / "report.md").read_text()
    assert "medium, as declared: the manifest has no impact questionnaire" in report
    # a new version of the same tool is not grandfathered
    tool.write_text(tool.read_text().replace('version: "1.0"', 'version: "1.1"'))
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "bias", "--tracking-uri", uri)
    assert r.exit_code == 2 and "without an impact questionnaire" in r.stderr


def test_a_manifest_without_a_questionnaire_dumps_as_before(tmp_path: Path) -> None:
    """No `impact: null` in assessment.json, the manifest's identity or an endpoint cache's key."""
    tool, _ = tool_at(tmp_path, "high", "")
    m = load_manifest(tool)
    assert list(m.model_dump(mode="json")) == ["id", "name", "version", "vendor", "department", "category", "status",
                                               "risk_tier", "intended_use", "automation_level", "human_oversight",
                                               "disclosure", "adapter", "claims"]
    from harness.assessment import tool_block

    assert tool_block(m, load_policy()) == m.model_dump(mode="json")


# -- the evidence and the gate -----------------------------------------------------------------------------


@pytest.mark.slow
def test_answers_and_tier_are_evidence_and_a_changed_answer_after_approval_closes_the_gate(tmp_path: Path) -> None:
    from harness import gate

    tool, card = tool_at(tmp_path, "high", HOUSING, n=3000)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    adopt_bias_only(uri, tmp_path)
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "bias", "--by", "dana",
                "--tracking-uri", uri, "--out", str(tmp_path / "out"))
    assert r.exit_code in (0, 3), r.stderr
    doc = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert doc["tool"]["impact"]["decides"] == ["housing"]
    assert doc["tool"]["tier"] == {"declared": "high", "minimum": "high", "answered": True,
                                   "reasons": ["decides housing: high (policy 6.4, 4.3)"]}
    # the decision log keeps the answers (submit record) and the computed tier with the answers' digest (assess)
    s = gate.status(uri, "case-tool-3", "1.0")[0]
    assert s.manifest["impact"]["decides"] == ["housing"]
    assess_details = s.assessed.details if s.assessed is not None else {}
    assert assess_details["tier"] == {"declared": "high", "minimum": "high"}
    import hashlib

    canonical = json.dumps(doc["tool"]["impact"], sort_keys=True, separators=(",", ":")).encode()
    assert assess_details["impact_sha256"] == hashlib.sha256(canonical).hexdigest()

    # the report, the memo and the register say why
    why = "high; the impact answers set at least high: decides housing: high (policy 6.4, 4.3)"
    assert why in (tmp_path / "out" / "report.md").read_text()
    assert why in (tmp_path / "out" / "memo.md").read_text()
    from harness.workflows.transparency import build_register

    run = doc["run_id"]
    r = harness("approve", "case-tool-3:1.0", "--run", run, "--reviewer", "rita", "--rationale", "fine",
                "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    assert harness("gate", "case-tool-3", "--tracking-uri", uri).exit_code == 0
    entry = build_register(uri, feedback_url="https://city.example/feedback").entries[0]
    assert (entry.id, entry.tier_reasons) == ("case-tool-3", why)
    # the vendor changes an answer after the approval (fewer people, nobody reviews): the bytes differ
    before = tool.read_text()
    tool.write_text(before.replace("people_per_year: 2000", "people_per_year: 20"))
    r = harness("gate", "case-tool-3", "--tracking-uri", uri)
    assert r.exit_code == 1
    assert r.stdout.startswith("CLOSED: case-tool-3 1.0 ")
    assert "tool.yaml: recorded sha256 " in r.stdout
    # and the changed manifest cannot be assessed as the same version
    r = harness("assess", str(tool), "--dataset", str(card), "--suite", "bias", "--by", "dana",
                "--tracking-uri", uri)
    assert r.exit_code == 2 and "one-manifest-per-version" in r.stderr
    tool.write_text(before)
    assert harness("gate", "case-tool-3", "--tracking-uri", uri).exit_code == 0


def test_plan_holds_the_recorded_answers_to_the_plans_policy(tmp_path: Path) -> None:
    """A version whose recorded answers set medium, declared medium: planned under the default policy, refused
    under one that maps its answer higher (named in one line)."""
    from harness import gate

    licensing = HOUSING.replace("[housing]", "[licensing]").replace("[pii, financial]", "[public]")
    tool, card = tool_at(tmp_path, "medium", licensing)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    gate.register_version(uri, load_manifest(tool), tool, submitter="vera")
    r = harness("plan", "case-tool-3:1.0", "--dataset", str(card), "--suite", "bias", "--by", "pat",
                "--tracking-uri", uri)
    assert r.exit_code == 0, r.stderr
    text = (ROOT / "harness" / "policies" / "default.yaml").read_text().replace("      licensing: medium",
                                                                               "      licensing: high")
    strict = tmp_path / "strict.yaml"
    strict.write_text(text)
    r = harness("plan", "case-tool-3:1.0", "--dataset", str(card), "--suite", "bias", "--by", "pat",
                "--policy", str(strict), "--tracking-uri", uri)
    assert (r.exit_code, r.stderr) == (2, "error: plan of case-tool-3 1.0: risk_tier medium is below the minimum "
                                          "tier high its impact answers set (decides licensing: high (policy 6.4, "
                                          "4.3)): declare risk_tier: high\n")


def test_require_tier_asks_the_store_only_when_the_questionnaire_is_missing() -> None:
    asked: list[int] = []

    def recorded() -> bool:
        asked.append(1)
        return True

    m = {"risk_tier": "high", "impact": answers(decides=["housing"])}
    assert require_tier(m, load_policy(), "x", recorded=recorded).minimum == "high"
    assert require_tier({"risk_tier": "low"}, load_policy(), "x", recorded=recorded).answered is False
    assert asked == [1]
    assert floor({"risk_tier": "high"}, None).reasons == ("no impact questionnaire: at least high (policy 6.4)",)


# -- the policy: lowering a minimum is a weakening ---------------------------------------------------------


def _policy_with(tmp_path: Path, old: str, new: str):
    text = (ROOT / "harness" / "policies" / "default.yaml").read_text()
    assert text.count(old) == 1
    p = tmp_path / f"p{abs(hash(new))}.yaml"
    p.write_text(text.replace(old, new))
    return load_policy(p)


def test_lowering_a_minimum_tier_is_a_weakening_and_raising_one_is_not(tmp_path: Path) -> None:
    from harness.gate.policies import weakenings

    base = load_policy()
    lower = _policy_with(tmp_path, "      housing: high", "      housing: medium")
    assert weakenings(base, lower) == ["settings.tiers.decides.housing lowered from high to medium"]
    assert weakenings(lower, base) == []
    assert weaker_tiers(base, _policy_with(tmp_path, "    unanswered: high ", "    unanswered: low ")) == [
        "settings.tiers.unanswered lowered from high to low"]
    assert weaker_tiers(base, _policy_with(tmp_path, "      medium: 10000", "      medium: 50000")) == [
        "settings.tiers.people_per_year.medium: 10,000 people a year no longer set medium (it now takes 50,000)"]
    # the count now setting high is stricter, not weaker
    assert weaker_tiers(base, _policy_with(tmp_path, "      medium: 10000", "      high: 10000")) == []
    assert weaker_tiers(base, _policy_with(tmp_path, "    uncontestable: medium", "    uncontestable: low")) == [
        "settings.tiers.uncontestable lowered from medium to low"]


def test_adopting_a_lower_minimum_needs_an_acknowledgement(tmp_path: Path) -> None:
    from harness import gate
    from harness.errors import GateError

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    text = (ROOT / "harness" / "policies" / "default.yaml").read_text()
    lowered = tmp_path / "lowered.yaml"
    lowered.write_text(text.replace("      housing: high", "      housing: medium"))
    with pytest.raises(GateError) as e:
        gate.adopt(uri, lowered, by="Pat Admin", reason="housing tools are reviewed elsewhere")
    assert "rule 'acknowledged-weakening'" in str(e.value)
    assert "settings.tiers.decides.housing lowered from high to medium" in str(e.value)
    d = gate.adopt(uri, lowered, by="Pat Admin", reason="housing tools are reviewed elsewhere",
                   acknowledge_weakening="the housing board reviews them")
    assert (d.details or {}).get("weakenings") == ["settings.tiers.decides.housing lowered from high to medium"]


# -- the null: the demo's tools answer the questionnaire and are accepted at their tier ----------------------


@pytest.mark.parametrize(("manifest", "minimum", "reasons"), [
    ("rental_assistance/vendor_tool.yaml", "high", ("decides housing: high (policy 6.4, 4.3)",
                                                    "decides benefits: high (policy 6.4, 4.3)")),
    ("rental_assistance/fair_tool.yaml", "high", ("decides housing: high (policy 6.4, 4.3)",
                                                  "decides benefits: high (policy 6.4, 4.3)")),
    ("rental_assistance/http_tool.yaml", "high", ("decides housing: high (policy 6.4, 4.3)",
                                                  "decides benefits: high (policy 6.4, 4.3)")),
    ("city_services_qa/baseline_tool.yaml", "medium", (
        "decides public-information: medium (policy 6.4, 4.3)",
        "150,000 people a year (at least 10,000): medium (policy 4.3)")),
    ("city_services_qa/careless_tool.yaml", "medium", (
        "decides public-information: medium (policy 6.4, 4.3)",
        "150,000 people a year (at least 10,000): medium (policy 4.3)")),
    ("city_services_qa/obedient_tool.yaml", "medium", (
        "decides public-information: medium (policy 6.4, 4.3)",
        "150,000 people a year (at least 10,000): medium (policy 4.3)")),
])
def test_every_demo_tool_answers_the_questionnaire_and_declares_its_minimum(manifest: str, minimum: str,
                                                                           reasons: tuple[str, ...]) -> None:
    m = load_manifest(ROOT / "examples" / manifest)
    f = require_tier(m, load_policy(), manifest)
    assert (m.risk_tier, f.minimum, f.reasons) == (minimum, minimum, reasons)
    # and one step lower is refused
    lower = {"high": "medium", "medium": "low"}[minimum]
    with pytest.raises(ConfigError, match=f"risk_tier {lower} is below the minimum tier {minimum}"):
        require_tier({**m.model_dump(mode="json"), "risk_tier": lower}, load_policy(), manifest)
