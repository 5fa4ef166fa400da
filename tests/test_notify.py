"""Notifications (issue 15, section 4): `settings.notify` validated when the policy loads, the words of each notice,
and each channel against a real server started here on 127.0.0.1: an SMTP server (aiosmtpd), a webhook receiver
(`harness.testing.WebhookServer`) and a command. Adversarial cases: a webhook to a host off the allow-list, a
password in clear text, an SMTP server that is down or offers no STARTTLS, a webhook that fails, a command that is
missing or fails; and no secret in any output. The store side (the sent-log, `harness due --notify`, the FAIL and
suspension hooks) is tests/test_notify_store.py."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import __version__
from harness.errors import ConfigError
from harness.notify.channels import deliver, send_command, send_email, send_webhook
from harness.notify.events import Notice
from harness.notify.message import body, document, subject
from harness.notify.settings import NotifySettings, notify_problems
from harness.policy import Policy, load_policy
from harness.testing import Fault, WebhookServer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEXT = (ROOT / "harness" / "policies" / "default.yaml").read_text()
RUN = "0123456789abcdef0123456789abcdef"
WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)

FAIL = Notice(event="fail", tool="rentrank", version="2.1.0", name="RentRank", department="Housing",
              risk_tier="high", at=WHEN, key=f"fail:rentrank:2.1.0:{RUN}", verdict="FAIL", run_id=RUN,
              reason="pre-acquisition assessment",
              reasons=("bias: adverse impact ratio 0.62 by race, below 0.8 (policy 4.3)",))
WAIVER = Notice(event="waiver-lapsing", tool="rentrank", version="2.1.0", name="RentRank", department="Housing",
                risk_tier="high", at=WHEN, key="waiver-lapsing:rentrank:2.1.0:7", verdict="FAIL", run_id=RUN,
                lapses=datetime(2026, 12, 10, tzinfo=UTC), by="chief-omar", reason="caseworker reviews every denial")


def policy_with(notify: dict[str, Any], allowed: list[str] | None = None) -> Policy:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["settings"]["notify"] = notify
    if allowed is not None:
        data["settings"]["endpoints"]["allowed_hosts"] = allowed
    return Policy.model_validate(data)


def load_with(tmp_path: Path, notify: dict[str, Any], allowed: list[str] | None = None) -> Policy:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["settings"]["notify"] = notify
    if allowed is not None:
        data["settings"]["endpoints"]["allowed_hosts"] = allowed
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_policy(path)


# -- settings: off by default, documented, validated at load --------------------------------------------------------


def test_notifications_are_off_by_default_and_the_default_policy_documents_them() -> None:
    assert "notify" not in load_policy().settings  # the packaged policy sends nothing (and its digest is unchanged)
    lines = DEFAULT_TEXT.split("  # notify:\n", 1)[1].splitlines()
    example = "notify:\n" + "\n".join(ln.removeprefix("  # ") for ln in lines[:lines.index(next(
        ln for ln in lines if not ln.startswith("  #")))])
    section = yaml.safe_load(example)["notify"]
    settings = NotifySettings.model_validate(section)
    assert [c.kind for c in settings.channels] == ["email", "webhook", "command"]
    defaults = NotifySettings().model_dump()
    assert {k: section[k] for k in ("events", "lapse_days", "repeat_days")} == {
        k: defaults[k] for k in ("events", "lapse_days", "repeat_days")}
    assert settings.secret_names() == ["HARNESS_SMTP_USER", "HARNESS_SMTP_PASSWORD", "HARNESS_WEBHOOK_TOKEN"]
    # the example's webhook host must be on the allow-list, like any other
    assert notify_problems({"notify": section, "endpoints": {"allowed_hosts": ["hooks.city.example"]}}) == []
    assert len(notify_problems({"notify": section})) == 1


def test_a_webhook_to_a_host_off_the_allow_list_is_refused_when_the_policy_loads(tmp_path: Path) -> None:
    notify = {"channels": [{"kind": "webhook", "url": "https://hooks.evil.example/x"}]}
    with pytest.raises(ConfigError) as e:
        load_with(tmp_path, notify, allowed=["hooks.city.example"])
    line = (tmp_path / "policy.yaml").read_text().splitlines().index("settings:") + 1
    assert str(e.value) == (
        f"policy file {tmp_path / 'policy.yaml'} has 1 problem(s):\n  - settings (line {line}): "
        "settings.notify.channels.0 (webhook): the webhook host hooks.evil.example is not on the policy's allow-list "
        "(settings.endpoints.allowed_hosts lists ['hooks.city.example']); sending notices to a host the City has not "
        "approved is a data egress (policy 1.3, 1.4): add the host to settings.endpoints.allowed_hosts in the policy, "
        "or correct the URL")
    # a look-alike by user-info and plain http are refused too; the allowed host, and loopback over http, load
    with pytest.raises(ConfigError, match=r"settings\.notify\.channels\.0\.url: the webhook URL carries a user name"):
        load_with(tmp_path, {"channels": [{"kind": "webhook", "url": "https://hooks.city.example@evil.example/"}]},
                  allowed=["hooks.city.example"])
    with pytest.raises(ConfigError, match=r"channels\.0\.url: the webhook host hooks\.city\.example is reached over "
                                          r"http://, in clear text"):
        load_with(tmp_path, {"channels": [{"kind": "webhook", "url": "http://hooks.city.example/x"}]},
                  allowed=["hooks.city.example"])
    assert load_with(tmp_path, {"channels": [{"kind": "webhook", "url": "https://hooks.city.example/x"}]},
                     allowed=["hooks.city.example"]).settings["notify"]
    assert load_with(tmp_path, {"channels": [{"kind": "webhook", "url": "http://127.0.0.1:9/x"}]})


@pytest.mark.parametrize(("channel", "message"), [
    ({"kind": "email", "host": "smtp.city.example", "from": "a@city.example", "to": ["b@city.example"],
      "starttls": False, "username_env": "U", "password_env": "P"},
     "settings.notify.channels.0: a password would be sent to smtp.city.example without encryption: set starttls: "
     "true (the harness sends credentials only over STARTTLS, or to this machine's loopback)"),
    ({"kind": "email", "host": "smtp.city.example", "from": "a@city.example", "to": ["b@city.example"],
      "password_env": "hunter2!"},
     "settings.notify.channels.0.password_env: 'hunter2!' is not an environment variable name (letters, digits and "
     "_): the policy names the variable that holds the secret, never the secret itself"),
    ({"kind": "email", "host": "smtp.city.example", "from": "a@city.example", "to": ["dti"]},
     "settings.notify.channels.0.to: ['dti'] is not an e-mail address (name@domain)"),
    ({"kind": "command", "argv": ["notify"], "shell": True},
     "settings.notify.channels.0.shell: is not a known field (check the spelling)"),
    ({"kind": "pager", "number": "555"},
     "settings.notify.channels.0: Input tag 'pager' found using 'kind' does not match any of the expected tags: "
     "'command', 'email', 'webhook'"),
])
def test_a_bad_channel_is_refused_with_its_key(channel: dict[str, Any], message: str) -> None:
    assert notify_problems({"notify": {"channels": [channel]}}) == [message]


def test_channel_names_are_unique_and_events_are_known() -> None:
    two = [{"kind": "command", "argv": ["a"]}, {"kind": "command", "argv": ["b"]}]
    assert notify_problems({"notify": {"channels": two}}) == [
        "settings.notify: two or more channels are called ['command']: give each its own `name` (the sent-log tells "
        "channels apart by name)"]
    assert notify_problems({"notify": {"channels": [two[0], {**two[1], "name": "pager"}]}}) == []
    assert notify_problems({"notify": {"events": ["fial"]}})[0].startswith(
        "settings.notify.events.0: Input should be 'fail'")
    s = NotifySettings.model_validate({"events": ["fail"], "channels": [
        {"kind": "command", "argv": ["a"]}, {"kind": "command", "name": "all", "argv": ["b"],
                                             "events": ["fail", "waiver-lapsing"]}]})
    assert [c.label for c in s.channels_for("fail")] == ["command", "all"]
    assert [c.label for c in s.channels_for("waiver-lapsing")] == ["all"]
    assert s.channels_for("suspended") == []


# -- the words --------------------------------------------------------------------------------------------------------


def test_the_subject_and_body_of_each_notice() -> None:
    assert subject(FAIL) == "[AI Risk Harness] FAIL: RentRank (rentrank 2.1.0) failed its assessment"
    assert body(FAIL) == (
        "Tool: RentRank (rentrank)\nVersion: 2.1.0\nDepartment: Housing\nRisk tier: high\nVerdict: FAIL\n"
        f"Run: {RUN}\nDate: 2026-12-01 09:30 UTC\n\n"
        "The pre-acquisition assessment of rentrank 2.1.0 ended with verdict FAIL.\n"
        "A tool that fails its assessment may not be used unless remediated (policy 4.2).\n"
        "Reasons:\n  - bias: adverse impact ratio 0.62 by race, below 0.8 (policy 4.3)\n"
        f"Read the report: harness report {RUN}\n\n"
        f"-- sent by the AI Risk Harness {__version__} (settings.notify of the policy in force)\n")
    assert subject(WAIVER) == "[AI Risk Harness] Waiver of RentRank (rentrank 2.1.0) lapses on 2026-12-10"
    assert "Lapses: 2026-12-10\n" in body(WAIVER)
    assert ("The waiver of rentrank 2.1.0 (by chief-omar, on run " + RUN + ") lapses on 2026-12-10; from then on the "
            "gate is closed (policy 4.2).\nConditions: caseworker reviews every denial\n") in body(WAIVER)
    due = datetime(2027, 3, 1, tzinfo=UTC)
    overdue = Notice(event="reassessment-overdue", tool="t", version="1", name="", department="D", risk_tier="low",
                     at=WHEN, key="k", run_id=RUN, due=due, lapses=datetime(2027, 3, 31, tzinfo=UTC))
    assert subject(overdue) == "[AI Risk Harness] Re-assessment of t 1 overdue since 2027-03-01"
    lapsing = Notice(**{**overdue.__dict__, "event": "approval-lapsing"})
    assert subject(lapsing) == "[AI Risk Harness] Approval of t 1 lapses on 2027-03-31 unless re-assessed"
    doc = document(FAIL)
    assert (doc["schema"], doc["event"], doc["tool"], doc["version"], doc["verdict"], doc["run_id"], doc["at"]) == (
        "harness.notice/1", "fail", "rentrank", "2.1.0", "FAIL", RUN, "2026-12-01T09:30:00+00:00")
    assert (doc["subject"], doc["text"], doc["harness_version"]) == (subject(FAIL), body(FAIL), __version__)


def test_personal_data_in_a_reason_is_masked() -> None:
    from harness.notify.events import _short

    assert "jane.doe@example.org" not in _short("a tool error quoting jane.doe@example.org and 555-867-5309")


# -- e-mail against a real SMTP server -----------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the aiosmtpd server received: (mail from, rcpt tos, raw message) and the logins it accepted or refused."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    inbox = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = (data.login, data.password) == (b"harness-mailer", b"pw-Zq8-never-shown")
        inbox.logins.append((data.login.decode(), mechanism, ok))
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_channel(port: int, **kw: Any) -> Any:
    from harness.notify.settings import EmailChannel

    return EmailChannel.model_validate({"kind": "email", "host": "127.0.0.1", "port": port,
                                        "from": "harness@city.example", "to": ["dti@city.example",
                                                                               "housing@city.example"],
                                        "starttls": False, "timeout_s": 5, **kw})


def test_an_email_reaches_a_real_smtp_server_with_its_exact_content(smtp: tuple[Inbox, int],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port = smtp
    monkeypatch.setenv("MAIL_USER", "harness-mailer")
    monkeypatch.setenv("MAIL_PASSWORD", "pw-Zq8-never-shown")
    c = mail_channel(port, username_env="MAIL_USER", password_env="MAIL_PASSWORD")
    d = send_email(FAIL, c)
    assert (d.ok, d.error) == (True, None)
    assert inbox.logins == [("harness-mailer", "PLAIN", True)]
    [(sender, rcpts, raw)] = inbox.messages
    assert (sender, rcpts) == ("harness@city.example", ["dti@city.example", "housing@city.example"])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "[AI Risk Harness] FAIL: RentRank (rentrank 2.1.0) failed its assessment"
    assert (msg["From"], msg["To"]) == ("harness@city.example", "dti@city.example, housing@city.example")
    assert (msg["X-Harness-Event"], msg["X-Harness-Notice"]) == ("fail", FAIL.key)
    assert msg.get_content().replace("\r\n", "\n") == body(FAIL)  # CRLF on the wire, as SMTP has it
    assert b"pw-Zq8-never-shown" not in raw


def test_a_wrong_password_and_a_missing_variable_are_one_clear_error_without_the_secret(
        smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port = smtp
    c = mail_channel(port, username_env="MAIL_USER", password_env="MAIL_PASSWORD")
    monkeypatch.delenv("MAIL_PASSWORD", raising=False)
    monkeypatch.setenv("MAIL_USER", "harness-mailer")
    d = send_email(FAIL, c)
    assert d.error == ("the environment variable MAIL_PASSWORD (settings.notify channel 'email', password_env) is not "
                       "set; nothing was sent")
    monkeypatch.setenv("MAIL_PASSWORD", "pw-wrong-Yk2")
    d = deliver(FAIL, c, (), ["MAIL_USER", "MAIL_PASSWORD"])
    assert d.error is not None and d.error.startswith(
        f"the SMTP server 127.0.0.1:{port} refused the login of the user in MAIL_USER (SMTP 535)")
    assert "pw-wrong-Yk2" not in d.error and inbox.messages == []


def test_an_smtp_server_that_is_down_gives_one_clear_error() -> None:
    port = free_port()  # nothing listens there
    d = deliver(FAIL, mail_channel(port), (), [])
    assert (d.ok, d.channel, d.kind, d.error) == (
        False, "email", "email", f"could not reach the SMTP server 127.0.0.1:{port} (Connection refused)")


def test_starttls_asked_for_but_not_offered_sends_nothing(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    d = send_email(FAIL, mail_channel(port, starttls=True))
    assert d.error == (f"the SMTP server 127.0.0.1:{port} does not offer STARTTLS, and the policy asks for it "
                       "(starttls: true); nothing was sent in clear text")
    assert inbox.messages == []


# -- webhook against a real HTTP server ------------------------------------------------------------------------------


def hook(url: str, **kw: Any) -> Any:
    from harness.notify.settings import WebhookChannel

    return WebhookChannel.model_validate({"kind": "webhook", "url": url, "timeout_s": 5, **kw})


def test_a_webhook_receives_the_notice_as_json_with_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "tok-Hq3-never-shown")
    server = WebhookServer(api_key="tok-Hq3-never-shown", faults=[Fault.error("", status=503, times=1)])
    with server:
        d = send_webhook(WAIVER, hook(server.url, token_env="HOOK_TOKEN", max_retries=1), ())
        assert (d.ok, d.error) == (True, None)
        [got] = server.received
        assert server.attempts["/hook"] == 2  # a 503, retried once
        assert got.body == json.loads(json.dumps(document(WAIVER)))
        assert got.body["lapses"] == "2026-12-10T00:00:00+00:00" and got.headers["authorization"] == (
            "Bearer tok-Hq3-never-shown")
        monkeypatch.setenv("HOOK_TOKEN", "tok-wrong")
        d = send_webhook(WAIVER, hook(server.url, token_env="HOOK_TOKEN"), ())
        assert d.error == f"the webhook HTTP 401 from {server.origin}: Incorrect API key provided."


def test_a_webhook_that_keeps_failing_or_redirects_is_one_clear_error() -> None:
    with WebhookServer(faults=[Fault.error("", status=500)]) as origin:
        d = send_webhook(FAIL, hook(origin + "/hook", max_retries=1), ())
    assert d.error == (f"the webhook HTTP 500 from {origin}: injected fault: HTTP 500; gave up after 2 attempts")
    with WebhookServer(faults=[Fault.redirect("", "https://evil.example/steal")]) as origin:
        d = send_webhook(FAIL, hook(origin + "/hook"), ())
    assert d.error is not None and "a redirect to host evil.example, not followed" in d.error
    # the allow-list is checked again when sending: a channel built outside a policy cannot reach another host
    d = send_webhook(FAIL, hook("https://hooks.evil.example/x"), ("hooks.city.example",))
    assert d.error is not None and d.error.startswith("not sent: the endpoint host hooks.evil.example is not on the "
                                                      "policy's allow-list")


# -- command ----------------------------------------------------------------------------------------------------------


def command(*argv: str, **kw: Any) -> Any:
    from harness.notify.settings import CommandChannel

    return CommandChannel.model_validate({"kind": "command", "argv": list(argv), "timeout_s": 20, **kw})


def test_a_command_reads_the_notice_on_stdin_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())"
    hostile = Notice(**{**FAIL.__dict__, "name": "$(touch pwned); `touch pwned2`"})
    d = send_command(hostile, command(sys.executable, "-c", script, str(out)))
    assert (d.ok, d.error) == (True, None)
    assert json.loads(out.read_text()) == json.loads(json.dumps(document(hostile)))
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists() and not Path("pwned2").exists()


def test_a_command_that_fails_or_is_missing_is_one_clear_error(tmp_path: Path) -> None:
    d = send_command(FAIL, command(sys.executable, "-c", "import sys; print('queue full', file=sys.stderr); "
                                                         "sys.exit(3)"))
    assert d.error == f"the command {sys.executable!r} exited with code 3: queue full"
    d = send_command(FAIL, command(str(tmp_path / "no-such-program")))
    assert d.error == f"the command {str(tmp_path / 'no-such-program')!r} was not found"
    d = send_command(FAIL, command(sys.executable, "-c", "import time; time.sleep(5)", timeout_s=0.3))
    assert d.error == f"the command {sys.executable!r} did not finish within 0.3 s"


def test_telling_fewer_people_is_a_weakening_and_telling_more_is_not() -> None:
    from harness.gate import weakenings

    mail = {"kind": "email", "host": "smtp.city.example", "from": "a@city.example", "to": ["b@city.example"]}
    page = {"kind": "command", "argv": ["page"], "events": ["fail", "suspended"]}
    old = policy_with({"channels": [mail, page]})
    assert weakenings(load_policy(), old) == []  # notices added: nobody judges a tool more leniently
    assert weakenings(old, policy_with({"channels": [mail, page, {"kind": "webhook", "url": "http://127.0.0.1:9/"}]})
                      ) == []
    assert weakenings(old, policy_with({"lapse_days": 3, "channels": [mail, {**page, "events": ["fail"]}]})) == [
        "settings.notify no longer tells channel(s) command of suspended: fewer people are told (policy 4.2, 4.3)",
        "settings.notify.lapse_days lowered from 14 to 3: a lapse is announced later"]
    assert weakenings(old, load_policy()) == [
        f"settings.notify no longer tells channel(s) {who} of {event}: fewer people are told (policy 4.2, 4.3)"
        for event, who in (("fail", "email, command"), ("suspended", "email, command"), ("waiver-lapsing", "email"),
                           ("approval-lapsing", "email"), ("reassessment-overdue", "email"))]


def test_starttls_verifies_the_certificate_so_a_self_signed_server_gets_no_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server on the path that offers STARTTLS with a certificate nobody trusts: the harness stops at the handshake,
    before the login, so the password never leaves (a client that skipped verification would hand it over)."""
    import ssl

    from aiosmtpd.controller import Controller

    from tests.test_endpoint import self_signed

    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    try:
        monkeypatch.setenv("MAIL_USER", "harness-mailer")
        monkeypatch.setenv("MAIL_PASSWORD", "pw-Zq8-never-shown")
        d = send_email(FAIL, mail_channel(port, starttls=True, username_env="MAIL_USER", password_env="MAIL_PASSWORD"))
    finally:
        controller.stop()
    assert d.error is not None and d.error.startswith(f"STARTTLS with the SMTP server 127.0.0.1:{port} failed (")
    assert d.error.endswith("); nothing was sent") and "certificate" in d.error
    assert inbox.messages == [] and inbox.logins == []
