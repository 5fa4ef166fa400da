"""YAML files users write: parse once, validate with pydantic, report every problem at once with its
path and line in the file, so an analyst can fix a manifest in one pass."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError, HarnessError

M = TypeVar("M", bound=BaseModel)


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in the document to its 1-based line number."""
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
        root = yaml.compose(text)
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
    (and `_line_index` would walk every copy); no file a user writes here needs them. The events are read
    first, which costs nothing, since the parser does not expand aliases."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise UnsafeYAML(f"it is larger than {MAX_YAML_BYTES:,} bytes")
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise UnsafeYAML(f"line {line} uses the YAML alias *{event.anchor}; aliases are not accepted (they can "
                             "expand a small file into gigabytes): write the value out")
    return yaml.safe_load(text)


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


def validate(model: type[M], data: dict[str, Any], text: str, source: str,
             error: type[HarnessError] = ConfigError) -> M:
    """Validate `data`; on failure raise one error that lists every problem with path and line."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = [f"  - {p.where}{f' (line {p.line})' if p.line and not p.missing else ''}: {p.message}"
                    for p in problems_of(e, text)]
        raise error(f"{source} has {len(problems)} problem(s):\n" + "\n".join(problems)) from None


@dataclass(frozen=True)
class Problem:
    """One validation problem: the field's dotted path, the line of the field (for a missing field, the
    line of the mapping that lacks it; None at the top level) and the message."""

    where: str
    line: int | None
    message: str
    missing: bool = False


def problems_of(e: ValidationError, text: str) -> list[Problem]:
    """Every problem of a validation error, located in the YAML text (also used by `harness.bundle`)."""
    index = _line_index(text)
    problems = []
    for err in e.errors():
        loc = tuple(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        # discriminated unions add the tag to the path ("adapter.sklearn.path"): drop it
        if len(loc) >= 2 and loc[0] == "adapter" and loc[1] in _ADAPTER_TAGS:
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


_ADAPTER_TAGS = {"sklearn", "mlflow", "predictions", "http", "openai", "responses", "python", "pickle"}
