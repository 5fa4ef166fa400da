"""A re-assessment compares every suite's metrics with the tool version's last approved assessment
(policy 4.3), through MLflow: the first run is approved (through the gate), the second is compared."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import gate
from harness.workflows.assess import run_assessment
from tests.conftest import single_user, write_case


class Tool:
    """A tool that works (its score rises with the true outcome, so it passes the performance suite an approval
    needs) and whose selection of group F can be lowered between assessments."""

    def __init__(self, penalty: float, truth: np.ndarray) -> None:
        self.penalty = penalty
        self.truth = truth

    def __call__(self, frame):
        rows = frame.index.to_numpy()
        known = self.truth[rows % len(self.truth)] * (rows < len(self.truth))  # a large batch's rows: unknown
        score = (frame["income"].to_numpy() + 30 * (known - 0.4)
                 - self.penalty * (frame["sex"] == "F").to_numpy())
        return (score > 50).astype(int), np.clip((score - 20) / 60, 0, 1)


@pytest.mark.slow
def test_a_bias_regression_against_the_approved_baseline_is_found(tmp_path: Path) -> None:
    tool_path, card = write_case(tmp_path / "c", n=3000, seed=71, kind="python")
    tool_path.write_text(tool_path.read_text().replace("{callable}", "numpy:zeros"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single_user(uri, tmp_path)
    truth = pd.read_csv(tmp_path / "c" / "data.csv")["approved"].to_numpy()
    first = run_assessment(tool_path, [str(card)], tracking_uri=uri, submitter="dana",
                           tool_obj=Tool(0.0, truth), out=tmp_path / "r1")
    reg = [f for f in first.result.findings if f.check == "regression"]
    assert [f.status.value for f in reg] == ["SKIPPED"]  # nothing approved yet
    # approved through the gate: the baseline is the log's approval, not a run tag (issue 11)
    gate.approve(uri, first.result.tool["id"], "1.0", run_id=str(first.result.run_id), reviewer="rita",
                 rationale="the baseline of the regression check")

    second = run_assessment(tool_path, [str(card)], tracking_uri=uri, submitter="dana",
                            tool_obj=Tool(12.0, truth), out=tmp_path / "r2")
    found = {f.group: f for f in second.result.findings if f.check == "regression"}
    ratio = found["bias.demographic_parity.ratio.sex"]
    assert ratio.status.value == "FAIL"
    assert ratio.baseline == pytest.approx(next(m.value for m in first.result.measurements
                                                if m.key == "bias.demographic_parity.ratio.sex"))
    assert ratio.details["baseline_run"] == first.result.run_id
    assert f"in the approved assessment (run {first.result.run_id})" in ratio.message
    # race was not touched: its ratio held, so no regression there
    assert found["bias.demographic_parity.ratio.race"].status.value == "PASS"
    table = next(r.tables for r in second.result.suites if r.suite == "degradation")
    rows = table["degradation.regression.other_suites"]
    assert any(row["metric"] == "bias.demographic_parity.ratio.sex" and row["status"] == "FAIL" for row in rows)
