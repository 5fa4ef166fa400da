"""Reports of one assessment, rendered from `AssessmentResult` alone (so `harness report RUN_ID` can
re-render any logged assessment from its `assessment.json`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.trend import History

FORMATS = ("json", "md", "html")
FILENAMES = {"json": "assessment.json", "md": "report.md", "html": "report.html"}


def render(result: AssessmentResult, fmt: str, history: History | None = None) -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, sort_keys=False, allow_nan=False) + "\n"
    if fmt == "md":
        from harness.report.markdown import render_markdown

        return render_markdown(result, history)
    if fmt == "html":
        from harness.report.html import render_html

        return render_html(result, history)
    raise ConfigError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_reports(result: AssessmentResult, out_dir: Path, history: History | None = None) -> list[Path]:
    """Write assessment.json, report.md and report.html into `out_dir`; return their paths. `history` (the tool's
    trend, read from the store by the caller) adds the "Over time" section; assessment.json never holds it."""
    from harness.report.html import html_of
    from harness.report.markdown import markdown_of
    from harness.report.view import build_view

    out_dir.mkdir(parents=True, exist_ok=True)
    view = build_view(result, history)  # masked and laid out once; both renderers read it and neither changes it
    texts = {"json": render(result, "json"), "md": markdown_of(view), "html": html_of(view)}
    paths = []
    for fmt in FORMATS:
        path = out_dir / FILENAMES[fmt]
        path.write_text(texts[fmt], encoding="utf-8")
        paths.append(path)
    return paths
