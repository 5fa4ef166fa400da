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

Run one from a shell for a demo: `python -m harness.testing.chat_server module:function --port 8000`.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.tools.openai import parse_user_message

AnswerFn = Callable[[str, str], str]

MALFORMED_BODY = '{"id": "chatcmpl-broken", "choices": [{"message": {"content": "half an ans'
"""What a `Fault.malformed_json` reply sends: a JSON document cut off mid-string (HTTP 200)."""


@dataclass(frozen=True)
class Fault:
    """One misbehaviour for the requests whose question matches `match` (regex, searched; "" = all).

    `times` limits it to the first N requests for each matching question (then the server recovers,
    which is how retries are tested); None means every time. A fault may delay (`delay_s`) and/or
    replace the reply: an HTTP `status` (with `retry_after` seconds for 429s), a `malformed` JSON body,
    or a reply whose message has `no_content`."""

    match: str = ""
    status: int | None = None
    times: int | None = None
    delay_s: float = 0.0
    retry_after: float | None = None
    malformed: bool = False
    no_content: bool = False

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

    def applies(self, question: str, attempt: int) -> bool:
        return (self.times is None or attempt <= self.times) and re.search(self.match, question) is not None

    @property
    def replaces_reply(self) -> bool:
        return self.status is not None or self.malformed or self.no_content


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
              headers: dict[str, str] | None = None) -> None:
        body = (raw if raw is not None else json.dumps(payload)).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout) and closed the socket
            self.close_connection = True

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
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": chat.model, "object": "model", "created": 0,
                                                         "owned_by": "harness.testing"}]})
        else:
            self._send(404, _error(f"no route {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        chat = self.server.chat
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
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
        if reply is not None and reply.status is not None:
            headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else None
            kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            self._send(reply.status, _error(f"injected fault: HTTP {reply.status}", kind), headers=headers)
            return
        if reply is not None and reply.malformed:
            self._send(200, raw=MALFORMED_BODY)
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
        })


def _error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class ChatServer:
    """A chat-completions server on 127.0.0.1 (a free port) in a background thread.

    `with ChatServer(answer) as base_url:` starts it and gives `http://127.0.0.1:<port>/v1`; the counters
    (`requests` of any kind, `chat_requests`, `attempts[question]`) tell a test what the client did.
    `faults` and `delay_s` may be changed between runs."""

    def __init__(self, answer: AnswerFn, *, delay_s: float = 0.0, faults: Iterable[Fault] = (),
                 api_key: str | None = None, model: str = "loopback-chat", port: int = 0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.faults: list[Fault] = list(faults)
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
