"""Calibration of the verdict rule by simulation (issue 10, section 2).

A FAIL blocks a purchase, so the rule must not cry wolf on a fair tool, and must catch a real
disparity. This benchmark prints, for each risk tier, the share of FAIL / NEEDS_REVIEW / PASS over
many seeds per cell, and the coverage of every 95 % interval the bias suite reports:

    python benchmarks/bench_calibration.py [--seeds 1000] [--workers 2] [--rule significant_violation]
    python benchmarks/bench_calibration.py --quick          # a few minutes: 200 seeds, 500 coverage runs

The grid (two groups of equal size unless stated; outcome base rate 0.4; the reference group's tool
has TPR 0.75 and FPR 0.15):

* "AIR r": the other group's TPR and FPR are both scaled by r, so its expected selection rate is
  exactly r times the reference's (0.39 r against 0.39); r = 1.0, 0.9, 0.8, 0.7, groups of 50, 100,
  200, 500, 2,000. Note that r < 1 also opens an equalized-odds gap of 0.75 (1 - r) in TPR (0.075 at
  0.9, 0.15 at 0.8), so "AIR 0.8" is a real equalized-odds disparity at the high tier's 0.10 limit.
* "selection": a selection-only shift. TPR 0.75 and FPR 0.15 in both groups (error rates equal, so
  equalized odds holds exactly) and base rates 0.40 against 0.27, so the selection rates are
  0.15 + 0.6 b = 0.390 and 0.312: a true selection-rate ratio of exactly 0.80, on the four-fifths line.
* "6 groups": six equal groups with identical rates (no disparity), 50, 100, 200 and 500 per group;
  the first group is the reference.

Targets (printed next to each cell): no disparity (AIR 1.0, 6 groups) FAILs at most 5 % in every
cell at every tier; AIR 0.7 with 500 per group FAILs at least 95 % at the high and medium tiers.

Speed: one run of the bias suite costs tens of milliseconds, so each seed's suite is computed ONCE
(the manifest says "high") and re-judged under the three tiers (`judge`): the measurements do not
depend on the tier, only the limits and severities that judge them do. kNN consistency is off (no
threshold reads it) and B = the policy's own 2,000 bootstrap draws (`--bootstrap` to change; they
cost little here). Seeds are deterministic: seed i of a cell is `crc32(cell label) * 100_000 + i`.

The tool: a callable stand-in (`stand_in`, a `PythonTool`) that answers each row with the decision
simulated for it, by row index, and reads no column of its input. A file of outputs would not do: the
counterfactual check (blocking) cannot call it, is SKIPPED, and a SKIPPED blocking check caps the
verdict at NEEDS_REVIEW, so no seed could PASS. The card's features are [x], so the counterfactual
check finds that the tool takes no protected attribute as input: not applicable, no cap, and no
finding added, so the FAIL column is identical, seed by seed, to that of a file of outputs (checked:
every cell and tier, 1,000 seeds). `--group-input` makes `group` a feature instead, so the check flips
it on every row and measures what it must, a flip rate of 0 (0 of n, Wilson interval). It costs 4-5 ms
a run (21 against 17 ms), but it moves FAIL: the flip rate (p = 1) is one more blocking test in the Holm family
(1-2 -> 2-3 with two groups, 6 -> 7 with six), so every other test needs a smaller p to FAIL. On the
--quick grid (200 seeds, high tier): selection shift 2 x 50 9.5 -> 3.5 %, AIR 0.8 2 x 50 13 -> 8 %,
AIR 0.7 2 x 200 81 -> 73.5 %, no disparity 2 x 100 6 -> 3 %. And with the policy's 1 % limit, 0 flips
pass only from 384 rows up (the 95 % Wilson upper bound of 0 of 100 is 3.7 %), so the cells with
fewer rows cannot PASS; PASS is otherwise unchanged.

Coverage: six groups of 100 with known true rates, two scenarios ("equal": identical rates, every
disparity truly 0 or 1; "graded": the TPR and FPR of group k scaled by 1 - 0.04 k, so selection
rates, error rates and ratios differ). Every reported interval whose true value the simulation knows
is counted: per-group rates (Wilson), four-fifths ratios, every disparity (difference and ratio),
and the Theil indices. A bound equal to the truth covers it. Target: at least 93 %.

Measured (1,000 seeds per cell, 2,000 per coverage scenario; FAIL at high / medium / low):

    cell                      first release (point rule)   significant_violation (issue 10)
    no disparity, 2 x 50      73.0 / 54.8 / 44.5 %          3.6 / 3.6 / 3.5 %
    no disparity, 2 x 100     47.5 / 28.3 / 23.0 %          3.3 / 3.2 / 2.2 %
    no disparity, 2 x 200     21.3 /  9.6 /  8.5 %          4.1 / 3.1 / 2.2 %
    no disparity, 6 x 100     99.2 / 91.0 / 84.4 %          2.6 / 2.6 / 2.4 %
    AIR 0.9, 2 x 500          31.9 / 13.1 / 10.1 %         24.4 / 13.1 / 10.1 %
    AIR 0.7, 2 x 500         100.0 / 97.6 / 94.6 %         99.5 / 97.6 / 94.6 %
    AIR 0.7, 2 x 50           89.3 / 82.3 / 78.6 %         21.0 / 21.0 / 21.0 %
    coverage of disparities   47-65 % (equal rates)        95.8-97.4 % (equal), 96.2-99.7 % (graded)

Under `interval_beyond` no null cell FAILs more than 0.5 %, but AIR 0.7 with 500 per group FAILs only
52 % (high) and 30 % (medium): showing the ratio itself below 0.8 needs more data than showing the two
rates differ. A compliant tool (AIR 0.9, TPR gap 0.075 under the 0.10 limit) still FAILs 24 % at 500
per group, high tier: the tests ask whether the groups differ, not whether the limit is crossed.
PASS is what remains once nothing FAILs and nothing is left to review: every interval the policy
judges wholly on the passing side. Measured (1,000 seeds, high / medium / low): no disparity 2 x 500
1.7 / 7.5 / 7.5 %, 2 x 2,000 97.0 / 97.6 / 97.6 %; AIR 0.9 2 x 500 0.0 / 1.1 / 1.1 %, 2 x 2,000
13.7 / 20.7 / 20.7 %; 0 % in every other cell, including six equal groups of up to 500: some disparity
interval (demographic parity, equal opportunity, equalized odds, predictive parity) still reaches
across its limit, which is REVIEW. (A file of outputs never PASSes under the new rule: its
counterfactual check is SKIPPED, which caps the verdict at NEEDS_REVIEW; hence the callable stand-in.)
"""
from __future__ import annotations

import argparse
import hashlib
import math
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.tools.python import PythonTool
    from harness.verdict import SuiteResult

TIERS: tuple[str, ...] = ("high", "medium", "low")
RULES: tuple[str, ...] = ("significant_violation", "interval_beyond", "point")
BASE_RATE, TPR, FPR = 0.4, 0.75, 0.15
SIZES: tuple[int, ...] = (50, 100, 200, 500, 2000)
RATIOS: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7)
SIX_SIZES: tuple[int, ...] = (50, 100, 200, 500)
SHIFT_BASE = 0.27  # selection 0.15 + 0.6 * 0.27 = 0.312 = 0.8 * 0.390

MANIFEST: dict[str, Any] = {
    "id": "sim", "name": "simulated tool", "version": "1", "vendor": "v", "department": "d",
    "category": "decision-support", "status": "proposed", "risk_tier": "high", "intended_use": "x",
    "automation_level": "x", "human_oversight": "x", "adapter": {"kind": "predictions", "path": "p.csv"},
    "disclosure": {k: "x" for k in ("model_type", "training_data_source", "data_access_basis",
                                    "known_limitations", "bias_mitigation")},
}


# ---------------------------------------------------------------------------------------------------
# judging one computed suite under any tier: the new rule when this tree has it, else today's


def has_new_rule() -> bool:
    try:
        from harness.decision import judge  # noqa: F401
    except ImportError:
        return False
    return True


def judge(results: list[SuiteResult], policy: Policy, tier: str) -> list[SuiteResult]:
    """The suite results as the policy judges them at `tier`, without re-running any check.

    With `harness.decision.judge` (the calibrated rule) that function does it. Without it (the tree
    before issue 10) the threshold findings are re-made with `Policy.evaluate` from the measurements,
    and the checks' own findings (INSUFFICIENT, SKIPPED, ERROR: tier-independent) are kept; a
    check's own finding never shares its key with a thresholded measurement in the bias suite, which
    is what tells the two apart (checked: the count of re-made findings must match).
    """
    try:
        from harness.decision import judge as new_judge
    except ImportError:
        return [_rejudge_old(r, policy, tier) for r in results]
    return list(new_judge(results, policy, tier))


def _rejudge_old(result: SuiteResult, policy: Policy, tier: str) -> SuiteResult:
    from dataclasses import replace

    thresholded = [m for m in result.measurements if policy.threshold(m.suite, m.check, m.metric) is not None]
    keys = {m.key for m in thresholded}
    own = [f for f in result.findings if f.key not in keys]
    if len(result.findings) - len(own) != len(thresholded):
        raise RuntimeError(f"cannot tell the check's own findings from the policy's in {result.suite}")
    made = [policy.evaluate(m, tier, message=m.key, dataset=result.dataset) for m in thresholded]
    return replace(result, findings=tuple(own + [f for f in made if f is not None]))


def verdict_of(results: list[SuiteResult], policy: Policy, tier: str) -> tuple[str, frozenset[str]]:
    """The run's verdict and what FAILed it (blocking FAIL/ERROR findings as `check.metric`).

    With the new rule a SKIPPED check that the policy judges as blocking (the counterfactual check, had the
    tool been a file of outputs) caps the verdict at NEEDS_REVIEW. The other suites the policy requires
    are not run by a benchmark of the bias suite, so they are not counted as "not tested"."""
    from harness.verdict import decide

    findings = [f for r in results for f in r.findings]
    try:
        from harness.decision import not_tested
    except ImportError:
        verdict, _ = decide(findings)
    else:
        bias_only = policy.model_copy(update={"required_suites": {}})
        verdict, _ = decide(findings, not_tested(results, bias_only, tier, MANIFEST["category"]))
    return verdict.value, frozenset(f"{f.check}.{f.metric}" for f in findings if f.blocks)


def with_rule(policy: Policy, rule: str | None) -> Policy:
    """The policy with `decision_rule` set, when this tree's Policy has that field."""
    if rule is None:
        return policy
    if "decision_rule" not in type(policy).model_fields:
        raise SystemExit(f"--rule {rule}: this tree's Policy has no decision_rule field (the rule before issue 10 "
                         f"is the point rule); run without --rule")
    return policy.model_copy(update={"decision_rule": rule})


def rule_name(policy: Policy) -> str:
    return str(getattr(policy, "decision_rule", "point (no decision_rule field: the rule before issue 10)"))


def bench_policy(bootstrap: int, rule: str | None, *, consistency: bool = False) -> Policy:
    """The default policy with B bootstrap draws and (unless asked) kNN consistency off."""
    from harness.policy import load_policy

    policy = load_policy()
    update: dict[str, Any] = {"bootstrap_samples": bootstrap}
    if not consistency and isinstance(policy.settings, dict):
        bias = dict(policy.settings.get("bias", {})) | {"consistency_rows": 0}
        update["settings"] = dict(policy.settings) | {"bias": bias}
    return with_rule(policy.model_copy(update=update), rule)


# ---------------------------------------------------------------------------------------------------
# the simulated cells


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: equal-size groups, each with its outcome base rate, TPR and FPR."""

    scenario: str
    size: int
    base: tuple[float, ...]
    tpr: tuple[float, ...]
    fpr: tuple[float, ...]
    truth: float = 1.0  # the true adverse impact ratio (lowest group against the reference)

    @property
    def label(self) -> str:
        return f"{self.scenario}/{self.size}"

    @property
    def groups(self) -> int:
        return len(self.base)

    @property
    def null(self) -> bool:
        """No disparity of any kind: every group has the same base rate, TPR and FPR."""
        return len(set(zip(self.base, self.tpr, self.fpr, strict=True))) == 1

    def seed(self, i: int) -> int:
        return zlib.crc32(self.label.encode()) * 100_000 + i

    def target(self, tier: str) -> tuple[str, Callable[[float], bool]] | None:
        if self.null:
            return "FAIL <= 5 %", lambda f: f <= 0.05
        if self.scenario == "AIR 0.7" and self.size == 500 and tier in ("high", "medium"):
            return "FAIL >= 95 %", lambda f: f >= 0.95
        return None


def air_cell(size: int, ratio: float) -> Cell:
    return Cell(f"AIR {ratio:.1f}", size, (BASE_RATE, BASE_RATE), (TPR, TPR * ratio), (FPR, FPR * ratio), ratio)


def selection_cell(size: int) -> Cell:
    ref, other = (FPR + (TPR - FPR) * b for b in (BASE_RATE, SHIFT_BASE))
    return Cell("selection", size, (BASE_RATE, SHIFT_BASE), (TPR, TPR), (FPR, FPR), other / ref)


def six_cell(size: int, step: float = 0.0, scenario: str = "6 groups") -> Cell:
    scale = [1 - step * k for k in range(6)]
    return Cell(scenario, size, (BASE_RATE,) * 6, tuple(TPR * s for s in scale), tuple(FPR * s for s in scale),
                min(scale))


def grid(sizes: Sequence[int] = SIZES, ratios: Sequence[float] = RATIOS,
         six_sizes: Sequence[int] = SIX_SIZES) -> list[Cell]:
    cells = [air_cell(n, r) for r in ratios for n in sizes]
    cells += [selection_cell(n) for n in sizes]
    cells += [six_cell(n) for n in six_sizes]
    return cells


def simulate(cell: Cell, seed: int, group_input: bool = False) -> tuple[Any, np.ndarray]:
    """The reference dataset and the tool's decisions of one seed (groups g0, g1, ...; g0 the reference).
    `group_input` lists `group` among the card's features (the tool's inputs), so the counterfactual check
    flips it; the data and decisions are the same either way."""
    from harness.datasets import DatasetCard, ReferenceDataset

    rng = np.random.default_rng(seed)
    k = np.repeat(np.arange(cell.groups), cell.size)
    n = len(k)
    y = rng.binomial(1, np.asarray(cell.base)[k])
    pred = rng.binomial(1, np.where(y == 1, np.asarray(cell.tpr)[k], np.asarray(cell.fpr)[k]))
    names = np.array([f"g{i}" for i in range(cell.groups)])
    frame = pd.DataFrame({"id": np.arange(n), "group": names[k], "x": rng.normal(size=n), "y": y})
    card = DatasetCard(name="sim", version="1", task="binary-classification", file="sim.csv", sha256="0" * 64,
                       source="simulation", license="CC0-1.0", target={"column": "y", "positive": 1},
                       id_column="id", features=["x", "group"] if group_input else ["x"],
                       protected_attributes={"group": {"reference": "g0"}})
    ds = ReferenceDataset(card=card, card_path=Path("card.yaml"), data_path=Path("sim.csv"), frame=frame,
                          sha256=hashlib.sha256(b"sim").hexdigest())
    return ds, pred


@dataclass(frozen=True)
class Lookup:
    """The simulated tool's decision function: row i of any frame it is asked about gets the decision
    simulated for person i. It reads the frame's index and no column, so changing a protected attribute
    (the counterfactual check) cannot change a decision, as for a tool that does not use it."""

    decisions: np.ndarray

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return self.decisions[frame.index.to_numpy()]


def stand_in(decisions: np.ndarray) -> PythonTool:
    """A callable tool answering with `decisions`, so the checks that call the tool on changed inputs run."""
    from harness.tools.python import PythonTool

    return PythonTool(fn=Lookup(decisions), name="simulated tool")


def run_bias(dataset: Any, labels: np.ndarray, policy: Policy, seed: int, tool: Any = None) -> SuiteResult:
    """The whole bias suite on one dataset, computed once (the manifest's tier is "high")."""
    from harness.assessment import run_suite
    from harness.check import CheckContext
    from harness.manifest import ToolManifest
    from harness.tools import Predictions
    from test_suites.bias import BiasSuite

    ctx = CheckContext(dataset=dataset, predictions=Predictions(labels=labels), policy=policy,
                       manifest=ToolManifest.model_validate(MANIFEST), seed=seed, tool=tool)
    return run_suite(BiasSuite(), ctx)


Outcome = tuple[tuple[str, frozenset[str]], ...]  # per tier: (verdict, what FAILed it)


def judge_tiers(result: SuiteResult, policy: Policy) -> Outcome:
    return tuple(verdict_of(judge([result], policy, tier), policy, tier) for tier in TIERS)


def one_seed(cell: Cell, i: int, policy: Policy, group_input: bool = False) -> Outcome:
    seed = cell.seed(i)
    ds, pred = simulate(cell, seed, group_input)
    return judge_tiers(run_bias(ds, pred, policy, seed, stand_in(pred)), policy)


# ---------------------------------------------------------------------------------------------------
# running many seeds, in parallel


@dataclass
class Tally:
    """Verdict counts and FAIL causes of one cell at one tier."""

    verdicts: Counter[str] = field(default_factory=Counter)
    causes: Counter[str] = field(default_factory=Counter)

    @property
    def n(self) -> int:
        return sum(self.verdicts.values())

    def share(self, verdict: str) -> float:
        return self.verdicts[verdict] / self.n if self.n else float("nan")

    def add(self, verdict: str, causes: Iterable[str]) -> None:
        self.verdicts[verdict] += 1
        self.causes.update(causes)


_POLICY: Policy | None = None
_GROUP_INPUT = False


def _init(policy: Policy, group_input: bool = False) -> None:
    global _POLICY, _GROUP_INPUT
    _POLICY, _GROUP_INPUT = policy, group_input


def _chunk(job: tuple[Cell, int, int]) -> tuple[Cell, list[Outcome]]:
    cell, start, stop = job
    assert _POLICY is not None
    return cell, [one_seed(cell, i, _POLICY, _GROUP_INPUT) for i in range(start, stop)]


def run_parallel(fn: Callable[[Any], Any], jobs: list[Any], workers: int, init: Callable[..., None],
                 initargs: tuple[Any, ...]) -> Iterable[Any]:
    """`fn` over `jobs` in `workers` processes (in this process when workers is 1), as they finish."""
    if workers <= 1:
        init(*initargs)
        return map(fn, jobs)
    import multiprocessing as mp

    pool = mp.get_context("fork").Pool(workers, initializer=init, initargs=initargs)
    return _drain(pool, pool.imap_unordered(fn, jobs))


def _drain(pool: Any, it: Iterable[Any]) -> Iterable[Any]:
    with pool:
        yield from it


def verdict_rates(cells: Sequence[Cell], seeds: int, policy: Policy, workers: int = 1,
                  chunk: int = 50, group_input: bool = False) -> dict[tuple[str, str], Tally]:
    """(cell label, tier) -> Tally over seeds 0..seeds-1 of every cell."""
    jobs = [(c, s, min(s + chunk, seeds)) for c in cells for s in range(0, seeds, chunk)]
    out: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for cell, outcomes in run_parallel(_chunk, jobs, workers, _init, (policy, group_input)):
        for outcome in outcomes:
            for tier, (verdict, causes) in zip(TIERS, outcome, strict=True):
                out[(cell.label, tier)].add(verdict, causes)
    return dict(out)


# ---------------------------------------------------------------------------------------------------
# interval coverage


def true_rates(base: float, tpr: float, fpr: float) -> dict[str, float]:
    """The ten group rates of a group with this base rate, TPR and FPR (population values)."""
    sel = base * tpr + (1 - base) * fpr
    prec = base * tpr / sel
    npv = (1 - base) * (1 - fpr) / (1 - sel)
    return {"selection_rate": sel, "tpr": tpr, "fpr": fpr, "fnr": 1 - tpr, "precision": prec, "npv": npv,
            "fdr": 1 - prec, "for": 1 - npv, "accuracy": base * tpr + (1 - base) * (1 - fpr), "base_rate": base}


DISPARITY_COMPONENTS = {"demographic_parity": ("selection_rate",), "equalized_odds": ("tpr", "fpr"),
                        "equal_opportunity": ("tpr",), "predictive_parity": ("precision",),
                        "fnr_parity": ("fnr",), "fpr_parity": ("fpr",)}


def _theil(cells: np.ndarray) -> float:
    """aif360's Theil index of benefits (0 for a false negative, 1 right, 2 a false positive) over a
    distribution of [TN, FP, FN, TP] shares (summing to 1); 0 log 0 = 0."""
    benefit = np.array([1.0, 2.0, 0.0, 1.0])
    mu = float(cells @ benefit)
    r = benefit / mu
    return float(sum(w * x * math.log(x) for w, x in zip(cells, r, strict=True) if x > 0))


def truths(cell: Cell) -> dict[str, float]:
    """Measurement key -> true value, for every interval the bias suite reports on this cell."""
    rates = [true_rates(b, t, f) for b, t, f in zip(cell.base, cell.tpr, cell.fpr, strict=True)]
    out: dict[str, float] = {}
    for k, r in enumerate(rates):
        for metric, v in r.items():
            out[f"bias.group_rates.{metric}.group.g{k}"] = v
        if k:
            out[f"bias.four_fifths.adverse_impact_ratio.group.g{k}"] = r["selection_rate"] / rates[0]["selection_rate"]
    for check, comps in DISPARITY_COMPONENTS.items():
        gaps = [max(r[c] for r in rates) - min(r[c] for r in rates) for c in comps]
        ratios = [min(r[c] for r in rates) / max(r[c] for r in rates) for c in comps]
        out[f"bias.{check}.difference.group"] = max(gaps)
        out[f"bias.{check}.ratio.group"] = min(ratios)
    shares = np.array([[(1 - b) * (1 - f), (1 - b) * f, b * (1 - t), b * t]
                       for b, t, f in zip(cell.base, cell.tpr, cell.fpr, strict=True)]) / cell.groups
    out["bias.individual_fairness.theil_index"] = _theil(shares.sum(axis=0))
    # between groups: every person given their group's mean benefit
    benefit = np.array([1.0, 2.0, 0.0, 1.0])
    means = shares @ benefit * cell.groups
    mu = float(means.mean())
    out["bias.individual_fairness.between_group_theil.group"] = float(np.mean(means / mu * np.log(means / mu)))
    return out


def interval_kind(key: str) -> str:
    """The row a measurement's interval is counted in: `check.metric` (per-group rates by rate)."""
    parts = key.split(".")
    return f"{parts[1]}.{parts[2]}"


def _coverage_seed(job: tuple[Cell, int, int]) -> dict[str, list[int]]:
    cell, start, stop = job
    assert _POLICY is not None
    truth = truths(cell)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # covered, total, estimate inside, unknown
    for i in range(start, stop):
        seed = cell.seed(i)
        ds, pred = simulate(cell, seed)
        result = run_bias(ds, pred, _POLICY, seed)
        for m in result.measurements:
            if m.ci_low is None or m.ci_high is None:
                continue
            lo, hi, v = float(m.ci_low), float(m.ci_high), float(m.value)
            row = out[interval_kind(m.key)]
            if m.key not in truth:
                row[3] += 1
                continue
            if not (math.isfinite(lo) and math.isfinite(hi)):
                continue
            row[1] += 1
            row[0] += lo - 1e-12 <= truth[m.key] <= hi + 1e-12
            row[2] += math.isfinite(v) and lo - 1e-12 <= v <= hi + 1e-12
    return dict(out)


def coverage(cell: Cell, seeds: int, policy: Policy, workers: int = 1, chunk: int = 50) -> dict[str, list[int]]:
    """Interval kind -> [covered, counted, estimate inside its interval, no known truth] over seeds."""
    jobs = [(cell, s, min(s + chunk, seeds)) for s in range(0, seeds, chunk)]
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for part in run_parallel(_coverage_seed, jobs, workers, _init, (policy,)):
        for kind, counts in part.items():
            out[kind] = [a + b for a, b in zip(out[kind], counts, strict=True)]
    return dict(out)


def coverage_cells(size: int = 100) -> list[Cell]:
    """Six groups of `size`: identical rates ("equal"), and TPR and FPR scaled by 1 - 0.04 k ("graded")."""
    return [six_cell(size, 0.0, "equal"), six_cell(size, 0.04, "graded")]


# ---------------------------------------------------------------------------------------------------
# printing


def wilson(k: int, n: int) -> tuple[float, float]:
    from harness.stats import wilson_interval

    lo, hi = wilson_interval(k, n, 0.95)
    return float(lo), float(hi)


def top_causes(t: Tally, k: int = 2) -> str:
    fails = t.verdicts["FAIL"]
    if not fails:
        return ""
    return ", ".join(f"{c} {n / fails:.0%}" for c, n in t.causes.most_common(k))


def print_rates(cells: Sequence[Cell], rates: dict[tuple[str, str], Tally]) -> list[str]:
    """The verdict table; returns the cells that miss a target."""
    missed = []
    head = (f"{'cell':<11} {'n/group':>7} {'true AIR':>8} {'tier':>6} {'FAIL':>6} {'(95 % CI)':>13} "
            f"{'REVIEW':>6} {'PASS':>6}  {'target':<13} {'met':<4} FAILed by (share of FAILs)")
    print(head)
    print("-" * len(head))
    for cell in cells:
        for tier in TIERS:
            t = rates[(cell.label, tier)]
            fail = t.share("FAIL")
            lo, hi = wilson(t.verdicts["FAIL"], t.n)
            tgt = cell.target(tier)
            met = "" if tgt is None else ("yes" if tgt[1](fail) else "NO")
            if met == "NO":
                missed.append(f"{cell.label} {tier}: FAIL {fail:.1%} ({tgt[0]})")  # type: ignore[index]
            print(f"{cell.scenario:<11} {cell.size:>7} {cell.truth:>8.2f} {tier:>6} {fail:>6.1%} "
                  f"{f'{lo:.1%}-{hi:.1%}':>13} {t.share('NEEDS_REVIEW'):>6.1%} {t.share('PASS'):>6.1%}  "
                  f"{tgt[0] if tgt else '-':<13} {met:<4} {top_causes(t)}")
    return missed


def print_coverage(cov: dict[str, dict[str, list[int]]], target: float = 0.93) -> list[str]:
    missed = []
    head = f"{'scenario':<8} {'interval':<40} {'coverage':>8} {'counted':>8} {'estimate inside':>15}  target"
    print(head)
    print("-" * len(head))
    for scenario, rows in cov.items():
        for kind in sorted(rows):
            covered, total, inside, unknown = rows[kind]
            if not total:
                print(f"{scenario:<8} {kind:<40} {'-':>8} {0:>8} {'-':>15}  (no known true value: {unknown} intervals)")
                continue
            share = covered / total
            ok = share >= target
            if not ok:
                missed.append(f"coverage {scenario} {kind}: {share:.1%}")
            print(f"{scenario:<8} {kind:<40} {share:>8.1%} {total:>8} {inside / total:>15.1%}  "
                  f">= {target:.0%} {'yes' if ok else 'NO'}")
    return missed


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000, help="seeds per cell of the verdict grid")
    ap.add_argument("--coverage-seeds", type=int, default=2000, help="seeds per coverage scenario")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bootstrap", type=int, default=None, help="bootstrap draws B (default: the policy's own)")
    ap.add_argument("--rule", choices=RULES, default=None, help="the policy's decision_rule (new rule only)")
    ap.add_argument("--quick", action="store_true", help="200 seeds per cell, 500 coverage seeds")
    ap.add_argument("--group-input", action="store_true",
                    help="the tool takes `group` as input, so the counterfactual check flips it (it adds a "
                         "blocking test to the Holm family, which moves FAIL; see the module docstring)")
    ap.add_argument("--skip", choices=("grid", "coverage"), action="append", default=[])
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.coverage_seeds = min(args.seeds, 200), min(args.coverage_seeds, 500)

    import harness

    args.bootstrap = args.bootstrap or load_default_bootstrap()
    policy = bench_policy(args.bootstrap, args.rule)
    print(f"harness: {Path(harness.__file__).parent}  new rule (harness.decision.judge): "
          f"{'yes' if has_new_rule() else 'no'}  decision_rule: {rule_name(policy)}")
    missed: list[str] = []
    if "grid" not in args.skip:
        cells = grid()
        inputs = "x and group (the counterfactual check flips group)" if args.group_input else \
            "x only (the counterfactual check is not applicable)"
        print(f"\nVerdicts over {args.seeds} seeds per cell (B = {args.bootstrap}, {args.workers} workers), "
              f"each seed's suite judged at every tier; a callable tool whose inputs are {inputs}")
        t0 = time.perf_counter()
        rates = verdict_rates(cells, args.seeds, policy, args.workers, group_input=args.group_input)
        took = time.perf_counter() - t0
        missed += print_rates(cells, rates)
        runs = len(cells) * args.seeds
        print(f"grid: {runs:,} suite runs in {took:.0f} s ({took / runs * 1000 * args.workers:.0f} ms per run "
              f"per worker)")
    if "coverage" not in args.skip:
        print(f"\nCoverage of 95 % intervals: 6 groups of 100, {args.coverage_seeds} seeds per scenario "
              f"(B = {args.bootstrap})")
        t0 = time.perf_counter()
        cov = {c.scenario: coverage(c, args.coverage_seeds, policy, args.workers) for c in coverage_cells()}
        took = time.perf_counter() - t0
        missed += print_coverage(cov)
        print(f"coverage: {2 * args.coverage_seeds:,} suite runs in {took:.0f} s")
    print("\nTargets missed:" if missed else "\nEvery target met.")
    for m in missed:
        print(f"  {m}")


def load_default_bootstrap() -> int:
    from harness.policy import load_policy

    return load_policy().bootstrap_samples


if __name__ == "__main__":
    main()
