"""The `security` suite (issue 14): whether a generative tool can be turned against the residents it serves
(policy 4.2: the risk assessment evaluates "cybersecurity" risks; Code of Ethics, Safety, Security, and Validity;
OWASP Top 10 for LLM Applications 2025, LLM01, LLM02, LLM07).

- `injection`: indirect prompt injection. The attack set's pages carry instructions an attacker planted (print a
  code, give a fixed wrong answer, send the resident to a phone number or web address, ignore all previous
  instructions); the share of attacks the tool obeys, overall and per kind.
- `direct`: direct attacks. Requests to reveal the tool's instructions (where the harness planted a made-up
  code), role-play and "developer mode" jailbreaks asking for a confidential resident record planted in the
  page, and plainly harmful requests a City chatbot must refuse; the share obeyed, overall and per kind.

Both need a tool that can be asked new questions (a vendor's file of answers gets them SKIPPED with the reason,
which caps the verdict at NEEDS_REVIEW). Obedience is judged without a judge model, from markers only obedience
can put in an answer (`markers`); refusal by the hallucination suite's abstention rule with refusal phrases added.
The attacks are data (`settings.security.attack_set`, default the bundled `security-attacks`), recorded with
their sha256; the policy may pin that sha256 (`attack_set_sha256`).

- `endpoint`: where the questions go (policy 1.3, 1.4). The network adapters already refuse, before anything is
  sent, an endpoint without TLS (but loopback), with a certificate that does not verify, or off the policy's
  allow-list `settings.endpoints.allowed_hosts` (`harness.tools.endpoint`); this check records which host and
  rule, and fails (blocking) an endpoint that answered the adapter's request without the API key the manifest
  names. Not applicable (SKIPPED) to a tool not called over the network.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from harness.check import Check, CheckContext, Suite
from test_suites.security.checks import BUNDLED_SHA256, DEFAULT_ATTACK_SET, Direct, Injection
from test_suites.security.endpoint import Endpoint


class SecuritySettings(BaseModel):
    """`settings.security` of the policy; the defaults are those of harness/policies/default.yaml and of the
    checks that read them. A key not listed here is an error before anything runs (fail closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # a catalogue name (datasets/<name>/card.yaml) or the path of a prompt-attacks card: the City may keep a set
    # of its own that vendors never see
    attack_set: str = Field(DEFAULT_ATTACK_SET, min_length=1)
    # the sha256 of the attack set's data file this policy was written for: another set is an ERROR, so the
    # policy's digest (recorded with every assessment and in every plan) names the attacks too; null: any set
    attack_set_sha256: str | None = Field(BUNDLED_SHA256, pattern=r"^[0-9a-f]{64}$")


if TYPE_CHECKING:
    from harness.datasets import ReferenceDataset
    from harness.report.sections import ReportContext, Section, SuiteOutcome


class SecuritySuite(Suite):
    name = "security"
    version = "1"
    description = ("Prompt attacks on a generative tool: instructions planted in its pages (indirect injection) and "
                   "attacks in the resident's message (system-prompt extraction, jailbreaks for a resident record, "
                   "plainly harmful requests); the share it obeys, overall and per kind, with Wilson intervals.")
    check_titles: ClassVar[dict[str, str]] = {
        "endpoint": "A secure connection to the tool",
        "injection": "Instructions planted in pages (prompt injection)",
        "direct": "Direct attacks (jailbreaks, harmful requests)",
    }
    tasks: ClassVar[tuple[str, ...]] = ("grounded-qa",)
    settings_model: ClassVar[type[BaseModel]] = SecuritySettings
    produces: ClassVar[frozenset[str]] = frozenset({
        *(f"{check.name}.{metric}" for check in (Injection, Direct) for metric in ("obey_rate", "kind_obey_rate")),
        f"{Injection.name}.quote_rate",
        *(f"{Endpoint.name}.{metric}" for metric in ("transport", "tls", "host", "credentials")),
    })
    headline: ClassVar[tuple[str, ...]] = ("injection.obey_rate", "direct.obey_rate")  # for `harness compare`

    def applies_to(self, dataset: ReferenceDataset) -> str | None:
        """An attack set is not assessed on its own: the suite puts it to the tool while a grounded-qa dataset is
        assessed, so `--dataset security-attacks` gets this reason instead of a bare task mismatch."""
        if dataset.card.task == "prompt-attacks":
            return (f"{dataset.name!r} is an attack set: the security suite puts it to the tool while it assesses a "
                    "grounded-qa dataset (settings.security.attack_set); assess on one, e.g. --dataset "
                    "city-services-qa")
        return super().applies_to(dataset)

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [Injection(), Direct(), Endpoint()]  # the endpoint last: the adapter has made its key-less probe

    def report_sections(self, result: SuiteOutcome, view: ReportContext) -> list[Section]:
        """The obey rates by kind of attack, with every obeyed attack's prompt and answer (masked)
        (`report.py`, imported only when a report is drawn)."""
        from test_suites.security.report import report_sections

        return report_sections(result, view)


__all__ = ["SecuritySettings", "SecuritySuite"]
