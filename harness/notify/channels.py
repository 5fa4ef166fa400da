"""Sending one notice through one channel. Every failure comes back as a `Delivery` with one sentence saying what
went wrong and where (never an exception), because a notice that cannot be sent must not undo or hide what was
recorded; the caller says so on stderr and, for `harness due --notify`, in the exit code.

No secret is ever in a `Delivery`: SMTP credentials and a webhook's token are read from the environment when the
message is sent (`settings.notify` names the variables), and every error text is scrubbed of their values before
it is returned (`scrub`), since a server may echo what it was sent.
"""
from __future__ import annotations

import email.policy
import os
import smtplib
import ssl
import subprocess
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from harness.notify.events import Notice
from harness.notify.message import body, document, document_bytes, subject
from harness.notify.settings import CommandChannel, EmailChannel, WebhookChannel

MAX_ERROR_CHARS = 300
# headers are not folded below RFC 5322's limit of 998 characters: Python folds a subject longer than 78 before its
# first word, which readers then show with a leading blank
HEADERS = email.policy.SMTP.clone(max_line_length=998)
MAX_WEBHOOK_REPLY_BYTES = 64 << 10  # the reply of a webhook is not read, only its status; a big one is cut off


@dataclass(frozen=True)
class Delivery:
    """One channel's attempt at one notice: `ok`, else `error` (one sentence, without secrets)."""

    channel: str
    kind: str
    ok: bool
    error: str | None = None


class MissingSecret(Exception):
    """An environment variable the policy names for a secret is not set."""


def secret(name: str | None, where: str) -> str | None:
    """The value of the environment variable `name` (None when no variable is named); MissingSecret when it is named
    but not set, since sending without the credentials the City configured would only be refused later."""
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise MissingSecret(f"the environment variable {name} ({where}) is not set")
    return value


def scrub(text: str, names: list[str]) -> str:
    """`text` with the value of every secret variable in `names` replaced by `***`, and cut to MAX_ERROR_CHARS."""
    for name in names:
        value = os.environ.get(name)
        if value and len(value) >= 3:
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."


def send_command(n: Notice, c: CommandChannel) -> Delivery:
    """Run the command with the notice as JSON on stdin; sent when it exits 0 in time."""
    prog = c.argv[0]
    try:
        r = subprocess.run(c.argv, input=document_bytes(n), capture_output=True, timeout=c.timeout_s, shell=False,
                           check=False)
    except FileNotFoundError:
        return Delivery(c.label, c.kind, False, f"the command {prog!r} was not found")
    except PermissionError:
        return Delivery(c.label, c.kind, False, f"the command {prog!r} may not be run (permission denied)")
    except subprocess.TimeoutExpired:
        return Delivery(c.label, c.kind, False, f"the command {prog!r} did not finish within {c.timeout_s:g} s")
    except OSError as e:
        return Delivery(c.label, c.kind, False, f"the command {prog!r} could not be started ({e.strerror or e})")
    if r.returncode != 0:
        said = r.stderr.decode("utf-8", errors="replace").strip().splitlines()
        tail = f": {said[-1]}" if said else ""
        return Delivery(c.label, c.kind, False, f"the command {prog!r} exited with code {r.returncode}{tail}")
    return Delivery(c.label, c.kind, True)


def email_message(n: Notice, c: EmailChannel) -> EmailMessage:
    """The e-mail: subject, plain-text body, the notice's key in a header (for filters and threading)."""
    msg = EmailMessage(policy=HEADERS)
    msg["Subject"] = subject(n)
    msg["From"] = c.sender
    msg["To"] = ", ".join(c.to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=c.sender.rsplit("@", 1)[1])
    msg["X-Harness-Event"] = n.event
    msg["X-Harness-Notice"] = n.key
    msg.set_content(body(n))
    return msg


def send_email(n: Notice, c: EmailChannel) -> Delivery:
    """One message through SMTP: STARTTLS with a verified certificate unless the policy turns it off, then the login
    (from the environment) when one is named."""
    server = f"{c.host}:{c.port}"
    where = f"settings.notify channel {c.label!r}"
    try:
        user = secret(c.username_env, f"{where}, username_env")
        password = secret(c.password_env, f"{where}, password_env")
        with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
            smtp.ehlo()
            if c.starttls:
                if not smtp.has_extn("starttls"):
                    return Delivery(c.label, c.kind, False, (
                        f"the SMTP server {server} does not offer STARTTLS, and the policy asks for it "
                        f"(starttls: true); nothing was sent in clear text"))
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user is not None and password is not None:
                _login(smtp, user, password, server)
            refused = smtp.send_message(email_message(n, c))
    except MissingSecret as e:
        return Delivery(c.label, c.kind, False, f"{e}; nothing was sent")
    except smtplib.SMTPException as e:
        return _smtp_error(c, server, e)
    except ssl.SSLError as e:  # a certificate that does not verify, or a broken handshake: nothing was sent
        why = getattr(e, "verify_message", None) or e.reason or e
        return Delivery(c.label, c.kind, False,
                        f"STARTTLS with the SMTP server {server} failed ({why}); nothing was sent")
    except OSError as e:  # refused, unknown host, timed out: the server is down or the policy names the wrong one
        why = e.strerror or str(e) or type(e).__name__
        return Delivery(c.label, c.kind, False, f"could not reach the SMTP server {server} ({why})")
    if refused:
        return Delivery(c.label, c.kind, False, f"the SMTP server {server} refused recipient(s) {sorted(refused)}")
    return Delivery(c.label, c.kind, True)


class _NoMechanism(smtplib.SMTPException):
    pass


def _login(smtp: smtplib.SMTP, user: str, password: str, server: str) -> None:
    """One login attempt, PLAIN or LOGIN (never CRAM-MD5, whose hash of the password is weak): smtplib's `login` tries
    every mechanism in turn, and a server that drops the connection after a refused first try leaves only a timeout
    to report instead of the refusal."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        raise _NoMechanism(f"offers no PLAIN or LOGIN login (it offers {offered or 'none'}); nothing was sent")
    smtp.user, smtp.password = user, password
    smtp.auth(mechanism, getattr(smtp, f"auth_{mechanism.lower()}"), initial_response_ok=True)


def _smtp_error(c: EmailChannel, server: str, e: smtplib.SMTPException) -> Delivery:
    if isinstance(e, _NoMechanism):
        what = str(e)
    elif isinstance(e, smtplib.SMTPAuthenticationError):
        what = f"refused the login of the user in {c.username_env} (SMTP {e.smtp_code})"
    elif isinstance(e, smtplib.SMTPServerDisconnected):
        what = "closed the connection"
    elif isinstance(e, smtplib.SMTPResponseException):
        said = e.smtp_error.decode("utf-8", errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
        what = f"answered SMTP {e.smtp_code}: {said}"
    else:
        what = f"failed: {e}"
    names = [n for n in (c.username_env, c.password_env) if n]
    return Delivery(c.label, c.kind, False, scrub(f"the SMTP server {server} {what}", names))


def send_webhook(n: Notice, c: WebhookChannel, allowed_hosts: tuple[str, ...]) -> Delivery:
    """POST the notice as JSON through the bounded client, retrying 429 and 5xx as the adapters do; sent on 2xx.
    The endpoint rules are checked again here (the policy's allow-list), so no other path can reach a host the
    policy did not approve."""
    from harness.egress import endpoint_problems
    from harness.tools.transport import client_for, origin, send

    problems = endpoint_problems(c.url, allowed_hosts)
    if problems:
        return Delivery(c.label, c.kind, False, f"not sent: {problems[0].message}")
    try:
        token = secret(c.token_env, f"settings.notify channel {c.label!r}, token_env")
    except MissingSecret as e:
        return Delivery(c.label, c.kind, False, f"{e}; nothing was sent")
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    shown = origin(c.url)
    deadline = c.timeout_s * (c.max_retries + 1) + 5.0
    with client_for(c.url, timeout_s=c.timeout_s) as client:
        sent = send(client, "POST", c.url, read=lambda r: r.status_code, timeout_s=c.timeout_s,
                    max_retries=c.max_retries, backoff_s=0.5, run_at=time.monotonic() + deadline,
                    run_deadline_s=deadline, max_response_bytes=MAX_WEBHOOK_REPLY_BYTES, shown=shown,
                    json=document(n), headers=headers)
    if sent.error is not None:
        return Delivery(c.label, c.kind, False, scrub(f"the webhook {sent.error}" if sent.error.startswith("HTTP")
                                                      else sent.error, [c.token_env] if c.token_env else []))
    return Delivery(c.label, c.kind, True)


def deliver(n: Notice, c: CommandChannel | EmailChannel | WebhookChannel, allowed_hosts: tuple[str, ...],
            secrets: list[str]) -> Delivery:
    """Send `n` through `c`; a failure of any kind, ours included, is a Delivery with the reason (scrubbed)."""
    try:
        if isinstance(c, CommandChannel):
            d = send_command(n, c)
        elif isinstance(c, EmailChannel):
            d = send_email(n, c)
        else:
            d = send_webhook(n, c, allowed_hosts)
    except Exception as e:  # a notice must never undo what was recorded
        d = Delivery(c.label, c.kind, False, f"internal error: {type(e).__name__}: {e}")
    return d if d.error is None else Delivery(d.channel, d.kind, False, scrub(d.error, secrets))


__all__ = ["Delivery", "deliver", "email_message", "scrub", "send_command", "send_email", "send_webhook"]
