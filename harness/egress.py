"""The endpoint rules as pure functions of a URL and an allow-list (policy 1.3, 1.4): TLS except loopback, the host on
`settings.endpoints.allowed_hosts`, no disguised host. What they are and why is told in `harness.tools.endpoint`,
which applies them to the adapters and re-exports every name here.

Kept apart from the adapters' module (which reads a `Policy`) so that the policy itself can apply them when it is
loaded, to the webhooks of `settings.notify` (harness.notify.settings), without an import cycle: this module imports
nothing of the harness.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

POLICY_KEY = "settings.endpoints.allowed_hosts"
SECTION = "1.3"
LOOPBACK_NAMES = frozenset({"localhost"})

Rule = Literal["endpoint-tls", "endpoint-host"]

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_PATTERN = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


@dataclass(frozen=True)
class EndpointProblem:
    """One broken endpoint rule: `rule` is "endpoint-tls" or "endpoint-host"; `message` names the URL's host and
    the policy key, and says how to fix it."""

    rule: Rule
    message: str

    def __str__(self) -> str:
        return self.message


class EndpointSettings(BaseModel):
    """`settings.endpoints` of the policy: the hosts City data may be sent to (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_hosts: list[str] = Field(default_factory=list)

    @field_validator("allowed_hosts")
    @classmethod
    def _plain_hosts(cls, v: list[str]) -> list[str]:
        bad = [h for h in v if pattern_problem(h) is not None]
        if bad:
            raise ValueError("; ".join(f"{h!r}: {pattern_problem(h)}" for h in bad))
        return v


def pattern_problem(entry: str) -> str | None:
    """Why an allow-list entry is not one (None when it is): a host name, an IP address, or `*.` + a host name."""
    if not isinstance(entry, str) or not entry.strip():
        return "an entry must be a host name"
    text = entry.strip()
    if "://" in text or "/" in text or "@" in text:
        return "give the host name alone, without scheme, user, port or path (e.g. scoring.vendor.example)"
    if ":" in text and _ip(text) is None:
        return "give the host name alone, without a port"
    if _ip(text) is not None:
        return None
    if not text.isascii():
        return "write an internationalised name in its xn-- form"
    name = normalise(text)
    if name == "*" or (name.startswith("*.") and "." not in name[2:]):
        return "a wildcard must name a domain of two labels or more (*.example.gov), never a whole top-level domain"
    if not _PATTERN.match(name):
        return "not a host name (letters, digits and hyphens in dot-separated labels; * only as the first label)"
    return None


def normalise(host: str) -> str:
    """A host as compared: lower case, one trailing dot (the DNS root) removed."""
    host = host.strip().lower()
    return host[:-1] if host.endswith(".") and not host.endswith("..") else host


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """True for this machine's loopback: `localhost`, 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z, which is 127.x.y.z).
    Other spellings of a loopback address (`127.1`, `2130706433`) are not recognised and are treated as remote
    hosts, which fails closed."""
    name = normalise(host)
    if name in LOOPBACK_NAMES:
        return True
    ip = _ip(name)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """True when `host` (already normalised, ASCII) is loopback or matches an allow-list entry."""
    if is_loopback(host):
        return True
    for entry in allowed_hosts:
        pattern = normalise(entry)
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def url_host(url: str) -> tuple[str | None, str | None]:
    """(scheme, host) as the HTTP client will connect, host normalised and in its ASCII (`xn--`) form; a
    ValueError saying why when the URL cannot be read or disguises its host."""
    from urllib.parse import urlsplit

    import httpx  # the client's own parser: the host checked is the host connected to

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        raise ValueError(f"is not a URL the harness can read ({e})") from None
    if parsed.userinfo:
        raise ValueError("carries a user name or password before its host (user@host), which hides the host it "
                         "goes to; give the API key through adapter.api_key_env, never in the URL")
    try:
        host = normalise(parsed.raw_host.decode("ascii"))
    except UnicodeDecodeError:
        raise ValueError("has a host that is not a plain host name") from None
    if not host:
        raise ValueError("names no host")
    if _ip(host) is None and not _NAME.match(host):
        raise ValueError(f"has the host {host!r}, which is not a plain host name or IP address")
    try:
        other = urlsplit(url).hostname
        seen = None if other is None else normalise(other if other.isascii() else other.encode("idna").decode("ascii"))
    except (ValueError, UnicodeError):
        other, seen = None, None
    if seen != host:
        raise ValueError(f"reads as host {host!r} to the HTTP client but as {other!r} to Python's URL parser; "
                         f"write the URL plainly")
    return parsed.scheme.lower(), host


def endpoint_problems(url: str, allowed_hosts: Sequence[str]) -> list[EndpointProblem]:
    """Every endpoint rule the URL breaks under the allow-list `allowed_hosts` (empty: only loopback is allowed);
    [] when data may be sent to it. Static: nothing is resolved or connected."""
    try:
        scheme, host = url_host(url)
    except ValueError as e:
        return [EndpointProblem("endpoint-host", f"the endpoint URL {e}; data is sent only to a host on {POLICY_KEY} "
                                                 f"(policy 1.3, 1.4)")]
    assert host is not None
    out: list[EndpointProblem] = []
    loopback = is_loopback(host)
    if scheme != "https" and not (scheme == "http" and loopback):
        out.append(EndpointProblem("endpoint-tls", (
            f"the endpoint host {host} is reached over {scheme}://, in clear text; City data leaves this machine "
            f"only over TLS: use https:// (plain http:// is allowed for loopback only, whatever {POLICY_KEY} says; "
            f"policy 1.3, 1.4)")))
    if not host_allowed(host, allowed_hosts):
        listed = f"{POLICY_KEY} lists {list(allowed_hosts)}" if allowed_hosts else \
            f"{POLICY_KEY} is empty, so only loopback is allowed"
        out.append(EndpointProblem("endpoint-host", (
            f"the endpoint host {host} is not on the policy's allow-list ({listed}); sending City data to a host "
            f"the City has not approved is a data egress (policy 1.3, 1.4): add the host to {POLICY_KEY} in the "
            f"policy, or correct the URL")))
    return out


__all__ = ["LOOPBACK_NAMES", "POLICY_KEY", "SECTION", "EndpointProblem", "EndpointSettings", "Rule",
           "endpoint_problems", "host_allowed", "is_loopback", "normalise", "pattern_problem", "url_host"]
