"""Notifications against a real store (issue 15, section 4): a FAIL assessment and a suspension notify once they are
recorded; `harness due --notify` sends the lapses and overdue re-assessments the gate computes, through a real SMTP
server and a real webhook receiver on 127.0.0.1, once per channel (the sent-log), again only after `repeat_days`; a
notice that cannot be sent changes nothing recorded, is one line on stderr, and makes `due --notify` exit 4; no
secret reaches a tag of the store or the output."""
from __future__ import annotations

import email
import email.policy
import json
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from harness import gate
from harness.notify import sentlog
from harness.notify.events import due_notices
from harness.notify.send import notify_failure, notify_suspension, send_due, settings_of
from harness.policy import load_policy, single_user_policy_text
from harness.testing import WebhookServer
from harness.tracking.store import Store
from harness.workflows.assess import Recorded, run_assessment
from tests.conftest import perfect_case, single_user, write_case
from tests.test_notify import Inbox, free_port

pytestmark = pytest.mark.slow

PASSWORD = "pw-Zq8-never-shown"
TOKEN = "tok-Hq3-never-shown"
RECORDER = ("import sys, pathlib\n"
            "d = pathlib.Path(sys.argv[1]); d.mkdir(exist_ok=True)\n"
            "n = len(list(d.iterdir()))\n"
            "(d / f'{n:03d}.json').write_bytes(sys.stdin.buffer.read())\n")


def policy_text(notify: dict[str, Any]) -> str:
    """The single-user policy (what an embedded store can approve under) with `settings.notify`."""
    block = yaml.safe_dump({"notify": notify}, sort_keys=False)
    text = single_user_policy_text()
    assert text.count("\nsettings:\n") == 1
    return text.replace("\nsettings:\n", "\nsettings:\n" + "".join(f"  {ln}\n" for ln in block.splitlines()))


def recorder(folder: Path, name: str = "log") -> dict[str, Any]:
    return {"kind": "command", "name": name, "argv": [sys.executable, "-c", RECORDER, str(folder)]}


@dataclass
class Store0:
    root: Path
    fail: Recorded
    pass_run: str
    notices: Path


@pytest.fixture(scope="module")
def store0(tmp_path_factory: pytest.TempPathFactory) -> Store0:
    """One store whose policy in force notifies every event through a command that files each notice, with a PASS
    (case-tool-6) and a FAIL (case-tool-1) assessment recorded; each test works on a copy."""
    root = tmp_path_factory.mktemp("notify-store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    single_user(uri, root)
    notices = root / "notices"
    path = root / "notify-policy.yaml"
    path.write_text(policy_text({"channels": [recorder(notices)]}))
    gate.adopt(uri, path, by="Pat Admin", reason="tell DTI of failures and lapses")
    pass_tool, pass_card = perfect_case(root / "pass")
    fail_tool, fail_card = write_case(root / "fail", n=3000, disparity=0.2, seed=1)
    passed = run_assessment(pass_tool, [str(pass_card)], tracking_uri=uri, out=root / "out-pass", submitter="dana")
    assert passed.result.verdict.value == "PASS" and passed.notice is None
    failed = run_assessment(fail_tool, [str(fail_card)], tracking_uri=uri, out=root / "out-fail", submitter="dana")
    return Store0(root=root, fail=failed, pass_run=str(passed.result.run_id), notices=notices)


@pytest.fixture
def uri(store0: Store0, tmp_path: Path) -> str:
    shutil.copyfile(store0.root / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def ran(uri: str, tool: str) -> datetime:
    vs = gate.status(uri, tool, "1.0")[0]
    assert vs.assessed is not None
    return datetime.fromisoformat(vs.assessed.run_at)


def decided(uri: str, store0: Store0) -> tuple[datetime, datetime]:
    """case-tool-6 approved and case-tool-1 waived for 30 days, an hour after their runs: (pass run time, expiry)."""
    at6, at1 = ran(uri, "case-tool-6"), ran(uri, "case-tool-1")
    gate.approve(uri, "case-tool-6", "1.0", run_id=store0.pass_run, reviewer="rita", rationale="ok",
                 now=at6 + timedelta(hours=1))
    expires = (at1 + timedelta(days=30)).replace(microsecond=0)
    gate.waive(uri, "case-tool-1", "1.0", run_id=str(store0.fail.result.run_id), approver="chief-omar",
               rationale="no alternative before the 2027 procurement", conditions="caseworker reviews every denial",
               expires=expires, now=at1 + timedelta(hours=1))
    return at6, expires


def harness(*args: str, env: dict[str, str] | None = None) -> Result:
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250", **(env or {})}, prog_name="harness",
                              catch_exceptions=False)


@pytest.fixture
def smtp() -> Any:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    inbox = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (data.login, data.password) == (b"harness-mailer", PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail(port: int) -> dict[str, Any]:
    return {"kind": "email", "host": "127.0.0.1", "port": port, "from": "harness@city.example",
            "to": ["dti@city.example"], "starttls": False, "username_env": "MAIL_USER", "password_env": "MAIL_PASSWORD",
            "timeout_s": 5}


def subjects(inbox: Inbox) -> list[str]:
    return [str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]) for _, _, raw in inbox.messages]


def all_tags(uri: str) -> str:
    """Every tag and every notice.json of the sent-log, as one text to search for secrets."""
    store = Store(uri)
    runs = store.runs(sentlog.EXPERIMENT)
    return json.dumps([r.tags for r in runs]) + "".join(store.artifact_text(r.run_id, "notice.json") or ""
                                                        for r in runs)


# -- at the moment: a FAIL, a suspension ------------------------------------------------------------------------------


def test_a_fail_assessment_notifies_once_it_is_recorded(store0: Store0, uri: str) -> None:
    rec = store0.fail
    run = str(rec.result.run_id)
    assert rec.result.verdict.value == "FAIL" and rec.notice is not None
    assert (rec.notice.sent, rec.notice.failed, rec.notice.recorded is not None) == (["log"], [], True)
    [filed] = sorted(store0.notices.iterdir())
    got = json.loads(filed.read_text())
    assert (got["event"], got["tool"], got["version"], got["verdict"], got["run_id"], got["key"]) == (
        "fail", "case-tool-1", "1.0", "FAIL", run, f"fail:case-tool-1:1.0:{run}")
    assert got["subject"] == "[AI Risk Harness] FAIL: Generated case tool (case-tool-1 1.0) failed its assessment"
    assert got["at"] == datetime.fromisoformat(rec.result.started_at).astimezone(UTC).isoformat(timespec="seconds")
    assert got["reasons"] == rec.result.reasons[:3] and got["reasons"]
    # the gate recorded the assessment first; the sent-log holds what was sent, and through which channel
    assert gate.status(uri, "case-tool-1", "1.0")[0].verdict == "FAIL"
    [logged] = [r for r in Store(uri).runs(sentlog.EXPERIMENT)]
    assert {k: logged.tags[k] for k in ("harness.kind", "harness.notify.event", "harness.notify.key",
                                        "harness.notify.sent", "harness.notify.failed")} == {
        "harness.kind": "notification", "harness.notify.event": "fail", "harness.notify.key": got["key"],
        "harness.notify.sent": "log", "harness.notify.failed": ""}


def test_a_notice_that_cannot_be_sent_changes_nothing_recorded(store0: Store0, uri: str) -> None:
    down = free_port()
    policy_file = store0.root.parent / f"down-{down}.yaml"
    policy_file.write_text(policy_text({"channels": [{**mail(down), "username_env": None, "password_env": None}]}))
    policy = load_policy(policy_file)
    before = len(gate.history(uri, "case-tool-1").records)
    lines: list[str] = []
    out = notify_failure(Store(uri), store0.fail.result, policy, warn=lines.append)
    assert out is not None and out.sent == []
    run = store0.fail.result.run_id
    assert lines == [f"notification not sent: the fail notice of case-tool-1 1.0 through channel 'email' (email): "
                     f"could not reach the SMTP server 127.0.0.1:{down} (Connection refused); the assessment is "
                     f"recorded as run {run} regardless"]
    assert len(gate.history(uri, "case-tool-1").records) == before
    assert gate.status(uri, "case-tool-1", "1.0")[0].verdict == "FAIL"
    # the failure is in the sent-log, so a reader knows nobody was told
    failed = [r for r in Store(uri).runs(sentlog.EXPERIMENT) if r.tags["harness.notify.failed"]]
    assert failed[0].tags["harness.notify.errors"] == (f"email: could not reach the SMTP server 127.0.0.1:{down} "
                                                       "(Connection refused)")


def test_a_suspension_notifies_through_the_policy_in_force(store0: Store0, uri: str, tmp_path: Path) -> None:
    decided(uri, store0)
    before = len(list(store0.notices.iterdir()))
    r = harness("suspend", "case-tool-6:1.0", "--by", "omar", "--reason", "the Q3 audit found a proxy for race",
                "--tracking-uri", uri)
    assert (r.exit_code, r.stderr) == (0, ""), r.stdout + r.stderr
    filed = sorted(store0.notices.iterdir())[before:]
    got = json.loads(filed[0].read_text())
    d = gate.history(uri, "case-tool-6").records[-1]
    assert (len(filed), got["event"], got["tool"], got["by"], got["reason"], got["key"]) == (
        1, "suspended", "case-tool-6", "omar", "the Q3 audit found a proxy for race",
        f"suspended:case-tool-6:1.0:{d.seq}")
    assert got["subject"] == "[AI Risk Harness] Suspended: Generated case tool (case-tool-6 1.0) may not be used"
    # a channel that fails is one line, after the record, which stands
    lines: list[str] = []
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy_text({"channels": [{"kind": "command", "argv": [str(tmp_path / "nope")]}]}))
    out = notify_suspension(uri, d, load_policy(bad), warn=lines.append)
    assert out is not None and lines == [
        f"notification not sent: the suspended notice of case-tool-6 1.0 through channel 'command' (command): the "
        f"command {str(tmp_path / 'nope')!r} was not found; the suspension is recorded as decision record {d.seq} "
        "regardless"]
    assert gate.status(uri, "case-tool-6", "1.0")[0].state == "suspended"


# -- due dates ---------------------------------------------------------------------------------------------------------


def test_due_notices_are_the_gate_dates(store0: Store0, uri: str) -> None:
    at6, expires = decided(uri, store0)
    policy = load_policy(store0.root / "notify-policy.yaml")
    settings = settings_of(policy)
    due = at6 + timedelta(days=90)  # high tier
    closes = due + timedelta(days=30)  # the grace period
    rows = lambda at: [(n.event, n.tool, n.due, n.lapses) for n in due_notices(uri, at, policy, settings)]  # noqa: E731
    assert rows(expires - timedelta(days=15)) == []
    assert rows(expires - timedelta(days=14)) == [("waiver-lapsing", "case-tool-1", None, expires)]
    assert rows(expires) == []  # lapsed: the gate is closed, and `harness gate` says so
    assert rows(due - timedelta(seconds=1)) == []
    assert rows(due) == [("reassessment-overdue", "case-tool-6", due, closes)]
    assert rows(closes - timedelta(days=14)) == [("approval-lapsing", "case-tool-6", due, closes),
                                                 ("reassessment-overdue", "case-tool-6", due, closes)]
    assert rows(closes) == [("reassessment-overdue", "case-tool-6", due, closes)]


def test_due_notify_sends_each_lapse_once_by_email_and_webhook(store0: Store0, uri: str, tmp_path: Path,
                                                              smtp: Any) -> None:
    inbox, port = smtp
    _, expires = decided(uri, store0)
    env = {"MAIL_USER": "harness-mailer", "MAIL_PASSWORD": PASSWORD, "HOOK_TOKEN": TOKEN}
    server = WebhookServer(api_key=TOKEN)
    with server:
        policy = tmp_path / "policy.yaml"
        policy.write_text(policy_text({"channels": [mail(port), {"kind": "webhook", "name": "hook", "url": server.url,
                                                                 "token_env": "HOOK_TOKEN", "timeout_s": 5}]}))
        day = (expires - timedelta(days=10)).date().isoformat()
        r = harness("due", "--notify", "--as-of", day, "--policy", str(policy), "--tracking-uri", uri, env=env)
        assert (r.exit_code, r.stderr) == (0, ""), r.stdout + r.stderr
        assert r.stdout.endswith(f"nothing is due by {day}\nnotified: waiver-lapsing of case-tool-1 1.0 through email, "
                                 "hook\n")
        assert subjects(inbox) == [f"[AI Risk Harness] Waiver of Generated case tool (case-tool-1 1.0) lapses on "
                                   f"{gate.show_time(expires)}"]
        [(_, rcpts, raw)] = inbox.messages
        text = email.message_from_bytes(raw, policy=email.policy.default).get_content()
        assert rcpts == ["dti@city.example"]
        assert f"Lapses: {gate.show_time(expires)}\r\n" in text and "Verdict: FAIL\r\n" in text
        assert "Conditions: caseworker reviews every denial\r\n" in text
        [hooked] = [x.body for x in server.received]
        assert (hooked["event"], hooked["tool"], hooked["version"], hooked["verdict"], hooked["lapses"]) == (
            "waiver-lapsing", "case-tool-1", "1.0", "FAIL", expires.astimezone(UTC).isoformat(timespec="seconds"))
        # cron runs it again the next day: nothing is sent again
        r2 = harness("due", "--notify", "--as-of", (expires - timedelta(days=9)).date().isoformat(), "--policy",
                     str(policy), "--tracking-uri", uri, env=env)
        assert r2.exit_code == 0 and r2.stdout.endswith(
            "already notified: waiver-lapsing of case-tool-1 1.0 through email, hook (not sent again)\n")
        assert (len(inbox.messages), len(server.received)) == (1, 1)
    for out in (r, r2):
        assert PASSWORD not in out.stdout + out.stderr and TOKEN not in out.stdout + out.stderr
    stored = all_tags(uri)
    assert "waiver-lapsing:case-tool-1:1.0:" in stored  # the log was read, and holds the notice
    assert PASSWORD not in stored and TOKEN not in stored and "harness-mailer" not in stored


def test_repeat_days_sends_a_standing_notice_again_and_a_failed_channel_is_retried(store0: Store0, uri: str,
                                                                                 tmp_path: Path) -> None:
    at6, _ = decided(uri, store0)
    due = at6 + timedelta(days=90)
    notices = tmp_path / "filed"
    policy = load_policy_text(tmp_path, {"repeat_days": 7, "events": ["reassessment-overdue"],
                                         "channels": [recorder(notices, "ok"),
                                                      {"kind": "command", "name": "broken",
                                                       "argv": [sys.executable, "-c", "raise SystemExit(5)"]}]})
    lines: list[str] = []
    first = send_due(Store(uri), policy, due + timedelta(hours=1), warn=lines.append)
    assert [(o.notice.event, o.sent, [d.channel for d in o.failed]) for o in first] == [
        ("reassessment-overdue", ["ok"], ["broken"])]
    assert lines == [f"notification not sent: the reassessment-overdue notice of case-tool-6 1.0 through channel "
                     f"'broken' (command): the command {sys.executable!r} exited with code 5"]
    # the next day: only the channel that failed is tried again
    again = send_due(Store(uri), policy, due + timedelta(days=1), warn=lines.append)
    assert [(o.sent, [d.channel for d in o.failed], o.already) for o in again] == [([], ["broken"], ("ok",))]
    # a week after the first: the notice still stands, and is sent again
    week = send_due(Store(uri), policy, due + timedelta(days=7, hours=1), warn=lines.append)
    assert [(o.sent, o.already) for o in week] == [(["ok"], ())]
    assert len(list(notices.iterdir())) == 2


def load_policy_text(folder: Path, notify: dict[str, Any]) -> Any:
    path = folder / "repeat.yaml"
    path.write_text(policy_text(notify))
    return load_policy(path)


def test_due_notify_exits_4_when_a_notice_could_not_be_sent_and_2_without_channels(store0: Store0, uri: str,
                                                                                    tmp_path: Path) -> None:
    _, expires = decided(uri, store0)
    down = free_port()
    policy = tmp_path / "down.yaml"
    policy.write_text(policy_text({"channels": [{**mail(down), "username_env": None, "password_env": None}]}))
    day = (expires - timedelta(days=1)).date().isoformat()
    r = harness("due", "--notify", "--format", "json", "--as-of", day, "--policy", str(policy), "--tracking-uri", uri)
    assert r.exit_code == 4
    assert json.loads(r.stdout) == []  # the listing stays JSON; what was (not) sent goes to stderr
    assert r.stderr == (f"notification not sent: the waiver-lapsing notice of case-tool-1 1.0 through channel 'email' "
                        f"(email): could not reach the SMTP server 127.0.0.1:{down} (Connection refused)\n")
    # the record is as it was: the waiver still runs
    assert gate.gate(uri, "case-tool-1", now=expires - timedelta(days=1)).open
    plain = tmp_path / "plain.yaml"
    plain.write_text(single_user_policy_text())
    r = harness("due", "--notify", "--policy", str(plain), "--tracking-uri", uri)
    assert r.exit_code == 2
    assert "--notify: the policy abq-dti-default@2026.11-single-user" in r.stderr
    assert "has no settings.notify channels, so nothing can be sent" in r.stderr
