"""YAML files users write: parse once, validate with pydantic, report every problem at once with its
path and line in the file, so an analyst can fix a manifest in one pass."""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError, HarnessError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# libyaml's parser under PyYAML's own safe constructor and resolver: the same values, 15x faster (the packaged
# policy, 40 kB, parsed in 7 ms instead of 107 ms; an assessment reads its policy five times). A document libyaml
# refuses is read again by PyYAML's pure-Python parser, so that a user sees PyYAML's message (it quotes the line
# with a caret; libyaml's only names it) and a document only PyYAML accepts is read as before. PyYAML's classes
# alone where it was built without libyaml.
_LOADERS: tuple[Any, ...] = tuple(dict.fromkeys([getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader]))


def line_index(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in the document to its 1-based line number (a copy of the index kept per text: every
    assessment checks its policy's settings against the policy's text)."""
    return dict(_line_index(text))


@functools.lru_cache(maxsize=16)
def _line_index(text: str) -> dict[tuple[str, ...], int]:
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*path, str(k.value))
                lines[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, str(i)))

    try:
        root = _read(text, lambda loader: yaml.compose(text, Loader=loader))
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


MAX_YAML_BYTES = 1 << 20  # a manifest, card or policy is a few kilobytes; a megabyte is far beyond any real one


class UnsafeYAML(yaml.YAMLError):
    """A document the harness will not expand: too large, or using aliases (issue 12, hardening)."""


def safe_yaml(text: str) -> Any:
    """`yaml.safe_load` for text from outside: refused when larger than MAX_YAML_BYTES or when it uses an alias
    (`*name`). Aliases are what a 340-byte "billion laughs" document multiplies into gigabytes when expanded
    (and `line_index` would walk every copy); no file a user writes here needs them. The events are read
    first, which costs nothing, since the parser does not expand aliases."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise UnsafeYAML(f"it is larger than {MAX_YAML_BYTES:,} bytes")

    def load(loader: Any) -> Any:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise UnsafeYAML(f"line {line} uses the YAML alias *{event.anchor}; aliases are not accepted (they "
                                 "can expand a small file into gigabytes): write the value out")
        return yaml.load(text, Loader=loader)

    return _read(text, load)


def _read(text: str, read: Callable[[Any], T]) -> T:
    """`read(loader)` with libyaml's loader, then, if that raised a YAML error (not UnsafeYAML), with PyYAML's own:
    its result, or its error (see _LOADERS)."""
    for loader in _LOADERS[:-1]:
        try:
            return read(loader)
        except UnsafeYAML:
            raise
        except yaml.YAMLError:
            pass
    return read(_LOADERS[-1])


# --- JSON and JSONL from outside the harness process (issue 12, hardening) ----------------------------------

MAX_JSON_BYTES = 1 << 20  # a plan or an evidence listing: kilobytes, like a manifest
MAX_JSONL_LINE_BYTES = 1 << 20  # one vendor response or one dataset item: a paragraph, not a megabyte
MAX_RECORD_JSON_BYTES = 64 << 20  # an assessment.json: the demo's is 0.7 MB (per-group tables grow with groups)
MAX_DATASET_JSON_BYTES = 128 << 20  # a whole dataset document: SQuAD 2.0's full training set is 40 MiB
MAX_JSON_DEPTH = 64  # SQuAD and the harness's own records nest fewer than ten levels

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # a JSON string, its escapes included
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


class _NotAJSONConstant(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _refuse_constant(name: str) -> Any:
    raise _NotAJSONConstant(name)


def _deeper_than(text: str, levels: int) -> bool:
    """Whether valid JSON `text` nests arrays and objects more than `levels` deep. Strings are removed (their
    brackets are not nesting), then all but the brackets, then the innermost pairs once per level: a few
    regex passes at C speed, where walking the parsed value would be a Python loop over every item."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(levels):
        if not brackets:
            return False
        brackets = _EMPTY_PAIR.sub("", brackets)
    return bool(brackets)


def _too_large(text: str | bytes, limit: int) -> bool:
    if isinstance(text, bytes) or len(text) > limit or 4 * len(text) <= limit:  # UTF-8: 1 to 4 bytes a character
        return len(text) > limit
    return len(text.encode("utf-8", "surrogatepass")) > limit


def safe_json(text: str | bytes, where: str, limit: int = MAX_JSON_BYTES, *,
              error: type[HarnessError] = ConfigError) -> Any:
    """`json.loads` for a document from outside the harness process (a vendor's file, a dataset, a document read
    back from the store, which anyone with access to it can rewrite): refused with one `error` naming `where`
    when it is larger than `limit` bytes (as UTF-8), nests more than MAX_JSON_DEPTH levels (Python's parser
    raises RecursionError near a thousand, which the CLI could only call an internal error), or uses NaN or
    Infinity (not JSON; the harness writes its own documents with allow_nan=False). Text that is not JSON at
    all raises `json.JSONDecodeError` (bytes that are not UTF-8, `UnicodeDecodeError`), for the caller to
    word in its own terms."""
    if _too_large(text, limit):
        raise error(f"{where} is not accepted: it is larger than {limit:,} bytes")
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    too_deep = error(f"{where} is not accepted: it nests arrays and objects more than {MAX_JSON_DEPTH} levels deep "
                     "(a real document needs a few)")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise too_deep from None
    except _NotAJSONConstant as e:
        raise error(f"{where} is not accepted: it uses {e.name}, which JSON does not allow: write null or a "
                    "number") from None
    if _deeper_than(text, MAX_JSON_DEPTH):
        raise too_deep
    return value


def read_json(path: Path, where: str, limit: int = MAX_JSON_BYTES, *,
              error: type[HarnessError] = ConfigError) -> Any:
    """`safe_json` of a file, whose size is checked before a byte of it is read."""
    if path.stat().st_size > limit:
        raise error(f"{where} is not accepted: it is larger than {limit:,} bytes")
    return safe_json(path.read_bytes(), where, limit, error=error)


def jsonl_lines(f: IO[bytes], limit: int = MAX_JSONL_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """Each line of a binary file with its 1-based number, without its line end; None for a line longer than
    `limit` bytes, which is read past in pieces of at most `limit` bytes, never held whole: a JSONL file is
    streamed, so one line without an end must not become gigabytes of memory."""
    n = 0
    while line := f.readline(limit + 1):
        n += 1
        body = line[:-1] if line.endswith(b"\n") else line
        if len(body) <= limit:
            yield n, body.removesuffix(b"\r")
            continue
        yield n, None  # a caller that stops here reads no further
        while not line.endswith(b"\n") and (line := f.readline(limit + 1)):
            pass


def safe_jsonl(path: Path, what: str, limit: int = MAX_JSONL_LINE_BYTES, *,
               error: type[HarnessError] = ConfigError) -> Iterator[tuple[int, Any]]:
    """Each non-blank line of a JSONL file, parsed by `safe_json` with `limit` bytes a line, with its number; the
    first bad line raises one `error` naming `what` (the file) and the line. The file's total size is bounded by
    what its reader keeps of each row, not here."""
    with path.open("rb") as f:
        for n, raw in jsonl_lines(f, limit):
            where = f"{what}, line {n}"
            if raw is None:
                raise error(f"{where} is not accepted: it is larger than {limit:,} bytes")
            if not raw.strip():
                continue
            try:
                value = safe_json(raw, where, limit, error=error)
            except UnicodeDecodeError:
                raise error(f"{where}: not UTF-8 text") from None
            except json.JSONDecodeError as e:
                raise error(f"{where}: not valid JSON ({e.msg})") from None
            yield n, value


def read_yaml_mapping(path: Path, what: str, error: type[HarnessError] = ConfigError) -> tuple[dict[str, Any], str]:
    if not path.is_file():
        raise error(f"{what} {path} does not exist")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise error(f"{what} {path} is not accepted: it is larger than {MAX_YAML_BYTES:,} bytes")
    text = path.read_text()
    try:
        data = safe_yaml(text)
    except UnsafeYAML as e:
        raise error(f"{what} {path} is not accepted: {e}") from None
    except yaml.YAMLError as e:
        raise error(f"{what} {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise error(f"{what} {path} must be a YAML mapping of fields, got {type(data).__name__}")
    return data, text


Tags = Mapping[str, Collection[str]]
"""Per top-level field holding a discriminated union, the tags of its members (`{"adapter": kinds}`)."""


def validate(model: type[M], data: dict[str, Any], text: str, source: str,
             error: type[HarnessError] = ConfigError, *, tags: Tags | None = None) -> M:
    """Validate `data`; on failure raise one error that lists every problem with path and line. `tags` names
    the discriminated unions whose tag pydantic adds to a problem's path (see `problems_of`)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = [f"  - {p.where}{f' (line {p.line})' if p.line and not p.missing else ''}: {p.message}"
                    for p in problems_of(e, text, tags)]
        raise error(f"{source} has {len(problems)} problem(s):\n" + "\n".join(problems)) from None


@dataclass(frozen=True)
class Problem:
    """One validation problem: the field's dotted path, the line of the field (for a missing field, the
    line of the mapping that lacks it; None at the top level) and the message."""

    where: str
    line: int | None
    message: str
    missing: bool = False


def problems_of(e: ValidationError, text: str, tags: Tags | None = None) -> list[Problem]:
    """Every problem of a validation error, located in the YAML text (also used by `harness.workflows.bundle`). A
    discriminated union adds its member's tag to the path ("adapter.sklearn.path"), which is not a key in the
    file: the tags `tags` names for that field (a tool manifest's: the adapter table's kinds) are dropped."""
    index = line_index(text)
    problems = []
    for err in e.errors():
        loc = tuple(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        if len(loc) >= 2 and tags and loc[1] in tags.get(loc[0], ()):
            loc = (loc[0], *loc[2:])
        where = ".".join(loc) or "(top level)"
        line = None
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in index:
                line = index[loc[:cut]]
                break
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        problems.append(Problem(where, line, msg, missing=err["type"] == "missing"))
    return problems
