"""Personal data masked where text leaves the harness (issue 12, section 3; Code of Ethics, Safety: AI systems
"must not leak ... sensitive data"; policy 1.2).

A generative tool's answers, a dataset's item ids and a tool's error messages can hold a resident's social
security number, payment card, phone number, e-mail or street address. The privacy suite showed them masked,
but the hallucination tables, the findings, the `harness.error` tag and the console printed them raw. Masking
section by section misses the next section, so every writer calls `mask_pii` (or `mask_tree`) at the output
boundary instead: `harness.assessment.jsonable` (assessment.json and every JSON artifact), the report view
(`harness.report.view.build_view`, shared by Markdown and HTML), the MLflow tags that hold free text, the
console (`harness.cli.console.make_console`) and the command line's error handler.

The values are the ones the data-quality PII scanner counts (`harness.measures.pii`: the same SSN area
rules, phone shapes, Luhn check, e-mail and street-address patterns), found by `find`, which the privacy suite
uses too (`test_suites.privacy.values` re-exports it), so "personal data" means one thing in a dataset column,
in a tool's answer and in a report. The patterns live here, in the harness, because the harness never
imports a suite; the scanner imports them from here (tests/test_pii_boundary.py checks it uses these objects).

Masking touches text only, never a number, and leaves alone what only looks like a number: a sha256 digest,
an MLflow run id or a UUID (hex tokens) and an ISO date or time are never read as a card or a phone number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass, replace
from enum import Enum
from typing import Any

KINDS: tuple[str, ...] = ("ssn", "email", "phone", "payment_card", "street_address")

# ---- the patterns the data-quality scanner imports (harness/measures/pii.py) ----
_SUFFIXES = ("street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "drive", "dr", "lane", "ln", "way",
             "court", "ct", "place", "pl", "terrace", "ter", "circle", "cir", "parkway", "pkwy", "highway", "hwy",
             "trail", "trl", "loop", "plaza", "square", "sq")
_SUFFIX = "|".join(sorted({f for w in _SUFFIXES for f in (w, w.capitalize(), w.upper())}, key=len, reverse=True))
PREFILTER = r"[0-9@]"  # every kind needs a digit, except e-mail, which needs an @
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
STREET_ADDRESS = (r"(?:^|[^0-9A-Za-z])[0-9]{1,6}[A-Za-z]? +(?:[A-Z0-9][A-Za-z0-9'-]*\.? +){1,4}"
                  rf"(?:{_SUFFIX})(?:[^A-Za-z]|$)|(?:^|[^A-Za-z])[Pp]\.? ?[Oo]\.? *[Bb][Oo][Xx] +[0-9]+")
SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)(\d{3})([- ])(?!00)\d{2}\2(?!0000)\d{4}(?![\d-])")
PHONE = re.compile(r"(?<![\d-])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?![\d-])")
# the exact patterns that give match positions, in the order `find` tries them; payment card numbers are found by
# `card_numbers`, which no single regular expression can express (a run of digits, then the Luhn check on its parts)
PATTERNS: dict[str, re.Pattern[str]] = {"ssn": SSN, "phone": PHONE}
# a run of 13 or more digits, each at most one space or hyphen from the next: where card numbers are looked for
DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){12,}")
# a piece of such a run written as a card number is printed, between spaces (or the run's ends): one group of 13 to
# 19 digits, or the groups of ISO/IEC 7812 issuers, spaces or hyphens between them: 4-6-5 (American Express), 4-6-4
# (Diners Club), 4-4-4-4 and 4-4-4-4-3 (19 digits). A lookahead, so that pieces starting at every space are seen
CARD_PIECE = re.compile(r"(?<![^ ])(?=(\d{13,19}|\d{4}[ -]\d{6}[ -]\d{4,5}|\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}"
                        r"(?:[ -]\d{3})?)(?![^ ]))")

_EMAIL = re.compile(EMAIL)
_ADDRESS = re.compile(STREET_ADDRESS)
_PREFILTER = re.compile(PREFILTER)

# what looks like a number but is not personal data: UUIDs, hex identifiers (sha256 and sha1 digests, MLflow run
# ids: 16 or more hex characters with a letter among them, so a card number alone is never one) and ISO dates
# with their times
_PROTECTED = re.compile(
    r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{16,}(?![0-9A-Za-z])"
    r"|(?<![0-9])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![0-9])"
    # a digest named as one and shortened for display as the harness shortens it ("sha256 160413524607..."): its
    # 12 characters may all be digits, and "256 160413524607" once read as a Luhn-valid card number. Only 12 then
    # "...": a card number is 13 to 19 digits, so "sha256 4111111111111111" written by a tool is still masked
    r"|(?<![0-9A-Za-z])[Ss][Hh][Aa](?:1|224|256|384|512)[ :=]+[0-9a-fA-F]{12}(?=\.\.\.)"
)


_NOT_DIGIT = re.compile(r"\D")
_DOUBLED = str.maketrans("0123456789", "0246813579")  # a digit doubled, the digits of the product summed


def luhn_valid(number: str) -> bool:
    """The Luhn checksum every payment card number satisfies (ISO/IEC 7812); 13 to 19 digits."""
    digits = _NOT_DIGIT.sub("", number)
    if not 13 <= len(digits) <= 19:
        return False
    if not digits.isascii():  # other scripts' decimal digits (\d matches them): as ASCII digits
        digits = "".join(str(int(c)) for c in digits)
    return sum(map(int, digits[-1::-2] + digits[-2::-2].translate(_DOUBLED))) % 10 == 0


def card_numbers(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every payment card number in `text`, in order, none overlapping.

    A card number is a Luhn-valid run of 13 to 19 digits, single spaces or hyphens between them (`DIGIT_RUN`), not
    joined to other digits or by a hyphen to anything (an id "RA-S0101-00001", a date): the whole run. When the whole
    run is not one (too long, or Luhn-invalid: "case 7 4111111111111111" is a 17-digit run, "sha256 4111 1111 1111
    1111" a 19-digit one), a card number can still sit inside it: a piece that starts and ends at a space (or at the
    run's own ends) and is written as card numbers are printed (`CARD_PIECE`), leftmost first, the longest at each
    start. The shape is what keeps ordinary numbers out: a list of counts ("rows 14000 3000 9000 60"), a phone number
    and the next figure, or digits cut out of one longer group would otherwise pass the Luhn check one time in ten
    for every piece of 13 to 19 digits in them. A list of four-digit numbers can still hold a Luhn-valid 4-4-4-4
    piece ("2023 2024 2025 2026", which is masked on its own too): the price of finding the card number a tool
    prints before an expiry date and a security code. One regular expression over the run finds the pieces, and
    only those are checked (Luhn), so the data-quality scanner's second stage stays cheap on 1M-row columns."""
    out: list[tuple[int, int]] = []
    for m in DIGIT_RUN.finditer(text):
        start, end = m.span()
        head = start == 0 or text[start - 1] != "-"
        tail = end == len(text) or text[end] != "-"
        run = m.group()
        if head and tail and luhn_valid(run):
            out.append((start, end))
            continue
        if " " not in run:
            continue  # no piece but the whole run
        # the pieces, leftmost first, the longest at each start (a 4-4-4-4-3 piece, then its 4-4-4-4 head)
        pos = 0
        for p in CARD_PIECE.finditer(run):
            a = p.start()
            if a < pos or (a == 0 and not head):
                continue
            piece = p.group(1)
            for b in (a + len(piece), a + 19 if len(piece) == 23 and piece[19] == " " else -1):
                if b > a and (b < len(run) or tail) and (a, b) != (0, len(run)) and luhn_valid(run[a:b]):
                    out.append((start + a, start + b))
                    pos = b
                    break
    return out


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
    for kind, pattern in PATTERNS.items():
        for m in pattern.finditer(text):
            found.append(PiiValue(kind, m.group(), m.start(), m.end()))
    for start, end in card_numbers(text):
        found.append(PiiValue("payment_card", text[start:end], start, end))
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


def personal_values(text: str | None) -> list[PiiValue]:
    """The values `mask_pii` masks: those `find` sees, less a number that is part of a digest, a run id, a
    UUID or an ISO date (an e-mail address is always personal: its @ is no part of any of those)."""
    found = find(text)
    if not found or text is None:
        return found
    protected = [m.span() for m in _PROTECTED.finditer(text)]
    if not protected:
        return found
    return [v for v in found
            if v.kind == "email" or not any(v.start < end and start < v.end for start, end in protected)]


def mask_pii(text: str) -> str:
    """`text` with every personal value masked (`mask`): the one function every output of the harness
    passes free text through. Idempotent: a masked value is never found again."""
    values = personal_values(text)
    return mask_text(text, [(v.start, v.end, v.masked) for v in values]) if values else text


def mask_tree(obj: Any) -> Any:
    """A JSON-like structure, or a frozen dataclass of them (an `AssessmentResult` with its suites, findings
    and measurements), with every string masked, keys included (an item id can be a key); numbers, booleans,
    None and enum members untouched. Two keys that mask alike are both kept, the later one numbered."""
    if isinstance(obj, Enum):
        return obj
    if isinstance(obj, str):
        return mask_pii(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return replace(obj, **{f.name: mask_tree(getattr(obj, f.name)) for f in fields(obj) if f.init})
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            key = mask_pii(k) if isinstance(k, str) else k
            if key in out and key != k:
                n = 2
                while f"{key} #{n}" in out:
                    n += 1
                key = f"{key} #{n}"
            out[key] = mask_tree(v)
        return out
    if isinstance(obj, list):
        return [mask_tree(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(mask_tree(v) for v in obj)
    return obj


def clip(text: str, limit: int) -> str:
    """The first `limit` characters of `text`, cut before a personal value the limit would split: half a
    phone number is no longer recognised as one by `mask_pii`, but still discloses most of it."""
    if len(text) <= limit:
        return text
    cut = limit
    for v in personal_values(text):
        if v.start < cut < v.end:
            cut = v.start
            break
    return text[:cut]


__all__ = ["KINDS", "PATTERNS", "PiiValue", "card_numbers", "clip", "find", "luhn_valid", "mask", "mask_pii",
           "mask_text", "mask_tree", "normal_form", "personal_values"]
