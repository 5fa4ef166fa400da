"""A scanner for undeclared personal data in text columns (policy 1.2 and the Code of Ethics' Safety
clause: AI systems must not leak PII; departments must know what data they hold).

A shared measure: the data-quality suite scans a dataset's free-text columns with it (which columns, from
the dataset card, is that suite's decision: `test_suites.data_quality.text_columns`), and the privacy suite
reports its leaks under the same kinds and labels (`KINDS`, `LABELS`).

It reports, per column and kind, how many values hold something that looks like a social security
number, an e-mail address, a US phone number, a payment card number (Luhn-valid) or a street address,
and never the values themselves. Patterns find what they can: a phone number needs separators or
parentheses, an SSN needs separators, an address needs a house number, a capitalised name and a street
suffix ("1200 Central Ave NE"), or is a PO box.

Two stages keep it fast: broad patterns that RE2 (pyarrow's regex engine, behind pandas 3's `str`
dtype) runs over the whole column, then exact Python checks (SSN area rules, Luhn) on the few values
that matched.

The exact patterns, the e-mail and street-address patterns, the prefilter and the Luhn check are the
harness's own (`harness.redact`, which masks personal data wherever text leaves the harness, issue 12):
taken from there, not copied, so "personal data" means one thing in a dataset column and in a report.
Only the RE2 stage-1 forms of the SSN, phone and card patterns are this scanner's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.redact import EMAIL, PATTERNS, PHONE, PREFILTER, SSN, STREET_ADDRESS, card_numbers, luhn_valid

if TYPE_CHECKING:
    import pandas as pd

KINDS: tuple[str, ...] = ("ssn", "email", "phone", "payment_card", "street_address")
LABELS = {"ssn": "social security numbers", "email": "e-mail addresses", "phone": "phone numbers",
          "payment_card": "payment card numbers", "street_address": "street addresses"}

# stage 1: RE2-compatible (no look-arounds, no back-references), run over whole columns; PREFILTER (every
# kind needs a digit, except e-mail, which needs an @), EMAIL and STREET_ADDRESS are RE2-compatible as they are
BROAD: dict[str, str] = {
    "ssn": r"(?:^|[^0-9])[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}(?:[^0-9]|$)",
    "email": EMAIL,
    "phone": r"(?:^|[^0-9])(?:\+?1[ .-]?)?(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}(?:[^0-9]|$)",
    "payment_card": r"(?:^|[^0-9])[0-9](?:[ -]?[0-9]){12,18}(?:[^0-9]|$)",
    "street_address": STREET_ADDRESS,
}
ANY = "|".join(f"(?:{p})" for p in BROAD.values())

# stage 2: exact rules, in Python, on the values stage 1 kept (the harness's patterns: SSN area rules, phone
# shapes, Luhn-valid card numbers)
_EXACT = {
    "ssn": lambda v: SSN.search(v) is not None,
    "phone": lambda v: PHONE.search(v) is not None,
    "payment_card": lambda v: bool(card_numbers(v)),
}


def detect(value: str) -> list[str]:
    """The kinds of personal data one string holds (used to redact samples before they are shown)."""
    found = []
    for kind, pattern in BROAD.items():
        if re.search(pattern, value) and _EXACT.get(kind, lambda _v: True)(value):
            found.append(kind)
    return found


def redact(value: object) -> object:
    """A sampled value, or a placeholder naming what it held when it looks like personal data."""
    if isinstance(value, str) and (kinds := detect(value)):
        return f"<redacted: {', '.join(kinds)}>"
    return value


@dataclass(frozen=True)
class PiiCount:
    column: str
    kind: str
    count: int      # values (cells) holding at least one match
    scanned: int    # non-null values scanned

    @property
    def share(self) -> float:
        return self.count / self.scanned if self.scanned else 0.0


def scan_column(values: pd.Series) -> dict[str, int]:
    """Count the values of one column holding each kind of personal data."""
    import pandas as pd

    s = values.dropna()
    if not (pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype)):
        s = s.astype(str).astype("str")
    counts = dict.fromkeys(KINDS, 0)
    if s.empty:
        return counts
    s = s[s.str.contains(PREFILTER, regex=True)]
    if s.empty:
        return counts
    s = s[s.str.contains(ANY, regex=True)]
    for kind in KINDS:
        if s.empty:
            break
        hits = s[s.str.contains(BROAD[kind], regex=True)]
        if hits.empty:
            continue
        exact = _EXACT.get(kind)
        if exact is None:
            counts[kind] = len(hits)
            continue
        tally = hits.value_counts()
        keep = [exact(str(v)) for v in tally.index]
        counts[kind] = int(tally[keep].sum())
    return counts


def scan(frame: pd.DataFrame, columns: list[str]) -> list[PiiCount]:
    """Every scanned column x kind, with its count (zeros included, so a report shows what was looked at)."""
    out = []
    for col in columns:
        n = int(frame[col].notna().sum())
        for kind, count in scan_column(frame[col]).items():
            out.append(PiiCount(column=col, kind=kind, count=count, scanned=n))
    return out


__all__ = ["KINDS", "LABELS", "PATTERNS", "PREFILTER", "PiiCount", "detect", "luhn_valid", "redact",
           "scan", "scan_column"]
