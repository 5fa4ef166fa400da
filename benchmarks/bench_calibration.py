"""Calibration of the fail-closed rule by simulation (issue 3).

How often does the bias suite return FAIL on data with no disparity (a false alarm against a fair
vendor), and how often on data with an injected adverse impact ratio of 0.7 (a missed disparity)?
Targets: at most 5 % and at least 95 % of seeds, with groups of 500.

    python benchmarks/bench_calibration.py [--seeds 400] [--group-size 500]

The scenario: one protected attribute with two groups of `group_size` rows, an outcome with base rate
0.4 in both, and a tool with TPR 0.75 and FPR 0.15 for the reference group. "No disparity" gives
the other group the same rates; "AIR 0.7" scales its TPR and FPR by 0.7, so its expected selection
rate is exactly 0.7 times the reference group's. The tool's file of outputs is assessed (no scores,
no counterfactual), the risk tier is the strictest (high), and B = 200 bootstrap draws (the FAIL
rule uses the point estimate, so B does not change FAIL rates).
"""
from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd


def simulate(seed: int, group_size: int = 500, air: float = 1.0, tier: str = "high") -> tuple[str, bool]:
    """One simulated assessment: (the suite's verdict, whether the four-fifths check alone failed)."""
    from harness.assessment import run_suite
    from harness.check import CheckContext
    from harness.datasets import DatasetCard, ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.policy import load_policy
    from harness.tools import Predictions
    from harness.verdict import decide
    from test_suites.bias import BiasSuite

    rng = np.random.default_rng(seed)
    n = 2 * group_size
    group = np.repeat(np.array(["ref", "other"]), group_size)
    y = rng.binomial(1, 0.4, n)
    scale = np.where(group == "other", air, 1.0)
    pred = rng.binomial(1, np.where(y == 1, 0.75, 0.15) * scale)
    frame = pd.DataFrame({"id": np.arange(n), "group": group, "x": rng.normal(size=n), "y": y})
    card = DatasetCard(name="sim", version="1", task="binary-classification", file="sim.csv", sha256="0" * 64,
                       source="simulation", license="CC0-1.0", target={"column": "y", "positive": 1},
                       id_column="id", features=["x"], protected_attributes={"group": {"reference": "ref"}})
    ds = ReferenceDataset(card=card, card_path=Path("card.yaml"), data_path=Path("sim.csv"), frame=frame,
                          sha256=hashlib.sha256(b"sim").hexdigest())
    manifest = ToolManifest.model_validate(_MANIFEST | {"risk_tier": tier})
    policy = load_policy().model_copy(update={"bootstrap_samples": 200,
                                              "settings": {"bias": {"consistency_rows": 0}}})
    ctx = CheckContext(dataset=ds, predictions=Predictions(labels=pred), policy=policy, manifest=manifest,
                       seed=seed)
    result = run_suite(BiasSuite(), ctx)
    four_fifths = any(f.check == "four_fifths" and f.status.value == "FAIL" for f in result.findings)
    return decide(list(result.findings))[0].value, four_fifths


_MANIFEST = {
    "id": "sim", "name": "simulated tool", "version": "1", "vendor": "v", "department": "d",
    "category": "decision-support", "status": "proposed", "risk_tier": "high", "intended_use": "x",
    "automation_level": "x", "human_oversight": "x", "adapter": {"kind": "predictions", "path": "p.csv"},
    "disclosure": {k: "x" for k in ("model_type", "training_data_source", "data_access_basis",
                                    "known_limitations", "bias_mitigation")},
}


def fail_rates(seeds: int, group_size: int, air: float, tier: str = "high") -> tuple[float, float]:
    runs = [simulate(s, group_size, air, tier) for s in range(seeds)]
    return (sum(v == "FAIL" for v, _ in runs) / seeds, sum(ff for _, ff in runs) / seeds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=400)
    ap.add_argument("--group-size", type=int, nargs="+", default=[500, 100, 2000])
    args = ap.parse_args()
    print(f"{'group size':>10} {'tier':>6} {'true AIR':>9} {'suite FAIL':>11} {'4/5 FAIL':>9} {'target':>10} {'s':>6}")
    for size in args.group_size:
        for tier in ("high", "medium"):
            for air, target in ((1.0, "<= 5 %"), (0.7, ">= 95 %")):
                t0 = time.perf_counter()
                suite, ff = fail_rates(args.seeds, size, air, tier)
                print(f"{size:>10} {tier:>6} {air:>9.2f} {suite:>11.1%} {ff:>9.1%} "
                      f"{target if size == 500 else '-':>10} {time.perf_counter() - t0:>6.1f}")


if __name__ == "__main__":
    main()
