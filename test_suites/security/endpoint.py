"""The `endpoint` check: where City data goes when the tool is asked a question, and whether that door is locked
(policy 1.3 "authentication", 1.4 "the City's data stays under the City's control"; OWASP LLM02).

The rules themselves are the harness's (`harness.tools.endpoint`): the network adapters refuse, before anything
is sent, an endpoint without TLS (other than loopback), with a certificate that does not verify, or on a host
off the policy's allow-list (`settings.endpoints.allowed_hosts`). So a tool that reached this check already
passed them; the check puts that on the record as findings a reviewer can read (which host, on which rule), and
adds what only a run can tell: whether the endpoint answered the adapter's one request without the API key the
manifest names. An endpoint anyone can call, with City data or a resident's question, fails (blocking).

A tool the harness does not reach over the network (a Python function, a file of answers) gets the check
SKIPPED as not applicable, as does a manifest that names no key (nothing was withheld, so nothing is known).
"""
from __future__ import annotations

from typing import Any

from harness.check import Check, CheckContext, CheckOutput
from harness.findings import Finding, Severity, Status
from harness.tools.endpoint import (
    NO_KEY_NAMED,
    POLICY_KEY,
    allowed_hosts,
    endpoint_field,
    endpoint_problems,
    url_host,
)

SUITE = "security"


def endpoint_url(adapter: Any) -> str | None:
    """The URL the tool's adapter sends data to: `base_url` (openai) or `url` (http); None for the others."""
    found = endpoint_field(adapter)
    return found[1] if found else None


class Endpoint(Check):
    """The endpoint's host, transport and lock, as findings (policy 1.3, 1.4)."""

    name = "endpoint"
    description = ("TLS and a verified certificate for any host but loopback, the host on the policy's allow-list "
                   "(settings.endpoints.allowed_hosts), and no answer to a request without the API key.")
    policy_section = "1.3"

    def run(self, ctx: CheckContext) -> CheckOutput:
        adapter = ctx.manifest.adapter
        base: dict[str, Any] = {"suite": SUITE, "check": self.name, "dataset": ctx.dataset.name,
                                "policy_section": self.policy_section,
                "severity": Severity.BLOCKING}
        url = endpoint_url(adapter)
        if url is None:
            kind = getattr(adapter, "kind", "?")
            return CheckOutput(findings=[Finding(
                **base, metric="transport", status=Status.SKIPPED, details={"not_applicable": True, "kind": kind},
                message=f"the tool (adapter kind {kind!r}) is not called over the network: no endpoint to check")])
        from harness.tools.transport import origin  # the HTTP client only for a tool reached over the network

        hosts = allowed_hosts(ctx.policy)
        problems = endpoint_problems(url, hosts)
        try:
            scheme, host = url_host(url)
        except ValueError:
            scheme, host = None, None
        where = origin(url) if host else "the endpoint"
        findings = [Finding(**base, metric=p.rule.removeprefix("endpoint-"), status=Status.FAIL, message=p.message,
                            details={"host": host, "rule": p.rule, "allowed_hosts": list(hosts)})
                    for p in problems]
        if not problems:
            how = "plain HTTP on loopback (this machine)" if scheme == "http" else "TLS with a verified certificate"
            allowed = "loopback" if scheme == "http" or not hosts else POLICY_KEY
            findings.append(Finding(
                **base, metric="transport", status=Status.PASS, details={"host": host, "allowed_hosts": list(hosts)},
                message=f"{where}: {how}, and the host is allowed ({allowed})"))
        findings.append(self._credentials(ctx.tool, base, where))
        return CheckOutput(findings=findings)

    @staticmethod
    def _credentials(tool: Any, base: dict[str, Any], where: str) -> Finding:
        answered = getattr(tool, "answers_without_credentials", None)
        why = str(getattr(tool, "credentials_probe", "") or "the adapter did not say")
        if answered is True:
            return Finding(**base, metric="credentials", status=Status.FAIL, details={"probe": why},
                           message=(f"{why}: anyone who can reach {where} can use the tool and whatever it holds "
                                    f"(policy 1.3: authentication)"))
        if answered is False:
            return Finding(**base, metric="credentials", status=Status.PASS, details={"probe": why}, message=why)
        return Finding(**base, metric="credentials", status=Status.SKIPPED,
                       details={"probe": why, "not_applicable": why == NO_KEY_NAMED},
                       message=f"whether {where} answers without credentials is not known: {why}")


__all__ = ["Endpoint", "endpoint_url"]
