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

The server scaffolding, the faults and the key check are `harness.testing.loopback`'s, shared with the scoring
server (`harness.testing.scoring_server`); `Fault`, `huge_body`, `HUGE_FRAME`, `gzip_bomb` and `MALFORMED_BODY`
are re-exported here.

Run one from a shell for a demo: `python -m harness.testing.chat_server module:function --port 8000`.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.testing.loopback import (
    HUGE_FRAME,
    MALFORMED_BODY,
    Fault,
    LoopbackHandler,
    LoopbackServer,
    error_body,
    gzip_bomb,
    huge_body,
)
from harness.tools.openai import parse_user_message

AnswerFn = Callable[[str, str], str]


class _Handler(LoopbackHandler):
    """The chat-completions routes; sending, faults and the key check are `LoopbackHandler`'s."""

    server: Any  # a LoopbackHTTPServer whose owner is a ChatServer

    def do_GET(self) -> None:
        chat: ChatServer = self.server.owner
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
            self._send(404, error_body(f"no route {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        chat: ChatServer = self.server.owner
        raw = self._read_body()
        if self._route() != "/v1/chat/completions":
            chat._count(None)
            self._send(404, error_body(f"no route {self.path}", "invalid_request_error"))
            return
        try:
            request = json.loads(raw)
            messages = request["messages"]
            user = next(m["content"] for m in reversed(messages) if m.get("role") == "user")
            context, question = parse_user_message(user)
        except (ValueError, KeyError, TypeError, StopIteration) as e:
            chat._count("")
            self._send(400, error_body(f"bad request: {e}", "invalid_request_error"))
            return
        attempt = chat._count(question)
        if not self._authorised():
            return
        with chat._in_flight():
            self._complete(chat, request, messages, context, question, attempt)

    def _complete(self, chat: ChatServer, request: dict[str, Any], messages: list[dict[str, Any]], context: str,
                  question: str, attempt: int) -> None:
        faults = [f for f in chat.faults if f.applies(question, attempt)]
        if chat._wait(chat.delay_s + sum(f.delay_s for f in faults)):
            return
        reply = next((f for f in faults if f.replaces_reply), None)
        trickle = next((f for f in faults if f.trickle_bps is not None), None)
        if reply is not None and self._send_fault(reply, trickle):
            return
        try:
            text = chat.answer(context, question)
        except Exception as e:  # the answer function's bug is the tool's failure: a 500, as a server would
            self._send(500, error_body(f"the answer function raised {type(e).__name__}: {e}", "server_error"))
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


class ChatServer(LoopbackServer):
    """A chat-completions server on 127.0.0.1 (a free port) in a background thread.

    `with ChatServer(answer) as base_url:` starts it and gives `http://127.0.0.1:<port>/v1`; the counters
    (`requests` of any kind, `chat_requests`, `attempts[question]`) tell a test what the client did.
    `faults` and `delay_s` may be changed between runs. `models_faults` misbehave on `GET /v1/models`
    (the first one applies, every time; only `trickle` and `huge` faults mean anything there)."""

    handler = _Handler
    thread_name = "harness-chat-server"

    def __init__(self, answer: AnswerFn, *, delay_s: float = 0.0, faults: Iterable[Fault] = (),
                 models_faults: Iterable[Fault] = (), api_key: str | None = None, model: str = "loopback-chat",
                 port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        super().__init__(faults=faults, delay_s=delay_s, api_key=api_key, port=port, tls=tls)
        self.answer = answer
        self.models_faults: list[Fault] = list(models_faults)
        self.model = model

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def chat_requests(self) -> int:
        """How many completions were asked for (a cached re-run asks none); a test may set it (to 0)."""
        return self.calls

    @chat_requests.setter
    def chat_requests(self, value: int) -> None:
        self.calls = value


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


__all__ = ["HUGE_FRAME", "MALFORMED_BODY", "AnswerFn", "ChatServer", "Fault", "gzip_bomb", "huge_body", "main"]

if __name__ == "__main__":
    main()
