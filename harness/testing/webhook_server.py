"""A real webhook receiver on loopback, for testing `settings.notify` webhooks (issue 15, section 4) over real
sockets: it keeps every JSON document POSTed to it with the request's headers, answers 200, and takes the same
faults as the other loopback servers (`harness.testing.loopback.Fault`, matched against the request path: a 500, a
429 with Retry-After, a redirect, a delay), and an optional API key (`Authorization: Bearer <key>`).

    server = WebhookServer(api_key="s3cret", faults=[Fault.error("", times=1)])
    with server as base_url:          # http://127.0.0.1:<port>
        url = server.url              # http://127.0.0.1:<port>/hook
    server.received                   # [Received(path, headers, body), ...] of the requests answered 200
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.testing.loopback import Fault, LoopbackHandler, LoopbackServer, error_body


@dataclass(frozen=True)
class Received:
    """One request the server accepted: its path, its headers (names lower-case) and its JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


class _Handler(LoopbackHandler):
    server: Any  # a LoopbackHTTPServer whose owner is a WebhookServer

    def do_GET(self) -> None:
        self.server.owner._count(None)
        self._send(405, error_body("POST only", "invalid_request_error"))

    def do_POST(self) -> None:
        owner: WebhookServer = self.server.owner
        raw = self._read_body()
        if not self._authorised():
            return
        path = self._route()
        attempt = owner._count(path)
        fault = next((f for f in owner.faults if f.applies(path, attempt)), None)
        if fault is not None and owner._wait(fault.delay_s or owner.delay_s):
            return
        if fault is not None and self._send_fault(fault):
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, error_body("the body is not JSON", "invalid_request_error"))
            return
        with owner._lock:
            owner.received.append(Received(path, {k.lower(): v for k, v in self.headers.items()}, body))
        self._send(200, {"ok": True})


class WebhookServer(LoopbackServer):
    """A webhook receiver on 127.0.0.1 (see the module docstring); `url` is its `path` (default /hook)."""

    handler = _Handler
    thread_name = "harness-webhook-server"

    def __init__(self, *, path: str = "/hook", faults: Iterable[Fault] = (), delay_s: float = 0.0,
                 api_key: str | None = None, port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        super().__init__(faults=faults, delay_s=delay_s, api_key=api_key, port=port, tls=tls)
        self.path = "/" + path.strip("/")
        self.received: list[Received] = []

    @property
    def url(self) -> str:
        return self.origin + self.path


__all__ = ["Received", "WebhookServer"]
