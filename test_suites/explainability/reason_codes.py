"""The `reason_codes` check: the reasons for individual decisions, whether they hold under small noise, and
whether a protected attribute or a proxy is the top reason more often for some groups than for others.

A caseworker must be able to tell a resident why (Code of Ethics, Transparency). For a tool the harness can
call, the reasons come from occlusion (`reasons`); for a vendor's file of outputs, from the vendor's own
reason-codes column (adapter.reason_column), which can be compared between groups but not tested for
stability, since the file cannot be asked about a changed input.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement, note
from harness.findings import Finding, Severity, Status
from harness.measures.disparity import disparity_interval
from harness.measures.perturb import is_numeric, perturb, plan_columns
from test_suites.explainability.data import (
    NO_EXPLANATIONS,
    Sample,
    Sensitive,
    callable_tool,
    predictor,
    sample,
    sensitive,
)
from test_suites.explainability.importance import repeat_interval
from test_suites.explainability.reasons import overlap, reference_values, strengths, top_reasons
from test_suites.explainability.settings import SUITE, settings_of

if TYPE_CHECKING:
    from harness.tools.base import CallableTool

REASONS = "explainability.reasons"
EXAMPLES = 10
OCCLUSION = ("occlusion: each input in turn set to the reference data's median (numbers) or most common value "
             "(categories); its reasons are the inputs whose own value moved the score's log-odds most towards the "
             "decision")
VENDOR = "the vendor's reason-codes column"


def pct_ci(k: float, lo: float, hi: float, conf: float) -> str:
    return f"{k:.1%} ({conf:.0%} CI {lo:.1%} to {hi:.1%})"


class ReasonCodes(Check):
    """Top reasons per decision for a seeded sample, their stability under the degradation suite's noise, and
    the share of decisions whose top reason is a protected attribute or a proxy, compared between groups."""

    name = "reason_codes"
    description = ("Top reasons for a seeded sample of decisions (occlusion, or the vendor's reason codes), their "
                   "stability under input noise, and whether protected attributes or proxies are the top reason "
                   "more often for some groups.")
    policy_section = "Transparency"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        settings = settings_of(ctx)
        s = sample(ctx, settings.reason_rows, REASONS)
        tool = callable_tool(ctx)
        strength: np.ndarray | None = None
        if tool is not None:
            reference = self.reference(ctx, s)
            strength = strengths(predictor(ctx, tool), s.frame, reference, s.decisions, s.scores)
            reasons = top_reasons(strength, s.inputs, settings.reason_count)
            source = OCCLUSION
        elif ctx.predictions.reasons is not None:
            given = ctx.predictions.reasons
            reasons = [tuple(given[i]) for i in s.rows]
            source = VENDOR
            self.unknown_codes(ctx, out, reasons, s)
        else:
            out.findings.append(note(SUITE, self, ctx, "sensitive_top_reason_share", NO_EXPLANATIONS))
            return out
        sens = sensitive(ctx)
        self.shares(ctx, out, s, reasons, sens)
        self.tables(ctx, out, s, reasons, strength, source)
        if tool is not None:
            self.stability(ctx, out, tool, s, reasons)
        else:
            out.findings.append(note(SUITE, self, ctx, "stability",
                                     "the tool's outputs were supplied as a file, so the same decision cannot be asked "
                                     "again with noisy inputs; the stability of its reasons is not known"))
        return out

    @staticmethod
    def reference(ctx: CheckContext, s: Sample) -> dict[str, Any]:
        cols = list(s.inputs)
        numeric = [c for c in cols if is_numeric(ctx.frame[c], ctx.dataset.card.columns.get(c))]
        return reference_values(ctx.frame[cols], numeric)

    # ---------------------------------------------------------------------------------------------- groups

    def shares(self, ctx: CheckContext, out: CheckOutput, s: Sample, reasons: list[tuple[str, ...]],
               sens: Sensitive) -> None:
        """The share of decisions whose top reason is a protected attribute or a proxy, overall, and for each
        protected attribute its gap between groups with a test of equal shares."""
        from harness.measures.significance import homogeneity_test  # scipy: loaded when the check runs
        from harness.stats import wilson_interval

        conf = ctx.policy.confidence_level
        top = [r[0] if r else None for r in reasons]
        flagged = np.array([t is not None and t in sens.features for t in top], dtype=bool)
        k, n = int(flagged.sum()), len(flagged)
        lo, hi = (float(x) for x in wilson_interval(k, n, conf))
        m = Measurement(SUITE, self.name, "sensitive_top_reason_share", k / n if n else float("nan"), lo, hi, n=n,
                        details={"count": k, "features": sorted(sens.features)})
        out.measurements.append(m)
        out.messages[m.key] = (f"For {k:,} of {n:,} sampled decisions the top reason is a protected attribute or a "
                               f"proxy for one ({pct_ci(k / n if n else float('nan'), lo, hi, conf)}).")
        min_size = ctx.policy.min_group_size
        for attr in ctx.dataset.card.protected_attributes:
            mine = sens.of(attr)
            hit = np.array([t is not None and t in mine for t in top], dtype=bool)
            groups = ctx.frame[attr].astype(str).to_numpy()[s.rows]
            names = sorted(set(groups))
            codes = np.searchsorted(names, groups)
            size = np.bincount(codes, minlength=len(names))
            hits = np.bincount(codes, weights=hit.astype(float), minlength=len(names))
            eligible = size >= min_size
            rows: list[dict[str, Any]] = []
            g_lo, g_hi = wilson_interval(hits, size, conf)
            for g, name in enumerate(names):
                rows.append({"group": name, "n": int(size[g]), "top_reason_sensitive": int(hits[g]),
                             "share": float(hits[g] / size[g]) if size[g] else None, "share_low": float(g_lo[g]),
                             "share_high": float(g_hi[g]), "insufficient": not bool(eligible[g])})
            out.tables[f"{SUITE}.reason_codes.groups.{attr}"] = rows
            if eligible.sum() < 2:
                out.findings.append(Finding(
                    suite=SUITE, check=self.name, metric="sensitive_share_gap", group=attr,
                    status=Status.INSUFFICIENT, severity=Severity.ADVISORY, dataset=ctx.dataset.name,
                    policy_section="2.1", n=n, message=(
                        f"Fewer than two groups of {attr} have {min_size} sampled decisions (the policy's "
                        f"min_group_size), so whether its reasons differ between groups cannot be judged; raise "
                        f"settings.explainability.reason_rows.")))
                continue
            share = np.where(size > 0, hits / np.maximum(size, 1), np.nan)
            rng = ctx.rng(f"explainability.reason_gap.{attr}")
            boot = rng.binomial(size, np.nan_to_num(share), size=(ctx.policy.bootstrap_samples, len(size))) / \
                np.maximum(size, 1)
            gap_lo, gap_hi, low, high = disparity_interval(share, boot, eligible, "difference", conf)
            p, test = homogeneity_test(hits[eligible], size[eligible], rng)
            gap = float(share[high] - share[low])
            gm = Measurement(SUITE, self.name, "sensitive_share_gap", gap, gap_lo, gap_hi, group=attr, n=n,
                            details={"p_value": p, "test": test, "highest": names[high], "lowest": names[low],
                                     "features": sorted(mine)})
            out.measurements.append(gm)
            names_in = " or ".join(sorted(mine))
            judged = int(eligible.sum())
            if gap == 0:
                out.messages[gm.key] = (
                    f"The top reason is {names_in} for {share[high]:.1%} of sampled decisions in each of the "
                    f"{judged} groups of {attr} with {min_size} or more decisions: no gap ({conf:.0%} CI "
                    f"{gap_lo:.1%} to {gap_hi:.1%}).")
            else:
                out.messages[gm.key] = (
                    f"The top reason is {names_in} for {share[high]:.1%} of sampled decisions about {attr} "
                    f"{names[high]} against {share[low]:.1%} about {attr} {names[low]}: a gap of {gap:.1%} "
                    f"({conf:.0%} CI {gap_lo:.1%} to {gap_hi:.1%}; {test} over the {judged} groups, p = {p:.2g}).")

    def unknown_codes(self, ctx: CheckContext, out: CheckOutput, reasons: list[tuple[str, ...]], s: Sample) -> None:
        """Vendor codes that name no column of the dataset cannot be related to a protected attribute: a reviewer
        must map them (advisory, REVIEW)."""
        known = set(ctx.frame.columns)
        counts = Counter(c for r in reasons for c in r)
        unknown = sorted(c for c in counts if c not in known)
        if not unknown:
            return
        shown = ", ".join(repr(c) for c in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        out.findings.append(Finding(
            suite=SUITE, check=self.name, metric="unknown_codes", status=Status.REVIEW, severity=Severity.ADVISORY,
            dataset=ctx.dataset.name, policy_section=self.policy_section, value=float(len(unknown)), n=s.n,
            message=(f"{len(unknown)} of the vendor's {len(counts)} reason codes name no column of dataset "
                     f"{ctx.dataset.name!r} ({shown}), so they cannot be related to protected attributes or their "
                     f"proxies; a reviewer must map them to inputs (the codes should be input names).")))

    # ---------------------------------------------------------------------------------------------- stability

    def stability(self, ctx: CheckContext, out: CheckOutput, tool: CallableTool, s: Sample,
                  reasons: list[tuple[str, ...]]) -> None:
        """The same decisions asked again with Gaussian noise on the numeric inputs (the degradation suite's
        `noise` perturbation, protected attributes untouched), explained again: the mean top-k overlap over the
        decisions that stayed the same, with Student's t interval over those decisions."""
        settings = settings_of(ctx)
        card = ctx.dataset.card
        cols = list(s.inputs)
        plan = plan_columns(ctx.frame[cols], [c for c in cols if c not in card.protected_attributes], card.columns)
        level = settings.stability_noise
        if not plan.applies("noise"):
            out.findings.append(note(SUITE, self, ctx, "stability",
                                     "the tool has no numeric input for measurement noise to act on",
                                     not_applicable=True))
            return
        noisy = perturb(s.frame, plan, "noise", level, ctx.rng("explainability.stability"))
        predict = predictor(ctx, tool)
        labels, scores = predict(noisy)
        same = labels == s.decisions
        kept = np.flatnonzero(same)
        conf = ctx.policy.confidence_level
        if not len(kept):
            out.findings.append(note(SUITE, self, ctx, "stability",
                                     f"every one of the {s.n:,} sampled decisions changed under the noise, so no "
                                     f"decision could be explained twice", status=Status.INSUFFICIENT))
            return
        strength = strengths(predict, noisy.iloc[kept], self.reference(ctx, s),
                             labels[kept], None if scores is None else scores[kept])
        again = top_reasons(strength, cols, settings.reason_count)
        values = np.array([overlap(reasons[i], again[k]) for k, i in enumerate(kept)])
        lo, hi = repeat_interval(values, conf)
        value = float(values.mean())
        m = Measurement(SUITE, self.name, "stability", value, float(lo), float(hi), n=len(kept),
                        details={"noise_sd": level, "decisions": s.n, "changed": int((~same).sum()),
                                 "reasons_per_decision": settings.reason_count,
                                 "identical": int((values == 1).sum())})
        out.measurements.append(m)
        limit = ctx.limit(SUITE, self.name, "stability")
        out.messages[m.key] = (
            f"With Gaussian noise of {level:g} standard deviations on each numeric input, {len(kept):,} of {s.n:,} "
            f"sampled decisions stayed the same; their top {settings.reason_count} reasons agree {value:.0%} on "
            f"average ({conf:.0%} CI {float(lo):.0%} to {float(hi):.0%}, t over the decisions), and "
            f"{int((values == 1).sum()):,} are explained identically"
            + (f"; the policy asks for at least {limit:.0%}." if limit is not None else "."))
        out.tables[f"{SUITE}.reason_codes.stability"] = [{
            "noise_sd": level, "decisions": s.n, "changed_by_noise": int((~same).sum()), "explained_twice": len(kept),
            "mean_overlap": value, "low": float(lo), "high": float(hi), "identical": int((values == 1).sum()),
            "none_in_common": int((values == 0).sum())}]

    # ---------------------------------------------------------------------------------------------- tables

    def tables(self, ctx: CheckContext, out: CheckOutput, s: Sample, reasons: list[tuple[str, ...]],
               strength: np.ndarray | None, source: str) -> None:
        """How often each input is the top reason (by decision) or among the reasons, and the first sampled
        unfavourable decisions with their reasons, as a caseworker would read them out."""
        cols = list(s.inputs) if strength is not None else sorted({c for r in reasons for c in r})
        sens = sensitive(ctx)
        rows: list[dict[str, Any]] = []
        for c in cols:
            top_fav = sum(1 for r, d in zip(reasons, s.decisions, strict=True) if r and r[0] == c and d == 1)
            top_unfav = sum(1 for r, d in zip(reasons, s.decisions, strict=True) if r and r[0] == c and d == 0)
            anywhere = sum(1 for r in reasons if c in r)
            if top_fav or top_unfav or anywhere:
                rows.append({"feature": c, "top_reason_favourable": top_fav, "top_reason_unfavourable": top_unfav,
                             "among_reasons": anywhere, "share_among_reasons": anywhere / len(reasons),
                             "sensitive": "protected attribute" if c in sens.protected else
                             ("proxy" if c in sens.features else "")})
        rows.sort(key=lambda r: (-(r["top_reason_favourable"] + r["top_reason_unfavourable"]), r["feature"]))
        out.tables[f"{SUITE}.reason_codes.frequency"] = rows
        ids = ctx.dataset.ids.astype(str).to_numpy()[s.rows]
        examples = []
        for i in np.flatnonzero(s.decisions == 0)[:EXAMPLES]:
            given = reasons[i]
            parts = []
            for c in given:
                if strength is not None:
                    parts.append(f"{c} ({-strength[i, list(s.inputs).index(c)]:+.2f})" if s.scores is not None
                                 else c)
                else:
                    parts.append(c)
            examples.append({"id": ids[i], "decision": "unfavourable",
                             "score": None if s.scores is None else float(s.scores[i]),
                             "reasons": "; ".join(parts) or "none found"})
        out.tables[f"{SUITE}.reason_codes.examples"] = examples
        out.tables[f"{SUITE}.reason_codes.about"] = [{
            "method": source, "decisions": s.n, "of_rows": s.total, "sampled": s.sampled,
            "reasons_per_decision": settings_of(ctx).reason_count,
            "unfavourable": int((s.decisions == 0).sum()),
            "without_reason": sum(1 for r in reasons if not r)}]


__all__ = ["ReasonCodes"]
