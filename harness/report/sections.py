"""What a suite contributes to the report: typed `Section`s of `TableView`s, built by the suite's
`report_sections(result, view)` (harness.check.Suite) from its `SuiteResult` and a `ReportContext`.

This module is the contract between the harness's renderers (Markdown, HTML) and every suite, built-in or
a third party's: a suite says what its tables mean, the renderers decide how they look. It imports no
suite and nothing that imports one, so `harness.check` can name these types without an import cycle.
Whatever a suite's sections do not claim (`ReportContext.claim`) is still shown, as a generic table: a
reviewer never loses a table because a suite's presentation code did not know it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.findings import Finding
from harness.report.formatting import cell, num

MAX_GENERIC_ROWS = 200


@dataclass(frozen=True)
class GroupRow:
    name: str
    reference: bool
    insufficient: bool
    cells: list[str]


@dataclass(frozen=True)
class TableView:
    """A table of a suite. `kind` says what it holds and which figure the HTML report draws with it
    (`harness.report.html`): "groups" (per-group rates), "rates" (every rate with its interval),
    "disparities" and "four_fifths" (forest plots of `raw`), "scores" (with a reliability diagram of the
    bins in `aux`), "robustness" and "drift" (curves and bars of `raw` and `meta`), "mitigation" (the
    illustration box, with `items` and `note`), "note" (text only) or any other word, drawn without a
    figure ("generic": any list of dicts). Tables with `group_rows` show group names with reference /
    too-few tags; the others show `rows`, where `marks[i]` ("over") highlights a row and column
    `status_col` holds a status word (shown as a badge in HTML). `collapsed` tables are folded into a
    <details> with `summary` in HTML; `plot_first` puts the plot above the table. `meta["suite_summary"]`
    is added to the suite's one-line summary ("21 expectations, 3 failed")."""

    key: str
    kind: str
    title: str
    columns: list[str]
    group_rows: list[GroupRow] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)
    grouping: str = ""
    note: str = ""
    intro: str = ""
    marks: list[str] = field(default_factory=list)
    status_col: int = -1
    aux: list[dict[str, Any]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    collapsed: bool = False
    summary: str = ""
    plot_first: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    subs: list[str] = field(default_factory=list)  # a second, smaller line under a row's first cell


@dataclass(frozen=True)
class Section:
    """The tables of one part of a suite's results (a grouping, a check, the whole suite), under a title
    and an anchor unique in the report."""

    title: str
    anchor: str
    tables: list[TableView]


class SuiteOutcome(Protocol):
    """What a section reads of a suite's result (`harness.verdict.SuiteResult` is one); read-only, so the
    result's own field types (tuples of findings and measurements) satisfy it."""

    @property
    def suite(self) -> str: ...

    @property
    def dataset(self) -> str: ...

    @property
    def tables(self) -> Mapping[str, Any]: ...

    @property
    def findings(self) -> Sequence[Finding]: ...

    @property
    def measurements(self) -> Sequence[Any]: ...


@dataclass
class ReportContext:
    """What a suite's `report_sections` may read besides its own result: where it is in the report (`index`,
    for anchors), the policy as recorded in the assessment (its document, the tool's risk tier, the confidence
    level and minimum group size), the suite's findings by key, and its tables; and where it says which
    tables its sections show (`claim`), so the harness shows the others generically, which terms they use
    (`define`) and how to read its figures (`explain`)."""

    index: int
    confidence: str
    min_group_size: int
    ratio_limit: float | None
    document: dict[str, Any]
    risk_tier: str | None
    findings: dict[str, Finding]
    tables: dict[str, Any]
    claimed: set[str] = field(default_factory=set)
    glossary: list[tuple[str, ...]] = field(default_factory=list)
    guide: list[str] = field(default_factory=list)

    def claim(self, key: str) -> None:
        self.claimed.add(key)

    def define(self, *sentences: str) -> None:
        """Definitions shown after the suite's sections (one paragraph in Markdown, a list in HTML): the terms
        its tables use."""
        self.glossary.append(tuple(sentences))

    def explain(self, paragraph: str) -> None:
        """A paragraph for the report's reading guide ("How to read this report"), shown once however many
        suites or datasets add it, in the order they first do."""
        self.guide.append(paragraph)

    def is_claimed(self, key: str) -> bool:
        return key in self.claimed

    def setting(self, suite: str, name: str) -> Any:
        """The policy document's `settings.<suite>.<name>` as recorded, or None."""
        settings = self.document.get("settings")
        mine = settings.get(suite) if isinstance(settings, dict) else None
        return mine.get(name) if isinstance(mine, dict) else None

    def policy_limit(self, key: str) -> float | None:
        """The policy's limit for a threshold key at the tool's risk tier (None: the policy sets none)."""
        thresholds = self.document.get("thresholds")
        t = thresholds.get(key) if isinstance(thresholds, dict) else None
        if not isinstance(t, dict):
            return None
        by_tier = t.get("by_tier")
        return num((by_tier if isinstance(by_tier, dict) else {}).get(self.risk_tier, t.get("limit")))

    def generic_sections(self, result: SuiteOutcome, title: str = "") -> list[Section]:
        """Every table no section has claimed, generically, in one section (none when all are claimed): what
        `Suite.report_sections` shows by default, and what follows a suite's own sections."""
        rest = [generic_table(k, rows) for k, rows in self.tables.items() if k not in self.claimed]
        self.claimed.update(self.tables)
        return [Section(title, f"s{self.index}-other", rest)] if rest else []


def generic_table(key: str, rows: Any) -> TableView:
    """Any list of dicts as a table, columns in the order they first appear, the first
    `MAX_GENERIC_ROWS` rows."""
    if not isinstance(rows, list):
        return TableView(key=key, kind="generic", title=key, columns=["value"], rows=[[cell(rows)]])
    columns: list[str] = []
    for r in rows:
        for k in (r if isinstance(r, dict) else {"value": r}):
            if str(k) not in columns:
                columns.append(str(k))
    body = []
    for r in rows[:MAX_GENERIC_ROWS]:
        d = {str(k): v for k, v in r.items()} if isinstance(r, dict) else {"value": r}
        body.append([cell(d.get(c)) for c in columns])
    note = (f"Showing the first {MAX_GENERIC_ROWS} of {len(rows):,} rows; assessment.json has them all."
            if len(rows) > MAX_GENERIC_ROWS else "")
    if not rows:
        note = "This table is empty."
    return TableView(key=key, kind="generic", title=key, columns=columns, rows=body, note=note)

