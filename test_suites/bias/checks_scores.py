"""Checks on the tool's scores (when it gives them): ranking quality, calibration and score
distributions per group. A tool can select groups at equal rates and still rank one group worse,
or mean something different by "0.7" for one group than for another."""
from __future__ import annotations

import numpy as np

from harness.check import Check, CheckContext, CheckOutput, Measurement
from harness.findings import Status, finite_or_none
from test_suites.bias import scores as S
from test_suites.bias.checks import ci_text, limit_of
from test_suites.bias.data import SUITE, bias_data, note


class ScoreMetrics(Check):
    name = "scores"
    description = "AUC (DeLong intervals), expected calibration error and KS distance of scores, per group."
    policy_section = "2.1"

    def run(self, ctx: CheckContext) -> CheckOutput:
        from scipy import stats

        out = CheckOutput()
        data = bias_data(ctx)
        if data.scores is None:
            out.findings.append(note(self, ctx, "auc_difference", "the tool gives decisions only, no scores: "
                                     "ranking and calibration cannot be assessed"))
            return out
        scores = np.asarray(data.scores, dtype=float)
        if np.isnan(scores).any() or scores.min() < 0 or scores.max() > 1:
            out.findings.append(note(self, ctx, "auc_difference", "the tool's scores are not all numbers in [0, 1]; "
                                     "score metrics were not computed", Status.ERROR))
            return out
        conf = ctx.policy.confidence_level
        z = float(stats.norm.ppf(0.5 + conf / 2))
        bins = int(ctx.policy.setting(SUITE, "calibration_bins", 10))
        # few distinct scores (at most rows / groups): each grouping's tie blocks are counted, no row is sorted;
        # else one float sort, shared by every grouping's AUC and KS. The same figures either way.
        most_groups = max(len(gd.grouping.labels) for gd in data.groupings)
        ranks = S.ValueRanks.of(scores, len(scores) // most_groups)
        index = None
        if ranks is None:
            score_bins = S.score_bins(scores, bins)
            index = S.global_index(scores, np.argsort(scores).astype(np.int32))
        else:
            value_bins = ranks.value_bins(bins)
            score_bins = value_bins[ranks.ranks]
        # counted blocks: the intersection of every attribute is counted from the rows, the other groupings' blocks
        # are sums of its (group, value) tables
        finest = max(data.groupings, key=lambda gd: len(gd.grouping.attributes))
        blocks = None if ranks is None else S.ValueBlocks.of(ranks, finest.grouping.codes,
                                                              len(finest.grouping.labels), data.y_true)
        for gd in data.groupings:
            g, n_groups = gd.grouping, len(gd.grouping.labels)
            prepared: S.GroupSort | S.ValueBlocks
            if blocks is None:
                prepared = S.group_sort(scores, g.codes, n_groups, index=index)
            elif gd is finest:
                prepared = blocks
            else:
                prepared = blocks.merged(g.groups_of(finest.grouping), n_groups)
            auc, var = S.delong_auc_by_group(scores, data.y_true, g.codes, n_groups, prepared=prepared)
            se = np.sqrt(var)
            # counted blocks hold each (group, value)'s rows and positives: the bins' counts are their sums
            counted = prepared.bin_counts(value_bins, bins) if isinstance(prepared, S.ValueBlocks) else None
            ece, table = S.calibration_by_group(scores, data.y_true, g.codes, n_groups, bins, conf, score_bins,
                                                counted)
            ks, ks_p = S.ks_by_group(scores, g.codes, n_groups, gd.reference, prepared=prepared, index=index)
            del prepared
            rows = []
            for i in range(n_groups):
                key = g.group_key(i)
                lo, hi = np.clip(auc[i] - z * se[i], 0, 1), np.clip(auc[i] + z * se[i], 0, 1)
                out.measurements.append(Measurement(SUITE, self.name, "auc", float(auc[i]), float(lo), float(hi),
                                                    group=key, n=int(gd.sizes[i])))
                out.measurements.append(Measurement(SUITE, self.name, "ece", float(ece[i]), group=key,
                                                    n=int(gd.sizes[i])))
                if i != gd.reference:
                    out.measurements.append(Measurement(SUITE, self.name, "ks", float(ks[i]), group=key,
                                                        reference=g.names[gd.reference],
                                                        details={"p_value": finite_or_none(ks_p[i])}))
                rows.append({"group": g.names[i], "n": int(gd.sizes[i]), "reference": i == gd.reference,
                             "auc": finite_or_none(auc[i]), "auc_low": finite_or_none(lo),
                             "auc_high": finite_or_none(hi), "ece": finite_or_none(ece[i]),
                             "ks_vs_reference": finite_or_none(ks[i]), "ks_p_value": finite_or_none(ks_p[i])})
            out.tables[f"{SUITE}.scores.{g.key}"] = rows
            out.tables[f"{SUITE}.reliability.{g.key}"] = [
                {**{k: v for k, v in r.items() if k != "group"}, "group": g.names[r["group"]]}
                for r in table if r["n"] > 0]
            ok = gd.eligible & np.isfinite(auc) & np.isfinite(var)
            if ok.sum() < 2:
                continue
            idx = np.flatnonzero(ok)
            hi_g, lo_g = idx[np.argmax(auc[idx])], idx[np.argmin(auc[idx])]
            value = float(auc[hi_g] - auc[lo_g])
            # the attaining pair's normal interval below; above, no pair's gap confidently larger
            gaps = auc[idx, None] - auc[None, idx]
            bounds = gaps + z * np.sqrt(var[idx, None] + var[None, idx])
            np.fill_diagonal(bounds, -np.inf)
            lo = max(value - z * float(np.sqrt(var[hi_g] + var[lo_g])), 0.0)
            hi = float(bounds.max())
            m = Measurement(SUITE, self.name, "auc_difference", value, lo, max(hi, value), group=g.key,
                            details={"highest": g.names[hi_g], "lowest": g.names[lo_g]})
            out.measurements.append(m)
            limit = limit_of(ctx, self.name, "auc_difference")
            out.messages[m.key] = (
                f"Within {g.key}, the tool ranks '{g.names[hi_g]}' best (AUC {auc[hi_g]:.3f}) and "
                f"'{g.names[lo_g]}' worst (AUC {auc[lo_g]:.3f}), a gap of {value:.3f} "
                f"({ci_text(m.ci_low, m.ci_high, conf)}, DeLong)"
                + (f"; the policy allows at most {limit:.2f}." if limit is not None else "."))
        return out
