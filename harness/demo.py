"""`harness demo`: the main job on bundled data, with nothing to set up.

Assesses two rental-assistance screening tools on the bundled synthetic applications: a vendor model
that learned a neighbourhood penalty from biased historical decisions (it must FAIL), and a baseline
built on the programme's eligibility rules alone (it should PASS, or NEEDS_REVIEW with the reason).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "rental_assistance"
DATASET = "rental-assistance"
CURRENT = Path(__file__).resolve().parent.parent / "datasets" / DATASET / "current_2026q3.csv"
TOOLS = ("vendor_tool.yaml", "fair_tool.yaml")
EXPECTED = {"vendor_tool.yaml": {"FAIL"}, "fair_tool.yaml": {"PASS", "NEEDS_REVIEW"}}


def run_demo(console: Console, out: Path, tracking_uri: str | None) -> int:
    from harness.console import print_verdicts
    from harness.pipeline import run_assessment
    from harness.tracking import resolve_uri, sqlite_path

    missing = [t for t in TOOLS if not (EXAMPLES / t).is_file()]
    if missing:
        raise ConfigError(f"the demo tools {missing} are missing from {EXAMPLES}; is this a full checkout?")
    results, outcome = [], 0
    with console.status("demo", spinner="dots") as status:
        for name in TOOLS:
            rec = run_assessment(EXAMPLES / name, [DATASET], tracking_uri=tracking_uri, current=CURRENT,
                                 out=out / name.removesuffix(".yaml"), progress=status.update)
            results.append(rec.result)
            if rec.result.verdict.value not in EXPECTED[name]:
                outcome = 1
            console.print(f"[dim]{rec.result.tool['id']}: {rec.result.verdict.value}, run {rec.result.run_id}, "
                          f"report {rec.out_dir / 'report.html'}[/]")
    print_verdicts(console, results)
    uri = resolve_uri(tracking_uri)
    console.print(f"\nReports: {out}/<tool>/report.html (open in a browser), report.md, assessment.json")
    db = sqlite_path(uri)
    mlflow_cmd = Path(sys.executable).with_name("mlflow")
    if db is not None:
        console.print("Browse the evidence in the MLflow UI:\n"
                      f"  {mlflow_cmd} ui --backend-store-uri sqlite:///{db.resolve().as_posix()} --port 5000\n"
                      "  then open http://127.0.0.1:5000 (experiments harness/<tool id>)")
    else:
        console.print(f"The runs are on the tracking server {uri}.")
    if outcome:
        console.print("[bold red]The demo's tools did not get their expected verdicts (vendor FAIL, "
                      "baseline PASS or NEEDS_REVIEW).[/]")
    return outcome
