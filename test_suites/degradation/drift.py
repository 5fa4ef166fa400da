"""Drift between the reference data and a current production sample (`harness assess --current`).

A tool validated on last year's applicants can go wrong on this year's without a line of it changing
(policy 4.3: "potential unintended consequences"). Per feature and for the tool's score: the
population stability index (PSI, the credit-scoring convention: under 0.1 stable, 0.1-0.2 a moderate
shift, over 0.2 a significant one), with a two-sample Kolmogorov-Smirnov test for numeric features
and a chi-square test of homogeneity for categorical ones. PSI is judged; the tests are reported,
Holm-adjusted, because on tens of thousands of rows a test finds a trivial shift "significant" while
PSI measures how large it is.

PSI bins: the reference's deciles for numeric values (fewer when values repeat), each category for
categorical ones (categories only one side has get a bin of their own), and a bin for missing values.
Empty bins get a floor share (`psi_floor`), as PSI is infinite otherwise. The interval is a
multinomial bootstrap of both histograms, so it costs the same at any row count.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from harness.check import CheckContext, CheckOutput, Measurement
from harness.findings import Finding, Severity, Status
from harness.stats import percentile_interval
from test_suites.bias.significance import holm
from test_suites.degradation.calls import call_tool
from test_suites.degradation.common import (
    SUITE,
    DegradationCheck,
    callable_tool,
    clear_mode,
    favourable,
    finite_or_none,
    limit_of,
    setting,
    skipped,
    tool_inputs,
)
from test_suites.degradation.perturb import is_numeric

NO_CURRENT = "no --current sample given"


def psi(expected: np.ndarray, actual: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    """Population stability index of histograms along the last axis: sum (a - e) ln(a / e) over bins,
    shares floored at `floor` so an empty bin does not make it infinite."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / e.sum(axis=-1, keepdims=True), floor)
    a = np.maximum(a / a.sum(axis=-1, keepdims=True), floor)
    return ((a - e) * np.log(a / e)).sum(axis=-1)


def psi_interval(expected: np.ndarray, actual: np.ndarray, floor: float, samples: int, rng: np.random.Generator,
                 confidence: float) -> tuple[float, float]:
    """Percentile interval from multinomial redraws of both histograms (each sample size kept)."""
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    de = rng.multinomial(int(e.sum()), e / e.sum(), size=samples)
    da = rng.multinomial(int(a.sum()), a / a.sum(), size=samples)
    lo, hi = percentile_interval(psi(de, da, floor), confidence)
    return float(lo), float(hi)


@dataclass(frozen=True)
class Histograms:
    """Reference and current counts over the same bins, with the bins' names."""

    reference: np.ndarray
    current: np.ndarray
    bins: list[str]


def quantile_edges(finite: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles. Where a value repeats so often that quantiles
    coincide (0 in capital gains for 90 % of people), the edges collapse; the other values are then
    cut at their own quantiles, so a shift among the few non-zero values is still seen."""
    if not len(finite):
        return np.array([])
    inner = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.quantile(finite, inner))
    if len(edges) < len(inner):
        rest = finite[~np.isin(finite, edges)]
        if len(rest):
            edges = np.unique(np.concatenate([edges, np.quantile(rest, inner)]))
    return edges


def numeric_histograms(ref: np.ndarray, cur: np.ndarray, bins: int) -> Histograms:
    """Bins at the reference's quantiles (`quantile_edges`), plus one for missing values."""
    edges = quantile_edges(ref[np.isfinite(ref)], bins)

    def count(x: np.ndarray) -> np.ndarray:
        codes = np.where(np.isnan(x), len(edges) + 1, np.searchsorted(edges, x, side="right"))
        return np.bincount(codes, minlength=len(edges) + 2)

    names = [f"< {edges[0]:g}"] if len(edges) else ["all"]
    names += [f"[{lo:g}, {hi:g})" for lo, hi in pairwise(edges)]
    names += [f">= {edges[-1]:g}"] if len(edges) else []
    return Histograms(count(ref), count(cur), [*names, "missing"])


def categorical_histograms(ref: pd.Series, cur: pd.Series) -> Histograms:
    """One bin per category seen on either side (compared as trimmed text), and one for missing.
    Each side is coded once; the trimming runs on its distinct values, not on every row (`_coded_text`)."""
    r_codes, r_text = _coded_text(ref)
    c_codes, c_text = _coded_text(cur)
    cats = pd.Index(pd.unique(r_text)).union(pd.Index(pd.unique(c_text)))

    def count(codes: np.ndarray, text: np.ndarray) -> np.ndarray:
        bins = np.append(cats.get_indexer(text), len(cats))  # code -1 (missing) picks the last bin
        return np.bincount(bins[codes], minlength=len(cats) + 1)

    return Histograms(count(r_codes, r_text), count(c_codes, c_text), [*map(str, cats), "missing"])


def _coded_text(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code (-1: missing) into the trimmed text of the column's distinct values, in order of
    first appearance (an object array; two values can trim to the same text). Distinct strings are
    distinct values, so trimming the distinct strings is trimming every row; a column holding anything
    else (1 and 1.0 are one value but two texts) is trimmed row by row, as it always was."""
    codes, uniques = pd.factorize(s)
    if not all(isinstance(u, str) for u in uniques):
        codes, uniques = pd.factorize(_text(s))
    return codes, _text(pd.Series(uniques)).to_numpy(dtype=object)


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().astype(object).where(s.notna(), None)


def shift_test(h: Histograms, ref: np.ndarray | None, cur: np.ndarray | None) -> tuple[str, float, float]:
    """(test, statistic, p-value): KS on the numeric values when given, else chi-square on the bins."""
    if ref is not None and cur is not None:
        r, c = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        if len(r) and len(c):
            res = stats.ks_2samp(r, c)
            return "Kolmogorov-Smirnov D", float(res.statistic), float(res.pvalue)
        return "Kolmogorov-Smirnov D", float("nan"), float("nan")
    table = np.vstack([h.reference, h.current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return "Cramér's V (chi-square)", float("nan"), float("nan")
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    return "Cramér's V (chi-square)", float(np.sqrt(chi2 / table.sum())), float(p)


def most_changed(h: Histograms) -> str:
    e, a = h.reference / max(h.reference.sum(), 1), h.current / max(h.current.sum(), 1)
    i = int(np.argmax(np.abs(a - e)))
    return f"{h.bins[i]}: {e[i]:.1%} -> {a[i]:.1%}"


class Drift(DegradationCheck):
    """PSI per feature and for the tool's score between the reference data and a current sample."""

    name = "drift"
    description = ("Population stability index per input feature and for the tool's score between the reference "
                   "data and a current sample, with KS and chi-square tests; features that moved most first.")
    policy_section = "4.3"

    def measure(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        current = ctx.current
        if current is None:
            out.findings.append(skipped(self, ctx, "psi", NO_CURRENT))
            return out
        if len(current) == 0:
            out.findings.append(self._insufficient(ctx, "psi", "the current sample (--current) has no rows"))
            return out
        card = ctx.dataset.card
        cols = tool_inputs(ctx) if callable_tool(ctx) else list(card.features)
        present = [c for c in cols if c in current.columns and c in ctx.frame.columns]
        absent = [c for c in cols if c not in present]
        if absent:
            out.findings.append(self._insufficient(ctx, "psi", f"the current sample lacks the input column(s) "
                                                   f"{absent}; their drift was not measured"))
        rows = [self._feature(ctx, out, c) for c in present]
        self._score(ctx, out, rows, present, absent)
        adjusted = holm([r["p_value"] if r["p_value"] is not None else np.nan for r in rows])
        for r, p in zip(rows, adjusted, strict=True):
            r["p_adjusted"] = finite_or_none(p)
        rows.sort(key=lambda r: -(r["psi"] if r["psi"] is not None else -1.0))
        out.tables[f"{SUITE}.drift"] = rows
        return out

    def _insufficient(self, ctx: CheckContext, metric: str, why: str) -> Finding:
        return Finding(suite=SUITE, check=self.name, metric=metric, status=Status.INSUFFICIENT,
                       severity=Severity.ADVISORY, dataset=ctx.dataset.name, policy_section=self.policy_section,
                       message=why)

    def _feature(self, ctx: CheckContext, out: CheckOutput, col: str) -> dict[str, Any]:
        ref, cur = ctx.frame[col], ctx.current[col]  # type: ignore[index]
        if is_numeric(ref, ctx.dataset.card.columns.get(col)):
            r = ref.to_numpy(dtype=float, na_value=np.nan)
            c = pd.to_numeric(cur, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            h = numeric_histograms(r, c, int(setting(ctx, "psi_bins")))
            test = shift_test(h, r, c)
            kind, unparsed = "numeric", int((cur.notna() & np.isnan(c)).sum())
        else:
            h = categorical_histograms(ref, cur)
            test = shift_test(h, None, None)
            kind, unparsed = "categorical", 0
        return self._record(ctx, out, "psi", col, h, kind, test, unparsed)

    def _record(self, ctx: CheckContext, out: CheckOutput, metric: str, col: str | None, h: Histograms, kind: str,
                test: tuple[str, float, float], unparsed: int = 0) -> dict[str, Any]:
        floor = float(setting(ctx, "psi_floor"))
        conf = ctx.policy.confidence_level
        value = float(psi(h.reference, h.current, floor))
        rng = ctx.rng(f"degradation.drift.{metric}.{col}")
        lo, hi = psi_interval(h.reference, h.current, floor, ctx.policy.bootstrap_samples, rng, conf)
        lo, hi = min(lo, value), max(hi, value)
        limit = limit_of(ctx, self.name, metric)
        moderate = float(setting(ctx, "psi_moderate"))
        significant = limit if limit is not None else 0.2
        band = "significant" if value > significant else "moderate" if value > moderate else "stable"
        name, stat, p = test
        changed = most_changed(h)
        m = Measurement(SUITE, self.name, metric, value, lo, hi, group=col, n=int(h.current.sum()),
                        details={"kind": kind, "band": band, "test": name, "statistic": finite_or_none(stat),
                                 "p_value": finite_or_none(p), "reference_n": int(h.reference.sum()),
                                 "bins": len(h.bins), "most_changed": changed, "unparsed": unparsed})
        out.measurements.append(m)
        what = "the tool's score" if col is None else f"{col}"
        test_text = "" if not np.isfinite(stat) else f"; {name} = {stat:.3f}, p {_p(p)}"
        out.messages[m.key] = (
            f"{what}: PSI {value:.3f} ({conf:.0%} CI {lo:.3f} to {hi:.3f}) between the reference "
            f"({int(h.reference.sum()):,} rows) and the current sample ({int(h.current.sum()):,} rows), a {band} "
            f"shift (moderate above {moderate:g}, significant above {significant:g}); largest change in {changed}"
            f"{test_text}.")
        if np.isfinite(stat) and name.startswith("Kolmogorov"):
            out.measurements.append(Measurement(SUITE, self.name, "ks_statistic", stat, group=col or "score",
                                                n=int(h.current.sum()), details={"p_value": finite_or_none(p)}))
        elif np.isfinite(stat):
            out.measurements.append(Measurement(SUITE, self.name, "cramers_v", stat, group=col or "score",
                                                n=int(h.current.sum()), details={"p_value": finite_or_none(p)}))
        return {"feature": col if col is not None else "(tool score)", "kind": kind, "psi": value, "psi_low": lo,
                "psi_high": hi, "band": band, "test": name, "statistic": finite_or_none(stat),
                "p_value": finite_or_none(p), "reference_n": int(h.reference.sum()),
                "current_n": int(h.current.sum()),
                "current_missing_share": float(h.current[-1] / max(h.current.sum(), 1)),
                "most_changed": changed, "unparsed": unparsed}

    def _score(self, ctx: CheckContext, out: CheckOutput, rows: list[dict[str, Any]], present: list[str],
               absent: list[str]) -> None:
        """Score the current sample with the tool (one call) and compare the score distribution."""
        if not callable_tool(ctx):
            out.findings.append(skipped(self, ctx, "score_psi", "the tool's outputs were supplied as a file, so "
                                        "the current sample cannot be scored; only the inputs' drift was measured"))
            return
        if absent:
            out.findings.append(self._insufficient(ctx, "score_psi", f"the current sample lacks the tool's input "
                                                   f"column(s) {absent}, so it cannot be scored"))
            return
        timeout = float(setting(ctx, "robustness_timeout_s"))
        call = call_tool(ctx.tool, ctx.current[present], timeout, mode=clear_mode(ctx))  # type: ignore[index]
        if not call.answered or call.predictions is None:
            out.findings.append(self._insufficient(ctx, "score_psi", f"scoring the current sample failed: the tool "
                                                   f"{call.describe()}"))
            return
        ref_scores, cur_scores = ctx.predictions.scores, call.predictions.scores
        ref_fav = favourable(ctx, ctx.predictions.labels)
        cur_fav = favourable(ctx, call.predictions.labels)
        if ref_scores is not None and cur_scores is not None:
            r, c = np.asarray(ref_scores, float), np.asarray(cur_scores, float)
            h = numeric_histograms(r, c, int(setting(ctx, "psi_bins")))
            rows.append(self._record(ctx, out, "score_psi", None, h, "score", shift_test(h, r, c)))
        else:  # labels only: the share of favourable decisions is the whole distribution
            h = Histograms(np.bincount(ref_fav, minlength=2), np.bincount(cur_fav, minlength=2),
                           ["unfavourable", "favourable"])
            rows.append(self._record(ctx, out, "score_psi", None, h, "decision", shift_test(h, None, None)))
        shift = float(cur_fav.mean() - ref_fav.mean()) if len(cur_fav) else float("nan")
        out.measurements.append(Measurement(SUITE, self.name, "selection_rate_shift", shift, n=len(cur_fav),
                                            details={"reference": float(ref_fav.mean()),
                                                     "current": finite_or_none(cur_fav.mean())}))


def _p(p: float) -> str:
    return "undefined" if not np.isfinite(p) else "< 0.001" if p < 0.001 else f"= {p:.3f}"
