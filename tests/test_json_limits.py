"""JSON and JSONL from outside the harness process (issue 12, hardening): a vendor's responses.jsonl, a bundle's
JSONL, a dataset document or its lines, a plan and an evidence listing read back from the store. Each is refused
with one message naming the file (and the line) and the limit when it is over its size limit, nests arrays and
objects deeper than 64 levels (Python's json gives up with RecursionError around 1,000, which was an "internal
error", exit 4), or uses NaN / Infinity, which JSON does not allow."""
from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import ConfigError, DatasetError
from harness.yamlio import (
    MAX_DATASET_JSON_BYTES,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSONL_LINE_BYTES,
    jsonl_lines,
    read_json,
    safe_json,
    safe_jsonl,
)
from tests.conftest import MANIFEST

DEEP = "[" * 200_000 + "]" * 200_000  # 400 kB, under every size limit: refused for its depth alone
BIG = 2 << 20  # 2 MiB


def nested(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "[1]" + "}" * (levels - 1)


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env={"COLUMNS": "250", "HARNESS_DATA_DIR": ""})
    return r.exit_code, r.stdout, r.stderr


# -- the shared functions, exactly -----------------------------------------------------------------------------


def test_the_limits_are_those_the_inputs_need() -> None:
    assert (MAX_JSON_BYTES, MAX_JSONL_LINE_BYTES, MAX_DATASET_JSON_BYTES, MAX_JSON_DEPTH) == (
        1 << 20, 1 << 20, 128 << 20, 64)


def test_safe_json_parses_ordinary_documents_from_text_or_bytes() -> None:
    doc = {"a": [1, 2.5, None, True], "b": {"c": "d [{ \" ] }"}, "é": "ü"}
    assert safe_json(json.dumps(doc), "x") == doc
    assert safe_json(json.dumps(doc, ensure_ascii=False).encode(), "x") == doc
    assert safe_json(nested(MAX_JSON_DEPTH), "x") == json.loads(nested(MAX_JSON_DEPTH))  # 64 levels: accepted
    # brackets inside strings, escaped quotes and backslashes are not nesting
    assert safe_json(json.dumps({"s": "[" * 500 + '\\"' + "{" * 500}), "x") == {"s": "[" * 500 + '\\"' + "{" * 500}
    with pytest.raises(json.JSONDecodeError):  # not JSON at all: the caller says so in its own words
        safe_json("{oops", "x")


def test_safe_json_refuses_a_document_over_its_size_limit_naming_it_and_the_limit() -> None:
    text = json.dumps({"a": "x" * MAX_JSON_BYTES})
    with pytest.raises(ConfigError) as e:
        safe_json(text, "plan p1")
    assert str(e.value) == "plan p1 is not accepted: it is larger than 1,048,576 bytes"
    with pytest.raises(ConfigError, match=r"^plan p1 is not accepted: it is larger than 1,048,576 bytes$"):
        safe_json(text.encode(), "plan p1")
    # the limit is in bytes of UTF-8, not characters: 400,000 "é" are 800,000 bytes
    with pytest.raises(ConfigError, match=r"^w is not accepted: it is larger than 500,000 bytes$"):
        safe_json(json.dumps("é" * 400_000, ensure_ascii=False), "w", limit=500_000)
    assert safe_json(json.dumps("é" * 200_000, ensure_ascii=False), "w", limit=500_000) == "é" * 200_000
    assert safe_json(json.dumps("x" * (MAX_JSON_BYTES - 2)), "w") == "x" * (MAX_JSON_BYTES - 2)  # exactly the limit


def test_safe_json_refuses_deep_nesting_as_an_error_of_the_input_not_of_the_harness() -> None:
    with pytest.raises(ConfigError) as e:
        safe_json(DEEP, "plan p1")
    assert str(e.value) == ("plan p1 is not accepted: it nests arrays and objects more than 64 levels deep (a real "
                            "document needs a few)")
    with pytest.raises(ConfigError, match=r"^plan p1 is not accepted: it nests arrays and objects more than 64 "):
        safe_json(nested(MAX_JSON_DEPTH + 1), "plan p1")  # too deep, yet far from Python's own recursion limit
    with pytest.raises(DatasetError, match=r"^d is not accepted: it nests arrays and objects more than 64 levels"):
        safe_json("[" * 65 + "]" * 65, "d", error=DatasetError)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_safe_json_refuses_the_constants_json_does_not_have(constant: str) -> None:
    with pytest.raises(ConfigError) as e:
        safe_json(f'{{"score": {constant}}}', "responses file r.jsonl, line 3")
    assert str(e.value) == (f"responses file r.jsonl, line 3 is not accepted: it uses {constant}, which JSON does "
                            "not allow: write null or a number")


def test_jsonl_lines_skips_an_over_long_line_without_holding_it() -> None:
    limit = 10
    data = b'{"a": 1}\n' + b"x" * 35 + b"\n" + b"0123456789\n\n" + b"y" * 11 + b"\r\n" + b'"end"'
    assert list(jsonl_lines(io.BytesIO(data), limit)) == [
        (1, b'{"a": 1}'), (2, None), (3, b"0123456789"), (4, b""), (5, None), (6, b'"end"')]


def test_a_64_mib_line_is_read_past_in_pieces_never_whole(tmp_path: Path) -> None:
    from harness.workflows.bundle import validate_bundle
    from tests.test_bundle import MANIFEST as BUNDLE_MANIFEST
    from tests.test_bundle import make, problems

    root = make(tmp_path / "b", {"tool.yaml": BUNDLE_MANIFEST + "  kind: responses\n  path: answers.jsonl\n"})
    with (root / "answers.jsonl").open("wb") as f:
        f.write(b'{"id": "q1", "answer": "')
        f.truncate(64 << 20)  # 64 MiB of zero bytes on one line, then a line with a problem of its own
        f.seek(0, 2)
        f.write(b'\n{"id": "q2"}\n')
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as e:
            validate_bundle(root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems(e) == ["answers.jsonl, line 1 is not accepted: it is larger than 1,048,576 bytes",
                           "answers.jsonl, line 2: no field 'answer'"]
    assert peak < 8 << 20, peak  # a few 1 MiB pieces at most, never the 64 MiB line
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=r"^r, line 1 is not accepted: it is larger than 1,048,576 bytes$"):
            list(safe_jsonl(root / "answers.jsonl", "r"))
        assert tracemalloc.get_traced_memory()[1] < 8 << 20
    finally:
        tracemalloc.stop()


def test_safe_jsonl_names_the_file_the_line_and_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": 1}\n\n[2]\n')
    assert list(safe_jsonl(path, "responses file r.jsonl")) == [(1, {"id": 1}), (3, [2])]
    path.write_text('{"id": 1}\n{"id": "' + "x" * BIG + '"}\n{"id": 3}\n')
    with pytest.raises(ConfigError) as e:
        list(safe_jsonl(path, "responses file r.jsonl"))
    assert str(e.value) == "responses file r.jsonl, line 2 is not accepted: it is larger than 1,048,576 bytes"
    path.write_text('{"id": 1}\n' + DEEP + "\n")
    with pytest.raises(ConfigError, match=r"^responses file r\.jsonl, line 2 is not accepted: it nests arrays and "):
        list(safe_jsonl(path, "responses file r.jsonl"))
    path.write_text('{"id": 1}\n{"id": 2\n')
    with pytest.raises(DatasetError) as e:
        list(safe_jsonl(path, "dataset file r.jsonl", error=DatasetError))
    assert str(e.value) == "dataset file r.jsonl, line 2: not valid JSON (Expecting ',' delimiter)"
    path.write_bytes(b'{"id": 1}\n{"id": "\xff"}\n')
    with pytest.raises(ConfigError, match=r"^responses file r\.jsonl, line 2: not UTF-8 text$"):
        list(safe_jsonl(path, "responses file r.jsonl"))


def test_read_json_refuses_a_large_file_before_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as f:
        f.truncate(MAX_JSON_BYTES + 1)  # sparse: 1 MiB of zero bytes, never parsed
    with pytest.raises(ConfigError, match=r"^evidence listing big\.json is not accepted: it is larger than "
                                          r"1,048,576 bytes$"):
        read_json(path, "evidence listing big.json")
    path.write_text('{"files": {}}')
    assert read_json(path, "evidence listing big.json") == {"files": {}}


# -- the inputs, through their entry points --------------------------------------------------------------------


def _responses_tool(folder: Path, first: str) -> Path:
    """A generative tool whose responses.jsonl answers every city-services-qa item, `first` being its first line."""
    from harness.datasets import load_dataset

    folder.mkdir(parents=True, exist_ok=True)
    ids = load_dataset("city-services-qa").frame["id"].tolist()
    with (folder / "responses.jsonl").open("w") as f:
        f.write(first + "\n")
        for i in ids[1:]:
            f.write(json.dumps({"id": i, "answer": ""}) + "\n")
    manifest = folder / "tool.yaml"
    manifest.write_text(MANIFEST.format(id="qa-tool").replace("category: decision-support", "category: generative")
                        + "adapter:\n  kind: responses\n  path: responses.jsonl\n")
    return manifest


@pytest.mark.parametrize(("first", "reason"), [
    ('{"id": "csq-0001", "answer": "' + "x" * BIG + '"}', "it is larger than 1,048,576 bytes"),
    (DEEP, "it nests arrays and objects more than 64 levels deep (a real document needs a few)"),
    ('{"id": "csq-0001", "answer": "", "score": NaN}', "it uses NaN, which JSON does not allow: write null or a "
                                                       "number"),
])
def test_assess_refuses_a_responses_file_with_an_oversized_deep_or_nan_line(tmp_path: Path, first: str,
                                                                           reason: str) -> None:
    tool = _responses_tool(tmp_path / "tool", first)
    code, _out, err = invoke("assess", str(tool), "--dataset", "city-services-qa", "--suite", "hallucination",
                             "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--out", str(tmp_path / "o"))
    assert (code, err) == (2, f"error: responses file {tmp_path / 'tool' / 'responses.jsonl'}, line 1 is not "
                              f"accepted: {reason}\n")


def _qa_card(folder: Path, data: bytes, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = "qa.json" if fmt == "squad-json" else "qa.jsonl"
    (folder / name).write_bytes(data)
    card = folder / "card.yaml"
    card.write_text(f"name: qa\nversion: '1'\ntask: grounded-qa\nfile: {name}\n"
                    f"sha256: {hashlib.sha256(data).hexdigest()}\nsource: https://example.org\nlicense: CC0-1.0\n"
                    f"read: {{format: {fmt}}}\nid_column: id\n")
    return card


def _assess_on(tmp_path: Path, card: Path) -> tuple[int, str, str]:
    tool = _responses_tool(tmp_path / "tool", '{"id": "q1", "answer": ""}\n{"id": "q2", "answer": ""}')
    return invoke("assess", str(tool), "--dataset", str(card), "--suite", "hallucination",
                  "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--out", str(tmp_path / "o"))


def test_a_dataset_document_nested_200000_deep_is_bad_input_exit_2(tmp_path: Path) -> None:
    card = _qa_card(tmp_path / "d", DEEP.encode(), "squad-json")
    code, _out, err = _assess_on(tmp_path, card)
    assert (code, err) == (2, f"error: dataset file {tmp_path / 'd' / 'qa.json'} is not accepted: it nests arrays "
                              "and objects more than 64 levels deep (a real document needs a few)\n")


def test_a_dataset_document_over_128_mib_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from harness.datasets import read_squad

    path = tmp_path / "qa.json"
    with path.open("wb") as f:
        f.truncate(MAX_DATASET_JSON_BYTES + 1)
    with pytest.raises(DatasetError) as e:
        read_squad(path)
    assert str(e.value) == f"dataset file {path} is not accepted: it is larger than 134,217,728 bytes"


def test_a_jsonl_dataset_with_an_oversized_line_is_refused_naming_the_line(tmp_path: Path) -> None:
    rows = [{"id": "q1", "context": "c", "question": "q", "answers": [], "answerable": False},
            {"id": "q2", "context": "x" * BIG, "question": "q", "answers": [], "answerable": False}]
    card = _qa_card(tmp_path / "d", "".join(json.dumps(r) + "\n" for r in rows).encode(), "jsonl")
    code, _out, err = _assess_on(tmp_path, card)
    assert (code, err) == (2, f"error: dataset file {tmp_path / 'd' / 'qa.jsonl'}, line 2 is not accepted: it is "
                              "larger than 1,048,576 bytes\n")


def test_a_jsonl_dataset_still_reads_as_before() -> None:
    from harness.datasets import load_dataset

    f = load_dataset("city-services-qa").frame
    assert len(f) == 276 and list(f.columns) == ["id", "topic", "context", "question", "answers", "answerable",
                                                 "paraphrases"]
    assert f["answers"].map(type).eq(list).all() and f["answerable"].dtype == bool


def test_a_bundle_whose_responses_are_deep_or_oversized_lists_them_as_problems(tmp_path: Path) -> None:
    from harness.workflows.bundle import validate_bundle
    from tests.test_bundle import MANIFEST as BUNDLE_MANIFEST
    from tests.test_bundle import make, problems

    lines = ['{"id": "q1", "answer": "Paris"}', DEEP, '{"id": "q2", "answer": "' + "x" * BIG + '"}',
             '{"id": "q3", "answer": NaN}', '{"id": "q4", "answer": "Rome"}']
    root = make(tmp_path / "b", {"tool.yaml": BUNDLE_MANIFEST + "  kind: responses\n  path: answers.jsonl\n",
                                 "answers.jsonl": "\n".join(lines) + "\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(root)
    assert problems(e) == [
        "answers.jsonl, line 2 is not accepted: it nests arrays and objects more than 64 levels deep (a real "
        "document needs a few)",
        "answers.jsonl, line 3 is not accepted: it is larger than 1,048,576 bytes",
        "answers.jsonl, line 4 is not accepted: it uses NaN, which JSON does not allow: write null or a number",
    ]
    code, _out, err = invoke("submit", str(root), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}")
    assert code == 2 and "answers.jsonl, line 2 is not accepted: it nests arrays and objects" in err, err


def test_a_stored_plan_rewritten_as_a_deep_document_is_refused_exit_2(tmp_path: Path) -> None:
    """Whoever can write the store can replace plan.json and its sha256 tag together; the plan is then still
    read as data, and refused as such."""
    from mlflow.tracking import MlflowClient

    from harness import gate
    from harness.manifest import load_manifest
    from harness.workflows.plan import make_plan
    from tests.conftest import write_case

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tool, card = write_case(tmp_path / "c", n=200, seed=21)
    gate.register_version(uri, load_manifest(tool), tool, submitter="vendor-vic")
    plan = make_plan(uri, "case-tool-21", "1.0", datasets=[str(card)], suites=["bias"], seed=11, by="pat")
    c = MlflowClient(tracking_uri=uri)
    stored = Path(c.get_run(str(plan.plan_id)).info.artifact_uri.removeprefix("file://")) / "plan.json"
    assert stored.is_file()
    stored.write_text(DEEP)
    c.set_tag(str(plan.plan_id), "harness.plan.sha256", hashlib.sha256(DEEP.encode()).hexdigest())
    code, _out, err = invoke("assess", str(tool), "--plan", str(plan.plan_id), "--tracking-uri", uri)
    assert (code, err) == (2, f"error: plan {plan.plan_id} is not accepted: it nests arrays and objects more than 64 "
                              "levels deep (a real document needs a few)\n")


def test_an_evidence_listing_rewritten_as_a_deep_document_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    from harness.tracking.evidence import check_folder

    (tmp_path / "evidence.json").write_text(DEEP)
    digest = hashlib.sha256(DEEP.encode()).hexdigest()
    assert check_folder(tmp_path, digest, "r1") == [
        "run r1's evidence.json is not accepted: it nests arrays and objects more than 64 levels deep (a real "
        "document needs a few)"]


def test_a_stored_assessment_record_rewritten_as_a_deep_document_is_refused(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from harness.tracking import Store
    from harness.workflows.transparency import _assessment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = MlflowClient(tracking_uri=uri)
    exp = c.create_experiment("x", artifact_location=str(tmp_path / "artifacts"))
    run = c.create_run(exp).info.run_id
    (tmp_path / "assessment.json").write_text(DEEP)
    c.log_artifact(run, str(tmp_path / "assessment.json"))
    with pytest.raises(ConfigError) as e:
        _assessment(Store(uri), run)
    assert str(e.value) == (f"assessment.json of run {run} is not accepted: it nests arrays and objects more than "
                            "64 levels deep (a real document needs a few)")
