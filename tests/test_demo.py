"""`harness demo` end to end, as `make demo` runs it, in a fresh working folder."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = str(Path(sys.executable).with_name("harness"))


@pytest.mark.slow
def test_demo_fails_the_vendor_and_passes_the_baseline(tmp_path: Path) -> None:
    r = subprocess.run([HARNESS, "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=600,
                       env={"PATH": str(Path(sys.executable).parent), "COLUMNS": "200", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "rentrank" in out and "FAIL" in out
    assert "bias.demographic_parity.ratio.race" in out  # the table names the finding
    assert "'Black' is selected at 0.63 times the rate of 'Asian'" in out
    assert "rental-screen-baseline" in out
    assert "mlflow ui --backend-store-uri sqlite:///" in out and str(tmp_path / "mlruns" / "mlflow.db") in out
    vendor = json.loads((tmp_path / "reports/demo/vendor_tool/assessment.json").read_text())
    baseline = json.loads((tmp_path / "reports/demo/fair_tool/assessment.json").read_text())
    assert vendor["verdict"] == "FAIL"
    assert baseline["verdict"] == "PASS"
    for folder in ("vendor_tool", "fair_tool"):
        assert (tmp_path / "reports/demo" / folder / "report.html").stat().st_size > 5000
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and (tmp_path / "mlruns" / "artifacts").is_dir()
