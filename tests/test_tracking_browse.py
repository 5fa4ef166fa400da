"""What the MLflow UI shows of an assessment (issue 15, section 3), read back from a real SQLite store with
MlflowClient: the verdict sentence as the run's description, the reference data as dataset inputs (a reference with
its sha256, never the rows), the classic experiment view, the headline figures as the only metrics and every
measurement in the suites' tables, with the numbers of assessment.json."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.check import headline_keys
from harness.tracking import Store, metrics_of, recorded_metrics
from harness.tracking.browse import DIGEST_CHARS, EXPERIMENT_KIND, NOTE, headline_metrics, tables
from harness.workflows.assess import run_assessment
from harness.workflows.transparency import verdict_sentence
from tests.conftest import headlines, write_case

SUITES = ["bias", "performance"]
# what the metrics tab may hold for this case: AIR of 8 groups, 3 attributes x (parity, odds, AUC gaps), and 5
# performance figures: 22, where every measurement of the run (as the metrics tab had it before) is over 200
METRIC_BOUND = 30


class Case:
    def __init__(self, root: Path) -> None:
        self.uri = f"sqlite:///{root / 'store' / 'mlflow.db'}"
        self.tool, self.card = write_case(root / "case", n=3000, disparity=0.2, seed=31)
        self.data = self.card.parent / "data.csv"
        rec = run_assessment(self.tool, [str(self.card)], suites=SUITES, tracking_uri=self.uri, out=root / "out")
        self.out = root / "out"
        self.doc: dict[str, Any] = json.loads((self.out / "assessment.json").read_text())
        self.run_id = str(rec.result.run_id)
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.uri)
        self.run = self.client.get_run(self.run_id)

    def table(self, path: str, dst: Path) -> pd.DataFrame:
        """A logged table, its numbers exactly as written (pandas' "split" layout, which MLflow's `load_table`
        reads with pandas' fast float parser, good to about 1e-15)."""
        local = self.client.download_artifacts(self.run_id, path, str(dst))
        split = json.loads(Path(local).read_text())
        return pd.DataFrame(split["data"], columns=split["columns"])


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return Case(tmp_path_factory.mktemp("browse"))


def test_the_run_description_is_the_verdict_sentence(case: Case) -> None:
    note = case.run.data.tags[NOTE]
    assert case.doc["verdict"] == "FAIL"
    assert note == verdict_sentence("FAIL", case.doc["started_at"], case.doc, "pre-acquisition")
    assert note.startswith("Assessed on ") and ": did not pass: " in note


def test_the_reference_data_is_a_dataset_input_by_reference(case: Case) -> None:
    sha = hashlib.sha256(case.data.read_bytes()).hexdigest()
    [given] = case.run.inputs.dataset_inputs
    ds = given.dataset
    assert (ds.name, ds.digest, ds.source_type) == ("case-31", sha[:DIGEST_CHARS], "local")
    assert {t.key: t.value for t in given.tags} == {"mlflow.data.context": "evaluation"}
    source = json.loads(ds.source)
    assert source == {"uri": case.data.resolve().as_uri(), "sha256": sha}
    profile = json.loads(ds.profile)
    assert (profile["num_rows"], profile["sha256"], profile["card"]["sha256"]) == (3000, sha, sha)
    assert profile["card_artifact"] == "inputs/case-31.card.yaml"
    schema = json.loads(ds.schema)["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in schema] == [
        ("id", "string"), ("sex", "string"), ("race", "string"), ("income", "double"), ("approved", "long")]
    # a reference, never the rows: no applicant's id or income figure is in what MLflow keeps of the dataset
    frame = pd.read_csv(case.data)
    kept = ds.source + ds.schema + ds.profile
    assert len(kept) < 2000
    assert not [v for v in [*frame["id"].head(50), *frame["income"].astype(str).head(50)] if str(v) in kept]


def test_the_experiment_opens_in_the_classic_view(case: Case, tmp_path: Path) -> None:
    key, value = EXPERIMENT_KIND
    assert (key, value) == ("mlflow.experimentKind", "custom_model_development")
    assert case.client.get_experiment(case.run.info.experiment_id).tags[key] == value
    # an experiment made before issue 15 is given the tag the next time the harness writes there
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store.open(uri)
    old = store.client.create_experiment("harness/old-tool", tags={"harness.tool_id": "old-tool"})
    assert key not in store.client.get_experiment(old).tags
    assert store.experiment_id("old-tool") == old
    assert store.client.get_experiment(old).tags[key] == value


def test_the_metrics_tab_holds_the_headline_figures_only(case: Case) -> None:
    metrics = case.run.data.metrics
    every = metrics_of([(m["key"], s["dataset"], m["value"]) for s in case.doc["suites"] for m in s["measurements"]],
                       False)
    assert len(metrics) <= METRIC_BOUND < 200 < len(every)
    assert metrics == headline_metrics(case.doc, headlines(SUITES))
    assert {k: every[k] for k in metrics} == metrics  # the same numbers as assessment.json, under the same names
    assert {"bias.four_fifths.adverse_impact_ratio.sex.F", "bias.equalized_odds.difference.sex_x_race",
            "performance.baselines.balanced_accuracy"} <= set(metrics)
    assert not [k for k in metrics if k.startswith(("bias.group_rates.", "performance.per_group.auc"))]


def test_the_tables_carry_every_measurement_of_assessment_json(case: Case, tmp_path: Path) -> None:
    listed = json.loads(case.run.data.tags["mlflow.loggedArtifacts"])
    assert listed == [{"path": "tables/bias-case-31.json", "type": "table"},
                      {"path": "tables/performance-case-31.json", "type": "table"},
                      {"path": "tables/findings.json", "type": "table"}]
    for s in case.doc["suites"]:
        table = case.table(f"tables/{s['suite']}-case-31.json", tmp_path)
        assert list(table["key"]) == [m["key"] for m in s["measurements"]]
        for (_, row), m in zip(table.iterrows(), s["measurements"], strict=True):
            for col in ("value", "ci_low", "ci_high", "n"):
                got, want = row[col], m[col]
                assert (pd.isna(got) and want is None) or got == want, (m["key"], col, got, want)
            assert (row["check"], row["metric"]) == (m["check"], m["metric"])
        # the per-group detail the metrics tab no longer draws, e.g. a group's selection rate
        if s["suite"] == "bias":
            rate = table.set_index("key").loc["bias.group_rates.selection_rate.sex.F"]
            data = pd.read_csv(case.data)
            preds = pd.read_csv(case.card.parent / "predictions.csv")
            assert rate["value"] == pytest.approx(preds["prediction"][data["sex"] == "F"].mean(), abs=1e-12)
            assert pd.isna(rate["mlflow_metric"])
    # which rows are also metrics: exactly the headline ones
    marked = {r["mlflow_metric"] for path in listed[:2] for _, r in case.table(path["path"], tmp_path).iterrows()
              if not pd.isna(r["mlflow_metric"])}
    assert marked == set(case.run.data.metrics)
    # MLflow's own reader finds the tables by the run's tag and reads them (from the process's tracking URI)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", case.uri)
        loaded = case.client.load_table(case.run.info.experiment_id, "tables/bias-case-31.json",
                                        run_ids=[case.run_id])
    bias = case.table("tables/bias-case-31.json", tmp_path)
    assert list(loaded["key"]) == list(bias["key"])
    assert loaded["value"].to_numpy() == pytest.approx(bias["value"].to_numpy(dtype=float), rel=1e-12, nan_ok=True)
    findings = case.table("tables/findings.json", tmp_path)
    want = [(f["key"], f["status"]) for s in case.doc["suites"] for f in s["findings"]]
    assert list(zip(findings["key"], findings["status"], strict=True)) == want


def test_the_tables_are_evidence_and_the_regression_baseline_keeps_every_figure(case: Case) -> None:
    """The tables are in evidence.json (an approval binds them), and the regression check, which reads the approved
    run's assessment.json, still finds the per-group figures its rules name although the metrics tab lost them."""
    evidence = json.loads((case.out / "evidence.json").read_text())["files"]
    for name in ("tables/bias-case-31.json", "tables/performance-case-31.json", "tables/findings.json"):
        assert evidence[name] == hashlib.sha256((case.out / name).read_bytes()).hexdigest()
    baseline = recorded_metrics(Store.open(case.uri), case.run_id)
    key = "bias.group_rates.selection_rate.sex.F"
    assert key in baseline and key not in case.run.data.metrics
    assert len(baseline) > 200 and set(case.run.data.metrics) < set(baseline)


def doc_of(suites: list[dict[str, Any]], datasets: int = 1) -> dict[str, Any]:
    return {"datasets": [{"name": f"d{i}"} for i in range(datasets)], "suites": suites}


def measurement(suite: str, check: str, metric: str, group: str | None, value: float | None) -> dict[str, Any]:
    key = f"{suite}.{check}.{metric}" + (f".{group}" if group else "")
    return {"key": key, "suite": suite, "check": check, "metric": metric, "group": group, "value": value,
            "ci_low": None, "ci_high": None, "n": 10, "reference": None}


def test_headlines_match_like_produces_and_a_suite_without_any_keeps_its_judged_figures() -> None:
    s = {"suite": "x", "dataset": "d0", "measurements": [
        measurement("x", "a", "rate", None, 0.1), measurement("x", "a", "rate", "g.1", 0.2),
        measurement("x", "a", "rate_gap", None, 0.3), measurement("x", "b", "n", None, 5.0),
        measurement("x", "c", "ratio", "sex", None)],
        "findings": [{"key": "x.b.n", "value": 5.0, "status": "PASS"},
                     {"key": "x.c.ratio.sex", "value": None, "status": "INSUFFICIENT"}]}
    # "a.rate" covers itself and the names under it, not a longer name beside it; a wildcard matches as fnmatch
    assert headline_keys(s, ["a.rate"]) == {"x.a.rate", "x.a.rate.g.1"}
    assert headline_keys(s, ["a.rate*"]) == {"x.a.rate", "x.a.rate.g.1", "x.a.rate_gap"}
    # none declared: what a finding judges, with a value (as `harness compare` shows a suite without headlines)
    assert headline_keys(s, []) == {"x.b.n"}
    # a headline without a value is no metric, but stays a row of the table, with null
    assert headline_metrics(doc_of([s]), {"x": ["c.ratio", "b.n"]}) == {"x.b.n": 5.0}
    [(path, table)] = [(p, t) for p, t in tables(doc_of([s]), {"x": ["c.ratio"]}).items() if "findings" not in p]
    assert path == "tables/x-d0.json" and table["data"][4][4:] == [None, None, None, 10, None, None]
    # several datasets: the metric names end with the dataset's, as they always did
    two = [dict(s, dataset="d0"), dict(s, dataset="d1")]
    assert headline_metrics(doc_of(two, 2), {"x": ["b.n"]}) == {"x.b.n.d0": 5.0, "x.b.n.d1": 5.0}
    assert set(tables(doc_of(two, 2), {"x": ["b.n"]})) == {"tables/x-d0.json", "tables/x-d1.json",
                                                           "tables/findings.json"}
