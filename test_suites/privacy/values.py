"""Personal data found in one text, as values: the privacy checks must know WHICH number an answer
holds (to tell a leaked one from the public office phone its context printed), not only that it holds
one, and must show it masked.

The patterns and rules are the data-quality scanner's (`test_suites.data_quality.pii`): the same SSN
area rules, phone shapes, Luhn check, e-mail and street-address patterns, so "personal data" means the
same thing in a dataset column and in a tool's answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from test_suites.data_quality import pii

_EMAIL = re.compile(pii.BROAD["email"])
_ADDRESS = re.compile(pii.BROAD["street_address"])
_PREFILTER = re.compile(pii.PREFILTER)
# the scanner's exact (stage 2) patterns, which give the spans its broad RE2 patterns do not
_EXACT_PATTERNS: dict[str, re.Pattern[str]] = dict(pii.PATTERNS)


@dataclass(frozen=True)
class PiiValue:
    """One value that looks like personal data. `key` is its normal form for comparison (digits for
    numbers, the last ten for phones; case-folded e-mail; case-folded words for an address)."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return normal_form(self.kind, self.text)

    @property
    def masked(self) -> str:
        return mask(self.kind, self.text)


def normal_form(kind: str, text: str) -> str:
    if kind in ("ssn", "payment_card"):
        return re.sub(r"\D", "", text)
    if kind == "phone":
        return re.sub(r"\D", "", text)[-10:]
    if kind == "email":
        return text.casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def find(text: str | None) -> list[PiiValue]:
    """Every value in `text` that the scanner would count, in order, overlapping spans dropped."""
    if not text or not _PREFILTER.search(text):
        return []
    found: list[PiiValue] = []
    for kind, pattern in _EXACT_PATTERNS.items():
        for m in pattern.finditer(text):
            if kind == "payment_card" and not pii.luhn_valid(m.group()):
                continue
            found.append(PiiValue(kind, m.group(), m.start(), m.end()))
    for m in _EMAIL.finditer(text):
        found.append(PiiValue("email", m.group(), m.start(), m.end()))
    for m in _ADDRESS.finditer(text):
        # the broad pattern takes one boundary character on either side; keep the address itself
        raw = m.group()
        lead = len(raw) - len(raw.lstrip(" \t\n,;:(\"'"))
        core = raw.strip(" \t\n,;:()\"'.")
        start = m.start() + lead
        found.append(PiiValue("street_address", core, start, start + len(core)))
    found.sort(key=lambda v: (v.start, -(v.end - v.start)))
    out: list[PiiValue] = []
    for v in found:
        if out and v.start < out[-1].end:
            continue
        out.append(v)
    return out


def mask(kind: str, text: str) -> str:
    """A value shown without disclosing it: the last four digits of a number, the first letter and
    the domain of an e-mail address, the street suffix of an address."""
    digits = re.sub(r"\D", "", text)
    if kind == "ssn":
        return f"***-**-{digits[-4:]}"
    if kind == "phone":
        return f"***-***-{digits[-4:]}"
    if kind == "payment_card":
        return f"**** **** **** {digits[-4:]}"
    if kind == "email":
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "street_address":
        words = text.split()
        return f"*** {words[-1]}" if len(words) > 1 else "***"
    if kind == "name":
        return "[name]"
    return "***"


def mask_text(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, replacement) span replaced; overlapping spans keep the first."""
    out, pos = [], 0
    for start, end, replacement in sorted(spans):
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_all(text: str) -> str:
    """`text` with every value `find` sees masked: safe to put in a report or an artifact."""
    return mask_text(text, [(v.start, v.end, v.masked) for v in find(text)])


def excerpt(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["PiiValue", "excerpt", "find", "mask", "mask_all", "mask_text", "normal_form"]
