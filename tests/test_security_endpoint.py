"""The security suite's `endpoint` check (policy 1.3, 1.4): the host and transport of a tool called over the
network as findings, and an endpoint that answers without the API key the manifest names as a blocking FAIL."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.check import CheckContext
from harness.datasets import load_dataset
from harness.decision import not_tested
from harness.findings import Finding, Severity, Status
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.testing.chat_server import ChatServer
from harness.tools import load_tool
from harness.verdict import SuiteResult
from test_suites.security import SecuritySuite
from test_suites.security.endpoint import Endpoint
from tests.conftest import ROOT
from tests.test_openai_adapter import KEY, echo, frame, write_manifest


def _run(manifest: Any, tool: Any) -> list[Finding]:
    policy = load_policy()
    ctx = CheckContext(dataset=load_dataset("city-services-qa"), predictions=None,  # type: ignore[arg-type]
                       policy=policy, manifest=manifest, seed=1, tool=tool)
    return Endpoint().run(ctx).findings


def _by_metric(findings: list[Finding]) -> dict[str, Finding]:
    return {f.metric: f for f in findings}


def test_the_endpoint_check_runs_last_so_the_probe_has_been_made() -> None:
    names = [c.name for c in SecuritySuite().checks(None)]  # type: ignore[arg-type]
    assert names == ["injection", "direct", "endpoint"]


@pytest.mark.parametrize("locked", [True, False])
def test_a_door_without_a_lock_fails(locked: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_TOOL_KEY", KEY)
    with ChatServer(echo, api_key=KEY if locked else None) as url:
        adapter = f"  base_url: {url}\n  model: m\n  api_key_env: CHAT_TOOL_KEY\n  cache: false\n"
        manifest = load_manifest(write_manifest(tmp_path, adapter))
        tool = load_tool(manifest)
        tool.generate(frame(2))  # type: ignore[attr-defined]
        got = _by_metric(_run(manifest, tool))
    host = url.removesuffix("/v1")
    assert got["transport"].status is Status.PASS
    assert got["transport"].message == (f"{host}: plain HTTP on loopback (this machine), and the host is allowed "
                                        f"(loopback)")
    cred = got["credentials"]
    assert cred.severity is Severity.BLOCKING and cred.policy_section == "1.3"
    if locked:
        assert cred.status is Status.PASS
        assert cred.message == f"{host} refused a request without credentials (HTTP 401)"
    else:
        assert cred.status is Status.FAIL
        assert cred.message == (f"{host} answered a request without credentials (HTTP 200), though the manifest names "
                                f"an API key: anyone who can reach {host} can use the tool and whatever it holds "
                                f"(policy 1.3: authentication)")


def test_no_key_named_and_no_network_are_not_applicable(tmp_path: Path) -> None:
    with ChatServer(echo) as url:
        manifest = load_manifest(write_manifest(tmp_path, f"  base_url: {url}\n  model: m\n  cache: false\n"))
        tool = load_tool(manifest)
        tool.generate(frame(1))  # type: ignore[attr-defined]
        got = _by_metric(_run(manifest, tool))
    assert got["credentials"].status is Status.SKIPPED and got["credentials"].details["not_applicable"] is True
    local = load_manifest(ROOT / "examples" / "city_services_qa" / "baseline_tool.yaml")
    (skipped,) = _run(local, None)
    assert (skipped.metric, skipped.status, skipped.details["not_applicable"]) == ("transport", Status.SKIPPED, True)
    assert skipped.message == "the tool (adapter kind 'python') is not called over the network: no endpoint to check"
    result = SuiteResult(suite="security", suite_version="1", dataset="city-services-qa", findings=(skipped,))
    assert not_tested([result], load_policy(), "high", "generative") == []  # not applicable: no cap on the verdict


def test_an_endpoint_the_rules_refuse_is_named_on_each_rule() -> None:
    """The adapters refuse such a URL before sending anything; a manifest read by other means (a plugin adapter) is
    still judged on the record: plain HTTP to a host off the allow-list breaks both rules."""
    manifest = SimpleNamespace(adapter=SimpleNamespace(kind="openai", base_url="http://chat.example.gov/v1"),
                               risk_tier="high")
    got = _by_metric(_run(manifest, None))
    assert (got["tls"].status, got["host"].status) == (Status.FAIL, Status.FAIL)
    assert "transport" not in got
    assert got["host"].details["allowed_hosts"] == []
    assert got["credentials"].status is Status.SKIPPED and got["credentials"].details["not_applicable"] is False
