"""Counterfactual prompts: the bias suite's check for generative tools (policy 2.1: departments must
"actively mitigate the risk of reinforcing harmful stereotypes or discrimination"; 4.3: success criteria
reference civil-rights benchmarks).

A correspondence audit (Bertrand and Mullainathan 2004) run on a chatbot: the same templated request
about a City service (`prompt_templates.yaml`) is put to the tool once per name, pronoun or stated
ethnicity, everything else kept, and the two answers of each pair are compared on the same case. A
decision that changes when only the name changes is the generative analogue of the classifier's
counterfactual flip (`bias.counterfactual.flip_rate`).

Per swap dimension and pair (A vs B), over the template x filler cells both sides answered:

- `decision_change_rate`: share of cells whose decisions differ, Wilson interval (judged by the policy);
- `refusal_rate_difference`: A's refusal rate minus B's;
- `length_difference`: mean of |words_A - words_B| / max(words_A, words_B) (0 when both are empty);
- `token_overlap`: mean SQuAD token F1 between the two answers (1 = the same words);

the last three with paired percentile-bootstrap intervals over the cells.
"""
from __future__ import annotations

import itertools
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.check import Check, CheckContext, CheckOutput, Measurement, cannot_generate, unanswered
from harness.errors import CheckError, ConfigError
from harness.findings import Finding, Severity, Status
from harness.measures.answers import DEFAULT_ABSTENTION_PHRASES, AbstentionRule, compute_f1, normalize_folded
from harness.tools.base import can_generate
from test_suites.bias.data import SUITE

CHECK = "counterfactual_prompts"
PRONOUN_FORMS = ("subject", "Subject", "object", "possessive", "Possessive", "is", "has", "was", "s")
SLOTS = ("name", "pronoun", "resident")
OUTCOMES = ("positive", "negative", "refused", "unclear")
EXAMPLES = 20


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionSpec(_Spec):
    instruction: str
    positive: list[str] = Field(min_length=1)
    negative: list[str] = Field(min_length=1)


class Dimension(_Spec):
    slot: str
    description: str = ""
    groups: dict[str, list[str]] = Field(min_length=2)
    pairs: list[tuple[str, str]] | None = None

    @model_validator(mode="after")
    def _valid(self) -> Dimension:
        if self.slot not in SLOTS:
            raise ValueError(f"slot {self.slot!r} is not one of {list(SLOTS)}")
        empty = [g for g, v in self.groups.items() if not v]
        if empty:
            raise ValueError(f"group(s) {empty} list no values")
        unknown = sorted({g for p in self.pairs or () for g in p} - set(self.groups))
        if unknown:
            raise ValueError(f"pairs name group(s) {unknown} that are not among the groups")
        return self

    def pair_list(self) -> list[tuple[str, str]]:
        return list(self.pairs) if self.pairs is not None else list(itertools.combinations(self.groups, 2))


class Template(_Spec):
    id: str
    decision: str
    request: str
    context: str
    fillers: list[dict[str, Any]] = Field(min_length=1)


class PromptTemplates(_Spec):
    version: str
    decision_window: int = Field(8, ge=1)
    refusal_phrases: list[str] = Field(default_factory=list)
    decisions: dict[str, DecisionSpec]
    defaults: dict[str, str]
    pronouns: dict[str, dict[str, str]]
    dimensions: dict[str, Dimension]
    templates: list[Template] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PromptTemplates:
        if missing := [s for s in SLOTS if s not in self.defaults]:
            raise ValueError(f"defaults must set {list(SLOTS)}; missing {missing}")
        for p, forms in self.pronouns.items():
            if lacking := [f for f in PRONOUN_FORMS if f not in forms]:
                raise ValueError(f"pronoun {p!r} lacks the form(s) {lacking}")
        pronoun_values = {self.defaults["pronoun"]} | {v for d in self.dimensions.values() if d.slot == "pronoun"
                                                       for vs in d.groups.values() for v in vs}
        if unknown := sorted(pronoun_values - set(self.pronouns)):
            raise ValueError(f"pronoun(s) {unknown} are used but not defined under `pronouns`")
        ids = [t.id for t in self.templates]
        if len(set(ids)) != len(ids):
            raise ValueError(f"template ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        for t in self.templates:
            if t.decision not in self.decisions:
                raise ValueError(f"template {t.id!r}: decision {t.decision!r} is not one of {list(self.decisions)}")
            fields = {f for _, f, _, _ in string.Formatter().parse(t.context) if f}
            known = {"name", "resident", *PRONOUN_FORMS}
            for i, filler in enumerate(t.fillers):
                if missing := sorted(fields - known - set(filler)):
                    raise ValueError(f"template {t.id!r}, filler {i}: no value for {missing}")
                if clash := sorted(set(filler) & known):
                    raise ValueError(f"template {t.id!r}, filler {i}: {clash} are slots, not filler fields")
        return self

    def refusal_rule(self) -> AbstentionRule:
        return AbstentionRule(phrases=(*DEFAULT_ABSTENTION_PHRASES, *self.refusal_phrases))


def load_templates(path: str | Path | None = None) -> PromptTemplates:
    """The bundled templates, or a YAML file of the same shape (a department's own requests)."""
    if path is None:
        return _bundled()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read counterfactual prompt templates {p}: {e.strerror}") from None
    return _parse(text, str(p))


@lru_cache(maxsize=1)
def _bundled() -> PromptTemplates:
    text = resources.files("test_suites.bias").joinpath("prompt_templates.yaml").read_text(encoding="utf-8")
    return _parse(text, "the bundled prompt_templates.yaml")


def _parse(text: str, where: str) -> PromptTemplates:
    try:
        data = yaml.safe_load(text)
        return PromptTemplates.model_validate(data)
    except yaml.YAMLError as e:
        raise ConfigError(f"counterfactual prompt templates in {where} are not valid YAML: {e}") from None
    except ValidationError as e:
        first = e.errors()[0]
        at = ".".join(str(x) for x in first["loc"]) or "the top level"
        raise ConfigError(f"counterfactual prompt templates in {where}, at {at}: {first['msg']}") from None


# --------------------------------------------------------------------------------------------------
# Reading a decision

def _tokens(text: str | None) -> list[str]:
    return normalize_folded(text).split()


def decision_of(answer: str | None, spec: DecisionSpec, window: int, refusal: AbstentionRule) -> str:
    """'positive' / 'negative' by the rule on the answer's first words (module docstring of the YAML),
    else 'refused' when the answer declines (empty, or a refusal phrase), else 'unclear'."""
    words = _tokens(answer)[:window]
    phrases = sorted([(tuple(_tokens(p)), "positive") for p in spec.positive]
                     + [(tuple(_tokens(p)), "negative") for p in spec.negative], key=lambda x: -len(x[0]))
    for start in range(len(words)):
        for phrase, label in phrases:
            if phrase and tuple(words[start:start + len(phrase)]) == phrase:
                return label
    return "refused" if refusal.matches(answer) else "unclear"


def length_difference(a: str, b: str) -> float:
    la, lb = len(a.split()), len(b.split())
    return abs(la - lb) / max(la, lb) if max(la, lb) else 0.0


def token_overlap(a: str, b: str) -> float:
    """SQuAD token F1 between two answers (symmetric; 1.0 when both are empty)."""
    return compute_f1(a, b)


# --------------------------------------------------------------------------------------------------
# Prompts

@dataclass(frozen=True)
class Prompt:
    id: str
    dimension: str
    group: str
    cell: int
    template: str
    filler: int
    context: str
    question: str


def build_prompts(spec: PromptTemplates) -> tuple[list[Prompt], list[tuple[Template, int]]]:
    """Every template x filler cell, rendered once per group of every dimension. Cell i takes each
    group's value i mod its length, so a pair always compares two values on the same case."""
    cells = [(t, i) for t in spec.templates for i in range(len(t.fillers))]
    prompts = []
    for dim_name, dim in spec.dimensions.items():
        for group, values in dim.groups.items():
            for c, (t, i) in enumerate(cells):
                slots = {**spec.defaults, dim.slot: values[c % len(values)]}
                fields = {**t.fillers[i], "name": slots["name"], "resident": slots["resident"],
                          **spec.pronouns[slots["pronoun"]]}
                context = " ".join(t.context.format(**fields).split())
                question = f"{t.request} {spec.decisions[t.decision].instruction}"
                prompts.append(Prompt(f"{t.id}#{i}:{dim_name}={group}", dim_name, group, c, t.id, i, context,
                                      question))
    return prompts, cells


def _bootstrap(values: np.ndarray, rng: np.random.Generator, b: int, conf: float) -> tuple[float, float]:
    from harness.stats import percentile_interval

    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    means = values[rng.integers(0, n, size=(b, n))].mean(axis=1)
    lo, hi = percentile_interval(means, conf)
    return float(lo), float(hi)


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:.1%}"


class CounterfactualPrompts(Check):
    """Decision changes, refusal gaps and answer differences when only a name, a pronoun or a stated
    ethnicity changes in a templated request."""

    name = CHECK
    description = ("Templated City-service requests with names, pronouns and stated ethnicity swapped, everything "
                   "else kept: how often the decision changes and how far the answers differ, per swap pair.")
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        import pandas as pd

        from harness.stats import wilson_interval

        out = CheckOutput()
        if (f := cannot_generate(SUITE, self, ctx, "decision_change_rate", "the counterfactual prompts")) is not None:
            out.findings.append(f)
            return out
        spec = load_templates()
        prompts, cells = build_prompts(spec)
        items = pd.DataFrame({"id": [p.id for p in prompts], "context": [p.context for p in prompts],
                              "question": [p.question for p in prompts]})
        tool = ctx.tool
        assert tool is not None and can_generate(tool)  # cannot_generate above returned None
        preds = tool.generate(items)
        answers = list(preds.answers) if preds.answers is not None else []
        if len(answers) != len(prompts):
            raise CheckError(f"the tool returned {len(answers)} answers for {len(prompts)} counterfactual prompts; "
                             f"expected one per prompt")
        errors = list(preds.errors) if preds.errors is not None else [None] * len(prompts)
        answers = [a if isinstance(a, str) else "" for a in answers]
        failed = np.array([e is not None for e in errors], dtype=bool)
        if (f := unanswered(SUITE, self, ctx, "decision_change_rate", [p.id for p in prompts], errors,
                            "counterfactual prompts", "their cells are left out of every pair they belong to")):
            out.findings.append(f)
        refusal = spec.refusal_rule()
        decisions = spec.decisions
        by_template = {t.id: t for t in spec.templates}
        outcome = [decision_of(a, decisions[by_template[p.template].decision], spec.decision_window, refusal)
                   for p, a in zip(prompts, answers, strict=True)]
        where = {(p.dimension, p.group, p.cell): k for k, p in enumerate(prompts)}
        conf, boot = ctx.policy.confidence_level, ctx.policy.bootstrap_samples
        limit = ctx.limit(SUITE, CHECK, "decision_change_rate")
        rows: list[dict[str, Any]] = []
        examples: list[dict[str, Any]] = []
        groups_rows: list[dict[str, Any]] = []
        for dim_name, dim in spec.dimensions.items():
            for group in dim.groups:
                idx = [where[(dim_name, group, c)] for c in range(len(cells))]
                ok = [k for k in idx if not failed[k]]
                counts = {o: sum(outcome[k] == o for k in ok) for o in OUTCOMES}
                groups_rows.append({"dimension": dim_name, "group": group, "answered": len(ok), **counts,
                                    "positive_share": counts["positive"] / len(ok) if ok else None})
            for a, b in dim.pair_list():
                label = f"{dim_name}.{a}_vs_{b}"
                ia = np.array([where[(dim_name, a, c)] for c in range(len(cells))])
                ib = np.array([where[(dim_name, b, c)] for c in range(len(cells))])
                keep = ~failed[ia] & ~failed[ib]
                ia, ib = ia[keep], ib[keep]
                n = len(ia)
                if n < ctx.policy.min_group_size:
                    out.findings.append(Finding(
                        suite=SUITE, check=CHECK, metric="decision_change_rate", status=Status.INSUFFICIENT,
                        severity=Severity.BLOCKING, value=float(n), threshold=float(ctx.policy.min_group_size),
                        greater_is_better=True, group=label, n=n, policy_section=self.policy_section,
                        dataset=ctx.dataset.name,
                        message=(f"only {n} cells of {dim_name} {a} vs {b} were answered on both sides, under the "
                                 f"policy minimum of {ctx.policy.min_group_size}: the pair cannot be judged")))
                    continue
                changed = np.array([outcome[i] != outcome[j] for i, j in zip(ia, ib, strict=True)])
                k = int(changed.sum())
                lo, hi = wilson_interval(k, n, conf)
                rng = ctx.rng(f"{SUITE}.{CHECK}.{label}")
                ref_a = np.array([outcome[i] == "refused" for i in ia], dtype=float)
                ref_b = np.array([outcome[j] == "refused" for j in ib], dtype=float)
                lengths = np.array([length_difference(answers[i], answers[j]) for i, j in zip(ia, ib, strict=True)])
                overlap = np.array([token_overlap(answers[i], answers[j]) for i, j in zip(ia, ib, strict=True)])
                pair = {"dimension": dim_name, "a": a, "b": b}
                change = Measurement(SUITE, CHECK, "decision_change_rate", k / n, float(lo), float(hi), group=label,
                                     n=n, details={**pair, "changed": k})
                refusal_diff = Measurement(SUITE, CHECK, "refusal_rate_difference", float(ref_a.mean() - ref_b.mean()),
                                           *_bootstrap(ref_a - ref_b, rng, boot, conf), group=label, n=n,
                                           details={**pair, "refusal_rate_a": float(ref_a.mean()),
                                                    "refusal_rate_b": float(ref_b.mean())})
                length = Measurement(SUITE, CHECK, "length_difference", float(lengths.mean()),
                                     *_bootstrap(lengths, rng, boot, conf), group=label, n=n, details=pair)
                words = Measurement(SUITE, CHECK, "token_overlap", float(overlap.mean()),
                                    *_bootstrap(overlap, rng, boot, conf), group=label, n=n, details=pair)
                out.measurements += [change, refusal_diff, length, words]
                allowed = f"; the policy allows at most {limit:.0%}" if limit is not None else ""
                out.messages[change.key] = (
                    f"Swapping only the {dim_name} ({a} vs {b}) in {n} templated requests changed the decision in "
                    f"{k} ({_pct(k / n)}, {conf:.0%} CI {_pct(float(lo))}–{_pct(float(hi))}){allowed}.")
                out.messages[refusal_diff.key] = (
                    f"{dim_name} {a} vs {b}: refused {_pct(ref_a.mean())} vs {_pct(ref_b.mean())} of the requests "
                    f"(difference {refusal_diff.value:+.1%}).")
                out.messages[length.key] = (f"{dim_name} {a} vs {b}: answers differ in length by "
                                            f"{length.value:.1%} on average (relative to the longer answer).")
                out.messages[words.key] = (f"{dim_name} {a} vs {b}: mean token F1 between the paired answers "
                                           f"{words.value:.2f} (1 = the same words).")
                rows.append({**pair, "cells": n, "decision_changes": k, "decision_change_rate": k / n,
                             "ci_low": float(lo), "ci_high": float(hi), "refusal_rate_a": float(ref_a.mean()),
                             "refusal_rate_b": float(ref_b.mean()), "length_difference": length.value,
                             "token_overlap": words.value})
                for i, j in zip(ia[changed], ib[changed], strict=True):
                    if len(examples) >= EXAMPLES:
                        break
                    examples.append({**pair, "template": prompts[i].template, "case": prompts[i].filler,
                                     "decision_a": outcome[i], "decision_b": outcome[j],
                                     "answer_a": _excerpt(answers[i]), "answer_b": _excerpt(answers[j])})
        out.tables[f"{SUITE}.{CHECK}"] = rows
        out.tables[f"{SUITE}.{CHECK}.decisions"] = groups_rows
        out.tables[f"{SUITE}.{CHECK}.changed_examples"] = examples
        return out


def _excerpt(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["CounterfactualPrompts", "PromptTemplates", "build_prompts", "decision_of", "length_difference",
           "load_templates", "token_overlap"]
