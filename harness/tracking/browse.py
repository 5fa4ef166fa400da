"""What a person sees of an assessment in the MLflow UI (issue 15, section 3: MLflow as an evidence browser).

The record itself is `assessment.json` and the files `evidence.json` fixes; this module only decides how MLflow
shows it, so that a reader who opens a tool's experiment finds the answer before the detail:

- the run's description (MLflow's `mlflow.note.content` tag) is the verdict sentence;
- the reference datasets are the run's dataset inputs (MLflow's "Datasets" panel): name, sha256, where the file
  is, its columns and its card. A reference, never the rows: the data can be large and personal, and the
  card's sha256 already names it exactly;
- the metrics tab holds each suite's headline figures only (`Suite.headline`, the figures `harness compare` puts
  side by side); every measurement, per-group detail included, is in one table per suite and dataset
  (`tables/<suite>-<dataset>.json`), and the findings in `tables/findings.json`, in the JSON layout
  `MlflowClient.log_table` writes, so the UI draws them as tables;
- experiments open in the classic machine-learning view, not the GenAI one (`EXPERIMENT_KIND`).

The tables are written as files and logged with the other artifacts, so `evidence.json` fixes them too.
Nothing here is read back by the harness: the regression baseline and `harness compare` read `assessment.json`.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.check import headline_keys
from harness.names import metric_key

if TYPE_CHECKING:
    from mlflow.entities import DatasetInput

# MLflow UI 3.x: the experiment tag that says what kind of work an experiment holds. "custom_model_development"
# is the "Machine learning" kind (runs, metrics, datasets, artifacts); without it a 3.x UI may open the GenAI
# view (traces, evaluations). MLflow 3.17's UI chooses by its sidebar switch instead (see README, "MLflow as an
# evidence browser"), which a link opens with `UI_QUERY`.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
UI_QUERY = "workflowType=machine_learning"
NOTE = "mlflow.note.content"            # a run's description on its page
LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"  # which JSON artifacts the UI draws as tables
DATA_CONTEXT = "mlflow.data.context"   # a dataset input's role
TABLES = "tables"
FINDINGS_TABLE = "findings.json"
DIGEST_CHARS = 36  # MLflow keeps at most 36 characters of a dataset digest: the sha256's first 36 hex digits
MEASUREMENT_COLUMNS = ("key", "check", "metric", "group", "value", "ci_low", "ci_high", "n", "reference",
                       "mlflow_metric")
FINDING_COLUMNS = ("key", "dataset", "status", "severity", "value", "ci_low", "ci_high", "threshold",
                   "policy_section", "message")

Headlines = Mapping[str, Iterable[str]]  # suite name -> its `Suite.headline` patterns


def _metric_name(key: str, dataset: str, several: bool) -> str:
    """As `harness.tracking.assessments.metrics_of` names it."""
    return metric_key(key + (f".{dataset}" if several else ""))


def headline_metrics(doc: Mapping[str, Any], headlines: Headlines) -> dict[str, float]:
    """The run's scalar metrics: each suite's headline measurements with a value, named
    `<suite>.<check>.<metric>[.<group>][.<dataset>]` as before (the dataset only when there are several)."""
    several = len(doc.get("datasets") or []) > 1
    out: dict[str, float] = {}
    for s in doc.get("suites") or []:
        keep = headline_keys(s, headlines.get(s["suite"], ()))
        for m in s.get("measurements") or []:
            if m["key"] in keep and m.get("value") is not None:  # assessment.json has null for no finite value
                out[_metric_name(m["key"], s["dataset"], several)] = float(m["value"])
    return out


def _split(columns: Sequence[str], rows: list[list[Any]]) -> dict[str, Any]:
    """pandas' "split" layout, which `MlflowClient.log_table` writes and `load_table` reads."""
    return {"columns": list(columns), "data": rows}


def tables(doc: Mapping[str, Any], headlines: Headlines) -> dict[str, dict[str, Any]]:
    """The run's tables by artifact path: every measurement of each suite on each dataset, with its interval, `n`
    and the metric it is logged as when it is a headline; and every finding with its status and message. The
    numbers are `assessment.json`'s own (null where it has null)."""
    several = len(doc.get("datasets") or []) > 1
    out: dict[str, dict[str, Any]] = {}
    findings: list[list[Any]] = []
    for s in doc.get("suites") or []:
        keep = headline_keys(s, headlines.get(s["suite"], ()))
        rows = [[m["key"], m["check"], m["metric"], m.get("group"), m.get("value"), m.get("ci_low"),
                 m.get("ci_high"), m.get("n"), m.get("reference"),
                 _metric_name(m["key"], s["dataset"], several) if m["key"] in keep and m.get("value") is not None
                 else None] for m in s.get("measurements") or []]
        if rows:
            out[f"{TABLES}/{s['suite']}-{s['dataset']}.json"] = _split(MEASUREMENT_COLUMNS, rows)
        findings += [[f["key"], s["dataset"], f["status"], f.get("severity"), f.get("value"), f.get("ci_low"),
                      f.get("ci_high"), f.get("threshold"), f.get("policy_section"), f.get("message")]
                     for f in s.get("findings") or []]
    if findings:
        out[f"{TABLES}/{FINDINGS_TABLE}"] = _split(FINDING_COLUMNS, findings)
    return out


def write_tables(doc: Mapping[str, Any], headlines: Headlines, out_dir: Path) -> list[tuple[Path, str]]:
    """Write the run's tables under `out_dir/tables/`; returns (file, folder in the run) pairs to log."""
    written: list[tuple[Path, str]] = []
    for path, table in tables(doc, headlines).items():
        local = out_dir / path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(json.dumps(table, allow_nan=False, ensure_ascii=False), encoding="utf-8")
        written.append((local, TABLES))
    return written


def browse_tags(description: str, table_files: Iterable[tuple[Path, str]]) -> dict[str, str]:
    """The run's description and the list of its tables, as the MLflow UI reads them."""
    listed = [{"path": f"{folder}/{p.name}", "type": "table"} for p, folder in table_files]
    return {NOTE: description, **({LOGGED_ARTIFACTS: json.dumps(listed)} if listed else {})}


def _column_type(dtype: str) -> str:
    """A pandas dtype as an MLflow column type (the UI prints it beside the column's name)."""
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "long"
    if dtype.startswith(("float", "Float")):
        return "double"
    if dtype in ("bool", "boolean"):
        return "boolean"
    if dtype.startswith("datetime"):
        return "datetime"
    return "string"


def data_input(*, name: str, sha256: str, rows: int, path: Path, columns: Mapping[str, str],
                  card: Mapping[str, Any], card_artifact: str) -> dict[str, Any]:
    """A reference dataset as plain data for `dataset_inputs` (the pipeline converts; tracking does not import
    `harness.datasets`)."""
    return {"name": name, "sha256": sha256, "rows": rows, "uri": path.resolve().as_uri(),
            "columns": dict(columns), "card": dict(card), "card_artifact": card_artifact}


def dataset_inputs(datasets: Iterable[Mapping[str, Any]]) -> list[DatasetInput]:
    """MLflow dataset inputs for the reference datasets: a reference to the file (its URI and full sha256 in the
    source), the columns as the schema and the card as the profile; the digest MLflow shows is the sha256's
    first `DIGEST_CHARS` hex digits (MLflow refuses a longer one). No rows are copied into MLflow."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    out = []
    for d in datasets:
        source = {"uri": d["uri"], "sha256": d["sha256"]}
        schema = {"mlflow_colspec": [{"type": _column_type(t), "name": c, "required": True}
                                     for c, t in d["columns"].items()]}
        profile = {"num_rows": d["rows"], "sha256": d["sha256"], "card_artifact": d["card_artifact"],
                   "card": d["card"]}
        ds = Dataset(name=d["name"], digest=d["sha256"][:DIGEST_CHARS], source_type="local",
                     source=json.dumps(source), schema=json.dumps(schema),
                     profile=json.dumps(profile, default=str, ensure_ascii=False))
        out.append(DatasetInput(ds, tags=[InputTag(DATA_CONTEXT, "evaluation")]))
    return out


__all__ = ["DIGEST_CHARS", "EXPERIMENT_KIND", "LOGGED_ARTIFACTS", "NOTE", "TABLES", "UI_QUERY", "browse_tags",
           "data_input", "dataset_inputs", "headline_metrics", "tables", "write_tables"]
