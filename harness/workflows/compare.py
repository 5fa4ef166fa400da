"""`harness compare RUN_A RUN_B`, end to end: read both runs through the command's one `Store`, refuse what cannot
be compared (one clear error each, exit 2), and build the `harness.comparison.Comparison`.

What can be compared: two assessment runs (a run that holds an `assessment.json`, as `harness assess` and
`harness reassess` record them) of the same suites. A plan, a vendor's submission or a decision record is not an
assessment; two runs of different suites would put a figure beside a blank, so they are refused with the suites
each ran, rather than shown half empty.
"""
from __future__ import annotations

from typing import Any

from harness.comparison import Comparison, compare, suite_names
from harness.errors import ConfigError, TrackingError
from harness.tracking import Store, load_assessment

ASSESSMENT_SCHEMA = "harness.assessment/"


def _assessment(store: Store, run_id: str, which: str) -> dict[str, Any]:
    """Run `which` ("A" or "B") as its assessment.json, or the one error that says why it is not one."""
    run = store.run(run_id)
    if run is None:
        raise TrackingError(f"run {which}: no MLflow run {run_id!r} in {store.uri} (`harness status TOOL` and the "
                            "MLflow UI list a tool's runs)")
    if not store.has_artifact(run_id, "assessment.json"):
        kind = run.kind or "not a harness run"
        raise ConfigError(f"run {which}: {run_id} is not an assessment run (harness.kind {kind!r}, no "
                          "assessment.json): compare two runs recorded by `harness assess` or `harness reassess`")
    doc = load_assessment(store, run_id)
    if not str(doc.get("schema", "")).startswith(ASSESSMENT_SCHEMA):
        raise ConfigError(f"run {which}: the assessment.json of run {run_id} is not a harness assessment (schema "
                          f"{doc.get('schema')!r})")
    return doc


def headlines(names: list[str]) -> dict[str, tuple[str, ...]]:
    """Each installed suite's `headline` patterns; a suite that is not installed any more is left out (the
    comparison then shows every measurement its findings judge), as a report shows such a suite generically."""
    from harness.report.view import installed_suites

    return {name: tuple(cls.headline) for name, cls in installed_suites(names).items()}


def compare_runs(store: Store, run_a: str, run_b: str) -> Comparison:
    """Run A and run B side by side (differences are B - A)."""
    doc_a = _assessment(store, run_a, "A")
    doc_b = _assessment(store, run_b, "B")
    suites_a, suites_b = suite_names(doc_a), suite_names(doc_b)
    if set(suites_a) != set(suites_b):
        raise ConfigError(f"the runs assessed different suites (run A {run_a}: {', '.join(suites_a) or 'none'}; run "
                          f"B {run_b}: {', '.join(suites_b) or 'none'}): compare runs of the same suites, or "
                          "re-assess one with --suite for each of the other's")
    return compare(doc_a, doc_b, headlines(list(dict.fromkeys([*suites_a, *suites_b]))))


__all__ = ["compare_runs", "headlines"]
