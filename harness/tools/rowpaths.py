"""Where an `http` tool's outputs are in its JSON reply: a path syntax small enough to read at a glance.

A path is dot-separated keys with exactly one `[*]`, which marks the list holding one result per row sent:

    predictions[*].label          {"predictions": [{"label": 1, ...}, ...]}
    output.results[*].scores.1    {"output": {"results": [{"scores": [0.2, 0.8]}, ...]}}   (a digit indexes a list)
    predictions[*]                {"predictions": [1, 0, 1]}                               (each item is the value)
    [*].label                     [{"label": 1}, ...]                                      (the reply is the list)

Before `[*]` the keys lead from the top of the reply to that list; after it, from one result to the value.
Keys holding a dot or brackets cannot be named (no vendor API we know uses them); there are no filters, slices
or recursive descent, so a path means one thing. Every path of one tool (labels, scores, ids) must name the same
list, since the values of one row are read from one result.

This module imports nothing beyond the standard library: the manifest validates paths with it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

STAR = "[*]"
_KEY = re.compile(r"^[^.\[\]\s]+$")


class Missing(LookupError):
    """A path that does not resolve in a reply: the message says at which key and what was found."""


@dataclass(frozen=True)
class RowPath:
    """A parsed path: `to_list`, the keys from the top of the reply to the list of results; `in_row`, the keys from
    one result to the value (empty: the result is the value)."""

    text: str
    to_list: tuple[str, ...]
    in_row: tuple[str, ...]

    @property
    def list_text(self) -> str:
        return ".".join(self.to_list) + STAR

    def results(self, reply: Any) -> list[Any]:
        """The list of per-row results in `reply`; Missing when a key is absent or the value there is no list."""
        node = reply
        for i, key in enumerate(self.to_list):
            node = _step(node, key, ".".join(self.to_list[:i + 1]))
        if not isinstance(node, list):
            raise Missing(f"{self.list_text.removesuffix(STAR) or 'the reply'} is {_kind(node)}, not a list")
        return node

    def value(self, result: Any) -> Any:
        """The value in one result; Missing when a key is absent."""
        node = result
        for i, key in enumerate(self.in_row):
            node = _step(node, key, ".".join(self.in_row[:i + 1]))
        return node


def _kind(node: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null", bool: "true or false"}.get(
        type(node), "a number")


def _step(node: Any, key: str, where: str) -> Any:
    if isinstance(node, dict):
        if key not in node:
            raise Missing(f"no {where!r}")
        return node[key]
    if isinstance(node, list) and key.isdigit():
        if int(key) >= len(node):
            raise Missing(f"{where!r} is past the end of a list of {len(node)}")
        return node[int(key)]
    raise Missing(f"no {where!r} ({where.rpartition('.')[0] or 'the value'} is {_kind(node)})")


def parse(text: str) -> RowPath:
    """A path (see the module docstring); ValueError saying what is wrong with it."""
    if text.count(STAR) != 1:
        raise ValueError(f"{text!r} must contain [*] exactly once, marking the list of one result per row "
                         f"(e.g. predictions[*].label)")
    head, _, tail = text.partition(STAR)
    if head.endswith(".") or (tail and not tail.startswith(".")) or tail == ".":
        raise ValueError(f"{text!r} is not dot-separated keys around [*] (e.g. predictions[*].label)")
    to_list = tuple(head.split(".")) if head else ()
    in_row = tuple(tail[1:].split(".")) if tail else ()
    bad = [k for k in (*to_list, *in_row) if not _KEY.match(k)]
    if bad:
        raise ValueError(f"{text!r} has an empty or unreadable key {bad[0]!r}: keys are separated by single dots "
                         f"and hold no blanks or brackets")
    return RowPath(text=text, to_list=to_list, in_row=in_row)


__all__ = ["STAR", "Missing", "RowPath", "parse"]
