"""The view model of a report: what it says, as display strings in report order, built once from an
`AssessmentResult` so that the Markdown and the HTML renderers (`markdown`, `html`) cannot disagree on a
number, an order or a sentence.

The harness builds the verdict, the findings, the glance and the disclosure; each suite builds its own
sections (`Suite.report_sections`, found through the installed suites of `harness.plugins`), and whatever
tables they do not claim are shown generically. A suite that is no longer installed, or whose sections
cannot be built, falls back to the generic tables: a report must render for every valid result, including
an ERROR with no suites and suites whose tables the harness has never seen. The result is read
defensively (`.get`, None and NaN shown as a dash).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.findings import Finding, Severity
from harness.redact import mask_tree
from harness.report.formatting import (
    DASH,
    STATUS_ORDER,
    cell,
    fmt_limit,
    fmt_value,
    num,
    section_text,
    threshold_text,
)
from harness.report.formatting import text as text_or
from harness.report.sections import ReportContext, Section, TableView
from harness.report.summary import Summary, build_summary
from harness.tiering import tier_text

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.check import Suite
    from harness.trend import History
    from harness.verdict import SuiteResult

STATUS_HEADINGS = {
    "FAIL": "Failed", "ERROR": "Could not be computed", "REVIEW": "Needs a reviewer's judgement",
    "INSUFFICIENT": "Too little data to judge", "PASS": "Passed", "SKIPPED": "Skipped",
}
VERDICT_TITLES = {"PASS": "PASS", "NEEDS_REVIEW": "NEEDS REVIEW", "FAIL": "FAIL", "ERROR": "ERROR"}
VERDICT_MEANINGS = {
    "PASS": ("Every judged finding passed; a human reviewer must still sign off before the tool is approved "
             "(City AI Policy 4.1)."),
    "NEEDS_REVIEW": ("No blocking check that ran failed, but some results are uncertain, too thin to judge, "
                     "advisory failures, or not tested (a required suite or check could not run): a human reviewer "
                     "must examine the findings below before any approval (City AI Policy 2.3, 4.1)."),
    "FAIL": ("At least one blocking check failed: the tool may not be used unless it is remediated and "
             "assessed again (City AI Policy 4.2)."),
    "ERROR": ("The assessment could not complete, so nothing was judged and this run cannot support an "
              "approval; fix the problem below and assess again (City AI Policy 4.2)."),
}
DISCLOSURE_LABELS = {
    "model_type": "Model type",
    "training_data_source": "Training data source",
    "data_access_basis": "Legal basis for data access",
    "known_limitations": "Known limitations",
    "bias_mitigation": "Bias mitigation",
}

@dataclass(frozen=True)
class FindingView:
    status: str
    severity: str
    message: str
    key: str
    dataset: str
    value: str
    ci: str
    threshold: str
    section: str
    benchmark: str


@dataclass(frozen=True)
class FindingGroup:
    status: str
    heading: str
    findings: list[FindingView]


@dataclass(frozen=True)
class SuiteView:
    suite: str
    version: str
    dataset: str
    status: str  # PASS, FAIL, ..., SKIPPED, or NO FINDINGS (nothing was judged: never shown as a pass)
    summary: str
    skipped_reason: str | None
    sections: list[Section]
    glossary: list[tuple[str, ...]] = field(default_factory=list)  # the suite's definitions (`ReportContext.define`)

    @property
    def tables(self) -> list[TableView]:
        return [t for sec in self.sections for t in sec.tables]


@dataclass(frozen=True)
class ReportView:
    title: str
    subtitle: str
    verdict: str
    verdict_title: str
    verdict_meaning: str
    error: str
    reasons: list[str]
    glance: list[tuple[str, str | list[str]]]
    finding_groups: list[FindingGroup]
    n_findings: int
    suites: list[SuiteView]
    disclosure: list[tuple[str, str]]
    min_group_size: str
    confidence: str
    ratio_limit: float | None
    risk_tier: str
    citations: list[tuple[str, str]]
    footer: str
    summary: Summary  # the plain summary the report opens with, and the decision memo is made of
    guide: list[str] = field(default_factory=list)  # the suites' reading-guide paragraphs (`ReportContext.explain`)
    history: History | None = None  # the tool's trend and what moved since the approval (issue 16); None: not read


def decision_rule_text(result: AssessmentResult) -> str:
    """The rule that decided the verdict, in words; an assessment recorded before rules were named used
    the point estimate alone."""
    from harness.decision import RULES, describe

    policy = result.policy or {}
    rule = policy.get("decision_rule") or (policy.get("document") or {}).get("decision_rule") or "point"
    return describe(rule) if rule in RULES else str(rule)


def ratio_limit(result: AssessmentResult) -> float | None:
    """The four-fifths limit the policy applies to this tool's risk tier (None when the policy sets none)."""
    doc = (result.policy or {}).get("document") or {}
    thresholds = doc.get("thresholds") or {}
    # the four-fifths rule is judged once, against the reference group; a record made before that kept the
    # limit on the lowest-over-highest ratio
    t = thresholds.get("bias.four_fifths.adverse_impact_ratio") or thresholds.get("bias.demographic_parity.ratio")
    if not isinstance(t, dict):
        return None
    tier = (result.tool or {}).get("risk_tier")
    by_tier = t.get("by_tier") or {}
    return num(by_tier.get(tier, t.get("limit")))


def _confidence(result: AssessmentResult) -> str:
    level = num(((result.policy or {}).get("document") or {}).get("confidence_level"))
    return f"{level:.0%}" if level is not None else "95%"


def _finding_view(f: Finding, conf: str) -> FindingView:
    lo, hi = num(f.ci_low), num(f.ci_high)
    ci = f"{conf} CI {fmt_value(lo)}–{fmt_value(hi)}" if lo is not None and hi is not None else "no interval"
    return FindingView(
        status=f.status.value, severity=f.severity.value,
        message=" ".join(str(f.message or "").split()) or "(the check gave no message)",
        key=f.key, dataset=text_or(f.dataset, ""), value=f"value {fmt_value(f.value)}", ci=ci,
        threshold=threshold_text(f), section=section_text(f.policy_section),
        benchmark=text_or(f.benchmark, ""),
    )


def _finding_groups(findings: list[Finding], conf: str) -> list[FindingGroup]:
    """By status (worst first), blocking before advisory, otherwise in the order the suites ran."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    ordered = sorted(findings, key=lambda f: (rank.get(f.status, len(rank)), f.severity is not Severity.BLOCKING))
    groups: list[FindingGroup] = []
    for f in ordered:
        if not groups or groups[-1].status != f.status.value:
            groups.append(FindingGroup(f.status.value, STATUS_HEADINGS.get(f.status.value, f.status.value), []))
        groups[-1].findings.append(_finding_view(f, conf))
    return groups


def installed_suites(names: Collection[str]) -> dict[str, type[Suite]]:
    """The installed suite classes of the named suites, loaded through the `harness.suites` entry points
    (`harness.plugins.GROUP`) one by one, so drawing a report imports only the suites it shows. Unlike
    `registry.load_suites`, which fails closed before an assessment, rendering a recorded result must not
    depend on the plugins: a suite that is not installed, fails to import, is not a Suite, or whose name two
    plugins claim is left out, and its tables are shown generically."""
    from importlib.metadata import entry_points

    from harness.check import Suite
    from harness.plugins import GROUP

    eps = [ep for ep in entry_points(group=GROUP) if ep.name in names]
    claimed = Counter(ep.name for ep in eps)
    out: dict[str, type[Suite]] = {}
    for ep in eps:
        if claimed[ep.name] > 1:
            continue
        try:
            obj = ep.load()
        except Exception:  # a broken plugin: its tables are still shown, generically
            continue
        if isinstance(obj, type) and issubclass(obj, Suite) and getattr(obj, "name", None) == ep.name:
            out[ep.name] = obj
    return out


def suite_sections(s: SuiteResult, view: ReportContext, suite: type[Suite] | None) -> list[Section]:
    """The suite's own sections, then a section of the tables they did not claim ("Other tables"); only the
    generic tables when the suite is not installed. A suite whose sections fail to build is shown generically,
    with a note saying why, so one plugin's bug never hides a result."""
    own: list[Section] = []
    if suite is not None:
        try:
            own = list(suite().report_sections(s, view))
        except Exception as e:  # a plugin's presentation bug must not lose the assessment's tables
            view.claimed.clear()
            why = (f"The suite's own report sections could not be built ({type(e).__name__}: {e}); its tables are "
                   "shown as recorded.")
            own = [Section("", f"s{view.index}-failed", [TableView(key=f"{s.suite}#sections", kind="note",
                                                                   title="Report sections", columns=[], intro=why)])]
    return own + view.generic_sections(s, "Other tables" if own else "")


def _suite_view(s: SuiteResult, view: ReportContext, suite: type[Suite] | None) -> SuiteView:
    stats = s.statistics
    counts = ", ".join(f"{stats[st.value]} {st.value}" for st in STATUS_ORDER if stats.get(st.value))
    summary = f"{stats.get('findings', 0)} findings" + (f": {counts}" if counts else "")
    status = s.status if s.findings or s.skipped_reason else "NO FINDINGS"
    sections = suite_sections(s, view, suite)
    summary += "".join(f"; {t.meta['suite_summary']}" for sec in sections for t in sec.tables
                       if t.meta.get("suite_summary"))  # "21 expectations, 3 failed"
    return SuiteView(suite=s.suite, version=text_or(s.suite_version), dataset=text_or(s.dataset),
                     status=status.replace("_", " "), summary=summary, skipped_reason=s.skipped_reason,
                     sections=sections, glossary=view.glossary)

def _when(result: AssessmentResult) -> str:
    when = text_or(result.started_at)
    if when != DASH:
        when = when.replace("T", " ").replace("+00:00", " UTC")
    dur = num(result.duration_s)
    return when + (f" (took {dur:.1f} s)" if dur else "")


def _datasets(result: AssessmentResult) -> list[str]:
    out = []
    for d in result.datasets or []:
        if not isinstance(d, dict):
            out.append(cell(d))
            continue
        name = text_or(d.get("name"), "?") + (f" v{d['version']}" if d.get("version") else "")
        rows = num(d.get("rows"))
        parts = [name, f"{int(rows):,} rows" if rows is not None else "rows unknown",
                 f"sha256 {str(d.get('sha256') or '?')[:12]}"]
        attrs = d.get("protected_attributes")
        if isinstance(attrs, dict) and attrs:
            parts.append("groups by " + ", ".join(f"{a} (reference {r})" if r is not None else str(a)
                                                  for a, r in attrs.items()))
        out.append(" · ".join(parts))
    return out or ["none"]


def _error_text(result: AssessmentResult) -> str:
    e = result.error
    if not e:
        return ""
    if not isinstance(e, dict):
        return str(e)
    text = f"{e.get('type') or 'Error'}: {e.get('message') or 'no message'}"
    return text + (f" (dataset {e['dataset']})" if e.get("dataset") else "")


def _answers_text(result: AssessmentResult) -> str | None:
    """Where a generative endpoint's answers came from (assessment extra "cache", set by the `openai`
    adapter): a cached answer is the tool's past word, so a reader must know how many there were (issue 11)."""
    c = result.extra.get("cache") if isinstance(result.extra, dict) else None
    if not isinstance(c, dict) or not isinstance(c.get("answers"), int):
        return None
    if c.get("cache") == "off":
        return f"all {c['answers']:,} answers were asked afresh (cache off)"
    return f"{int(c.get('from_cache') or 0):,} of {c['answers']:,} answers came from the answer cache"


def _started_by(extra: dict[str, Any]) -> str:
    """Who started the run and how the harness knew (issue 12): a login the City's server confirmed, or a name
    typed on an embedded store that nobody confirmed."""
    from harness.gate.identity import identity_label

    return f"{extra.get('submitter')}, {identity_label(extra.get('identity'))}"


def build_view(result: AssessmentResult, history: History | None = None) -> ReportView:
    """Everything the reports show, as display strings, in report order. Every string of the result is
    masked first (`harness.redact.mask_tree`, issue 12): the one place both formats pass through, so no
    section, table or finding can show a resident's SSN, card, phone, e-mail or address raw."""
    result = mask_tree(result)
    tool, policy = result.tool or {}, result.policy or {}
    doc = policy.get("document") or {}
    conf = _confidence(result)
    verdict = getattr(result.verdict, "value", str(result.verdict))
    error = _error_text(result)
    reasons = [" ".join(str(r).split()) for r in result.reasons or []]
    if error and reasons == [str((result.error or {}).get("message", ""))]:
        reasons = []  # the error line already says it
    byline = [f"{k} {tool[k]}" if k == "version" else str(tool[k]) for k in ("version", "vendor") if tool.get(k)]
    dept = f"for the {tool['department']} department" if tool.get("department") else ""
    glance: list[tuple[str, str | list[str]]] = [
        ("Assessment", text_or(result.kind)),
        ("Date", _when(result)),
        ("Run id", text_or(result.run_id, "not recorded")),
        *([("Started by", _started_by(result.extra))] if (result.extra or {}).get("submitter") else []),
        ("Policy", text_or(policy.get("label") or policy.get("name"))),
        ("Policy digest", text_or(policy.get("digest"))),
        ("Decision rule", decision_rule_text(result)),
        ("Datasets", _datasets(result)),
        *([("Answers", answers)] if (answers := _answers_text(result)) else []),
        ("Risk tier", tier_text(tool)),  # and why: the answers that set its minimum (issue 16)
        ("Category", text_or(tool.get("category"))),
        ("Tool id and status", " · ".join(text_or(tool.get(k)) for k in ("id", "status"))),
        ("Intended use", text_or(tool.get("intended_use"))),
        ("Automation level", text_or(tool.get("automation_level"))),
        ("Human oversight", text_or(tool.get("human_oversight"))),
        ("Seed", text_or(result.seed)),
        ("Harness version", text_or(result.harness_version)),
    ]
    disclosed = tool.get("disclosure")
    disclosure_src: dict[str, Any] = disclosed if isinstance(disclosed, dict) else {}
    disclosure = [(label, text_or(disclosure_src.get(k), "not disclosed")) for k, label in DISCLOSURE_LABELS.items()]
    disclosure += [(str(k).replace("_", " ").capitalize(), cell(v)) for k, v in disclosure_src.items()
                   if k not in DISCLOSURE_LABELS]
    cited = doc.get("citations")
    citations: dict[str, Any] = cited if isinstance(cited, dict) else {}
    mgs = num(doc.get("min_group_size"))
    limit = ratio_limit(result)
    installed = installed_suites({s.suite for s in result.suites}) if result.suites else {}
    required = (doc.get("required_suites") or {}).get(tool.get("category")) if isinstance(
        doc.get("required_suites"), dict) else None
    summary = build_summary(result, {name: suite.check_titles for name, suite in installed.items()},
                            [str(r) for r in required] if isinstance(required, list) else [])
    contexts = [ReportContext(index=si, confidence=conf, min_group_size=int(mgs) if mgs is not None else 30,
                              ratio_limit=limit, document=doc, risk_tier=tool.get("risk_tier"),
                              findings={f.key: f for f in s.findings},
                              tables={str(k): v for k, v in (s.tables or {}).items()})
                for si, s in enumerate(result.suites)]
    return ReportView(
        title=text_or(tool.get("name"), "Unnamed tool"),
        subtitle=" · ".join(p for p in [*byline, dept] if p),
        verdict=verdict,
        verdict_title=VERDICT_TITLES.get(verdict, verdict),
        verdict_meaning=VERDICT_MEANINGS.get(verdict, ""),
        error=error if error or verdict != "ERROR" else "no error details were recorded",
        reasons=reasons,
        glance=glance,
        finding_groups=_finding_groups(list(result.findings), conf),
        n_findings=len(result.findings),
        suites=[_suite_view(s, c, installed.get(s.suite)) for s, c in zip(result.suites, contexts, strict=True)],
        disclosure=disclosure,
        min_group_size=f"{int(mgs)}" if mgs is not None else "the policy's minimum",
        confidence=conf,
        ratio_limit=limit,
        risk_tier=text_or(tool.get("risk_tier"), "unknown"),
        citations=[(str(k), " ".join(str(v).split())) for k, v in citations.items()],
        footer=f"Generated by AI Risk Harness {text_or(result.harness_version)} · schema {text_or(result.schema)}"
               + (f" · run {result.run_id}" if result.run_id else ""),
        summary=summary,
        guide=list(dict.fromkeys(p for c in contexts for p in c.guide)),
        history=history,
    )


def how_to_read(view: ReportView) -> list[str]:
    """The reading guide, shared by both formats (plain text; the HTML escapes it)."""
    limit = fmt_limit(view.ratio_limit) if view.ratio_limit is not None else None
    four_fifths = (
        "The four-fifths rule (EEOC Uniform Guidelines, 29 CFR 1607.4(D)) treats a selection rate for any "
        "group that is less than four-fifths (80%) of the rate of the group with the highest rate as "
        "evidence of adverse impact. The harness judges it once: each group's adverse impact ratio against the "
        "reference group"
        + (f"; for a {view.risk_tier}-risk tool it must be at least {limit}, which the dashed line in the "
           f"plots marks ({limit} × the highest rate)." if limit else ".")
        + " The demographic-parity ratio (the lowest group's rate divided by the highest) is shown for context."
    )
    return [
        f"Each finding compares a measured value with a policy threshold, together with its {view.confidence} "
        "confidence interval: the range the true value most likely lies in, given how much data there was.",
        "The rule fails closed. PASS only when the whole interval is on the passing side of the threshold. "
        "FAIL when the measured value is on the failing side and a statistical test says the violation is real, "
        "not chance (adjusted for the number of blocking findings: see 'Decision rule' above). REVIEW when the "
        "value passes but the interval crosses the threshold, or fails but could be chance at this sample size: "
        "the data cannot settle it, so a person must judge.",
        f"Groups with fewer than {view.min_group_size} rows (the policy's minimum group size) are INSUFFICIENT: "
        "their rates are shown but not judged, never counted as a pass, and left out of the comparisons.",
        "Blocking findings decide the verdict: one blocking FAIL (or a blocking check that could not compute) "
        "fails the assessment. A failed advisory finding asks for human review instead. SKIPPED means a suite "
        "or check could not run, with the reason given; when the policy requires it, the verdict is at best "
        "NEEDS_REVIEW, and the reasons say what was not tested.",
        four_fifths,
        *view.guide,
    ]
