"""Issue 12, hardening: a hostile chat endpoint cannot hang an assessment or fill the harness's memory.

Each attack runs against the real loopback server (`harness.testing.ChatServer`) over real sockets:
- a reply trickled at a few bytes a second (body only, or from the status line on) is cut at `timeout_s`,
  which bounds the whole request, not each read;
- a 200 MB reply (declared, chunked, or a gzip bomb) becomes that item's error at `max_response_bytes`,
  with the harness's memory near the limit, not the body;
- `Retry-After: 3600` is not waited for (the item is treated as down) and no wait exceeds 60 s;
- the run has a deadline (`run_deadline_s`): items not asked by then say so, answered ones keep their answers;
- `GET /models` (the probe before a run, `endpoint_facts` for the evidence) is bounded the same way.
Every test keeps its limits small, so each takes a few seconds at most."""
from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError, ToolError
from harness.manifest import load_manifest
from harness.testing import ChatServer, Fault
from harness.testing.chat_server import HUGE_FRAME, huge_body
from harness.tools import load_tool
from harness.tools.configs import OpenAIAdapter
from harness.tools.openai import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RUN_DEADLINE_S, OpenAITool, reported_models
from harness.tools.transport import MAX_RETRY_AFTER_S
from tests.conftest import MANIFEST
from tests.test_openai_adapter import echo, expected, frame
from tests.test_openai_adapter import tool as adapter_tool

MB = 1_000_000


@pytest.fixture
def server() -> Iterator[ChatServer]:
    s = ChatServer(echo)
    s.start()
    yield s
    s.stop()


def tool(server: ChatServer, tmp_path: Path, **kw) -> OpenAITool:
    """The adapter tests' tool (waits recorded, not slept), without retries unless a test asks for them."""
    return adapter_tool(server, tmp_path, **{"max_retries": 0, **kw})


def chat_url(server: ChatServer) -> str:
    return f"{server.base_url}/chat/completions"


# --------------------------------------------------------------------------------------------------
# The size of a reply


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_a_200_mb_reply_is_that_items_error_and_never_held_whole(server: ChatServer, tmp_path: Path,
                                                                  declared: bool) -> None:
    """Before: the adapter read the whole body (and decoded it to text, then JSON): 200 MB replies took 6.7 GB.
    After: reading stops past 1 MiB, chunked or not; a Content-Length over it is refused before the body."""
    server.faults = [Fault.huge(r"^question 2\?", 200 * MB, declared=declared)]
    t = tool(server, tmp_path)
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        preds = t.generate(frame(4))
        took = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert preds.errors == [None, None, f"item 'q2': the reply from {chat_url(server)} was larger than 1,048,576 "
                                        f"bytes (adapter.max_response_bytes)", None]
    assert preds.answers == [*expected(2), "", expected(4)[3]]
    assert server.attempts["question 2?"] == 1  # a reply the server meant: not asked again
    assert peak < 4 * DEFAULT_MAX_RESPONSE_BYTES, f"peak {peak:,} bytes"  # the limit and a read, not 200 MB
    assert took < 5.0
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 3  # the answers, not the error


def test_the_limit_is_exact_a_reply_of_that_many_bytes_is_an_answer(server: ChatServer, tmp_path: Path) -> None:
    limit = 4096
    server.faults = [Fault.huge(r"^question 0\?", limit, declared=False),
                     Fault.huge(r"^question 1\?", limit + 1, declared=False),
                     Fault.huge(r"^question 2\?", limit + 1, declared=True)]
    preds = tool(server, tmp_path, max_response_bytes=limit).generate(frame(3))
    assert len(b"".join(huge_body(limit))) == limit
    assert preds.answers[0] == "a" * (limit - HUGE_FRAME)
    too_big = f"the reply from {chat_url(server)} was larger than 4,096 bytes (adapter.max_response_bytes)"
    assert preds.errors == [None, f"item 'q1': {too_big}", f"item 'q2': {too_big}"]


def test_a_gzip_bomb_is_not_inflated(server: ChatServer, tmp_path: Path) -> None:
    """64 MB of reply in about 64 KB of gzip: a client that decodes what it is sent holds 64 MB. The adapter
    asks for an uncompressed reply and does not decode one it did not ask for."""
    server.faults = [Fault.huge(r"^question 1\?", 64 * MB, gzip=True)]
    tracemalloc.start()
    try:
        preds = tool(server, tmp_path).generate(frame(3))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert preds.errors == [None, f"item 'q1': the reply from {chat_url(server)} is compressed (Content-Encoding: "
                                  f"gzip) though the harness asked for none (Accept-Encoding: identity); it is not "
                                  f"decoded", None]
    assert peak < 4 * DEFAULT_MAX_RESPONSE_BYTES, f"peak {peak:,} bytes"


def test_an_error_reply_is_read_up_to_the_limit_too(server: ChatServer, tmp_path: Path) -> None:
    """A 500 whose body is huge is still a 500 (retried as one), its text never read past the limit."""
    server.faults = [Fault.huge(r"^question 0\?", 200 * MB, declared=False, status=500)]
    tracemalloc.start()
    try:
        preds = tool(server, tmp_path, max_retries=1).generate(frame(2))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert preds.errors == [f"item 'q0': HTTP 500 from {chat_url(server)}: its body was larger than 1,048,576 "
                            f"bytes; gave up after 2 attempts", None]
    assert server.attempts["question 0?"] == 2
    assert peak < 4 * DEFAULT_MAX_RESPONSE_BYTES, f"peak {peak:,} bytes"


# --------------------------------------------------------------------------------------------------
# Time: a trickle, and the run's deadline


@pytest.mark.parametrize("headers", [False, True], ids=["body", "headers-and-body"])
def test_a_trickled_reply_is_cut_at_timeout_s(server: ChatServer, tmp_path: Path, headers: bool) -> None:
    """Before: httpx's timeout bounds each read, and a byte every 0.1 s never lets one reach 0.5 s: the item took
    the ~35 s the trickle lasts (1 byte/s: hours). After: timeout_s bounds the whole request."""
    server.faults = [Fault.trickle(r"^question 1\?", 10, headers=headers)]
    t = tool(server, tmp_path, timeout_s=0.5, max_retries=1)
    t0 = time.perf_counter()
    preds = t.generate(frame(3))
    took = time.perf_counter() - t0
    assert preds.errors == [None, f"item 'q1': no reply from {chat_url(server)} within 0.5 s; gave up after "
                                  f"2 attempts", None]
    assert preds.answers == [expected(3)[0], "", expected(3)[2]]
    assert server.attempts["question 1?"] == 2
    assert took < 2.0  # two attempts of 0.5 s and a 0.01 s wait


def test_the_deadline_holds_through_a_proxy_from_the_environment(server: ChatServer, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A hosted endpoint is reached through HTTP_PROXY when one is set: httpx gives the proxy a transport of its
    own, which must be bounded too. The loopback server acts as the proxy and the vendor at once."""
    proxy = server.base_url.removesuffix("/v1")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    server.faults = [Fault.trickle(r"^question 1\?", 10)]
    vendor = "http://chat.vendor.invalid/v1"
    t = tool(server, tmp_path, base_url=vendor, timeout_s=0.5)
    t0 = time.perf_counter()
    preds = t.generate(frame(2))
    assert time.perf_counter() - t0 < 1.5
    assert preds.errors == [None, f"item 'q1': no reply from {vendor}/chat/completions within 0.5 s; gave up "
                                  f"after 1 attempt"]
    assert preds.answers[0] == expected(1)[0] and server.attempts["question 0?"] == 1  # it went by the proxy


def test_the_run_deadline_stops_asking_and_keeps_what_was_answered(server: ChatServer, tmp_path: Path) -> None:
    """Every answer after q0 trickles and timeout_s is generous (30 s): only the run's deadline ends it. q1 and
    q2 are cut mid-reply; q3 and q4 are never asked."""
    server.faults = [Fault.trickle(r"^question [1-9]", 10)]
    t = tool(server, tmp_path, concurrency=2, timeout_s=30.0, run_deadline_s=1.0)
    t0 = time.perf_counter()
    preds = t.generate(frame(5))
    took = time.perf_counter() - t0
    cut = f"no reply from {chat_url(server)} before the run's deadline of 1 s passed (1 attempt)"
    not_asked = "not asked: the run's deadline of 1 s passed (adapter.run_deadline_s)"
    assert preds.errors == [None, f"item 'q1': {cut}", f"item 'q2': {cut}", f"item 'q3': {not_asked}",
                            f"item 'q4': {not_asked}"]
    assert preds.answers == [expected(1)[0], "", "", "", ""]
    assert (server.attempts["question 3?"], server.attempts["question 4?"]) == (0, 0)
    assert took < 2.0

    # the deadline is the run's, not one call's: the checks' later questions are not asked either, but what
    # was answered is still answered (from the cache) ...
    server.reset_counts()
    again = t.generate(frame(3))
    assert again.answers[0] == expected(1)[0] and again.errors[1:] == [f"item 'q1': {not_asked}",
                                                                       f"item 'q2': {not_asked}"]
    assert server.requests == 0
    # ... and a call with nothing answerable is the whole call's failure, at once
    with pytest.raises(ToolError) as e:
        t.generate(frame(5).iloc[3:])
    assert str(e.value) == f"tool 't': every one of the 2 items failed; the first: item 'q3': {not_asked}"
    assert server.requests == 0
    # a new run has a clock of its own, and the cache keeps q0
    server.faults = []
    fresh = tool(server, tmp_path, run_deadline_s=1.0).generate(frame(5))
    assert fresh.answers == expected(5) and server.chat_requests == 4


def test_a_retry_that_would_end_after_the_deadline_is_not_waited_for(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.error(r"^question 0\?")]
    t = tool(server, tmp_path, max_retries=3, backoff_s=5.0, run_deadline_s=1.0)
    preds = t.generate(frame(2))
    assert preds.errors[0] == (f"item 'q0': HTTP 500 from {chat_url(server)}: injected fault: HTTP 500; gave up "
                               f"after 1 attempt: the run's deadline of 1 s would pass before the next")
    assert t.waits == []  # type: ignore[attr-defined]
    assert server.attempts["question 0?"] == 1


# --------------------------------------------------------------------------------------------------
# Retry-After and the waits between attempts


def test_retry_after_3600_is_not_waited_for(server: ChatServer, tmp_path: Path) -> None:
    """Before: the hour was cut to 60 s and waited, max_retries times, for every item (hours for a run). After:
    a server asking for more than MAX_RETRY_AFTER_S is down for that item, at once."""
    server.faults = [Fault.rate_limited(r"^question 1\?", retry_after=3600, times=None)]
    t = tool(server, tmp_path, max_retries=3)
    preds = t.generate(frame(3))
    assert preds.errors == [None, f"item 'q1': HTTP 429 from {chat_url(server)}: injected fault: HTTP 429; the "
                                  f"server asked to wait 3600 s, more than the 60 s the harness waits (gave up "
                                  f"after 1 attempt)", None]
    assert t.waits == []  # type: ignore[attr-defined]
    assert server.attempts["question 1?"] == 1
    assert MAX_RETRY_AFTER_S == 60.0


def test_retry_after_up_to_the_cap_is_honoured(server: ChatServer, tmp_path: Path) -> None:
    server.faults = [Fault.rate_limited(r"^question 0\?", retry_after=60, times=1)]
    t = tool(server, tmp_path, max_retries=1)
    assert t.generate(frame(1)).answers == expected(1)
    assert t.waits == [60.0]  # type: ignore[attr-defined]


def test_no_wait_between_attempts_exceeds_the_cap(server: ChatServer, tmp_path: Path) -> None:
    """Before: backoff_s 60 doubling over 10 retries was 17 hours for one item. After: each wait is at most
    60 s, so an item waits at most max_retries (<= 10) x 60 s in all."""
    server.faults = [Fault.error(r"^question 0\?")]
    t = tool(server, tmp_path, max_retries=10, backoff_s=60.0)
    preds = t.generate(frame(2))
    assert preds.errors[0] == (f"item 'q0': HTTP 500 from {chat_url(server)}: injected fault: HTTP 500; gave up "
                               f"after 11 attempts")
    assert t.waits == [60.0] * 10  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# GET /models: the probe before a run and the endpoint facts


def test_a_trickled_model_list_delays_neither_the_probe_nor_the_facts(tmp_path: Path) -> None:
    server = ChatServer(echo, models_faults=[Fault.trickle("", 10)])
    with server as url:
        t0 = time.perf_counter()
        assert reported_models(url, timeout_s=0.5) == f"unreachable: no reply from {url}/models within 0.5 s"
        preds = tool(server, tmp_path, timeout_s=0.5).generate(frame(2))
        took = time.perf_counter() - t0
    assert preds.answers == expected(2)
    assert took < 2.0  # two model-list asks cut at 0.5 s each, then two quick answers


def test_a_huge_model_list_is_not_read_past_the_limit(tmp_path: Path) -> None:
    server = ChatServer(echo, models_faults=[Fault.huge("", 200 * MB, declared=False)])
    with server as url:
        tracemalloc.start()
        try:
            facts = reported_models(url, max_response_bytes=4096)
            preds = tool(server, tmp_path).generate(frame(2))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert facts == f"not reported: the reply from {url}/models was larger than 4,096 bytes"
    assert preds.answers == expected(2)
    assert peak < 4 * DEFAULT_MAX_RESPONSE_BYTES, f"peak {peak:,} bytes"


# --------------------------------------------------------------------------------------------------
# The manifest


def write_manifest(folder: Path, adapter: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "tool.yaml"
    p.write_text(MANIFEST.format(id="chat-tool").replace("category: decision-support", "category: generative")
                 + "adapter:\n  kind: openai\n  base_url: http://127.0.0.1:8000/v1\n  model: m\n" + adapter)
    return p


def test_the_manifest_sets_the_limits_within_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a = load_manifest(write_manifest(tmp_path / "a", "")).adapter
    assert isinstance(a, OpenAIAdapter)
    assert (a.max_response_bytes, a.run_deadline_s) == (DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RUN_DEADLINE_S)
    assert (DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RUN_DEADLINE_S) == (1_048_576, 3600.0)
    m = load_manifest(write_manifest(tmp_path / "b", "  max_response_bytes: 65536\n  run_deadline_s: 600\n"))
    t = load_tool(m)
    assert isinstance(t, OpenAITool)
    assert (t.max_response_bytes, t.run_deadline_s) == (65536, 600.0)

    p = write_manifest(tmp_path / "c", "  max_response_bytes: 100\n  run_deadline_s: 0\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(p)
    assert str(e.value) == (
        f"tool manifest {p} has 2 problem(s):\n"
        "  - adapter.max_response_bytes (line 22): Input should be greater than or equal to 1024\n"
        "  - adapter.run_deadline_s (line 23): Input should be greater than 0")
    p = write_manifest(tmp_path / "d", "  max_response_bytes: 1000000000\n  run_deadline_s: 1000000\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(p)
    assert str(e.value) == (
        f"tool manifest {p} has 2 problem(s):\n"
        "  - adapter.max_response_bytes (line 22): Input should be less than or equal to 16777216\n"
        "  - adapter.run_deadline_s (line 23): Input should be less than or equal to 86400")
