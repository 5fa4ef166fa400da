"""Placeholder (html) until the report helper lands."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult


def render_html(result: AssessmentResult) -> str:
    lines = [f"# {result.tool['name']} {result.tool['version']}: {result.verdict.value}", ""]
    lines += [f"- {f.status.value} {f.key}: {f.message}" for f in result.findings]
    return "\n".join(lines) + "\n"
