"""Robustness: perturb the inputs, re-run the tool, and count what changes, overall and per group.

One tool call per perturbation kind x severity on the whole reference data (never per group or per
metric); every figure after that is a few `bincount`s over group codes. A tool that degrades more
for one group than another gets a finding of its own (policy 4.3: unintended consequences): a tool
whose decisions for women flip under measurement noise twice as often as men's treats them
differently, whatever its accuracy.

Rows are unweighted here even when the card names survey weights: the question is how the tool
behaves on the rows it is given, not a population estimate.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from harness.check import CheckContext, CheckOutput, Measurement
from harness.errors import ConfigError
from harness.findings import Finding, Severity, Status
from harness.measures.counts import Grouping, build_groupings
from harness.measures.disparity import disparity_interval
from harness.measures.perturb import KINDS, ColumnPlan, describe, perturb, plan_columns
from harness.tools import input_frame
from test_suites.degradation.calls import CLEAR_ERROR, HANG, PROBLEM_WORDS, CallOutcome, call_tool
from test_suites.degradation.common import (
    GRACEFUL,
    NOT_CALLABLE,
    REFERENCE_AUC,
    SUITE,
    DegradationCheck,
    callable_tool,
    ci_pct,
    clear_mode,
    favourable,
    finite_or_none,
    limit_of,
    pct,
    setting,
    skipped,
    tool_inputs,
)


def severities(ctx: CheckContext) -> dict[str, float]:
    """The policy's severities, validated: names to levels in (0, 1]."""
    raw = setting(ctx, "severities")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"settings.degradation.severities must map names to levels, e.g. "
                          f"{{low: 0.1, medium: 0.25, high: 0.5}}; got {raw!r}")
    out: dict[str, float] = {}
    for name, level in raw.items():
        try:
            value = float(level)
        except (TypeError, ValueError):
            value = float("nan")
        if not 0 < value <= 1:
            raise ConfigError(f"settings.degradation.severities.{name} must be a number in (0, 1]; got {level!r}")
        out[str(name)] = value
    return out


def auc_and_components(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's structural components: V10 per positive (the share of negatives it outscores,
    ties half) and V01 per negative (the share of positives that outscore it), each in row order.
    Their covariances give the variance of a difference of two AUCs on the same rows. One sort of all
    scores; the counts below and within each run of tied scores give every component.

    A component depends only on its row's label and the counts of its run of ties, never on the order
    within a run, so the sort need not be stable (about twice as fast at a million rows), and each
    component is computed once per run and gathered. NaN scores sort last, each a run of its own, so
    their components would depend on that order: with any NaN the sort is stable, as it always was."""
    y = np.asarray(y).astype(bool)
    n, m = len(y), int(y.sum())
    k = n - m
    if n == 0:
        return float("nan"), np.empty(0), np.empty(0)
    order = np.argsort(scores)
    s = scores[order]
    if np.isnan(s[-1]):
        order = np.argsort(scores, kind="stable")
        s = scores[order]
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(s[1:], s[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    ends = np.r_[starts[1:], n]
    pos_cum = np.r_[0, np.cumsum(y[order])]
    pos_below, pos_tied = pos_cum[starts], pos_cum[ends] - pos_cum[starts]
    neg_below, neg_tied = starts - pos_below, (ends - starts) - pos_tied
    run = np.empty(n, dtype=np.intp)
    run[order] = np.cumsum(new_run) - 1  # each row's run of ties
    v10 = ((neg_below + neg_tied / 2) / max(k, 1))[run[y]]
    v01 = (1 - (pos_below + pos_tied / 2) / max(m, 1))[run[~y]]
    return float(v10.mean()) if m else float("nan"), v10, v01


def paired_auc_drop(before: np.ndarray, after: np.ndarray, y: np.ndarray, conf: float,
                    base: tuple[float, np.ndarray, np.ndarray] | None = None) -> tuple[float, ...]:
    """AUC before, after, their difference and DeLong's interval for the difference (paired rows).
    `base` passes the components of `before`, computed once for all perturbations."""
    ok = np.isfinite(before) & np.isfinite(after)
    b, a, yy = before[ok], after[ok], y[ok]
    if yy.min(initial=1) == yy.max(initial=0):
        nan = float("nan")
        return nan, nan, nan, nan, nan
    auc_b, v10_b, v01_b = base if base is not None and ok.all() else auc_and_components(b, yy)
    auc_a, v10_a, v01_a = auc_and_components(a, yy)
    s10, s01 = np.cov(np.vstack([v10_b, v10_a])), np.cov(np.vstack([v01_b, v01_a]))
    s = s10 / len(v10_b) + s01 / len(v01_b)
    se = float(np.sqrt(max(s[0, 0] + s[1, 1] - 2 * s[0, 1], 0.0)))
    drop, z = auc_b - auc_a, _z(conf)
    return auc_b, auc_a, drop, drop - z * se, drop + z * se


def row_states(flips: np.ndarray, d: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Each row's state as one code in 0..11: flipped (2) x accuracy change d + 1 (3) x right before (2)."""
    return flips.astype(np.int64) * 6 + (d.astype(np.int64) + 1) * 2 + right


@lru_cache(maxsize=8)
def _z(confidence: float) -> float:
    from harness.stats import z_value

    return z_value(confidence)


@dataclass(frozen=True)
class Effect:
    """Counts of one perturbation's effect, per group of one grouping (or one "group": everyone).

    `worse` counts rows that were right and are now wrong, `better` the reverse; the accuracy drop is
    (worse - better) / n and its interval is the paired normal one."""

    n: np.ndarray
    flipped: np.ndarray
    worse: np.ndarray
    better: np.ndarray
    right_before: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, groups: int, state: np.ndarray) -> Effect:
        """From `row_states`: one bincount of group x state, then sums over the states."""
        t = np.bincount(codes.astype(np.int64) * 12 + state, minlength=groups * 12).reshape(groups, 2, 3, 2)
        return cls(n=t.sum(axis=(1, 2, 3)), flipped=t[:, 1].sum(axis=(1, 2)), worse=t[:, :, 2].sum(axis=(1, 2)),
                   better=t[:, :, 0].sum(axis=(1, 2)), right_before=t[..., 1].sum(axis=(1, 2)))

    def flip_rate(self, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from harness.stats import wilson_interval

        lo, hi = wilson_interval(self.flipped, self.n, conf)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.flipped / self.n, lo, hi

    def accuracy_drop(self, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, z = self.n, _z(conf)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (self.worse - self.better) / n
            var = ((self.worse + self.better) - n * mean**2) / np.maximum(n - 1, 1)  # sample variance of d
            half = z * np.sqrt(np.maximum(var, 0) / n)
        return mean, mean - half, mean + half

    def accuracy(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            before = self.right_before / self.n
            return before, before - (self.worse - self.better) / self.n

    def boot_flip(self, samples: int, rng: np.random.Generator) -> np.ndarray:
        """samples x groups of flip rates: a binomial draw per group, exact for this statistic."""
        n = self.n.astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(n > 0, self.flipped / np.maximum(n, 1), 0.0)
            return rng.binomial(n, p, size=(samples, len(n))) / n

    def boot_drop(self, samples: int, rng: np.random.Generator) -> np.ndarray:
        """samples x groups of accuracy drops: a multinomial draw of (worse, better, unchanged) per group."""
        out = np.full((samples, len(self.n)), np.nan)
        for g, n in enumerate(self.n.astype(np.int64)):
            if n > 0:
                w, b = self.worse[g] / n, self.better[g] / n
                draw = rng.multinomial(n, [w, b, max(1.0 - w - b, 0.0)], size=samples)
                out[:, g] = (draw[:, 0] - draw[:, 1]) / n
        return out


class Robustness(DegradationCheck):
    """Accuracy (and AUC) drop and decision flips under noise, recoding errors and missing values."""

    name = "robustness"
    description = ("Drop in accuracy and AUC and the share of decisions that flip when inputs get noise, "
                   "redrawn categories or missing values, overall and per protected group, at three severities.")
    policy_section = "Safety"

    def measure(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        if not callable_tool(ctx):
            out.findings.append(skipped(self, ctx, "flip_rate", NOT_CALLABLE))
            return out
        graceful = ctx.cache.get(GRACEFUL, {})
        if graceful.get("normal") == HANG:
            out.findings.append(skipped(self, ctx, "flip_rate", "the tool hung on ordinary inputs in the "
                                        "graceful-failure check, so it was not called on perturbed copies"))
            return out
        levels = severities(ctx)
        judged = str(setting(ctx, "judged_severity"))
        if judged not in levels:
            raise ConfigError(f"settings.degradation.judged_severity is {judged!r}, which is not one of the "
                              f"severities {list(levels)}")
        card = ctx.dataset.card
        cols = tool_inputs(ctx)
        frame = input_frame(ctx.dataset, cols)
        keep = bool(setting(ctx, "perturb_protected"))
        plan = plan_columns(frame, [c for c in cols if keep or c not in card.protected_attributes], card.columns)
        run = _Run(ctx, self, out, plan, frame, judged)
        for kind in KINDS:
            if not plan.applies(kind):
                what = {"noise": "numeric", "categorical": "categorical"}.get(kind, "perturbable")
                out.findings.append(skipped(self, ctx, "flip_rate", f"the tool takes no {what} inputs, so the "
                                            f"{kind} perturbation does not apply", not_applicable=True))
                continue
            if kind == "missing" and graceful.get("nulls") == HANG:
                out.findings.append(skipped(self, ctx, "flip_rate", "the tool hung on missing values in the "
                                            "graceful-failure check, so the missing-value perturbation was not run"))
                continue
            for sev, level in levels.items():
                if not run.one(kind, sev, level):
                    break
            if run.hung:
                break
        out.tables[f"{SUITE}.robustness"] = run.rows
        out.tables[f"{SUITE}.robustness.calls"] = run.calls
        return out


class _Run:
    """The state of one robustness run: base decisions, groupings and what has been recorded."""

    def __init__(self, ctx: CheckContext, check: Robustness, out: CheckOutput, plan: ColumnPlan, frame: Any,
                 judged: str) -> None:
        self.ctx, self.check, self.out, self.plan, self.frame, self.judged = ctx, check, out, plan, frame, judged
        card = ctx.dataset.card
        self.y = ctx.dataset.y_favorable
        self.base = favourable(ctx, ctx.predictions.labels)
        self.right = (self.base == self.y).astype(np.int8)
        self.base_scores = None if ctx.predictions.scores is None else np.asarray(ctx.predictions.scores, float)
        self.base_auc: tuple[float, np.ndarray, np.ndarray] | None = None
        if self.base_scores is not None and np.isfinite(self.base_scores).all() and 0 < self.y.sum() < len(self.y):
            self.base_auc = auc_and_components(self.base_scores, self.y)
            ctx.cache[REFERENCE_AUC] = (ctx.predictions, self.base_auc[0])  # the regression check reports it
        refs: dict[str, object] = {a: p.reference for a, p in card.protected_attributes.items()}
        groupings = build_groupings(ctx.frame, refs) if refs else []
        if not setting(ctx, "intersections"):
            groupings = [g for g in groupings if len(g.attributes) == 1]
        self.groupings: list[Grouping] = groupings
        self.conf = ctx.policy.confidence_level
        self.floor = ctx.policy.min_group_size
        self.timeout = float(setting(ctx, "robustness_timeout_s"))
        self.mode = clear_mode(ctx)
        self.rows: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.hung = False

    def one(self, kind: str, sev: str, level: float) -> bool:
        """Perturb, call once, record; False when the call failed (higher severities are not tried)."""
        ctx = self.ctx
        changed = perturb(self.frame, self.plan, kind, level, ctx.rng(f"degradation.robustness.{kind}.{sev}"))
        hints = (*self.plan.columns, *(PROBLEM_WORDS["nulls"] if kind == "missing" else ()))
        call = call_tool(ctx.tool, changed, self.timeout, hints, self.mode)
        self.calls.append({"kind": kind, "severity": sev, "level": level, "outcome": call.outcome,
                           "seconds": round(call.seconds, 4), "error": call.error_type, "message": call.message})
        if not call.answered:
            self._failed(kind, sev, level, call)
            return False
        assert call.predictions is not None
        new = favourable(ctx, call.predictions.labels)
        flips = (new != self.base).astype(np.int8)
        d = (self.right - (new == self.y)).astype(np.int8)  # 1: right before, wrong now
        state = row_states(flips, d, self.right)
        overall = Effect.of(np.zeros(len(new), dtype=np.int64), 1, state)
        auc = self._auc(call)
        self._overall(kind, sev, level, overall, auc)
        for g in self.groupings:
            eff = Effect.of(g.codes, len(g.labels), state)
            self._groups(kind, sev, level, g, eff)
        return True

    def _auc(self, call: CallOutcome) -> tuple[float, ...] | None:
        after = None if call.predictions is None else call.predictions.scores
        if self.base_scores is None or after is None:
            return None
        return paired_auc_drop(self.base_scores, np.asarray(after, float), self.y, self.conf, self.base_auc)

    def _failed(self, kind: str, sev: str, level: float, call: CallOutcome) -> None:
        what = describe(kind, level)
        if call.outcome == HANG:
            self.hung = True
        if call.outcome == CLEAR_ERROR:
            self.out.findings.append(skipped(
                self.check, self.ctx, "flip_rate",
                f"with {what} ({sev}) the tool refused the data: {call.describe()}. That is a clear refusal, "
                f"judged by the graceful-failure check; no robustness figures for {kind} were measured.",
                not_applicable=True))
            return
        self.out.findings.append(Finding(
            suite=SUITE, check=self.check.name, metric="call", group=kind, status=Status.FAIL,
            severity=Severity.BLOCKING, dataset=self.ctx.dataset.name, policy_section=self.check.policy_section,
            details={"severity": sev, "level": level, "outcome": call.outcome, "error": call.error_type},
            message=(f"With {what} ({sev}), the tool {call.describe()}: it does not degrade gracefully on "
                     f"plausible inputs, and no {len(self.frame):,} decisions came back.")))

    def _overall(self, kind: str, sev: str, level: float, e: Effect, auc: tuple[float, ...] | None) -> None:
        out, conf, n = self.out, self.conf, int(e.n[0])
        flip, flo, fhi = (float(a[0]) for a in e.flip_rate(conf))
        drop, dlo, dhi = (float(a[0]) for a in e.accuracy_drop(conf))
        before, after = (float(a[0]) for a in e.accuracy())
        details = {"severity": sev, "level": level, "flipped": int(e.flipped[0])}
        what = describe(kind, level)
        out.measurements += [
            Measurement(SUITE, "robustness", "flip_rate_by_severity", flip, flo, fhi, group=f"{kind}.{sev}", n=n,
                        details=details),
            Measurement(SUITE, "robustness", "accuracy_drop_by_severity", drop, dlo, dhi, group=f"{kind}.{sev}", n=n,
                        details=details)]
        row = {"kind": kind, "severity": sev, "level": level, "grouping": "all", "group": "all", "n": n,
               "insufficient": False, "accuracy_before": before, "accuracy_after": after, "accuracy_drop": drop,
               "accuracy_drop_low": dlo, "accuracy_drop_high": dhi, "flip_rate": flip, "flip_rate_low": flo,
               "flip_rate_high": fhi, "auc_before": None, "auc_after": None, "auc_drop": None}
        if auc is not None:
            row.update(auc_before=finite_or_none(auc[0]), auc_after=finite_or_none(auc[1]),
                       auc_drop=finite_or_none(auc[2]))
            out.measurements.append(Measurement(SUITE, "robustness", "auc_drop_by_severity", auc[2], auc[3], auc[4],
                                                group=f"{kind}.{sev}", n=n, details=details))
        self.rows.append(row)
        if sev != self.judged:
            return
        for metric, value, lo, hi, text in (
            ("flip_rate", flip, flo, fhi, f"{pct(flip)} of decisions change ({int(e.flipped[0]):,} of {n:,}, "
                                          f"{ci_pct(flo, fhi, conf)})"),
            ("accuracy_drop", drop, dlo, dhi, f"accuracy falls from {pct(before)} to {pct(after)}, a drop of "
                                              f"{drop * 100:.1f} points ({ci_pct(dlo, dhi, conf)})"),
        ):
            self._judged(metric, kind, value, lo, hi, n, details, f"With {what} ({sev}), {text}")
        if auc is not None and np.isfinite(auc[2]):
            self._judged("auc_drop", kind, auc[2], auc[3], auc[4], n, details,
                         f"With {what} ({sev}), the AUC of the tool's scores falls from {auc[0]:.3f} to "
                         f"{auc[1]:.3f} (drop {auc[2]:.3f}, {conf:.0%} CI {auc[3]:.3f} to {auc[4]:.3f}; DeLong)")

    def _judged(self, metric: str, kind: str, value: float, lo: float, hi: float, n: int, details: dict[str, Any],
                text: str) -> None:
        m = Measurement(SUITE, "robustness", metric, value, lo, hi, group=kind, n=n, details=details)
        self.out.measurements.append(m)
        limit = limit_of(self.ctx, "robustness", metric)
        allow = ""
        if limit is not None:
            shown = {"accuracy_drop": f"{limit * 100:.1f} points", "flip_rate": f"{limit:.1%}"}.get(
                metric, f"{limit:.3f}")
            allow = f"; the policy allows at most {shown}"
        self.out.messages[m.key] = text + allow + "."

    def _groups(self, kind: str, sev: str, level: float, g: Grouping, e: Effect) -> None:
        conf = self.conf
        flip, flo, fhi = e.flip_rate(conf)
        drop, dlo, dhi = e.accuracy_drop(conf)
        before, after = e.accuracy()
        eligible = e.n >= self.floor
        for i, name in enumerate(g.names):
            self.rows.append({
                "kind": kind, "severity": sev, "level": level, "grouping": g.key, "group": name, "n": int(e.n[i]),
                "insufficient": not bool(eligible[i]), "accuracy_before": finite_or_none(before[i]),
                "accuracy_after": finite_or_none(after[i]), "accuracy_drop": finite_or_none(drop[i]),
                "accuracy_drop_low": finite_or_none(dlo[i]), "accuracy_drop_high": finite_or_none(dhi[i]),
                "flip_rate": finite_or_none(flip[i]), "flip_rate_low": finite_or_none(flo[i]),
                "flip_rate_high": finite_or_none(fhi[i]), "auc_before": None, "auc_after": None, "auc_drop": None})
        if sev != self.judged:
            return
        details = {"severity": sev, "level": level}
        for i in range(len(g.labels)):
            key = f"{kind}.{g.group_key(i)}"
            n = int(e.n[i])
            extra = {**details, "group": g.names[i], "insufficient": not bool(eligible[i])}
            self.out.measurements += [
                Measurement(SUITE, "robustness", "group_flip_rate", float(flip[i]), float(flo[i]), float(fhi[i]),
                            group=key, n=n, details=extra),
                Measurement(SUITE, "robustness", "group_accuracy_drop", float(drop[i]), float(dlo[i]),
                            float(dhi[i]), group=key, n=n, details=extra)]
        if len(g.labels) < 2:
            return
        if int(eligible.sum()) < 2:
            self.out.findings.append(Finding(
                suite=SUITE, check="robustness", metric="flip_rate_gap", group=f"{kind}.{g.key}",
                status=Status.INSUFFICIENT, dataset=self.ctx.dataset.name, policy_section="4.3",
                message=(f"fewer than two groups of {g.key} have at least {self.floor} rows: how differently "
                         f"{kind} affects them cannot be judged")))
            return
        rng = self.ctx.rng(f"degradation.robustness.gap.{kind}.{g.key}")
        samples = self.ctx.policy.bootstrap_samples
        for metric, point, boot, noun in (
            ("flip_rate_gap", flip, e.boot_flip(samples, rng), "decisions flip"),
            ("accuracy_drop_gap", drop, e.boot_drop(samples, rng), "accuracy drops"),
        ):
            self._gap(metric, kind, sev, level, g, e, point, boot, eligible, noun)

    def _gap(self, metric: str, kind: str, sev: str, level: float, g: Grouping, e: Effect, point: np.ndarray,
             boot: np.ndarray, eligible: np.ndarray, noun: str) -> None:
        lo, hi, i_lo, i_hi = disparity_interval(point, boot, eligible, "difference", self.conf)
        if i_lo < 0:
            return
        value = float(point[i_hi] - point[i_lo])
        m = Measurement(SUITE, "robustness", metric, value, lo, hi, group=f"{kind}.{g.key}",
                        n=int(e.n[eligible].sum()),
                        details={"severity": sev, "level": level, "most_affected": g.names[i_hi],
                                 "least_affected": g.names[i_lo], "most_affected_value": float(point[i_hi]),
                                 "least_affected_value": float(point[i_lo]),
                                 "groups_compared": int(eligible.sum())})
        self.out.measurements.append(m)
        limit = limit_of(self.ctx, "robustness", metric)
        if metric == "flip_rate_gap":
            text = (f"{pct(point[i_hi])} of decisions for '{g.names[i_hi]}' flip against {pct(point[i_lo])} for "
                    f"'{g.names[i_lo]}'")
        else:
            text = (f"accuracy for '{g.names[i_hi]}' drops {point[i_hi] * 100:.1f} points against "
                    f"{point[i_lo] * 100:.1f} for '{g.names[i_lo]}'")
        self.out.messages[m.key] = (
            f"With {describe(kind, level)} ({sev}), {text}: a gap of {value * 100:.1f} points between groups of "
            f"{g.key} ({self.conf:.0%} CI {lo * 100:.1f} to {hi * 100:.1f})"
            + ("" if limit is None else f"; the policy allows at most {limit * 100:.1f} points")
            + f". A tool whose {noun} more for one group under the same disturbance treats that group worse.")
