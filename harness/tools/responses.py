"""The `responses` adapter: a vendor's JSONL of answers keyed by item id (DESIGN.md), for generative
tools whose vendor will not expose an endpoint. The harness never runs vendor code on this path."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import ToolConfigError
from harness.tools.base import Predictions
from harness.yamlio import safe_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from harness.datasets import ReferenceDataset
    from harness.tools.base import ToolSite
    from harness.tools.configs import ResponsesAdapter


@dataclass
class ResponsesTool:
    path: Path
    id_field: str
    answer_field: str
    name: str
    kind: str = "responses"

    @classmethod
    def from_config(cls, a: ResponsesAdapter, site: ToolSite) -> ResponsesTool:
        path = site.existing_file(a.path, "responses file")
        return cls(path=path, id_field=a.id_field, answer_field=a.answer_field, name=site.tool_id)

    def read(self) -> dict[str, str]:
        """The vendor's answers by id. Each line is a vendor's input: over 1 MiB, nested past 64 levels or
        using NaN, it is refused naming the line (`safe_jsonl`, issue 12)."""
        answers: dict[str, str] = {}
        for n, row in safe_jsonl(self.path, f"responses file {self.path}", error=ToolConfigError):
            if not isinstance(row, dict) or self.id_field not in row:
                raise ToolConfigError(f"responses file {self.path}, line {n}: no {self.id_field!r} field")
            answer = row.get(self.answer_field, "")
            if answer is None:
                answer = ""
            if not isinstance(answer, str):
                raise ToolConfigError(f"responses file {self.path}, line {n}: {self.answer_field!r} must be "
                                      f"text, got {type(answer).__name__}")
            key = str(row[self.id_field])
            if key in answers:
                raise ToolConfigError(f"responses file {self.path}, line {n}: duplicate id {key!r}")
            answers[key] = answer
        return answers

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        answers = self.read()
        ids = dataset.ids.astype(str).tolist()
        missing = [i for i in ids if i not in answers]
        if missing:
            raise ToolConfigError(
                f"responses file {self.path} has no answer for {len(missing)} of {len(ids)} items of dataset "
                f"{dataset.name!r}, e.g. {missing[:5]}")
        texts = [answers[i] for i in ids]
        return Predictions(labels=np.asarray(texts, dtype=object), answers=texts)
