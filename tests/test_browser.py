"""The decision memo, the HTML report and the public register in a real browser (issue 15): Debian's headless
Chromium driven by selenium through the system chromedriver (nothing downloaded). Each page must show its verdict
and summary in the first 900 pixels, have no element wider than the page and no text box over another, and the
memo must print on at most two A4 and two Letter pages (Chromium's print-to-PDF and WeasyPrint, which makes the
memo's PDF). Skipped with the reason when Chromium or selenium is missing, a failure under CI=true (`.ci/run`
installs them)."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.assessment import AssessmentResult
from harness.report import render
from harness.report.memo import DecisionView, build_memo, memo_html, pdf_document

RESOURCES = Path(__file__).parent / "resources"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run")
PAPER = {"A4": (8.27, 11.69), "Letter": (8.5, 11.0)}  # inches, as Page.printToPDF takes them
FOLD = 900  # the verdict and the summary must be seen without scrolling

# every visible text box (one rectangle per line of each text node, outside the SVG plots, which place their own
# labels), and whether it is clipped by a scrolling ancestor (a wide table scrolls inside its box: not overflow)
TEXT_BOXES = """
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let node, id = 0;
while ((node = walker.nextNode())) {
  if (!node.textContent.trim() || node.parentElement.closest('svg, style, script, head')) continue;
  // folded content (a closed <details>) is laid out but not drawn: not a box anyone sees
  if (!node.parentElement.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
  const range = document.createRange();
  range.selectNodeContents(node);
  let clipped = false;
  for (let el = node.parentElement; el && el !== document.body; el = el.parentElement) {
    const ox = getComputedStyle(el).overflowX;
    if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { clipped = true; break; }
  }
  id += 1;
  for (const r of range.getClientRects()) {
    if (r.width < 0.5 || r.height < 0.5) continue;
    out.push({id: id, text: node.textContent.trim().slice(0, 60), left: r.left + scrollX, right: r.right + scrollX,
              top: r.top + scrollY, bottom: r.bottom + scrollY, clipped: clipped});
  }
}
return out;
"""
WIDE_ELEMENTS = """
const width = document.documentElement.clientWidth, out = [];
for (const el of document.body.querySelectorAll('*')) {
  if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
  if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  let clipped = false;
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const ox = getComputedStyle(p).overflowX;
    if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { clipped = true; break; }
  }
  if (!clipped && (r.right > width + 1 || r.left < -1))
    out.push(el.tagName + '.' + el.className + ' ' + r.left + '-' + r.right);
}
return {width: width, scrollWidth: document.documentElement.scrollWidth, wide: out.slice(0, 10)};
"""


def overlaps(boxes: list[dict[str, Any]], tolerance: float = 1.0) -> list[str]:
    """Pairs of text boxes of different text nodes that cover each other by more than `tolerance` pixels both ways
    (a sweep over the boxes sorted by their top)."""
    found = []
    ordered = sorted(boxes, key=lambda b: b["top"])
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b["top"] >= a["bottom"] - tolerance:
                break
            if a["id"] == b["id"] or a["clipped"] or b["clipped"]:
                continue
            dx = min(a["right"], b["right"]) - max(a["left"], b["left"])
            dy = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if dx > tolerance and dy > tolerance:
                found.append(f"{a['text']!r} over {b['text']!r} ({dx:.0f} x {dy:.0f} px)")
    return found


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF Chromium printed: its page objects (Chromium writes them uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() and os.access(p, os.X_OK))]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package (pip install -e '.[dev]')")
    if missing:
        why = f"headless Chromium is not available: {', '.join(missing)} missing (apt-get install chromium " \
              "chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; required under CI")
        pytest.skip(why)
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium's manager never looks anything up
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def load(driver: Any, path: Path, width: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": FOLD, "deviceScaleFactor": 1, "mobile": False})
    driver.get(path.as_uri())
    driver.execute_script("return document.fonts ? document.fonts.ready : true")


def rect(driver: Any, selector: str) -> dict[str, float]:
    r = driver.execute_script(
        "const e = document.querySelector(arguments[0]); if (!e) return null;"
        "const r = e.getBoundingClientRect(); return {top: r.top + scrollY, bottom: r.bottom + scrollY};", selector)
    assert r is not None, f"no {selector} on the page"
    return r  # type: ignore[no-any-return]


def print_pages(driver: Any, paper: str) -> int:
    w, h = PAPER[paper]
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": w, "paperHeight": h, "printBackground": True,
                                                     "preferCSSPageSize": False})
    return pdf_pages(base64.b64decode(pdf["data"]))


# -- the pages ------------------------------------------------------------------------------------------------


def _result(name: str) -> AssessmentResult:
    return AssessmentResult.from_dict(json.loads((RESOURCES / name).read_text("utf-8")))


WAIVED = DecisionView(
    state="waived", headline="Waived by Chief Information Officer on 2026-12-01 10:00 UTC, on this assessment: the "
    "City accepts the risk under conditions until 2027-02-28 (policy 4.2).",
    rows=[("By", "Chief Information Officer, authenticated (MLflow login)"), ("When", "2026-12-01 10:00 UTC"),
          ("Rationale", "The programme opens in January and no other tool is ready; the vendor has committed to "
                        "retraining without the neighbourhood input by February."),
          ("Conditions", "A caseworker reviews every denial and every application from the three affected "
                         "neighbourhoods; the department reports monthly selection rates by race to DTI."),
          ("Expires", "2027-02-28")],
    gate="OPEN: rentrank 2.1 is waived by Chief Information Officer on 2026-12-01 10:00 UTC until 2027-02-28; "
         "conditions: a caseworker reviews every denial",
    next_due="2027-03-01: high-risk tools are re-assessed every 90 days (policy 4.3)", as_of="2026-12-07 09:00 UTC")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The memo of RentRank's FAIL with the longest decision (a waiver), the memo of a FAIL with checks not
    tested, RentRank's full report, and a register of two tools."""
    folder = tmp_path_factory.mktemp("pages")
    v2, v3 = _result("assessment_v2_fail.json"), _result("assessment_v3_fail.json")
    later, history = quarters("assessment_v2_fail.json")  # RentRank's three failed checks and the longest decision
    texts = {"memo-waived.html": memo_html(build_memo(v2, WAIVED)), "memo-untested.html": memo_html(build_memo(v3)),
             "report.html": render(v3, "html"), "register.html": register_html(),
             "memo-trend.html": memo_html(build_memo(later, WAIVED, history=history)),
             "memo-suspended.html": memo_html(build_memo(later, SUSPENDED, history=history)),
             "memo-quarters.html": memo_html(build_memo(later, history=history)),
             "report-trend.html": render(later, "html", history)}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return {name: folder / name for name in texts}


SUSPENDED = DecisionView(
    state="suspended", headline="Approved by Omar Reviewer on 2026-11-27 10:40 UTC, then suspended by cron on "
    "2027-09-01 02:31 UTC: the tool may not be used (policy 4.1).",
    rows=[("By", "cron, not confirmed by a server (embedded store)"), ("When", "2027-09-01 02:31 UTC"),
          ("Reason", "re-assessment run 00000000000000000000000000000003 FAILED (policy 4.3): within race, 'Black' "
                     "is selected at 0.63 times the rate of 'Asian'"),
          ("Run", "00000000000000000000000000000003 (this assessment)")],
    gate="CLOSED: rentrank 2.1 is closed: suspended by cron on 2027-09-01 02:31 UTC (policy 4.1)",
    next_due="none scheduled: the tool is not approved for use", as_of="2027-09-01 03:00 UTC")


def quarters(name: str) -> tuple[AssessmentResult, Any]:
    """A FAIL re-assessed in three later quarters (issue 16), the last on a new sample of data (another sha256): the
    last run with its trend and what moved since the first (taken as the approved run)."""
    from harness.comparison import compare
    from harness.trend import History, build_trend
    from tests.conftest import headlines

    first = json.loads((RESOURCES / name).read_text("utf-8"))
    docs = [first]
    for q in (1, 2, 3):
        doc = json.loads(json.dumps(first))
        doc.update(run_id=f"{q:032x}", kind="reassessment", started_at=f"2027-0{3 * q}-01T02:30:00+00:00")
        if q == 3:
            doc["datasets"][0]["sha256"] = "f" * 64
        docs.append(doc)
    names = headlines(["bias"])
    return AssessmentResult.from_dict(docs[-1]), History(build_trend(first["tool"]["id"], docs, names),
                                                         compare(first, docs[-1], names))


def register_html() -> str:
    from harness.workflows.transparency import GroupFigure, Register, RegisterEntry, render_register_html

    disclosure = {"model_type": "gradient-boosted trees", "training_data_source": "2019-2023 applications, "
                  "de-identified", "data_access_basis": "data-sharing agreement 2024-17",
                  "known_limitations": "Not validated for applicants under 21.",
                  "bias_mitigation": "Reweighing during training; quarterly audit."}
    figures = tuple(GroupFigure("rental-assistance", "race", g, g == "White", rate, ratio, suppressed)
                    for g, rate, ratio, suppressed in (("White", 0.401, 1.0, False), ("Black", 0.256, 0.64, False),
                                                       ("Pacific Islander", None, None, True)))
    entries = (
        RegisterEntry(id="rental-screen-baseline", name="Rental Assistance Screening Baseline", version="1.0.0",
                      description="Ranks applications for caseworker review by the programme's eligibility rules.",
                      department="Housing and Homelessness", vendor="City of Albuquerque DTI",
                      category="decision-support", phase="pilot", risk_tier="high",
                      automation_level="Recommends only; a caseworker decides every case.",
                      human_oversight="Caseworkers review every recommendation; supervisors audit 5 % monthly.",
                      disclosure=disclosure, assessed_on="2026-12-07", verdict="PASS",
                      assessment="Assessed on 7 December 2026: passed every required check.",
                      approval_state="approved", approval="Approved for use on 7 December 2026.",
                      figures_from="7 December 2026", group_figures=figures),
        RegisterEntry(id="rentrank", name="RentRank", version="2.1", description="Scores emergency rental-"
                      "assistance applications by likelihood of approval.", department="Housing and Homelessness",
                      vendor="Example Analytics", category="decision-support", phase="proposed", risk_tier="high",
                      automation_level="Recommends approve or deny.", human_oversight="A caseworker decides.",
                      disclosure=disclosure, assessed_on="2026-12-07", verdict="FAIL",
                      assessment="Assessed on 7 December 2026: did not pass: some groups are selected at less than "
                                 "four-fifths of the rate of others.", approval_state="not approved",
                      approval="Not approved for use."),
    )
    return render_register_html(Register(published="2026-12-07", feedback_url="https://www.example.gov/ai-feedback",
                                         min_cell=10, entries=entries))


FIRST_SCREEN = {  # what must be seen without scrolling, per page
    "memo-waived.html": [".verdict", ".verdict .sentence", ".reasons h2"],
    "memo-untested.html": [".verdict", ".verdict .sentence", ".reasons h2"],
    "report.html": [".verdict", ".verdict .sentence", ".reasons h2"],
    "register.html": ["article.tool h2", "article.tool dd[class^='verdict-']"],
    "memo-trend.html": [".verdict", ".verdict .sentence", ".reasons h2"],
    "memo-suspended.html": [".verdict", ".verdict .sentence", ".reasons h2"],
    "memo-quarters.html": [".verdict", ".verdict .sentence", ".reasons h2"],
    "report-trend.html": [".verdict", ".verdict .sentence", ".reasons h2"],
}


@pytest.mark.slow
@pytest.mark.parametrize("page", list(FIRST_SCREEN))
def test_verdict_and_summary_in_the_first_900_pixels(browser: Any, pages: dict[str, Path], page: str) -> None:
    load(browser, pages[page], 1280)
    for selector in FIRST_SCREEN[page]:
        r = rect(browser, selector)
        assert r["bottom"] <= FOLD, f"{page}: {selector} ends at {r['bottom']:.0f} px, below the first {FOLD} px"


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 800, 390])
@pytest.mark.parametrize("page", list(FIRST_SCREEN))
def test_nothing_overflows_the_page_or_overlaps(browser: Any, pages: dict[str, Path], page: str, width: int) -> None:
    load(browser, pages[page], width)
    layout = browser.execute_script(WIDE_ELEMENTS)
    assert layout["scrollWidth"] <= layout["width"] and not layout["wide"], (page, width, layout)
    boxes = browser.execute_script(TEXT_BOXES)
    assert len(boxes) > 40, f"{page}: only {len(boxes)} text boxes found"
    # a word too long for its line runs out of its box without widening it: the text itself must stay on the page
    assert [b["text"] for b in boxes if not b["clipped"] and b["right"] > layout["width"] + 1] == [], (page, width)
    assert overlaps(boxes) == [], (page, width)


@pytest.mark.slow
@pytest.mark.parametrize("page", ["memo-waived.html", "memo-untested.html", "memo-trend.html", "memo-suspended.html",
                                  "memo-quarters.html"])
def test_the_memo_prints_on_at_most_two_pages(browser: Any, pages: dict[str, Path], page: str) -> None:
    load(browser, pages[page], 1280)
    chromium = {paper: print_pages(browser, paper) for paper in PAPER}
    html = pages[page].read_text(encoding="utf-8")
    weasy = {paper: len(pdf_document(html, paper).pages) for paper in PAPER}
    assert all(1 <= n <= 2 for n in (*chromium.values(), *weasy.values())), (chromium, weasy)


@pytest.mark.slow
def test_a_reassessed_tools_memo_with_its_trend_prints_on_one_page(browser: Any, pages: dict[str, Path]) -> None:
    """Three quarters of re-assessments add three short charts and one paragraph to the memo: RentRank's three failed
    checks with them still print on one A4 page (with its longest decision, a waiver or a suspension,
    on two: `test_the_memo_prints_on_at_most_two_pages`; the decision alone takes the page's last quarter)."""
    html = pages["memo-quarters.html"].read_text(encoding="utf-8")
    assert html.count('<figure class="trend"') == 3 and "Since the approval (2026-11-27): " in html
    load(browser, pages["memo-quarters.html"], 1280)
    chromium = {paper: print_pages(browser, paper) for paper in PAPER}
    weasy = {paper: len(pdf_document(html, paper).pages) for paper in PAPER}
    assert (chromium["A4"], weasy["A4"]) == (1, 1), (chromium, weasy)  # Letter is shorter: Chromium spills a line


def test_the_overlap_check_sees_an_overlap() -> None:
    """The check itself, on the boxes the old "Policy sections cited" list drew: a floated 3em term ("Safety")
    running into its definition."""
    boxes = [{"id": 1, "text": "Safety", "left": 40, "right": 92, "top": 100, "bottom": 118, "clipped": False},
             {"id": 2, "text": "Code of Ethics", "left": 80, "right": 400, "top": 100, "bottom": 118, "clipped": False},
             {"id": 3, "text": "2.1", "left": 40, "right": 62, "top": 122, "bottom": 140, "clipped": False}]
    assert overlaps(boxes) == ["'Safety' over 'Code of Ethics' (12 x 18 px)"]
    assert overlaps(boxes[1:]) == []
    assert pdf_pages(b"<< /Type /Pages /Kids [1 0 R 2 0 R] >> << /Type /Page >> << /Type/Page /Parent 1 0 R >>") == 2
