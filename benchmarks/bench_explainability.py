"""The explainability suite on UCI Adult: its known answers, its cost, and how often it FAILs a tool that does not
rely on `sex` (issue 14).

    python benchmarks/bench_explainability.py [--shuffles 50] [--train-rows 4000] [--data-dir DIR] [--quick]

From the offline mirror (`../shared/datasets`, or HARNESS_MIRROR, or --data-dir):

* known answers: a logistic regression (numeric inputs standardised, categorical ones one-hot) fitted on
  --train-rows seeded rows of Adult WITH `sex` among its inputs, and the same learner WITHOUT it, each assessed by
  the whole suite under the default policy at the high tier on the other half of the data (16,281 rows; the
  suite samples 2,000 of them). Printed: every finding, the top inputs, and the suite's wall time;
* the null: `sex` is shuffled over the whole file (so it carries no information about income or anything else),
  the same learner is fitted on --train-rows rows with the shuffled `sex` among its inputs, and the suite's
  `protected_reliance` check judges it at each tier, --shuffles times (shuffle i uses `default_rng([14, i])`).
  Any FAIL of `protected_reliance.decision_share.sex` is a false alarm; REVIEW is counted beside it.

Measured on the reference machine (2 cores, shared with other work), defaults:

    known answers: with sex, protected_reliance.decision_share.sex FAIL (3.0 % of decisions change, 95 % CI 2.8 to
                   3.1 %, rank 8 of 12); without sex, PASS (sex is not an input). Both FAIL proxy_reliance on
                   marital-status (10.2 / 10.5 %) and occupation (6.2 / 6.1 %), proxies for sex over Cramér's V 0.30.
                   The whole suite took 3.6 s (the first run in the process) and 2.1 s.
    null (50 shuffles, 162 s): FAIL 0 / 0 / 0 % (high / medium / low), REVIEW 0 / 0 / 0 %; share of decisions the
                   shuffled sex moves: median 0.31 %, largest 1.47 % (limit 2 % at the high tier)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if __package__ in (None, ""):  # run as a script: benchmarks/ is sys.path[0]; import it as the tests do
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.assessment import assess, run_suite
from harness.check import Check, CheckContext, Suite
from harness.datasets import ReferenceDataset, load_dataset
from harness.decision import judge
from harness.manifest import ToolManifest
from harness.policy import TIERS, load_policy
from harness.tools.sklearn import SklearnTool
from test_suites.explainability import ExplainabilitySuite
from test_suites.explainability.checks import ProtectedReliance

if TYPE_CHECKING:
    from harness.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
KEY = "explainability.protected_reliance.decision_share.sex"


def manifest(tier: str = "high") -> ToolManifest:
    text = "Benchmark model (benchmarks/bench_explainability.py)."
    return ToolManifest.model_validate({
        "id": "adult-lr", "name": "Adult logistic regression", "version": "1", "vendor": "benchmark",
        "department": "none", "category": "predictive", "status": "development", "risk_tier": tier,
        "intended_use": text, "automation_level": text, "human_oversight": text,
        "disclosure": {k: text for k in ("model_type", "training_data_source", "data_access_basis",
                                         "known_limitations", "bias_mitigation")},
        "adapter": {"kind": "sklearn", "path": "model.skops"}})


def fit(frame: Any, y: np.ndarray, rows: np.ndarray, with_sex: bool) -> SklearnTool:
    """The learner of the known answers and the null: one-hot categories, standardised numbers, logistic
    regression; wrapped as the harness's sklearn adapter (labels mapped to the card's values)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = CATEGORICAL + (["sex"] if with_sex else [])
    model = make_pipeline(ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), categorical),
                                             ("n", StandardScaler(), NUMERIC)]),
                          LogisticRegression(max_iter=2000))
    model.fit(frame.iloc[rows][NUMERIC + categorical], y[rows])
    return SklearnTool(model=model, name="adult-lr", label_map={1: ">50K", 0: "<=50K"})


def split(adult: ReferenceDataset, train_rows: int) -> tuple[np.ndarray, ReferenceDataset]:
    """A seeded half of Adult to assess on, and --train-rows of the other half to fit on."""
    order = np.random.default_rng(0).permutation(len(adult.frame))
    half = len(order) // 2
    held = replace(adult, frame=adult.frame.iloc[np.sort(order[half:])].reset_index(drop=True))
    return order[:train_rows], held


def known_answers(adult: ReferenceDataset, policy: Policy, train_rows: int) -> None:
    train, held = split(adult, train_rows)
    for with_sex in (True, False):
        tool = fit(adult.frame, adult.y_favorable, train, with_sex)
        t0 = time.perf_counter()
        result = assess(manifest(), tool, [held], [ExplainabilitySuite()], policy)
        took = time.perf_counter() - t0
        suite = result.suites[0]
        print(f"\n== Adult, logistic regression {'WITH' if with_sex else 'WITHOUT'} sex: explainability "
              f"{suite.status} ({took:.1f} s for the suite, {len(held.frame):,} rows)")
        for f in suite.findings:
            print(f"  {f.status.value:<9} {f.severity.value:<8} {f.key}: {f.message[:300]}")
        print("  top inputs (share of decisions that change when scrambled):")
        for row in suite.tables["explainability.importance"][:8]:
            print(f"    {row['rank']:>2}. {row['feature']:<16} {row['decision_share']:.2%}  {row['sensitive']}")


class Reliance(Suite):
    """Only the check the null is about, so each shuffle costs one importance computation."""

    name = "explainability"
    tasks: ClassVar[tuple[str, ...]] = ("binary-classification",)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [ProtectedReliance()]


def null(adult: ReferenceDataset, policy: Policy, shuffles: int, train_rows: int) -> None:
    counts = {tier: {"FAIL": 0, "REVIEW": 0} for tier in TIERS}
    shares = []
    t0 = time.perf_counter()
    for i in range(shuffles):
        rng = np.random.default_rng([14, i])
        frame = adult.frame.copy()
        frame["sex"] = rng.permutation(frame["sex"].to_numpy())
        shuffled = replace(adult, frame=frame)
        train, held = split(shuffled, train_rows)
        tool = fit(frame, adult.y_favorable, train, with_sex=True)
        ctx = CheckContext(dataset=held, predictions=tool.predict(held), policy=policy, manifest=manifest("high"),
                           seed=i, tool=tool)
        measured = [run_suite(Reliance(), ctx)]  # measured once, judged at each tier
        for tier in TIERS:
            result = judge(measured, policy, tier)[0]
            f = next(f for f in result.findings if f.key == KEY)
            if f.status.value in counts[tier]:
                counts[tier][f.status.value] += 1
            if tier == "high":
                shares.append(float(f.value or 0.0))
    took = time.perf_counter() - t0
    n = max(shuffles, 1)
    fail = " / ".join(f"{100 * counts[t]['FAIL'] / n:.0f}" for t in TIERS)
    review = " / ".join(f"{100 * counts[t]['REVIEW'] / n:.0f}" for t in TIERS)
    print(f"\n== null: sex shuffled, {shuffles} fits of {train_rows:,} rows ({took:.0f} s)")
    print(f"  {KEY}: FAIL {fail} % (high / medium / low), REVIEW {review} %")
    print(f"  share of decisions that change when the shuffled sex is scrambled: median {np.median(shares):.2%}, "
          f"largest {max(shares):.2%}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shuffles", type=int, default=50)
    ap.add_argument("--train-rows", type=int, default=4000)
    ap.add_argument("--data-dir", default=os.environ.get("HARNESS_MIRROR", str(ROOT.parent / "shared" / "datasets")))
    ap.add_argument("--quick", action="store_true", help="10 shuffles")
    args = ap.parse_args(argv)
    adult = load_dataset("adult", data_dir=args.data_dir)
    policy = load_policy()
    known_answers(adult, policy, args.train_rows)
    null(adult, policy, 10 if args.quick else args.shuffles, args.train_rows)


if __name__ == "__main__":
    main()
