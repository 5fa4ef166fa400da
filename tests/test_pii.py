"""The personal-data scanner: what each pattern finds, what it must not find, and which columns it reads."""
from __future__ import annotations

import pandas as pd
import pytest

from harness.datasets import DatasetCard
from harness.measures.pii import KINDS, detect, luhn_valid, redact, scan, scan_column
from test_suites.data_quality.text_columns import columns_to_scan


@pytest.mark.parametrize(("text", "kinds"), [
    ("SSN 219-09-9999", ["ssn"]),
    ("ssn 219 09 9999 on the form", ["ssn"]),
    ("write to a.b-c@city.example.gov", ["email"]),
    ("(505) 768-3000", ["phone"]),
    ("+1 505.768.3000", ["phone"]),
    ("card 4111-1111-1111-1111", ["payment_card"]),
    ("amex 3782 822463 10005", ["payment_card"]),
    ("1 Civic Plaza NW", ["street_address"]),
    ("lives at 400 Marquette Ave NW, Apt 2", ["street_address"]),
    ("P.O. Box 1293", ["street_address"]),
    # not personal data, or not as far as a pattern can tell
    ("000-12-3456", []),               # area 000 is never issued
    ("666-12-3456", []),
    ("219-09-0000", []),               # serial 0000 is never issued
    ("219-09 9999", []),               # mixed separators
    ("1234 5678 9012 3456", []),       # 16 digits, Luhn-invalid
    ("4111 1111 1111 1112", []),
    ("2024-01-15 10:30", []),
    ("case 2024-00123", []),
    ("I walked 3 blocks down the way", []),
    ("at 5 pm", []),
    ("user at example dot com", []),
    ("called 123-4567", []),          # seven digits: no area code
])
def test_detect(text: str, kinds: list[str]) -> None:
    assert detect(text) == kinds


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("4111 1111 1111 1111")
    assert luhn_valid("378282246310005")           # 15-digit American Express test number
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("0000 0000 0000")          # 12 digits: too short to be a card
    assert luhn_valid("0000000000000")               # 13 zeros pass Luhn: the length rule is the guard


def test_luhn_is_the_textbook_check_on_any_digits() -> None:
    """The fast form (`str.translate` of every second digit) against the textbook loop, on 20,000 seeded numbers of
    10 to 21 digits, with separators and in another script's digits (which \\d matches)."""
    import random

    def textbook(number: str) -> bool:
        digits = [int(c) for c in number if c.isdecimal()]
        if not 13 <= len(digits) <= 19:
            return False
        total = 0
        for i, d in enumerate(reversed(digits)):
            total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 else d
        return total % 10 == 0

    r = random.Random(20261207)
    numbers = []
    for _ in range(20_000):
        n = "".join(r.choice("0123456789") for _ in range(r.randint(10, 21)))
        n = f"{n[:4]} {n[4:10]}-{n[10:]}" if r.random() < 0.3 else n
        numbers.append(n.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) if r.random() < 0.05 else n)
    assert [luhn_valid(n) for n in numbers] == [textbook(n) for n in numbers]
    assert 1_000 < sum(map(textbook, numbers)) < 2_000  # about a tenth of the 13-19 digit ones pass


def test_scan_counts_values_not_matches() -> None:
    s = pd.Series(["a@b.org and c@d.org", "a@b.org", None, "nothing", "4111 1111 1111 1111"] * 3, dtype="str")
    got = scan_column(s)
    assert got == {"ssn": 0, "email": 6, "phone": 0, "payment_card": 3, "street_address": 0}
    assert set(got) == set(KINDS)


def test_scan_reads_object_and_categorical_columns() -> None:
    frame = pd.DataFrame({"o": pd.Series(["x", "jo@example.com", 3], dtype=object),
                          "c": pd.Categorical(["219-09-9999", "x", "x"])})
    got = {(c.column, c.kind): c.count for c in scan(frame, ["o", "c"]) if c.count}
    assert got == {("o", "email"): 1, ("c", "ssn"): 1}


def test_redact_names_the_kind_and_keeps_the_rest() -> None:
    assert redact("mail jo@example.com") == "<redacted: email>"
    assert redact("?") == "?" and redact(42) == 42


def test_which_columns_are_scanned() -> None:
    card = DatasetCard.model_validate({
        "name": "x", "version": "1", "task": "binary-classification", "file": "x.csv", "sha256": "0" * 64,
        "source": "s", "license": "l", "target": {"column": "y", "positive": 1}, "features": [],
        "protected_attributes": {}, "pii_columns": ["name"],
        "columns": {"kind": {"type": "category"}, "code": {"type": "string", "values": ["a"]},
                    "memo": {"type": "integer", "text": True}, "free": {"type": "string"}},
    })
    frame = pd.DataFrame({"name": ["Ann"], "kind": ["a"], "code": ["a"], "memo": [1], "free": ["t"],
                          "undeclared": ["u"], "n": [1.5], "flag": [True], "y": [1]})
    # declared PII is never read; categorical and numeric columns are skipped; text: true always scanned
    assert columns_to_scan(card, frame) == ["memo", "free", "undeclared"]
