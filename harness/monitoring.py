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

Outcomes are taken as observed only when they plausibly are (`vetted`). A department or vendor that wants the approval
kept could fill the outcome column in from the decision column: accuracy becomes perfect, the error-rate gaps vanish
and the shift rule above turns advisory. Observed outcomes disagree with the decisions about as often as the approved
run measured on the reference data; copied ones never do. So the share of rows where outcomes and recorded decisions
agree is tested against the approved run's accuracy (`performance.baselines.accuracy` of its assessment.json on the
reference data, read after its evidence was re-hashed): one-sided exact binomial test, at the policy's level, of
H0 "the agreement is at most 1 - ERROR_SHARE x (1 - the accuracy's upper confidence bound)", i.e. the sample shows at
least half as many errors as the fewest the approved interval allows. Rejected, the outcomes are set aside: a blocking
finding (`monitoring.sample.outcomes_agreement`, policy 4.3) names the agreement, n and the approved accuracy, and the
sample is judged as one whose outcomes are not known (selection-rate checks only, the shift rule blocking).

Why half the errors and not the upper bound itself (H0 "agreement <= that bound"): a tool's accuracy moves with the
population, and a test of "no better than on the reference data" suspends honest tools. The demo's unchanged quarter
fair_a agrees on 97.8 % of its 3,000 rows where the approved run measured 97.0 % (up to 97.2 %) on 14,000: p = 0.034
against that bound, an unchanged quarter suspended; a tool making 3/4 of the reference's errors on a new population
(as fair_a does) would be suspended half the time at 3,000 rows and always at 30,000. Copying does not nudge the
error rate, it removes the errors (copying a share c of the rows leaves 1 - c of them), so the question is one of
size, and the rule asks for the errors to have fallen below half: the copied rent-rise quarter (9,000 of 9,000 agree,
ceiling 98.6 %) gives p < 1e-16, copying 80 % of a 3,000-row quarter's rows is caught 99.6 % of the time, and neither
outcomes drawn at the approved accuracy nor at 3/4 of its errors raise an alarm beyond chance at 60, 300 or 3,000
rows (tests/test_monitoring.py). What it cannot do: show copying on a small sample of a very accurate tool (all 60
rows of a 97 %-accurate tool agree one time in six, honestly; p = 0.44 for a copy), or copying of fewer than about
half the rows; the selection-rate checks and the drift of the inputs still run on every sample.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
ERROR_SHARE = 0.5
"""Observed outcomes show at least this share of the errors the approved run allows (see the module docstring)."""


@dataclass(frozen=True)
class Sample:
    """A production sample, its data verified against its card."""

    dataset: ReferenceDataset
    period: str
    labels: Any  # the recorded decisions, in the card's label space
    outcomes_set_aside: bool = False  # the file has outcomes, not taken as observed (`vetted`)

    @property
    def sha256(self) -> str:
        return self.dataset.sha256

    def describe(self) -> str:
        outcomes = ("outcomes set aside" if self.outcomes_set_aside else
                    "outcomes known" if self.dataset.outcomes_known else "outcomes not yet known")
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
                                                  "outcomes_known": s.dataset.outcomes_known}
                | ({"outcomes_set_aside": True} if s.outcomes_set_aside else {}),
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


# -- are the outcomes observed? ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovedAccuracy:
    """What the approved run measured of the tool's accuracy on the reference data: what observed outcomes of a
    production sample are held to."""

    run_id: str
    dataset: str
    value: float
    high: float  # the upper bound of its interval, at `confidence`
    rows: int
    confidence: float

    @property
    def ceiling(self) -> float:
        """The highest agreement observed outcomes plausibly show: ERROR_SHARE of the fewest errors the approved
        interval allows."""
        return 1 - ERROR_SHARE * (1 - self.high)


def approved_accuracy(doc: Mapping[str, Any], dataset: str) -> ApprovedAccuracy | None:
    """The accuracy an approved run's assessment.json (`doc`) measured on `dataset`; None when it measured none
    (no performance suite, or no interval)."""
    for s in doc["suites"]:
        if s["suite"] != "performance" or s["dataset"] != dataset:
            continue
        for m in s["measurements"]:
            if (m["check"], m["metric"], m.get("group")) == ("baselines", "accuracy", None) and (
                    m["value"] is not None and m["ci_high"] is not None):
                rows = (m.get("details") or {}).get("denominator", m.get("n"))
                return ApprovedAccuracy(str(doc["run_id"]), dataset, float(m["value"]), float(m["ci_high"]),
                                        int(rows or 0), float(doc["policy"]["document"]["confidence_level"]))
    return None


def agreement(sample: Sample) -> tuple[int, int]:
    """(rows whose outcome is the recorded decision, rows) of a sample with outcomes: rows, not weights, since
    copying makes every row agree whatever its weight."""
    import numpy as np

    from harness.datasets import matches

    ds = sample.dataset
    assert ds.card.target is not None  # load_sample requires the reference data's target
    decided = matches(sample.labels, ds.card.target.favorable_value).astype(bool)
    return int(np.sum(decided == ds.y_favorable.astype(bool))), len(ds.frame)


def copied_outcomes(sample: Sample, approved: ApprovedAccuracy) -> Finding | None:
    """The blocking finding that the sample's outcomes agree with its recorded decisions more often than observed
    outcomes plausibly would (module docstring); None when they are plausible."""
    from harness.measures.significance import BINOMIAL_ABOVE, binomial_above

    agreed, rows = agreement(sample)
    ceiling = approved.ceiling
    p = binomial_above(agreed, rows, ceiling)
    alpha = 1 - approved.confidence
    if not p < alpha:
        return None
    shown = "< 1e-16" if p < 1e-16 else f"= {p:.2g}"
    return Finding(
        suite=SUITE, check="sample", metric="outcomes_agreement", status=Status.FAIL, severity=Severity.BLOCKING,
        value=agreed / rows, threshold=ceiling, greater_is_better=False, n=rows, policy_section=POLICY_SECTION,
        dataset=sample.dataset.name,
        message=(f"production sample {sample.dataset.name}: its outcomes agree with the tool's recorded decisions on "
                 f"{agreed:,} of {rows:,} rows ({agreed / rows:.1%}); the approved run {approved.run_id} measured the "
                 f"tool's accuracy on {approved.dataset} at {approved.value:.1%} ({approved.confidence:.0%} interval "
                 f"up to {approved.high:.1%}, {approved.rows:,} rows), so observed outcomes would disagree with the "
                 f"decisions on at least half as many rows: an agreement of at most {ceiling:.1%} ({BINOMIAL_ABOVE}, "
                 f"p {shown}). Outcomes filled in from the decisions look like this: they are set aside and the "
                 "sample is judged as one whose outcomes are not known (policy 4.3); send the outcomes the review "
                 "settled"),
        details={"agreed": agreed, "rows": rows, "approved_run": approved.run_id,
                 "approved_accuracy": approved.value, "approved_accuracy_high": approved.high,
                 "error_share": ERROR_SHARE, "p_value": p, "test": BINOMIAL_ABOVE})


def without_outcomes(sample: Sample) -> Sample:
    """The sample as one whose outcomes are not known: its outcome column dropped from the frame (so every suite
    sees what it sees on such a sample); the data's sha256 is still the file's."""
    ds = sample.dataset
    assert ds.card.target is not None
    frame = ds.frame.drop(columns=[ds.card.target.column])
    return replace(sample, dataset=replace(ds, frame=frame), outcomes_set_aside=True)


def vetted(choice: Choice, approved: ApprovedAccuracy | None) -> Choice:
    """`choice` with its sample's outcomes set aside, and a finding why, when they are not plausibly observed
    (`copied_outcomes`) or when the approved run measured no accuracy to hold them to (fail closed: nothing could
    tell copied outcomes from observed ones)."""
    s = choice.sample
    if s is None or not s.dataset.outcomes_known:
        return choice
    if approved is not None:
        note = copied_outcomes(s, approved)
        if note is None:
            return choice
    else:
        note = _note(Status.REVIEW, "outcomes_agreement", (
            f"production sample {s.dataset.name}: the approved run measured no accuracy on the reference data to hold "
            "its outcomes to, so outcomes observed cannot be told from outcomes filled in from the recorded "
            "decisions: they are set aside and the sample is judged as one whose outcomes are not known "
            "(policy 4.3)"))
    return replace(choice, sample=without_outcomes(s), notes=(*choice.notes, note))


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
            why = ("its outcomes were set aside (finding outcomes_agreement)" if s.outcomes_set_aside else
                   "its outcomes are not known yet")
            findings.append(_note(Status.SKIPPED, "outcomes", (
                f"production sample {s.describe()}: {why}, so only the selection-rate checks "
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
