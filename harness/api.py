"""The public API: what a suite plugin or a notebook imports (README "Public API").

Everything listed in `__all__` keeps its name and meaning across minor versions; anything else in the
package may move (issue 13 moved a third of it). A plugin that imports only from here survives the next
refactoring of the harness's insides. Importing this module pulls in pandas and pydantic but not mlflow,
Great Expectations, fairlearn or aif360: those load when an assessment or a suite needs them.

Three groups:

- writing a suite: `Suite`, `Check`, `CheckContext`, `CheckOutput`, `Measurement`, `Finding`, `Status`,
  `Severity`, the report contract (`Section`, `TableView`, `ReportContext`, `SuiteOutcome`, and `count` /
  `pct` to format cells as the built-in suites do) and the shared
  measures (intervals, significance tests with Holm's correction, the group-by of counts, the PII scan,
  answer normalisation), so that two suites measure a rate, a p-value or "personal data" the same way;
- running an assessment from a notebook: `load_manifest`, `load_dataset`, `load_policy`,
  `run_assessment`, `AssessmentResult`, `Verdict`;
- tools in code: `Predictions`, `Tool`, `GenerativeTool`, and the endpoint rules every network adapter is held
  to (`endpoint_problems`, `require_endpoint`, `EndpointProblem`: TLS, the policy's allow-list; policy 1.3, 1.4),
  which the security suite reports; and the errors a user can cause (`HarnessError` and its kinds), which the
  command line turns into exit code 2 or 4.
"""
from __future__ import annotations

from harness.assessment import AssessmentResult
from harness.check import Check, CheckContext, CheckOutput, Suite
from harness.datasets import ReferenceDataset, load_dataset, matches
from harness.errors import (
    CheckError,
    ConfigError,
    DatasetError,
    GateError,
    HarnessError,
    ToolConfigError,
    ToolError,
    TrackingError,
)
from harness.findings import Finding, Measurement, Severity, Status
from harness.manifest import ToolManifest, load_manifest
from harness.measures.answers import compute_exact, compute_f1, is_abstention, normalize_answer
from harness.measures.counts import Grouping, bootstrap_counts, build_groupings, confusion_counts
from harness.measures.pii import PiiCount, detect, scan
from harness.measures.proxies import AUC as PROXY_AUC
from harness.measures.proxies import CRAMERS_V as PROXY_CRAMERS_V
from harness.measures.proxies import ProxyScore, detect_proxies, proxy_strength
from harness.measures.significance import holm, homogeneity_test, selection_test
from harness.policy import Policy, load_policy
from harness.report.formatting import count, pct
from harness.report.sections import ReportContext, Section, SuiteOutcome, TableView
from harness.stats import percentile_interval, wilson_interval
from harness.tools.base import GenerativeTool, Predictions, Tool
from harness.tools.endpoint import EndpointProblem, endpoint_problems, require_endpoint
from harness.verdict import SuiteResult, Verdict
from harness.workflows.assess import Recorded, run_assessment

__all__ = [
    "PROXY_AUC",
    "PROXY_CRAMERS_V",
    "AssessmentResult",
    "Check",
    "CheckContext",
    "CheckError",
    "CheckOutput",
    "ConfigError",
    "DatasetError",
    "EndpointProblem",
    "Finding",
    "GateError",
    "GenerativeTool",
    "Grouping",
    "HarnessError",
    "Measurement",
    "PiiCount",
    "Policy",
    "Predictions",
    "ProxyScore",
    "Recorded",
    "ReferenceDataset",
    "ReportContext",
    "Section",
    "Severity",
    "Status",
    "Suite",
    "SuiteOutcome",
    "SuiteResult",
    "TableView",
    "Tool",
    "ToolConfigError",
    "ToolError",
    "ToolManifest",
    "TrackingError",
    "Verdict",
    "bootstrap_counts",
    "build_groupings",
    "compute_exact",
    "compute_f1",
    "confusion_counts",
    "count",
    "detect",
    "detect_proxies",
    "endpoint_problems",
    "holm",
    "homogeneity_test",
    "is_abstention",
    "load_dataset",
    "load_manifest",
    "load_policy",
    "matches",
    "normalize_answer",
    "pct",
    "percentile_interval",
    "proxy_strength",
    "require_endpoint",
    "run_assessment",
    "scan",
    "selection_test",
    "wilson_interval",
]
