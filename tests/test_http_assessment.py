"""Issue 14, a vendor's scoring endpoint assessed end to end (`kind: http`, examples/rental_assistance/http_tool.yaml).

The City's baseline model served by the loopback scoring server and assessed through the `http` adapter gives the
very numbers, intervals and verdict the same model gives through the `sklearn` adapter, and the API key it needs
appears in no file the assessment writes. An endpoint that answers some rows and not others is judged on the rows
it answered, with the rest as one blocking ERROR finding; one that is down is verdict ERROR."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from harness.assessment import answered_rows, assess
from harness.datasets import load_dataset
from harness.findings import Severity, Status
from harness.manifest import load_manifest
from harness.plugins import load_suites
from harness.policy import load_policy
from harness.testing import Fault, ScoringServer
from harness.tools import load_tool
from harness.tools.base import Predictions
from harness.verdict import Verdict
from tests.conftest import MANIFEST, write_case

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "rental_assistance"
KEY = "sk-rental-scoring-8d4f2a6c1e9b"


def http_manifest(folder: Path, url: str, extra: str = "") -> Path:
    """examples/rental_assistance/http_tool.yaml pointed at `url` (the loopback server's ephemeral port)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (EXAMPLES / "http_tool.yaml").read_text()
    assert "url: http://127.0.0.1:8001/score" in text
    path = folder / "http_tool.yaml"
    path.write_text(text.replace("url: http://127.0.0.1:8001/score", f"url: {url}") + extra)
    return path


@pytest.mark.slow
def test_the_model_behind_an_endpoint_is_assessed_exactly_as_the_model_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.workflows.assess import run_assessment

    suites = ["bias", "performance"]
    direct = run_assessment(EXAMPLES / "fair_tool.yaml", ["rental-assistance"], suites=suites,
                            tracking_uri=f"sqlite:///{tmp_path}/direct/mlflow.db", out=tmp_path / "direct" / "out")
    monkeypatch.setenv("RENTAL_SCORING_KEY", KEY)
    server = ScoringServer.from_skops(EXAMPLES / "fair_model.skops", api_key=KEY)
    with server:
        manifest = http_manifest(tmp_path / "served", server.url, "  api_key_env: RENTAL_SCORING_KEY\n")
        served = run_assessment(manifest, ["rental-assistance"], suites=suites,
                                tracking_uri=f"sqlite:///{tmp_path}/served/mlflow.db",
                                out=tmp_path / "served" / "out")
        url = server.url
    a, b = direct.result, served.result
    assert b.error is None and b.verdict is a.verdict is Verdict.PASS
    assert server.rows_scored == 14_000 and server.refused == 1  # every row once; only the key-less probe refused
    assert server.fields_seen == {"id", "household_size", "monthly_income", "income_pct_ami", "rent", "rent_burden",
                                  "months_in_arrears", "has_children", "eviction_notice"}  # never sex, race, area

    def figures(result):
        return {(m.key, m.group): (m.value, m.ci_low, m.ci_high, m.n) for m in result.measurements}

    fa, fb = figures(a), figures(b)
    assert len(fa) > 200 and fa.keys() == fb.keys()
    assert [k for k in fa if fa[k] != fb[k] and not all(x != x for x in (fa[k][0], fb[k][0]))] == []  # NaN == NaN
    assert [(f.key, f.status, f.message) for f in a.findings] == [(f.key, f.status, f.message) for f in b.findings]
    assert not any(f.suite == "tool" for f in b.findings)  # every row answered: no row_errors finding

    # the key is named in the manifest and nowhere else: not in a report, an artifact, the MLflow store or a log
    written = [p for p in (tmp_path / "served").rglob("*") if p.is_file()]
    assert {"mlflow.db", "report.html", "report.md", "evidence.json"} <= {p.name for p in written}
    assert sum(p.name == "assessment.json" for p in written) == 2  # the report folder's and the store's copy
    assert [p for p in written if KEY.encode() in p.read_bytes()] == []
    record = json.loads((served.out_dir / "assessment.json").read_text())
    assert record["tool"]["adapter"]["api_key_env"] == "RENTAL_SCORING_KEY"
    assert record["extra"]["artifacts"] == {"endpoint.url": url}


@pytest.mark.slow
def test_an_endpoint_that_is_down_is_recorded_as_verdict_error(tmp_path: Path) -> None:
    import socket

    from harness.workflows.assess import run_assessment

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = http_manifest(tmp_path, f"http://127.0.0.1:{port}/score", "  max_retries: 1\n  backoff_s: 0\n")
    done = run_assessment(manifest, ["rental-assistance"], suites=["bias"],
                          tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", out=tmp_path / "out")
    assert done.result.verdict is Verdict.ERROR and done.result.exit_code == 4
    assert done.result.error == {
        "type": "ToolError", "dataset": "rental-assistance",
        "message": (f"the scoring endpoint http://127.0.0.1:{port} of tool 'rental-screen-baseline-http' is "
                    f"unreachable: could not connect to http://127.0.0.1:{port} (ConnectError: [Errno 111] Connection "
                    f"refused); gave up after 2 attempts; start the server or correct adapter.url in the manifest")}


# --------------------------------------------------------------------------------------------------
# Rows an endpoint does not answer: judged without them, and blocking


def test_rows_without_an_answer_are_one_blocking_error_and_every_figure_is_on_the_rest(tmp_path: Path) -> None:
    _, card = write_case(tmp_path / "data", n=1000, seed=27)
    ds = load_dataset(str(card))
    model = LogisticRegression().fit(ds.frame[["income"]], ds.frame["approved"])
    folder = tmp_path / "tool"
    folder.mkdir()
    # the vendor's server fails one batch of 100 for good, and leaves one more row out of its reply
    server = ScoringServer(model, features=["income"], faults=[Fault.error("^a00150$"), Fault.drop_rows("^a00777$")])
    with server:
        (folder / "tool.yaml").write_text(MANIFEST.format(id="partial") + (
            f"adapter:\n  kind: http\n  url: {server.url}\n  input_columns: [income]\n  max_retries: 0\n"
            f"  label_path: predictions[*].label\n  score_path: predictions[*].score\n  id_path: predictions[*].id\n"))
        manifest = load_manifest(folder / "tool.yaml")
        policy = load_policy()
        registered = load_suites()
        suites = [registered["bias"](), registered["performance"]()]
        result = assess(manifest, load_tool(manifest, policy=policy), [ds], suites, policy, seed=3)
        origin = server.origin
    [finding] = [f for f in result.findings if f.suite == "tool"]
    assert (finding.check, finding.metric, finding.status, finding.severity) == ("outputs", "row_errors",
                                                                                 Status.ERROR, Severity.BLOCKING)
    assert finding.message == (
        f"The tool gave no usable output for 101 of 1,000 rows (10.1%: a00100, a00101, a00102, a00103, a00104, ...; "
        f"first error: row 'a00100': HTTP 500 from {origin}: injected fault: HTTP 500; gave up after 1 "
        f"attempt). Every other figure is computed on the 899 rows it answered; since the rows left out could be the "
        f"ones that would show a disparity, this counts as a failure until the tool answers every row.")
    assert finding.details["rows"] == 101 and finding.policy_section == "4.2"
    assert result.verdict is Verdict.FAIL  # a blocking check that errors counts as a failure
    # every figure is the answered rows': balanced accuracy against scikit-learn on exactly those rows
    ids = ds.ids.astype(str)
    kept = ~(ids.between("a00100", "a00199") | (ids == "a00777")).to_numpy()
    x, y = ds.frame[["income"]][kept], ds.frame["approved"][kept]
    ba = next(m for m in result.measurements if m.key == "performance.baselines.balanced_accuracy")
    assert ba.n == 899 and ba.value == pytest.approx(balanced_accuracy_score(y, model.predict(x)), abs=1e-12)


def test_answered_rows_keep_their_ids_and_row_numbers() -> None:
    """A dataset without an id column names rows by number: the answered rows keep theirs, so a finding or a
    table names the row the tool failed on, not its position among the rest."""
    import pandas as pd

    from harness.datasets import ReferenceDataset

    ds = load_dataset("rental-assistance")
    card = ds.card.model_copy(update={"id_column": None})
    small = ReferenceDataset(card=card, card_path=ds.card_path, data_path=ds.data_path,
                             frame=ds.frame.iloc[:6].reset_index(drop=True), sha256=ds.sha256)
    assert small.ids.tolist() == [0, 1, 2, 3, 4, 5]
    preds = Predictions(labels=np.asarray([1, None, 0, None, 1, 0], dtype=object),
                        scores=np.asarray([0.9, np.nan, 0.2, np.nan, 0.8, 0.1]),
                        errors=[None, "row '1': lost", None, "row '3': lost", None, None])
    answered, kept, result = answered_rows(small, preds, "decision-support")
    assert answered.ids.tolist() == [0, 2, 4, 5] and kept.labels.dtype == np.int64
    assert kept.labels.tolist() == [1, 0, 1, 0] and kept.scores.tolist() == [0.9, 0.2, 0.8, 0.1]
    assert kept.errors is None and len(answered.frame) == 4
    assert result is not None and result.findings[0].details["first"] == [{"id": "1", "error": "row '1': lost"},
                                                                           {"id": "3", "error": "row '3': lost"}]
    # nothing to leave out: the very same objects come back, and generative tools are their suites' business
    whole = Predictions(labels=np.asarray([1, 0, 1, 0, 1, 0]), errors=[None] * 6)
    assert answered_rows(small, whole, "decision-support") == (small, whole, None)
    assert answered_rows(small, preds, "generative")[2] is None
    # a frame sliced from the middle keeps its numbers too
    middle = replace(small, frame=small.frame.iloc[2:])
    assert middle.ids.tolist() == [2, 3, 4, 5] and isinstance(middle.frame.index, pd.RangeIndex)


def test_the_example_manifest_is_a_valid_submission(tmp_path: Path) -> None:
    """A vendor may hand in the endpoint description alone: the bundle validates with nothing else in it."""
    from harness.workflows.bundle import validate_bundle

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copyfile(EXAMPLES / "http_tool.yaml", bundle / "tool.yaml")
    checked = validate_bundle(bundle)  # raises, listing every problem, when there is one
    assert checked.manifest.adapter.kind == "http" and list(checked.files) == ["tool.yaml"]
