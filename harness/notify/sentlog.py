"""What was sent, kept in the store: one finished run per notice sent (or tried) in the experiment
`harness/_notifications` (no tool id can start with `_`), tagged with the notice's key, the channels it went
through and those that failed, with the notice itself as `notice.json`.

Why a log and not a flag: `harness due --notify` runs daily from cron and must not e-mail the same lapse every day
(issue 15), so it sends a due notice only through the channels the log has not seen it sent through (or, with
`settings.notify.repeat_days`, not for that many days); and the log answers "who was told, when" for the record
(policy 3.2). A channel that failed is tried again by the next run; one that succeeded is not. Sending comes before
recording, so a log that cannot be written means a notice may be sent twice, never that it is lost.

Nothing secret is written: tags and `notice.json` hold the notice and the channels' names; errors are scrubbed of
the secrets' values (`harness.notify.channels.scrub`). On a shared server the experiment is created by the first
login that records a notice (the cron job's, typically) and, under `default_permission = NO_PERMISSIONS`, neither a
vendor nor anyone else that login has not been given access to can read it or add runs that would silence a
notice.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from harness.notify.channels import Delivery
from harness.notify.events import Notice
from harness.notify.message import document
from harness.tracking.store import Store

EXPERIMENT = "_notifications"
KIND = "notification"
KEY_TAG = "harness.notify.key"
SENT_TAG = "harness.notify.sent"
FAILED_TAG = "harness.notify.failed"
AT_TAG = "harness.notify.at"
MAX_TAG_CHARS = 2000


def sent(store: Store) -> dict[str, dict[str, datetime]]:
    """key -> channel -> when it was last sent through it, from every finished, undeleted run of the log."""
    out: dict[str, dict[str, datetime]] = {}
    for r in store.runs(EXPERIMENT):
        if r.kind != KIND or r.status != "FINISHED" or r.lifecycle_stage == "deleted" or KEY_TAG not in r.tags:
            continue
        try:
            at = datetime.fromisoformat(r.tags.get(AT_TAG, ""))
        except ValueError:
            continue
        channels = out.setdefault(r.tags[KEY_TAG], {})
        for ch in filter(None, r.tags.get(SENT_TAG, "").split(",")):
            if ch not in channels or channels[ch] < at:
                channels[ch] = at
    return out


def record(store: Store, notice: Notice, deliveries: Sequence[Delivery], at: datetime) -> str:
    """Log one notice and what became of it on each channel; returns the run id."""
    ok = ",".join(d.channel for d in deliveries if d.ok)
    bad = [d for d in deliveries if not d.ok]
    tags = {"harness.kind": KIND, "harness.tool_id": notice.tool, "harness.tool_version": notice.version,
            "harness.notify.event": notice.event, KEY_TAG: notice.key,
            AT_TAG: at.astimezone(UTC).isoformat(timespec="seconds"), SENT_TAG: ok,
            FAILED_TAG: ",".join(d.channel for d in bad)}
    if bad:
        tags["harness.notify.errors"] = "; ".join(f"{d.channel}: {d.error}" for d in bad)[:MAX_TAG_CHARS]
    with store.finished_run(EXPERIMENT, f"{notice.event} {notice.tool} {notice.version}", tags,
                            what="a notification record") as run:
        payload = {"notice": document(notice), "deliveries": [d.__dict__ for d in deliveries]}
        run.log_bytes("notice.json", json.dumps(payload, indent=1, sort_keys=True, ensure_ascii=False).encode())
    return run.run_id


__all__ = ["EXPERIMENT", "KIND", "record", "sent"]
