"""The entry points: `notify` tells of one thing that just happened (a FAIL, a suspension), `send_due` of what the
gate's dates make due (`harness due --notify`).

What a failure to send does, decided here once (issue 15): nothing to the record. The assessment, the suspension
and every decision are recorded before any notice is sent and whatever becomes of it; a notice that could not be
sent is one line on stderr naming the notice, the channel and the reason (`failure_line`), and is kept in the
sent-log as failed. `harness assess`, `reassess` and `suspend` keep the exit code of what they recorded (the verdict,
the decision); `harness due --notify` exits 4 when any notice could not be sent (the job it was asked to do did not
complete), and the next run tries those channels again. A due notice already sent through a channel is not sent
through it again (`harness.notify.sentlog`), unless `settings.notify.repeat_days` have passed.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from harness.notify.channels import Delivery, deliver
from harness.notify.events import Notice, due_notices
from harness.notify.settings import NotifySettings, notify_settings

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.gate import Decision
    from harness.policy import Policy
    from harness.tracking.store import Store

Warn = Callable[[str], None]


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Outcome:
    """What became of one notice: `deliveries` made now; `already`, the channels that had sent it before and were not
    asked again; `recorded`, the sent-log run (None when nothing was sent or the log could not be written, and then
    `record_error` says why)."""

    notice: Notice
    deliveries: tuple[Delivery, ...] = ()
    already: tuple[str, ...] = ()
    recorded: str | None = None
    record_error: str | None = None

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]

    @property
    def sent(self) -> list[str]:
        return [d.channel for d in self.deliveries if d.ok]


def failure_line(n: Notice, d: Delivery, context: str = "") -> str:
    """The one stderr line for a notice that a channel could not send."""
    return (f"notification not sent: the {n.event} notice of {n.tool} {n.version} through channel {d.channel!r} "
            f"({d.kind}): {d.error}{context}")


def settings_of(policy: Policy) -> NotifySettings:
    return notify_settings(policy.settings)


def _send(store: Store, n: Notice, settings: NotifySettings, policy: Policy, channels: list[str] | None,
          already: tuple[str, ...], at: datetime, warn: Warn, context: str) -> Outcome:
    from harness.notify import sentlog
    from harness.tools.endpoint import allowed_hosts

    chosen = [c for c in settings.channels_for(n.event) if channels is None or c.label in channels]
    hosts = allowed_hosts(policy)
    secrets = settings.secret_names()
    deliveries = tuple(deliver(n, c, hosts, secrets) for c in chosen)
    for d in deliveries:
        if not d.ok:
            warn(failure_line(n, d, context))
    try:
        run = sentlog.record(store, n, deliveries, at)
    except Exception as e:  # the notice went out (or not) either way; say the log missed it
        why = " ".join(str(e).split())[:300]
        warn(f"notification log not written: the {n.event} notice of {n.tool} {n.version} "
             f"({', '.join(d.channel for d in deliveries if d.ok) or 'sent through no channel'}) is not in the store's "
             f"sent-log ({type(e).__name__}: {why}); a later `harness due --notify` may send it again")
        return Outcome(n, deliveries, already, None, why)
    return Outcome(n, deliveries, already, run)


def notify(store: Store, n: Notice, policy: Policy, *, warn: Warn = to_stderr, context: str = "") -> Outcome | None:
    """Tell of `n` now, through every channel the policy sends its event to; None when none does (the default).
    Never raises for a channel's failure: each is a line through `warn` (stderr), ending with `context` (e.g. "; the
    assessment is recorded as run ... regardless")."""
    settings = settings_of(policy)
    if not settings.channels_for(n.event):
        return None
    return _send(store, n, settings, policy, None, (), datetime.now(UTC), warn, context)


def send_due(store: Store, policy: Policy, at: datetime | None = None, *, warn: Warn = to_stderr) -> list[Outcome]:
    """Every due notice at `at` (default now: waivers and approvals lapsing within `lapse_days`, re-assessments
    overdue), each sent through the channels that have not sent it yet (or not for `repeat_days`). A notice every
    channel has sent comes back with no deliveries and its channels in `already`."""
    settings = settings_of(policy)
    at = datetime.now(UTC) if at is None else at
    from harness.notify import sentlog

    log = sentlog.sent(store)
    out: list[Outcome] = []
    for n in due_notices(store.uri, at, policy, settings):
        labels = [c.label for c in settings.channels_for(n.event)]
        if not labels:
            continue
        told = log.get(n.key, {})
        repeat = timedelta(days=settings.repeat_days) if settings.repeat_days else None
        todo = [ch for ch in labels if ch not in told or (repeat is not None and at - told[ch] >= repeat)]
        done = tuple(ch for ch in labels if ch not in todo)
        if not todo:
            out.append(Outcome(n, (), done))
            continue
        out.append(_send(store, n, settings, policy, todo, done, at, warn, ""))
    return out


def notify_failure(store: Store, result: AssessmentResult, policy: Policy, *, warn: Warn = to_stderr) -> Outcome | None:
    """After a FAIL assessment is recorded (the pipeline's last step): its notice, if the policy sends one."""
    from harness.notify.events import failed

    if result.verdict.value != "FAIL" or not settings_of(policy).channels_for("fail"):
        return None
    return notify(store, failed(result), policy, warn=warn,
                  context=f"; the assessment is recorded as run {result.run_id} regardless")


def notify_suspension(uri: str, d: Decision, policy: Policy | None = None, *, warn: Warn = to_stderr
                      ) -> Outcome | None:
    """After a suspension is recorded (`harness suspend`, a FAILed re-assessment): its notice, under `policy` (None:
    the policy in force), if the policy sends one."""
    from harness import gate
    from harness.gate.inforce import policy_of
    from harness.notify.events import suspended
    from harness.tracking.store import Store

    policy = policy_of(policy, uri)
    if not settings_of(policy).channels_for("suspended"):
        return None
    manifest = gate.status(uri, str(d.tool), str(d.version))[0].manifest
    return notify(Store(uri), suspended(d, manifest), policy, warn=warn,
                  context=f"; the suspension is recorded as decision record {d.seq} regardless")


__all__ = ["Outcome", "failure_line", "notify", "notify_failure", "notify_suspension", "send_due", "settings_of",
           "to_stderr"]
