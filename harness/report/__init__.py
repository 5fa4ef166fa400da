"""Reports of one assessment, rendered from `AssessmentResult` alone (so `harness report RUN_ID` can
re-render any logged assessment from its `assessment.json`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.assessment import AssessmentResult
    from harness.report.view import ReportView
    from harness.trend import History

FORMATS = ("json", "md", "html")
FILENAMES = {"json": "assessment.json", "md": "report.md", "html": "report.html"}


def render(result: AssessmentResult, fmt: str, history: History | None = None) -> str:
    if fmt == "json":
        return json_text(result.to_dict())
    if fmt == "md":
        from harness.report.markdown import render_markdown

        return render_markdown(result, history)
    if fmt == "html":
        from harness.report.html import render_html

        return render_html(result, history)
    raise ConfigError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def json_text(doc: dict[str, Any]) -> str:
    """assessment.json's text, from the result's `to_dict()`."""
    return json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_reports(result: AssessmentResult, out_dir: Path, history: History | None = None, *,
                  doc: dict[str, Any] | None = None, view: ReportView | None = None) -> list[Path]:
    """Write assessment.json, report.md and report.html into `out_dir`; return their paths. `history` (the tool's
    trend, read from the store by the caller) adds the "Over time" section; assessment.json never holds it. `doc`
    (`result.to_dict()`) and `view` (`build_view(result, history)`), when the caller has them: the assessment
    pipeline builds each once, for the reports, the tables and the memo (masking every string of a result is a
    tenth of a warm assessment)."""
    from harness.report.html import html_of
    from harness.report.markdown import markdown_of
    from harness.report.view import build_view

    out_dir.mkdir(parents=True, exist_ok=True)
    view = view or build_view(result, history)  # masked and laid out once; both renderers read it, neither changes it
    texts = {"json": json_text(result.to_dict() if doc is None else doc), "md": markdown_of(view),
             "html": html_of(view)}
    paths = []
    for fmt in FORMATS:
        path = out_dir / FILENAMES[fmt]
        path.write_text(texts[fmt], encoding="utf-8")
        paths.append(path)
    return paths
