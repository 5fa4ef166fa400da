"""`harness demo`: the main job on bundled data, with nothing to set up.

Assesses four bundled tools, each pair a tool that must FAIL beside a baseline that should PASS (or get
NEEDS_REVIEW with the reason):

- two rental-assistance screening tools on the synthetic applications: a vendor model that learned a
  neighbourhood penalty from biased historical decisions, and a baseline built on the programme's
  eligibility rules alone (the bias suite);
- two 311 question-answering tools on city-services-qa: a careless one that answers everything and garbles
  figures and names, and an extractive baseline that quotes the page or says it does not know (the
  hallucination suite and whatever else the policy requires of generative tools).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from harness.assessment import AssessmentResult

ROOT = Path(__file__).resolve().parent.parent
CURRENT = ROOT / "datasets" / "rental-assistance" / "current_2026q3.csv"


@dataclass(frozen=True)
class DemoTool:
    """One demo assessment: a manifest under examples/, its dataset, and the verdicts it should get."""

    folder: str
    manifest: str
    dataset: str
    expected: frozenset[str]
    current: Path | None = None

    @property
    def path(self) -> Path:
        return ROOT / "examples" / self.folder / self.manifest

    @property
    def out_name(self) -> str:
        return self.manifest.removesuffix(".yaml")


PASS_OR_REVIEW = frozenset({"PASS", "NEEDS_REVIEW"})
TOOLS: tuple[DemoTool, ...] = (
    DemoTool("rental_assistance", "vendor_tool.yaml", "rental-assistance", frozenset({"FAIL"}), CURRENT),
    DemoTool("rental_assistance", "fair_tool.yaml", "rental-assistance", PASS_OR_REVIEW, CURRENT),
    DemoTool("city_services_qa", "careless_tool.yaml", "city-services-qa", frozenset({"FAIL"})),
    DemoTool("city_services_qa", "baseline_tool.yaml", "city-services-qa", PASS_OR_REVIEW),
)


def hallucination_line(result: AssessmentResult) -> str | None:
    """The hallucination rate in one line (unanswerable questions answered anyway), when it was measured."""
    for f in result.findings:
        if f.key == "hallucination.abstention.hallucination_rate" and f.value is not None and f.n:
            count = f.details.get("count", round(f.value * f.n))
            return (f"hallucination rate {f.value:.1%} ({count:,} of {f.n:,} unanswerable questions answered "
                    f"anyway; limit {f.threshold:.0%} for a {result.tool['risk_tier']}-risk tool): {f.status.value}")
    return None


def run_demo(console: Console, out: Path, tracking_uri: str | None) -> int:
    from harness.console import print_verdicts
    from harness.pipeline import run_assessment
    from harness.tracking import resolve_uri, sqlite_path

    missing = [str(t.path.relative_to(ROOT)) for t in TOOLS if not t.path.is_file()]
    if missing:
        raise ConfigError(f"the demo tools {missing} are missing from {ROOT / 'examples'}; is this a full checkout?")
    results, outcome = [], 0
    with console.status("demo", spinner="dots") as status:
        for tool in TOOLS:
            rec = run_assessment(tool.path, [tool.dataset], tracking_uri=tracking_uri, current=tool.current,
                                 out=out / tool.out_name, progress=status.update)
            results.append(rec.result)
            if rec.result.verdict.value not in tool.expected:
                outcome = 1
            console.print(f"[dim]{rec.result.tool['id']}: {rec.result.verdict.value}, run {rec.result.run_id}, "
                          f"report {rec.out_dir / 'report.html'}[/]")
            line = hallucination_line(rec.result)
            if line:
                console.print(f"[dim]  {line}[/]")
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
        console.print("[bold red]The demo's tools did not get their expected verdicts (rentrank and quickanswer "
                      "FAIL, the two baselines PASS or NEEDS_REVIEW).[/]")
    return outcome
