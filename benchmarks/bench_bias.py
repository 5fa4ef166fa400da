"""Speed of the bias suite against a bare numpy floor and fairlearn's MetricFrame (issue 3).

Run by hand or with `make bench`: `python benchmarks/bench_bias.py [--rows 1000000 5000000]`.
Prints, measured in this one process: the whole suite (all checks, three groupings, B bootstrap
resamples), the numpy floor (per-group confusion counts with np.bincount and the rates derived from
them), fairlearn MetricFrame with the same rates over the same groupings, and peak memory.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["F", "M"]), n)
    race = rng.choice(np.array(["A", "B", "C", "D", "E"]), n, p=[0.4, 0.25, 0.15, 0.12, 0.08])
    y = rng.binomial(1, 0.4, n).astype(np.int8)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, n) - 0.05 * (race == "B"), 0, 1)
    pred = (score > 0.5).astype(np.int8)
    return pd.DataFrame({"id": np.arange(n), "sex": sex, "race": race, "y": y, "pred": pred, "score": score})


def numpy_floor(frame: pd.DataFrame) -> float:
    t0 = time.perf_counter()
    y, p = frame["y"].to_numpy(), frame["pred"].to_numpy()
    for cols in (["sex"], ["race"], ["sex", "race"]):
        code = np.zeros(len(frame), dtype=np.int64)
        for c in cols:
            codes, uniq = pd.factorize(frame[c], sort=True)
            code = code * len(uniq) + codes
        counts = np.bincount(code * 4 + y * 2 + p).reshape(-1, 4).astype(float)
        tn, fp, fn, tp = counts.T
        with np.errstate(invalid="ignore", divide="ignore"):
            _ = ((tp + fp) / counts.sum(1), tp / (tp + fn), fp / (fp + tn), fn / (tp + fn),
                 tp / (tp + fp), (tp + tn) / counts.sum(1))
    return time.perf_counter() - t0


def fairlearn_time(frame: pd.DataFrame) -> float:
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
               "fnr": false_negative_rate, "precision": lambda a, b: precision_score(a, b, zero_division=0),
               "accuracy": accuracy_score}
    t0 = time.perf_counter()
    for cols in (["sex"], ["race"], ["sex", "race"]):
        MetricFrame(metrics=metrics, y_true=frame["y"], y_pred=frame["pred"], sensitive_features=frame[cols])
    return time.perf_counter() - t0


def suite_time(frame: pd.DataFrame, folder: Path) -> tuple[float, int]:
    import hashlib

    from harness.assessment import run_suite
    from harness.check import CheckContext
    from harness.datasets import DatasetCard, ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.policy import load_policy
    from harness.tools import Predictions
    from test_suites.bias import BiasSuite

    card = DatasetCard(name="bench", version="1", task="binary-classification", file="none.csv", sha256="0" * 64,
                       source="generated", license="CC0-1.0", target={"column": "y", "positive": 1},
                       id_column="id", features=["sex", "race"],
                       protected_attributes={"sex": {"reference": "M"}, "race": {"reference": "A"}})
    ds = ReferenceDataset(card=card, card_path=folder / "card.yaml", data_path=folder / "none.csv", frame=frame,
                          sha256=hashlib.sha256(b"").hexdigest())
    manifest = ToolManifest.model_validate({
        "id": "bench", "name": "bench", "version": "1", "vendor": "v", "department": "d", "category": "predictive",
        "status": "proposed", "risk_tier": "high", "intended_use": "x", "automation_level": "x",
        "human_oversight": "x", "disclosure": {k: "x" for k in ("model_type", "training_data_source",
                                                                 "data_access_basis", "known_limitations",
                                                                 "bias_mitigation")},
        "adapter": {"kind": "python", "callable": "numpy:zeros"}})
    # consistency (a kNN on a sample) is left out of the timed suite, as the target says
    policy = load_policy().model_copy(update={"settings": {"bias": {"consistency_rows": 0}}})
    preds = Predictions(labels=frame["pred"].to_numpy(), scores=frame["score"].to_numpy())
    ctx = CheckContext(dataset=ds, predictions=preds, policy=policy, manifest=manifest, seed=1)
    t0 = time.perf_counter()
    result = run_suite(BiasSuite(), ctx)
    return time.perf_counter() - t0, len(result.measurements)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--skip-fairlearn-above", type=int, default=1_000_000)
    args = ap.parse_args()
    import test_suites.bias  # noqa: F401  (import costs are not part of the suite's time)

    print(f"{'rows':>10} {'suite s':>9} {'floor s':>9} {'x floor':>8} {'fairlearn s':>12} {'x faster':>9} "
          f"{'peak/frame':>11} {'metrics':>8}")
    for n in args.rows:
        frame = make_frame(n)
        frame_bytes = int(frame.memory_usage(deep=True).sum())
        floor = min(numpy_floor(frame) for _ in range(3))
        tracemalloc.start()
        suite, n_metrics = suite_time(frame, Path("."))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        suite = min(suite, suite_time(frame, Path("."))[0])
        fl = fairlearn_time(frame) if n <= args.skip_fairlearn_above else float("nan")
        print(f"{n:>10,} {suite:>9.3f} {floor:>9.3f} {suite / floor:>8.1f} {fl:>12.2f} {fl / suite:>9.0f} "
              f"{peak / frame_bytes:>11.2f} {n_metrics:>8}")


if __name__ == "__main__":
    main()
