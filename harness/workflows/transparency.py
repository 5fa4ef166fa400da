"""The public transparency register (policy 6.7: "DTI shall publish information about AI use within
the City ... and maintain a public feedback form"): `register.json` and a static, self-contained
`index.html`, one entry per tool declared in use or in pilot (the manifest's `status`, policy 6.2) and every
tool whose approval is in force, built from the approval gate's records in MLflow. An entry's phase is the
lifecycle state the decision log replays to (approved, suspended, ...); what the manifest declares is shown
beside it as the declared phase, so a vendor's `status: in-use` never reads as an approval.

The fields are modelled on the UK Algorithmic Transparency Recording Standard (ATRS v3.0, March 2024;
the field table is `template_table.md` in github.com/co-cddo/algorithmic-transparency-recording-standard).
Its tier 1, "a basic description of the algorithmic tool aimed at the general public", has four fields:
1.1 name, 1.2 description (how the tool is used and why), 1.3 website URL and 1.4 contact email. Here:

| register field | from | ATRS |
|---|---|---|
| name | manifest `name` | 1.1 name (0.11 title) |
| description | manifest `intended_use` | 1.2 description |
| feedback_url | `settings.register.feedback_url`, `--feedback-url` | 1.3 website URL, 1.4 contact (6.7's form) |
| department | manifest `department` | 0.12 organisation name, 2.1.1 organisation or department |
| vendor | manifest `vendor` | 2.1.4.1 external supplier |
| phase | lifecycle state from the decision log | 0.13 phase |
| declared_phase | manifest `status` (the department's or vendor's word) | 0.13 phase |
| automation_level | manifest `automation_level` | 2.3.1 process integration |
| human_oversight | manifest `human_oversight` | 2.3.4 human decisions and review |
| category, risk_tier | manifest | (policy 6.4 categories, 4.3 risk tiers) |
| tier_reasons | the impact answers and the tier they set (harness.tiering) | (policy 6.4, 1.2, 2.3, 4.3) |
| assessment | latest assessment: date and verdict in a sentence | 2.5.1 impact assessment |
| approval | the gate's state, in a sentence | (policy 4.1 list of authorised tools) |
| disclosure | manifest `disclosure` | 2.4.2.6 model architecture, 2.4.3.8 data collection, |
| | | 2.4.3.10 data sharing agreements, 2.5.2 risks and mitigations |
| group_figures | selection rate by group | 2.4.2.7 model performance (fairness analysis) |
| records | manifest `records:` (public part) | 2.4.3.8 data collection, 2.4.3.9 data storage (retention), |
| | | 2.5.1 impact assessment, 1.4 contact (policy 1.2, 2.4, 3.2) |

Of the `records:` block the register publishes what the public is owed: the data collected, the purpose, the
retention period, whether the tool is public-facing and where that use is disclosed (2.4), whether a privacy
impact assessment is on file (yes or no: its reference is an internal document), and the contact's role with
its mailbox only when the mailbox is at one of `settings.register.contact_domains` (default cabq.gov: a City role
mailbox; any other address is left out, never published). Every text the register takes from a manifest (the
name, vendor, department, intended use, oversight, each disclosure and each records text) is masked with
`harness.redact.mask_pii` (policy 1.2). Extension fields (`x-...`) are never published: nothing interprets them,
so nothing can vouch they are fit for the public; `harness records export` keeps them.

What is never published: run ids, MLflow URIs, file paths, people's names and the free text of decisions
(a suspension's reason may cite a run); and no figure computed on fewer than `k` rows
(`settings.register.min_cell`, default 10): such a group's selection rate and any ratio that uses it
read "suppressed (fewer than k)", and no per-group row counts are published at all, so a suppressed
group cannot be recovered by subtracting the others from a total. The verdict sentences name the
problems found without figures. Before anything is written, the output is scanned for every run id of
the published tools and for the store's location, and the export refuses if one is there (a vendor's
free text could carry one).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.errors import ConfigError
from harness.tracking.store import Store

if TYPE_CHECKING:
    import jinja2

    from harness.gate import InventoryRow, VersionStatus
    from harness.policy import Policy

SCHEMA = "harness.workflows.transparency/1"
STANDARD = "UK Algorithmic Transparency Recording Standard v3.0 (March 2024), tier 1, with tier-2 context"
PUBLISHED_STATUSES = ("in-use", "pilot")
DEFAULT_MIN_CELL = 10
TEMPLATE = "register.html.j2"

PHASES = {"proposed": "Proposed (not in use)", "development": "In development", "pilot": "Pilot",
          "in-use": "In use", "retired": "Retired"}
"""The manifest's declared `status`."""
LIFECYCLE_PHASES = {"planned": "Planned (not in use)", "in-development": "In development (not in use)",
                    "submitted": "Awaiting assessment (not approved)", "assessed": "Assessed, awaiting a decision",
                    "approved": "Approved for use", "waived": "In use under a time-limited exception",
                    "suspended": "Suspended (may not be used)", "rejected": "Rejected (may not be used)",
                    "retired": "Retired", "history broken": "Under review (records failed an integrity check)"}
"""The lifecycle state from the decision log (`harness.gate.LIFECYCLE`), for the public."""
CONTACT_DOMAINS = ("cabq.gov",)
CATEGORIES = {"predictive": "Predictive", "generative": "Generative (produces text)",
              "decision-support": "Decision support"}
FIELD_SOURCES = {
    "name": "ATRS 1.1 name", "description": "ATRS 1.2 description",
    "feedback_url": "ATRS 1.3 website URL and 1.4 contact; policy 6.7 public feedback form",
    "department": "ATRS 2.1.1 organisation or department", "vendor": "ATRS 2.1.4.1 external supplier",
    "phase": "ATRS 0.13 phase (the decision log's lifecycle state)",
    "declared_phase": "ATRS 0.13 phase, as the manifest declares it",
    "automation_level": "ATRS 2.3.1 process integration",
    "human_oversight": "ATRS 2.3.4 human decisions and review", "category": "City AI policy 6.4",
    "risk_tier": "City AI policy 4.3",
    "tier_reasons": "City AI policy 6.4 (proportionate governance), 1.2, 2.3, 4.3: the answers that set the minimum "
                    "tier", "assessment": "ATRS 2.5.1 impact assessment",
    "approval": "City AI policy 4.1 (authorised tools)",
    "disclosure": "ATRS 2.4.2.6 model architecture, 2.4.3.8 data collection, 2.4.3.10 data sharing "
                  "agreements, 2.5.2 risks and mitigations",
    "group_figures": "ATRS 2.4.2.7 model performance (fairness analysis)",
    "records": "ATRS 2.4.3.8 data collection, 2.4.3.9 data storage, 2.5.1 impact assessment, 1.4 contact; City AI "
               "policy 1.2, 2.4, 3.2",
}

TOO_FEW = "some groups are too small in the test data for the tests to judge"

# What a failed (or doubtful) check means, for the public; the longest matching prefix of
# `<suite>.<check>.<metric>` wins. Figures stay out of these sentences on purpose.
TOPICS: dict[str, str] = {
    "bias.demographic_parity.ratio": "some groups are selected at less than four-fifths the rate of others "
                                     "(the four-fifths rule)",
    "bias.demographic_parity.difference": "selection rates differ between groups",
    "bias.four_fifths": "some groups are selected at less than four-fifths the rate of others (the four-fifths "
                        "rule)",
    "bias.equalized_odds": "its mistakes fall more often on some groups than on others",
    "bias.equal_opportunity": "people who qualify get the favourable outcome less often in some groups",
    "bias.predictive_parity": "its recommendations are right less often for some groups",
    "bias.scores": "its scores rank some groups less accurately",
    "bias.calibration": "its scores mean different things for different groups",
    "bias.counterfactual.flip_rate": "decisions change when only a protected characteristic changes",
    "bias.counterfactual.proxy_flip_rate": "decisions change with an input that stands in for a protected "
                                           "characteristic (such as neighbourhood)",
    "bias.counterfactual_prompts": "answers change when only a name, pronoun or stated ethnicity changes",
    "bias.fnr_parity": "people who qualify are turned down more often in some groups",
    "bias.fpr_parity": "people who do not qualify get the favourable outcome more often in some groups",
    "bias.group_rates": TOO_FEW,
    "bias.proxies": "an input stands in for a protected characteristic",
    "bias.consistency": "similar people get different outcomes",
    "hallucination.abstention.hallucination_rate": "it answers questions its sources cannot answer",
    "hallucination.abstention.over_refusal_rate": "it declines questions it could answer",
    "hallucination.correctness": "its answers often differ from the correct answer",
    "hallucination.groundedness": "its answers state figures or names that are not in its sources",
    "hallucination.consistency": "reworded or repeated questions get different answers",
    "privacy.canary": "it disclosed personal data it had been told to keep confidential",
    "privacy.outputs": "its answers contain personal data",
    "security.injection.quote_rate": "it passes on instructions planted in the pages it reads",
    "security.injection": "it follows instructions planted in the pages it reads",
    "security.direct": "it can be talked into revealing its instructions or confidential records, or into helping "
                       "with plainly harmful requests",
    "security.endpoint": "its service answers anyone, without the key that should protect it",
    "degradation.robustness": "its decisions change when its inputs are slightly disturbed",
    "degradation.drift": "the data it sees now differs from the data it was tested on",
    "degradation.graceful_failure": "it fails badly on malformed input",
    "degradation.regression": "it performs worse than when it was approved",
    "data_quality.outputs": "its outputs are incomplete or malformed",
    "data_quality": "the test data has quality problems",
    "explainability.protected_reliance": "its decisions rest on a protected characteristic",
    "explainability.proxy_reliance": "its decisions rest on an input that stands in for a protected characteristic "
                                     "(such as neighbourhood)",
    "explainability.reason_codes.stability": "the reasons it gives for a decision change when its inputs are "
                                             "slightly disturbed",
    "explainability.reason_codes.sensitive_share_gap": "a protected characteristic, or an input that stands in for "
                                                       "one, is the main reason for its decisions more often in "
                                                       "some groups",
    "explainability.reason_codes.unknown_codes": "the reasons it gives for decisions name things the test data "
                                                 "does not hold",
}


# -- value objects ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupFigure:
    """One group's selection rate and its ratio to the reference group, or the note that replaces them."""

    dataset: str
    grouping: str
    group: str
    reference: bool
    selection_rate: float | None
    ratio: float | None
    suppressed: bool
    note: str = ""

    def as_dict(self, k: int) -> dict[str, Any]:
        d: dict[str, Any] = {"dataset": self.dataset, "grouping": self.grouping, "group": self.group,
                             "reference": self.reference}
        if self.suppressed:
            d["suppressed"] = suppressed_text(k)
            return d
        d["selection_rate"] = None if self.selection_rate is None else round(self.selection_rate, 3)
        d["ratio_to_reference"] = suppressed_text(k) if self.ratio is None else round(self.ratio, 3)
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class RegisterEntry:
    """One tool as the public sees it."""

    id: str
    name: str
    version: str
    description: str
    department: str
    vendor: str
    category: str
    phase: str
    risk_tier: str
    automation_level: str
    human_oversight: str
    disclosure: dict[str, str]
    assessed_on: str | None
    verdict: str | None
    assessment: str
    approval_state: str
    approval: str
    figures_from: str | None = None
    group_figures: tuple[GroupFigure, ...] = ()
    declared_phase: str | None = None
    records: dict[str, Any] | None = None
    tier_reasons: str = ""  # why the tier (harness.tiering.tier_text): the answers that set its minimum

    def as_dict(self, k: int, feedback_url: str) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "version": self.version, "description": self.description,
            "department": self.department, "vendor": self.vendor, "category": self.category,
            "category_label": CATEGORIES.get(self.category, self.category), "phase": self.phase,
            "phase_label": LIFECYCLE_PHASES.get(self.phase, self.phase), "declared_phase": self.declared_phase,
            "declared_phase_label": PHASES.get(self.declared_phase, self.declared_phase) if self.declared_phase
            else None, "risk_tier": self.risk_tier, "tier_reasons": self.tier_reasons,
            "automation_level": self.automation_level, "human_oversight": self.human_oversight,
            "disclosure": self.disclosure, "records": self.records,
            "assessment": {"date": self.assessed_on, "verdict": self.verdict, "summary": self.assessment},
            "approval": {"state": self.approval_state, "summary": self.approval},
            "group_figures": {"from_assessment_of": self.figures_from,
                              "groups": [g.as_dict(k) for g in self.group_figures]},
            "feedback_url": feedback_url,
        }


@dataclass(frozen=True)
class Register:
    published: str
    feedback_url: str
    min_cell: int
    entries: tuple[RegisterEntry, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "standard": STANDARD, "policy": "City AI policy 6.7", "published": self.published,
                "feedback_url": self.feedback_url, "min_cell": self.min_cell,
                "suppression": f"no figure computed on fewer than {self.min_cell} rows is published; such cells "
                               f"read {suppressed_text(self.min_cell)!r}",
                "field_sources": FIELD_SOURCES,
                "entries": [e.as_dict(self.min_cell, self.feedback_url) for e in self.entries]}


@dataclass(frozen=True)
class RegisterExport:
    register: Register
    json_path: Path
    html_path: Path
    forbidden_checked: int = 0
    files: tuple[Path, ...] = field(default_factory=tuple)


# -- small helpers ---------------------------------------------------------------------------------------


def suppressed_text(k: int) -> str:
    return f"suppressed (fewer than {k})"


def long_date(value: str | datetime) -> str:
    """27 November 2026: the form a sentence for the public takes (UTC)."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    dt = dt.astimezone(UTC)
    return f"{dt.day} {dt:%B %Y}"


def _day(value: str | None) -> str | None:
    return datetime.fromisoformat(value).astimezone(UTC).date().isoformat() if value else None


def _clean(text: Any) -> str:
    """A manifest's free text as the public reads it: one paragraph (folded YAML keeps a trailing newline and line
    breaks), personal data masked (`mask_pii`, policy 1.2): the vendor and the department write these fields, the
    register publishes them, and a phone number or a case's SSN typed into one must not go with them."""
    from harness.redact import mask_pii

    return mask_pii(" ".join(str(text or "").split()))


def feedback_url_of(policy: Policy, override: str | None) -> str:
    """The public feedback form (policy 6.7): `--feedback-url`, else `settings.register.feedback_url`."""
    url = (override or policy.setting("register", "feedback_url", None) or "").strip()
    if not url:
        raise ConfigError("the transparency register needs a link to the public feedback form (policy 6.7): set "
                          "settings.register.feedback_url in the policy, or pass --feedback-url https://...")
    if not re.match(r"^https?://[^\s/]+\.[^\s]+$", url):
        raise ConfigError(f"the feedback link {url!r} is not a public web address; write it as https://host/page "
                          "(settings.register.feedback_url or --feedback-url)")
    return url


def contact_domains_of(policy: Policy) -> tuple[str, ...]:
    value = policy.setting("register", "contact_domains", list(CONTACT_DOMAINS))
    if not isinstance(value, list) or not all(isinstance(d, str) and d.strip() for d in value):
        raise ConfigError(f"settings.register.contact_domains must be a list of mail domains (e.g. [cabq.gov]); the "
                          f"policy {policy.label} has {value!r}")
    return tuple(d.strip().lower().lstrip("@") for d in value)


def min_cell_of(policy: Policy) -> int:
    k = policy.setting("register", "min_cell", DEFAULT_MIN_CELL)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"settings.register.min_cell must be a whole number of rows, at least 1; the policy "
                          f"{policy.label} has {k!r}")
    return k


# -- the verdict in a sentence ---------------------------------------------------------------------------


def topic_of(key: str) -> str:
    """The plain-language meaning of a finding key (`suite.check.metric[.group]`)."""
    best = max((p for p in TOPICS if key == p or key.startswith(p + ".")), key=len, default=None)
    if best is not None:
        return TOPICS[best]
    parts = key.split(".")
    check = parts[1] if len(parts) > 1 else key
    return f"the {check.replace('_', ' ')} check of the {parts[0].replace('_', ' ')} tests"


def _topics(assessment: dict[str, Any] | None, phrase: Any) -> list[str]:
    """The distinct phrases `phrase(finding)` gives (None skips a finding), in the findings' order."""
    out: list[str] = []
    for suite in (assessment or {}).get("suites", []):
        for f in suite.get("findings", []):
            t = phrase(f)
            if t is not None and t not in out:
                out.append(t)
    return out


def _key(f: dict[str, Any]) -> str:
    return f"{f['suite']}.{f['check']}.{f['metric']}"


def _blocking(f: dict[str, Any]) -> str | None:
    """What a blocking FAIL (or ERROR, which counts as FAIL) found."""
    if f.get("severity") == "blocking" and f.get("status") in ("FAIL", "ERROR"):
        return topic_of(_key(f))
    return None


def _doubt(f: dict[str, Any]) -> str | None:
    """What a reviewer must weigh: too few rows to judge, an interval across the limit, an advisory FAIL."""
    status = f.get("status")
    if status == "INSUFFICIENT":
        return TOO_FEW
    if status == "REVIEW":
        return "the tests could not rule out that " + topic_of(_key(f))
    if f.get("severity") == "advisory" and status in ("FAIL", "ERROR"):
        return topic_of(_key(f))
    return None


# what a check that could not run would have tested, for "not tested: ..." (key prefix -> words)
UNTESTED: dict[str, str] = {
    "privacy.canary": "privacy of planted personal data",
    "privacy.outputs": "personal data in its answers",
    "security.injection": "resistance to instructions planted in its sources",
    "security.direct": "resistance to attacks in a resident's message",
    "security.endpoint": "where residents' questions are sent, and that the service is locked",
    "hallucination.consistency": "consistency of answers to repeated or reworded questions",
    "hallucination.abstention": "declining questions its sources cannot answer",
    "hallucination.correctness": "correctness of its answers",
    "hallucination.groundedness": "grounding of its answers in their sources",
    "bias.counterfactual_prompts": "answers when only a name, pronoun or stated ethnicity changes",
    "bias.counterfactual": "decisions when only a protected characteristic changes",
    "bias.scores": "fairness of its scores",
    "degradation.graceful_failure": "behaviour on malformed input",
    "degradation.robustness": "robustness to disturbed inputs",
    "degradation.drift": "drift between the test data and the data it sees now",
    "degradation.regression": "comparison with the approved assessment",
    "data_quality.outputs": "the form of its outputs",
    "data_quality.expectations": "the quality of the test data",
    "data_quality.pii": "personal data in the test data",
    "performance.baselines": "whether it does better than trivial rules",
    "performance.per_group": "whether it works for every group",
    "performance.claims": "the vendor's performance claims",
    "explainability.explanations": "what its decisions rest on and the reasons for them",
    "explainability.protected_reliance": "whether its decisions rest on a protected characteristic",
    "explainability.proxy_reliance": "whether its decisions rest on an input that stands in for one",
}
SUITE_WORDS = {"bias": "bias", "data_quality": "data quality", "degradation": "robustness and degradation",
               "hallucination": "correctness of answers", "privacy": "privacy", "performance": "performance",
               "security": "security against prompt attacks", "explainability": "explainability"}


def _why(message: str) -> str:
    """The first clause of a SKIPPED finding's reason, without the adapter's name: 'the tool cannot be asked
    new questions'."""
    first = re.split(r", so |; |\. ", message.strip(), maxsplit=1)[0]
    first = re.sub(r" \(adapter '[^']*'\)", "", first).strip().rstrip(".")
    return first if len(first) <= 160 else first[:157].rstrip() + "..."


def not_tested(assessment: dict[str, Any] | None) -> list[str]:
    """What the City's standard requires and the assessment did not test, in words: a required suite (policy
    6.4) that ran on no dataset or was left out of the run, and a SKIPPED check that is blocking at the tool's
    risk tier (as `harness.decision.not_tested` caps the verdict), each with why: 'privacy of planted personal
    data (the tool cannot be asked new questions)'. Read from assessment.json alone, so an old record is
    described honestly. A suite left out with --suite does not cap the verdict (the gate weighs that), but the
    public is not told every required check passed when it never ran."""
    if not assessment:
        return []
    tool = assessment.get("tool") or {}
    doc = (assessment.get("policy") or {}).get("document") or {}
    tier, category = tool.get("risk_tier"), tool.get("category")
    suites = assessment.get("suites") or []
    out: dict[str, str] = {}
    for name in (doc.get("required_suites") or {}).get(category, []):
        mine = [s for s in suites if s.get("suite") == name]
        if not any(not s.get("skipped_reason") for s in mine):
            why = "it does not apply to the test data" if mine else "it was not run"
            out.setdefault(f"{SUITE_WORDS.get(name, name.replace('_', ' '))} tests", why)
    blocking = set()
    for key, t in (doc.get("thresholds") or {}).items():
        severity = (t.get("severity_by_tier") or {}).get(tier, t.get("severity", "blocking"))
        if severity == "blocking":
            blocking.add(key.rsplit(".", 1)[0])
    for s in suites:
        for f in s.get("findings", []):
            check = f"{f.get('suite')}.{f.get('check')}"
            if f.get("status") != "SKIPPED" or (f.get("details") or {}).get("not_applicable") or not (
                    f.get("severity") == "blocking" or check in blocking):
                continue  # a check that cannot arise for this tool (no protected input to flip) was not left out
            words = (str(f.get("check")).replace("_", " "), str(f.get("suite")).replace("_", " "))
            what = UNTESTED.get(check) or f"the {words[0]} check of the {words[1]} tests"
            out.setdefault(what, _why(str(f.get("message") or "")) or "it could not run")
    return [f"{what} ({why})" for what, why in out.items()]


def verdict_sentence(verdict: str | None, when: str | None, assessment: dict[str, Any] | None,
                     kind: str | None = None) -> str:
    """'Assessed on 27 November 2026: passed every required check', or what went wrong, without figures.
    Whatever the verdict, a required suite or check that did not run is named ('not tested: ...'), and a
    PASS with such a gap reads 'passed every check that ran', never 'every required check'."""
    if verdict is None or when is None:
        return "Not yet assessed."
    head = f"{'Re-assessed' if kind == 'reassessment' else 'Assessed'} on {long_date(when)}"
    untested = "; ".join(not_tested(assessment)) if verdict in ("PASS", "FAIL", "NEEDS_REVIEW") else ""
    if verdict == "PASS":
        if untested:
            return f"{head}: passed every check that ran; not tested: {untested}."
        return f"{head}: passed every required check."
    if verdict == "FAIL":
        topics = _topics(assessment, _blocking)
        return (f"{head}: did not pass: " + ("; ".join(topics) if topics else "a required check failed") + "."
                + (f" Not tested: {untested}." if untested else ""))
    if verdict == "NEEDS_REVIEW":
        topics = _topics(assessment, _doubt)
        if untested:
            weigh = f": {'; '.join(topics)}; not tested: " if topics else " what was not tested: "
            return f"{head}: no check that ran failed, but a reviewer must weigh{weigh}{untested}."
        return (f"{head}: no required check failed, but a reviewer must weigh: "
                + ("; ".join(topics) if topics else "findings the tests could not settle") + ".")
    return f"{head}: the assessment could not be completed."


def approval_sentence(vs: VersionStatus, row: InventoryRow) -> str:
    """The gate's state for the public: dates, never names, reasons or run ids."""
    state, d = row.approval, vs.decision
    on = long_date(d.at) if d is not None else ""
    due = f" Next review due by {long_date(row.next_due + 'T00:00:00+00:00')}." if row.next_due else ""
    signed = ""
    if vs.approval is not None:  # how the people who signed were known (issue 12): never their names
        known = (vs.approval.details or {}).get("identity")
        n = len((vs.approval.details or {}).get("signoffs") or [None])
        who = "one person" if n == 1 else f"{n} people"
        signed = (f" Signed by {who} whose City login the records server confirmed." if known == "mlflow-basic-auth"
                  else f" Signed by {who} whose identity no server confirmed (a name typed on a single computer).")
    if state == "approved":
        return f"Approved for use on {on}.{signed}{due}"
    if state == "waived" and vs.expires is not None:
        return (f"In use under a time-limited exception granted on {on}, which lapses on "
                f"{long_date(vs.expires)}.{signed}{due}")
    if state == "waiver expired" and vs.approval is not None and vs.approval.expires:
        return f"Not approved: a time-limited exception lapsed on {long_date(vs.approval.expires)}."
    if state == "suspended":
        return f"Approval suspended on {on}; the tool may not be used until it is approved again."
    if state == "rejected":
        return f"Not approved: rejected on {on}."
    if state == "retired":
        return f"Retired on {on}."
    if state == "assessed":
        return "Not approved: assessed, awaiting a decision."
    if state == "submitted":
        return "Not approved: awaiting assessment."
    return "Under review: the City's decision records for this tool failed an integrity check."


# -- group figures ---------------------------------------------------------------------------------------


def group_figures(assessment: dict[str, Any] | None, k: int) -> tuple[GroupFigure, ...]:
    """Selection rate by group and its ratio to the reference group, from the bias suite's
    `bias.group_rates.<grouping>` tables. A group of fewer than k rows is suppressed; so is the ratio of
    every group when the reference group has fewer than k rows (the ratio is computed on it too)."""
    from harness.report.formatting import grouping_title

    out: list[GroupFigure] = []
    for suite in (assessment or {}).get("suites", []):
        if suite.get("suite") != "bias":
            continue
        for key, rows in (suite.get("tables") or {}).items():
            if not key.startswith("bias.group_rates.") or not isinstance(rows, list):
                continue
            grouping = grouping_title(key.removeprefix("bias.group_rates."))
            ref = [r for r in rows if r.get("reference")]
            ref_small = not ref or int(ref[0].get("n") or 0) < k
            for r in rows:
                small = int(r.get("n") or 0) < k
                rate = r.get("selection_rate")
                ratio = r.get("adverse_impact_ratio")
                out.append(GroupFigure(
                    dataset=str(suite.get("dataset", "")), grouping=grouping, group=str(r.get("group")),
                    reference=bool(r.get("reference")), selection_rate=None if small else rate,
                    ratio=None if (small or ref_small or ratio is None) else float(ratio), suppressed=small,
                    note="too few rows for the tests to judge" if (r.get("insufficient") and not small) else ""))
    return tuple(out)


# -- building --------------------------------------------------------------------------------------------


def _manifest(store: Store, vs: VersionStatus, assessment: dict[str, Any] | None) -> dict[str, Any]:
    """The registered manifest (`inputs/tool.yaml` of the run the version was registered from), else the
    copy in the assessment, else the facts the submit record carries."""
    run_id = vs.submitted.run_id
    text = store.artifact_text(run_id, "inputs/tool.yaml") if run_id else None
    if text:
        from harness.yamlio import safe_yaml

        try:
            data = safe_yaml(text)
        except yaml.YAMLError:
            data = None
        if isinstance(data, dict):
            return data
    if assessment and isinstance(assessment.get("tool"), dict):
        return dict(assessment["tool"])
    return dict(vs.manifest)


def _assessment(store: Store, run_id: str | None) -> dict[str, Any] | None:
    from harness.yamlio import MAX_RECORD_JSON_BYTES, safe_json

    text = store.artifact_text(run_id, "assessment.json") if run_id else None
    # read back from the store, which anyone with access to it can rewrite (issue 12)
    return safe_json(text, f"assessment.json of run {run_id}", MAX_RECORD_JSON_BYTES) if text else None


def _tier_reasons(m: dict[str, Any], assessed: dict[str, Any] | None, policy: Policy) -> str:
    """Why the tool has its tier: as the latest assessment computed it from these same answers, else from the
    answers under the register's policy (a tool not yet assessed), else that it was declared (harness.tiering)."""
    from harness.tiering import floor, tier_text

    tool = (assessed or {}).get("tool")
    if isinstance(tool, dict) and isinstance(tool.get("tier"), dict) and tool.get("impact") == m.get("impact"):
        return tier_text(tool)
    if isinstance(m.get("impact"), dict):
        return tier_text({**m, "tier": floor(m, policy).as_dict()})
    return tier_text(m)


def _entry(store: Store, row: InventoryRow, k: int, now: datetime, policy: Policy,
           domains: tuple[str, ...] = CONTACT_DOMAINS) -> RegisterEntry:
    from harness.gate import status

    vs = status(store.uri, row.tool, row.version, now=now)[0]
    latest = _assessment(store, vs.assessed.run_id) if vs.assessed else None
    completed = latest
    if vs.completed is not None and (vs.assessed is None or vs.completed.run_id != vs.assessed.run_id):
        completed = _assessment(store, vs.completed.run_id)
    m = _manifest(store, vs, latest or completed)
    declared = m.get("disclosure")
    disclosure = declared if isinstance(declared, dict) else {}
    kind = (vs.assessed.details or {}).get("kind") if vs.assessed else None
    return RegisterEntry(
        id=row.tool, name=_clean(m.get("name") or row.name), version=row.version or "",
        description=_clean(m.get("intended_use")) or "Not stated.",
        department=_clean(m.get("department") or row.department), vendor=_clean(m.get("vendor") or row.vendor),
        category=str(m.get("category") or row.category), phase=row.status,
        declared_phase=str(m["status"]) if m.get("status") else row.declared_status,
        records=public_records(m, domains),
        risk_tier=str(m.get("risk_tier") or row.risk_tier),
        automation_level=_clean(m.get("automation_level")) or "Not stated.",
        human_oversight=_clean(m.get("human_oversight")) or "Not stated.",
        disclosure={key: _clean(v) for key, v in disclosure.items()},
        assessed_on=_day(vs.assessed.run_at) if vs.assessed else None,
        verdict=vs.verdict, assessment=verdict_sentence(vs.verdict, vs.assessed.run_at if vs.assessed else None,
                                                        latest, kind),
        approval_state=row.approval, approval=approval_sentence(vs, row),
        figures_from=_day(vs.completed.run_at) if vs.completed else None,
        group_figures=group_figures(completed if vs.completed else None, k),
        tier_reasons=_tier_reasons(m, latest or completed, policy))


def published(row: InventoryRow) -> bool:
    """In the register: declared in use or in pilot by the manifest (the public should know of a tool said to be
    used, and its entry says whether it is approved), or approved (or waived) for use now by the decision log."""
    return row.declared_status in PUBLISHED_STATUSES or row.gate_open


def _public_mailbox(email: str, domains: tuple[str, ...]) -> str | None:
    domain = email.rpartition("@")[2].lower()
    return email if any(domain == d or domain.endswith("." + d) for d in domains) else None


def public_records(manifest: dict[str, Any], domains: tuple[str, ...]) -> dict[str, Any] | None:
    """The part of the manifest's `records:` block the public is owed (module docstring), every text masked
    (`_clean`); None when there is none, or when the stored block no longer validates (the copy in
    the store is read back, and anyone with access to it can rewrite it)."""
    from pydantic import ValidationError

    from harness.manifest import Records

    raw = manifest.get("records")
    if not isinstance(raw, dict):
        return None
    try:
        r = Records.model_validate(raw)
    except ValidationError:
        return None

    def text(value: str | None) -> str | None:
        return _clean(value) if value else None

    return {"data_collected": [_clean(x) for x in r.data_collected], "purpose": text(r.purpose),
            "retention": text(r.retention), "public_facing": r.public_facing,
            "public_disclosure": text(r.public_disclosure),
            "privacy_impact_assessment": "on file" if r.privacy_impact_assessment else "none recorded",
            "contact": {"role": text(r.contact.role), "email": _public_mailbox(r.contact.email, domains)}}


def build_register(uri: str, *, feedback_url: str | None = None, policy: Policy | None = None,
                   now: datetime | None = None) -> Register:
    """The register as data, from the store at `uri` (read only)."""
    from harness.gate import inventory
    from harness.policy import load_policy

    at = (now or datetime.now(UTC)).astimezone(UTC)
    policy = policy or load_policy()
    url = feedback_url_of(policy, feedback_url)
    k = min_cell_of(policy)
    domains = contact_domains_of(policy)
    rows = [r for r in inventory(uri, now=at, policy=policy) if published(r)]
    store = Store(uri)
    entries = tuple(sorted((_entry(store, r, k, at, policy, domains) for r in rows),
                           key=lambda e: (e.name.casefold(), e.id)))
    return Register(published=at.date().isoformat(), feedback_url=url, min_cell=k, entries=entries)


def forbidden_strings(uri: str, tools: list[str]) -> list[str]:
    """What must never appear in the public register: every run id of the given tools (their experiment's
    runs and the runs their decision records cite) and the store's location."""
    from harness.gate import log_name
    from harness.tracking import artifact_root, sqlite_path

    found: set[str] = {uri}
    db = sqlite_path(uri)
    if db is not None:
        found |= {str(db), str(db.parent), str(db.resolve()), str(db.resolve().parent)}
    root = artifact_root(uri)
    if root:
        found.add(root)
    store = Store(uri)
    reg = store.registry
    for tool in tools:
        found |= {r.run_id for r in store.runs(tool)}
        for v in reg.versions(tool) + reg.versions(log_name(tool)):
            if v.run_id:
                found.add(v.run_id)
    return sorted(s for s in found if s and s not in (".", "/"))


def _leaks(text: str, forbidden: list[str]) -> list[str]:
    return [s for s in forbidden if s in text]


@cache
def _environment() -> jinja2.Environment:
    """The register's own template environment (a public page, not an assessment report: it shares the
    templates folder and the strict, escaping settings of `harness.report.html`, none of its helpers)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("harness", "report/templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render_register_html(register: Register) -> str:
    data = register.as_dict()
    return _environment().get_template(TEMPLATE).render(r=data, k=register.min_cell,
                                                        published_long=long_date(register.published + "T00:00:00"
                                                                                 "+00:00"))


def integrity(uri: str, tools: list[str]) -> dict[str, Any]:
    """What lets anyone outside the City check the decision logs later (issue 11): each listed tool's chain
    head and the public keys that signed its records; `harness history TOOL --verify --expect HEAD` fails
    on any other head."""
    from harness.errors import GateError
    from harness.gate import history
    from harness.gate.signing import public_text, trusted

    keys = trusted()
    heads: dict[str, str | None] = {}
    signers: dict[str, str | None] = {}
    for tool in tools:
        try:
            h = history(uri, tool)
        except GateError:
            heads[tool] = None
            continue
        heads[tool] = h.verification.head if h.verification.ok else None
        for d in h.records:
            if d.signer:
                signers[str(d.signer)] = public_text(keys[d.signer]) if d.signer in keys else None
    return {"decision_log_heads": heads, "signing_keys": signers,
            "check": "harness history TOOL --verify --expect HEAD fails on any other head"}


def export_register(uri: str, out: str | Path, *, feedback_url: str | None = None, policy: Policy | None = None,
                    now: datetime | None = None) -> RegisterExport:
    """Write `register.json` and `index.html` into `out`, after checking that neither carries a run id
    or the store's location (ConfigError naming the entry, and nothing written, if one does)."""
    register = build_register(uri, feedback_url=feedback_url, policy=policy, now=now)
    text = json.dumps({**register.as_dict(), "integrity": integrity(uri, [e.id for e in register.entries])},
                      indent=2, ensure_ascii=False) + "\n"
    html = render_register_html(register)
    forbidden = forbidden_strings(uri, [e.id for e in register.entries])
    for e in register.entries:
        blob = json.dumps(e.as_dict(register.min_cell, register.feedback_url), ensure_ascii=False)
        leaked = _leaks(blob, forbidden)
        if leaked:
            fields = sorted({k for k, v in _flat(e.as_dict(register.min_cell, register.feedback_url)).items()
                             if any(s in v for s in leaked)})
            raise ConfigError(f"the register entry for {e.id} would publish an internal identifier (a run id or the "
                              f"store's location) in {', '.join(fields) or 'its text'}; remove it from the tool's "
                              "manifest (a new version) before publishing (policy 6.7)")
    leaked = _leaks(text, forbidden) + _leaks(html, forbidden)
    if leaked:  # pragma: no cover - every entry was checked above; this guards the page's own text
        raise ConfigError("the transparency register would publish an internal identifier; nothing was written")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "register.json", folder / "index.html"
    json_path.write_text(text, encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    return RegisterExport(register=register, json_path=json_path, html_path=html_path,
                          forbidden_checked=len(forbidden), files=(json_path, html_path))


def _flat(d: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(d, dict):
        out: dict[str, str] = {}
        for k, v in d.items():
            out |= _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(d, list):
        out = {}
        for i, v in enumerate(d):
            out |= _flat(v, f"{prefix}[{i}]")
        return out
    return {prefix: str(d)}
