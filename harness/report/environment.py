"""The Jinja2 environment every HTML page of the harness is drawn by (the report, the comparison of two runs, a
tool's trend): autoescape on, strict undefined names, compiled templates cached. Its own module, below the pages
that use it, so a page module never imports another page's module for it (no import cycle)."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "report/templates"),
        autoescape=True,  # the template is .html.j2, which select_autoescape would not recognise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # the template compiles in about 0.15 s, a third of a report's rendering: keep the compiled code between
        # runs, keyed by the template's checksum, in the user's private temporary folder (issue 13, section 5)
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )


def template(name: str) -> jinja2.Template:
    """A template of `harness/report/templates` in the report's environment (autoescape, strict, cached): the
    comparison page (`harness.report.comparison`) is drawn by the same machinery as the report."""
    return _environment().get_template(name)


__all__ = ["template"]
