"""Nothing leaves the City (issue 11, section 3; Code of Ethics, Safety; policy 1.3, 1.4): a submission, a whole
assessment (MLflow, Great Expectations, the report) and an approval open no connection beyond loopback, even
when the environment asks the libraries for their telemetry. An audit hook sees every connection attempt and
name lookup before it happens and refuses any that is not local, so the test itself sends nothing out."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, single_user, write_case

GUARD = textwrap.dedent("""
    import ipaddress, json, socket, sys

    seen = []

    def local(host):
        if host in (None, "", "localhost") or str(host).endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False  # a name to look up: that lookup would leave the machine

    def hook(event, args):
        if event == "socket.getaddrinfo":
            host = args[0]
        elif event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            addr = args[1] if event == "socket.connect" else args[-1]
            if not isinstance(addr, tuple):  # a Unix socket path: local by construction
                return
            host = addr[0]
        elif event == "socket.gethostbyname":
            host = args[0]
        else:
            return
        if isinstance(host, bytes):
            host = host.decode()
        if not local(host):
            seen.append(f"{event} {host}")
            raise PermissionError(f"blocked by the test: {event} to {host}")

    # the hook refuses before any packet is sent: shown here without touching a socket
    try:
        hook("socket.connect", (None, ("192.0.2.1", 443)))
    except PermissionError:
        pass
    assert seen == ["socket.connect 192.0.2.1"], seen
    seen.clear()
    sys.addaudithook(hook)
    results = []
    import atexit
    # registered before any library's own exit handlers, so it runs after them (telemetry is often flushed
    # by a background thread or at exit) and sees their attempts too
    atexit.register(lambda: print(json.dumps({"seen": seen, "results": results})))

    from click.testing import CliRunner
    from harness.cli import main

    for args in json.loads(sys.argv[1]):
        r = CliRunner().invoke(main, args, env={"COLUMNS": "200"})
        results.append([args[0], r.exit_code, r.output[-2000:]])
""")
# libraries stay quiet by themselves under a test runner or CI: none of their markers reaches the process
MARKERS = ("PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID", "CI", "GITHUB_ACTIONS",
           "GITLAB_CI", "JENKINS_URL", "BUILDKITE", "DO_NOT_TRACK", "GX_ANALYTICS_ENABLED")


@pytest.mark.slow
def test_a_submission_an_assessment_and_an_approval_stay_on_this_machine(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "bundle", n=600, seed=44)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single_user(uri, tmp_path)
    out = tmp_path / "out"
    steps = [
        ["submit", str(tool.parent), "--submitter", "Sam Seller", "--tracking-uri", uri],
        ["assess", str(tool), "--dataset", str(card), "--tracking-uri", uri, "--out", str(out)],
    ]
    # the environment asks for telemetry: the harness must turn it off itself
    env = {k: v for k, v in os.environ.items() if k not in MARKERS}
    env |= {"MLFLOW_DISABLE_TELEMETRY": "false", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", GUARD, json.dumps(steps)], capture_output=True, text=True,
                       timeout=600, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert [(name, code) for name, code, _ in got["results"]] == [("submit", 0), ("assess", 3)], got["results"]
    run_id = json.loads((out / "assessment.json").read_text())["run_id"]
    approve = [["approve", "case-tool-44:1.0", "--run", run_id, "--reviewer", "Rita Reviewer",
                "--rationale", "Reviewed every finding; the untested counterfactual check is accepted for a pilot.",
                "--tracking-uri", uri]]
    r2 = subprocess.run([sys.executable, "-c", GUARD, json.dumps(approve)], capture_output=True, text=True,
                        timeout=600, cwd=tmp_path, env=env)
    assert r2.returncode == 0, r2.stderr[-4000:]
    got2 = json.loads(r2.stdout.strip().splitlines()[-1])
    assert got2["results"][0][1] == 0, got2["results"]
    assert got["seen"] == [] and got2["seen"] == []  # no connection or name lookup beyond loopback
