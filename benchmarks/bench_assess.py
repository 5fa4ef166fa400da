"""Where one demo tool's `harness assess` spends its time (issue 13, section 5 "Fast where people wait").

    python benchmarks/bench_assess.py [--tool fair] [--runs 3] [--no-cold]

Two measures of the same command (`harness assess TOOL --dataset D [--current CSV] --by bench`, a fresh store
in a fresh folder each time, as a first-time reviewer runs it):

* phases, in this process: the import of the pipeline, then each step of `run_assessment` timed where the
  pipeline calls it (resolving the suites, reading the data, each suite, opening the store, logging the run,
  the gate, each report format and each plot kind). A phase is timed by wrapping the function the pipeline
  calls for the duration of one run (no stand-ins: the real call runs); a name the code no longer has is
  reported as "not found" rather than failing, so a refactor shows up as a gap in the table, not a crash.
* cold end to end: the median of N fresh `harness assess` processes. Target: under 5 s.

The cold start of every other command (`--help`, `suites list`, `datasets list`, `gate`, `status`, `history`,
`inventory`) against its baseline is benchmarks/bench_cli.py's job. It reports; it does not fail.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TARGET_S = 5.0
REPORT_TARGET_S = 0.5
CURRENT = ROOT / "datasets" / "rental-assistance" / "current_2026q3.csv"
TOOLS: dict[str, tuple[Path, str, Path | None]] = {
    "fair": (ROOT / "examples" / "rental_assistance" / "fair_tool.yaml", "rental-assistance", CURRENT),
    "vendor": (ROOT / "examples" / "rental_assistance" / "vendor_tool.yaml", "rental-assistance", CURRENT),
    "baseline": (ROOT / "examples" / "city_services_qa" / "baseline_tool.yaml", "city-services-qa", None),
    "careless": (ROOT / "examples" / "city_services_qa" / "careless_tool.yaml", "city-services-qa", None),
}
# (module, attribute, phase label) the pipeline calls by that name; label None: the label comes from the call
PIPELINE_PHASES = (
    ("harness.workflows.assess", "load_manifest", "read the manifest"),
    ("harness.workflows.assess", "load_policy", "read the policy"),
    ("harness.workflows.assess", "require_valid_settings", "check the policy (imports every suite)"),
    ("harness.workflows.assess", "_in_force", "policy in force (store)"),
    ("harness.workflows.assess", "resolve", "resolve suites (imports)"),
    ("harness.workflows.assess", "load_dataset", "load data: reference"),
    ("harness.workflows.assess", "load_current", "load data: current sample"),
    ("harness.workflows.assess", "check_reachable", "store: reachable"),
    ("harness.workflows.assess", "actor_name", "store: who starts it"),
    ("harness.workflows.assess", "approved_baseline", "store: approved baseline"),
    ("harness.workflows.assess", "artifact_digests", "tool files digests"),
    ("harness.workflows.assess", "preflight", "gate: preflight"),
    ("harness.workflows.assess", "load_tool", "load the tool"),
    ("harness.assessment", "DataChecks.start", "data-only checks: hand over to the worker"),
    ("harness.assessment", "DataChecks.take", "data-only checks: collect (waits for the worker)"),
    ("harness.workflows.assess", "provenance", "suite provenance"),
    ("harness.workflows.assess", "on_assessed", "gate: record the assessment"),
)


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "120", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
            "HARNESS_SANDBOX": os.environ.get("HARNESS_SANDBOX", "subprocess")}


def argv_for(tool: str) -> list[str]:
    manifest, dataset, current = TOOLS[tool]
    return ["assess", str(manifest), "--dataset", dataset, *(["--current", str(current)] if current else []),
            "--by", "bench"]


class Clock:
    """Seconds by phase, in first-seen order; a phase called twice adds up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.missing: list[str] = []

    def wrap(self, fn: Callable[..., Any], label: str | Callable[..., str]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            name = label(*args, **kwargs) if callable(label) else label
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
        return timed

    @contextmanager
    def patch(self, module: str, attr: str, label: str | Callable[..., str], *, owner: Any = None) -> Iterator[None]:
        """Time every call of `module.attr` (or `owner.attr`) while the block runs; restore it after."""
        import importlib

        target = owner if owner is not None else importlib.import_module(module)
        while "." in attr:  # "Class.method": the method on the class
            head, attr = attr.split(".", 1)
            target = getattr(target, head, None)
        original = getattr(target, attr, None)
        if original is None:
            self.missing.append(f"{module}.{attr}")
            yield
            return
        raw = vars(target).get(attr, original) if isinstance(target, type) else original  # a classmethod stays one
        setattr(target, attr, self.wrap(original, label))
        try:
            yield
        finally:
            setattr(target, attr, raw)


def phases(tool: str, folder: Path) -> tuple[float, Clock, float]:
    """Import the pipeline, then run one assessment with every phase timed: (import s, clock, run s)."""
    t0 = time.perf_counter()
    import harness.workflows.assess as pipeline

    imported = time.perf_counter() - t0
    clock = Clock()
    manifest, dataset, current = TOOLS[tool]
    with ExitStack() as stack:
        for module, attr, label in PIPELINE_PHASES:
            stack.enter_context(clock.patch(module, attr, label))
        stack.enter_context(clock.patch("harness.assessment", "run_suite",
                                        lambda suite, *_: f"suite: {suite.name}"))
        stack.enter_context(clock.patch("harness.workflows.assess", "assess", "assess: all (predict, suites, decide)"))
        run_cls = getattr(pipeline, "AssessmentRun", None)
        if run_cls is not None:
            stack.enter_context(clock.patch("harness.workflows.assess", "AssessmentRun", "store: open (new run)"))
            for method in ("record", "close"):
                stack.enter_context(clock.patch("harness.tracking", method, f"store: log the run ({method})",
                                                owner=run_cls))
        else:
            clock.missing.append("harness.workflows.assess.AssessmentRun")
        # the reports as the pipeline writes them: the view model (masked and laid out once, shared with the memo),
        # then assessment.json, report.md and report.html from it
        stack.enter_context(clock.patch("harness.report.view", "build_view", "report: view model"))
        stack.enter_context(clock.patch("harness.workflows.assess", "write_reports",
                                        "report: write json, md, html"))
        import harness.report.plots as plots

        for name in sorted(n for n in dir(plots) if n.endswith("_svg") and not n.startswith("_")):
            stack.enter_context(clock.patch("harness.report.plots", name, f"report: plots ({name})"))
        cwd = os.getcwd()
        os.chdir(folder)
        t1 = time.perf_counter()
        try:
            pipeline.run_assessment(manifest, [dataset], current=current, submitter="bench")
        finally:
            ran = time.perf_counter() - t1
            os.chdir(cwd)
    return imported, clock, ran


VARIANTS: tuple[tuple[str, dict[str, str], bool], ...] = (
    # (label, environment, a fresh cache folder per run)
    ("as shipped (data-only checks in a second process, store from the migrated template)", {}, False),
    ("the first store on this machine (no template yet: MLflow migrates it)", {}, True),
    ("one process, every store migrated (HARNESS_BACKGROUND=0 HARNESS_STORE_TEMPLATE=0)",
     {"HARNESS_BACKGROUND": "0", "HARNESS_STORE_TEMPLATE": "0"}, False),
)


def cold(tool: str, runs: int, extra: dict[str, str] | None = None, fresh_cache: bool = False) -> list[float]:
    """Wall time of `runs` fresh `harness assess` processes, each in a fresh folder (a fresh store); with
    `fresh_cache`, also with an empty cache folder (no store template yet)."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-assess-") as tmp:
            env = {**_env(), **(extra or {})}
            if fresh_cache:
                env["HARNESS_CACHE_DIR"] = str(Path(tmp) / "cache")
            t0 = time.perf_counter()
            r = subprocess.run([PY, "-m", "harness", *argv_for(tool)], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=900)
            times.append(time.perf_counter() - t0)
            if r.returncode not in (0, 1):  # 1: a FAIL verdict, still a whole run
                raise SystemExit(f"harness assess exited {r.returncode}: {r.stderr.decode(errors='replace')[-1500:]}")
    return times


# What a cold `assess` cannot avoid importing, per process (issue 13): the main process reads the data (pandas),
# records the run (mlflow and its SQL store) and, for a scikit-learn tool, loads the model with skops (whose import
# walks every scikit-learn estimator: the City's trust list is built from the same walk); the data-only checks'
# worker validates with Great Expectations. Two cores run the two processes side by side, so the cold command
# cannot beat the larger floor; what the harness adds on top of it is what this benchmark holds to account.
FLOORS: dict[str, str] = {
    "main process: pandas, mlflow + SQL store, skops": ("import pandas, mlflow, skops.io; "
                                                        "from mlflow.store.tracking.sqlalchemy_store import "
                                                        "SqlAlchemyStore"),
    "main process without a skops model: pandas, mlflow + SQL store": (
        "import pandas, mlflow; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore"),
    "data-only checks' worker: great_expectations": "import great_expectations",
    "python -c pass": "pass",
}
ABOVE_FLOOR_S = 2.0  # the restated target (issue 13 closing note): the harness's own work on top of the floor


def floors(runs: int) -> dict[str, float]:
    """Median wall time of `runs` fresh interpreters importing each floor's libraries."""
    out = {}
    for label, code in FLOORS.items():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([PY, "-c", code], check=True, env=_env(), stdout=subprocess.DEVNULL, timeout=300)
            times.append(time.perf_counter() - t0)
        out[label] = statistics.median(times)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--tool", choices=sorted(TOOLS), default="fair", help="demo tool (default: fair)")
    ap.add_argument("--runs", type=int, default=3, help="cold end-to-end runs (median); default 3")
    ap.add_argument("--no-cold", action="store_true", help="phases only")
    args = ap.parse_args(argv)
    os.environ.update(_env())
    print(f"harness {' '.join(argv_for(args.tool))}\npython {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-assess-") as tmp:
        imported, clock, ran = phases(args.tool, Path(tmp))
    print(f"\nphases in one process (a fresh store){'':<14}{'seconds':>9}")
    print(f"{'import harness.workflows.assess':<52}{imported:9.3f}")
    suites = sum(s for k, s in clock.seconds.items() if k.startswith("suite: "))
    for name, s in clock.seconds.items():
        print(f"{name:<52}{s:9.3f}")
    reports = sum(s for k, s in clock.seconds.items() if k.startswith("report: ") and "plots" not in k)
    plots = sum(s for k, s in clock.seconds.items() if k.startswith("report: plots"))
    print(f"{'suites together':<52}{suites:9.3f}")
    print(f"{'reports together (view, json, md, html with plots)':<52}{reports:9.3f}  target < {REPORT_TARGET_S} s "
          f"{'ok' if reports < REPORT_TARGET_S else 'SLOW'}")
    print(f"{'  of which plots':<52}{plots:9.3f}")
    print(f"{'run_assessment in all':<52}{ran:9.3f}")
    print(f"{'import + run_assessment':<52}{imported + ran:9.3f}")
    if clock.missing:
        print("not found (renamed or moved? update PIPELINE_PHASES): " + ", ".join(clock.missing))
    if not args.no_cold:
        cold(args.tool, 1)  # the template exists before the first timed run, as after any earlier assessment
        print(f"\ncold end to end, {args.runs} fresh processes each (a fresh store each); target < {TARGET_S} s")
        shipped = 0.0
        for label, extra, fresh_cache in VARIANTS:
            times = cold(args.tool, args.runs, extra, fresh_cache)
            med = statistics.median(times)
            shipped = shipped or med
            verdict = "ok" if med < TARGET_S else "SLOW"
            print(f"  {label}: median {med:.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}) {verdict}")
        print(f"\nimport floors, {args.runs} fresh interpreters each (median s)")
        floor = floors(args.runs)
        for label, med in floor.items():
            print(f"  {label:<64}{med:6.2f}")
        from harness.manifest import load_manifest

        skops = load_manifest(TOOLS[args.tool][0]).adapter.kind == "sklearn"
        main_floor = floor[next(iter(FLOORS))] if skops else \
            floor["main process without a skops model: pandas, mlflow + SQL store"]
        worst = max(main_floor, floor["data-only checks' worker: great_expectations"])
        print(f"as shipped {shipped:.2f} s = larger floor {worst:.2f} s + {shipped - worst:.2f} s of the harness's own "
              f"work (restated target: at most +{ABOVE_FLOOR_S:.1f} s): "
              f"{'met' if shipped - worst <= ABOVE_FLOOR_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
