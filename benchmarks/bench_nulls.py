"""Permutation nulls on real data (issue 10, section 2): does the whole bias suite FAIL a tool that
cannot treat any group differently?

    python benchmarks/bench_nulls.py [--shuffles 200] [--cards adult german-credit law-school]
                                     [--workers 2] [--rule significant_violation] [--quick]

For each card, from the offline mirror (`../shared/datasets`, or HARNESS_MIRROR, or --data-dir):

* the tool is a plain logistic regression fitted once on the card's features (numeric columns
  standardised, categorical ones one-hot), and its decisions on the reference data are its outputs;
* each shuffle permutes the rows of the protected columns JOINTLY (one permutation for all of them,
  so intersections keep their sizes) and keeps the outcome and the decisions. Group membership is
  then independent of both, so every true disparity is zero and any FAIL is a false alarm;
* the WHOLE bias suite runs once per shuffle with the policy's own settings (B = 2,000), as a file
  of outputs (no scores; the counterfactual check is SKIPPED), and is judged at the three tiers.
  One exception: kNN consistency (3 of Adult's 3.5 s per run) is computed only when the policy has a
  threshold for it or with --consistency; the default policy has none, so it cannot change a verdict.

Target: FAIL at most 5 % of shuffles at every tier. The unshuffled data's verdicts are printed for
comparison (a logistic regression on Adult does treat women differently). Shuffle i of a card uses
`numpy.random.default_rng([crc32(card), i])`, so the figures are reproducible.

Measured (200 shuffles; FAIL at high / medium / low):

    card            first release (point rule)   significant_violation (issue 10)
    adult           100.0 / 94.0 / 91.5 %        0.0 / 0.0 / 0.0 %
    german-credit    83.5 / 58.5 / 41.0 %        1.0 / 1.0 / 0.5 %
    law-school        2.5 /  0.0 /  0.0 %        0.5 / 0.0 / 0.0 %
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: benchmarks/ is sys.path[0]; import it as the tests do
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_calibration import (
    RULES,
    TIERS,
    Outcome,
    Tally,
    bench_policy,
    has_new_rule,
    judge_tiers,
    load_default_bootstrap,
    rule_name,
    run_bias,
    run_parallel,
    top_causes,
    wilson,
)

if TYPE_CHECKING:
    from harness.datasets import ReferenceDataset
    from harness.policy import Policy

ROOT = Path(__file__).resolve().parents[1]
CARDS: tuple[str, ...] = ("adult", "german-credit", "law-school")


def mirror_dir() -> Path:
    return Path(os.environ.get("HARNESS_MIRROR", ROOT.parent / "shared" / "datasets"))


def logistic_decisions(ds: ReferenceDataset) -> np.ndarray:
    """A plain logistic regression's decisions on the card's features, in the card's label space."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from harness.datasets import matches

    x = ds.frame[list(ds.card.features)]
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    categorical = [c for c in x.columns if c not in numeric]
    prep = ColumnTransformer([("num", StandardScaler(), numeric),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])
    model = make_pipeline(prep, LogisticRegression(max_iter=2000))
    y = ds.y_favorable
    model.fit(x, y)
    decided = model.predict(x).astype(bool)
    target = ds.frame[ds.card.target.column]  # type: ignore[union-attr]
    fav = ds.card.target.favorable_value  # type: ignore[union-attr]
    is_fav = matches(target, fav)
    # the dataset's own values, so the labels compare with the target exactly as the file's would
    yes, no = target[is_fav].iloc[0], target[~is_fav].iloc[0]
    return np.where(decided, yes, no)


@cache
def prepared(card: str, data_dir: str) -> tuple[ReferenceDataset, np.ndarray]:
    """The dataset and the tool's decisions, once per process."""
    from harness.datasets import load_dataset

    ds = load_dataset(card, data_dir=data_dir)
    return ds, logistic_decisions(ds)


def shuffled(ds: ReferenceDataset, card: str, i: int) -> ReferenceDataset:
    """The dataset with the protected columns' rows permuted jointly (outcome and features kept)."""
    rng = np.random.default_rng([zlib.crc32(card.encode()), i])
    cols = list(ds.card.protected_attributes)
    frame = ds.frame.copy()
    perm = rng.permutation(len(frame))
    frame[cols] = ds.frame[cols].iloc[perm].to_numpy()
    return replace(ds, frame=frame)


_STATE: dict[str, Any] = {}


def _init(policy: Policy, data_dir: str) -> None:
    _STATE.update(policy=policy, data_dir=data_dir)


def _chunk(job: tuple[str, int, int]) -> tuple[str, list[Outcome]]:
    card, start, stop = job
    policy, data_dir = _STATE["policy"], _STATE["data_dir"]
    ds, labels = prepared(card, data_dir)
    out = []
    for i in range(start, stop):
        out.append(judge_tiers(run_bias(shuffled(ds, card, i), labels, policy, seed=i), policy))
    return card, out


def null_rates(cards: Sequence[str], shuffles: int, policy: Policy, data_dir: str | Path, workers: int = 1,
               chunk: int = 10) -> dict[tuple[str, str], Tally]:
    """(card, tier) -> verdicts over `shuffles` joint permutations of the protected columns."""
    for card in cards:  # load and fit before forking, so the workers share them
        prepared(card, str(data_dir))
    jobs = [(c, s, min(s + chunk, shuffles)) for c in cards for s in range(0, shuffles, chunk)]
    out: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for card, outcomes in run_parallel(_chunk, jobs, workers, _init, (policy, str(data_dir))):
        for outcome in outcomes:
            for tier, (verdict, causes) in zip(TIERS, outcome, strict=True):
                out[(card, tier)].add(verdict, causes)
    return dict(out)


def describe(ds: ReferenceDataset, labels: np.ndarray) -> str:
    from harness.datasets import matches

    fav = ds.card.target.favorable_value  # type: ignore[union-attr]
    acc = float((matches(labels, fav) == ds.y_favorable.astype(bool)).mean())
    attrs = list(ds.card.protected_attributes)
    smallest = ds.frame.groupby(attrs, observed=True).size().min() if len(attrs) > 1 else None
    sizes = ", ".join(f"{a}: {ds.frame[a].nunique()} groups, smallest {ds.frame[a].value_counts().min():,}"
                      for a in attrs)
    inter = f"; smallest intersection {smallest:,}" if smallest is not None else ""
    return f"{len(ds.frame):,} rows, logistic regression accuracy {acc:.1%}; {sizes}{inter}"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shuffles", type=int, default=200)
    ap.add_argument("--cards", nargs="+", default=list(CARDS))
    ap.add_argument("--data-dir", type=Path, default=None, help="the dataset mirror (default ../shared/datasets)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rule", choices=RULES, default=None)
    ap.add_argument("--quick", action="store_true", help="40 shuffles")
    ap.add_argument("--consistency", action="store_true", help="compute kNN consistency even when nothing judges it")
    args = ap.parse_args(argv)
    if args.quick:
        args.shuffles = min(args.shuffles, 40)
    data_dir = args.data_dir or mirror_dir()
    if not data_dir.is_dir():
        raise SystemExit(f"the dataset mirror {data_dir} is absent: pass --data-dir or set HARNESS_MIRROR")

    import harness

    # kNN consistency costs 3 of Adult's 3.5 s per run and no threshold reads it: computed only when judged
    judged = bench_policy(load_default_bootstrap(), args.rule, consistency=True).threshold(
        "bias", "individual_fairness", "consistency") is not None
    policy = bench_policy(load_default_bootstrap(), args.rule, consistency=args.consistency or judged)
    print(f"harness: {Path(harness.__file__).parent}  new rule (harness.decision.judge): "
          f"{'yes' if has_new_rule() else 'no'}  decision_rule: {rule_name(policy)}  kNN consistency: "
          f"{'on' if policy.setting('bias', 'consistency_rows', 5000) else 'off (no threshold reads it)'}")
    missed = []
    for card in args.cards:
        t0 = time.perf_counter()
        ds, labels = prepared(card, str(data_dir))
        print(f"\n{card}: {describe(ds, labels)} (loaded and fitted in {time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        original = judge_tiers(run_bias(ds, labels, policy, seed=0), policy)
        print("  unshuffled: " + "; ".join(f"{tier} {v}" + (f" ({', '.join(sorted(c))})" if c else "")
                                            for tier, (v, c) in zip(TIERS, original, strict=True))
              + f"  [{time.perf_counter() - t0:.1f} s]")
        t0 = time.perf_counter()
        rates = null_rates([card], args.shuffles, policy, data_dir, args.workers)
        took = time.perf_counter() - t0
        print(f"  {args.shuffles} joint shuffles of {', '.join(ds.card.protected_attributes)} in {took:.0f} s "
              f"({took / args.shuffles * args.workers:.1f} s per run per worker)")
        head = (f"  {'tier':>6} {'FAIL':>6} {'(95 % CI)':>13} {'REVIEW':>6} {'PASS':>6}  {'target':<12} {'met':<4} "
                f"FAILed by (share of FAILs)")
        print(head)
        for tier in TIERS:
            t = rates[(card, tier)]
            fail = t.share("FAIL")
            lo, hi = wilson(t.verdicts["FAIL"], t.n)
            ok = fail <= 0.05
            if not ok:
                missed.append(f"{card} {tier}: FAIL {fail:.1%} of {t.n} shuffles")
            print(f"  {tier:>6} {fail:>6.1%} {f'{lo:.1%}-{hi:.1%}':>13} {t.share('NEEDS_REVIEW'):>6.1%} "
                  f"{t.share('PASS'):>6.1%}  {'FAIL <= 5 %':<12} {'yes' if ok else 'NO':<4} {top_causes(t, 3)}")
    print("\nTargets missed:" if missed else "\nEvery target met.")
    for m in missed:
        print(f"  {m}")


if __name__ == "__main__":
    main()
