"""What every adapter that calls a vendor's endpoint shares (`openai`, `http`): a client whose requests cannot hang
and whose replies cannot fill memory, and one retry loop. Moved here from `harness.tools.openai` (issue 14) so the
`http` adapter uses the same seam rather than a copy.

Why it is built this way (issue 12, hardening: a reply at 1 byte/s hung a run, `Retry-After: 3600` meant hours,
200 MB replies took 6.7 GB):
- `timeout_s` bounds a whole request, not each read: every socket read and write is given only the time left
  until the request's deadline (`until`, `_DeadlineBackend`), so a reply trickled a byte at a time, headers
  included, ends on time.
- A reply is read as a stream and abandoned past a size limit (`read_body`; a Content-Length over it is refused
  before the body); the harness asks for no compression and does not decode a compressed reply, so a gzip bomb
  cannot grow past the limit.
- `send` retries 429, 5xx, timeouts and lost connections with exponential backoff, honouring Retry-After up to
  MAX_RETRY_AFTER_S (a longer ask ends the request at once), within the run's deadline; other 4xx are answers
  and are not retried. A redirect is never followed: the endpoint rules (`harness.tools.endpoint`) were checked
  for the URL in the manifest, and a vendor's server must not move City data to a host nobody checked. A
  certificate that does not verify is not retried either, and says so.
- `client_for` never sends a request to this machine's loopback through a proxy from the environment, and always
  verifies certificates (httpx's default; nothing here turns it off).
"""
from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import httpcore
import httpx

from harness.tools.endpoint import is_loopback

MAX_RETRY_AFTER_S = 60.0  # the longest wait between attempts; a server asking for longer is down for this request
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20  # 1 MiB: adapter.max_response_bytes of the openai adapter (at most 16 MiB)
DEFAULT_RUN_DEADLINE_S = 3600.0  # adapter.run_deadline_s (at most 24 h)

T = TypeVar("T")

_LOCAL = threading.local()  # .at: the monotonic time by which this thread's current request must end


@contextmanager
def until(at: float) -> Iterator[None]:
    """Every socket operation this thread makes inside the block ends by `at` (time.monotonic()): what turns
    httpx's per-read timeout into a deadline for the whole request (see `_DeadlineBackend`)."""
    before = getattr(_LOCAL, "at", None)
    _LOCAL.at = at
    try:
        yield
    finally:
        _LOCAL.at = before


def _left(timeout: float | None, timed_out: type[Exception]) -> float | None:
    """The timeout for one socket operation: httpx's, shortened to the time left before the deadline; raises
    `timed_out` (an httpcore timeout, which httpx maps to its own) once the deadline has passed."""
    at = getattr(_LOCAL, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise timed_out("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write is given only the time left before the thread's deadline: a
    server sending a byte just before each read would time out never pauses long enough for httpx to notice,
    and would otherwise hold the request as long as it likes (headers included, before any response object
    exists that the adapter could watch)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, handing out `_DeadlineStream` connections."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _left(timeout, httpcore.ConnectTimeout),
                                                       local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout),
                                                               socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bounded_client(**kwargs: Any) -> httpx.Client:
    """An httpx.Client whose connections all honour `until`, the direct one and any proxy's from the
    environment. httpx has no public way to choose httpcore's network backend, so each transport's pool is
    given one here; if a new httpx lays its transports out otherwise, this refuses rather than run without
    deadlines (tests/test_chat_limits.py fails first)."""
    client = httpx.Client(**kwargs)
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    pools = [getattr(t, "_pool", None) for t in transports]
    if not pools or any(not isinstance(getattr(p, "_network_backend", None), httpcore.NetworkBackend)
                        for p in pools):
        client.close()
        raise RuntimeError(f"httpx {httpx.__version__} / httpcore {httpcore.__version__} hold their connections "
                           f"differently from what harness.tools.transport expects: request deadlines cannot be "
                           f"enforced, so no request is made")
    for pool in pools:
        if not isinstance(pool._network_backend, _DeadlineBackend):  # type: ignore[union-attr]
            pool._network_backend = _DeadlineBackend(pool._network_backend)  # type: ignore[union-attr]
    return client


class TooLarge(Exception):
    """The body passed the size limit; the rest of it is not read."""


class Compressed(Exception):
    """The body came with a Content-Encoding the harness did not ask for; it is not decoded."""


def read_body(r: httpx.Response, limit: int) -> bytearray:
    """The body of a streamed response, read only while it stays within `limit` bytes: a Content-Length over the
    limit is refused before reading, and a body without one is counted as it arrives (`TooLarge`). Compressed
    bodies are refused (`Compressed`): the harness asks for none, and decoding a few KB can make gigabytes."""
    encoding = r.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise Compressed(encoding)
    declared = r.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    for chunk in r.iter_raw():
        if len(body) + len(chunk) > limit:
            raise TooLarge
        body += chunk
    return body


def error_body(r: httpx.Response, limit: int) -> str:
    """The server's explanation of an HTTP error, from a body read within the limit."""
    try:
        return error_text(read_body(r, limit), r.reason_phrase)
    except TooLarge:
        return f"its body was larger than {limit:,} bytes"
    except Compressed as e:
        return f"its body is compressed (Content-Encoding: {e}) and was not read"




def asked_wait(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (Retry-After as seconds or an HTTP date), as asked: the caller
    decides what a long ask means (`send` gives up on the request)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0) if seconds == seconds else None  # NaN: no usable ask


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait, capped at MAX_RETRY_AFTER_S."""
    seconds = asked_wait(response)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER_S)


def error_text(body: bytes | bytearray, reason: str) -> str:
    """The server's own explanation: OpenAI's {"error": {"message": ...}}, else the start of the body (which
    the caller has read within its size limit), else the status line's reason."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data.get("detail"))
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
    text = " ".join(bytes(body[:800]).decode("utf-8", errors="replace").split())[:200]
    return text or reason


def attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"



def client_for(url: str, *, headers: dict[str, str] | None = None, timeout_s: float,
               concurrency: int | None = None) -> httpx.Client:
    """A bounded client for the endpoint at `url`: no compression asked for (a compressed reply is not decoded), a
    proxy from the environment only for a host other than loopback, certificates verified, redirects not followed."""
    limits = (httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
              if concurrency is not None else httpx.Limits())
    return bounded_client(headers={"Accept-Encoding": "identity", **(headers or {})},
                          timeout=httpx.Timeout(timeout_s), limits=limits,
                          trust_env=not is_loopback(httpx.URL(url).host), follow_redirects=False)


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL: how a message names an endpoint without its path or query, which some
    vendors use for tokens."""
    u = httpx.URL(url)
    host = f"[{u.host}]" if ":" in u.host else u.host
    return f"{u.scheme}://{host}{f':{u.port}' if u.port is not None else ''}"


def tls_failure(e: BaseException) -> str | None:
    """The certificate problem behind a failed connection (e.g. "certificate verify failed: self-signed
    certificate"), or None when the failure was not about TLS."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cur.verify_message}" if cur.verify_message else str(cur)
        if isinstance(cur, ssl.SSLError):
            return str(cur)
        cur = cur.__cause__ or cur.__context__
    text = str(e)
    return text if "CERTIFICATE_VERIFY_FAILED" in text or "SSL:" in text else None


PROBE_TIMEOUT_S = 10.0  # the request without credentials ends within this (or the adapter's timeout_s, if shorter)


def without_credentials(url: str, body: bytes, *, timeout_s: float, run_at: float | None = None,
                        ) -> tuple[bool | None, str]:
    """POST `body` (which must hold no City data) to `url` once, with no credentials and no retry, and say what
    the endpoint did: (True, why) when it answered 2xx, (False, why) when it refused with 401 or 403, (None, why)
    otherwise. An endpoint that answers for anyone though the manifest names a key fails policy 1.3
    ("authentication"); the adapters keep this as `answers_without_credentials` for the security suite."""
    shown = origin(url)
    at = time.monotonic() + min(timeout_s, PROBE_TIMEOUT_S)
    if run_at is not None:
        at = min(at, run_at)
    try:
        with client_for(url, timeout_s=timeout_s) as bare, until(at), \
                bare.stream("POST", url, content=body, headers={"Content-Type": "application/json"}) as r:
            status = r.status_code
    except httpx.HTTPError as e:
        return None, f"not known: a request without credentials to {shown} got no reply ({type(e).__name__})"
    if 200 <= status < 300:
        return True, (f"{shown} answered a request without credentials (HTTP {status}), though the manifest names an "
                      f"API key")
    if status in (401, 403):
        return False, f"{shown} refused a request without credentials (HTTP {status})"
    return None, (f"not known: {shown} answered a request without credentials with HTTP {status}, neither a result "
                  f"nor a refusal")


def not_asked(run_deadline_s: float) -> str:
    """Why a request was never made: the run was out of time before it."""
    return f"not asked: the run's deadline of {run_deadline_s:g} s passed (adapter.run_deadline_s)"


@dataclass(frozen=True)
class Sent(Generic[T]):
    """What `send` got: `value`, what the caller's `read` made of a 2xx reply; else `error`, why there is none (in
    words, without the caller's item or row prefix). `unreachable` is True when the last attempt could not connect
    at all (refused, no route, no such host, a certificate that does not verify): the endpoint is down, not
    unwell. `attempts` counts the requests made."""

    value: T | None = None
    error: str | None = None
    unreachable: bool = False
    attempts: int = 0


def send(client: httpx.Client, method: str, url: str, *, read: Callable[[httpx.Response], T], timeout_s: float,
         max_retries: int, backoff_s: float, run_at: float, run_deadline_s: float, max_response_bytes: int,
         sleep: Callable[[float], None] = time.sleep, shown: str | None = None, **request: Any) -> Sent[T]:
    """One request with retries (see the module docstring). Each attempt ends by `timeout_s` or the run's deadline
    (`run_at`, time.monotonic()), whichever comes first, and no wait is begun that would end past it. `read` is
    called on a 2xx reply while it streams (`read_body` reads it within `max_response_bytes`); `shown` names the
    endpoint in messages (default `url`); `request` goes to `client.stream` (json=, content=, headers=)."""
    shown = shown or url
    deadline = f"the run's deadline of {run_deadline_s:g} s"
    attempt = 0
    cause = ""
    down = False
    while True:
        now = time.monotonic()
        if now >= run_at:
            if attempt == 0:
                return Sent(error=not_asked(run_deadline_s))
            return Sent(error=f"{cause}; gave up after {attempts(attempt)}: {deadline} passed", unreachable=down,
                        attempts=attempt)
        attempt += 1
        at = min(now + timeout_s, run_at)
        wait: float | None = None
        try:
            with until(at), client.stream(method, url, **request) as r:
                if r.status_code == 429 or r.status_code >= 500:
                    cause, down = f"HTTP {r.status_code} from {shown}: {error_body(r, max_response_bytes)}", False
                    wait = asked_wait(r)
                    if wait is not None and wait > MAX_RETRY_AFTER_S:
                        return Sent(error=(f"{cause}; the server asked to wait {wait:.6g} s, more than the "
                                           f"{MAX_RETRY_AFTER_S:g} s the harness waits (gave up after "
                                           f"{attempts(attempt)})"), attempts=attempt)
                elif 300 <= r.status_code < 400:
                    return Sent(error=_redirected(r, shown), attempts=attempt)
                elif r.status_code >= 400:
                    return Sent(error=f"HTTP {r.status_code} from {shown}: {error_body(r, max_response_bytes)}",
                                attempts=attempt)
                else:
                    return Sent(value=read(r), attempts=attempt)
        except httpx.TimeoutException as e:
            if at >= run_at:  # the run's deadline, not timeout_s, ended this attempt
                return Sent(error=f"no reply from {shown} before {deadline} passed ({attempts(attempt)})",
                            attempts=attempt)
            cause, down = f"no reply from {shown} within {timeout_s:g} s", isinstance(e, httpx.ConnectTimeout)
        except httpx.TransportError as e:
            tls = tls_failure(e) if isinstance(e, httpx.ConnectError) else None
            if tls is not None:  # a certificate that does not verify will not verify on the next attempt either
                return Sent(error=(f"the TLS certificate of {shown} could not be verified ({tls}); the harness always "
                                   f"verifies certificates, so the endpoint needs one from an authority this machine "
                                   f"trusts"), unreachable=True, attempts=attempt)
            if isinstance(e, httpx.ConnectError):
                cause, down = f"could not connect to {shown} ({type(e).__name__}: {e})", True
            else:
                cause, down = f"lost the connection to {shown} ({type(e).__name__}: {e})", False
        if attempt > max_retries:
            return Sent(error=f"{cause}; gave up after {attempts(attempt)}", unreachable=down, attempts=attempt)
        pause = min(wait if wait is not None else backoff_s * 2 ** (attempt - 1), MAX_RETRY_AFTER_S)
        if time.monotonic() + pause >= run_at:
            return Sent(error=f"{cause}; gave up after {attempts(attempt)}: {deadline} would pass before the next",
                        unreachable=down, attempts=attempt)
        sleep(pause)


def _redirected(r: httpx.Response, shown: str) -> str:
    """A 3xx is an answer, never followed: the endpoint rules held for the URL in the manifest only."""
    location = r.headers.get("location", "")
    try:
        target = httpx.URL(location)
        where = f"to host {target.host}" if target.host else f"to {location[:100]!r} on the same host"
    except (httpx.InvalidURL, TypeError, ValueError):
        where = "to an unreadable location"
    return (f"HTTP {r.status_code} from {shown}: a redirect {where}, not followed (City data goes only to the URL "
            f"in the manifest, whose host the endpoint rules checked; policy 1.3)")
