"""Tools in the inventory before any version is submitted (policy 6.2: "an inventory for departments to report
current and planned AI tools, including those ... under development"). `harness inventory add` writes a `plan`
record to the tool's decision log: who reported it, when, its name, department, category, stage (planned or
in development) and the records policy 1.2 asks for (`harness.manifest.Records`). Before this, a planned tool
entered the inventory only through a placeholder submission, a version that was never going to be assessed.

The record is the tool's state, not a version's: the replay that the gate decides on skips it (`log._replay`),
so a planned tool can never be approved, gated open or fall due. Once a version is submitted, the inventory
shows the version's state and the plan records stay in the log as its history.

An id already in the inventory is refused: a tool with a submitted version moves through the gate, not through
`inventory add`; a planned tool changes only with `update=True` (records filled in, planned -> in development,
never back), and an entry with exactly the facts already recorded is a no-op, so a script may repeat it.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.gate.identity import acting, not_an_account
from harness.gate.inputs import refuse, registry_at
from harness.gate.log import Book
from harness.gate.records import PLANNED_STATES, Decision, now_utc, show_time
from harness.gate.writer import append_record

if TYPE_CHECKING:
    from harness.manifest import Records

TOOL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # the manifest's `id` pattern: the tool's MLflow name
CATEGORIES = ("predictive", "generative", "decision-support")
FACTS = ("name", "department", "vendor", "category", "records")


def add_planned(uri: str, tool: str, *, name: str, department: str, category: str, status: str, by: str | None,
                vendor: str | None = None, records: Records | None = None, update: bool = False,
                now: datetime | None = None) -> Decision | None:
    """Enter `tool` in the inventory as planned or in development (policy 6.2) by the person `by` (the identity
    rules of every record: a server login wins, a typed account name is refused). Returns the record, or None
    when the same facts are already recorded. Refused: a malformed id, category or stage, an id with a
    submitted version, an id already planned (without `update`), and a step back from in development."""
    what = f"inventory entry of {tool}"
    if not TOOL_ID.match(tool):
        raise refuse(what, "tool-id", "6.2", f"{tool!r} is not a tool id: lower-case letters, digits, '.', '_' and "
                                             "'-', starting with a letter or digit (the manifest's `id`)")
    if status not in PLANNED_STATES:
        raise refuse(what, "planned-stage", "6.2", f"status {status!r} is not one of {', '.join(PLANNED_STATES)}; "
                                                   "a tool with a version to assess is submitted (`harness submit`)")
    if category not in CATEGORIES:
        raise refuse(what, "category", "6.4", f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    text = {"name": name, "department": department}
    for key, value in text.items():
        if not value.strip():
            raise refuse(what, "inventory-facts", "6.2", f"the tool's {key} must be given")
    who = acting(uri, by, "person reporting the tool", what)
    not_an_account(who, "person reporting the tool", what)
    facts: dict[str, Any] = {"name": name.strip(), "department": department.strip(),
                             "vendor": (vendor or "").strip() or None, "category": category,
                             "records": records.model_dump(mode="json") if records is not None else None}
    at = now_utc(now)
    reg = registry_at(uri)
    reg.ensure_model(tool, {"harness.kind": "tool", "harness.tool_id": tool},
                     description=f"{facts['name']} ({facts['department']}); reported as {status} (harness.gate)")

    def build(book: Book) -> dict[str, Any] | None:
        if book.states:
            versions = ", ".join(f"{v} ({s['state']})" for v, s in book.states.items())
            raise refuse(what, "already-in-inventory", "6.2",
                         f"{tool} is already in the inventory with version(s) {versions}; a submitted tool's "
                         "lifecycle is recorded by the gate (assess, approve, suspend, retire), not by `inventory "
                         "add`")
        plan = book.plan
        if plan is not None:
            known = {k: (plan.details or {}).get(k) for k in FACTS}
            if known == facts and plan.state == status:
                return None
            if not update:
                raise refuse(what, "already-in-inventory", "6.2",
                             f"{tool} is already in the inventory as {plan.state}, entered by {plan.actor} on "
                             f"{show_time(plan.at)}; pass --update to change its entry")
            if PLANNED_STATES.index(status) < PLANNED_STATES.index(str(plan.state)):
                raise refuse(what, "lifecycle-order", "6.2",
                             f"{tool} is already {plan.state}; its stage does not go back to {status}")
        return {"action": "plan", "version": None, "state": status, "actor": who.name,
                "reason": "entered in the inventory" if plan is None else "inventory entry updated",
                "details": facts}

    return append_record(reg, tool, build, at)
