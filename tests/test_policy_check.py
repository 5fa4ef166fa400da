"""The policy file is fail-closed (issue 10, section 4): a setting a suite does not take is exit 2 with its line,
and `harness policy check` lists thresholds that no installed suite produces."""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from click.testing import CliRunner

from harness.check import Suite, declared
from harness.cli import main
from harness.errors import ConfigError
from harness.plugins import load_suites
from harness.policy import load_policy
from harness.policy_check import (
    HARNESS_SECTIONS,
    GateSettings,
    RegisterSettings,
    check_policy,
    require_valid_settings,
)
from tests.conftest import write_case

DEFAULT_TEXT = resources.files("harness.policies").joinpath("default.yaml").read_text()
BIAS_SETTINGS = ("consistency_rows, consistency_neighbors, calibration_bins, mitigation_max_rows, "
                 "counterfactual_max_rows")


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env={"COLUMNS": "200", "HARNESS_DATA_DIR": ""})
    return r.exit_code, r.stdout, r.stderr


def edited(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the default policy with one line changed, and that line's number (counted by hand)."""
    lines = DEFAULT_TEXT.splitlines()
    [i] = [i for i, line in enumerate(lines) if line.startswith(old)]
    lines[i] = new + lines[i][len(old):]
    path = tmp_path / "p.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, i + 1


def test_a_misspelt_setting_stops_the_assessment_with_its_line(tmp_path: Path) -> None:
    policy, line = edited(tmp_path, "    consistency_rows:", "    consistency_row:")
    tool, card = write_case(tmp_path / "c", n=200, seed=2)
    code, out, err = invoke("assess", str(tool), "--dataset", str(card), "--suite", "bias", "--policy", str(policy),
                            "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "out"))
    assert code == 2, out + err
    assert err == (f"error: policy file {policy}, line {line}: settings.bias.consistency_row is not a setting of "
                   f"suite 'bias' (did you mean consistency_rows?); its settings are: {BIAS_SETTINGS}\n")
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()  # stopped before anything


def test_a_misspelt_threshold_of_an_installed_suite_stops_the_assessment(tmp_path: Path) -> None:
    """Fail closed: a blocking limit under a name no check measures would judge nothing and let the tool through."""
    policy, line = edited(tmp_path, "  bias.four_fifths.adverse_impact_ratio:",
                          "  bias.four_fifth.adverse_impact_ratio:")
    tool, card = write_case(tmp_path / "c", n=200, seed=2)
    code, out, err = invoke("assess", str(tool), "--dataset", str(card), "--suite", "bias", "--policy", str(policy),
                            "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "out"))
    assert code == 2, out + err
    assert err.startswith(f"error: policy file {policy}, line {line}: thresholds.bias.four_fifth.adverse_impact_ratio "
                          "is produced by no installed suite: suite 'bias' does not measure "
                          "'four_fifth.adverse_impact_ratio' (did you mean four_fifths.adverse_impact_ratio?)"), err
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  bias:", "  biass:", "settings.biass is not an installed suite (did you mean bias?); settings may name the "
                            "installed suites ({suites}) and the harness's own sections (endpoints, gate, notify, "
                            "register, sandbox, tiers)"),
    ("    consistency_neighbors:", "    consistency_neighbors: -1 #",
     "settings.bias.consistency_neighbors = -1 is not valid: Input should be greater than or equal to 1"),
    ("    judged_severity: medium", "    judged_severity: extreme",
     "settings.degradation.judged_severity = 'extreme' is not valid: it is not one of the severities ['low', "
     "'medium', 'high']"),
    ("    clear_error: named", "    clear_error: loud",
     "settings.degradation.clear_error = 'loud' is not valid: Input should be 'named' or 'typed'"),
    ("    max_waiver_days:", "    max_waiver_day:",
     "settings.gate.max_waiver_day is not a setting of the harness's 'gate' section (did you mean max_waiver_days?); "
     "its settings are: max_waiver_days, overdue_grace_days, roles, may, signoff, authenticated_approval"),
    ("    min_cell: 10", "    min_cell: 2.5",
     "settings.register.min_cell = 2.5 is not valid: Input should be a valid integer"),
])
def test_each_settings_problem_is_named_with_its_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    policy, line = edited(tmp_path, old, new)
    with pytest.raises(ConfigError) as e:
        require_valid_settings(load_policy(policy), policy)
    suites = ", ".join(load_suites())
    assert str(e.value) == f"policy file {policy}, line {line}: " + message.format(suites=suites)


def test_the_default_policy_and_every_shipped_setting_are_valid() -> None:
    require_valid_settings(load_policy())  # raises nothing
    assert check_policy(load_policy(), load_suites(), DEFAULT_TEXT) == []


def test_the_settings_models_document_the_default_policy() -> None:
    """Each model's defaults are the values the default policy writes down (one source for a reader), and the
    degradation model's are the defaults its checks read."""
    from test_suites.degradation.common import DEFAULTS

    shipped = yaml.safe_load(DEFAULT_TEXT)["settings"]
    suites = load_suites()
    models = {**{n: s.settings_model for n, s in suites.items()}, **HARNESS_SECTIONS}
    assert set(shipped) <= set(models)
    for name, values in shipped.items():
        model = models[name]
        assert model is not None, name
        defaults = model().model_dump()
        written = {k: v for k, v in values.items() if k != "regression"}
        assert {k: defaults[k] for k in written} == written, name
    assert suites["degradation"].settings_model().model_dump() == DEFAULTS
    assert (GateSettings().max_waiver_days, GateSettings().overdue_grace_days, RegisterSettings().min_cell) == (
        90, 30, 10)


def test_every_built_in_suite_declares_its_settings_and_what_it_produces() -> None:
    for name, suite in load_suites().items():
        assert suite.settings_model is not None, name
        assert suite.settings_model.model_config.get("extra") == "forbid", name
        assert suite.produces, name


# ----------------------------------------------------------------------------------------- harness policy check


def test_the_default_policy_passes_the_check() -> None:
    code, out, err = invoke("policy", "check")
    n = len(yaml.safe_load(DEFAULT_TEXT)["thresholds"])
    assert (code, err) == (0, "")
    assert out == f"abq-dti-default@2026.11: {n} thresholds, all produced by installed suites; settings valid\n"


def test_an_unknown_threshold_key_is_listed_and_exits_2(tmp_path: Path) -> None:
    policy, line = edited(tmp_path, "  bias.four_fifths.adverse_impact_ratio:",
                          "  bias.four_fifth.adverse_impact_ratio:")
    code, out, err = invoke("policy", "check", str(policy))
    assert code == 2 and out == ""
    assert err == (f"policy file {policy} (abq-dti-default@2026.11): 1 threshold(s) no installed suite produces\n"
                   f"  line {line}: thresholds.bias.four_fifth.adverse_impact_ratio is produced by no installed "
                   "suite: suite 'bias' does not measure 'four_fifth.adverse_impact_ratio' (did you mean "
                   "four_fifths.adverse_impact_ratio?)\n")


def test_every_problem_is_listed_in_file_order(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("    consistency_rows:", "    consistency_row:", 1)
    text = text.replace("  bias.equalized_odds.difference:", "  fairness.equalized_odds.difference:", 1)
    text = text.replace("  generative: [hallucination, privacy, bias, security]",
                        "  generative: [hallucination, privacyy, bias, security]")
    policy = tmp_path / "p.yaml"
    policy.write_text(text)
    lines = text.splitlines()

    def at(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix)) + 1

    code, _, err = invoke("policy", "check", str(policy))
    suites = ", ".join(load_suites())
    assert code == 2
    assert err.splitlines() == [
        f"policy file {policy} (abq-dti-default@2026.11): 1 threshold(s) no installed suite produces; 1 settings "
        "problem(s); 1 required suite(s) not installed",
        f"  line {at('  generative:')}: required_suites.generative names suite 'privacyy', which is not installed "
        f"(did you mean privacy?); installed: {suites}",
        f"  line {at('    consistency_row:')}: settings.bias.consistency_row is not a setting of suite 'bias' (did "
        f"you mean consistency_rows?); its settings are: {BIAS_SETTINGS}",
        f"  line {at('  fairness.')}: thresholds.fairness.equalized_odds.difference names suite 'fairness', which is "
        f"not installed; installed: {suites}",
    ]


class Quiet(Suite):
    """A third-party suite that declares neither settings nor what it produces."""

    name: ClassVar[str] = "quiet"


class Loud(Suite):
    name: ClassVar[str] = "loud"
    produces: ClassVar[frozenset[str]] = frozenset({"volume.db", "profile.*"})


def test_suites_that_declare_nothing_cannot_vouch_for_a_policy() -> None:
    policy = load_policy().model_copy(update={
        "settings": {"quiet": {"level": 3}, "loud": {}},
        "thresholds": {k: load_policy().thresholds["bias.demographic_parity.difference"]
                       for k in ("quiet.a.b", "loud.volume.db", "loud.profile.rows", "loud.volume.dba")},
        "required_suites": {}})
    problems = [(p.kind, str(p)) for p in check_policy(policy, {"quiet": Quiet, "loud": Loud})]
    assert problems == [
        ("setting", "settings.quiet is given, but suite 'quiet' takes no settings (it declares no settings_model)"),
        ("threshold", "thresholds.quiet.a.b cannot be matched: suite 'quiet' does not declare what it produces "
                      "(Suite.produces)"),
        ("threshold", "thresholds.loud.volume.dba is produced by no installed suite: suite 'loud' does not measure "
                      "'volume.dba' (did you mean volume.db?)"),
    ]


def test_what_a_declaration_covers() -> None:
    produces = frozenset({"expectations.not_null", "profile.*"})
    assert declared(produces, "expectations.not_null")
    assert declared(produces, "expectations.not_null.id")  # the column the data-quality suite appends
    assert declared(produces, "profile.row_count")
    assert not declared(produces, "expectations.not_nul")
    assert not declared(produces, "expectations.not_null_share")
    assert not declared(None, "a.b")


def test_the_reassessment_validates_settings_before_anything_runs(tmp_path: Path) -> None:
    from harness.workflows.reassess import reassess

    policy, line = edited(tmp_path, "    canary_items:", "    canary_item:")
    expected = (f"policy file {policy}, line {line}: settings.privacy.canary_item is not a setting of suite 'privacy' "
                "(did you mean canary_items?)")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        reassess(f"sqlite:///{tmp_path / 'never.db'}", policy_path=policy)
    assert not (tmp_path / "never.db").exists()
