"""Personal data found in one text, as values: the privacy checks must know WHICH number an answer
holds (to tell a leaked one from the public office phone its context printed), not only that it holds
one, and must show it masked.

The finding and masking live in `harness.redact`, the harness's one masking function for every output
(issue 12, section 3), built on the data-quality scanner's rules (`harness.measures.pii`: the same
SSN area rules, phone shapes, Luhn check, e-mail and street-address patterns), so "personal data" means
the same thing in a dataset column, in a tool's answer, in this suite's tables and in every report.
"""
from __future__ import annotations

from harness.redact import PiiValue, find, mask, mask_pii, mask_text, normal_form

# `text` with every value `find` sees masked: safe to put in a report or an artifact. The same function the
# harness applies at its output boundary, so this suite's tables and the reports mask alike.
mask_all = mask_pii


def excerpt(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["PiiValue", "excerpt", "find", "mask", "mask_all", "mask_text", "normal_form"]
