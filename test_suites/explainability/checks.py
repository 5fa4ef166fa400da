"""The explainability suite's checks: which inputs the tool's decisions rest on (global permutation importance),
whether a protected attribute or a proxy for one is among them (policy 2.1), and the reasons for individual
decisions, how stable they are and whether they differ between groups (Code of Ethics, Transparency: systems
"should be able to justify their outputs")."""
from __future__ import annotations

from typing import Any

from harness.check import Check, CheckContext, CheckOutput, Measurement, note
from harness.findings import Finding, Severity, Status
from test_suites.explainability.data import (
    NO_EXPLANATIONS,
    NOT_CALLABLE,
    Importance,
    Sensitive,
    callable_tool,
    importance,
    sensitive,
)
from test_suites.explainability.settings import SUITE, settings_of


def ci_text(lo: float, hi: float, conf: float) -> str:
    return f"{conf:.0%} CI {lo:.1%} to {hi:.1%}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Explanations(Check):
    """A tool that is only a file of outputs, without reason codes, cannot be explained at all: one SKIPPED
    finding, blocking, so the verdict is at best NEEDS_REVIEW ("not tested: ..."), the harness's rule for
    evidence a required suite could not produce (`harness.decision.not_tested`)."""

    name = "explanations"
    description = "Whether the tool can be explained at all: called on changed inputs, or reason codes supplied."
    policy_section = "Transparency"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        out.findings.append(Finding(suite=SUITE, check=self.name, metric="available", status=Status.SKIPPED,
                                    severity=Severity.BLOCKING, dataset=ctx.dataset.name,
                                    policy_section=self.policy_section, message=NO_EXPLANATIONS))
        return out


class GlobalImportance(Check):
    """Permutation importance of every input through the tool's own predict (equal to scikit-learn's
    `permutation_importance` for a scikit-learn model): the share of the tool's decisions that change when the
    input is scrambled, and the drop in the outcome score, each with Student's t interval over the repeats."""

    name = "importance"
    description = ("Share of decisions that change, and drop in the outcome score, when each input is scrambled "
                   "(permutation importance, seeded, with t intervals over the repeats).")
    policy_section = "Transparency"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        if callable_tool(ctx) is None:
            out.findings.append(note(SUITE, self, ctx, "decision_share", NOT_CALLABLE))
            return out
        imp = importance(ctx)
        conf = ctx.policy.confidence_level
        res, s = imp.result, imp.sample
        ranks = imp.rank()
        sens = sensitive(ctx)
        dec_lo, dec_hi = res.interval("decisions", conf)
        out_lo, out_hi = res.interval("outcome", conf)
        dec_mean, out_mean = res.mean("decisions"), res.mean("outcome")
        dec_std, out_std = res.std("decisions"), res.std("outcome")
        rows: list[dict[str, Any]] = []
        for j, feature in enumerate(res.features):
            common = {"rank": ranks[feature], "repeats": res.repeats, "random_state": res.random_state}
            out.measurements.append(Measurement(
                SUITE, self.name, "decision_share", float(dec_mean[j]), float(dec_lo[j]), float(dec_hi[j]),
                group=feature, n=s.n, details={**common, "std": float(dec_std[j])}))
            out.measurements.append(Measurement(
                SUITE, self.name, "score_drop", float(out_mean[j]), float(out_lo[j]), float(out_hi[j]),
                group=feature, n=s.n, details={**common, "std": float(out_std[j]), "scoring": imp.scoring}))
            rows.append({"feature": feature, "rank": ranks[feature], "decision_share": float(dec_mean[j]),
                         "decision_share_low": float(dec_lo[j]), "decision_share_high": float(dec_hi[j]),
                         "decision_share_std": float(dec_std[j]), "score_drop": float(out_mean[j]),
                         "score_drop_low": float(out_lo[j]), "score_drop_high": float(out_hi[j]),
                         "score_drop_std": float(out_std[j]), "sensitive": sensitivity(feature, sens)})
        rows.sort(key=lambda r: r["rank"])
        out.tables[f"{SUITE}.importance"] = rows
        out.tables[f"{SUITE}.importance.about"] = [{
            "rows": s.n, "of_rows": s.total, "sampled": s.sampled, "repeats": res.repeats,
            "random_state": res.random_state, "scoring": imp.scoring, "scoring_note": imp.scoring_note,
            "baseline_score": res.baseline["outcome"], "inputs": len(res.features),
            "inputs_known": s.inputs_known, "calls": len(res.features),
            "rows_predicted": len(res.features) * res.repeats * s.n,
            "top_k": settings_of(ctx).top_k}]
        return out


def sensitivity(feature: str, sens: Sensitive) -> str:
    """'protected attribute', 'proxy for race (Cramér's V with race 0.65 (limit 0.30))', or ''."""
    if feature in sens.protected:
        return "protected attribute"
    found = [p for p in sens.proxies if p.feature == feature]
    return "; ".join(f"proxy for {p.protected} ({sens.proxy_reason(p)})" for p in found)


class _Reliance(Check):
    """Shared by the two reliance checks: an input's decision share, judged against the policy's floor for
    `decision_share` by its t interval over the repeats."""

    def judged(self, ctx: CheckContext, out: CheckOutput, imp: Importance, feature: str, what: str,
               details: dict[str, Any]) -> None:
        res, s = imp.result, imp.sample
        conf = ctx.policy.confidence_level
        limit = ctx.limit(SUITE, self.name, "decision_share")
        j = res.features.index(feature)
        values = res.importances["decisions"][j]
        lo, hi = (float(x[j]) for x in res.interval("decisions", conf))
        value = float(values.mean())
        rank = imp.rank()[feature]
        # no p-value of its own: the decision rule reads one from the interval, so a FAIL needs the t interval's
        # lower bound above the limit (before Holm's adjustment), at whichever tier the finding is judged
        m = Measurement(SUITE, self.name, "decision_share", value, lo, hi, group=feature, n=s.n,
                        details={**details, "feature": feature, "rank": rank, "inputs": len(res.features),
                                 "repeats": res.repeats})
        out.measurements.append(m)
        allowed = (f"; the policy allows at most {limit:.1%} of decisions to change for {what} at the {ctx.tier} "
                   f"risk tier." if limit is not None else "; the policy sets no limit.")
        out.messages[m.key] = (
            f"Scrambling {feature} ({what}) changes {value:.1%} of the tool's decisions ({ci_text(lo, hi, conf)} over "
            f"{res.repeats} permutations, {s.sampled}); it ranks {ordinal(rank)} of the tool's "
            f"{len(res.features)} inputs{allowed}")


class ProtectedReliance(_Reliance):
    """A protected attribute the tool reads and whose scrambling changes decisions: the tool's decisions rest on
    it directly (disparate treatment). An attribute the tool does not read is recorded at 0 (nothing can
    change), so the check says what it looked at."""

    name = "protected_reliance"
    description = "Share of decisions that change when a protected attribute the tool reads is scrambled."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        if callable_tool(ctx) is None:
            out.findings.append(note(SUITE, self, ctx, "decision_share", NOT_CALLABLE))
            return out
        imp = importance(ctx)
        inputs = imp.result.features
        for attr in ctx.dataset.card.protected_attributes:
            if attr in inputs:
                self.judged(ctx, out, imp, attr, "a protected attribute", {"input": True})
                continue
            m = Measurement(SUITE, self.name, "decision_share", 0.0, 0.0, 0.0, group=attr, n=imp.sample.n,
                            details={"input": False, "feature": attr})
            out.measurements.append(m)
            shown = ", ".join(inputs[:8]) + (", ..." if len(inputs) > 8 else "")
            out.messages[m.key] = (f"{attr} is not among the tool's {len(inputs)} inputs ({shown}), so no decision "
                                   f"can change with it directly; inputs that stand in for it are judged by "
                                   f"proxy_reliance.")
        return out


class ProxyReliance(_Reliance):
    """An input that predicts a protected attribute beyond the policy's limit (the bias suite's proxies check,
    same limits) and whose scrambling changes decisions: the tool can treat groups differently without reading
    the attribute. A strong proxy the tool barely uses passes; the finding names the input and the attribute."""

    name = "proxy_reliance"
    description = ("Share of decisions that change when an input that is a proxy for a protected attribute "
                   "(over the policy's proxy limits, or declared by the dataset card) is scrambled.")
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        if callable_tool(ctx) is None:
            out.findings.append(note(SUITE, self, ctx, "decision_share", NOT_CALLABLE))
            return out
        imp = importance(ctx)
        sens = sensitive(ctx)
        by_feature: dict[str, list[Any]] = {}
        for p in sens.proxies:
            if p.feature in imp.result.features:
                by_feature.setdefault(p.feature, []).append(p)
        for feature, found in by_feature.items():
            what = "a proxy for " + " and ".join(dict.fromkeys(p.protected for p in found))
            self.judged(ctx, out, imp, feature, what, {
                "protected": [p.protected for p in found], "measure": [p.measure for p in found],
                "strength": [float(p.value) for p in found],
                "why": [sens.proxy_reason(p) for p in found]})
        if not by_feature:
            limits = ", ".join(f"{'Cramér' + chr(39) + 's V' if k == 'cramers_v' else 'AUC'} {v:.2f}"
                               for k, v in sens.limits.items()) or "none set"
            out.findings.append(Finding(
                suite=SUITE, check=self.name, metric="decision_share", status=Status.PASS,
                severity=Severity.ADVISORY, dataset=ctx.dataset.name, policy_section=self.policy_section, value=0.0,
                n=imp.sample.n, message=(
                    f"None of the tool's {len(imp.result.features)} inputs predicts a protected attribute beyond the "
                    f"policy's proxy limits ({limits}) or is declared a proxy by the dataset card, so no decision "
                    f"can rest on a proxy.")))
        return out
