"""Tracking takes plain data (issue 13, section 2): the metric keys and tags of an assessment run from the
result's parts, and the same keys read back from an assessment.json."""
from __future__ import annotations

from harness.tracking import measured_in, metrics_of, tags_of


def test_metric_keys_skip_undefined_values_and_name_the_dataset_only_when_there_are_several() -> None:
    rows = [("bias.parity.rate.sex=F", "adult", 0.25), ("bias.parity.rate.x+y", "adult", None),
            ("bias.parity.ratio", "adult", float("nan")), ("quality.acc.value", "adult", 1)]
    assert metrics_of(rows, False) == {"bias.parity.rate.sex_F": 0.25, "quality.acc.value": 1.0}
    assert metrics_of(rows, True) == {"bias.parity.rate.sex_F.adult": 0.25, "quality.acc.value.adult": 1.0}


def test_an_assessment_json_gives_the_rows_its_result_gave() -> None:
    doc = {"suites": [{"dataset": "d1", "measurements": [
        {"key": "ignored", "suite": "bias", "check": "parity", "metric": "rate", "group": "sex.F", "value": 0.5},
        {"suite": "bias", "check": "parity", "metric": "ratio", "group": None, "value": None}]}]}
    assert measured_in(doc) == [("bias.parity.rate.sex.F", "d1", 0.5), ("bias.parity.ratio", "d1", None)]


def test_run_tags_come_from_plain_values() -> None:
    from harness import __version__

    tags = tags_of(tool={"id": "t", "version": 2, "risk_tier": "high", "category": "eligibility"},
                   policy={"label": "p@1", "digest": "d" * 64, "document": {"decision_rule": "interval"}},
                   verdict="PASS", kind="reassessment", suites=["bias", "quality", "bias"], seed=7,
                   datasets=[{"name": "adult", "sha256": "a" * 64}],
                   extra={"submitter": "dana", "plan": "", "suite_provenance": {
                       "bias": {"distribution": "harness", "version": "1.0", "entry_point": "bias"}}},
                   error={"message": "call dana@example.org"})
    assert tags == {
        "harness.tool_id": "t", "harness.tool_version": "2", "harness.verdict": "PASS", "harness.policy": "p@1",
        "harness.policy_digest": "d" * 64, "harness.decision_rule": "interval", "harness.kind": "reassessment",
        "harness.version": __version__, "harness.risk_tier": "high", "harness.category": "eligibility",
        "harness.suites": "bias,quality", "harness.seed": "7", "harness.dataset.adult": "a" * 64,
        "harness.suite.bias": "harness 1.0 (bias)", "harness.submitter": "dana",
        "harness.error": "call d***@example.org"}  # free text is masked (issue 12)
