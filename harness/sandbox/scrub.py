"""What a sandboxed model says is cut short and scrubbed before the harness keeps it (issue 12, section 1; the
Code of Ethics: "AI systems must not leak or export sensitive data outside City control"; policy 1.3, 1.4).

A vendor model's exception message, its stderr and any text it returns travel out of the sandbox into the
`ToolError`, the `harness.error` tag, the reports and the console. The sandbox already keeps secrets out of
the model's reach; this is the second line for whatever it got hold of anyway (its own model file, the inputs
it was given, a secret baked into the pickle): a channel that can carry only a few hundred characters of
printable ASCII, with lines from account files, private keys, API keys and other key-like tokens replaced by a
marker. It cannot catch every encoding a model could choose (the length limit bounds what gets through), so it
is a limit on volume and on the obvious, not a proof of secrecy.
"""
from __future__ import annotations

import re

TRUNCATED = "..."

# a line of /etc/passwd, /etc/shadow or /etc/group: name:field:number:number:... (the fields may be empty in
# shadow); the rest of the line goes with it
_ACCOUNT_LINE = re.compile(r"(?<![\w.-])[A-Za-z_][\w.-]*:[^:\s]*:\d*:\d*:[^\n]*")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*)",
                          re.DOTALL)
_PROVIDER_KEY = re.compile(r"(?<![\w-])(?:sk-[A-Za-z0-9_-]{16,}|(?:AKIA|ASIA)[0-9A-Z]{16})(?![\w-])")
# name = value, for the names that hold a secret; "None" and "null" (nothing found) are kept
_ASSIGNED = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)(\s*[=:]\s*)"
                       r"(?!(?:None|null)\b)([^\s'\",;]+)")
# key-like runs: standard base64 (with / and +) of 40 or more characters, or 32 or more of letters, digits and
# - _ + = (hex digests, base64url, tokens); judged by `_key_like`
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])")
_TOKEN_RUN = re.compile(r"(?<![\w+=-])[\w+=-]{32,}(?![\w+=-])")

ACCOUNT_MARK = "[redacted: account-file line]"
KEY_MARK = "[redacted: key]"
PRIVATE_KEY_MARK = "[redacted: private key]"
VALUE_MARK = "[redacted]"


def _base64_like(m: re.Match[str]) -> str:
    run = m.group(0)
    mixed = re.search(r"[a-z]", run) and re.search(r"[A-Z]", run) and re.search(r"\d", run)
    return KEY_MARK if mixed else run


def _token_like(m: re.Match[str]) -> str:
    """Letters and digits together (a hex digest, a random token) are a key; an identifier made of words
    (`test_a_model_that_hangs_while_predicting`) is not."""
    run = m.group(0)
    return KEY_MARK if re.search(r"\d", run) and re.search(r"[A-Za-z]", run) else run


def _printable(text: str, ascii_only: bool) -> str:
    """Printable characters only: newlines kept, tabs as a space, anything else a "?" (never dropped, so a
    scrubbed text never turns into another valid value, "1\\x00" into "1")."""
    out = []
    for c in text:
        if c == "\n" or " " <= c <= "~":
            out.append(c)
        elif c == "\t":
            out.append(" ")
        elif not ascii_only and c.isprintable() and ord(c) > 127:
            out.append(c)
        else:
            out.append("?")
    return "".join(out)


def scrub(text: str | None, limit: int, *, tail: bool = False, ascii_only: bool = True) -> str:
    """`text` as it may be stored: printable (ASCII unless `ascii_only` is False), account-file lines, private
    keys, provider keys, `password=...` values and key-like tokens replaced by a marker, and at most `limit`
    characters: the start, or with `tail` the end, with "..." where it was cut."""
    if not isinstance(text, str) or not text or limit <= 0:
        return ""
    text = text[-(limit * 8):] if tail else text[: limit * 8]  # bound the work; the cut below decides
    text = _printable(text, ascii_only)
    text = _PRIVATE_KEY.sub(PRIVATE_KEY_MARK, text)
    text = _ACCOUNT_LINE.sub(ACCOUNT_MARK, text)
    text = _PROVIDER_KEY.sub(KEY_MARK, text)
    text = _ASSIGNED.sub(lambda m: m.group(1) + m.group(2) + VALUE_MARK, text)
    text = _BASE64_RUN.sub(_base64_like, text)
    text = _TOKEN_RUN.sub(_token_like, text)
    if len(text) <= limit:
        return text
    keep = max(limit - len(TRUNCATED), 0)
    return (TRUNCATED + text[len(text) - keep:]) if tail else (text[:keep] + TRUNCATED)[:limit]


__all__ = ["ACCOUNT_MARK", "KEY_MARK", "PRIVATE_KEY_MARK", "VALUE_MARK", "scrub"]
