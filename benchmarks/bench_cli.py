"""Cold start of the command line where people wait on it (issue 13, section 5 "Fast where people wait").

    python benchmarks/bench_cli.py [--runs 5] [--only suites datasets help gate]

Every figure is the median of N fresh processes (each one a cold interpreter; the OS file cache stays warm, as
it does for a reviewer who runs commands one after another), paired with its baseline: each round runs the
baseline and then the command, so load on the machine falls on both alike.

* `suites list`, `datasets list` and every `--help` (of the program, of each command and of each group's
  commands) against `python -c pass`. Target: under 1 s over it: none of them imports mlflow, Great
  Expectations, fairlearn, aif360 or matplotlib (tests/test_cli_imports.py holds that structurally).
* `gate`, `status`, `history` and `inventory` on a small store that the benchmark makes (one assessment of the
  bundled baseline rental screener by the bias suite) against
  `python -c "import mlflow; mlflow.MlflowClient(URI)"` on the same store: the cost of MLflow itself, which
  those commands cannot avoid. Target: within 1.3x of it.

It reports; it does not fail: the exit status is 0 whatever the figures (speed targets are not tests).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
EXAMPLE = ROOT / "examples" / "rental_assistance" / "fair_tool.yaml"
TOOL = "rental-screen-baseline"
FAST_TARGET_S = 1.0     # over `python -c pass`
GATE_TARGET_RATIO = 1.3  # of `import mlflow; mlflow.MlflowClient(URI)`


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "120", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def _time(argv: Sequence[str], cwd: Path) -> float:
    """Wall time of one fresh process; its exit status is not judged here (a closed gate exits 1)."""
    t0 = time.perf_counter()
    r = subprocess.run(list(argv), cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=600)
    elapsed = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.decode(errors='replace')[-800:]}")
    return elapsed


def paired(command: Sequence[str], baseline: Sequence[str], runs: int, cwd: Path) -> tuple[float, float]:
    """Medians of `runs` rounds of (baseline, command). One warm-up round first fills the bytecode caches."""
    _time(baseline, cwd), _time(command, cwd)
    base, cmd = [], []
    for _ in range(runs):
        base.append(_time(baseline, cwd))
        cmd.append(_time(command, cwd))
    return statistics.median(cmd), statistics.median(base)


def help_commands() -> list[list[str]]:
    """`--help` of the program and of every command and group, read from the click tree itself so that a
    new command is measured without editing this list."""
    from harness.cli import main

    found: list[list[str]] = [[]]

    def walk(group: object, prefix: list[str]) -> None:
        for name, cmd in sorted(getattr(group, "commands", {}).items()):
            found.append([*prefix, name])
            walk(cmd, [*prefix, name])

    walk(main, [])
    return [[*path, "--help"] for path in found]


def make_store(folder: Path) -> str:
    """A store with one assessment: the baseline rental screener, bias suite (as tests/test_gate_cli.py)."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    r = subprocess.run([PY, "-m", "harness", "assess", str(EXAMPLE), "--dataset", "rental-assistance",
                        "--suite", "bias", "--by", "bench", "--tracking-uri", uri, "--out", str(folder / "report")],
                       cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"could not make the benchmark's store (exit {r.returncode}): {r.stderr[-1500:]}")
    return uri


def row(label: str, cmd: float, base: float, verdict: str) -> str:
    return f"{label:<40} {cmd:7.3f} s  {base:7.3f} s  {cmd - base:+7.3f} s  {cmd / base:6.2f}x  {verdict}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds per command (median); default 5")
    ap.add_argument("--only", nargs="+", choices=("suites", "datasets", "help", "gate"),
                    default=["suites", "datasets", "help", "gate"])
    args = ap.parse_args(argv)
    harness = [PY, "-m", "harness"]
    header = f"{'command':<40} {'median':>9}  {'baseline':>9}  {'over':>9}  {'ratio':>7}  target"
    print(f"{args.runs} paired cold runs each, medians; python {sys.version.split()[0]}, {os.cpu_count()} cores")

    fast: list[list[str]] = []
    if "suites" in args.only:
        fast.append(["suites", "list"])
    if "datasets" in args.only:
        fast.append(["datasets", "list"])
    if "help" in args.only:
        fast.extend(help_commands())
    if fast:
        print(f"\nagainst `python -c pass` (target: under {FAST_TARGET_S:.1f} s over it)\n{header}")
        for cmd in fast:
            t, b = paired([*harness, *cmd], [PY, "-c", "pass"], args.runs, ROOT)
            ok = "ok" if t - b < FAST_TARGET_S else "SLOW"
            print(row("harness " + " ".join(cmd), t, b, ok), flush=True)

    if "gate" in args.only:
        with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
            folder = Path(tmp)
            t0 = time.perf_counter()
            uri = make_store(folder)
            print(f"\nstore with one assessment made in {time.perf_counter() - t0:.1f} s: {uri}")
            baseline = [PY, "-c", f"import mlflow; mlflow.MlflowClient({uri!r})"]
            print(f"against `python -c \"import mlflow; mlflow.MlflowClient(URI)\"` "
                  f"(target: within {GATE_TARGET_RATIO}x)\n{header}")
            for cmd in (["gate", TOOL], ["status", TOOL], ["history", TOOL], ["inventory"]):
                t, b = paired([*harness, *cmd, "--tracking-uri", uri], baseline, args.runs, folder)
                ok = "ok" if t / b <= GATE_TARGET_RATIO else "SLOW"
                print(row("harness " + " ".join(cmd), t, b, ok), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
