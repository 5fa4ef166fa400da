"""The `openai` adapter against a real chat-completions server on loopback (`harness.testing.ChatServer`):
order under concurrency, the on-disk cache, retries, per-item faults, whole-run failures and the API key."""
from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import ConfigError, ToolConfigError, ToolError
from harness.manifest import load_manifest
from harness.testing import ChatServer, Fault
from harness.tools import can_call, can_generate, load_tool
from harness.tools.configs import OpenAIAdapter
from harness.tools.openai import (
    DEFAULT_SYSTEM_PROMPT,
    OpenAITool,
    cache_key,
    chat_messages,
    parse_user_message,
    user_message,
)
from harness.tools.transport import retry_after
from harness.verdict import Verdict
from tests.conftest import MANIFEST

KEY = "sk-test-7f3a9c1e5b2d4f60"


def echo(context: str, question: str) -> str:
    return f"{context} says: {question}"


def frame(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"q{i}" for i in range(n)], "context": [f"page {i}" for i in range(n)],
                         "question": [f"question {i}?" for i in range(n)]})


def expected(n: int = 8) -> list[str]:
    return [f"page {i} says: question {i}?" for i in range(n)]


@pytest.fixture
def server() -> Iterator[ChatServer]:
    s = ChatServer(echo)
    s.start()
    yield s
    s.stop()


def tool(server: ChatServer, tmp_path: Path, **kw) -> OpenAITool:
    settings = {"name": "t", "base_url": server.base_url, "model": "m", "concurrency": 4, "backoff_s": 0.01,
                "cache_dir": tmp_path / "cache", **kw}
    t = OpenAITool(**settings)
    t.waits = []  # type: ignore[attr-defined]
    t._sleep = t.waits.append  # type: ignore[attr-defined]  # record the backoff instead of sleeping it
    return t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------
# The prompt and the cache key


def test_the_prompt_is_built_and_parsed_in_one_place() -> None:
    text = user_message("Fees: $185.\n\nQuestion: is not a heading here", "What is the fee?")
    assert text == "Context:\nFees: $185.\n\nQuestion: is not a heading here\n\nQuestion: What is the fee?"
    assert parse_user_message(text) == ("Fees: $185.\n\nQuestion: is not a heading here", "What is the fee?")
    with pytest.raises(ValueError, match="not 'Context:"):
        parse_user_message("What is the fee?")
    assert chat_messages("c", "q") == [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                                       {"role": "user", "content": "Context:\nc\n\nQuestion: q"}]
    # the default prompt's refusal is one the hallucination suite counts as an abstention
    from harness.measures.answers import abstentions

    assert DEFAULT_SYSTEM_PROMPT.endswith("reply exactly: I don't know")
    assert abstentions(["I don't know"]).tolist() == [True]


def test_the_cache_key_covers_what_determines_an_answer_and_nothing_else() -> None:
    msgs = chat_messages("c", "q")
    url = "http://127.0.0.1:8000/v1"
    tool = {"tool": "t", "version": "1.0", "manifest_sha256": "ab" * 32}

    def key(*args: object, identity: dict[str, str] = tool) -> str:
        return cache_key(*args, identity=identity)  # type: ignore[arg-type]

    base = key(url, "m", msgs, 0.0, 256, 0)
    assert base == key(url + "/", "m", chat_messages("c", "q"), 0, 256, 0, identity=dict(reversed(tool.items())))
    variants = {key(url, "m2", msgs, 0.0, 256, 0), key(url, "m", chat_messages("c", "q2"), 0.0, 256, 0),
                key(url, "m", msgs, 0.7, 256, 0), key(url, "m", msgs, 0.0, 64, 0),
                key(url, "m", msgs, 0.0, 256, 1),
                key(url, "m", chat_messages("c", "q", "another system prompt"), 0.0, 256, 0),
                # another server may serve another model under the same name: never share its answers
                key("http://127.0.0.1:8001/v1", "m", msgs, 0.0, 256, 0),
                # nor another version of the tool behind the same URL (tests/test_cache_binding.py)
                key(url, "m", msgs, 0.0, 256, 0, identity={**tool, "version": "1.1"})}
    assert base not in variants and len(variants) == 8


def test_retry_after_is_read_as_seconds_or_an_http_date_and_capped() -> None:
    import httpx

    def r(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(r("2")) == 2.0
    assert retry_after(r("0.25")) == 0.25
    assert retry_after(r("3600")) == 60.0
    assert retry_after(r("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # a date in the past: no wait
    assert retry_after(r("soon")) is None
    assert retry_after(httpx.Response(429)) is None


# --------------------------------------------------------------------------------------------------
# Answers, order, concurrency and the cache


def test_answers_arrive_in_dataset_order_with_concurrency(server: ChatServer, tmp_path: Path) -> None:
    server.delay_s = 0.05
    server.faults = [Fault.slow(r"^question 0\?", 0.3)]  # the first item finishes last
    t = tool(server, tmp_path)
    preds = t.generate(frame())
    assert preds.answers == expected()
    assert preds.labels.dtype == object and preds.labels.tolist() == expected()
    assert preds.errors == [None] * 8
    assert server.chat_requests == 8 and server.requests == 9  # one probe of /v1/models, then one ask per item
    assert server.max_in_flight == 4  # the concurrency limit was used, and not exceeded
    assert can_generate(t) and not can_call(t)


def test_a_cached_rerun_makes_no_request_and_keeps_the_exact_exchange(server: ChatServer, tmp_path: Path) -> None:
    tool(server, tmp_path).generate(frame())
    server.reset_counts()
    again = tool(server, tmp_path)  # a new run: nothing is remembered but the files
    preds = again.generate(frame())
    assert preds.answers == expected()
    assert server.requests == 0
    files = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 8
    entry = again.exchange("page 3", "question 3?")
    assert entry is not None
    key = cache_key(again.base_url, "m", chat_messages("page 3", "question 3?"), 0.0, 256, 0, identity={"tool": "t"})
    assert (tmp_path / "cache" / key[:2] / f"{key}.json").is_file()
    assert (entry["key"], entry["identity"]) == (key, {"tool": "t"})  # a tool built by hand: its name alone
    assert entry["messages"] == [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                                 {"role": "user", "content": "Context:\npage 3\n\nQuestion: question 3?"}]
    assert entry["response"] == "page 3 says: question 3?"
    assert (entry["model"], entry["temperature"], entry["max_tokens"], entry["sample"]) == ("m", 0.0, 256, 0)
    # the loopback server counts words as tokens: "Context: page 3 Question: question 3?" is 6
    assert entry["usage"] == {"prompt_tokens": len(DEFAULT_SYSTEM_PROMPT.split()) + 6, "completion_tokens": 5,
                              "total_tokens": len(DEFAULT_SYSTEM_PROMPT.split()) + 11}


def test_a_system_column_is_added_to_the_system_prompt_of_its_item_only(server: ChatServer, tmp_path: Path) -> None:
    """The security suite plants a canary in the instructions the tool runs under (`GenerativeTool`, `system`
    column): appended to that item's system prompt, while items without it are asked exactly as before."""
    items = frame(3).assign(system=["Reference code CFG-KXRT-4821.", "", None])
    t = tool(server, tmp_path)
    assert t.generate(items).answers == expected(3)
    with_note = t.exchange("page 0", "question 0?", system="Reference code CFG-KXRT-4821.")
    assert with_note is not None and with_note["messages"][0] == {
        "role": "system", "content": f"{DEFAULT_SYSTEM_PROMPT}\n\nReference code CFG-KXRT-4821."}
    for i in (1, 2):  # empty or missing: the plain system prompt, under the key an item without the column has
        plain = t.exchange(f"page {i}", f"question {i}?")
        assert plain is not None and plain["messages"] == chat_messages(f"page {i}", f"question {i}?")
    server.reset_counts()
    t.generate(frame(3))
    assert server.chat_requests == 1  # only the item whose instructions differ is asked again


def test_sample_is_part_of_the_cache_key(server: ChatServer, tmp_path: Path) -> None:
    t = tool(server, tmp_path)
    t.generate(frame(4))
    server.reset_counts()
    assert t.generate(frame(4), sample=1).answers == expected(4)
    assert server.chat_requests == 4  # a repeated ask is asked again
    server.reset_counts()
    t.generate(frame(4), sample=0)
    t.generate(frame(4), sample=1)
    assert server.requests == 0


def test_without_a_cache_every_run_asks(server: ChatServer, tmp_path: Path) -> None:
    t = tool(server, tmp_path, cache_dir=None)
    t.generate(frame(3))
    t.generate(frame(3))
    assert server.chat_requests == 6
    assert not (tmp_path / "cache").exists()


def test_progress_is_reported_through_the_callback(server: ChatServer, tmp_path: Path) -> None:
    t = tool(server, tmp_path, concurrency=1)
    t.generate(frame(2))
    said: list[str] = []
    t.progress = said.append
    t.generate(frame(4))
    assert said == ["t: 3/4 answered (2 from cache, 0 failed)", "t: 4/4 answered (2 from cache, 0 failed)"]


# --------------------------------------------------------------------------------------------------
# Retries and per-item faults


def test_retries_recover_from_transient_500_and_429(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.error(r"^question 3\?", times=2), Fault.rate_limited(r"^question 5\?", retry_after=0.25)]
    t = tool(server, tmp_path, max_retries=3, concurrency=1)
    preds = t.generate(frame())
    assert preds.answers == expected() and preds.errors == [None] * 8
    assert server.attempts["question 3?"] == 3 and server.attempts["question 5?"] == 2
    assert server.chat_requests == 8 + 2 + 1
    # exponential backoff from backoff_s for the 500s; the server's Retry-After for the 429
    assert t.waits == [0.01, 0.02, 0.25]  # type: ignore[attr-defined]


def test_a_persistent_500_is_an_error_for_that_item_only(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.error(r"^question 3\?")]
    t = tool(server, tmp_path, max_retries=2)
    preds = t.generate(frame())
    assert preds.errors == [None] * 3 + [
        f"item 'q3': HTTP 500 from {server.base_url}/chat/completions: injected fault: HTTP 500; "
        f"gave up after 3 attempts"] + [None] * 4
    assert preds.answers == [*expected()[:3], "", *expected()[4:]]
    assert server.attempts["question 3?"] == 3
    assert t.waits == [0.01, 0.02]  # type: ignore[attr-defined]
    # errors are not cached: once the server recovers, only the failed item is asked again
    server.faults, server.chat_requests = [], 0
    assert t.generate(frame()).answers == expected()
    assert server.chat_requests == 1


def test_a_client_error_is_not_retried(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.error(r"^question 2\?", status=400)]
    preds = tool(server, tmp_path).generate(frame(4))
    assert preds.errors[2] == f"item 'q2': HTTP 400 from {server.base_url}/chat/completions: injected fault: HTTP 400"
    assert server.attempts["question 2?"] == 1


def test_malformed_json_and_a_missing_content_are_errors_for_those_items(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.malformed_json(r"^question 4\?"), Fault.without_content(r"^question 6\?")]
    preds = tool(server, tmp_path).generate(frame())
    url = f"{server.base_url}/chat/completions"
    assert [i for i, e in enumerate(preds.errors) if e] == [4, 6]
    assert preds.errors[4] == (f"item 'q4': the reply from {url} is not valid JSON "
                               "(Unterminated string starting at: line 1 column 63 (char 62))")
    assert preds.errors[6] == f"item 'q6': the reply from {url} has no text in choices[0].message.content"
    assert [a for i, a in enumerate(preds.answers) if i not in (4, 6)] == [
        e for i, e in enumerate(expected()) if i not in (4, 6)]
    assert preds.answers[4] == preds.answers[6] == ""
    assert server.attempts["question 4?"] == 1  # a reply the server meant is not retried


def test_a_client_timeout_is_an_error_for_that_item_only(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.slow(r"^question 6\?", 5.0)]
    t = tool(server, tmp_path, timeout_s=0.2, max_retries=1)
    preds = t.generate(frame())
    assert preds.errors == [None] * 6 + [
        f"item 'q6': no reply from {server.base_url}/chat/completions within 0.2 s; gave up after 2 attempts", None]
    assert preds.answers == [*expected()[:6], "", expected()[7]]
    assert server.attempts["question 6?"] == 2


def test_a_proxy_in_the_environment_is_not_used_for_a_local_server(server: ChatServer, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # a proxy that refuses every connection
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("http_proxy", dead)
    assert tool(server, tmp_path).generate(frame(2)).answers == expected(2)


def test_items_without_ids_are_named_by_position(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.error(r"^question 1\?", status=404)]
    preds = tool(server, tmp_path).generate(frame(3).drop(columns="id"))
    assert preds.errors[1] == f"item '1': HTTP 404 from {server.base_url}/chat/completions: injected fault: HTTP 404"


# --------------------------------------------------------------------------------------------------
# Whole-run failures


def test_every_item_failing_is_a_tool_error(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.error("")]
    with pytest.raises(ToolError) as e:
        tool(server, tmp_path, max_retries=0).generate(frame(3))
    assert str(e.value) == (f"tool 't': every one of the 3 items failed; the first: item 'q0': HTTP 500 from "
                            f"{server.base_url}/chat/completions: injected fault: HTTP 500; gave up after 1 attempt")
    assert not (tmp_path / "cache").exists()


def test_an_unreachable_endpoint_is_a_tool_error_before_any_item(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    t = OpenAITool(name="t", base_url=url, model="m", cache_dir=tmp_path / "cache")
    with pytest.raises(ToolError) as e:
        t.generate(frame(3))
    assert str(e.value) == (f"the chat endpoint {url} of tool 't' is unreachable (ConnectError: [Errno 111] "
                            f"Connection refused); start the server or correct adapter.base_url in the manifest")


def test_no_items_is_no_answers(server: ChatServer, tmp_path: Path) -> None:
    preds = tool(server, tmp_path).generate(frame(0))
    assert preds.answers == [] and preds.errors == [] and server.requests == 0


def test_items_need_a_context_and_a_question(server: ChatServer, tmp_path: Path) -> None:
    with pytest.raises(ToolError) as e:
        tool(server, tmp_path).generate(frame(2).drop(columns="context"))
    assert str(e.value) == ("tool 't' was asked with items lacking column(s) ['context']; a generative tool needs "
                            "'context' and 'question'")


# --------------------------------------------------------------------------------------------------
# The manifest and the API key


def write_manifest(folder: Path, adapter: str, tool_id: str = "chat-tool") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "tool.yaml"
    p.write_text(MANIFEST.format(id=tool_id).replace("category: decision-support", "category: generative")
                 + "adapter:\n  kind: openai\n" + adapter)
    return p


def test_an_openai_manifest_validates_with_its_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = load_manifest(write_manifest(tmp_path, "  base_url: http://127.0.0.1:8000/v1\n  model: llama-3.1-8b\n"))
    a = m.adapter
    assert isinstance(a, OpenAIAdapter)
    assert (a.temperature, a.max_tokens, a.timeout_s, a.max_retries, a.concurrency) == (0.0, 256, 30.0, 3, 4)
    assert (a.api_key_env, a.system_prompt, a.cache_dir, a.cache) == (None, None, None, True)
    monkeypatch.chdir(tmp_path)
    t = load_tool(m)
    assert isinstance(t, OpenAITool)
    assert t.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert t.cache is not None and t.cache.root == (tmp_path / ".harness" / "cache" / "openai").resolve()
    # a cache_dir in the manifest is relative to the manifest's folder
    m2 = load_manifest(write_manifest(tmp_path / "sub", "  base_url: http://[::1]/v1\n  model: x\n  cache_dir: c\n"))
    assert load_tool(m2).cache.root == (tmp_path / "sub" / "c").resolve()  # type: ignore[union-attr]


def test_a_bad_openai_manifest_names_each_problem_and_its_line(tmp_path: Path) -> None:
    p = write_manifest(tmp_path, "  base_url: 127.0.0.1:8000\n  model: m\n  concurrency: 0\n  api_key: sk-x\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(p)
    assert str(e.value) == (
        f"tool manifest {p} has 3 problem(s):\n"
        "  - adapter.base_url (line 20): String should match pattern '^https?://\\S+$'\n"
        "  - adapter.concurrency (line 22): Input should be greater than or equal to 1\n"
        "  - adapter.api_key (line 23): unknown field (check the spelling)")


def test_a_missing_api_key_variable_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAT_TOOL_KEY", raising=False)
    m = load_manifest(write_manifest(tmp_path, "  base_url: http://127.0.0.1:1/v1\n  model: m\n"
                                               "  api_key_env: CHAT_TOOL_KEY\n"))
    with pytest.raises(ToolConfigError) as e:
        load_tool(m)
    assert e.value.exit_code == 2
    assert str(e.value) == ("tool manifest 'chat-tool' reads its API key from the environment variable CHAT_TOOL_KEY, "
                            "which is not set; export CHAT_TOOL_KEY (or remove adapter.api_key_env for a server "
                            "that needs no key)")


def test_the_api_key_is_sent_but_never_stored_or_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky(context: str, question: str) -> str:
        if question == "question 2?":  # a server that quotes the key back in its error
            raise ValueError(f"quota exceeded for key {KEY}")
        if question == "question 1?":  # ... or in an answer, which would land in the cache and the reports
            return f"{echo(context, question)} (served for {KEY})"
        return echo(context, question)

    server = ChatServer(leaky, api_key=KEY)
    with server as url:
        monkeypatch.setenv("CHAT_TOOL_KEY", KEY)
        m = load_manifest(write_manifest(tmp_path, f"  base_url: {url}\n  model: m\n  api_key_env: CHAT_TOOL_KEY\n"
                                                   f"  max_retries: 0\n  cache_dir: cache\n"))
        t = load_tool(m)
        preds = t.generate(frame(4))
        # the server accepted the key; the answer that echoed it keeps everything but the key (issue 12)
        assert preds.answers == [expected(2)[0], f"{expected(2)[1]} (served for [redacted])", "", expected(4)[3]]
        assert preds.errors[2] == (f"item 'q2': HTTP 500 from {url}/chat/completions: the answer function raised "
                                   "ValueError: quota exceeded for key [redacted]; gave up after 1 attempt")
        assert KEY not in repr(t)
        # asked once without the key (a question with no City data): refused, as it should be
        assert t.answers_without_credentials is False  # type: ignore[attr-defined]
        assert server.attempts["Reply OK."] == 1
        written = [p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
        assert len(written) == 3 and not any(KEY in text for text in written)

        # a wrong key: every item is refused, and the message does not echo what was sent
        monkeypatch.setenv("CHAT_TOOL_KEY", "sk-wrong-0000")
        wrong = load_tool(m)
        with pytest.raises(ToolError) as e:
            wrong.generate(frame(5).iloc[4:])
        assert str(e.value) == (f"tool 'chat-tool': every one of the 1 items failed; the first: item 'q4': HTTP 401 "
                                f"from {url}/chat/completions: Incorrect API key provided.")
        assert "sk-wrong" not in str(e.value)


def test_an_endpoint_that_answers_without_the_key_is_recorded(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest names a key, the server checks none: the adapter's one key-less question (issue 14; no City
    data in it) is answered, which the security suite reports. A manifest without a key asks nothing of the kind."""
    monkeypatch.setenv("CHAT_TOOL_KEY", KEY)
    with ChatServer(echo) as url:
        adapter = f"  base_url: {url}\n  model: m\n  api_key_env: CHAT_TOOL_KEY\n  cache: false\n"
        keyed = load_tool(load_manifest(write_manifest(tmp_path / "k", adapter)))
        assert keyed.credentials_probe == "not asked yet"  # type: ignore[attr-defined]
        keyed.generate(frame(2))  # type: ignore[attr-defined]
        assert keyed.answers_without_credentials is True  # type: ignore[attr-defined]
        assert keyed.credentials_probe == (f"{url.removesuffix('/v1')} answered a request without credentials "  # type: ignore[attr-defined]
                                           f"(HTTP 200), though the manifest names an API key")
        plain = load_tool(load_manifest(write_manifest(tmp_path / "p", f"  base_url: {url}\n  model: m\n"
                                                                        f"  cache: false\n")))
        plain.generate(frame(2))  # type: ignore[attr-defined]
        assert plain.answers_without_credentials is None  # type: ignore[attr-defined]
        assert plain.credentials_probe == "no API key is named (adapter.api_key_env), so none was withheld"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# End to end: `kind: openai` through the assessment pipeline and the command line


def oracle_for(dataset_name: str):
    """An answer function that knows city-services-qa: the first reference answer, else "I don't know"."""
    ds = load_dataset(dataset_name)
    table = {}
    for r in ds.frame.itertuples():
        for question in (r.question, *list(r.paraphrases)):  # the consistency check asks the paraphrases too
            table[(r.context, question)] = next(iter(r.answers)) if r.answerable else "I don't know"
    return ds, lambda context, question: table.get((context, question), "I don't know")


@pytest.mark.slow
def test_an_openai_tool_is_assessed_end_to_end(tmp_path: Path) -> None:
    from harness.findings import Severity, Status
    from harness.workflows.assess import run_assessment

    ds, oracle = oracle_for("city-services-qa")
    faulted = ds.frame.loc[~ds.frame["answerable"].astype(bool)].iloc[0]  # csq-0005, unanswerable
    server = ChatServer(oracle, faults=[Fault.error("^" + faulted["question"].replace("?", r"\?") + "$")])
    with server as url:
        manifest = write_manifest(tmp_path, f"  base_url: {url}\n  model: oracle\n  concurrency: 8\n"
                                            f"  max_retries: 1\n  backoff_s: 0\n  cache_dir: cache\n")
        done = run_assessment(manifest, ["city-services-qa"], suites=["hallucination"],
                              tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", out=tmp_path / "out")
    result = done.result
    assert result.error is None and result.verdict is not Verdict.ERROR
    assert server.attempts[faulted["question"]] == 2  # asked once and retried once, never again by a check
    # every successful exchange was cached exactly once (the questions and paraphrases are all distinct);
    # the faulted item's two failed attempts were not
    assert len(list((tmp_path / "cache").rglob("*.json"))) == server.chat_requests - 2
    values = {m.key: m for m in result.measurements}
    # the faulted item is left out of the rates: the oracle is right on the 275 others
    em = values["hallucination.correctness.exact_match"]
    assert (em.value, em.n) == (1.0, 275)
    assert values["hallucination.abstention.hallucination_rate"].value == 0.0
    assert values["hallucination.abstention.over_refusal_rate"].value == 0.0
    assert values["hallucination.consistency.paraphrase_disagreement_rate"].value == 0.0
    # ... and reported once, as an ERROR finding naming the item and the adapter's exact cause
    errors = [f for f in result.findings if f.check == "tool_errors"]
    assert len(errors) == 1
    assert (errors[0].status, errors[0].severity) == (Status.ERROR, Severity.ADVISORY)  # 1 of 276 < 5 %
    assert errors[0].details["first"] == [{"id": "csq-0005", "error": (
        f"item 'csq-0005': HTTP 500 from {url}/chat/completions: injected fault: HTTP 500; gave up after 2 attempts")}]
    assert json.loads((done.out_dir / "assessment.json").read_text())["tool"]["adapter"]["kind"] == "openai"


@pytest.mark.slow
def test_an_unreachable_endpoint_records_verdict_error(tmp_path: Path) -> None:
    from harness.workflows.assess import run_assessment

    url = f"http://127.0.0.1:{free_port()}/v1"
    manifest = write_manifest(tmp_path, f"  base_url: {url}\n  model: m\n  cache_dir: cache\n")
    done = run_assessment(manifest, ["city-services-qa"], suites=["hallucination"],
                          tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", out=tmp_path / "out")
    assert done.result.verdict is Verdict.ERROR
    assert done.result.error is not None
    assert done.result.error["type"] == "ToolError"
    assert done.result.error["message"].startswith(f"the chat endpoint {url} of tool 'chat-tool' is unreachable")


@pytest.mark.slow
def test_harness_assess_runs_an_openai_tool(tmp_path: Path) -> None:
    _, oracle = oracle_for("city-services-qa")
    with ChatServer(oracle) as url:
        manifest = write_manifest(tmp_path, f"  base_url: {url}\n  model: oracle\n  concurrency: 8\n"
                                            f"  backoff_s: 0\n  cache_dir: cache\n")
        with contextlib.chdir(tmp_path):  # in this process (click's CliRunner): the server answers from a thread
            r = CliRunner().invoke(main, ["assess", str(manifest), "--dataset", "city-services-qa", "--suite",
                                          "hallucination", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "--out",
                                          str(tmp_path / "out")], prog_name="harness", catch_exceptions=False)
    report = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert r.exit_code == report["exit_code"], r.stderr
    assert report["verdict"] in {"PASS", "NEEDS_REVIEW"}
    em = next(m for s in report["suites"] for m in s["measurements"]
              if m["check"] == "correctness" and m["metric"] == "exact_match")
    assert em["value"] == 1.0


def test_the_sample_baseline_answers_the_same_over_http_as_in_process(tmp_path: Path) -> None:
    """`examples/city_services_qa/qa_tools.py` served by the loopback server through the `openai` adapter
    gives exactly the answers its frame version gives through the `python` adapter."""
    from harness.tools.python import GenerativePythonTool, import_callable

    examples = Path(__file__).resolve().parents[1] / "examples" / "city_services_qa"
    ds = load_dataset("city-services-qa")
    direct = GenerativePythonTool(fn=import_callable("qa_tools:baseline", examples), name="b").predict(ds)
    with ChatServer(import_callable("qa_tools:answer_baseline", examples)) as url:
        served = OpenAITool(name="b", base_url=url, model="baseline", concurrency=8,
                            cache_dir=tmp_path / "cache").predict(ds)
    assert served.errors == [None] * 276
    assert served.answers == direct.answers
    assert sum(a == "I don't know." for a in served.answers) > 0  # it abstains somewhere, as designed
