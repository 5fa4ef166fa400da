"""A real JSON scoring endpoint on loopback, serving a scikit-learn model, for testing the `http` adapter and
assessing a tool through it end to end (issue 14).

It speaks the adapter's default protocol over real sockets:

    POST /score   {"instances": [{"id": "a0001", "household_size": 3, ...}, ...]}
    200           {"predictions": [{"id": "a0001", "label": 1, "score": 0.83}, ...]}

(manifest: `label_path: predictions[*].label`, `score_path: predictions[*].score`, `id_path: predictions[*].id`).
Labels are the model's `predict`, scores its `predict_proba` for the `positive` class, computed by the `sklearn`
adapter's own code on the rows as they arrive, so the same model assessed through `kind: sklearn` and through this
server gives the same numbers exactly, unless the HTTP path loses or changes something on the way.

Faults (`harness.testing.loopback.Fault`) match row ids: a fault that replaces the reply (500, 429 with
Retry-After, a redirect, garbage JSON, a huge body) or delays it applies to every batch holding a matching row,
and `Fault.drop_rows` / `Fault.tamper` change only the matching rows' results (a reply one result short, a
score "high", a label outside the classes). `times` counts attempts of the same batch:

    server = ScoringServer.from_skops(path, faults=[Fault.error("a0007", times=2), Fault.drop_rows("a0042")])
    with server as base_url:        # http://127.0.0.1:<port>
        url = server.url            # http://127.0.0.1:<port>/score
    server.rows_scored, server.calls, server.refused, server.fields_seen

`api_key` makes it refuse requests without `Authorization: Bearer <key>` (or the bare key in `key_header`); without
one it answers anyone, which is what an endpoint that "answers without credentials" looks like.

Run one from a shell: `python -m harness.testing.scoring_server examples/rental_assistance/fair_model.skops`.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from harness.testing.loopback import Fault, LoopbackHandler, LoopbackServer, error_body


class _Handler(LoopbackHandler):
    """POST {path}: score the records; anything else is a 404."""

    server: Any  # a LoopbackHTTPServer whose owner is a ScoringServer

    def do_GET(self) -> None:
        owner: ScoringServer = self.server.owner
        owner._count(None)
        self._send(404, error_body(f"no route {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        owner: ScoringServer = self.server.owner
        raw = self._read_body()
        if self._route() != owner.path:
            owner._count(None)
            self._send(404, error_body(f"no route {self.path}", "invalid_request_error"))
            return
        try:
            rows = json.loads(raw)[owner.records_key]
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise TypeError(f"{owner.records_key} is not a list of objects")
        except (ValueError, KeyError, TypeError) as e:
            owner._count("")
            self._send(400, error_body(f"bad request: {type(e).__name__}: {e}", "invalid_request_error"))
            return
        ids = [str(r.get(owner.id_field)) if owner.id_field else str(k) for k, r in enumerate(rows)]
        attempt = owner._count("\n".join(ids))
        owner._saw({k for r in rows for k in r})
        if not self._authorised():
            return
        with owner._in_flight():
            self._score(owner, rows, ids, attempt)

    def _score(self, owner: ScoringServer, rows: list[dict[str, Any]], ids: list[str], attempt: int) -> None:
        def hit(f: Fault) -> bool:
            return any(f.applies(i, attempt) for i in ids) if ids else f.applies("", attempt)

        faults = [f for f in owner.faults if hit(f)]
        if owner._wait(owner.delay_s + sum(f.delay_s for f in faults)):
            return
        reply = next((f for f in faults if f.replaces_reply), None)
        trickle = next((f for f in faults if f.trickle_bps is not None), None)
        if reply is not None and self._send_fault(reply, trickle):
            return
        try:
            results = owner.score(rows, ids)
        except Exception as e:  # the model's failure is the endpoint's: a 500, as a server would
            self._send(500, error_body(f"the model raised {type(e).__name__}: {e}", "server_error"))
            return
        out = []
        for i, result in zip(ids, results, strict=True):
            row_faults = [f for f in owner.faults if f.applies(i, attempt)]
            if any(f.drop for f in row_faults):
                continue
            for f in row_faults:
                result.update(dict(f.set_fields))
            out.append(result)
        owner._scored(len(out))
        self._send(200, {"predictions": out}, trickle=trickle)


class ScoringServer(LoopbackServer):
    """A scoring endpoint for `model` on 127.0.0.1 (see the module docstring). `features` are the model's inputs
    in order (default: the names it was fitted on); `positive` the class whose probability is the score (default:
    the model's last class)."""

    handler = _Handler
    thread_name = "harness-scoring-server"

    def __init__(self, model: Any, *, features: list[str] | None = None, positive: Any = None,
                 path: str = "/score", records_key: str = "instances", id_field: str | None = "id",
                 faults: Iterable[Fault] = (), delay_s: float = 0.0, api_key: str | None = None,
                 key_header: str = "Authorization", port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        super().__init__(faults=faults, delay_s=delay_s, api_key=api_key, key_header=key_header, port=port, tls=tls)
        from harness.tools.sklearn import SklearnTool

        names = features if features is not None else getattr(model, "feature_names_in_", None)
        if names is None:
            raise ValueError("the model does not name its inputs (feature_names_in_): pass features=[...]")
        self.features = [str(c) for c in names]
        classes = list(getattr(model, "classes_", [1]))
        self.positive = positive if positive is not None else classes[-1]
        self.tool = SklearnTool(model=model, name="scoring-server", _favorable=self.positive)
        self.path = "/" + path.strip("/")
        self.records_key = records_key
        self.id_field = id_field
        self.rows_scored = 0
        self.fields_seen: set[str] = set()  # every key of every record received: what left the client

    @classmethod
    def from_skops(cls, path: str | Path, **kwargs: Any) -> ScoringServer:
        """Serve the model in a skops file, loaded with the City's trusted types only (`harness.tools.sklearn`)."""
        from harness.tools.sklearn import load_skops
        from harness.tools.skops_trust import city_trusted

        return cls(load_skops(Path(path), city_trusted(None)), **kwargs)

    @property
    def url(self) -> str:
        """The scoring URL, what a manifest's `adapter.url` names."""
        return f"{self.origin}{self.path}"

    def reset_counts(self) -> None:
        super().reset_counts()
        with self._lock:
            self.rows_scored = 0
            self.fields_seen = set()

    def _saw(self, fields: set[str]) -> None:
        with self._lock:
            self.fields_seen |= fields

    def _scored(self, n: int) -> None:
        with self._lock:
            self.rows_scored += n

    def score(self, rows: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
        """{"id", "label", "score"} per row, from the model on the rows' features (a feature no row has is an
        error; one missing from some rows is NaN there, for the model to handle or refuse)."""
        import pandas as pd

        if not rows:
            return []
        absent = [f for f in self.features if not any(f in r for r in rows)]
        if absent:
            raise KeyError(f"no row has the feature(s) {absent}")
        frame = pd.DataFrame.from_records(rows, columns=self.features)
        preds = self.tool.predict_frame(frame)
        labels = [v.item() if isinstance(v, np.generic) else v for v in preds.labels.tolist()]
        scores = preds.scores.tolist() if preds.scores is not None else [None] * len(rows)
        return [{"id": i, "label": label, "score": score}
                for i, label, score in zip(ids, labels, scores, strict=True)]


def main(argv: list[str] | None = None) -> None:
    """Serve a skops model's predictions until interrupted."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m harness.testing.scoring_server", description=main.__doc__)
    parser.add_argument("model", help="a skops file (loaded with the City's trusted types only)")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key-env", default=None, help="require the key held by this environment variable")
    args = parser.parse_args(argv)
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    server = ScoringServer.from_skops(args.model, port=args.port, api_key=key)
    server.start()
    print(f"serving {args.model} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


__all__ = ["ScoringServer", "main"]

if __name__ == "__main__":
    main()
