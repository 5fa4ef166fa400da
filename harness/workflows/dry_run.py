"""`harness check tool.yaml --dataset NAME`: a vendor's (or an analyst's) dry run before an assessment.

It does what an assessment does up to the first scores, on a few rows, and stops: the manifest is validated (every
problem with its line), the policy's settings too, the dataset's sha256 verified, the tool built under the same
rules (endpoint allow-list, skops trust, sandbox), asked for a few rows, and its outputs held to what the
assessment will hold them to: labels that are values of the card's target (`check_labels`), the conformance
kit's adapter rules (one label per row, scores in [0, 1], text answers, the same outputs twice, `predict_frame`
on one row and none; `harness.testing.check_adapter`), and inputs among those the card gives tools
(`harness.workflows.vendor_inputs`). It then says what an assessment would run and roughly how long the tool's
part would take.

It records nothing, so a dry run is never evidence and never mistaken for it (policy 3.2: the record is the
assessment's): no MLflow store is opened (the policy is the one given or the packaged one, never read from a
store), no answer is cached (`use_cache=False`), no report is written. A file of outputs (`predictions`,
`responses`) is read for every row, since reading costs nothing and a missing id is the commonest mistake; a
tool that computes (a model, a callable, an endpoint) is asked `rows` rows.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, ToolConfigError

if TYPE_CHECKING:
    from harness.datasets import ReferenceDataset
    from harness.manifest import ToolManifest
    from harness.policy import Policy
    from harness.tools import Predictions, Tool

DEFAULT_ROWS = 20
"""Rows a computing tool is asked: enough to see its labels and scores, few enough for a paid endpoint."""


@dataclass(frozen=True)
class SuitePlan:
    name: str
    skipped: str | None  # why the suite would be SKIPPED on this dataset, None when it runs


@dataclass(frozen=True)
class DryRun:
    """What a dry run found: facts to print, and problems (each one sentence) that would stop or fail the
    assessment. An empty `problems` means the tool is ready to be assessed."""

    tool: str
    version: str
    kind: str
    category: str
    dataset: str
    rows_total: int
    rows_scored: int
    seconds: float
    inputs: list[str] | None
    labels: list[Any]
    label_space: list[Any]
    scores: bool
    answers: str | None
    suites: list[SuitePlan]
    policy: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def estimate_s(self) -> float | None:
        """The tool's scoring of every row, in proportion to the rows scored once the tool was warm (a first one-row
        call starts its worker, loads its model): an upper bound for a model that scores rows together, about right
        for an endpoint asked item by item; None for a file of outputs."""
        if self.rows_scored in (0, self.rows_total):
            return None
        return self.seconds / self.rows_scored * self.rows_total


def _subset(dataset: ReferenceDataset, rows: int) -> ReferenceDataset:
    """The first `rows` rows, with their ids (row numbers stay those of the whole file)."""
    return replace(dataset, frame=dataset.frame.iloc[:rows])


def _label_problems(preds: Predictions, dataset: ReferenceDataset, manifest: ToolManifest) -> tuple[list[Any],
                                                                                                     list[str]]:
    """The tool's distinct labels (quoted as messages quote them) and the labels outside the target's values, which
    the data-quality suite would FAIL (`check_labels` has already refused a tool none of whose labels match)."""
    import numpy as np
    import pandas as pd

    from harness.tools.labels import QUOTED, canonical, label_space, quoted

    if manifest.category == "generative" or preds.answers is not None or dataset.card.target is None:
        return [], []
    space = {canonical(v) for v in label_space(dataset)}
    seen = [u for u in pd.unique(pd.Series(np.asarray(preds.labels), dtype=object)) if canonical(u) is not None]
    outside = [u for u in seen if canonical(u) not in space]
    shown = [quoted(u) for u in seen[:QUOTED]]
    if not outside:
        return shown, []
    n = int(sum(canonical(v) not in space for v in np.asarray(preds.labels).tolist()))
    return shown, [f"{n} of {len(preds.labels)} labels are not values of the target "
                   f"{dataset.card.target.column!r} (e.g. {quoted(outside[0])!r}); map them with adapter.label_map "
                   f"or output {label_space(dataset)!r} (the data_quality suite FAILs a label outside them)"]


def _answers(answers: list[str]) -> str:
    """A generative tool's answers in a few words: how many, and how many decline."""
    from harness.measures.answers import abstentions

    declined = int(abstentions(answers).sum())
    return f"{len(answers):,} text answers, {declined:,} of them declining (\"I don't know\" or empty)"


def _skops_note(manifest: ToolManifest, policy: Policy) -> list[str]:
    """Where a skops model runs: in the harness process when the City trusts every type it holds (the harness list,
    `harness.tools.skops_trust`, plus the policy's `settings.sandbox.trusted_types`), else in the sandboxed worker,
    naming the types that send it there (a tree's node store, a function)."""
    if manifest.adapter.kind != "sklearn":
        return []
    from harness.tools.sklearn import untrusted_types
    from harness.tools.skops_trust import city_trusted

    path = manifest.resolve(manifest.adapter.path)  # type: ignore[attr-defined]
    others = untrusted_types(path, city_trusted(policy))
    if not others:
        return [f"{path.name} loads in the harness process: every type it holds is one the City trusts"]
    return [f"{path.name} runs in the sandboxed worker: it holds {others}, which the City does not trust in the "
            "harness process (settings.sandbox.trusted_types in the policy can add them; adapter.trusted cannot)"]


def _input_problems(tool: Tool, dataset: ReferenceDataset, given: set[str]) -> tuple[list[str] | None, list[str]]:
    """The columns the tool reads, and a problem when one is not among `given`, the inputs the card gives tools
    (the export a vendor scores: `harness datasets export-inputs`)."""
    reader = getattr(tool, "input_columns", None)
    if not callable(reader):
        return None, []
    columns = [str(c) for c in reader(dataset)]  # refuses the target and protected attributes not given tools
    beyond = [c for c in columns if c not in given]
    if beyond:
        return columns, [f"the tool reads {beyond}, which the card does not give tools (its inputs are the "
                         f"features {list(dataset.card.features)}); name its inputs with adapter.input_columns"]
    return columns, []


def dry_run(manifest_path: str | Path, dataset_name: str, *, rows: int = DEFAULT_ROWS, suites: list[str] | None = None,
            policy_path: str | Path | None = None, data_dir: str | Path | None = None) -> DryRun:
    """Check the tool at `manifest_path` against `dataset_name` without recording anything (see the module)."""
    from harness.datasets import load_dataset
    from harness.manifest import load_manifest
    from harness.plugins import resolve
    from harness.policy import load_policy
    from harness.policy_check import require_valid_settings
    from harness.testing import check_adapter
    from harness.tiering import require_tier
    from harness.tools import can_call, can_generate, load_tool
    from harness.tools.labels import check_labels, label_space
    from harness.workflows.vendor_inputs import tool_inputs

    if rows < 1:
        raise ConfigError(f"--rows {rows}: ask the tool for at least one row")
    manifest = load_manifest(manifest_path)
    policy = load_policy(policy_path)
    require_valid_settings(policy, policy_path)
    # what `harness submit` would refuse (a new version: a missing questionnaire is not grandfathered; issue 16)
    require_tier(manifest, policy, f"tool manifest {manifest_path}")
    suite_objs = resolve(suites, manifest.category, policy.required_suites)
    if getattr(manifest.adapter, "model_uri", None):
        raise ConfigError(f"tool manifest {manifest_path}: adapter.model_uri is downloaded from the MLflow store when "
                          "the tool is assessed, and a dry run reads no store; check a local copy of the model "
                          "(adapter.path: the model folder)")
    dataset = load_dataset(dataset_name, data_dir)
    plans = [SuitePlan(s.name, s.applies_to(dataset)) for s in suite_objs]
    given = set(tool_inputs(dataset).columns)  # judged on every row: a leaky card stops here, before the tool runs
    tool = load_tool(manifest, use_cache=False, policy=policy)
    problems: list[str] = []
    try:
        computes = can_call(tool) or can_generate(tool)
        sample = _subset(dataset, rows) if computes else dataset
        inputs, found = _input_problems(tool, sample, given)
        problems += found
        if computes:  # a first call starts a worker, loads a model, opens a connection: not part of the estimate
            tool.predict(_subset(dataset, 1))
        started = time.perf_counter()
        preds = tool.predict(sample)
        seconds = time.perf_counter() - started
        preds = check_labels(preds, sample, manifest)  # none of its labels a target value: ToolConfigError, exit 2
        labels, found = _label_problems(preds, sample, manifest)
        problems += found
        answers = None if preds.answers is None else _answers(preds.answers)
        errors = [e for e in (preds.errors or []) if e is not None]
        if errors and manifest.category != "generative":
            problems.append(f"the tool gave no usable output for {len(errors)} of {len(preds.labels)} rows (first: "
                            f"{errors[0]}); an assessment counts them as a blocking ERROR")
        elif errors:
            problems.append(f"the tool failed {len(errors)} of {len(preds.labels)} items (first: {errors[0]})")
        problems += [str(f) for f in check_adapter(tool, sample, on_fail=None)]
        notes = [*_skops_note(manifest, policy), *(str(n) for n in getattr(tool, "notes", None) or [])]
    finally:
        close = getattr(tool, "close", None)
        if callable(close):
            close()
    if all(p.skipped for p in plans):
        problems.append(f"no suite the policy requires for a {manifest.category} tool applies to dataset "
                        f"{dataset.name!r} ({dataset.card.task}): " + "; ".join(p.skipped or "" for p in plans))
    return DryRun(tool=manifest.id, version=manifest.version, kind=manifest.adapter.kind, category=manifest.category,
                  dataset=dataset.name, rows_total=len(dataset.frame), rows_scored=len(sample.frame),
                  seconds=seconds, inputs=inputs, labels=labels, label_space=label_space(dataset),
                  scores=preds.scores is not None, answers=answers, suites=plans, policy=policy.label,
                  problems=problems, notes=notes)


def refuse_problems(run: DryRun) -> None:
    """One error (exit 2) listing every problem the dry run found, each a sentence; nothing when there is none."""
    if run.problems:
        raise ToolConfigError(f"tool {run.tool!r} is not ready to be assessed on {run.dataset!r}: "
                              + "; ".join(run.problems), rule="dry-run")


__all__ = ["DEFAULT_ROWS", "DryRun", "SuitePlan", "dry_run", "refuse_problems"]
