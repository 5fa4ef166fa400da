"""The `shap` check: SHAP values (Lundberg and Lee 2017) of a seeded sample of decisions, when the optional
`shap` package is installed (`pip install 'ai-risk-harness[shap]'`).

Optional, not a dependency: shap pulls in numba and llvmlite (about 200 MB) and matplotlib, its import took
1.3 to 2.0 s on the reference machine on top of scikit-learn, its first explanation in a process compiles numba
code (45 s there, on a busy machine), and its permutation explainer calls the tool about twice per explained row
(40 rows of a small scikit-learn pipeline: 6 s). Without it the check is SKIPPED with the reason (advisory: it
caps no verdict), and the suite's judged findings rest on permutation importance and occlusion, which need no
extra package.

Any tool the harness can call qualifies ("where the model allows": the explainer needs only predictions), so
shap's model-agnostic `PermutationExplainer` is used, on the tool's favourable score (its decision, 0 or 1,
when it gives no score). shap's maskers work on numbers, so each categorical input is passed to it as integer
codes and decoded back to its values before the tool sees a row.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement, note
from harness.measures.perturb import is_numeric
from test_suites.explainability.data import NOT_CALLABLE, callable_tool, predictor, sample, seeded_rows
from test_suites.explainability.importance import repeat_interval
from test_suites.explainability.settings import SUITE, settings_of

if TYPE_CHECKING:
    import pandas as pd

NOT_INSTALLED = ("the optional shap package is not installed, so no SHAP values were computed (pip install "
                 "'ai-risk-harness[shap]' adds it); the suite's findings rest on permutation importance and occlusion, "
                 "which need no extra package")


def load_shap() -> Any | None:
    """The shap module, or None when it is not installed. Its import warns about matplotlib internals: not ours."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import shap
    except ImportError:
        return None
    return shap


class Encoded:
    """A frame as numbers for shap's masker, and back: categorical inputs as codes of their values."""

    def __init__(self, frames: list[pd.DataFrame], numeric: set[str]) -> None:
        import pandas as pd

        whole = pd.concat(frames, ignore_index=True)  # the values only: the labels do not matter here
        self.columns = list(whole.columns)
        self.dtypes = {c: whole[c].dtype for c in self.columns}
        self.levels = {c: pd.Index(pd.unique(whole[c].dropna())) for c in self.columns if c not in numeric}

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.columns)))
        for j, c in enumerate(self.columns):
            if c in self.levels:
                codes = self.levels[c].get_indexer(frame[c])
                out[:, j] = np.where(codes >= 0, codes, np.nan)
            else:
                out[:, j] = frame[c].to_numpy(dtype=float, na_value=np.nan)
        return out

    def decode(self, values: np.ndarray) -> pd.DataFrame:
        import pandas as pd

        data: dict[str, Any] = {}
        for j, c in enumerate(self.columns):
            col = values[:, j]
            if c in self.levels:
                data[c] = pd.Series(self.levels[c].take(np.nan_to_num(col).astype(np.int64)), dtype=self.dtypes[c])
            else:
                series = pd.Series(col)
                data[c] = series.astype(self.dtypes[c]) if not series.isna().any() else series
        return pd.DataFrame(data)


class ShapValues(Check):
    """Mean absolute SHAP value of every input over a seeded sample of decisions (not judged: permutation
    importance is; shown beside it, since a reader may know SHAP)."""

    name = "shap"
    description = "Mean absolute SHAP value of each input on a seeded sample (the optional shap package)."
    policy_section = "Transparency"

    def run(self, ctx: CheckContext) -> CheckOutput:
        out = CheckOutput()
        settings = settings_of(ctx)
        tool = callable_tool(ctx)
        if settings.shap_rows == 0:
            out.findings.append(note(SUITE, self, ctx, "mean_abs", "SHAP values are turned off "
                                     "(settings.explainability.shap_rows: 0)"))
            return out
        if tool is None:
            out.findings.append(note(SUITE, self, ctx, "mean_abs", NOT_CALLABLE))
            return out
        shap = load_shap()
        if shap is None:
            out.findings.append(note(SUITE, self, ctx, "mean_abs", NOT_INSTALLED))
            return out
        s = sample(ctx, settings.shap_rows, "explainability.shap")
        cols = list(s.inputs)
        background = ctx.frame.iloc[seeded_rows(ctx, "explainability.shap_background", settings.shap_background)][cols]
        numeric = {c for c in cols if is_numeric(ctx.frame[c], ctx.dataset.card.columns.get(c))}
        enc = Encoded([background, s.frame], numeric)
        predict = predictor(ctx, tool)
        use_scores = s.scores is not None

        def f(values: np.ndarray) -> np.ndarray:
            labels, scores = predict(enc.decode(np.asarray(values, dtype=float)))
            return np.asarray(scores if use_scores and scores is not None else labels, dtype=float)

        seed = int(ctx.rng("explainability.shap").integers(0, np.iinfo(np.int32).max))
        bg = enc.encode(background)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = shap.PermutationExplainer(f, shap.maskers.Independent(bg, max_samples=len(bg)), seed=seed)
            explained = explainer(enc.encode(s.frame), max_evals=2 * len(cols) + 1, silent=True)
        values = np.asarray(explained.values, dtype=float)
        base = np.asarray(explained.base_values, dtype=float).reshape(-1)
        conf = ctx.policy.confidence_level
        lo, hi = repeat_interval(np.abs(values).T, conf)
        mean_abs = np.abs(values).mean(axis=0)
        order = sorted(range(len(cols)), key=lambda j: (-mean_abs[j], j))
        rank = {cols[j]: r + 1 for r, j in enumerate(order)}
        output = s.scores if use_scores else s.decisions
        assert output is not None
        additivity = float(np.max(np.abs(values.sum(axis=1) + base - np.asarray(output, dtype=float))))
        rows: list[dict[str, Any]] = []
        for j, c in enumerate(cols):
            out.measurements.append(Measurement(
                SUITE, self.name, "mean_abs", float(mean_abs[j]), float(lo[j]), float(hi[j]), group=c, n=s.n,
                details={"rank": rank[c], "seed": seed, "background": len(bg), "output": "score" if use_scores
                         else "decision"}))
            rows.append({"feature": c, "rank": rank[c], "mean_abs": float(mean_abs[j]), "low": float(lo[j]),
                         "high": float(hi[j]), "mean": float(values[:, j].mean())})
        rows.sort(key=lambda r: r["rank"])
        out.tables[f"{SUITE}.shap"] = rows
        out.tables[f"{SUITE}.shap.about"] = [{
            "decisions": s.n, "of_rows": s.total, "sampled": s.sampled, "background_rows": len(bg), "seed": seed,
            "explainer": "shap.PermutationExplainer", "shap_version": str(getattr(shap, "__version__", "")),
            "output": "favourable score" if use_scores else "decision (0 or 1)",
            "max_additivity_error": additivity}]
        return out
