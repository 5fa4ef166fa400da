"""What the loopback servers of the conformance kit share (`ChatServer`, `ScoringServer`): a real HTTP server on
127.0.0.1 with an ephemeral port in a background thread, an optional API key, optional TLS (a certificate the
test made, to show a bad one is refused), request counters, and faults injected per request.

A `Fault` names the requests it applies to by a regular expression searched in the request's key (a chat
server's question; a scoring server's row ids) and says what goes wrong: an HTTP status (with Retry-After for
429s), a delay, a redirect, a malformed JSON body, a reply trickled a few bytes a second (status line and
headers included, so no single read ever times out), a body of any size (declared, chunked, or a gzip bomb),
and, for a server with rows, rows left out of the reply or with fields replaced. `times` limits it to the first
N attempts of each matching request, which is how retries are tested.

Moved here from `harness.testing.chat_server` (issue 14) when the scoring server needed the same scaffolding.
"""
from __future__ import annotations

import json
import re
import ssl
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
    """One misbehaviour for the requests whose key matches `match` (regex, searched; "" = all).

    `times` limits it to the first N attempts of each matching request (then the server recovers, which is how
    retries are tested); None means every time. A fault may delay (`delay_s`) and/or replace the reply: an HTTP
    `status` (with `retry_after` seconds for 429s, or a `location` for a redirect), a `malformed` JSON body, a
    chat reply whose message has `no_content`, or a `huge_bytes` body (`declared` in Content-Length or sent
    chunked, `gzip`-compressed or not). `trickle_bps` sends the reply at that many bytes a second, from its first
    byte (`trickle_headers`) or from the body's. For a server that answers rows (`ScoringServer`), `drop` leaves
    the matching rows out of the reply and `set_fields` replaces fields of their results (a score "high", a label
    outside the classes)."""

    match: str = ""
    status: int | None = None
    times: int | None = None
    delay_s: float = 0.0
    retry_after: float | None = None
    location: str | None = None
    malformed: bool = False
    no_content: bool = False
    trickle_bps: float | None = None
    trickle_headers: bool = True
    huge_bytes: int | None = None
    declared: bool = True
    gzip: bool = False
    drop: bool = False
    set_fields: tuple[tuple[str, Any], ...] = ()

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
    def redirect(cls, match: str, location: str, status: int = 307, times: int | None = None) -> Fault:
        """An HTTP 307 (or `status`) pointing at `location`: a client that follows it sends the request there."""
        return cls(match=match, status=status, location=location, times=times)

    @classmethod
    def malformed_json(cls, match: str, times: int | None = None) -> Fault:
        return cls(match=match, malformed=True, times=times)

    @classmethod
    def without_content(cls, match: str, times: int | None = None) -> Fault:
        return cls(match=match, no_content=True, times=times)

    @classmethod
    def drop_rows(cls, match: str, times: int | None = None) -> Fault:
        """The rows whose id matches are left out of the reply (a scoring server): a reply one result short."""
        return cls(match=match, drop=True, times=times)

    @classmethod
    def tamper(cls, match: str, times: int | None = None, **fields: Any) -> Fault:
        """The results of the rows whose id matches get these fields instead (`score="high"`, `label="maybe"`)."""
        return cls(match=match, set_fields=tuple(fields.items()), times=times)

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

    def applies(self, key: str, attempt: int) -> bool:
        return (self.times is None or attempt <= self.times) and re.search(self.match, key) is not None

    @property
    def replaces_reply(self) -> bool:
        return self.status is not None or self.malformed or self.no_content or self.huge_bytes is not None


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """An error reply in the OpenAI shape, which the adapters read the message of (`transport.error_text`)."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up, or refused our certificate, is expected here, not news


class LoopbackHandler(BaseHTTPRequestHandler):
    """Sending replies, whole, trickled, huge or faulted; checking the API key. Subclasses route the requests."""

    protocol_version = "HTTP/1.1"  # keep-alive: the adapters reuse connections, as against a real service
    disable_nagle_algorithm = True  # headers and body go out as separate writes: without this, each reply on a
    # kept-alive connection waits ~40 ms for the client's delayed ACK
    server: LoopbackHTTPServer

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

    def _send_fault(self, fault: Fault, trickle: Fault | None = None) -> bool:
        """Send the reply a fault replaces (an HTTP status, a redirect, a malformed or huge body); False when the
        fault does not replace the reply's status or body."""
        if fault.huge_bytes is not None:
            self._send_huge(fault)
            return True
        if fault.status is not None:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            if fault.location is not None:
                headers["Location"] = fault.location
            kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
            self._send(fault.status, error_body(f"injected fault: HTTP {fault.status}", kind), headers=headers or None,
                       trickle=trickle)
            return True
        if fault.malformed:
            self._send(200, raw=MALFORMED_BODY, trickle=trickle)
            return True
        return False

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        """The status line and headers as bytes, for a reply sent by hand (trickled or huge)."""
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _trickle(self, data: bytes, bytes_per_s: float) -> None:
        """`data` at `bytes_per_s`, in pieces at most 50 ms apart; stops when the server stops. A reply cut
        short leaves the connection unusable, so it is closed."""
        stopping = self.server.owner._stopping
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
                if self.server.owner._stopping.is_set():
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

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorised(self) -> bool:
        """True when the server needs no key or the request carries it (`Authorization: Bearer <key>`, or the bare
        key in the server's `key_header`); else a 401 is sent and the refusal counted."""
        owner = self.server.owner
        key = owner.api_key
        if key is None:
            return True
        header = owner.key_header
        given = self.headers.get(header)
        if given == (f"Bearer {key}" if header.lower() == "authorization" else key):
            return True
        owner._refused()
        self._send(401, error_body("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
        return False


class LoopbackServer:
    """A server on 127.0.0.1 (a free port unless `port` is given) in a background thread. `with server as
    base_url:` starts and stops it. `tls=(certfile, keyfile)` serves HTTPS with that certificate. Counters:
    `requests` of any kind, `calls` of the server's own route, `attempts[key]` per request key, `max_in_flight`
    (the client's real concurrency), `refused` (requests without the right key)."""

    handler: ClassVar[type[LoopbackHandler]] = LoopbackHandler
    thread_name: ClassVar[str] = "harness-loopback-server"

    def __init__(self, *, faults: Iterable[Fault] = (), delay_s: float = 0.0, api_key: str | None = None,
                 key_header: str = "Authorization", port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        self.faults: list[Fault] = list(faults)
        self.delay_s = delay_s
        self.api_key = api_key
        self.key_header = key_header
        self.port = port
        self.tls = tls
        self.requests = 0
        self.calls = 0
        self.refused = 0
        self.attempts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"the {type(self).__name__} is not running; start() it or use it in a `with` block")
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.origin

    def start(self) -> str:
        self._stopping.clear()
        httpd = LoopbackHTTPServer(("127.0.0.1", self.port), self.handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
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
            self.requests, self.calls, self.max_in_flight, self.refused = 0, 0, 0, 0
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

    def _count(self, key: str | None) -> int:
        """Count a request; for one of the server's own calls (`key` given), return how many times this key has
        now been asked."""
        with self._lock:
            self.requests += 1
            if key is None:
                return 0
            self.calls += 1
            self.attempts[key] += 1
            return self.attempts[key]

    def _refused(self) -> None:
        with self._lock:
            self.refused += 1

    def _wait(self, seconds: float) -> bool:
        """Sleep `seconds` unless the server stops first (then True: the request is abandoned)."""
        return seconds > 0 and self._stopping.wait(seconds)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["HUGE_FRAME", "MALFORMED_BODY", "Fault", "LoopbackHTTPServer", "LoopbackHandler", "LoopbackServer",
           "error_body", "gzip_bomb", "huge_body"]
