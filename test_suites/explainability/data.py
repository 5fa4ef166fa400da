"""What every explainability check reads, built once per dataset and cached on the check context: the seeded
sample of reference rows, the tool's decisions on it (from the assessment's one prediction, never asked again),
the permutation importances of its inputs, and which inputs are protected attributes or their proxies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.datasets import matches
from harness.measures.proxies import AUC, CRAMERS_V, ProxyScore, detect_proxies
from harness.tools.base import can_call
from test_suites.explainability.importance import Importances, permutation_importance, scorer
from test_suites.explainability.settings import SUITE, settings_of

if TYPE_CHECKING:
    import pandas as pd

    from harness.check import CheckContext
    from harness.tools.base import CallableTool

SAMPLE = "explainability.sample"
IMPORTANCE = "explainability.importance"
SENSITIVE = "explainability.sensitive"

NOT_CALLABLE = ("the tool's outputs were supplied as a file, so it cannot be called on changed inputs; "
                "explanations not available")
NO_EXPLANATIONS = (
    "explanations not available: the tool's outputs were supplied as a file without reason codes, so neither the "
    "inputs it relies on nor the reasons for its decisions can be measured (a vendor may add a reason-codes column: "
    "adapter.reason_column in tool.yaml; or submit the model or an endpoint)")


def favourable(ctx: CheckContext, labels: Any) -> np.ndarray:
    """1 where a label is the card's favourable outcome; `matches` runs on the distinct labels only."""
    import pandas as pd

    target = ctx.dataset.card.target
    assert target is not None  # the suite runs on binary-classification cards, which name a target
    codes, uniques = pd.factorize(np.asarray(labels), use_na_sentinel=True)
    hit = np.append(matches(np.asarray(uniques), target.favorable_value), False)
    return hit[codes].astype(np.int8)


def callable_tool(ctx: CheckContext) -> CallableTool | None:
    return ctx.tool if ctx.tool is not None and can_call(ctx.tool) else None


@dataclass(frozen=True)
class Sample:
    """A seeded sample of the reference rows and the tool's outputs on them."""

    rows: np.ndarray                # positions in the dataset, ascending
    total: int                      # rows in the dataset
    inputs: tuple[str, ...]         # the columns the tool reads
    inputs_known: bool              # False: the card's features stand in for unknown inputs
    frame: pd.DataFrame             # the tool's inputs on the sampled rows, with the dataset's own row labels
    decisions: np.ndarray           # 1 = favourable, from the assessment's predictions
    scores: np.ndarray | None
    outcome: np.ndarray             # the card's target, 1 = favourable

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def sampled(self) -> str:
        """'on a seeded sample of 5,000 of 32,561 rows', or 'on all 600 rows'."""
        if self.n < self.total:
            return f"on a seeded sample of {self.n:,} of {self.total:,} rows"
        return f"on all {self.total:,} rows"


def seeded_rows(ctx: CheckContext, salt: str, size: int) -> np.ndarray:
    """`size` row positions drawn without replacement by the check context's generator for `salt`, ascending;
    every row when the data have no more."""
    n = len(ctx.frame)
    if n <= size:
        return np.arange(n)
    return np.sort(ctx.rng(salt).choice(n, size, replace=False))


def sample(ctx: CheckContext, size: int | None = None, salt: str = SAMPLE) -> Sample:
    """The suite's sample (`settings.max_rows` rows, cached), or another seeded one of `size` rows."""
    key = f"{salt}.{'default' if size is None else size}"
    if key in ctx.cache:
        cached: Sample = ctx.cache[key]
        return cached
    size = settings_of(ctx).max_rows if size is None else size
    rows = seeded_rows(ctx, salt, size)
    inputs, known = ctx.tool_inputs()
    preds = ctx.predictions
    out = Sample(rows=rows, total=len(ctx.frame), inputs=tuple(inputs), inputs_known=known,
                 frame=ctx.frame.iloc[rows][inputs],
                 decisions=favourable(ctx, np.asarray(preds.labels)[rows]),
                 scores=None if preds.scores is None else np.asarray(preds.scores, dtype=float)[rows],
                 outcome=ctx.dataset.y_favorable[rows])
    ctx.cache[key] = out
    return out


def predictor(ctx: CheckContext, tool: CallableTool) -> Any:
    """A frame -> (favourable 0/1 decisions, scores or None), through the tool's own `predict_frame`."""
    def predict(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        p = tool.predict_frame(frame)
        return favourable(ctx, p.labels), None if p.scores is None else np.asarray(p.scores, dtype=float)
    return predict


@dataclass(frozen=True)
class Importance:
    """The permutation importances of the sample, with what they were computed against."""

    sample: Sample
    result: Importances
    scoring: str          # the outcome's score (settings.scoring, or balanced accuracy without scores)
    scoring_note: str     # why the scoring differs from the policy's, or ""

    def rank(self) -> dict[str, int]:
        """1 = the input whose scrambling changes the most decisions (ties in input order)."""
        mean = self.result.mean("decisions")
        order = sorted(range(len(mean)), key=lambda j: (-mean[j], j))
        return {self.result.features[j]: r + 1 for r, j in enumerate(order)}


def importance(ctx: CheckContext) -> Importance:
    """Permutation importance of every input on the sample, against the outcome and the tool's own decisions
    (cached: the reliance checks read the same numbers). Only for a tool that can be called."""
    if IMPORTANCE in ctx.cache:
        cached: Importance = ctx.cache[IMPORTANCE]
        return cached
    tool = callable_tool(ctx)
    assert tool is not None
    s, settings = sample(ctx), settings_of(ctx)
    scoring, note = settings.scoring, ""
    if scoring == "roc_auc" and s.scores is None:
        scoring, note = "balanced_accuracy", "the tool gives no scores, so balanced accuracy stands in for AUC"
    random_state = int(ctx.rng("explainability.importance").integers(0, np.iinfo(np.int32).max))
    result = permutation_importance(
        predictor(ctx, tool), s.frame, s.decisions, s.scores,
        {"outcome": scorer(scoring, s.outcome), "decisions": scorer("accuracy", s.decisions)},
        repeats=settings.repeats, random_state=random_state)
    out = Importance(sample=s, result=result, scoring=scoring, scoring_note=note)
    ctx.cache[IMPORTANCE] = out
    return out


@dataclass(frozen=True)
class Sensitive:
    """Inputs that are protected attributes or stand in for one."""

    protected: tuple[str, ...]                    # every protected attribute of the card
    proxies: tuple[ProxyScore, ...]               # input x attribute pairs over the policy's limit, or declared
    declared: frozenset[tuple[str, str]]          # (feature, attribute) pairs the card declares as proxies
    limits: dict[str, float]

    def of(self, attribute: str) -> set[str]:
        """The attribute and every input that is its proxy."""
        return {attribute} | {p.feature for p in self.proxies if p.protected == attribute}

    @property
    def features(self) -> set[str]:
        return set(self.protected) | {p.feature for p in self.proxies}

    def proxy_reason(self, p: ProxyScore) -> str:
        """'Cramér's V with race 0.65 (limit 0.30)', plus 'declared by the dataset card' when it is."""
        label = "Cramér's V" if p.measure == CRAMERS_V else "one-feature AUC"
        figure = f"{label} with {p.protected} {p.value:.2f}"
        limit = self.limits.get(p.measure)
        if limit is not None:
            figure += f" (limit {limit:.2f})"
        if (p.feature, p.protected) in self.declared:
            figure += ("; declared a proxy by the dataset card" if p.exceeds
                       else "; declared a proxy by the dataset card, though under the limit here")
        return figure


def sensitive(ctx: CheckContext) -> Sensitive:
    """The protected attributes and the tool's inputs that are proxies for one: over the limits the bias suite's
    proxies check uses (`bias.proxies.cramers_v` and `bias.proxies.auc` at the tool's tier, read from the policy
    the same way), measured on the whole reference data as that check does, or declared by the card."""
    if SENSITIVE in ctx.cache:
        cached: Sensitive = ctx.cache[SENSITIVE]
        return cached
    card = ctx.dataset.card
    protected = tuple(card.protected_attributes)
    inputs, _ = ctx.tool_inputs()
    limits = {m: lim for m in (CRAMERS_V, AUC) if (lim := ctx.limit("bias", "proxies", m)) is not None}
    declared = frozenset((f, a) for a, spec in card.protected_attributes.items() for f in spec.proxies)
    features = [c for c in inputs if c not in protected and c in ctx.frame.columns]
    scores = detect_proxies(ctx.frame, features, protected, limits) if features and protected else []
    kept = tuple(s for s in scores if s.exceeds or (s.feature, s.protected) in declared)
    out = Sensitive(protected=protected, proxies=kept, declared=declared, limits=limits)
    ctx.cache[SENSITIVE] = out
    return out


__all__ = ["NOT_CALLABLE", "NO_EXPLANATIONS", "SUITE", "Importance", "Sample", "Sensitive", "callable_tool",
           "favourable", "importance", "predictor", "sample", "seeded_rows", "sensitive"]
