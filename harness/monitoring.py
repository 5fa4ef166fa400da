"""Production samples of a tool in use (issue 16; policy 4.3: regular re-assessment that sees "potential unintended
consequences", 1.2: a record of the data used).

A tool's plan may name a monitoring source (`harness plan --monitoring DIR`, `harness assess --monitoring DIR`): a
folder where the department drops each period's sample of the tool's real inputs, its recorded decisions and, once
known, the outcomes, each with a card in the dataset card format (`harness.datasets`, plus `period: 2026Q3` and
`decision_column`). `harness reassess` takes the newest sample of that folder not yet assessed for the version (or
`--sample CARD`), verifies its sha256 against the card (a mismatch stops that version's re-assessment before
anything is recorded) and records it (`harness.sample_sha256`, `extra.monitoring` of assessment.json). On it:

- drift of the tool's inputs against the reference data (the degradation suite's `drift` check, `--current`) and
  against the previous assessed sample (the same check, with that sample as the reference);
- bias and performance on the sample's **recorded decisions**, where outcomes are known; only the selection-rate
  checks (demographic parity, the four-fifths rule) where they are not yet, and a finding says so;
- the regression check against the approved baseline, on the reference data as before.

Why the recorded decisions and not the tool re-run on the sample's inputs: the decisions are what residents got,
so they show what re-running cannot: a model swapped or re-thresholded behind the endpoint, a deployment that
differs from the version approved. What the approved model itself does on the new population is still measured: the
drift check scores the sample's inputs with the tool (`score_psi`, `selection_rate_shift`).

What the re-assessment cannot show is a finding too, judged by the decision rule like any other:
- no new sample when one is due: "no production sample for 2026Q3: re-assessment ran on reference data only",
  REVIEW, so the verdict is at best NEEDS_REVIEW;
- a sample whose data (sha256) were already assessed, under any name: not taken as new (REVIEW, naming the run);
- inputs shifted significantly from the reference data while the outcomes are not known: the approval's evidence
  no longer describes the population the tool decides for, and nothing yet shows the tool works on the new one
  (`degradation.population_shift.psi`: the drift check's PSI of each input, tested at this limit; blocking at the
  high and medium tiers, limit 0.1 at the high tier (the stable band) and 0.2 at the medium one). A FAIL suspends
  the approval until a reviewer approves again on evidence about the new population. The demo's 12 % rent rise
  moves rent by PSI 0.13: stable no longer, significant not yet, and on a quarter of 9,000 applications shown
  real (Holm-adjusted over the run's blocking tests). With outcomes known the sample's own bias and performance
  findings are that evidence, and the shift stays the degradation suite's advisory finding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import DatasetError
from harness.findings import Finding, Severity, Status

if TYPE_CHECKING:
    from harness.assessment import RecordedOutputs
    from harness.datasets import DatasetCard, ReferenceDataset
    from harness.tracking.store import Store
    from harness.verdict import SuiteResult

SUITE = "monitoring"
SAMPLE_TAG = "harness.sample_sha256"
POLICY_SECTION = "4.3"


@dataclass(frozen=True)
class Sample:
    """A production sample, its data verified against its card."""

    dataset: ReferenceDataset
    period: str
    labels: Any  # the recorded decisions, in the card's label space

    @property
    def sha256(self) -> str:
        return self.dataset.sha256

    def describe(self) -> str:
        outcomes = "outcomes known" if self.dataset.outcomes_known else "outcomes not yet known"
        return (f"{self.dataset.name} ({self.period}, {len(self.dataset.frame):,} rows, {outcomes}, sha256 "
                f"{self.sha256[:12]}...)")


@dataclass(frozen=True)
class Assessed:
    """A sample an earlier re-assessment of the version ran on."""

    name: str
    period: str
    run_id: str


@dataclass(frozen=True)
class Choice:
    """What a re-assessment runs on: the sample (None: none new), the previous assessed one, and findings about
    what it could not run on (a missing or re-dropped sample)."""

    source: str
    expected: str
    sample: Sample | None
    previous: Sample | None = None
    notes: tuple[Finding, ...] = ()
    repeat: Assessed | None = None

    def record(self) -> dict[str, Any]:
        """`extra.monitoring` of assessment.json."""
        s = self.sample
        return {"source": self.source, "expected_period": self.expected,
                "sample": None if s is None else {"name": s.dataset.name, "period": s.period, "sha256": s.sha256,
                                                  "rows": len(s.dataset.frame), "card": str(s.dataset.card_path),
                                                  "outcomes_known": s.dataset.outcomes_known},
                "previous": None if self.previous is None else {"name": self.previous.dataset.name,
                                                                "period": self.previous.period,
                                                                "sha256": self.previous.sha256}}


def quarter_before(day: date | datetime) -> str:
    """The last calendar quarter that ended before `day`: the period whose sample a re-assessment on `day` expects."""
    q = (day.month - 1) // 3  # 0-based quarter of `day`; the one before it
    return f"{day.year - 1}Q4" if q == 0 else f"{day.year}Q{q}"


def _note(status: Status, metric: str, message: str, details: dict[str, Any] | None = None) -> Finding:
    return Finding(suite=SUITE, check="sample", metric=metric, status=status, severity=Severity.ADVISORY,
                   policy_section=POLICY_SECTION, message=message, details=details or {})


# -- reading samples -------------------------------------------------------------------------------------


def cards_in(folder: Path) -> list[Path]:
    """The sample cards of a monitoring folder: `*.yaml` in it and `*/card.yaml` one level down."""
    if not folder.is_dir():
        raise DatasetError(f"the monitoring source {folder} is not a folder; the plan names it as where the "
                           "department drops each period's production sample")
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml"), *folder.glob("*/card.yaml")])


def _sample_card(path: Path) -> DatasetCard:
    from harness.datasets import load_card

    card = load_card(path)
    missing = [f for f in ("period", "decision_column") if getattr(card, f) is None]
    if missing:
        raise DatasetError(f"production sample card {path} lacks {', '.join(missing)}: a sample card names the period "
                           "it covers (period: 2026Q3) and the column of the tool's recorded decisions "
                           "(decision_column)")
    return card


def load_sample(path: Path, reference: ReferenceDataset) -> Sample:
    """The sample of card `path`, its file's sha256 checked against the card (DatasetError: nothing is assessed or
    recorded) and its columns against the reference data the tool was approved on."""
    import pandas as pd

    from harness.datasets import ReferenceDataset, locate_file, read_frame
    from harness.digests import sha256_file

    card = _sample_card(path)
    data = locate_file(card, path, None)
    digest = sha256_file(data)
    if digest != card.sha256:
        raise DatasetError(f"production sample {path}: its file {data} has sha256 {digest}, the card declares "
                           f"{card.sha256}; the sample was changed after its card was made (or the card belongs to "
                           "other data). Nothing was assessed or recorded; the department must send the sample and "
                           "card again")
    frame = read_frame(card, data)
    ref = reference.card
    need = [*ref.features, *ref.protected_attributes, str(card.decision_column)]
    need += [card.id_column] if card.id_column else []
    absent = [c for c in dict.fromkeys(need) if c not in frame.columns]
    if absent:
        raise DatasetError(f"production sample {path} lacks column(s) {absent} (the reference data's features and "
                           f"protected attributes, and the decision column); it has {list(frame.columns)}")
    if card.target is None or ref.target is None or (card.target.column, card.target.favorable_value) != (
            ref.target.column, ref.target.favorable_value):
        raise DatasetError(f"production sample {path}: its target must be the reference data's "
                           f"({ref.target.column if ref.target else None!r}, favourable "
                           f"{ref.target.favorable_value if ref.target else None!r}), so decisions mean the same")
    decisions = frame[str(card.decision_column)]
    for column, what in ((decisions, "decisions"),
                         *(((frame[card.target.column], "outcomes"),) if card.target.column in frame else ())):
        if column.isna().any():
            raise DatasetError(f"production sample {path}: {int(column.isna().sum())} rows have no recorded {what} "
                               f"in column {column.name!r}; send only rows whose {what} are known (drop the outcome "
                               "column while none are)")
    ds = ReferenceDataset(card=card, card_path=path, data_path=data, frame=frame, sha256=digest)
    return Sample(dataset=ds, period=str(card.period), labels=pd.Series(decisions).to_numpy())


def assessed_samples(store: Store, tool: str, version: str) -> dict[str, Assessed]:
    """The samples earlier completed re-assessments of the version ran on, by their data's sha256."""
    out: dict[str, Assessed] = {}
    for run in store.runs(tool):
        t = run.tags
        sha = t.get(SAMPLE_TAG)
        if sha and run.status == "FINISHED" and t.get("harness.tool_version") == version:
            out[sha] = Assessed(name=t.get("harness.sample_name", ""), period=t.get("harness.sample_period", ""),
                                run_id=run.run_id)
    return out


def choose(source: str | Path, reference: ReferenceDataset, assessed: dict[str, Assessed], *,
           expected: str, explicit: str | Path | None = None) -> Choice:
    """The sample a re-assessment runs on: `explicit`, else the newest of the folder whose data were not assessed
    before; and the previous assessed sample still in the folder (for drift between the two)."""
    from harness.digests import sha256_file

    folder = Path(source)
    notes: list[Finding] = []
    found: list[tuple[str, str, Path]] = []  # (period, actual sha256, card), every readable card of the folder
    from harness.datasets import locate_file

    for path in cards_in(folder):
        card = _sample_card(path)
        found.append((str(card.period), sha256_file(locate_file(card, path, None)), path))
    previous_sha = _latest(assessed)
    previous = next((load_sample(p, reference) for _, sha, p in found if sha == previous_sha), None)
    if explicit is not None:
        sample = load_sample(Path(explicit), reference)
        repeat = assessed.get(sample.sha256)
        if repeat is not None:
            notes.append(_note(Status.REVIEW, "repeated", (
                f"sample {sample.describe()} holds the same data as sample {repeat.name} ({repeat.period}) assessed in "
                f"run {repeat.run_id}: it is not new evidence about the tool in production (policy 4.3)"),
                {"run": repeat.run_id}))
        return Choice(str(folder), expected, sample, previous, tuple(notes), repeat)
    fresh: list[tuple[str, str, Path]] = []
    for period, sha, path in found:
        before = assessed.get(sha)
        if before is None:
            fresh.append((period, sha, path))
        elif (before.name, before.period) != (_name_of(path), period):
            notes.append(_note(Status.REVIEW, "repeated", (
                f"the monitoring folder holds {path.name} (period {period}) whose data (sha256 {sha[:12]}...) are "
                f"those of sample {before.name} ({before.period}) assessed in run {before.run_id}: a sample assessed "
                "before is not taken as a new one"), {"card": path.name, "run": before.run_id}))
    if not fresh:
        notes.append(_note(Status.REVIEW, "missing", (
            f"no production sample for {expected}: re-assessment ran on reference data only (nothing new in "
            f"{folder}; policy 4.3 asks how the tool does now, which the reference data cannot show)"),
            {"expected_period": expected}))
        return Choice(str(folder), expected, None, previous, tuple(notes))
    period, _sha, path = max(fresh, key=lambda f: (f[0], f[2].name))
    sample = load_sample(path, reference)
    if period < expected:
        notes.append(_note(Status.REVIEW, "missing", (
            f"no production sample for {expected}: the newest one not yet assessed is {sample.describe()}"),
            {"expected_period": expected}))
    return Choice(str(folder), expected, sample, previous, tuple(notes))


def _name_of(path: Path) -> str:
    from harness.datasets import load_card

    return load_card(path).name


def _latest(assessed: dict[str, Assessed]) -> str | None:
    """The sha256 of the sample of the latest period assessed."""
    if not assessed:
        return None
    return max(assessed.items(), key=lambda kv: kv[1].period)[0]


# -- in the assessment -----------------------------------------------------------------------------------


def recorded_outputs(choice: Choice) -> tuple[RecordedOutputs, ...]:
    """The sample judged on its recorded decisions (bias; performance too when outcomes are known), and the previous
    sample as the reference of a drift check against this one."""
    from harness.assessment import RecordedOutputs
    from harness.tools.base import Predictions

    s = choice.sample
    if s is None:
        return ()
    out = [RecordedOutputs(s.dataset, Predictions(labels=s.labels),
                           ("bias", "performance") if s.dataset.outcomes_known else ("bias",))]
    if choice.previous is not None and choice.previous.sha256 != s.sha256:
        p = choice.previous
        out.append(RecordedOutputs(p.dataset, Predictions(labels=p.labels), ("degradation",),
                                   current=s.dataset.frame))
    return tuple(out)


def monitoring_result(choice: Choice) -> SuiteResult:
    """The `monitoring` result: what the re-assessment ran on and what it could not (judged with the rest)."""
    from harness import __version__
    from harness.verdict import SuiteResult

    findings = list(choice.notes)
    s = choice.sample
    where = s.dataset.name if s is not None else None
    if s is not None:
        if s.dataset.outcomes_known:
            findings.append(_note(Status.PASS, "sample", (
                f"re-assessed on production sample {s.describe()}: bias and performance on the tool's recorded "
                "decisions, drift against the reference data")))
        else:
            findings.append(_note(Status.SKIPPED, "outcomes", (
                f"production sample {s.describe()}: its outcomes are not known yet, so only the selection-rate checks "
                "(demographic parity, the four-fifths rule) ran on its recorded decisions; error rates and "
                "performance on it wait for the outcomes")))
    return SuiteResult(suite=SUITE, suite_version=__version__, dataset=where or "reference data only",
                       findings=tuple(findings))


@dataclass
class Monitored:
    """What `run_assessment` needs from a monitoring choice."""

    choice: Choice
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def current(self) -> Any:
        s = self.choice.sample
        return None if s is None else s.dataset.frame

    @property
    def unverified(self) -> bool:
        """The sample's outcomes are not known: its shift is judged as the approval's question."""
        s = self.choice.sample
        return s is not None and not s.dataset.outcomes_known

    def extra(self) -> dict[str, Any]:
        s = self.choice.sample
        out: dict[str, Any] = {"monitoring": self.choice.record()}
        if s is not None and self.choice.repeat is None:
            out |= {"sample_sha256": s.sha256, "sample_name": s.dataset.name, "sample_period": s.period}
        return out
