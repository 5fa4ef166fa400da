"""Two recorded assessments side by side (issue 15, section 2): two tools on the same reference data, or two
versions of one tool. Built from the two runs' `assessment.json` documents alone (plain dicts, as the store holds
them), so a comparison needs neither the tools nor the data, and `harness compare` is a reader of the record.

What it holds: both verdicts; each suite's headline measurements (`Suite.headline`) in both runs with their
intervals; the findings whose status changed, or that only one run has; and, for a measurement on the same
reference data in both runs (the same dataset sha256 recorded in each), the difference B - A with an interval of
its own. Where the data differ, the difference is not comparable and none is given.

The difference's interval (`harness.stats.difference_bounds`) is the conservative one: the runs record each
figure's interval but not the tool's output for each row, so a paired bootstrap on the same rows is not possible,
and nothing is known about how the two estimates move together. `DIFFERENCE_METHOD` says so in every output.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.check import headline_keys
from harness.report.formatting import num
from harness.stats import difference_bounds

SCHEMA = "harness.comparison/1"
DIFFERENCE_METHOD = {
    "name": "interval-bounds",
    "paired": False,
    "description": (
        "B - A, with the interval from lower(B) - upper(A) to upper(B) - lower(A): conservative. The runs record "
        "each figure's interval but not the tool's output for each row, so a paired bootstrap on the same rows is "
        "not possible; this interval holds whenever both runs' intervals hold, whatever the dependence between "
        "the runs, and is wider than a paired one would be."),
}


@dataclass(frozen=True)
class Figure:
    """One measurement of one run: its value, its interval (None when the measurement has none) and its n."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int | None = None

    @property
    def has_interval(self) -> bool:
        return self.value is not None and self.low is not None and self.high is not None


@dataclass(frozen=True)
class Difference:
    """B - A and its interval (None when either run's figure has no interval)."""

    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class MetricRow:
    """One headline measurement (`key` is `<suite>.<check>.<metric>[.<group>]`) in both runs on one dataset;
    `note` says why `difference` is missing or has no interval ("" when it has both)."""

    suite: str
    dataset: str
    key: str
    a: Figure | None
    b: Figure | None
    difference: Difference | None
    note: str = ""

    @property
    def label(self) -> str:
        """The key without its suite: what a table under the suite's heading shows."""
        return self.key.removeprefix(self.suite + ".")


@dataclass(frozen=True)
class FindingChange:
    """A finding whose status differs between the runs, or that only one run has (its status there is None)."""

    suite: str
    dataset: str
    key: str
    severity: str
    a_status: str | None
    b_status: str | None
    a_value: float | None
    b_value: float | None
    threshold: float | None
    message: str  # run B's message, or run A's when only A has the finding

    @property
    def change(self) -> str:
        """"PASS -> FAIL", "only in A", "only in B"."""
        if self.a_status is None:
            return "only in B"
        if self.b_status is None:
            return "only in A"
        return f"{self.a_status} -> {self.b_status}"


@dataclass(frozen=True)
class DatasetMatch:
    """The dataset of run A put beside the dataset of run B (by name; when each run assessed one dataset, those
    two, whatever their names) and whether the two runs assessed the same bytes (the same sha256)."""

    a_name: str | None
    b_name: str | None
    a_sha256: str | None
    b_sha256: str | None

    @property
    def name(self) -> str:
        """The dataset's name, or "A's / B's" when the two differ."""
        if self.a_name is None or self.b_name is None or self.a_name == self.b_name:
            return str(self.a_name or self.b_name)
        return f"{self.a_name} / {self.b_name}"

    @property
    def same(self) -> bool:
        return self.a_sha256 is not None and self.a_sha256 == self.b_sha256

    @property
    def note(self) -> str:
        if self.a_sha256 is None:
            return "only run B assessed it"
        if self.b_sha256 is None:
            return "only run A assessed it"
        if not self.same:
            return (f"different data (sha256 {self.a_sha256[:12]}... in A, {self.b_sha256[:12]}... in B): the "
                    "runs' figures are shown, their differences are not comparable")
        return "the same data in both runs (sha256 " + self.a_sha256[:12] + "...)"


@dataclass(frozen=True)
class RunSide:
    """What a reader needs to know about each run compared."""

    run_id: str
    tool_id: str
    tool_name: str
    tool_version: str
    verdict: str
    kind: str
    started_at: str
    policy: str
    confidence_level: float | None
    seed: int | None
    suites: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """Run A and run B side by side; `as_dict` is the stable JSON form (`SCHEMA`, documented in the README)."""

    a: RunSide
    b: RunSide
    datasets: tuple[DatasetMatch, ...]
    metrics: tuple[MetricRow, ...]
    changed: tuple[FindingChange, ...]
    unchanged: int
    method: Mapping[str, Any] = field(default_factory=lambda: dict(DIFFERENCE_METHOD))

    @property
    def suites(self) -> list[str]:
        return list(dict.fromkeys(r.suite for r in self.metrics))

    def rows(self, suite: str) -> list[MetricRow]:
        return [r for r in self.metrics if r.suite == suite]

    def as_dict(self) -> dict[str, Any]:
        def figure(f: Figure | None) -> dict[str, Any] | None:
            return None if f is None else asdict(f)

        return {
            "schema": SCHEMA,
            "a": asdict(self.a) | {"suites": list(self.a.suites)},
            "b": asdict(self.b) | {"suites": list(self.b.suites)},
            "difference_method": dict(self.method),
            "datasets": [{"name": d.name, "a_name": d.a_name, "b_name": d.b_name, "a_sha256": d.a_sha256,
                          "b_sha256": d.b_sha256, "same": d.same} for d in self.datasets],
            "metrics": [{"suite": r.suite, "dataset": r.dataset, "key": r.key, "a": figure(r.a), "b": figure(r.b),
                         "difference": None if r.difference is None else asdict(r.difference), "note": r.note}
                        for r in self.metrics],
            "changed_findings": [asdict(c) | {"change": c.change} for c in self.changed],
            "unchanged_findings": self.unchanged,
        }


# -- building one ---------------------------------------------------------------------------------------------

def _side(doc: Mapping[str, Any]) -> RunSide:
    tool, policy = doc.get("tool") or {}, doc.get("policy") or {}
    seed = doc.get("seed")
    return RunSide(run_id=str(doc.get("run_id") or ""), tool_id=str(tool.get("id", "")),
                   tool_name=str(tool.get("name", "")), tool_version=str(tool.get("version", "")),
                   verdict=str(doc.get("verdict", "")), kind=str(doc.get("kind", "")),
                   started_at=str(doc.get("started_at", "")), policy=str(policy.get("label", "")),
                   confidence_level=num((policy.get("document") or {}).get("confidence_level")),
                   seed=seed if isinstance(seed, int) else None, suites=suite_names(doc))


def suite_names(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The suites a run ran, in its order (each once, whatever the number of datasets)."""
    return tuple(dict.fromkeys(str(s["suite"]) for s in doc.get("suites") or []))


def _headline(suite: Mapping[str, Any], patterns: Iterable[str]) -> dict[str, Figure]:
    """The suite result's headline measurements by key: those `patterns` match (`Suite.headline`), or, for a suite
    that names none, every measurement a finding of the suite judges."""
    wanted = headline_keys(suite, patterns)
    out: dict[str, Figure] = {}
    for m in suite.get("measurements") or []:
        key = f"{m['suite']}.{m['check']}.{m['metric']}" + (f".{m['group']}" if m.get("group") else "")
        if key in wanted:
            n = m.get("n")
            out[key] = Figure(value=num(m.get("value")), low=num(m.get("ci_low")), high=num(m.get("ci_high")),
                              n=int(n) if isinstance(n, int | float) and not isinstance(n, bool) else None)
    return out


def _datasets(doc_a: Mapping[str, Any], doc_b: Mapping[str, Any]) -> tuple[DatasetMatch, ...]:
    """Each run's datasets paired: by name, or, when each run assessed exactly one, those two (a tool on a new
    version of its reference data, or two tools on different data, are still put side by side: figure by figure,
    without differences unless the bytes are the same)."""
    sha_a = {str(d["name"]): str(d["sha256"]) for d in doc_a.get("datasets") or []}
    sha_b = {str(d["name"]): str(d["sha256"]) for d in doc_b.get("datasets") or []}
    if len(sha_a) == 1 and len(sha_b) == 1:
        (na, ha), (nb, hb) = next(iter(sha_a.items())), next(iter(sha_b.items()))
        return (DatasetMatch(na, nb, ha, hb),)
    return tuple(DatasetMatch(n if n in sha_a else None, n if n in sha_b else None, sha_a.get(n), sha_b.get(n))
                 for n in dict.fromkeys([*sha_a, *sha_b]))


def _match(names: Mapping[str, DatasetMatch], dataset: str, side: int) -> DatasetMatch:
    """The pair a suite result's dataset belongs to (a dataset missing from the run's list is compared to nothing)."""
    found = names.get(dataset)
    if found is not None:
        return found
    return DatasetMatch(dataset, None, None, None) if side == 0 else DatasetMatch(None, dataset, None, None)


def _difference(a: Figure | None, b: Figure | None, data: DatasetMatch) -> tuple[Difference | None, str]:
    if a is None or b is None:
        return None, f"measured only in run {'B' if a is None else 'A'}"
    if not data.same:
        return None, "not comparable: the runs assessed different data"
    if a.value is None or b.value is None:
        return None, f"no value in run {'A' if a.value is None else 'B'}"
    if not (a.has_interval and b.has_interval):
        return Difference(b.value - a.value), f"no interval: run {'A' if not a.has_interval else 'B'}'s figure has none"
    assert a.low is not None and a.high is not None and b.low is not None and b.high is not None
    value, low, high = difference_bounds(b.value, b.low, b.high, a.value, a.low, a.high)
    return Difference(value, low, high), ""


def _findings(doc: Mapping[str, Any], names: Mapping[str, DatasetMatch],
              side: int) -> dict[tuple[str, str, str, int], Mapping[str, Any]]:
    """Each finding by (suite, dataset, key, occurrence): a key can repeat within a suite (one SKIPPED finding per
    perturbation that could not run), and the n-th of them in one run is matched with the n-th in the other."""
    out: dict[tuple[str, str, str, int], Mapping[str, Any]] = {}
    for s in doc.get("suites") or []:
        for f in s.get("findings") or []:
            base = (str(s["suite"]), _match(names, str(s["dataset"]), side).name, str(f["key"]))
            i = 0
            while (*base, i) in out:
                i += 1
            out[(*base, i)] = f
    return out


def compare(doc_a: Mapping[str, Any], doc_b: Mapping[str, Any],
            headlines: Mapping[str, Iterable[str]] | None = None) -> Comparison:
    """Run A and run B (their `assessment.json` documents) side by side. `headlines` maps a suite name to its
    `Suite.headline` patterns; a suite missing from it shows every measurement one of its findings judges."""
    headlines = headlines or {}
    datasets = _datasets(doc_a, doc_b)
    side_of = ({d.a_name: d for d in datasets if d.a_name is not None},
               {d.b_name: d for d in datasets if d.b_name is not None})

    figures: dict[tuple[str, str], tuple[dict[str, Figure], dict[str, Figure]]] = {}
    for side, doc in enumerate((doc_a, doc_b)):
        for s in doc.get("suites") or []:
            where = (str(s["suite"]), _match(side_of[side], str(s["dataset"]), side).name)
            pair = figures.setdefault(where, ({}, {}))
            pair[side].update(_headline(s, headlines.get(where[0], ())))
    by_name = {d.name: d for d in datasets}
    metrics: list[MetricRow] = []
    for (suite, dataset), (in_a, in_b) in figures.items():
        for key in dict.fromkeys([*in_a, *in_b]):
            a, b = in_a.get(key), in_b.get(key)
            diff, note = _difference(a, b, by_name[dataset])
            metrics.append(MetricRow(suite, dataset, key, a, b, diff, note))

    fa, fb = _findings(doc_a, side_of[0], 0), _findings(doc_b, side_of[1], 1)
    changed: list[FindingChange] = []
    unchanged = 0
    for ident in dict.fromkeys([*fa, *fb]):
        x, y = fa.get(ident), fb.get(ident)
        sa, sb = (None if x is None else str(x["status"])), (None if y is None else str(y["status"]))
        if sa == sb:
            unchanged += 1
            continue
        shown = y if y is not None else x
        assert shown is not None
        changed.append(FindingChange(
            suite=ident[0], dataset=ident[1], key=ident[2], severity=str(shown.get("severity", "")),
            a_status=sa, b_status=sb, a_value=None if x is None else num(x.get("value")),
            b_value=None if y is None else num(y.get("value")), threshold=num(shown.get("threshold")),
            message=str(shown.get("message", ""))))
    return Comparison(a=_side(doc_a), b=_side(doc_b), datasets=datasets, metrics=tuple(metrics),
                      changed=tuple(changed), unchanged=unchanged)


headline_figures = _headline  # the same figures for a tool's trend (`harness.trend`)


__all__ = ["DIFFERENCE_METHOD", "SCHEMA", "Comparison", "DatasetMatch", "Difference", "Figure", "FindingChange",
           "MetricRow", "RunSide", "compare", "headline_figures", "suite_names"]
