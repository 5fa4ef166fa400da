"""Notifications (issue 15, section 4): telling people when a tool FAILs its assessment, is suspended, or its
approval, waiver or re-assessment date comes near (policy 4.2, 4.3).

Modules, one job each, in the order they depend on each other:

- `settings`: `settings.notify` of the policy (the channels, which events, N days), validated when the policy loads.
- `events`: what a notice is about (`Notice`), made from an assessment result, a suspension, or the gate's due
  dates (`due_notices`, which reuses `harness.gate.due`).
- `message`: the words: the subject and body of an e-mail, the JSON a webhook or command receives.
- `channels`: sending one notice through one channel (a command, SMTP, a webhook); a failure is a `Delivery` with
  the reason, never an exception, and no secret is in it.
- `sentlog`: what was sent, kept in the store (experiment `harness/_notifications`), so a daily `harness due
  --notify` does not send the same lapse every day.
- `send`: the entry points: `notify` (one notice, now) and `send_due` (what is due, once).

This package is imported by the workflows and the CLI, never by the gate or the tracking layer, so nothing in the
recording of an assessment or a decision depends on a notice being sent.
"""
from __future__ import annotations
