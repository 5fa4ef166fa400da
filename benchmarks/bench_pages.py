"""How many pages the decision memo and the full report print to (issue 15: "one page, two at most").

    python benchmarks/bench_pages.py [REPORTS_DIR]     # default reports/demo, as `make demo` writes it

For each tool folder holding `memo.html` and `report.html`: the memo's pages printed by headless Chromium (the
browser a reader prints from) and by WeasyPrint (what `harness memo --format pdf` writes), on A4 and Letter, and the
report's pages printed by Chromium. Chromium is Debian's (`/usr/bin/chromium`, driven by selenium through
`/usr/bin/chromedriver`, nothing downloaded). It reports; it does not fail.
"""
from __future__ import annotations

import base64
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

PAPER = {"A4": (8.27, 11.69), "Letter": (8.5, 11.0)}
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run")


def chromium() -> tuple[Any, Path]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options), profile


def chromium_pages(driver: Any, path: Path, paper: str) -> int:
    driver.get(path.resolve().as_uri())
    w, h = PAPER[paper]
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": w, "paperHeight": h, "printBackground": True})
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", base64.b64decode(pdf["data"])))


def weasyprint_pages(path: Path, paper: str) -> int:
    from harness.report.memo import pdf_document

    return len(pdf_document(path.read_text(encoding="utf-8"), paper).pages)


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "reports/demo")
    tools = sorted(p for p in folder.iterdir() if (p / "memo.html").is_file()) if folder.is_dir() else []
    if not tools:
        print(f"no memo.html under {folder}/*/: run `make demo` first", file=sys.stderr)
        return 0
    driver, profile = chromium()
    try:
        print("| tool | memo, Chromium A4 / Letter | memo, WeasyPrint A4 / Letter | report, Chromium A4 / Letter |")
        print("|---|---|---|---|")
        for tool in tools:
            memo, report = tool / "memo.html", tool / "report.html"
            c = [chromium_pages(driver, memo, p) for p in PAPER]
            w = [weasyprint_pages(memo, p) for p in PAPER]
            r = [chromium_pages(driver, report, p) for p in PAPER] if report.is_file() else ["-", "-"]
            print(f"| {tool.name} | {c[0]} / {c[1]} | {w[0]} / {w[1]} | {r[0]} / {r[1]} |")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
