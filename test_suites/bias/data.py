"""What every bias check reads: per-grouping confusion counts, their bootstrap draws and the
reference group, built once per dataset and cached on the check context."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.check import Check, CheckContext
from harness.check import note as check_note
from harness.datasets import matches
from harness.findings import Finding, Status
from harness.measures.coding import ColumnCodes
from harness.measures.counts import Grouping, bootstrap_counts, build_groupings, confusion_counts
from test_suites.bias import metrics as M

SUITE = "bias"


@dataclass(frozen=True)
class GroupingData:
    grouping: Grouping
    counts: np.ndarray          # groups x [TN, FP, FN, TP], weighted when the card names weights
    rows: np.ndarray            # the same table in rows (unweighted): sizes and significance tests
    boot: np.ndarray            # B x groups x 4 bootstrap draws of `counts`
    eligible: np.ndarray        # groups with at least the policy's min_group_size rows
    reference: int              # the reference group, named in every finding
    reference_source: str       # where the reference came from: the card or the policy's rule
    min_size: int = 30          # the policy's min_group_size, applied to each rate's denominator too
    squares: np.ndarray | None = None  # sums of squared weights per cell (weighted data only)

    @property
    def sizes(self) -> np.ndarray:
        return self.rows.sum(axis=1)

    def denominators(self, metric: str) -> np.ndarray:
        """Rows behind each group's rate (a false-positive rate rests on the group's negatives only)."""
        return self.rows[:, list(M.RATES[metric][2])].sum(axis=1)

    def eligible_for(self, metric: str) -> np.ndarray:
        """Groups whose rate is judged: the group and the rate's own denominator are both at least
        min_group_size (a false-positive rate computed on 8 people is INSUFFICIENT, whatever the group's size)."""
        return self.eligible & (self.denominators(metric) >= self.min_size)

    def effective(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(successes, trials) per group behind a rate, for Wilson intervals and tests. Weighted data use
        Kish's effective sample size, not the sum of the weights (which would make intervals far too narrow)."""
        from harness.stats import effective_size

        _, num, den = M.RATES[metric]
        if self.squares is None:
            return self.rows[:, list(num)].sum(axis=1).astype(float), self.rows[:, list(den)].sum(axis=1).astype(float)
        n_eff = effective_size(self.counts[:, list(den)].sum(axis=1), self.squares[:, list(den)].sum(axis=1))
        return M.RATES[metric][0](self.counts) * n_eff, n_eff

    @property
    def key(self) -> str:
        return self.grouping.key

    @property
    def names(self) -> list[str]:
        return self.grouping.names


@dataclass(frozen=True)
class BiasData:
    groupings: list[GroupingData]
    y_true: np.ndarray
    y_pred: np.ndarray
    scores: np.ndarray | None
    pooled: np.ndarray          # counts of the whole population, [TN, FP, FN, TP]
    pooled_boot: np.ndarray     # B x 4


def note(check: Check, ctx: CheckContext, metric: str, why: str, status: Status = Status.SKIPPED, *,
         not_applicable: bool = False) -> Finding:
    return check_note(SUITE, check, ctx, metric, why, status, not_applicable=not_applicable)


def pick_reference(g: Grouping, counts: np.ndarray, eligible: np.ndarray, rule: str) -> tuple[int, str]:
    """The card's reference group when it is present and large enough, else the policy's rule:
    the largest group, or the group with the most favourable selection rate."""
    if g.reference is not None and eligible[g.reference]:
        return g.reference, "dataset card"
    pool = np.flatnonzero(eligible) if eligible.any() else np.arange(len(counts))
    if rule == "most_favourable":
        sel = M.selection_rate(counts[pool])
        return int(pool[int(np.nanargmax(sel))]), "policy rule: most favourable selection rate"
    return int(pool[int(np.argmax(counts[pool].sum(axis=1)))]), "policy rule: largest group"


def _weighted_boot(rows: np.ndarray, counts: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap of weighted counts: rows are redrawn (multinomially per group), each cell's draw
    scaled by that cell's mean weight. Exact for the row counts; for the weighted table it keeps each
    cell's mean weight fixed, a documented approximation of resampling weighted rows."""
    draws = bootstrap_counts(rows, samples, rng).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_w = np.where(rows > 0, counts / np.where(rows > 0, rows, 1), 0.0)
    return draws * mean_w


def column_codes(ctx: CheckContext) -> ColumnCodes:
    """The assessed frame's columns, each coded once for every bias check (harness.measures.coding)."""
    if "bias.columns" not in ctx.cache:
        ctx.cache["bias.columns"] = ColumnCodes(ctx.frame)
    return ctx.cache["bias.columns"]


def bias_data(ctx: CheckContext) -> BiasData:
    """Counts, bootstrap draws and references for every grouping, computed once per dataset."""
    if "bias" in ctx.cache:
        return ctx.cache["bias"]
    card = ctx.dataset.card
    assert card.target is not None  # a binary-classification card must give one; QA goes to bias.generative
    fav = card.target.favorable_value
    # a production sample whose outcomes are not known yet: only the selection-rate checks are listed
    # (BiasSuite.checks), and they read the predicted side of the cells alone, so the true side is a placeholder
    y_true = ctx.dataset.y_favorable if ctx.dataset.outcomes_known else np.zeros(len(ctx.frame), dtype=np.int8)
    y_pred = matches(ctx.predictions.labels, fav).astype(np.int8)
    weights = ctx.dataset.weights
    refs: dict[str, object] = {a: p.reference for a, p in card.protected_attributes.items()}
    rng = ctx.rng("bias.bootstrap")
    samples = ctx.policy.bootstrap_samples
    out = []
    for g in build_groupings(ctx.frame, refs, codes=column_codes(ctx)):
        rows = confusion_counts(g.codes, len(g.labels), y_true, y_pred)
        squares = None
        if weights is None:
            counts, boot = rows, bootstrap_counts(rows, samples, rng)
        else:
            counts = confusion_counts(g.codes, len(g.labels), y_true, y_pred, weights)
            squares = confusion_counts(g.codes, len(g.labels), y_true, y_pred, np.square(weights))
            boot = _weighted_boot(rows, counts, samples, rng)
        eligible = rows.sum(axis=1) >= ctx.policy.min_group_size
        ref, source = pick_reference(g, counts, eligible, ctx.policy.reference_rule)
        out.append(GroupingData(g, counts, rows, boot, eligible, ref, source, ctx.policy.min_group_size, squares))
    first = out[0]
    data = BiasData(groupings=out, y_true=y_true, y_pred=y_pred, scores=ctx.predictions.scores,
                    pooled=first.counts.sum(axis=0), pooled_boot=first.boot.sum(axis=1))
    ctx.cache["bias"] = data
    return data
