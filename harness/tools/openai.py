"""The `openai` adapter: a generative tool behind any OpenAI-compatible chat-completions endpoint (a hosted
service, or a local vLLM, llama.cpp or Ollama server).

Why it is built this way:
- A tool that fails on some items must still be assessed on the rest: per-item failures (timeouts, HTTP
  errors after retries, malformed replies) go to `Predictions.errors` and become ERROR findings for those
  items; only a run in which every item failed, or an endpoint that refuses connections at the start,
  raises `ToolError` (the assessment is then recorded with verdict ERROR, policy 3.2).
- Every exchange is cached on disk by a hash of what determines the answer (model, messages, temperature,
  max tokens, sample number), so a re-run of the same assessment costs nothing and a report can show the
  exact prompt and answer. The endpoint is part of the key (two servers may serve different models under one
  name) and errors are never cached (the next run retries them).
- A cached answer is evidence about the tool version that gave it, and about no other (issue 11, policy
  4.2): the key also holds the tool's identity (`tool_identity`: tool id, version and the sha256 of the
  manifest's content). A vendor who puts 0.5.0 behind the URL 0.4.0 used, under the same model name, gets
  0.5.0 asked, never 0.4.0's answers and verdict; an edited manifest is asked afresh too. (An `openai` tool
  has no file to hash: its artifacts are the endpoint's URL and model name, which the key holds directly;
  the model list the endpoint reports is recorded as evidence by `endpoint_facts`, not keyed, since it comes
  and goes with the endpoint's availability.) Entries written under an older key format are never read.
- The cache is for re-running an assessment, never for re-assessing a tool: a re-assessment (policy 4.3)
  asks whether the tool in use still behaves, which only the endpoint can answer, so `reassess` runs with
  the cache off, and `harness assess --no-cache` does the same on request. `cache_stats` counts, over the
  run, how many answers were asked for and how many the cache supplied; the pipeline records it in
  assessment.json (`extra.cache`) and the reports say it in one line.
- The API key is read from the environment variable the manifest names, held in memory only, and scrubbed
  from every message; it never reaches the cache, a log or a report.

The prompt format lives here once (`user_message` / `parse_user_message`); the loopback server in
`harness.testing.chat_server` parses prompts with the same functions.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from harness.errors import ToolConfigError, ToolError
from harness.tools import Predictions, qa_items

if TYPE_CHECKING:
    import pandas as pd

    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest

DEFAULT_SYSTEM_PROMPT = (
    "You answer questions about City services for residents. Use only the context you are given: do not add "
    "facts, numbers, dates or names that the context does not state. Answer briefly, in the words of the "
    "context. If the context does not answer the question, reply exactly: I don't know"
)
"""Grounded QA (policy Safety clause: "correct results (not hallucinations)"): answer from the context or
abstain with a phrase the hallucination suite recognises as an abstention."""

DEFAULT_CACHE_DIR = Path(".harness") / "cache" / "openai"  # under the working folder; `.harness/` is git-ignored
CACHE_FORMAT = 2  # 2: the key holds the tool's identity (tool id, version, manifest sha256)
MAX_REASON_CHARS = 200  # of a reason recorded instead of the endpoint's model list
MAX_RETRY_AFTER_S = 60.0  # a server asking for a longer pause is treated as down for this item
REDACTED = "[redacted]"

_CONTEXT = "Context:\n"
_QUESTION = "\n\nQuestion: "

Progress = Callable[[str], None]


# --------------------------------------------------------------------------------------------------
# The prompt: one format, built and parsed here only


def user_message(context: str, question: str) -> str:
    """The user turn of a grounded question: the context, then the question."""
    return f"{_CONTEXT}{context}{_QUESTION}{question}"


def parse_user_message(text: str) -> tuple[str, str]:
    """(context, question) back from `user_message`; ValueError when the text is not in that format."""
    if not text.startswith(_CONTEXT) or _QUESTION not in text:
        raise ValueError("the user message is not 'Context:\\n<context>\\n\\nQuestion: <question>'")
    context, _, question = text[len(_CONTEXT):].rpartition(_QUESTION)
    return context, question


def chat_messages(context: str, question: str, system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_message(context, question)}]


def tool_identity(manifest: ToolManifest) -> dict[str, str]:
    """Which tool version an answer is evidence about: its id, its version and the sha256 of the manifest's
    content (canonical JSON of the validated manifest; the manifest object carries no file path, and the same
    tool.yaml in another folder is the same tool)."""
    text = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return {"tool": manifest.id, "version": manifest.version,
            "manifest_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def cache_key(endpoint: str, model: str, messages: list[dict[str, str]], temperature: float, max_tokens: int,
              sample: int, *, identity: Mapping[str, str]) -> str:
    """sha256 of everything that determines an answer, and nothing else (never the key). The endpoint is part
    of it: two vendors (or two local servers) may serve different models under the same name ("default",
    "gpt-4o"), and one tool's cached answers must never become another tool's evidence. The tool's identity
    (`tool_identity`) is part of it for the same reason across versions: a new version behind the same URL
    and model name must be asked, not handed its predecessor's answers. Required, so no caller can forget it."""
    payload = {"format": CACHE_FORMAT, "endpoint": endpoint.rstrip("/"), "model": model, "messages": messages,
               "temperature": float(temperature), "max_tokens": int(max_tokens), "sample": int(sample),
               "identity": dict(sorted(identity.items()))}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_local(base_url: str) -> bool:
    return httpx.URL(base_url).host in {"localhost", "127.0.0.1", "::1"}


def _clip(text: str, limit: int = MAX_REASON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def endpoint_facts(manifest: ToolManifest) -> dict[str, str]:
    """What identifies an endpoint tool where a file tool has its digests (harness.tools.artifacts): the base
    URL and model name the manifest gives, and the models the endpoint itself reports at GET /models (sorted,
    comma-joined), which is what an auditor can compare with the vendor's claims. It never raises: an endpoint
    that cannot be asked is recorded as "unreachable: <why>" (the adapter reports it as the run's ERROR), and
    one that answers without a model list as "not reported: <why>"."""
    a = manifest.adapter
    base_url = str(a.base_url).rstrip("/")  # type: ignore[union-attr]
    env = getattr(a, "api_key_env", None)
    api_key = os.environ.get(env) if env else None
    timeout_s = min(float(getattr(a, "timeout_s", 10.0)), 10.0)
    return {"endpoint.base_url": base_url, "endpoint.model": str(a.model),  # type: ignore[union-attr]
            "endpoint.models": reported_models(base_url, api_key=api_key, timeout_s=timeout_s)}


def reported_models(base_url: str, *, api_key: str | None = None, timeout_s: float = 10.0) -> str:
    """The model ids GET {base_url}/models lists, sorted and comma-joined, or "unreachable: ..." / "not
    reported: ..." with the reason (the API key, if any is sent, is scrubbed from it)."""
    url = f"{base_url.rstrip('/')}/models"

    def scrub(text: str) -> str:
        return _clip(text.replace(api_key, REDACTED) if api_key else text)

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s),
                          trust_env=not _is_local(base_url)) as client:
            r = client.get(url)
    except httpx.TimeoutException:
        return f"unreachable: no reply from {url} within {timeout_s:g} s"
    except Exception as e:  # recording a fact must never stop the assessment; the adapter reports the endpoint
        return scrub(f"unreachable: {type(e).__name__}: {e}")
    if r.status_code >= 400:
        return scrub(f"not reported: HTTP {r.status_code} from {url}: {_error_text(r)}")
    try:
        listed = r.json()["data"]
        ids = sorted({str(m["id"]) for m in listed})
    except (ValueError, KeyError, TypeError):
        return f"not reported: the reply from {url} is not an OpenAI model list"
    return ",".join(ids) if ids else f"not reported: {url} lists no model"


class ExchangeCache:
    """One JSON file per exchange, `<root>/<key[:2]>/<key>.json`, written atomically so that parallel
    workers (or two runs) never leave a half-written entry; an unreadable entry counts as a miss."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self.path(key)
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("response"), str):
            return None
        return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        p = self.path(key)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=p.parent, suffix=".tmp",
                                             delete=False) as f:
                json.dump(entry, f, ensure_ascii=False, indent=1)
            os.replace(f.name, p)
        except OSError as e:  # a read-only cache must not fail the assessment; it only costs a re-run
            import warnings

            from harness.errors import HarnessWarning

            warnings.warn(f"could not write the exchange cache {p}: {e}", HarnessWarning, stacklevel=2)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (Retry-After as seconds or an HTTP date), capped."""
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
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _error_text(response: httpx.Response) -> str:
    """The server's own explanation: OpenAI's {"error": {"message": ...}}, else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data.get("detail"))
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
    text = " ".join(response.text.split())[:200]
    return text or response.reason_phrase


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


class OpenAITool:
    """Asks a chat-completions endpoint each grounded question; see the module docstring for why."""

    kind = "openai"

    def __init__(self, *, name: str, base_url: str, model: str, temperature: float = 0.0, max_tokens: int = 256,
                 timeout_s: float = 30.0, max_retries: int = 3, backoff_s: float = 0.5, concurrency: int = 4,
                 api_key: str | None = None, system_prompt: str | None = None, cache_dir: Path | None = None,
                 progress: Progress | None = None, identity: Mapping[str, str] | None = None) -> None:
        """`identity` is the tool version the answers are evidence about (`tool_identity`; `from_manifest`
        always gives it); a tool built by hand, without a manifest, is identified by its name alone."""
        self.name = name
        self.identity: dict[str, str] = dict(identity) if identity is not None else {"tool": name}
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.concurrency = concurrency
        self.system_prompt = system_prompt or DEFAULT_SYSTEM_PROMPT
        self.cache = ExchangeCache(cache_dir) if cache_dir is not None else None
        self.progress = progress  # optional: the assessment's `say`, for long runs
        self.__api_key = api_key  # name-mangled and never printed: see __repr__ and _scrub
        self._probed = False
        self._probe_lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep  # the wait between retries (tests record it)
        self._stats_lock = threading.Lock()
        self._answers = 0  # over every generate() of this run: answers asked for ...
        self._from_cache = 0  # ... and how many of them the cache supplied

    @property
    def cache_stats(self) -> dict[str, int | str]:
        """How many answers the run asked for and how many came from the cache ("cache": "on"/"off"): the
        report says it, so a reader knows whether the endpoint was asked (issue 11)."""
        with self._stats_lock:
            return {"answers": self._answers, "from_cache": self._from_cache,
                    "cache": "on" if self.cache is not None else "off"}

    def __repr__(self) -> str:
        key = REDACTED if self.__api_key else None
        return f"OpenAITool(name={self.name!r}, base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

    @classmethod
    def from_manifest(cls, manifest: ToolManifest, *, use_cache: bool = True) -> OpenAITool:
        from harness.manifest import OpenAIAdapter

        a = manifest.adapter
        if not isinstance(a, OpenAIAdapter):
            raise ToolConfigError(f"tool manifest {manifest.id!r} has adapter kind {a.kind!r}, not 'openai'")
        api_key = None
        if a.api_key_env:
            api_key = os.environ.get(a.api_key_env)
            if not api_key:
                raise ToolConfigError(
                    f"tool manifest {manifest.id!r} reads its API key from the environment variable "
                    f"{a.api_key_env}, which is not set; export {a.api_key_env} (or remove adapter.api_key_env "
                    f"for a server that needs no key)")
        cache_dir = None
        if a.cache and use_cache:
            cache_dir = (manifest.resolve(a.cache_dir) if a.cache_dir else Path.cwd() / DEFAULT_CACHE_DIR).resolve()
        return cls(name=manifest.id, base_url=a.base_url, model=a.model, temperature=a.temperature,
                   max_tokens=a.max_tokens, timeout_s=a.timeout_s, max_retries=a.max_retries, backoff_s=a.backoff_s,
                   concurrency=a.concurrency, api_key=api_key, system_prompt=a.system_prompt, cache_dir=cache_dir,
                   identity=tool_identity(manifest))

    # ------------------------------------------------------------------------------------------------
    # The Tool and GenerativeTool protocols

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        return self.generate(qa_items(dataset, self.name))

    def generate(self, items: pd.DataFrame, sample: int = 0) -> Predictions:
        """Answer every item, in the order given; `sample` numbers a repeated ask (its own cache entries)."""
        missing = [c for c in ("context", "question") if c not in items.columns]
        if missing:
            raise ToolError(f"tool {self.name!r} was asked with items lacking column(s) {missing}; a generative "
                            f"tool needs 'context' and 'question'")
        n = len(items)
        ids = items["id"].astype(str).tolist() if "id" in items.columns else [str(i) for i in range(n)]
        contexts = items["context"].astype(str).tolist()
        questions = items["question"].astype(str).tolist()
        answers: list[str] = [""] * n
        errors: list[str | None] = [None] * n
        todo: list[tuple[int, list[dict[str, str]], str]] = []
        for i in range(n):
            messages = chat_messages(contexts[i], questions[i], self.system_prompt)
            key = self._key(messages, sample)
            entry = self.cache.get(key) if self.cache is not None else None
            if entry is not None:
                answers[i] = entry["response"]
            else:
                todo.append((i, messages, key))
        with self._stats_lock:
            self._answers += n
            self._from_cache += n - len(todo)
        if todo:
            self._ask_all(todo, ids, answers, errors, sample, cached=n - len(todo))
        if n and all(e is not None for e in errors):
            raise ToolError(f"tool {self.name!r}: every one of the {n:,} items failed; the first: {errors[0]}")
        return Predictions(labels=np.asarray(answers, dtype=object), answers=answers, errors=errors)

    def exchange(self, context: str, question: str, sample: int = 0) -> dict[str, Any] | None:
        """The cached exchange for one item (request messages, response text, usage), for a report."""
        if self.cache is None:
            return None
        return self.cache.get(self._key(chat_messages(context, question, self.system_prompt), sample))

    def _key(self, messages: list[dict[str, str]], sample: int) -> str:
        return cache_key(self.base_url, self.model, messages, self.temperature, self.max_tokens, sample,
                         identity=self.identity)

    # ------------------------------------------------------------------------------------------------
    # HTTP

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.__api_key}"} if self.__api_key else {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        # a proxy from HTTP(S)_PROXY is right for a hosted service but never for a server on this machine
        return httpx.Client(headers=headers, timeout=httpx.Timeout(self.timeout_s), limits=limits,
                            trust_env=not _is_local(self.base_url))

    def _scrub(self, text: str) -> str:
        return text.replace(self.__api_key, REDACTED) if self.__api_key else text

    def _probe(self, client: httpx.Client) -> None:
        """One request before the run: an endpoint that refuses connections is an ERROR for the whole
        assessment, not hundreds of per-item errors. Any HTTP reply at all (even 404) means it is there."""
        with self._probe_lock:
            if self._probed:
                return
            try:
                client.get(f"{self.base_url}/models", timeout=min(self.timeout_s, 10.0))
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                raise ToolError(self._scrub(
                    f"the chat endpoint {self.base_url} of tool {self.name!r} is unreachable "
                    f"({type(e).__name__}: {e}); start the server or correct adapter.base_url in the manifest"
                )) from None
            except httpx.HTTPError:
                pass  # reachable but unwell: the items will say how
            self._probed = True

    def _ask_all(self, todo: list[tuple[int, list[dict[str, str]], str]], ids: list[str], answers: list[str],
                 errors: list[str | None], sample: int, cached: int) -> None:
        total = len(todo) + cached
        step = max(1, len(todo) // 10)
        with self._client() as client:
            self._probe(client)
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo)),
                                    thread_name_prefix=f"openai-{self.name}") as pool:
                futures = {pool.submit(self._ask, client, ids[i], messages): (i, messages, key)
                           for i, messages, key in todo}
                for done, fut in enumerate(as_completed(futures), start=1):
                    i, messages, key = futures[fut]
                    try:
                        answer, error, reply = fut.result()
                    except Exception as e:  # a bug of ours or an odd library error: still only this item
                        answer, error, reply = None, f"item {ids[i]!r}: {type(e).__name__}: {e}", {}
                    if error is not None:
                        errors[i] = self._scrub(error)
                    else:
                        answers[i] = answer or ""
                        if self.cache is not None:
                            self.cache.put(key, {
                                "format": CACHE_FORMAT, "key": key, "identity": self.identity, "model": self.model,
                                "temperature": self.temperature, "max_tokens": self.max_tokens, "sample": sample,
                                "messages": messages, "response": answers[i],
                                "finish_reason": reply.get("finish_reason"), "usage": reply.get("usage"),
                                "served_by": reply.get("model"),
                                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                            })
                    if self.progress is not None and (done % step == 0 or done == len(todo)):
                        failed = sum(e is not None for e in errors)
                        self.progress(f"{self.name}: {cached + done:,}/{total:,} answered "
                                      f"({cached:,} from cache, {failed:,} failed)")

    def _ask(self, client: httpx.Client, item_id: str,
             messages: list[dict[str, str]]) -> tuple[str | None, str | None, dict[str, Any]]:
        """(answer, None, reply details) or (None, error text, {}). Retries 429, 5xx, timeouts and lost
        connections with exponential backoff (honouring Retry-After); other 4xx and malformed replies are
        answers from the server and are not retried."""
        body = {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens}
        url = self.url
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            try:
                r = client.post(url, json=body)
            except httpx.TimeoutException:
                cause = f"no reply from {url} within {self.timeout_s:g} s"
            except httpx.TransportError as e:
                cause = f"lost the connection to {url} ({type(e).__name__}: {e})"
            else:
                if r.status_code == 429 or r.status_code >= 500:
                    cause = f"HTTP {r.status_code} from {url}: {_error_text(r)}"
                    wait = _retry_after(r)
                elif r.status_code >= 400:
                    return None, f"item {item_id!r}: HTTP {r.status_code} from {url}: {_error_text(r)}", {}
                else:
                    return self._read(r, item_id, url)
            if attempt > self.max_retries:
                return None, f"item {item_id!r}: {cause}; gave up after {_attempts(attempt)}", {}
            self._sleep(wait if wait is not None else self.backoff_s * 2 ** (attempt - 1))

    @staticmethod
    def _read(r: httpx.Response, item_id: str, url: str) -> tuple[str | None, str | None, dict[str, Any]]:
        try:
            data = json.loads(r.text)
        except ValueError as e:
            return None, f"item {item_id!r}: the reply from {url} is not valid JSON ({e})", {}
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            content, choice = None, {}
        if not isinstance(content, str):
            return None, f"item {item_id!r}: the reply from {url} has no text in choices[0].message.content", {}
        return content, None, {"finish_reason": choice.get("finish_reason"), "usage": data.get("usage"),
                               "model": data.get("model")}
