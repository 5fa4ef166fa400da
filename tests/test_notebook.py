"""The analyst's walkthrough notebook runs from top to bottom against the current harness (nbclient, a real
kernel, a real throwaway MLflow store), so it never goes stale; and it is committed without outputs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "pre_acquisition_walkthrough.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## ")]
    assert headings == ["## 1. What the vendor declares", "## 2. The reference data", "## 3. Run the assessment",
                        "## 4. Why: the principal findings", "## 5. The report",
                        "## 6. The decision: the approval gate", "## 7. The record", "## Where next"]
    assert [(c.outputs, c.execution_count) for c in code] == [([], None)] * len(code)
    text = NOTEBOOK.read_text()
    assert str(ROOT) not in text and "/tmp/" not in text  # no path of this machine


def texts(nb: object) -> str:
    """Everything the executed notebook showed: printed text and the plain and HTML forms of results."""
    out = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                out.append(o["text"])
            elif o["output_type"] in ("execute_result", "display_data"):
                out += [o["data"].get("text/plain", ""), o["data"].get("text/html", "")]
    return "\n".join(out)


@pytest.mark.slow
def test_the_walkthrough_runs_and_shows_the_verdicts_and_the_gate(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's throwaway store lands here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []
    shown = texts(nb)
    assert "RentRank 2.1: FAIL\nRental Assistance Screening Baseline 1.0.0: PASS\n" in shown
    assert "rental-assistance: 14,000 applications, sha256 61642b587228... (verified)" in shown
    assert re.search(r"RentRank: \d+ findings did not pass, \d+ of them required", shown)
    assert "bias.four_fifths.adverse_impact_ratio.race.Black" in shown  # the principal findings table
    assert re.search(r"Baseline: 0 of \d+ judged findings did not pass", shown)
    assert ("rental-screen-baseline 1.0.0: assessed, verdict PASS; gate closed\n"
            "rentrank 2.1: assessed, verdict FAIL; gate closed\n") in shown
    assert re.search(r"approved by Rita Reviewer at \S+: decision record 3, sha256 [0-9a-f]{12}\.\.\.", shown)
    assert re.search(r"refused: approval of rentrank 2\.1 refused by rule 'no-approval-of-fail' \(policy 4\.2\): run "
                     r"[0-9a-f]{32} assessed rentrank 2\.1 as FAIL", shown)
    assert ("refused: approval of rental-screen-baseline 1.0.0 refused by rule 'separation-of-duties' (policy 2.3, "
            "4.1): 'Dana Analyst' submitted rental-screen-baseline 1.0.0; the reviewer must be someone else") in shown
    assert "gate rental-screen-baseline: OPEN: rental-screen-baseline 1.0.0 is approved by Rita Reviewer on " in shown
    assert re.search(r"gate rentrank: CLOSED: rentrank 2\.1 is closed: not approved; assessed FAIL in run "
                     r"[0-9a-f]{32}, no decision yet \(policy 4\.1\)", shown)
    assert "chain verified: True (3 records)" in shown
    # the store and the reports went to the temporary folder, nothing into the working folder
    stores = list(tmp_path.glob("walkthrough-*/mlflow.db"))
    assert len(stores) == 1 and (stores[0].parent / "reports" / "rentrank" / "report.html").is_file()
    assert list(work.iterdir()) == []
