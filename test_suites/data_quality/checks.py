"""The data-quality suite's three checks: the card's expectations (one GX validation), undeclared
personal data, and the tool's outputs as a contract."""
from __future__ import annotations

from typing import Any

from harness.check import Check, CheckContext, CheckOutput, Measurement
from harness.findings import Finding, Status
from harness.measures.pii import LABELS, scan
from test_suites.data_quality.rules import SUITE, pct, rule
from test_suites.data_quality.text_columns import columns_to_scan


class Expectations(Check):
    """Builds the GX suite from the dataset card and the policy, validates the reference data in one
    run, and turns every expectation result into a finding (policy 4.2: data quality standards)."""

    name = "expectations"
    data_only = True  # the card, the policy and the frame: started beside the tool's load (harness.background)
    description = ("Schema, key columns, identity, declared sets and ranges, row count, protected-group "
                   "representation, label prevalence and duplicate rows, validated with Great Expectations.")
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        from test_suites.data_quality.expectations import plan_expectations, validate
        from test_suites.data_quality.results import interpret, scrubbed

        card, frame = ctx.dataset.card, ctx.frame
        plan = plan_expectations(card, ctx.policy, ctx.tier, frame)
        result = validate(frame, plan, name=ctx.dataset.name)
        got = interpret(result, plan, card, ctx.policy, ctx.tier, frame, ctx.dataset.name)
        return CheckOutput(measurements=got.measurements, findings=got.findings,
                           tables={f"{SUITE}.expectations": got.rows},
                           artifacts={"gx_validation": scrubbed(result, card)})


class PersonalData(Check):
    """Scans free-text columns for undeclared personal data; any found blocks (policy 1.2). Reports
    column, kind and count, never a value; declared `pii_columns` are never read."""

    name = "pii"
    data_only = True
    description = ("Undeclared SSNs, e-mail addresses, phone numbers, payment cards and street addresses in "
                   "text columns.")
    policy_section = "1.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        card = ctx.dataset.card
        rl = rule(ctx.policy, ctx.tier, self.name, "undeclared")
        columns = columns_to_scan(card, ctx.frame)
        counts = scan(ctx.frame, columns)
        out = CheckOutput()
        out.tables[f"{SUITE}.pii"] = [{"column": c.column, "kind": c.kind, "count": c.count, "scanned": c.scanned}
                                      for c in counts]
        base: dict[str, Any] = {"suite": SUITE, "check": self.name, "severity": rl.severity,
                                "policy_section": rl.policy_section, "dataset": ctx.dataset.name,
                                "benchmark": rl.benchmark or None}
        declared = (f"; declared PII columns {card.pii_columns} were not read" if card.pii_columns else "")
        for c in counts:
            if c.count:
                out.measurements.append(Measurement(SUITE, "profile", f"pii.{c.kind}.{c.column}", float(c.count)))
            if c.count and c.share > rl.limit:
                out.findings.append(Finding(
                    **base, metric=f"{c.kind}.{c.column}", status=Status.FAIL, value=c.share, threshold=rl.limit,
                    greater_is_better=False, n=c.scanned, details={"column": c.column, "kind": c.kind,
                                                                   "count": c.count},
                    message=(f"column '{c.column}' holds {c.count:,} values that look like {LABELS[c.kind]} "
                             f"({pct(c.share)} of {c.scanned:,}); the dataset card does not declare it as personal "
                             f"data. Remove or declare it (pii_columns) before the data is used (policy 1.2)."),
                ))
        if not any(f.status is Status.FAIL for f in out.findings):
            what = (f"{len(columns)} text column(s) ({', '.join(columns)})" if columns else "no free-text columns")
            out.findings.append(Finding(
                **base, metric="undeclared", status=Status.PASS if columns else Status.SKIPPED, value=0.0,
                threshold=rl.limit, greater_is_better=False, details={"columns": columns},
                message=(f"no undeclared personal data found in {what}{declared}" if columns else
                         f"no column needed a personal-data scan (every text column is declared categorical)"
                         f"{declared}")))
        return out


class ToolOutputs(Check):
    """The tool's outputs are a contract every other check relies on (policy 4.2)."""

    name = "outputs"
    description = "One prediction per row, known labels, scores in [0, 1], no NaN, a stable output schema."
    policy_section = "4.2"

    def run(self, ctx: CheckContext) -> CheckOutput:
        from test_suites.data_quality.outputs import output_findings

        return CheckOutput(findings=output_findings(ctx))
