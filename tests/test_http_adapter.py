"""Issue 14, the `http` adapter (harness/tools/http.py) against a real scoring server on loopback
(`harness.testing.ScoringServer`, serving a scikit-learn model over real sockets).

The outputs are the model's own, exactly, whatever the batching and concurrency; what is sent is the tool's inputs
and each row's id, nothing else. Then the faults a vendor's endpoint can have, each with its documented outcome:
per-row errors for the rows a reply does not answer usably, one clear error for an endpoint that is down, retries
bounded in count and in time, and an API key that never appears in a message."""
from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from harness.datasets import ReferenceDataset, load_dataset
from harness.errors import ConfigError, ToolConfigError, ToolError
from harness.manifest import load_manifest
from harness.testing import Fault, ScoringServer, check_adapter
from harness.tools import load_tool
from harness.tools.http import HttpTool, plain_value, records
from tests.conftest import MANIFEST, write_case

KEY = "sk-http-test-3b9e7a1c0d2f"
PATHS = "  label_path: predictions[*].label\n  score_path: predictions[*].score\n  id_path: predictions[*].id\n"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReferenceDataset, LogisticRegression]:
    _, card = write_case(tmp_path_factory.mktemp("http"), n=400, seed=14)
    ds = load_dataset(str(card))
    model = LogisticRegression().fit(ds.frame[["income"]], ds.frame["approved"])
    return ds, model


@pytest.fixture
def server(case: tuple[ReferenceDataset, LogisticRegression]) -> Iterator[ScoringServer]:
    s = ScoringServer(case[1], features=["income"])
    s.start()
    yield s
    s.stop()


def manifest(folder: Path, url: str, extra: str = PATHS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tool.yaml"
    path.write_text(MANIFEST.format(id="scorer") + f"adapter:\n  kind: http\n  url: {url}\n" + extra)
    return path


def tool(server: ScoringServer, tmp_path: Path, extra: str = "", paths: str = PATHS) -> HttpTool:
    """The adapter as the loader builds it, with the waits between retries recorded instead of slept."""
    t = load_tool(load_manifest(manifest(tmp_path, server.url, paths + "  backoff_s: 0.01\n" + extra)))
    assert isinstance(t, HttpTool)
    t.waits = []  # type: ignore[attr-defined]
    t._sleep = t.waits.append  # type: ignore[attr-defined]
    return t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def batch_of(ds: ReferenceDataset, row: str, size: int) -> list[str]:
    """The ids sent in one request with `row`, batches of `size` in dataset order."""
    ids = ds.ids.astype(str).tolist()
    start = ids.index(row) // size * size
    return ids[start:start + size]


# --------------------------------------------------------------------------------------------------
# Outputs and what is sent


def test_outputs_are_the_models_own_exactly_in_dataset_order(case, server: ScoringServer, tmp_path: Path) -> None:
    ds, model = case
    t = tool(server, tmp_path, "  batch_size: 37\n  concurrency: 3\n  input_columns: [income]\n")
    preds = t.predict(ds)
    x = ds.frame[["income"]]
    assert preds.labels.dtype == np.int64 and np.array_equal(preds.labels, model.predict(x))
    assert preds.scores is not None and np.array_equal(preds.scores, model.predict_proba(x)[:, 1])  # exact, not close
    assert preds.errors == [None] * 400
    assert server.calls == math.ceil(400 / 37) == 11 and server.rows_scored == 400
    assert 1 < server.max_in_flight <= 3  # batches ran concurrently, within the limit
    assert server.fields_seen == {"id", "income"}  # the inputs and the id: never the target or anything else
    assert t.waits == []  # type: ignore[attr-defined]


def test_by_default_the_cards_features_are_sent_and_never_the_target(case, server: ScoringServer,
                                                                      tmp_path: Path) -> None:
    ds, _ = case
    tool(server, tmp_path).predict(ds)
    assert server.fields_seen == {"id", "sex", "race", "income"}  # the card's features; `approved` never leaves


def test_without_id_path_results_are_matched_by_position(case, server: ScoringServer, tmp_path: Path) -> None:
    ds, model = case
    t = tool(server, tmp_path, "  batch_size: 50\n", paths="  score_path: predictions[*].score\n")
    preds = t.predict(ds)
    assert np.array_equal(preds.labels, model.predict(ds.frame[["income"]])) and preds.errors == [None] * 400
    # a reply one result short: no result of that batch can be trusted, since they are matched by position
    server.faults = [Fault.drop_rows("^a00042$")]
    preds = t.predict(ds)
    lost = batch_of(ds, "a00042", 50)
    assert [i for i, e in zip(ds.ids, preds.errors or [], strict=True) if e is not None] == lost
    assert preds.errors is not None and preds.errors[0] == (
        f"row 'a00000': the reply from {server.origin} has 49 results for the 50 rows sent; results are matched to "
        f"rows by position, so none of them can be trusted (adapter.id_path matches them by id)")


def test_rows_without_a_usable_answer_carry_their_reason_and_the_rest_stand(case, server: ScoringServer,
                                                                           tmp_path: Path) -> None:
    ds, model = case
    server.faults = [Fault.drop_rows("^a00042$"), Fault.tamper("^a00043$", score="high"),
                     Fault.tamper("^a00044$", label="maybe"), Fault.tamper("^a00045$", label=None),
                     Fault.tamper("^a00046$", id="a00047")]
    preds = tool(server, tmp_path, "  batch_size: 20\n").predict(ds)
    o = server.origin
    errors = dict(zip(ds.ids, preds.errors or [], strict=True))
    assert {i: e for i, e in errors.items() if e is not None} == {
        "a00042": f"row 'a00042': the reply from {o} has no result with this id at predictions[*].id",
        "a00043": "row 'a00043': the score at predictions[*].score is 'high', not a number",
        "a00044": "row 'a00044': the label 'maybe' is not one of the target's values [0, 1]",
        "a00045": "row 'a00045': the label at predictions[*].label is null, not a value",
        "a00046": f"row 'a00046': the reply from {o} has no result with this id at predictions[*].id",
        "a00047": f"row 'a00047': the reply from {o} has 2 results with this id, so none is taken as the row's",
    }
    ok = np.array([e is None for e in preds.errors or []])
    expected = model.predict(ds.frame[["income"]])
    assert np.array_equal(preds.labels[ok].astype(int), expected[ok])  # every other row is the model's answer
    assert all(preds.labels[~ok] == None) and np.isnan(preds.scores[~ok]).all()  # noqa: E711


def test_labels_are_mapped_before_they_are_judged(case, server: ScoringServer, tmp_path: Path) -> None:
    """A vendor answering "yes"/"no" with a label_map is read in the target's values; a label the map does not name
    is that row's error. With no map, labels none of which is a target value are left to the label check, which
    refuses the tool whole and proposes a map (not thousands of row errors)."""
    ds, _ = case
    server.faults = [Fault.tamper("^a00", label="yes"), Fault.tamper("^a001", label="no"),
                     Fault.tamper("^a00123$", label="unsure")]
    preds = tool(server, tmp_path, '  label_map: {"yes": 1, "no": 0}\n').predict(ds)
    assert preds.errors is not None and [e for e in preds.errors if e] == [
        "row 'a00123': the label 'unsure' (after adapter.label_map) is not one of the target's values [0, 1]"]
    assert preds.labels[0] == 1 and preds.labels[100] == 0
    server.faults = [Fault.tamper("", label="yes")]
    from harness.tools.labels import check_labels

    unmapped = tool(server, tmp_path / "b").predict(ds)
    assert unmapped.errors == [None] * 400 and set(unmapped.labels) == {"yes"}
    with pytest.raises(ToolConfigError) as e:
        check_labels(unmapped, ds, load_manifest(tmp_path / "b" / "tool.yaml"))
    assert e.value.rule == "label-space"


def test_cells_travel_as_json_can_carry_them() -> None:
    frame = pd.DataFrame({"n": np.array([1, 2], dtype=np.int64), "x": [0.1 + 0.2, np.nan], "y": [np.inf, 2.5],
                          "s": ["a", None], "b": [True, False]})
    rows = records(frame, ["r0", "r1"], "id")
    assert rows == [{"id": "r0", "n": 1, "x": 0.30000000000000004, "y": None, "s": "a", "b": True},
                    {"id": "r1", "n": 2, "x": None, "y": 2.5, "s": None, "b": False}]
    assert json.loads(json.dumps(rows, allow_nan=False)) == rows  # strict JSON, floats exact
    assert type(plain_value(np.int64(3))) is int and plain_value(pd.NaT) is None
    assert records(frame.iloc[:1], ["r0"], None) == [{"n": 1, "x": 0.30000000000000004, "y": None, "s": "a",
                                                      "b": True}]


def test_predict_frame_asks_nothing_for_no_rows_and_fails_whole_on_a_row_error(case, server: ScoringServer,
                                                                              tmp_path: Path) -> None:
    _, model = case
    t = tool(server, tmp_path)
    none = t.predict_frame(pd.DataFrame({"income": []}))
    assert len(none) == 0 and none.scores is not None and server.requests == 0
    one = t.predict_frame(pd.DataFrame({"income": [61.5]}))
    assert one.labels.tolist() == model.predict(pd.DataFrame({"income": [61.5]})).tolist() and one.errors is None
    server.faults = [Fault.drop_rows("^1$")]
    with pytest.raises(ToolError) as e:
        t.predict_frame(pd.DataFrame({"income": [61.5, 40.0, 55.0]}))
    assert str(e.value) == (f"tool 'scorer' gave no usable answer for 1 of 3 rows; the first: row '1': the reply from "
                            f"{server.origin} has no result with this id at predictions[*].id")


def test_the_adapter_passes_the_conformance_kit(case, server: ScoringServer, tmp_path: Path) -> None:
    ds, _ = case
    assert check_adapter(tool(server, tmp_path), ds, on_fail=None) == []


def test_an_id_field_that_is_also_an_input_is_refused(case, server: ScoringServer, tmp_path: Path) -> None:
    ds, _ = case
    t = tool(server, tmp_path, "  id_field: income\n  input_columns: [income]\n",
             paths="  label_path: predictions[*].label\n")
    with pytest.raises(ToolConfigError) as e:
        t.predict(ds)
    assert str(e.value) == ("adapter.id_field 'income' of tool 'scorer' is also the name of an input column; name the "
                            "id field otherwise (e.g. row_id)")


# --------------------------------------------------------------------------------------------------
# Faults of the endpoint: retried, bounded, and each with its documented outcome


def test_transient_500s_and_429s_are_retried_with_backoff_and_retry_after(case, server: ScoringServer,
                                                                          tmp_path: Path) -> None:
    ds, model = case
    server.faults = [Fault.error("^a00007$", times=2), Fault.rate_limited("^a00321$", retry_after=0.25)]
    t = tool(server, tmp_path, "  batch_size: 100\n  concurrency: 1\n")
    preds = t.predict(ds)
    assert preds.errors == [None] * 400 and np.array_equal(preds.labels, model.predict(ds.frame[["income"]]))
    assert server.attempts["\n".join(batch_of(ds, "a00007", 100))] == 3
    assert server.attempts["\n".join(batch_of(ds, "a00321", 100))] == 2
    assert t.waits == [0.01, 0.02, 0.25]  # type: ignore[attr-defined]  # doubling backoff, then Retry-After


@pytest.mark.parametrize(("fault", "extra", "error", "tries"), [
    (Fault.error("^a00007$"), "", "HTTP 500 from {o}: injected fault: HTTP 500; gave up after 3 attempts", 3),
    (Fault.rate_limited("^a00007$", retry_after=3600, times=None), "",
     "HTTP 429 from {o}: injected fault: HTTP 429; the server asked to wait 3600 s, more than the 60 s the harness "
     "waits (gave up after 1 attempt)", 1),
    (Fault.slow("^a00007$", 2.0), "  timeout_s: 0.3\n",
     "no reply from {o} within 0.3 s; gave up after 3 attempts", 3),
    (Fault.malformed_json("^a00007$"), "",
     "the reply from {o} is not valid JSON (Unterminated string starting at: line 1 column 63 (char 62))", 1),
    (Fault.error("^a00007$", status=404), "", "HTTP 404 from {o}: injected fault: HTTP 404", 1),
    (Fault.huge("^a00007$", 2_000_000), "", "the reply from {o} was larger than 1,048,576 bytes "
                                            "(adapter.max_response_bytes)", 1),
])
def test_a_batch_that_fails_is_an_error_for_its_rows_only(case, server: ScoringServer, tmp_path: Path, fault: Fault,
                                                         extra: str, error: str, tries: int) -> None:
    ds, _ = case
    server.faults = [fault]
    t = tool(server, tmp_path, "  batch_size: 100\n  max_retries: 2\n  max_response_bytes: 1048576\n" + extra)
    t0 = time.perf_counter()
    preds = t.predict(ds)
    assert time.perf_counter() - t0 < 5
    failed = [i for i, e in zip(ds.ids, preds.errors or [], strict=True) if e is not None]
    assert failed == batch_of(ds, "a00007", 100)
    assert preds.errors is not None and preds.errors[0] == f"row 'a00000': {error.format(o=server.origin)}"
    assert server.attempts["\n".join(failed)] == tries
    assert all(w <= 60 for w in t.waits)  # type: ignore[attr-defined]


def test_an_endpoint_that_is_down_is_one_error_naming_its_origin_only(case, tmp_path: Path) -> None:
    ds, _ = case
    port = free_port()
    url = f"http://127.0.0.1:{port}/v2/score?token=secret-in-path"
    t = load_tool(load_manifest(manifest(tmp_path, url, "  max_retries: 2\n  backoff_s: 0.01\n")))
    waits: list[float] = []
    t._sleep = waits.append  # type: ignore[attr-defined]
    with pytest.raises(ToolError) as e:
        t.predict(ds)
    assert str(e.value) == (
        f"the scoring endpoint http://127.0.0.1:{port} of tool 'scorer' is unreachable: could not connect to "
        f"http://127.0.0.1:{port} (ConnectError: [Errno 111] Connection refused); gave up after 3 attempts; start "
        f"the server or correct adapter.url in the manifest")
    assert "secret-in-path" not in str(e.value)
    assert waits == [0.01, 0.02]  # the first batch alone, retried, then the call stops: not 4 batches x 3 attempts


def test_retries_are_bounded_in_count_and_in_time(case, server: ScoringServer, tmp_path: Path) -> None:
    """Every batch answers 500 forever: each is tried 1 + max_retries times with real backoff (0.01 s doubling),
    and the call ends as an error for every row, quickly. Then the run's deadline: a slow endpoint gets no more
    requests once it passes, and the rows not asked say so."""
    ds, _ = case
    server.faults = [Fault.error("")]
    t = load_tool(load_manifest(manifest(tmp_path, server.url, "  batch_size: 100\n  max_retries: 3\n"
                                                               "  backoff_s: 0.01\n")))
    t0 = time.perf_counter()
    with pytest.raises(ToolError) as e:
        t.predict(ds)
    assert time.perf_counter() - t0 < 3
    assert str(e.value).startswith("tool 'scorer': every one of the 400 rows failed; the first: row 'a00000': HTTP "
                                   "500 from")
    assert server.calls == 4 * 4 and set(server.attempts.values()) == {4}

    server.faults, server.delay_s = [], 0.4
    server.reset_counts()
    slow = load_tool(load_manifest(manifest(tmp_path / "slow", server.url,
                                            "  batch_size: 40\n  concurrency: 1\n  run_deadline_s: 1.0\n")))
    t0 = time.perf_counter()
    preds = slow.predict(ds)
    assert time.perf_counter() - t0 < 2.0
    answered = sum(e is None for e in preds.errors or [])
    assert answered in (40, 80)  # two batches of 0.4 s fit in the second (the second may be cut by the deadline)
    not_asked = [e for e in preds.errors or [] if e and "not asked" in e]
    assert not_asked and not_asked[-1] == ("row 'a00399': not asked: the run's deadline of 1 s passed "
                                           "(adapter.run_deadline_s)")
    assert server.calls <= 3


# --------------------------------------------------------------------------------------------------
# The API key


def test_the_api_key_is_sent_but_never_shown(case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds, _ = case
    server = ScoringServer(case[1], features=["income"], api_key=KEY,
                           faults=[Fault.tamper("^a00001$", label=f"served for {KEY}"),
                                   Fault.tamper("^a00002$", score=f"quota exceeded for {KEY}")])
    with server:
        monkeypatch.setenv("SCORER_KEY", KEY)
        t = load_tool(load_manifest(manifest(tmp_path, server.url, PATHS + "  api_key_env: SCORER_KEY\n")))
        preds = t.predict(ds)
        assert server.refused == 1  # the probe without the key, and only it
        assert preds.errors is not None and preds.errors[1:3] == [
            "row 'a00001': the label 'served for [redacted]' is not one of the target's values [0, 1]",
            "row 'a00002': the score at predictions[*].score is 'quota exceeded for [redacted: key]', not a number"]
        assert KEY not in repr(t) and KEY not in json.dumps(preds.errors) and KEY not in str(preds.labels.tolist())
        assert repr(t) == f"HttpTool(name='scorer', url='{server.origin}', api_key=[redacted])"
        # a wrong key: every row is refused, and the message does not echo what was sent
        monkeypatch.setenv("SCORER_KEY", "sk-wrong-0000")
        with pytest.raises(ToolError) as e:
            load_tool(load_manifest(tmp_path / "tool.yaml")).predict(ds)
        assert str(e.value) == (f"tool 'scorer': every one of the 400 rows failed; the first: row 'a00000': HTTP 401 "
                                f"from {server.origin}: Incorrect API key provided.")
        # a key sent as a bare header value rather than a bearer token
        server.key_header = "x-api-key"
        monkeypatch.setenv("SCORER_KEY", KEY)
        bare = load_tool(load_manifest(manifest(tmp_path / "bare", server.url,
                                                PATHS + "  api_key_env: SCORER_KEY\n  api_key_header: x-api-key\n")))
        assert sum(e is None for e in bare.predict(ds).errors or []) == 398


def test_a_missing_key_variable_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCORER_KEY", raising=False)
    with pytest.raises(ToolConfigError) as e:
        load_tool(load_manifest(manifest(tmp_path, "http://127.0.0.1:9/score", "  api_key_env: SCORER_KEY\n")))
    assert str(e.value) == ("tool manifest 'scorer' reads its API key from the environment variable SCORER_KEY, which "
                            "is not set; export SCORER_KEY (or remove adapter.api_key_env for an endpoint that needs "
                            "no key)")


def test_an_endpoint_that_answers_without_credentials_is_recorded(case, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest names a key; the adapter asks once without it, sending an empty batch (no City data), and keeps
    what happened for the security suite."""
    ds, model = case
    monkeypatch.setenv("SCORER_KEY", KEY)
    keyed = PATHS + "  api_key_env: SCORER_KEY\n"
    open_server = ScoringServer(model, features=["income"])  # checks no key at all
    with open_server:
        t = load_tool(load_manifest(manifest(tmp_path / "open", open_server.url, keyed)))
        assert t.answers_without_credentials is None and t.credentials_probe == "not asked yet"  # type: ignore
        t.predict(ds)
        assert t.answers_without_credentials is True  # type: ignore[attr-defined]
        assert t.credentials_probe == (f"{open_server.origin} answered a request without credentials (HTTP 200), "  # type: ignore
                                       f"though the manifest names an API key")
        assert open_server.rows_scored == 400  # the probe scored nothing: it sent no row
    closed = ScoringServer(model, features=["income"], api_key=KEY)
    with closed:
        t = load_tool(load_manifest(manifest(tmp_path / "closed", closed.url, keyed)))
        t.predict(ds)
        t.predict(ds)
        assert t.answers_without_credentials is False and closed.refused == 1  # type: ignore[attr-defined]
        assert t.credentials_probe == f"{closed.origin} refused a request without credentials (HTTP 401)"  # type: ignore
    without = load_tool(load_manifest(manifest(tmp_path / "none", "http://127.0.0.1:9/score")))
    assert without.answers_without_credentials is None  # type: ignore[attr-defined]
    assert without.credentials_probe == ("no API key is named (adapter.api_key_env), so none was "  # type: ignore
                                         "withheld")


# --------------------------------------------------------------------------------------------------
# The manifest


def test_an_http_manifest_validates_with_its_defaults(tmp_path: Path) -> None:
    from harness.tools.configs import HttpAdapter

    a = load_manifest(manifest(tmp_path, "https://scoring.vendor.example/score", "")).adapter
    assert isinstance(a, HttpAdapter)
    assert (a.records_key, a.id_field, a.label_path, a.score_path, a.id_path) == (
        "instances", "id", "predictions[*].label", None, None)
    assert (a.batch_size, a.concurrency, a.timeout_s, a.max_retries, a.backoff_s, a.run_deadline_s,
            a.max_response_bytes, a.api_key_env, a.api_key_header) == (100, 4, 30.0, 3, 0.5, 3600.0, 4_194_304, None,
                                                                       "Authorization")


def test_a_bad_http_manifest_names_each_problem_and_its_line(tmp_path: Path) -> None:
    p = manifest(tmp_path, "scoring.vendor.example/score",
                 "  label_path: predictions.label\n  batch_size: 0\n  verify: false\n  api_key: sk-x\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(p)
    assert str(e.value) == (
        f"tool manifest {p} has 5 problem(s):\n"
        "  - adapter.url (line 20): String should match pattern '^https?://\\S+$'\n"
        "  - adapter.label_path (line 21): Value error, 'predictions.label' must contain [*] exactly once, marking "
        "the list of one result per row (e.g. predictions[*].label)\n"
        "  - adapter.batch_size (line 22): Input should be greater than or equal to 1\n"
        "  - adapter.verify (line 23): unknown field (check the spelling)\n"
        "  - adapter.api_key (line 24): unknown field (check the spelling)")
    q = manifest(tmp_path / "q", "https://scoring.vendor.example/score",
                 "  label_path: out[*].label\n  score_path: scores[*]\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(q)
    assert "label_path, score_path and id_path must name one list of results" in str(e.value)


def test_row_paths_read_what_they_say() -> None:
    from harness.tools.rowpaths import Missing, parse

    reply = {"output": {"results": [{"scores": [0.2, 0.8], "label": "yes"}, {"scores": [0.6, 0.4], "label": "no"}]}}
    path = parse("output.results[*].scores.1")
    assert [path.value(r) for r in path.results(reply)] == [0.8, 0.4]
    assert parse("[*]").results([1, 0]) == [1, 0] and parse("[*]").value(1) == 1
    with pytest.raises(Missing, match=r"no 'output\.result'"):
        parse("output.result[*].label").results(reply)
    with pytest.raises(Missing, match=r"output\.results\.x is an object, not a list"):
        parse("output.results.x[*]").results({"output": {"results": {"x": {}}}})
    for bad in ("predictions", "a[*].b[*]", "a.[*]", "a[*]b", "a..b[*]", "a[*]."):
        with pytest.raises(ValueError):
            parse(bad)
