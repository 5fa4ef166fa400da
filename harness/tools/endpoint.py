"""Endpoint rules (policy 1.3, 1.4): City data leaves this machine only for a host the City has approved, and
only over TLS with a verified certificate.

Every adapter that sends data to a URL (`openai`, `http`) calls `require_endpoint` when it is built, before any
request is made, so a manifest naming `http://vendor.example` or a host off the allow-list is bad input (exit 2,
rule `endpoint-tls` or `endpoint-host`, policy section 1.3) and nothing is sent. The rules are static, read from
the URL alone:

- **TLS**: `https://` for every host but this machine's loopback (127.0.0.0/8, ::1, `localhost`), where a test
  server or a vendor's local development server runs; there plain `http://` is allowed.
- **Allow-list**: the host must be on `settings.endpoints.allowed_hosts` of the policy: exact host names
  (`scoring.vendor.example`), or `*.example.gov` for any subdomain of `example.gov` (not `example.gov` itself:
  list it too if it is meant). Case and a trailing dot do not matter; the port does not either. Loopback is
  always allowed. Internationalised names are compared in their `xn--` form, so a look-alike letter is
  another host.
- **No disguise**: a URL carrying a user name before its host (`https://example.gov@evil.com/` goes to
  `evil.com`), a host that is not a plain name or IP address (`%`-escapes, blanks), or a URL the client's own
  parser (httpx) and Python's `urllib` read as different hosts is refused: the host checked must be the host
  connected to. Credentials go in `api_key_env`, never in a URL.
- **Certificates are always verified**: no adapter config has a `verify` switch (a manifest giving one is an
  unknown field), and a redirect is never followed, so the host checked here is the only host data is sent
  to (`harness.tools.transport`).

Why a harness section (`settings.endpoints`) and not the security suite's settings (`settings.security`, as issue
14 first wrote it): the adapters enforce the allow-list when they are built, for every assessment, and egress
control must not depend on whether a suite happens to be installed or selected with `--suite`. The security
suite reports the same facts through `endpoint_problems` (public, in `harness.api`).

The rules themselves are pure functions of a URL and an allow-list, in `harness.egress` (re-exported here), so the
policy can hold the webhooks of `settings.notify` to them when it is loaded (issue 15) without an import cycle; this
module applies them to a `Policy` and to the adapters.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.egress import (
    LOOPBACK_NAMES,
    POLICY_KEY,
    SECTION,
    EndpointProblem,
    EndpointSettings,
    Rule,
    endpoint_problems,
    host_allowed,
    is_loopback,
    normalise,
    pattern_problem,
    url_host,
)
from harness.errors import ToolConfigError

if TYPE_CHECKING:
    from harness.policy import Policy

# why an adapter did not ask the endpoint anything without credentials; here, not in the transport, so the security
# suite can name it without importing the HTTP client (httpx brings trio and pygments: 0.3 s of every assessment's
# policy check, which imports every suite)
NO_KEY_NAMED = "no API key is named (adapter.api_key_env), so none was withheld"


def allowed_hosts(policy: Policy | None) -> tuple[str, ...]:
    """The policy's allow-list, validated (a ToolConfigError naming the bad entry); the packaged default policy's
    when `policy` is None, so a tool loaded without one is held to the City's defaults, never to none."""
    if policy is None:
        from harness.policy import load_policy

        policy = load_policy()
    from pydantic import ValidationError

    try:
        settings = EndpointSettings.model_validate(policy.settings.get("endpoints", {}))
    except ValidationError as e:
        first = e.errors()[0]
        raise ToolConfigError(f"policy {policy.name!r}: settings.endpoints is not valid: "
                              f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", rule="endpoint-host",
                              section=SECTION, detail=POLICY_KEY) from None
    return tuple(settings.allowed_hosts)


def endpoint_field(adapter: object) -> tuple[str, str] | None:
    """The adapter field naming where City data is sent and its URL: ("base_url", URL) for openai, ("url", URL) for
    http; None for an adapter that sends nothing over the network."""
    for field in ("base_url", "url"):
        value = getattr(adapter, field, None)
        if isinstance(value, str) and value:
            return field, value
    return None


def require_endpoint(url: str, policy: Policy | None, *, tool_id: str) -> None:
    """Refuse (ToolConfigError, exit 2, `rule` "endpoint-tls" or "endpoint-host", `section` "1.3", `detail` the
    host) a URL that breaks an endpoint rule under `policy` (None: the packaged default policy); called by each
    network adapter when it is built, before any request."""
    problems = endpoint_problems(url, allowed_hosts(policy))
    if problems:
        try:
            host: str | None = url_host(url)[1]
        except ValueError:
            host = None
        raise ToolConfigError(f"tool manifest {tool_id!r}: " + "; and ".join(p.message for p in problems),
                              rule=problems[0].rule, section=SECTION, detail=host)


__all__ = ["LOOPBACK_NAMES", "NO_KEY_NAMED", "POLICY_KEY", "SECTION", "EndpointProblem", "EndpointSettings", "Rule",
           "allowed_hosts", "endpoint_field", "endpoint_problems", "host_allowed", "is_loopback", "normalise",
           "pattern_problem", "require_endpoint", "url_host"]
