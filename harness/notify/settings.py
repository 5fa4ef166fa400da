"""`settings.notify` of the policy: who is told, and how, when a tool FAILs, is suspended, or its approval, waiver
or re-assessment date comes near (issue 15, section 4; policy 4.2 "tools that fail the assessment may not be used",
4.3 regular re-assessment).

Off by default: a policy without `settings.notify`, or with no channels, sends nothing. Three kinds of channel:

- `command`: an argv list run without a shell (`["/usr/local/bin/page-oncall", "--team", "dti"]`); the notice is its
  standard input, as JSON. A command, not a shell line, so no value of a notice (a tool name, a reason) can become
  shell syntax.
- `email`: SMTP to `host`:`port` from `from` to `to`, with STARTTLS unless `starttls: false`. The user name and
  password are read from the environment variables the policy names (`username_env`, `password_env`) when a message
  is sent, never written in the policy, a record or a log. Credentials are never sent over a connection that is
  not encrypted: `username_env` without STARTTLS is refused unless the server is this machine's loopback.
- `webhook`: an HTTPS POST of the notice as JSON, held to the endpoint rules every adapter is held to
  (`harness.tools.endpoint`, whose rules are `harness.egress`: https except loopback, the host on
  `settings.endpoints.allowed_hosts`, no disguised host), through the bounded client of `harness.tools.transport`
  (a deadline per request, a capped reply, no redirect followed). A bearer token comes from the environment
  variable `token_env` names.

A webhook to a host off the allow-list is refused when the policy is loaded (`Policy` calls `notify_problems`), so
a policy that would send notices somewhere the City has not approved is never in force.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.egress import endpoint_problems, is_loopback, url_host

EventKind = Literal["fail", "suspended", "waiver-lapsing", "approval-lapsing", "reassessment-overdue"]
EVENTS: tuple[str, ...] = ("fail", "suspended", "waiver-lapsing", "approval-lapsing", "reassessment-overdue")
"""What a notice is about: an assessment whose verdict is FAIL; a suspension; a waiver that lapses (its expiry)
within `lapse_days`; an approval whose gate closes within `lapse_days` because its re-assessment is overdue past
`settings.gate.overdue_grace_days`; a re-assessment whose due date (policy 4.3) has passed."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def _env_name(v: str | None) -> str | None:
    if v is not None and not _ENV_NAME.match(v):
        raise ValueError(f"{v!r} is not an environment variable name (letters, digits and _): the policy names the "
                         "variable that holds the secret, never the secret itself")
    return v


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str | None = None  # how the sent-log and messages name it; default: its kind (unique per policy)
    # the events this channel is told of; default: the section's `events`. Not `on`: YAML 1.1 reads `on` as true
    events: list[EventKind] | None = None

    @property
    def label(self) -> str:
        return self.name or str(getattr(self, "kind", "channel"))


class CommandChannel(_Channel):
    """Run `argv` (no shell); the notice as JSON on its standard input. Sent when it exits 0 within `timeout_s`."""

    kind: Literal["command"]
    argv: list[str] = Field(min_length=1)
    timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("argv")
    @classmethod
    def _program(cls, v: list[str]) -> list[str]:
        if not v[0].strip():
            raise ValueError("argv[0] must name the program to run")
        return v


class EmailChannel(_Channel):
    """One e-mail per notice, through the SMTP server at `host`:`port`."""

    kind: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        if not _ADDRESS.match(v):
            raise ValueError(f"{v!r} is not an e-mail address (name@domain)")
        return v

    @field_validator("to")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not _ADDRESS.match(a)]
        if bad:
            raise ValueError(f"{bad} {'is not an e-mail address' if len(bad) == 1 else 'are not e-mail addresses'} "
                             "(name@domain)")
        return v

    @field_validator("username_env", "password_env")
    @classmethod
    def _envs(cls, v: str | None) -> str | None:
        return _env_name(v)

    @model_validator(mode="after")
    def _credentials_encrypted(self) -> EmailChannel:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together: name both environment variables, or neither")
        if self.username_env is not None and not self.starttls and not is_loopback(self.host):
            raise ValueError(f"a password would be sent to {self.host} without encryption: set starttls: true (the "
                             "harness sends credentials only over STARTTLS, or to this machine's loopback)")
        return self


class WebhookChannel(_Channel):
    """POST the notice as JSON to `url` (held to the endpoint rules, `harness.tools.endpoint`)."""

    kind: Literal["webhook"]
    url: str
    token_env: str | None = None  # sent as `Authorization: Bearer <value>`
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_retries: int = Field(2, ge=0, le=5, strict=True)

    @field_validator("url")
    @classmethod
    def _readable(cls, v: str) -> str:
        try:
            url_host(v)
        except ValueError as e:
            raise ValueError(f"the webhook URL {e}") from None
        tls = [p.message for p in endpoint_problems(v, ()) if p.rule == "endpoint-tls"]
        if tls:
            raise ValueError(tls[0].replace("the endpoint host", "the webhook host"))
        return v

    @field_validator("token_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        return _env_name(v)


Channel = Annotated[CommandChannel | EmailChannel | WebhookChannel, Field(discriminator="kind")]


class NotifySettings(BaseModel):
    """`settings.notify` (see the module docstring). `lapse_days` is N in "lapsing within N days"; `repeat_days`
    re-sends a due notice (a lapse, an overdue re-assessment) that still stands after that many days (None: a notice
    is sent once per channel, however often `harness due --notify` runs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[EventKind] = Field(default_factory=lambda: cast("list[EventKind]", list(EVENTS)))
    lapse_days: int = Field(14, ge=0, le=365, strict=True)
    repeat_days: int | None = Field(None, ge=1, le=365, strict=True)
    channels: list[Channel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> NotifySettings:
        labels = [c.label for c in self.channels]
        twice = sorted({n for n in labels if labels.count(n) > 1})
        if twice:
            raise ValueError(f"two or more channels are called {twice}: give each its own `name` (the sent-log "
                             "tells channels apart by name)")
        return self

    def channels_for(self, event: str) -> list[CommandChannel | EmailChannel | WebhookChannel]:
        """The channels told of `event`: those whose own `events` (else the section's) lists it."""
        return [c for c in self.channels if event in (c.events if c.events is not None else self.events)]

    def secret_names(self) -> list[str]:
        """The environment variables holding secrets: their values are scrubbed from every message and record."""
        out: list[str] = []
        for c in self.channels:
            if isinstance(c, EmailChannel):
                out += [n for n in (c.username_env, c.password_env) if n]
            elif isinstance(c, WebhookChannel) and c.token_env:
                out.append(c.token_env)
        return out


def check_webhooks(settings: NotifySettings, allowed_hosts: list[str] | tuple[str, ...]) -> list[str]:
    """Why each webhook may not be called under the policy's allow-list (`settings.endpoints.allowed_hosts`): one
    sentence per channel, [] when every webhook's host is allowed."""
    out = []
    for i, c in enumerate(settings.channels):
        if isinstance(c, WebhookChannel):
            for p in endpoint_problems(c.url, allowed_hosts):
                out.append(f"settings.notify.channels.{i} ({c.label}): "
                           + p.message.replace("the endpoint host", "the webhook host").replace(
                               "sending City data to a host", "sending notices to a host"))
    return out


def notify_problems(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of a policy's `settings.notify`, each naming its key ("settings.notify.channels.0.url: ..."):
    the section against `NotifySettings`, then each webhook against the same policy's allow-list. [] when it is
    valid or absent. What `Policy` runs when a policy is loaded."""
    from pydantic import ValidationError

    from harness.egress import EndpointSettings

    if "notify" not in settings:
        return []
    try:
        notify = notify_settings(settings)
    except ValidationError as e:
        out = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            if len(loc) >= 3 and loc[0] == "channels" and loc[2] in ("command", "email", "webhook"):
                del loc[2]  # the union's tag, which is not a key of the file
            msg = "is not a known field (check the spelling)" if err["type"] == "extra_forbidden" else \
                err["msg"].removeprefix("Value error, ")
            out.append(f"settings.notify{''.join('.' + p for p in loc)}: {msg}")
        return out
    try:
        hosts = EndpointSettings.model_validate(settings.get("endpoints", {})).allowed_hosts
    except ValidationError:
        return []  # the endpoints section's own problems are reported for it (harness.policy_check)
    return check_webhooks(notify, hosts)


def notify_settings(settings: Mapping[str, Any]) -> NotifySettings:
    """The policy's `settings.notify`, validated (pydantic's ValidationError when it is not valid)."""
    return NotifySettings.model_validate(settings.get("notify", {}))


__all__ = ["EVENTS", "Channel", "CommandChannel", "EmailChannel", "EventKind", "NotifySettings", "WebhookChannel",
           "check_webhooks", "notify_problems", "notify_settings"]
