"""A tool's headline figures over time (issue 16, section 1): every completed assessment and re-assessment of the
tool, oldest first, each headline figure (`Suite.headline`, `harness.check.headline_keys`: the figures
`harness compare` puts side by side and the MLflow metrics tab shows) with its interval, the finding's status, and
the data it was measured on.

Built from the runs' `assessment.json` documents alone (plain dicts), like `harness.comparison`, so a trend needs
neither the tool nor the data. A figure measured on other data (another sha256) is not the same measurement: every
point carries the dataset's name and sha256, and a point whose data differ from the point before it is marked
(`data_changed`), in every form. "Moved" (what the memo picks) is the comparison's own test: a finding whose status
changed since the run before, or a difference whose conservative interval (`harness.stats.difference_bounds`)
excludes zero on the same data.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.comparison import DIFFERENCE_METHOD, Comparison, Figure, headline_figures
from harness.report.formatting import num
from harness.stats import difference_bounds

SCHEMA = "harness.trend/1"
KINDS = {"pre-acquisition": "assessment", "reassessment": "reassessment"}


@dataclass(frozen=True)
class TrendRun:
    """One assessment of the tool: what a reader needs to place a point."""

    run_id: str
    kind: str  # assessment | reassessment (the recorded kind when it is neither)
    started_at: str
    tool_version: str
    verdict: str
    policy: str
    datasets: tuple[tuple[str, str], ...]  # (name, sha256), in the run's order

    @property
    def date(self) -> str:
        return self.started_at[:10]


@dataclass(frozen=True)
class TrendPoint:
    """One headline figure in one run: `dataset` and `sha256` name the data it was measured on."""

    run_id: str
    dataset: str
    sha256: str
    figure: Figure
    status: str | None  # the status of the finding that judges the figure; None when none does
    data_changed: bool  # measured on other bytes than the point before it in this series


@dataclass(frozen=True)
class Series:
    """One headline figure (`key`: `<suite>.<check>.<metric>[.<group>]`) across runs, oldest first. `slot` is the
    dataset's name when runs assessed several datasets, else "" (one dataset per run: a new version or a sample of
    the data stays in the same series, its points marked)."""

    suite: str
    key: str
    slot: str
    points: tuple[TrendPoint, ...]
    threshold: float | None  # the policy's limit, as the latest run's finding had it
    greater_is_better: bool | None

    @property
    def label(self) -> str:
        return self.key.removeprefix(self.suite + ".") + (f" on {self.slot}" if self.slot else "")

    @property
    def latest(self) -> TrendPoint:
        return self.points[-1]

    @property
    def change(self) -> str:
        """How the latest point differs from the one before: "" when it does not (or there is none)."""
        if len(self.points) < 2:
            return ""
        a, b = self.points[-2], self.points[-1]
        if a.status != b.status and a.status is not None and b.status is not None:
            return f"{a.status} -> {b.status}"
        if b.data_changed:
            return "on other data"
        fa, fb = a.figure, b.figure
        if fa.has_interval and fb.has_interval:
            assert fa.value is not None and fa.low is not None and fa.high is not None
            assert fb.value is not None and fb.low is not None and fb.high is not None
            _, low, high = difference_bounds(fb.value, fb.low, fb.high, fa.value, fa.low, fa.high)
            if low > 0 or high < 0:
                return "moved"
        return ""

    @property
    def moved(self) -> bool:
        """The latest finding's status changed, or the figure moved by more than both intervals allow."""
        return self.change not in ("", "on other data")


@dataclass(frozen=True)
class Trend:
    """A tool's assessments over time; `as_dict` is the stable JSON form (`SCHEMA`, documented in the README)."""

    tool_id: str
    version: str | None  # None: every version
    runs: tuple[TrendRun, ...]
    series: tuple[Series, ...]

    def run(self, run_id: str) -> TrendRun:
        return next(r for r in self.runs if r.run_id == run_id)

    @property
    def suites(self) -> list[str]:
        return list(dict.fromkeys(s.suite for s in self.series))

    def important(self, limit: int) -> list[Series]:
        """At most `limit` series a one-page memo can show: those whose latest finding FAILed, then those that
        moved since the run before, then those needing review; the order of the record within each."""
        rank = [(0 if s.latest.status == "FAIL" else 1 if s.moved else 2 if s.latest.status == "REVIEW" else 9, i, s)
                for i, s in enumerate(self.series)]
        return [s for r, _, s in sorted(rank, key=lambda t: (t[0], t[1])) if r < 9][:limit]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool_id": self.tool_id,
            "version": self.version,
            "difference_method": dict(DIFFERENCE_METHOD),
            "runs": [asdict(r) | {"datasets": [{"name": n, "sha256": h} for n, h in r.datasets]} for r in self.runs],
            "series": [{"suite": s.suite, "key": s.key, "dataset": s.slot or None, "threshold": s.threshold,
                        "greater_is_better": s.greater_is_better, "change": s.change,
                        "points": [{"run_id": p.run_id, "dataset": p.dataset, "sha256": p.sha256,
                                    **asdict(p.figure), "status": p.status, "data_changed": p.data_changed}
                                   for p in s.points]}
                       for s in self.series],
        }


# -- building one ---------------------------------------------------------------------------------------------

def trend_run(doc: Mapping[str, Any]) -> TrendRun:
    tool, policy = doc.get("tool") or {}, doc.get("policy") or {}
    kind = str(doc.get("kind", ""))
    return TrendRun(run_id=str(doc.get("run_id") or ""), kind=KINDS.get(kind, kind),
                    started_at=str(doc.get("started_at", "")), tool_version=str(tool.get("version", "")),
                    verdict=str(doc.get("verdict", "")), policy=str(policy.get("label", "")),
                    datasets=tuple((str(d["name"]), str(d["sha256"])) for d in doc.get("datasets") or []))


def build_trend(tool_id: str, docs: Sequence[Mapping[str, Any]], headlines: Mapping[str, Iterable[str]],
                version: str | None = None) -> Trend:
    """The trend of `docs` (the runs' assessment.json, oldest first: the caller orders them by time)."""
    runs = tuple(trend_run(d) for d in docs)
    found: dict[tuple[str, str, str], list[TrendPoint]] = {}
    judged: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for doc, run in zip(docs, runs, strict=True):
        sha = dict(run.datasets)
        several = len(sha) > 1
        for s in doc.get("suites") or []:
            suite, dataset = str(s["suite"]), str(s["dataset"])
            findings = {str(f["key"]): f for f in s.get("findings") or []}
            for key, figure in headline_figures(s, headlines.get(suite, ())).items():
                ident = (suite, key, dataset if several else "")
                f = findings.get(key)
                if f is not None:
                    judged[ident] = f  # the latest run's finding names the threshold
                points = found.setdefault(ident, [])
                here = sha.get(dataset, "")
                changed = bool(points) and (points[-1].sha256, points[-1].dataset) != (here, dataset)
                points.append(TrendPoint(run_id=run.run_id, dataset=dataset, sha256=here, figure=figure,
                                         status=None if f is None else str(f.get("status")), data_changed=changed))
    series = []
    for ident, points in found.items():
        f = judged.get(ident) or {}
        gib = f.get("greater_is_better")
        series.append(Series(suite=ident[0], key=ident[1], slot=ident[2], points=tuple(points),
                             threshold=num(f.get("threshold")),
                             greater_is_better=gib if isinstance(gib, bool) else None))
    return Trend(tool_id=tool_id, version=version, runs=runs, series=tuple(series))




@dataclass(frozen=True)
class History:
    """What a report or a memo of one run shows of the tool's past (issue 16): its trend up to and including the
    run, and, for a re-assessment, the comparison with the approved run the gate's approval rests on (`None`
    otherwise). `problem` says why the store could not be read, so a report never silently leaves it out."""

    trend: Trend | None
    since_approval: Comparison | None = None  # the approved run as A, this run as B
    problem: str = ""


__all__ = ["KINDS", "SCHEMA", "History", "Series", "Trend", "TrendPoint", "TrendRun", "build_trend", "trend_run"]
