"""A `python` tool cannot end the harness with the PASS exit code (issue 12, hardening): `os._exit(0)` and
`sys.exit(0)` inside the tool become the assessment's ERROR, recorded, and `harness assess` exits 4. About the
process itself, so the command runs as a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_case

HARNESS = str(Path(sys.executable).with_name("harness"))


@pytest.mark.parametrize(("call", "shown"), [("os._exit(0)", "os._exit(0)"), ("sys.exit(0)", "sys.exit(0)")])
def test_a_tool_that_exits_is_an_error_not_a_pass(tmp_path: Path, call: str, shown: str) -> None:
    tool, card = write_case(tmp_path / "case", n=200, seed=21, kind="python")
    tool.write_text(tool.read_text().replace("{callable}", "quitter:predict"))
    (tool.parent / "quitter.py").write_text(f"import os\nimport sys\n\n\ndef predict(frame):\n    {call}\n")
    out = tmp_path / "out"
    r = subprocess.run([HARNESS, "assess", str(tool), "--dataset", str(card), "--tracking-uri",
                        f"sqlite:///{tmp_path / 'm.db'}", "--out", str(out), "--by", "dana"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 4, r.stdout + r.stderr
    result = json.loads((out / "assessment.json").read_text())
    assert result["verdict"] == "ERROR"
    assert result["error"]["message"] == (f"tool 'case-tool-21' tried to end the harness process ({shown}); a tool "
                                          "returns its outputs, it never exits")
