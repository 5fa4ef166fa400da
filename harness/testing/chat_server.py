"""A real chat-completions server on loopback, for testing generative adapters and checks end to end.

It speaks the OpenAI protocol (`POST /v1/chat/completions`, `GET /v1/models`) over real sockets, so
the `openai` adapter is tested through the same HTTP stack it uses against a vendor, and it answers by
calling a plain Python function `answer(context, question) -> str`: the question and context are parsed
back from the prompt with the adapter's own `parse_user_message`, so the two cannot drift apart.

Faults are injected per question (a regex searched in the question) so a test can say exactly which
items misbehave and assert that only those items carry an error:

    server = ChatServer(answer, faults=[Fault.error("permit", times=2), Fault.slow("bus", 1.0)])
    with server as base_url:        # http://127.0.0.1:<port>/v1
        ...
    server.chat_requests            # how many completions were asked for (a cached re-run asks none)

Hostile endpoints (issue 12, hardening) are faults too: `Fault.trickle` sends the whole reply, status line
and headers included, at a few bytes a second (no single read ever times out); `Fault.huge` sends a body of
any size without holding it in memory (declared in Content-Length, or chunked with no length, or as a gzip
bomb); `Fault.rate_limited(..., retry_after=3600)` asks for an hour's pause. `models_faults` apply the same
to `GET /v1/models`, which the adapter asks before a run and `endpoint_facts` asks when recording evidence.

Run one from a shell for a demo: `python -m harness.testing.chat_server module:function --port 8000`.
"""
from __future__ import annotations

import json
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from harness.tools.openai import parse_user_message

AnswerFn = Callable[[str, str], str]

MALFORMED_BODY = '{"id": "chatcmpl-broken", "choices": [{"message": {"content": "half an ans'
"""What a `Fault.malformed_json` reply sends: a JSON document cut off mid-string (HTTP 200)."""

_HUGE_HEAD = b'{"id":"chatcmpl-huge","object":"chat.completion","model":"loopback-chat","choices":[{"index":0,' \
             b'"message":{"role":"assistant","content":"'
_HUGE_TAIL = b'"},"finish_reason":"stop"}]}'
HUGE_FRAME = len(_HUGE_HEAD) + len(_HUGE_TAIL)
_FILL = b"a" * 65536  # one constant block, sent again and again: a huge reply costs the server no memory


def huge_body(size: int) -> Iterator[bytes | memoryview]:
    """A chat reply of exactly `size` bytes (at least its JSON frame, `HUGE_FRAME` bytes), content "aaa...":
    valid JSON, so a reply just under a client's limit is an ordinary answer. Yielded in 64 KiB pieces."""
    fill = size - HUGE_FRAME
    if fill < 0:
        raise ValueError(f"a huge reply is at least {HUGE_FRAME} bytes")
    yield _HUGE_HEAD
    view = memoryview(_FILL)
    while fill > 0:
        n = min(fill, len(_FILL))
        yield view[:n]
        fill -= n
    yield _HUGE_TAIL


@lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """`huge_body(size)` gzip-compressed (about a thousandth of its size): what `Fault.huge(gzip=True)` sends."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join([*(z.compress(piece) for piece in huge_body(size)), z.flush()])


@dataclass(frozen=True)
class Fault:
    """One misbehaviour for the requests whose question matches `match` (regex, searched; "" = all).

    `times` limits it to the first N requests for each matching question (then the server recovers,
    which is how retries are tested); None means every time. A fault may delay (`delay_s`) and/or
    replace the reply: an HTTP `status` (with `retry_after` seconds for 429s), a `malformed` JSON body,
    a reply whose message has `no_content`, or a `huge_bytes` body (`declared` in Content-Length or sent
    chunked, `gzip`-compressed or not). `trickle_bps` sends the reply at that many bytes a second, from its
    first byte (`trickle_headers`) or from the body's."""

    match: str = ""
    status: int | None = None
    times: int | None = None
    delay_s: float = 0.0
    retry_after: float | None = None
    malformed: bool = False
    no_content: bool = False
    trickle_bps: float | None = None
    trickle_headers: bool = True
    huge_bytes: int | None = None
    declared: bool = True
    gzip: bool = False

    @classmethod
    def error(cls, match: str, status: int = 500, times: int | None = None) -> Fault:
        return cls(match=match, status=status, times=times)

    @classmethod
    def rate_limited(cls, match: str, retry_after: float = 0.05, times: int | None = 1) -> Fault:
        return cls(match=match, status=429, times=times, retry_after=retry_after)

    @classmethod
    def slow(cls, match: str, delay_s: float, times: int | None = None) -> Fault:
        return cls(match=match, delay_s=delay_s, times=times)

    @classmethod
    def malformed_json(cls, match: str, times: int | None = None) -> Fault:
        return cls(match=match, malformed=True, times=times)

    @classmethod
    def without_content(cls, match: str, times: int | None = None) -> Fault:
        return cls(match=match, no_content=True, times=times)

    @classmethod
    def trickle(cls, match: str, bytes_per_s: float, *, headers: bool = True, times: int | None = None) -> Fault:
        """The ordinary reply, sent at `bytes_per_s`: every read gets a byte or two, so a per-read timeout never
        fires; with `headers` the status line and headers trickle too (the client is still waiting for them)."""
        if bytes_per_s <= 0:
            raise ValueError("bytes_per_s must be positive")
        return cls(match=match, trickle_bps=bytes_per_s, trickle_headers=headers, times=times)

    @classmethod
    def huge(cls, match: str, size: int, *, declared: bool = True, gzip: bool = False, status: int | None = None,
             times: int | None = None) -> Fault:
        """An HTTP 200 (or `status`) whose body is `size` bytes of valid chat JSON (`huge_body`): with `declared`,
        its length is in Content-Length; without, it is sent chunked, so only counting while reading finds it
        out. With `gzip` the body is compressed (Content-Encoding: gzip, whatever the client asked for): about a
        thousandth of `size` on the wire, which a decoding client inflates to `size`."""
        huge_body(size)  # the size check, now rather than in the server thread
        return cls(match=match, huge_bytes=size, declared=declared, gzip=gzip, status=status, times=times)

    def applies(self, question: str, attempt: int) -> bool:
        return (self.times is None or attempt <= self.times) and re.search(self.match, question) is not None

    @property
    def replaces_reply(self) -> bool:
        return self.status is not None or self.malformed or self.no_content or self.huge_bytes is not None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    chat: ChatServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the adapter reuses connections, as against a real service
    disable_nagle_algorithm = True  # headers and body go out as separate writes: without this, each reply on a
    # kept-alive connection waits ~40 ms for the client's delayed ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any = None, *, raw: str | None = None,
              headers: dict[str, str] | None = None, trickle: Fault | None = None) -> None:
        body = (raw if raw is not None else json.dumps(payload)).encode("utf-8")
        try:
            if trickle is not None and trickle.trickle_bps is not None:
                head = self._head(status, {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                           **(headers or {})})
                if trickle.trickle_headers:
                    self._trickle(head + body, trickle.trickle_bps)
                else:
                    self.wfile.write(head)
                    self._trickle(body, trickle.trickle_bps)
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout) and closed the socket
            self.close_connection = True

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        """The status line and headers as bytes, for a reply sent by hand (trickled or huge)."""
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _trickle(self, data: bytes, bytes_per_s: float) -> None:
        """`data` at `bytes_per_s`, in pieces at most 50 ms apart; stops when the server stops. A reply cut
        short leaves the connection unusable, so it is closed."""
        stopping = self.server.chat._stopping
        step = max(1, int(bytes_per_s * 0.05))
        for start in range(0, len(data), step):
            self.wfile.write(data[start:start + step])
            self.wfile.flush()
            if start + step < len(data) and stopping.wait(step / bytes_per_s):
                self.close_connection = True
                return

    def _send_huge(self, fault: Fault) -> None:
        """`fault.huge_bytes` of chat JSON, streamed from one constant block (or the cached gzip bomb)."""
        size = fault.huge_bytes or 0
        headers = {"Content-Type": "application/json"}
        pieces: Iterable[bytes | memoryview]
        if fault.gzip:
            bomb = gzip_bomb(size)
            headers["Content-Encoding"] = "gzip"
            headers["Content-Length"] = str(len(bomb))
            pieces = [bomb]
        elif fault.declared:
            headers["Content-Length"] = str(size)
            pieces = huge_body(size)
        else:
            headers["Transfer-Encoding"] = "chunked"
            pieces = huge_body(size)
        try:
            self.wfile.write(self._head(fault.status or 200, headers))
            for piece in pieces:
                if headers.get("Transfer-Encoding") == "chunked":
                    self.wfile.write(f"{len(piece):x}\r\n".encode())
                    self.wfile.write(piece)
                    self.wfile.write(b"\r\n")
                else:
                    self.wfile.write(piece)
                if self.server.chat._stopping.is_set():
                    self.close_connection = True
                    return
            if headers.get("Transfer-Encoding") == "chunked":
                self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client stopped reading at its limit and hung up: the point of the fault
            self.close_connection = True

    def _route(self) -> str:
        """The path asked for. A client sending through an HTTP proxy names the whole URL ("POST
        http://vendor.example/v1/chat/completions"): the server then acts as that proxy and the endpoint at once,
        so a test can take the adapter's proxy route."""
        return urlsplit(self.path).path.rstrip("/") if "://" in self.path else self.path.rstrip("/")

    def _authorised(self) -> bool:
        key = self.server.chat.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._send(401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
        return False

    def do_GET(self) -> None:
        chat = self.server.chat
        chat._count(None)
        if not self._authorised():
            return
        if self._route() == "/v1/models":
            fault = next(iter(chat.models_faults), None)
            if fault is not None and fault.huge_bytes is not None:
                self._send_huge(fault)
                return
            self._send(200, {"object": "list", "data": [{"id": chat.model, "object": "model", "created": 0,
                                                         "owned_by": "harness.testing"}]}, trickle=fault)
        else:
            self._send(404, _error(f"no route {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        chat = self.server.chat
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self._route() != "/v1/chat/completions":
            chat._count(None)
            self._send(404, _error(f"no route {self.path}", "invalid_request_error"))
            return
        try:
            request = json.loads(raw)
            messages = request["messages"]
            user = next(m["content"] for m in reversed(messages) if m.get("role") == "user")
            context, question = parse_user_message(user)
        except (ValueError, KeyError, TypeError, StopIteration) as e:
            chat._count("")
            self._send(400, _error(f"bad request: {e}", "invalid_request_error"))
            return
        attempt = chat._count(question)
        if not self._authorised():
            return
        with chat._in_flight():
            self._complete(chat, request, messages, context, question, attempt)

    def _complete(self, chat: ChatServer, request: dict[str, Any], messages: list[dict[str, Any]], context: str,
                  question: str, attempt: int) -> None:
        faults = [f for f in chat.faults if f.applies(question, attempt)]
        delay = chat.delay_s + sum(f.delay_s for f in faults)
        if delay > 0 and chat._stopping.wait(delay):
            return
        reply = next((f for f in faults if f.replaces_reply), None)
        trickle = next((f for f in faults if f.trickle_bps is not None), None)
        if reply is not None and reply.huge_bytes is not None:
            self._send_huge(reply)
            return
        if reply is not None and reply.status is not None:
            headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else None
            kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            self._send(reply.status, _error(f"injected fault: HTTP {reply.status}", kind), headers=headers,
                       trickle=trickle)
            return
        if reply is not None and reply.malformed:
            self._send(200, raw=MALFORMED_BODY, trickle=trickle)
            return
        try:
            text = chat.answer(context, question)
        except Exception as e:  # the answer function's bug is the tool's failure: a 500, as a server would
            self._send(500, _error(f"the answer function raised {type(e).__name__}: {e}", "server_error"))
            return
        message: dict[str, Any] = {"role": "assistant", "content": None if reply is not None else str(text)}
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(str(text).split())
        self._send(200, {
            "id": f"chatcmpl-loopback-{attempt}", "object": "chat.completion", "created": int(time.time()),
            "model": request.get("model", chat.model),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }, trickle=trickle)


def _error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class ChatServer:
    """A chat-completions server on 127.0.0.1 (a free port) in a background thread.

    `with ChatServer(answer) as base_url:` starts it and gives `http://127.0.0.1:<port>/v1`; the counters
    (`requests` of any kind, `chat_requests`, `attempts[question]`) tell a test what the client did.
    `faults` and `delay_s` may be changed between runs. `models_faults` misbehave on `GET /v1/models`
    (the first one applies, every time; only `trickle` and `huge` faults mean anything there)."""

    def __init__(self, answer: AnswerFn, *, delay_s: float = 0.0, faults: Iterable[Fault] = (),
                 models_faults: Iterable[Fault] = (), api_key: str | None = None, model: str = "loopback-chat",
                 port: int = 0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.faults: list[Fault] = list(faults)
        self.models_faults: list[Fault] = list(models_faults)
        self.api_key = api_key
        self.model = model
        self.port = port
        self.requests = 0
        self.chat_requests = 0
        self.attempts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0  # the most completions being worked on at once: the client's real concurrency
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the chat server is not running; start() it or use it in a `with` block")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> str:
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", self.port), _Handler)
        self._httpd.chat = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="harness-chat-server", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # cut injected delays short
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def reset_counts(self) -> None:
        with self._lock:
            self.requests, self.chat_requests, self.max_in_flight = 0, 0, 0
            self.attempts.clear()

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def _count(self, question: str | None) -> int:
        """Count a request; for a completion, return how many times this question has now been asked."""
        with self._lock:
            self.requests += 1
            if question is None:
                return 0
            self.chat_requests += 1
            self.attempts[question] += 1
            return self.attempts[question]

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Serve `module:function` (an `answer(context, question) -> str`) until interrupted."""
    import argparse

    from harness.tools.python import import_callable

    parser = argparse.ArgumentParser(prog="python -m harness.testing.chat_server", description=main.__doc__)
    parser.add_argument("answer", help="module:function answering (context, question) with text")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every reply")
    args = parser.parse_args(argv)
    server = ChatServer(import_callable(args.answer), delay_s=args.delay, port=args.port)
    print(f"serving {args.answer} at {server.start()} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
