"""The data_quality suite on generated data with planted defects (each one found), on clean data (every
expectation met), on Adult from the mirror and on the other catalogue cards."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.assessment import assess, jsonable, run_suite
from harness.check import CheckContext
from harness.datasets import DatasetCard, ReferenceDataset, load_card, load_dataset
from harness.findings import Severity, Status
from harness.manifest import ToolManifest, load_manifest
from harness.policy import Policy, Threshold, load_policy
from harness.tools import Predictions, load_tool
from harness.verdict import SuiteResult
from test_suites.data_quality import DataQualitySuite
from test_suites.data_quality.expectations import gx_names, plan_expectations
from test_suites.data_quality.outputs import unknown_mask
from tests.conftest import MANIFEST, ROOT, write_case

N = 2000


def clean_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Every value as the card below declares it; every sex x race group has 200+ rows."""
    rng = np.random.default_rng(seed)
    notes = ["called back, no answer", "documents received", "follow-up in two weeks", "case closed",
             "applicant asked about deadlines", "visit scheduled for 3 pm"]
    frame = pd.DataFrame({
        "id": [f"p{i:05d}" for i in range(n)],
        "sex": rng.choice(["F", "M"], n),
        "race": rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2]),
        "age": rng.integers(18, 80, n),
        "income": rng.normal(40_000, 8_000, n).clip(0, 150_000).round(2),
        "status": rng.choice(["single", "married", "divorced"], n),
        "note": rng.choice(notes, n),
        "approved": rng.binomial(1, 0.4, n),
    })
    for c in ("id", "sex", "race", "status", "note"):
        frame[c] = frame[c].astype("str")
    return frame


def card(**update: object) -> DatasetCard:
    """The generated data's card; `update` replaces top-level fields (validated, like a YAML card)."""
    base = dict(
        name="planted", version="1", task="binary-classification", file="data.csv", sha256="0" * 64,
        source="generated", license="CC0-1.0", target={"column": "approved", "positive": 1}, id_column="id",
        features=["sex", "race", "age", "income", "status", "note"],
        protected_attributes={"sex": {"reference": "M"}, "race": {"reference": "A"}}, pii_columns=[],
        columns={
            "id": {"type": "string", "nullable": False},
            "sex": {"type": "category", "values": ["F", "M"]},
            "race": {"type": "category", "values": ["A", "B", "C"]},
            "age": {"type": "integer", "min": 18, "max": 100, "nullable": False},
            "income": {"type": "float", "min": 0, "max": 1_000_000},
            "status": {"type": "category", "values": ["single", "married", "divorced"]},
            "note": {"type": "string", "text": True},
            "approved": {"type": "category", "values": [0, 1]},
        },
        quality={"min_rows": 500, "prevalence": [0.3, 0.5], "max_duplicate_share": 0.01},
    )
    return DatasetCard.model_validate({**base, **update})


def dataset(frame: pd.DataFrame, c: DatasetCard | None = None) -> ReferenceDataset:
    return ReferenceDataset(card=c or card(), card_path=Path("card.yaml"), data_path=Path("data.csv"),
                            frame=frame, sha256="0" * 64)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> ToolManifest:
    path = tmp_path_factory.mktemp("dq") / "tool.yaml"
    path.write_text(MANIFEST.format(id="dq-tool") + "adapter:\n  kind: python\n  callable: numpy:zeros\n")
    return load_manifest(path)


def run(ds: ReferenceDataset, manifest: ToolManifest, labels: object = None, scores: object = None,
        fn: Callable | None = None, policy: Policy | None = None) -> SuiteResult:
    policy = policy or load_policy()
    tool = load_tool(manifest, fn) if fn is not None else None
    if tool is not None:
        preds = tool.predict(ds)
    else:
        y = ds.frame[ds.card.target.column].to_numpy() if ds.card.target.column in ds.frame else np.zeros(len(ds.frame))
        preds = Predictions(labels=y if labels is None else np.asarray(labels),
                            scores=np.full(len(ds.frame), 0.5) if scores is None else np.asarray(scores))
    ctx = CheckContext(dataset=ds, predictions=preds, policy=policy, manifest=manifest, seed=7, tool=tool)
    return run_suite(DataQualitySuite(), ctx)


def by_key(result: SuiteResult) -> dict:
    return {f.key: f for f in result.findings}


def not_passing(result: SuiteResult) -> dict:
    return {f.key: f for f in result.findings if f.status not in (Status.PASS, Status.SKIPPED)}


@pytest.fixture(scope="module")
def clean_result(manifest: ToolManifest) -> SuiteResult:
    return run(dataset(clean_frame()), manifest)


# --- clean data ---------------------------------------------------------------------------------------

def test_clean_data_meets_every_expectation(clean_result: SuiteResult) -> None:
    assert not_passing(clean_result) == {}
    assert clean_result.status == "PASS"
    f = by_key(clean_result)
    kinds = {k.split(".")[2] for k in f if k.startswith("data_quality.expectations.")}
    assert kinds == {"column_exists", "column_type", "not_null", "unique", "values_in_set", "in_range",
                     "row_count", "group_representation", "prevalence", "duplicate_rows"}
    assert f["data_quality.expectations.group_representation.sex_x_race"].message.startswith(
        "all 11 protected groups and intersections (sex, race) have at least 30 rows")
    assert f["data_quality.pii.undeclared"].status is Status.PASS
    assert f["data_quality.pii.undeclared"].message.startswith(
        "no undeclared personal data found in 2 text column(s) (id, note)")
    assert f["data_quality.outputs.schema_stable"].status is Status.SKIPPED  # no callable tool


def test_every_expectation_result_is_one_finding_one_row_and_in_the_artifact(clean_result: SuiteResult) -> None:
    expectation_findings = [f for f in clean_result.findings if f.check == "expectations"]
    rows = clean_result.tables["data_quality.expectations"]
    gx = clean_result.artifacts["gx_validation"]
    assert len(rows) == len(expectation_findings) == len(gx["results"])
    assert gx["success"] is True and gx["statistics"]["evaluated_expectations"] == len(rows)
    json.dumps(jsonable(gx), allow_nan=False)  # the pipeline writes it as strict JSON
    assert {r["expectation"] for r in rows} >= {"expect_column_values_to_be_in_set",
                                               "expect_protected_groups_to_be_represented",
                                               "expect_column_kind_to_be"}
    assert clean_result.tables["data_quality.pii"][0].keys() == {"column", "kind", "count", "scanned"}
    # findings carry the policy's severity and section
    f = by_key(clean_result)
    assert f["data_quality.expectations.unique.id"].severity is Severity.BLOCKING
    assert f["data_quality.expectations.values_in_set.status"].severity is Severity.ADVISORY
    assert f["data_quality.expectations.not_null.sex"].policy_section == "4.2"
    assert f["data_quality.pii.undeclared"].policy_section == "1.2"


# --- planted defects, each one found ----------------------------------------------------------------


def _drop_age(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    return f.drop(columns="age"), c.model_copy(update={"features": [x for x in c.features if x != "age"]})


def _age_as_text(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    return f.assign(age=f["age"].astype(str).astype("str")), c


def _sex_nulls(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    sex = f["sex"].copy()
    sex.iloc[[3, 50, 99, 400, 1500]] = None
    return f.assign(sex=sex), c


def _duplicate_id(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    ids = f["id"].copy()
    ids.iloc[11] = ids.iloc[10]
    return f.assign(id=ids), c


def _unknown_status(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    status = f["status"].copy()
    status.iloc[range(0, 700, 100)] = "unknown"
    return f.assign(status=status), c


def _age_150(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    age = f["age"].copy()
    age.iloc[[5, 6, 7]] = 150
    return f.assign(age=age), c


def _few_rows(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    return f, c.model_copy(update={"quality": c.quality.model_copy(update={"min_rows": 5000})})


def _thin_intersection(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    fc = f.index[(f["sex"] == "F") & (f["race"] == "C")]
    return f.drop(index=fc[12:]).reset_index(drop=True), c


def _prevalence(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    return f, c.model_copy(update={"quality": c.quality.model_copy(update={"prevalence": (0.6, 0.8)})})


def _duplicate_rows(f: pd.DataFrame, c: DatasetCard) -> tuple[pd.DataFrame, DatasetCard]:
    """100 records entered twice; the card has no id column (rows are numbered), as in most public data."""
    return pd.concat([f, f.iloc[:100]], ignore_index=True), c.model_copy(update={"id_column": None})


PLANTED = {
    "missing column": (_drop_age, "column_exists.age", Severity.BLOCKING,
                       "column 'age' is declared in the dataset card but missing from the data"),
    "wrong type": (_age_as_text, "column_type.age", Severity.BLOCKING,
                   "column 'age' is declared integer but holds string values (dtype str)"),
    "nulls in a protected column": (_sex_nulls, "not_null.sex", Severity.BLOCKING,
                                    "'sex' has 5 missing values (0.25 % of 2,000 rows); it is a key column"),
    "duplicate id": (_duplicate_id, "unique.id", Severity.BLOCKING,
                     "id column 'id' has 2 rows sharing an id (0.10 %), e.g. 'p00010' (2)"),
    "out-of-set category": (_unknown_status, "values_in_set.status", Severity.ADVISORY,
                            "status has 7 values outside its declared set (0.35 %), e.g. 'unknown' (7)"),
    "out-of-range number": (_age_150, "in_range.age", Severity.ADVISORY,
                            "age has 3 values outside its declared range [18, 100] (0.15 %), e.g. 150 (3)"),
    "too few rows": (_few_rows, "row_count", Severity.ADVISORY,
                     "the data has 2,000 rows; the dataset card's quality.min_rows asks for at least 5,000"),
    "thin intersection": (_thin_intersection, "group_representation.sex_x_race", Severity.ADVISORY,
                          "1 of 11 protected groups has fewer than 30 rows (the policy's min_group_size): "
                          "'F & C' (12)"),
    "prevalence out of band": (_prevalence, "prevalence.approved", Severity.ADVISORY,
                               "the share of 1 in 'approved' is"),
    "duplicate rows": (_duplicate_rows, "duplicate_rows", Severity.ADVISORY,
                       "100 rows (4.8 %) repeat an earlier row in every column; the limit is 1.0 %"),
}


@pytest.mark.parametrize("defect", list(PLANTED))
def test_each_planted_defect_is_found(defect: str, manifest: ToolManifest) -> None:
    plant, metric, severity, message = PLANTED[defect]
    frame, c = plant(clean_frame(), card())
    result = run(dataset(frame, c), manifest)
    bad = not_passing(result)
    key = f"data_quality.expectations.{metric}"
    assert key in bad, sorted(bad)
    f = bad[key]
    assert f.status is Status.FAIL and f.severity is severity
    assert f.message.startswith(message), f.message
    # the defect is found by its own expectation, not by a cascade of others
    assert set(bad) == {key}, sorted(bad)


def test_a_wrong_type_skips_the_range_with_a_reason(manifest: ToolManifest) -> None:
    frame, c = _age_as_text(clean_frame(), card())
    f = by_key(run(dataset(frame, c), manifest))["data_quality.expectations.in_range.age"]
    assert f.status is Status.SKIPPED and "not numbers" in f.message


def test_absent_declared_group_counts_as_zero_rows(manifest: ToolManifest) -> None:
    c = card()
    cols = dict(c.columns)
    cols["race"] = cols["race"].model_copy(update={"values": ["A", "B", "C", "D"]})
    result = run(dataset(clean_frame(), c.model_copy(update={"columns": cols})), manifest)
    f = by_key(result)["data_quality.expectations.group_representation.sex_x_race"]
    assert f.status is Status.FAIL and f.value == 3  # D, F & D, M & D
    assert {g["group"] for g in f.details["under_represented"]} == {"D", "F & D", "M & D"}
    assert "3 absent altogether" in f.message


def test_values_in_set_failure_is_also_a_prevalence_failure(manifest: ToolManifest) -> None:
    """A defect that really breaks two expectations is reported by both (the planted test asserts
    that single defects stay single)."""
    frame = clean_frame()
    frame["approved"] = 1
    bad = not_passing(run(dataset(frame), manifest))
    assert "data_quality.expectations.prevalence.approved" in bad
    assert bad["data_quality.expectations.prevalence.approved"].message.startswith(
        "the share of 1 in 'approved' is 100.0 %, outside the card's band 30.0 %–50.0 %")


# --- personal data ------------------------------------------------------------------------------------

PII_ROWS = {
    "ssn": "client SSN 219-09-9999 on file",
    "email": "reply to maria.lopez@example.org",
    "phone": "call (505) 768-3000 after 5",
    "payment_card": "paid with 4111 1111 1111 1111",
    "street_address": "moved to 1801 4th St NW last month",
}


@pytest.mark.parametrize("kind", list(PII_ROWS))
def test_each_kind_of_undeclared_pii_blocks_without_showing_values(kind: str, manifest: ToolManifest) -> None:
    frame = clean_frame()
    note = frame["note"].copy()
    note.iloc[[1, 2, 3]] = PII_ROWS[kind]
    result = run(dataset(frame.assign(note=note)), manifest)
    bad = not_passing(result)
    assert set(bad) == {f"data_quality.pii.{kind}.note"}
    f = bad[f"data_quality.pii.{kind}.note"]
    assert f.status is Status.FAIL and f.severity is Severity.BLOCKING and f.policy_section == "1.2"
    assert f.details == {"column": "note", "kind": kind, "count": 3}
    assert f.message.startswith("column 'note' holds 3 values that look like ")
    table = {(r["column"], r["kind"]): r["count"] for r in result.tables["data_quality.pii"]}
    assert table[("note", kind)] == 3 and sum(table.values()) == 3
    everything = json.dumps(jsonable([x.to_dict() for x in result.findings] + [result.tables, result.artifacts]))
    assert PII_ROWS[kind] not in everything


def test_a_luhn_invalid_card_number_is_not_flagged(manifest: ToolManifest) -> None:
    frame = clean_frame()
    note = frame["note"].copy()
    note.iloc[[1, 2]] = "reference 1234 5678 9012 3456 attached"
    result = run(dataset(frame.assign(note=note)), manifest)
    assert not_passing(result) == {}
    assert by_key(result)["data_quality.pii.undeclared"].status is Status.PASS


def test_undeclared_pii_in_an_undeclared_text_column_is_found(manifest: ToolManifest) -> None:
    """No `columns` block at all: every non-numeric column is scanned (fail closed)."""
    frame = clean_frame().assign(contact=["x"] * (N - 1) + ["jo@example.com"])
    result = run(dataset(frame, card(columns={})), manifest)
    f = not_passing(result)["data_quality.pii.email.contact"]
    assert f.status is Status.FAIL and f.value == pytest.approx(1 / N)


def test_declared_pii_columns_are_never_read_or_shown(manifest: ToolManifest) -> None:
    frame = clean_frame()
    ssns = [f"{100 + i % 800:03d}-{10 + i % 89:02d}-{1000 + i:04d}" for i in range(N)]
    frame["ssn"] = pd.Series(ssns, dtype="str")
    frame.loc[[4, 5], "ssn"] = frame.loc[3, "ssn"]  # duplicated SSNs: an id-like check would sample them
    columns = {**card().model_dump()["columns"],
               "ssn": {"type": "string", "nullable": False, "values": ["000-00-0000"]}}
    c = card(pii_columns=["ssn"], columns=columns)
    result = run(dataset(frame, c), manifest)
    f = by_key(result)
    assert "data_quality.pii.ssn.ssn" not in f  # declared: not a finding, not scanned
    bad = f["data_quality.expectations.values_in_set.ssn"]
    assert bad.status is Status.FAIL and bad.details["sample"] == []
    assert bad.details["values_withheld"].startswith("declared personal-data column")
    assert "values withheld" in bad.message
    everything = json.dumps(jsonable([x.to_dict() for x in result.findings] + [result.tables, result.artifacts]))
    assert not any(s in everything for s in ssns[:10])


def test_a_sample_that_looks_like_pii_is_redacted(manifest: ToolManifest) -> None:
    frame = clean_frame()
    status = frame["status"].copy()
    status.iloc[[0, 1]] = "ana@example.net"
    result = run(dataset(frame.assign(status=status)), manifest)
    f = by_key(result)["data_quality.expectations.values_in_set.status"]
    assert f.details["sample"] == [{"value": "<redacted: email>", "count": 2}]
    assert "ana@example.net" not in json.dumps(jsonable([f.to_dict(), result.tables, result.artifacts]))


# --- tool outputs ---------------------------------------------------------------------------------------

def test_tool_outputs_with_nan_unknown_labels_and_bad_scores_block(manifest: ToolManifest) -> None:
    ds = dataset(clean_frame())
    labels = ds.frame["approved"].to_numpy().astype(float)
    scores = np.full(N, 0.4)
    labels[[7, 8]] = np.nan
    labels[[20]] = 2.0
    scores[[30, 31, 32]] = [1.5, -0.1, np.inf]
    scores[[40]] = np.nan
    bad = not_passing(run(ds, manifest, labels=labels, scores=scores))
    assert set(bad) == {"data_quality.outputs.no_nan", "data_quality.outputs.labels_in_set",
                        "data_quality.outputs.scores_in_range"}
    assert all(f.severity is Severity.BLOCKING for f in bad.values())
    assert bad["data_quality.outputs.no_nan"].message == (
        "2 labels and 1 scores are missing (NaN); rows ['p00007', 'p00008', 'p00040']")
    assert bad["data_quality.outputs.labels_in_set"].message.startswith(
        "1 labels (0.05 %) are outside the label space ['0', '1'], e.g. '2'; rows ['p00020']")
    assert bad["data_quality.outputs.scores_in_range"].details["ids"] == ["p00030", "p00031", "p00032"]


def test_outputs_of_the_wrong_length_block(manifest: ToolManifest) -> None:
    ds = dataset(clean_frame())
    y = ds.frame["approved"].to_numpy()
    bad = not_passing(run(ds, manifest, labels=y[:-3], scores=np.full(N - 3, 0.5)))
    assert set(bad) == {"data_quality.outputs.length"}
    assert bad["data_quality.outputs.length"].message.startswith(
        "the tool returned 1,997 labels and 1,997 scores for 2,000 input rows")


def test_string_labels_for_an_integer_target_are_the_same_labels(manifest: ToolManifest) -> None:
    ds = dataset(clean_frame())
    labels = ds.frame["approved"].astype(str).to_numpy()
    assert "data_quality.outputs.labels_in_set" not in not_passing(run(ds, manifest, labels=labels))


def test_text_labels_against_a_numeric_label_space_are_judged_not_an_error() -> None:
    """pandas 3 hands out read-only arrays (copy-on-write): the mask of text labels must be writable."""
    assert unknown_mask(np.array(["1", "0", "yes"]), ["0", "1"]).tolist() == [False, False, True]
    mixed = np.array(["1", None, "yes", " 0.0", "no", 1], dtype=object)
    assert unknown_mask(mixed, ["0", "1"]).tolist() == [False, False, True, False, True, False]
    assert unknown_mask(np.array([True, False]), ["0", "1"]).tolist() == [False, False]
    assert unknown_mask(np.array([True, False]), ["True", "2"]).tolist() == [False, True]


YESISH = """import numpy as np


def predict(frame):
    labels = np.where(frame["income"].to_numpy() > 50, "1", "0").astype(object)
    labels[:3] = "yes"  # a text answer among the 0/1 ones
    return labels
"""


def test_a_python_tool_answering_yes_to_a_zero_one_target_fails_labels_in_set(tmp_path: Path) -> None:
    tool_path, card_path = write_case(tmp_path, n=600, seed=71, kind="python")
    tool_path.write_text(tool_path.read_text().replace("{callable}", "yesish:predict"))
    (tmp_path / "yesish.py").write_text(YESISH)
    m, ds = load_manifest(tool_path), load_dataset(str(card_path))
    result = assess(m, load_tool(m), [ds], [DataQualitySuite()], load_policy())
    keys = {f.key: f for f in result.findings}
    assert "data_quality.outputs.error" not in keys
    f = keys["data_quality.outputs.labels_in_set"]
    assert (f.status, f.severity, f.details["count"], f.details["unknown"]) == (Status.FAIL, Severity.BLOCKING, 3,
                                                                                 ["yes"])
    assert f.message == ("3 labels (0.50 %) are outside the label space ['0', '1'], e.g. 'yes'; "
                         "rows ['a00000', 'a00001', 'a00002']")


def test_unknown_labels_are_quoted_cut_short_and_scrubbed(manifest: ToolManifest) -> None:
    """A python tool's or a predictions file's labels are not scrubbed on the way in (a sandboxed tool's are):
    the finding quotes at most five, each cut to 64 characters, with account-file lines and keys redacted."""
    ds = dataset(clean_frame())
    labels = ds.frame["approved"].to_numpy().astype(object)
    labels[20] = "x" * 10_000
    labels[21] = "root:x:0:0:root:/root:/bin/bash"
    labels[22:27] = ["a", "b", "c", "d", "e"]
    f = not_passing(run(ds, manifest, labels=labels))["data_quality.outputs.labels_in_set"]
    cut = "x" * 61 + "..."
    assert f.details["unknown"] == [cut, "[redacted: account-file line]", "a", "b", "c"]
    assert f.message == (f"7 labels (0.35 %) are outside the label space ['0', '1'], e.g. '{cut}', "
                         "'[redacted: account-file line]', 'a', 'b', 'c'; rows ['p00020', 'p00021', 'p00022', "
                         "'p00023', 'p00024']")
    assert "x" * 65 not in json.dumps(jsonable(f.to_dict())) and "/bin/bash" not in f.message


def test_a_deterministic_callable_tool_has_a_stable_schema(manifest: ToolManifest) -> None:
    def tool(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return (frame["age"] > 45).astype(int).to_numpy(), (frame["age"] / 100).to_numpy()

    f = by_key(run(dataset(clean_frame()), manifest, fn=tool))["data_quality.outputs.schema_stable"]
    assert f.status is Status.PASS and f.message.startswith("two calls on the same 64 rows returned the same")


def test_an_unstable_tool_fails_the_schema_check(manifest: ToolManifest) -> None:
    calls = {"n": 0}

    def flaky(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        calls["n"] += 1
        labels = (frame["age"] > 45).astype(int).to_numpy()
        if calls["n"] == 3:  # the second sample call: other labels, as floats
            labels = labels.astype(float)
            labels[:2] = 1 - labels[:2]
        return labels, np.full(len(frame), 0.5)

    f = not_passing(run(dataset(clean_frame()), manifest, fn=flaky))["data_quality.outputs.schema_stable"]
    assert f.status is Status.FAIL and f.severity is Severity.BLOCKING
    assert "labels_dtype int64 then float64" in f.message
    assert "outputs changed between two identical calls, rows ['p" in f.message


# --- mechanics ------------------------------------------------------------------------------------------

def test_policy_limits_become_gx_mostly_and_severity(manifest: ToolManifest) -> None:
    frame, c = _unknown_status(clean_frame(), card())
    base = load_policy()
    lenient = base.model_copy(update={"thresholds": {**base.thresholds, "data_quality.expectations.values_in_set":
                                                     Threshold(limit=0.01, greater_is_better=False,
                                                               severity="blocking", policy_section="4.2")}})
    f = by_key(run(dataset(frame, c), manifest, policy=lenient))["data_quality.expectations.values_in_set.status"]
    assert f.status is Status.PASS and f.severity is Severity.BLOCKING and f.threshold == 0.01
    assert f.message.startswith("status has 7 values outside its declared set (0.35 %)")


def test_columns_differing_only_in_case_are_validated_apart(manifest: ToolManifest) -> None:
    """GX 1.24 resolves metrics case-insensitively; the suite validates such columns under aliases."""
    assert gx_names(["a", "A", "A__2", "b"]) == {"a": "a", "A": "A__3", "A__2": "A__2", "b": "b"}
    frame = clean_frame()
    frame["Age"] = frame["age"].astype(float)
    frame.loc[[1, 2], "Age"] = np.nan
    c = card(columns={**card().model_dump()["columns"], "Age": {"type": "float", "nullable": False}})
    f = by_key(run(dataset(frame, c), manifest))
    assert f["data_quality.expectations.not_null.Age"].status is Status.FAIL
    assert f["data_quality.expectations.not_null.age"].status is Status.PASS


def test_the_plan_is_plain_data_built_from_card_and_policy() -> None:
    plan = plan_expectations(card(), load_policy(), "high", clean_frame())
    by = {p.metric: p for p in plan}
    assert by["values_in_set.approved"].kwargs["value_set"] == [0.0, 1.0]  # YAML ints, numeric column
    assert by["row_count"].kwargs == {"min_value": 500}
    assert by["duplicate_rows"].kwargs == {"max_value": 0.01}
    assert by["group_representation.sex_x_race"].kwargs["expected_values"] == {"sex": ["F", "M"],
                                                                                "race": ["A", "B", "C"]}
    assert by["prevalence.approved"].kwargs == {"column": "approved", "value": 1, "min_value": 0.3,
                                                "max_value": 0.5}


def test_loading_the_suite_does_not_import_great_expectations() -> None:
    code = ("import sys, harness.cli, test_suites.data_quality, test_suites.data_quality.checks; "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_the_custom_expectation_works_in_a_plain_gx_project() -> None:
    import great_expectations as gx

    from test_suites.data_quality.group_representation import ExpectProtectedGroupsToBeRepresented

    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("mine").add_dataframe_asset("people")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": clean_frame()}))
    suite = gx.ExpectationSuite(name="mine")
    suite.add_expectation(ExpectProtectedGroupsToBeRepresented(columns=["sex", "race"], min_group_size=250))
    result = batch.validate(suite)
    r = result.results[0]
    assert r.expectation_config.type == "expect_protected_groups_to_be_represented"
    assert not r.success and r.result["observed_value"] == min(clean_frame().groupby(["sex", "race"]).size())
    # the suite serialises and loads back like any GX suite
    again = gx.ExpectationSuite(**suite.to_json_dict())
    assert isinstance(again.expectations[0], ExpectProtectedGroupsToBeRepresented)
    assert again.expectations[0].min_group_size == 250


# --- Adult and the catalogue -----------------------------------------------------------------------------

def test_adult_meets_its_card_except_the_question_marks(adult: ReferenceDataset, manifest: ToolManifest) -> None:
    result = run(adult, manifest)
    bad = not_passing(result)
    assert set(bad) == {f"data_quality.expectations.values_in_set.{c}"
                        for c in ("workclass", "occupation", "native-country")}
    assert bad["data_quality.expectations.values_in_set.workclass"].message == (
        "workclass has 1,836 values outside its declared set (5.6 %), e.g. '?' (1,836)")
    assert bad["data_quality.expectations.values_in_set.occupation"].details["sample"] == [
        {"value": "?", "count": 1843}]
    assert bad["data_quality.expectations.values_in_set.native-country"].details["sample"] == [
        {"value": "?", "count": 583}]
    assert all(f.severity is Severity.ADVISORY for f in bad.values())
    assert result.status == "NEEDS_REVIEW"
    f = by_key(result)
    assert f["data_quality.expectations.duplicate_rows"].details["duplicate_rows"] == 24
    assert f["data_quality.expectations.prevalence.income"].value == pytest.approx(7841 / 32561)
    assert f["data_quality.expectations.group_representation.sex_x_race"].details["groups"][-5] == {
        "grouping": "sex_x_race", "group": "Male & White", "count": 19174}


# what the suite really finds on each catalogue card (from the mirror): the keys that do not PASS
CATALOGUE = {
    "german-credit": {"data_quality.expectations.group_representation.sex_x_foreign-worker"},
    "bank-marketing": set(),
    "law-school": set(),
    "dutch-census": {"data_quality.expectations.duplicate_rows"},
    "credit-card-default": set(),
}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_catalogue_cards(name: str, mirror: Path, manifest: ToolManifest) -> None:
    path = ROOT / "datasets" / name / "card.yaml"
    if not path.is_file():
        pytest.skip(f"datasets/{name}/card.yaml is not written yet")
    if not (mirror / load_card(path).file).is_file():
        pytest.skip(f"{load_card(path).file} is not in the mirror {mirror}")
    result = run(load_dataset(str(path), data_dir=mirror), manifest)
    bad = not_passing(result)
    assert set(bad) == CATALOGUE[name], {k: f.message for k, f in bad.items()}
    assert all(f.severity is Severity.ADVISORY for f in bad.values())
    if name == "german-credit":
        assert bad.popitem()[1].message.startswith(
            "1 of 8 protected groups has fewer than 30 rows (the policy's min_group_size): 'female & no' (7)")
    if name == "dutch-census":
        assert bad.popitem()[1].message.startswith("41,982 rows (69.5 %) repeat an earlier row")


def test_a_tool_that_crashes_on_the_sample_fails_the_schema_check(manifest: ToolManifest) -> None:
    def picky(frame: pd.DataFrame) -> np.ndarray:
        if len(frame) < 100:
            raise ValueError("batch too small")
        return np.zeros(len(frame), dtype=int)

    f = not_passing(run(dataset(clean_frame()), manifest, fn=picky))["data_quality.outputs.schema_stable"]
    assert f.status is Status.FAIL
    assert f.message.startswith("calling the tool twice on a sample of 64 rows failed: ToolError: tool 'dq-tool' "
                                "raised ValueError during prediction: batch too small")


def test_gx_exception_info_in_both_shapes() -> None:
    from test_suites.data_quality.results import exception_message

    assert exception_message({"raised_exception": False, "exception_message": None}) is None
    assert exception_message({"raised_exception": True, "exception_message": "boom"}) == "boom"
    nested = {"MetricConfigurationID(metric_name='column_values.between.condition')": {
        "exception_traceback": "...", "exception_message": "Column values, min_value, and max_value must "
                                                           "either be None or of the same type.",
        "raised_exception": "True"}}
    assert exception_message(nested).startswith("Column values, min_value")
