"""The `http` adapter: a predictive tool behind a vendor's JSON scoring endpoint, the most common way a vendor
offers a model (issue 14). Rows are POSTed in batches; each row's label and score are read from the reply by the
paths the manifest gives (`harness.tools.rowpaths`).

Why it is built this way:
- City data goes only where the policy allows (policy 1.3, 1.4): the URL is held to the endpoint rules
  (`harness.tools.endpoint`) when the adapter is built, before any request; certificates are always verified and a
  redirect is never followed (`harness.tools.transport`), so the host checked is the only host that gets data.
  Only the tool's inputs are sent (the card's features, or `adapter.input_columns`; never the target, nor a
  protected attribute the card does not give tools: `harness.tools.inputs`), with each row's id.
- What an endpoint can cost is bounded as for the `openai` adapter, by the same code (`transport.send`,
  `transport.client_for`): `timeout_s` per request whole, `max_response_bytes` per reply, retries of 429, 5xx,
  timeouts and lost connections with exponential backoff honouring Retry-After up to 60 s, and a deadline for the
  run (`run_deadline_s`, from the first request); batches not sent by then are errors saying so.
- A tool that fails on some rows is still assessed on the rest, and the failure is evidence: each row the reply
  does not answer usably (the batch failed after its retries, the reply is not JSON, a result missing for its id,
  a label missing or outside the dataset's classes, a score that is not a number) gets its reason in
  `Predictions.errors`, and the assessment reports them as one blocking ERROR finding, computing every rate on
  the rows answered (`harness.assessment.answered_rows`): a vendor cannot pass by failing the rows that would
  show a disparity. Labels outside the classes are row errors only when some labels are in them; a tool none of
  whose labels is (0/1 against "yes"/"no") is refused whole by the label check, which proposes a `label_map`.
- An endpoint that is down is one clear error, not thousands: the first batch is sent alone, and if it cannot
  connect after its retries (refused, no such host, a certificate that does not verify) the assessment stops
  with verdict ERROR, naming the endpoint by its origin (scheme, host, port: a path may hold a token) and what
  happened. A run in which every row failed is an ERROR too.
- The API key is read from the environment variable the manifest names, held in memory only, and scrubbed from
  every message and label; it is never cached, logged or written (the tests search every artifact for it).
- When the manifest names a key, the adapter asks once without it (an empty batch: no City data is sent without
  credentials) and keeps what happened as `answers_without_credentials` (True: it answered 2xx; False: it refused
  with 401 or 403; None: not known, with the reason in `credentials_probe`). An endpoint that scores for anyone
  is a security finding (policy 1.3, "authentication"); the security suite reports it from this attribute.
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pandas as pd

from harness.errors import ToolConfigError, ToolError
from harness.tools.base import Predictions, input_frame
from harness.tools.endpoint import NO_KEY_NAMED, require_endpoint
from harness.tools.inputs import model_inputs
from harness.tools.labels import apply_label_map, canonical, label_space, quoted
from harness.tools.rowpaths import Missing, RowPath, parse
from harness.tools.transport import (
    Compressed,
    TooLarge,
    client_for,
    origin,
    read_body,
    send,
    without_credentials,
)

if TYPE_CHECKING:
    from harness.datasets import ReferenceDataset
    from harness.tools.base import ToolSite
    from harness.tools.configs import HttpAdapter

REDACTED = "[redacted]"
SHOWN_ERRORS = 5  # rows named in a whole-call error message

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Scored:
    """What one batch's reply gave, per row of the batch: the label (None on error), the score (NaN when none)
    and the error (None when the row was answered usably)."""

    labels: list[Any]
    scores: list[float]
    errors: list[str | None]


def plain_value(v: Any) -> Any:
    """A cell as JSON can carry it: numpy scalars as Python numbers, a missing value (None, NaN, NaT, pd.NA) or an
    infinite one as null (JSON has neither), anything else that is not a number, text or bool as its text."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    item = getattr(v, "item", None)
    if callable(item) and not isinstance(v, str | bytes):
        v = item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, bool | int | str):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def records(frame: pd.DataFrame, ids: Sequence[str], id_field: str | None) -> list[dict[str, Any]]:
    """One JSON object per row: the row's id under `id_field` (when given) and its inputs by column name."""
    columns = [str(c) for c in frame.columns]
    values = frame.to_numpy(dtype=object)
    rows = [{c: plain_value(v) for c, v in zip(columns, row, strict=True)} for row in values]
    if id_field is None:
        return rows
    return [{id_field: i, **r} for i, r in zip(ids, rows, strict=True)]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), type(value).__name__)


class HttpTool:
    """Scores rows through a vendor's JSON endpoint; see the module docstring for why it works as it does."""

    kind = "http"

    def __init__(self, *, name: str, url: str, records_key: str = "instances", id_field: str | None = "id",
                 label_path: str = "predictions[*].label", score_path: str | None = None,
                 id_path: str | None = None, api_key: str | None = None, api_key_header: str = "Authorization",
                 batch_size: int = 100, concurrency: int = 4, timeout_s: float = 30.0, max_retries: int = 3,
                 backoff_s: float = 0.5, run_deadline_s: float = 3600.0, max_response_bytes: int = 4 << 20,
                 label_map: dict[Any, Any] | None = None, input_names: list[str] | None = None,
                 progress: Progress | None = None) -> None:
        """A tool built by hand is not held to the endpoint rules: `from_config` (the loader's builder) is."""
        self.name = name
        self.url = url
        self.shown = origin(url)  # how messages name the endpoint: never its path or query
        self.records_key = records_key
        self.id_field = id_field
        self.label_path: RowPath = parse(label_path)
        self.score_path: RowPath | None = parse(score_path) if score_path else None
        self.id_path: RowPath | None = parse(id_path) if id_path else None
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.run_deadline_s = run_deadline_s
        self.max_response_bytes = max_response_bytes
        self.label_map = label_map
        self.input_names = input_names
        self.progress = progress  # the assessment's `say`, for long runs
        self.api_key_header = api_key_header
        self.__api_key = api_key  # name-mangled and never printed: see __repr__ and _scrub
        self.answers_without_credentials: bool | None = None
        self.credentials_probe = NO_KEY_NAMED if api_key is None else "not asked yet"
        self._probed = api_key is None
        self._classes: set[Any] | None = None  # the dataset's label space, canonical; known after predict()
        self._classes_shown: list[Any] = []
        self._run_at: float | None = None
        self._lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep  # the wait between retries (tests record it)

    def __repr__(self) -> str:
        key = REDACTED if self.__api_key else None
        return f"HttpTool(name={self.name!r}, url={self.shown!r}, api_key={key})"

    @classmethod
    def from_config(cls, a: HttpAdapter, site: ToolSite) -> HttpTool:
        """The endpoint `a` names, once its URL passes the endpoint rules of the site's policy: before any request,
        and before the API key is even read."""
        require_endpoint(a.url, site.policy, tool_id=site.tool_id)
        api_key = None
        if a.api_key_env:
            api_key = os.environ.get(a.api_key_env)
            if not api_key:
                raise ToolConfigError(
                    f"tool manifest {site.tool_id!r} reads its API key from the environment variable "
                    f"{a.api_key_env}, which is not set; export {a.api_key_env} (or remove adapter.api_key_env "
                    f"for an endpoint that needs no key)")
        return cls(name=site.tool_id, url=a.url, records_key=a.records_key, id_field=a.id_field,
                   label_path=a.label_path, score_path=a.score_path, id_path=a.id_path, api_key=api_key,
                   api_key_header=a.api_key_header, batch_size=a.batch_size, concurrency=a.concurrency,
                   timeout_s=a.timeout_s, max_retries=a.max_retries, backoff_s=a.backoff_s,
                   run_deadline_s=a.run_deadline_s, max_response_bytes=a.max_response_bytes, label_map=a.label_map,
                   input_names=a.input_columns)

    # ------------------------------------------------------------------------------------------------
    # The Tool protocol, and predict_frame for the checks that call the tool on changed rows

    def input_columns(self, dataset: ReferenceDataset) -> list[str]:
        """What is sent: adapter.input_columns, else the card's features (never the target, nor a protected
        attribute the card does not give tools)."""
        return model_inputs(dataset, names=None, n_features=None, declared=self.input_names,
                            model=f"tool {self.name!r}")

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        """Every row of the dataset, with its id; rows without a usable answer carry their reason in `errors`."""
        space = label_space(dataset)
        self._classes = {canonical(v) for v in space} or None
        self._classes_shown = space
        ids = dataset.ids.astype(str).str.strip().tolist()
        return self._score(input_frame(dataset, self.input_columns(dataset)), ids)

    def predict_frame(self, frame: pd.DataFrame) -> Predictions:
        """Rows a check made up (counterfactuals, noise), numbered by position. Any row without a usable answer
        fails the call (ToolError): the calling check then reports an ERROR rather than compare half a batch."""
        preds = self._score(frame, [str(i) for i in range(len(frame))])
        bad = [e for e in preds.errors or [] if e is not None]
        if bad:
            raise ToolError(f"tool {self.name!r} gave no usable answer for {len(bad):,} of {len(frame):,} rows; the "
                            f"first: {bad[0]}")
        return Predictions(labels=preds.labels, scores=preds.scores)

    # ------------------------------------------------------------------------------------------------
    # Scoring

    def _score(self, frame: pd.DataFrame, ids: list[str]) -> Predictions:
        n = len(frame)
        if n == 0:
            return Predictions(labels=np.asarray([], dtype=object),
                               scores=np.asarray([], dtype=float) if self.score_path else None, errors=[])
        if self.id_field is not None and self.id_field in map(str, frame.columns):
            raise ToolConfigError(f"adapter.id_field {self.id_field!r} of tool {self.name!r} is also the name of an "
                                  f"input column; name the id field otherwise (e.g. row_id)")
        rows = records(frame, ids, self.id_field)
        batches = [list(range(s, min(s + self.batch_size, n))) for s in range(0, n, self.batch_size)]
        labels: list[Any] = [None] * n
        scores = [math.nan] * n
        errors: list[str | None] = [None] * n
        run_at = self._start_clock()
        done = 0

        def keep(batch: list[int], got: Scored) -> None:
            nonlocal done
            for k, i in enumerate(batch):
                labels[i], scores[i], errors[i] = got.labels[k], got.scores[k], got.errors[k]
            done += 1
            if self.progress is not None and (done % max(1, len(batches) // 10) == 0 or done == len(batches)):
                failed = sum(e is not None for e in errors)
                self.progress(f"{self.name}: {done:,}/{len(batches):,} batches scored ({failed:,} rows failed)")

        with self._client() as client:
            self._probe_credentials(run_at)
            first, got, down = self._batch(client, batches[0], rows, ids, run_at)
            if down is not None:
                raise ToolError(self._scrub(
                    f"the scoring endpoint {self.shown} of tool {self.name!r} is unreachable: {down}; start the "
                    f"server or correct adapter.url in the manifest"))
            keep(first, got)
            if len(batches) > 1:
                with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches) - 1),
                                        thread_name_prefix=f"http-{self.name}") as pool:
                    futures = [pool.submit(self._batch, client, b, rows, ids, run_at) for b in batches[1:]]
                    for fut in as_completed(futures):
                        batch, got, _ = fut.result()
                        keep(batch, got)
        self._check_classes(labels, scores, errors, ids)
        if all(e is not None for e in errors):
            raise ToolError(f"tool {self.name!r}: every one of the {n:,} rows failed; the first: {errors[0]}")
        return Predictions(labels=_labels_array(labels), scores=np.asarray(scores, dtype=float)
                           if self.score_path else None, errors=errors)

    def _batch(self, client: httpx.Client, batch: list[int], rows: list[dict[str, Any]], ids: list[str],
               run_at: float) -> tuple[list[int], Scored, str | None]:
        """(the batch, what its reply gave per row, why the endpoint is unreachable or None). Never raises: a bug
        of ours or an odd library error is the batch's error."""
        batch_ids = [ids[i] for i in batch]
        try:
            payload = json.dumps({self.records_key: [rows[i] for i in batch]}, ensure_ascii=False,
                                 allow_nan=False, separators=(",", ":")).encode("utf-8")
            sent = send(client, "POST", self.url, read=lambda r: self._read(r, batch_ids),
                        timeout_s=self.timeout_s, max_retries=self.max_retries, backoff_s=self.backoff_s,
                        run_at=run_at, run_deadline_s=self.run_deadline_s,
                        max_response_bytes=self.max_response_bytes, sleep=self._sleep, shown=self.shown,
                        content=payload, headers={"Content-Type": "application/json"})
        except Exception as e:  # a bug of ours or an odd library error: still only this batch
            return batch, self._failed(batch_ids, f"{type(e).__name__}: {e}"), None
        if sent.value is not None:
            got = sent.value
            if isinstance(got, str):
                return batch, self._failed(batch_ids, got), None
            return batch, got, None
        error = sent.error or "no reply"
        return batch, self._failed(batch_ids, error), (error if sent.unreachable else None)

    def _failed(self, batch_ids: list[str], why: str) -> Scored:
        why = self._scrub(why)
        return Scored(labels=[None] * len(batch_ids), scores=[math.nan] * len(batch_ids),
                      errors=[f"row {i!r}: {why}" for i in batch_ids])

    def _read(self, r: httpx.Response, batch_ids: list[str]) -> Scored | str:
        """What a 2xx reply says about each row of the batch, or why the whole reply is unusable (a string)."""
        try:
            body = read_body(r, self.max_response_bytes)
        except TooLarge:
            return (f"the reply from {self.shown} was larger than {self.max_response_bytes:,} bytes "
                    f"(adapter.max_response_bytes)")
        except Compressed as e:
            return (f"the reply from {self.shown} is compressed (Content-Encoding: {e}) though the harness asked for "
                    f"none (Accept-Encoding: identity); it is not decoded")
        try:
            reply = json.loads(body)
        except ValueError as e:
            return f"the reply from {self.shown} is not valid JSON ({e})"
        try:
            results = self.label_path.results(reply)
        except Missing as e:
            return f"the reply from {self.shown} has no list of results at {self.label_path.list_text} ({e})"
        n = len(batch_ids)
        if self.id_path is None:
            if len(results) != n:
                return (f"the reply from {self.shown} has {len(results):,} results for the {n:,} rows sent; results "
                        f"are matched to rows by position, so none of them can be trusted (adapter.id_path matches "
                        f"them by id)")
            matched: list[Any] = list(results)
            missing = [False] * n
        else:
            matched, missing = self._by_id(results, batch_ids)
        labels: list[Any] = [None] * n
        scores = [math.nan] * n
        errors: list[str | None] = [None] * n
        for k, (result, absent) in enumerate(zip(matched, missing, strict=True)):
            row = f"row {batch_ids[k]!r}: "
            if absent:
                errors[k] = row + (result if isinstance(result, str) else "no result")
                continue
            label, error = self._label(result)
            score, score_error = self._score_of(result)
            if error or score_error:
                errors[k] = row + self._scrub(error or score_error or "")
                continue
            labels[k], scores[k] = label, score
        return Scored(labels=labels, scores=scores, errors=errors)

    def _by_id(self, results: list[Any], batch_ids: list[str]) -> tuple[list[Any], list[bool]]:
        """Each row's result by id: (result or the reason there is none, whether there is none)."""
        assert self.id_path is not None
        at: dict[str, list[int]] = {}
        for j, result in enumerate(results):
            try:
                rid = self.id_path.value(result)
            except Missing:
                continue
            if isinstance(rid, str | int) and not isinstance(rid, bool):
                at.setdefault(str(rid).strip(), []).append(j)
        matched: list[Any] = []
        missing: list[bool] = []
        for i in batch_ids:
            found = at.get(i, [])
            if len(found) == 1:
                matched.append(results[found[0]])
                missing.append(False)
            elif not found:
                matched.append(f"the reply from {self.shown} has no result with this id at {self.id_path.text}")
                missing.append(True)
            else:
                matched.append(f"the reply from {self.shown} has {len(found)} results with this id, so none is "
                               f"taken as the row's")
                missing.append(True)
        return matched, missing

    def _label(self, result: Any) -> tuple[Any, str | None]:
        try:
            label = self.label_path.value(result)
        except Missing as e:
            return None, f"no label at {self.label_path.text} ({e})"
        if label is None or not isinstance(label, bool | int | float | str):
            return None, f"the label at {self.label_path.text} is {_kind(label)}, not a value"
        if isinstance(label, float) and not math.isfinite(label):
            return None, f"the label at {self.label_path.text} is {label!r}, not a value"
        return (self._scrub(label) if isinstance(label, str) else label), None

    def _score_of(self, result: Any) -> tuple[float, str | None]:
        if self.score_path is None:
            return math.nan, None
        try:
            score = self.score_path.value(result)
        except Missing as e:
            return math.nan, f"no score at {self.score_path.text} ({e})"
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(float(score)):
            return math.nan, f"the score at {self.score_path.text} is {quoted(score)!r}, not a number"
        return float(score), None

    def _check_classes(self, labels: list[Any], scores: list[float], errors: list[str | None],
                       ids: list[str]) -> None:
        """Labels (after label_map) outside the dataset's classes become those rows' errors, when some labels are
        in the classes; when none is, the assessment's label check refuses the tool whole (it proposes a map)."""
        if self._classes is None:
            return
        ok = [i for i, e in enumerate(errors) if e is None]
        if not ok:
            return
        mapped = apply_label_map(np.asarray([labels[i] for i in ok], dtype=object), self.label_map)
        inside = [canonical(v) in self._classes for v in mapped.tolist()]
        if not any(inside):
            for i, v in zip(ok, mapped.tolist(), strict=True):
                labels[i] = v
            return
        after = " (after adapter.label_map)" if self.label_map else ""
        for i, v, good in zip(ok, mapped.tolist(), inside, strict=True):
            if good:
                labels[i] = v
            else:
                labels[i], scores[i] = None, math.nan
                errors[i] = (f"row {ids[i]!r}: the label {quoted(v)!r}{after} is not one of the target's values "
                             f"{self._classes_shown}")

    # ------------------------------------------------------------------------------------------------
    # The client, the run's clock, the key

    def _client(self) -> httpx.Client:
        return client_for(self.url, headers=self._auth(), timeout_s=self.timeout_s, concurrency=self.concurrency)

    def _auth(self) -> dict[str, str]:
        if not self.__api_key:
            return {}
        if self.api_key_header.lower() == "authorization":
            return {"Authorization": f"Bearer {self.__api_key}"}
        return {self.api_key_header: self.__api_key}

    def _scrub(self, text: str) -> str:
        return text.replace(self.__api_key, REDACTED) if self.__api_key else text

    def _start_clock(self) -> float:
        """When the run's deadline passes: `run_deadline_s` after this object first asks the endpoint."""
        with self._lock:
            if self._run_at is None:
                self._run_at = time.monotonic() + self.run_deadline_s
            return self._run_at

    def _probe_credentials(self, run_at: float) -> None:
        """Once, when the manifest names a key: POST an empty batch without it (no City data leaves without
        credentials) and keep what the endpoint did (`transport.without_credentials`). Never raises."""
        with self._lock:
            if self._probed:
                return
            self._probed = True
        empty = json.dumps({self.records_key: []}).encode("utf-8")
        answered, why = without_credentials(self.url, empty, timeout_s=self.timeout_s, run_at=run_at)
        self.answers_without_credentials, self.credentials_probe = answered, self._scrub(why)


def _labels_array(labels: list[Any]) -> np.ndarray:
    """The labels as one array: the dtype pandas infers (int64 for 0/1 labels, as a model's own `predict` gives)
    when every row has one, else object with None where a row has none (a number must not become text)."""
    if any(v is None for v in labels):
        return np.asarray(labels, dtype=object)
    return pd.Series(labels).to_numpy()


__all__ = ["HttpTool", "Scored", "plain_value", "records"]
