"""The re-assessment story of the rental-assistance demo tools over four simulated quarters (issue 16, policy 4.3).

``python examples/rental_assistance/quarters.py [--store DIR]`` runs it in a fresh embedded store (a temporary
folder unless --store names one) and prints, each quarter, what the department dropped in each tool's monitoring
folder, the verdicts of `harness reassess --due --as-of DATE` and the gate states.

The tools: the City's screening baseline (`fair_tool.yaml`) is deployed by two district offices, each with its own
copy of the manifest (`rental-screen-north`, `rental-screen-south`: the same model) and its own monitoring folder.
Both are assessed on the reference data and approved. RentRank (`vendor_tool.yaml`) fails its pre-acquisition
assessment and is never in use, so it is never re-assessed. Then, quarter by quarter (samples from
`samples.py`; each card's period is set to the quarter it covers when it is dropped):

| quarter | north drops | south drops |
|---|---|---|
| 1 | an unchanged quarter (fair_a) | an unchanged quarter (fair_b) |
| 2 | nothing (the sample is late) | the rent-rise quarter, outcomes not known yet |
| 3 | fair_a again under a new name | (suspended: nothing is due) |
| 4 | decisions that became unfair (unfair) | (suspended) |

Each quarter's re-assessment runs with ``--as-of`` 91 days after the previous one, so every approval in use is due.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"
STORY: list[dict[str, str | None]] = [
    {"rental-screen-north": "fair_a", "rental-screen-south": "fair_b"},
    {"rental-screen-north": None, "rental-screen-south": "rent_rise"},
    {"rental-screen-north": "fair_a", "rental-screen-south": None},
    {"rental-screen-north": "unfair", "rental-screen-south": None},
]


def drop(sample: str, folder: Path, period: str, as_name: str) -> Path:
    """The department's drop: the sample's file and its card, with the card's period set to the quarter."""
    card = yaml.safe_load((SAMPLES / f"{sample}.card.yaml").read_text())
    card |= {"period": period, "name": as_name, "file": f"{as_name}.csv"}
    shutil.copyfile(SAMPLES / f"{sample}.csv", folder / f"{as_name}.csv")
    path = folder / f"{as_name}.card.yaml"
    path.write_text(yaml.safe_dump(card, sort_keys=False))
    return path


def district_manifest(tool_id: str, folder: Path) -> Path:
    """A copy of the baseline's manifest under the district's tool id, beside a copy of the model."""
    doc = yaml.safe_load((HERE / "fair_tool.yaml").read_text())
    doc |= {"id": tool_id, "name": f"{doc['name']} ({tool_id.rsplit('-', 1)[1]} district)"}
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "fair_model.skops", folder / "fair_model.skops")
    path = folder / "tool.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    from harness import gate
    from harness.monitoring import quarter_before
    from harness.policy import SINGLE_USER_WEAKENING, single_user_policy_text
    from harness.workflows.assess import run_assessment
    from harness.workflows.reassess import reassess

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", default=None, help="folder for the store (default: a temporary folder)")
    args = parser.parse_args(argv)
    root = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="harness-quarters-"))
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    out = root / "reports"
    policy = root / "single-user-policy.yaml"
    policy.write_text(single_user_policy_text())
    gate.adopt(uri, policy, by="Pat Admin", reason="the demo's embedded store",
               acknowledge_weakening=SINGLE_USER_WEAKENING)
    say = sys.stdout.write

    say("== approval on the reference data (rental-assistance, 14,000 rows)\n")
    folders: dict[str, Path] = {}
    for tool_id in STORY[0]:
        folders[tool_id] = root / "monitoring" / tool_id
        folders[tool_id].mkdir(parents=True)
        rec = run_assessment(district_manifest(tool_id, root / "tools" / tool_id), ["rental-assistance"],
                             tracking_uri=uri, out=out / tool_id / "approval", submitter="dana",
                             monitoring=folders[tool_id])
        gate.approve(uri, tool_id, "1.0.0", run_id=str(rec.result.run_id), reviewer="omar",
                     rationale="fair on the reference data; monitored quarterly")
        say(f"{tool_id}: {rec.result.verdict.value}, approved; monitoring folder {folders[tool_id].name}/\n")
    rec = run_assessment(HERE / "vendor_tool.yaml", ["rental-assistance"], tracking_uri=uri, out=out / "rentrank",
                         submitter="dana")
    say(f"rentrank: {rec.result.verdict.value} ({rec.result.reasons[0][:110]}...); not approved, never in use\n")

    as_of = datetime.now(UTC)
    for q, drops in enumerate(STORY, start=1):
        as_of += timedelta(days=91)
        period = quarter_before(as_of)
        say(f"\n== quarter {q}: reassess --due --as-of {as_of.date().isoformat()} (expects the {period} samples)\n")
        for tool_id, sample in drops.items():
            if sample is None:
                state = gate.status(uri, tool_id, "1.0.0")[0].state
                say(f"  {tool_id} drops nothing{' (it is ' + state + ')' if state != 'approved' else ''}\n")
                continue
            card = drop(sample, folders[tool_id], period, f"{tool_id}-{period.lower()}")
            say(f"  {tool_id} drops {card.name} ({sample}.csv)\n")
        outcomes = reassess(uri, due_only=True, as_of=as_of, by="cron", out=out / f"q{q}")
        for o in outcomes:
            say(f"  {o.tool}: {o.verdict}; approval {o.approval}\n    {o.reason[:400]}\n")
        if not outcomes:
            say("  nothing is due\n")
        for tool_id in STORY[0]:
            vs = gate.status(uri, tool_id, "1.0.0")[0]
            say(f"  gate {tool_id}: {vs.state}, {'open' if vs.gate.open else 'closed'}\n")
    say(f"\nstore: {uri}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
