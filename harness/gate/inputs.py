"""What callers hand the gate, made ready for the rules: a `TOOL[:VERSION]` reference, the person acting
and when two written names are one person, a reason, the store's registry and a policy's re-assessment
intervals, and the one sentence a refusal takes (rule and policy section), so every refusal reads alike
wherever it is raised.

The bottom of the gate's small internal API: it imports no other gate module, so every other one (identity,
roles, log, inforce, writer, then versions, decisions, policies and views on top) may use it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import GateError

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.tracking.registry import Registry
    from harness.tracking.store import Store


def submitter_of(by: str | None = None) -> str:
    """Who started a DTI-initiated assessment: `--by`, else $HARNESS_USER, else the login name."""
    import getpass
    import os

    if by and by.strip():
        return by.strip()
    if os.environ.get("HARNESS_USER", "").strip():
        return os.environ["HARNESS_USER"].strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "unknown"


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`TOOL[:VERSION]` as the command line takes it."""
    tool, _, version = ref.partition(":")
    if not tool:
        raise GateError(f"{ref!r} names no tool; write TOOL or TOOL:VERSION (e.g. rentrank:2.1.0)")
    return tool, (version or None)


def refuse(what: str, rule: str, section: str, detail: str) -> GateError:
    return GateError(f"{what} refused by rule '{rule}' (policy {section}): {detail}", rule=rule, section=section,
                     detail=detail)


def named_person(name: str | None, role: str, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise refuse(what, "accountable-person", "2.3", f"the {role} must be named: a person answers for "
                      "every decision")
    return name


# Latin letters that Cyrillic and Greek letters are drawn like: "Dаna" with a Cyrillic "а" is Dana to a reader
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ӏ": "l", "α": "a", "β": "b",
    "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ɑ": "a",
})


def person_key(name: str) -> str:
    """What makes two written names one person for separation of duties (policy 2.3, 4.1): Unicode NFKC
    (full-width and ligature forms), no invisible characters (zero-width spaces, joiners, marks), accents
    dropped, any run of spaces (no-break, em, ...) as one, case folded, and Cyrillic or Greek letters that look
    Latin read as Latin. It does not know that "D. Analyst" or an e-mail address is the same person: only an
    authenticated identity can (issue 12, section 2)."""
    import unicodedata

    text = unicodedata.normalize("NFKC", name)
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if unicodedata.category(c) not in ("Cf", "Mn", "Me", "Cc"))
    text = " ".join(text.split())
    return text.casefold().translate(_HOMOGLYPHS)


def _tokens(name: str) -> list[str]:
    """A written name as the words a reader takes it for: an e-mail address by its local part
    ("dana.analyst@city.gov" is "dana analyst"), an affiliation after a comma left out, dots dropped."""
    import re

    key = person_key(name.split(",")[0])
    if "@" in key:
        key = key.split("@")[0]
    return [t for t in re.split(r"[\s._+\-]+", key) if t]


def _initialled(a: list[str], b: list[str]) -> bool:
    """"D. Analyst" and "Dana Analyst": as many words, each the same or an initial of the other's, and at least
    one written out the same (a reader takes them for one person; separation of duties must too)."""
    if len(a) != len(b) or len(a) < 2:
        return False
    full = False
    for x, y in zip(a, b, strict=True):
        if x == y:
            full = full or len(x) > 1
        elif not ((len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y))):
            return False
    return full


def same_person(a: str, b: str | None) -> bool:
    """One person by `person_key`, also when one of them added an affiliation after a comma ("Sam Seller,
    Example Vendor" and "Sam Seller"), wrote an e-mail address ("sam.seller@vendor.example") or an initial
    ("S. Seller"). On an embedded store a name is all there is; these are the ways a reader would take two
    names for one person (issue 12). A login on the City's server is compared the same way."""
    if b is None:
        return False
    if person_key(a) == person_key(b):
        return True
    ta, tb = _tokens(a), _tokens(b)
    return bool(ta) and (ta == tb or _initialled(ta, tb))


ACCOUNTS = frozenset({"root", "admin", "administrator", "system", "unknown", "user", "nobody", "test", "dti"})


def stripped(value: str | None) -> str:
    return (value or "").strip()


def registry_at(uri: str) -> Registry:
    from harness.tracking.store import Store

    return Store(uri).registry


def store_of(reg: Registry) -> Store:
    """The Store a registry reads through (`registry_at` always builds the registry from one). The registry
    module names only the protocol it needs of a store, because the store module imports it; this is where
    the gate gets the whole Store back, checked."""
    from harness.tracking.store import Store

    if not isinstance(reg.store, Store):
        raise TypeError(f"the gate's registry at {reg.uri} is not backed by a harness Store")
    return reg.store


def reassessment_interval(policy: Policy, tier: str) -> int:
    return int(policy.reassessment_days.get(tier, min(policy.reassessment_days.values())))  # type: ignore[call-overload]
