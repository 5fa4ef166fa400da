"""The plain summary of an assessment: the verdict in one sentence, the reasons it rests on grouped by check
and written in words (never a metric key; p-values as "p < 0.001"), and what was not tested.

A department head reads this and nothing else (issue 15): the decision memo (`harness.report.memo`) is built
from it, and the full report opens with it before its detail. One check that fails for six groups is one
reason, told by its clearest case, not six bullets that repeat each other. The findings the verdict rests on
come from `harness.verdict.deciding`, the rule `decide` itself applies, so the summary cannot cite a reason
the verdict did not rest on; the check names come from each suite's `check_titles`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.findings import Finding, Severity, Status
from harness.verdict import deciding

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult

_RANK = {Status.FAIL: 0, Status.ERROR: 0, Status.REVIEW: 1, Status.INSUFFICIENT: 2}
_VERB = {Status.FAIL: "failed", Status.ERROR: "could not be computed", Status.REVIEW: "need a reviewer's judgement",
         Status.INSUFFICIENT: "had too little data to judge"}
_INTERSECTION = re.compile(r"\b([A-Za-z][A-Za-z0-9]*)_x_([A-Za-z][A-Za-z0-9_]*)\b")
# a significance sentence a check wrote itself (records made before the run-level decision rule): the summary
# states significance once, in its own words
_SIGNIFICANCE = re.compile(r"\s*The difference[^().]*? is statistically significant \([^()]*\)\.")
_P_VALUE = re.compile(r"\bp (?:=|<) ?(\d+(?:\.\d+)?(?:e[-+]?\d+)?)\b")
SKIP_REASON_CHARS = 140  # a SKIPPED check's reason is cut here in the summary (the report keeps it whole)


@dataclass(frozen=True)
class Reason:
    """One check the verdict rests on, in words: `title` names the check, `text` tells its clearest case."""

    title: str
    text: str
    status: str
    findings: int  # how many of the run's findings this reason stands for
    blocking: bool


@dataclass(frozen=True)
class Untested:
    """Something the run did not test: a suite or a check, on which data, and why."""

    what: str  # the check's (or suite's) plain name
    where: str  # its suite and dataset
    why: str
    required: bool  # the policy required it, so it capped the verdict at NEEDS REVIEW ("not tested: ...")


@dataclass(frozen=True)
class Summary:
    sentence: str  # the verdict in one sentence
    reasons: list[Reason]  # every reason, most important first; the memo shows the first three
    tested: list[str]  # the suites that ran, in plain words, with their data
    not_tested: list[Untested]  # required suites absent or skipped, SKIPPED checks that could apply
    not_applicable: list[Untested]  # SKIPPED checks that cannot arise for this tool (no protected input, ...)
    findings: int  # how many findings the reasons stand for (the report lists each)


def plain_p(p: float) -> str:
    """A p-value for a reader: "p < 0.001" below a thousandth, else two decimals ("p = 0.26"), three below 0.01
    ("p = 0.004"); never scientific notation ("p = 9.58e-296" says nothing more than "p < 0.001")."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def humane(text: str) -> str:
    """Grouping names as a reader writes them: "sex_x_race" is "sex × race"."""
    return _INTERSECTION.sub(lambda m: f"{m.group(1)} × {m.group(2).replace('_x_', ' × ')}", text)


def check_title(suite: str, check: str, titles: Mapping[str, Mapping[str, str]]) -> str:
    """The suite's plain name for a check (`Suite.check_titles`), else one made from the check's name."""
    return titles.get(suite, {}).get(check) or check.replace("_", " ").capitalize()


def suite_title(suite: str) -> str:
    return suite.replace("_", " ")


def _lower_first(title: str) -> str:
    """"The four-fifths rule" -> "the four-fifths rule" inside a sentence; "SHAP values" stays."""
    return title if len(title) > 1 and title[1].isupper() else title[:1].lower() + title[1:]


def _p_of(f: Finding) -> float | None:
    """The p-value that decided the finding: Holm-adjusted when it was in the blocking family."""
    for key in ("p_adjusted", "p_value"):
        p = f.details.get(key)
        if isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p):
            return float(p)
    return None


def _clearest(group: Sequence[Finding]) -> Finding:
    """The case that tells a check's story best: the worst status, then the strongest evidence (lowest p),
    then the first in the order the suite reported them."""
    return min(group, key=lambda f: (_RANK.get(f.status, 3), _p_of(f) if _p_of(f) is not None else 2.0))


def _measured(f: Finding) -> str:
    """What the check measured, in the check's words, without the decision rule's statistical sentence (the
    summary says it in plainer words) and without a leading label that repeats the finding's group."""
    measured = f.details.get("measured")
    text = " ".join(str(measured if isinstance(measured, str) and measured else f.message or "").split())
    if f.group and text.lower().startswith(f"{f.group.lower()}: "):
        text = text[len(f.group) + 2:]
    text = _SIGNIFICANCE.sub("", text)
    text = _P_VALUE.sub(lambda m: plain_p(float(m.group(1))), text)
    text = text[:1].upper() + text[1:]
    return humane(text if text.endswith((".", "!", "?")) else text + ".")


def _reason(title: str, group: Sequence[Finding]) -> Reason:
    lead = _clearest(group)
    text = _measured(lead)
    p = _p_of(lead)
    if lead.status in (Status.FAIL, Status.ERROR) and p is not None:
        text += f" This is statistically significant ({plain_p(p)})."
    elif lead.status is Status.REVIEW and p is not None and "could be chance" in lead.message:
        text += f" At this sample size it could be chance ({plain_p(p)}), so a reviewer must judge it."
    more = len(group) - 1
    if more:
        text += (f" {more} more result{'s' if more > 1 else ''} of this check "
                 f"{_VERB.get(lead.status, 'need attention')}; the full report lists each.")
    return Reason(title=title, text=text, status=lead.status.value, findings=len(group),
                  blocking=any(f.blocks for f in group))


def reasons_of(findings: Sequence[Finding], titles: Mapping[str, Mapping[str, str]]) -> list[Reason]:
    """The findings the verdict rests on, one reason per check (suite and check name), worst first, then in the
    order the suites reported them."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in deciding(findings):
        groups.setdefault((f.suite, f.check), []).append(f)
    ordered = sorted(groups.items(), key=lambda kv: (min(_RANK.get(f.status, 3) for f in kv[1]),
                                                     not any(f.blocks for f in kv[1])))
    return [_reason(check_title(s, c, titles), g) for (s, c), g in ordered]


def _short(why: Any) -> str:
    """A skip reason cut to its first clause, for a summary: the report keeps the whole of it."""
    text = " ".join(str(why or "no reason recorded").split())
    first = text.split("; ")[0]
    if len(first) > SKIP_REASON_CHARS:  # cut at a word, never inside one
        first = first[:SKIP_REASON_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return humane(first)


def _capped(result: AssessmentResult) -> set[str]:
    """The "not tested: ..." reasons the verdict recorded (only a NEEDS_REVIEW verdict lists them)."""
    return {r for r in result.reasons or [] if isinstance(r, str) and r.startswith("not tested: ")}


def _untested(result: AssessmentResult, titles: Mapping[str, Mapping[str, str]],
              required_suites: Sequence[str]) -> tuple[list[Untested], list[Untested]]:
    capped = _capped(result)
    not_tested: list[Untested] = []
    ran = {s.suite for s in result.suites}
    if result.error is not None:  # an ERROR judged nothing, whatever suites it lists
        e = result.error
        why = str(e.get("message") or "no message") if isinstance(e, dict) else str(e)
        not_tested.append(Untested("Every check", "every dataset", _short("the assessment could not complete: " + why),
                                   True))
    else:
        category = (result.tool or {}).get("category", "")
        not_tested += [Untested(f"The {suite_title(name)} suite", "every dataset", "this run left it out, although "
                                f"the policy requires it for {category} tools (policy 6.4)", True)
                       for name in required_suites if name not in ran]
    for s in result.suites:
        if s.skipped_reason:
            required = any(c.startswith(f"not tested: suite {s.suite!r}") for c in capped) or s.suite in required_suites
            not_tested.append(Untested(f"The {suite_title(s.suite)} suite", s.dataset, _short(s.skipped_reason),
                                       required))
    skipped: dict[tuple[str, str, str], list[Finding]] = {}
    for f in result.findings:
        if f.status is Status.SKIPPED:
            skipped.setdefault((f.suite, f.check, f.dataset or ""), []).append(f)
    not_applicable: list[Untested] = []
    for (suite, check, dataset), group in skipped.items():
        what = check_title(suite, check, titles)
        where = f"{suite_title(suite)} suite" + (f", {dataset}" if dataset else "")
        why = "; ".join(dict.fromkeys(_short(f.message) for f in group))
        # required: the verdict listed it (NEEDS_REVIEW), or a blocking check could not run (a FAIL lists only
        # its failures, but the check was no less required)
        required = any(c.startswith(f"not tested: {suite}.{check}") for c in capped) or any(
            f.severity is Severity.BLOCKING and not f.details.get("not_applicable") for f in group)
        if all(f.details.get("not_applicable") for f in group) and not required:
            not_applicable.append(Untested(what, where, why, False))
        else:
            not_tested.append(Untested(what, where, why, required))
    return not_tested, not_applicable


def _tested(result: AssessmentResult) -> list[str]:
    """The suites that ran (a SKIPPED suite is never listed, nor anything of an ERROR), by the data they ran on:
    "bias, data quality and performance on rental-assistance"."""
    if result.error is not None:
        return []
    by_suite: dict[str, list[str]] = {}
    for s in result.suites:
        if not s.skipped_reason:
            by_suite.setdefault(s.suite, []).append(s.dataset)
    by_data: dict[tuple[str, ...], list[str]] = {}
    for name, data in by_suite.items():
        by_data.setdefault(tuple(dict.fromkeys(data)), []).append(suite_title(name))
    return [f"{_and(names)} on {_and(list(data))}" for data, names in by_data.items()]


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(result: AssessmentResult, reasons: list[Reason], not_tested: list[Untested]) -> str:
    tool = result.tool or {}
    name = " ".join(str(x) for x in (tool.get("name") or tool.get("id") or "The tool", tool.get("version")) if x)
    verdict = getattr(result.verdict, "value", str(result.verdict))
    if verdict == "ERROR":
        kind = (result.error or {}).get("type") if isinstance(result.error, dict) else None
        return (f"The assessment of {name} could not complete{f' ({kind})' if kind else ''}, so nothing was judged "
                "and this run cannot support an approval (policy 4.2).")
    if verdict == "FAIL":
        failed = [r for r in reasons if r.blocking]
        if not failed:  # a recorded FAIL whose findings name no blocking failure: say no more than the verdict
            return (f"{name} failed its assessment, so it may not be used unless it is remediated and assessed "
                    "again (policy 4.2).")
        titles = [_lower_first(r.title) for r in failed]
        listed = titles[:3] + ([f"{len(titles) - 3} more"] if len(titles) > 3 else [])
        named = _and(listed)
        return (f"{name} failed {len(failed)} blocking check{'s' if len(failed) != 1 else ''}, so it may not be "
                f"used unless it is remediated and assessed again (policy 4.2): {named}.")
    if verdict == "NEEDS_REVIEW":
        parts = []
        if reasons:
            parts.append(f"{len(reasons)} check{'s' if len(reasons) != 1 else ''} "
                         f"need{'' if len(reasons) != 1 else 's'} a reviewer's judgement")
        required = [u for u in not_tested if u.required]
        if required:
            parts.append(f"{len(required)} required check{'s' if len(required) != 1 else ''} "
                         f"could not be tested")
        why = " and ".join(parts) or "a reviewer must examine the findings"
        return (f"{name} failed no blocking check, but {why}, so a person must decide before it is used "
                "(policy 2.3, 4.1).")
    return (f"{name} passed every check the policy requires; a named reviewer must still approve it before it is "
            "used (policy 4.1).")


def build_summary(result: AssessmentResult, titles: Mapping[str, Mapping[str, str]],
                  required_suites: Sequence[str] = ()) -> Summary:
    """The plain summary of a (masked) result. `titles`: each installed suite's `check_titles`;
    `required_suites`: those the recorded policy requires for the tool's category."""
    reasons = reasons_of(result.findings, titles)
    not_tested, not_applicable = _untested(result, titles, required_suites)
    return Summary(sentence=_sentence(result, reasons, not_tested), reasons=reasons, tested=_tested(result),
                   not_tested=not_tested, not_applicable=not_applicable,
                   findings=sum(r.findings for r in reasons))
