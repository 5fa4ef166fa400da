"""Everything the bias suite reports, dumped as JSON, so a change made for speed can be shown to change no figure.

Run before and after a change and compare: `python benchmarks/bias_fingerprint.py --out DIR` writes one JSON
file per case and prints its sha256; `--compare DIR_A DIR_B` says which cases differ and where. A case is the
whole `run_suite(BiasSuite(), ctx)` output (every measurement with its interval, n and details, every finding
with its message, every table), its floats written by `repr` (`json` keeps all 17 digits), so two dumps are
equal only when every number is the same to the bit.

Cases, chosen so each path of the suite's checks runs (few distinct scores and continuous ones, sampled and
whole data, a callable tool and a fitted model, ties and no ties in the kNN features):

- `bench-1m`: bench_bias's million rows and tool (scores on a coarse grid, every sample cap exceeded);
- `bench-1m-continuous`: the same with every score distinct (the scores check sorts instead of counting);
- `rental-vendor`: the bundled rental-assistance data with the example vendor's fitted model;
- `adult-grid` and `adult-continuous`: UCI Adult from the data mirror (`--data-dir`, default ../shared/datasets
  from the repository root) with a fixed logistic score of its inputs, sex and race among them, rounded to
  0.01 and not rounded; skipped, and said so, when the mirror is absent.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))


def _plain(value: Any) -> Any:
    """JSON-ready, floats kept to the bit (NaN and infinities as text, numpy scalars as Python's)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump())
    if hasattr(value, "value") and hasattr(value, "name") and type(value).__module__.startswith("harness"):
        return value.value  # an enum
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return repr(value)


def dump(result: Any) -> str:
    return json.dumps({"measurements": _plain(list(result.measurements)), "findings": _plain(list(result.findings)),
                       "tables": _plain(result.tables)}, sort_keys=True, indent=1)


def bench_case(continuous: bool) -> Any:
    import bench_bias as B

    frame = B.make_frame(1_000_000)
    labels, scores = B.tool_fn(frame)
    if continuous:
        jitter = np.random.default_rng(3).uniform(-1e-9, 1e-9, len(scores))
        scores = np.clip(scores + jitter, 0.0, 1.0)
    return B.run_whole_suite(B.make_context(frame, labels, scores))


def rental_case() -> Any:
    from harness.check import CheckContext
    from harness.datasets import load_dataset
    from harness.manifest import load_manifest
    from harness.policy import load_policy
    from harness.tools import load_tool

    ds = load_dataset(str(ROOT / "datasets" / "rental-assistance" / "card.yaml"))
    manifest = load_manifest(ROOT / "examples" / "rental_assistance" / "vendor_tool.yaml")
    tool = load_tool(manifest, use_cache=False)
    ctx = CheckContext(dataset=ds, predictions=tool.predict(ds), policy=load_policy(), manifest=manifest,
                       seed=7, tool=tool)
    import bench_bias as B

    return B.run_whole_suite(ctx)


def adult_score(frame: Any) -> np.ndarray:
    """A fixed logistic score of Adult's inputs; sex and race move it, so the counterfactual flips count."""
    z = (0.045 * (frame["age"].to_numpy(dtype=float) - 38) + 0.32 * (frame["education-num"].to_numpy(dtype=float) - 10)
         + 0.03 * (frame["hours-per-week"].to_numpy(dtype=float) - 40)
         + 0.0003 * frame["capital-gain"].to_numpy(dtype=float).clip(0, 10_000)
         + 0.7 * (frame["sex"] == "Male").to_numpy() + 0.3 * (frame["race"] == "White").to_numpy()
         + 0.9 * frame["relationship"].isin(["Husband", "Wife"]).to_numpy() - 1.6)
    return 1 / (1 + np.exp(-z))


def adult_case(data_dir: Path, grid: bool) -> Any:
    import bench_bias as B

    from harness.check import CheckContext
    from harness.datasets import load_dataset
    from harness.policy import load_policy
    from harness.tools import Predictions
    from harness.tools.python import PythonTool

    ds = load_dataset("adult", data_dir)

    def fn(frame: Any) -> tuple[np.ndarray, np.ndarray]:
        s = adult_score(frame)
        s = np.round(s, 2) if grid else s
        return np.where(s >= 0.5, ">50K", "<=50K"), s

    labels, scores = fn(ds.frame)
    ctx = B.make_context(ds.frame, labels, scores)  # the bench's manifest and policy
    ctx = CheckContext(dataset=ds, predictions=Predictions(labels=labels, scores=scores), policy=load_policy(),
                       manifest=ctx.manifest, seed=3, tool=PythonTool(fn=fn, name="adult-logistic"))
    return B.run_whole_suite(ctx)


def cases(data_dir: Path) -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {
        "bench-1m": lambda: bench_case(False), "bench-1m-continuous": lambda: bench_case(True),
        "rental-vendor": rental_case}
    if (data_dir / "adult.data.csv").exists():
        out["adult-grid"] = lambda: adult_case(data_dir, True)
        out["adult-continuous"] = lambda: adult_case(data_dir, False)
    else:
        print(f"no adult.data.csv in {data_dir}: the Adult cases are skipped")
    return out


def compare(a: Path, b: Path) -> int:
    differ = 0
    for fa in sorted(a.glob("*.json")):
        fb = b / fa.name
        if not fb.exists():
            print(f"{fa.stem}: only in {a}")
            differ += 1
            continue
        ta, tb = fa.read_text(), fb.read_text()
        if ta == tb:
            print(f"{fa.stem}: identical ({len(ta):,} characters)")
            continue
        differ += 1
        la, lb = ta.splitlines(), tb.splitlines()
        first = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
        print(f"{fa.stem}: DIFFERS from line {first + 1}:\n  {la[first] if first < len(la) else '<end>'}\n"
              f"  {lb[first] if first < len(lb) else '<end>'}")
    return differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write one JSON file per case here")
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--only", nargs="*", help="case names to run (default: all)")
    args = ap.parse_args()
    if args.compare:
        raise SystemExit(1 if compare(*args.compare) else 0)
    if args.out is None:
        ap.error("--out or --compare")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, run in cases(args.data_dir).items():
        if args.only and name not in args.only:
            continue
        text = dump(run())
        (args.out / f"{name}.json").write_text(text)
        print(f"{name}: sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]} ({len(text):,} characters)")


if __name__ == "__main__":
    main()
