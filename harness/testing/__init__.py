"""`harness.testing`: the conformance kit for adapter and suite authors (DESIGN.md, after
scikit-learn's `check_estimator`).

- `check_suite(suite, dataset, tool=None)` and `check_adapter(tool, dataset)` run every rule the harness
  relies on (keys, intervals, determinism, JSON round trip; output shapes, scores in [0, 1], order) and
  raise a `ConformanceError` naming each one broken, or return the failures with `on_fail=None`;
  `suite_checks()` / `adapter_checks()` yield the rules one by one for a pytest parametrisation.
- `ChatServer`, a real chat-completions server on loopback with fault injection, so a generative adapter
  or check is tested over real HTTP; `ScoringServer`, a JSON scoring endpoint serving a scikit-learn model,
  for the `http` adapter; `WebhookServer`, a receiver of `settings.notify` webhooks. All are built on
  `harness.testing.loopback` (the server, TLS, the API key, `Fault`).
"""
from __future__ import annotations

from harness.testing.chat_server import ChatServer
from harness.testing.conformance import (
    AdapterCase,
    ConformanceError,
    ConformanceFailure,
    SuiteCase,
    adapter_checks,
    check_adapter,
    check_suite,
    suite_checks,
)
from harness.testing.loopback import Fault
from harness.testing.scoring_server import ScoringServer
from harness.testing.webhook_server import WebhookServer

__all__ = [
    "AdapterCase", "ChatServer", "ConformanceError", "ConformanceFailure", "Fault", "ScoringServer", "SuiteCase",
    "WebhookServer", "adapter_checks", "check_adapter", "check_suite", "suite_checks",
]
