"""The harness against a real shared `mlflow server` (issue 6, "Shared server"): a SQLite backend and its own
artifact folder in a temporary folder, on a free loopback port, driven only through the command line with
`--tracking-uri http://127.0.0.1:PORT`, the way departments share one store (one command after another in this
process, with click's CliRunner; the concurrent assessments as processes of their own). A vendor submits a bundle, DTI
fixes a plan and assesses, a reviewer approves, the deployment gate opens, the scheduled re-assessment
runs from the bundle as the server keeps it; then four assessments started at once must all land, each
with its own run id, tags, metrics and decision record (nothing lost, nothing mixed)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import gate
from harness.cli import main
from harness.tracking import metric_key
from harness.tracking.browse import headline_metrics
from tests.conftest import headlines, single_user
from tests.services import SERVER_GROUP, stop, wait_healthy
from tests.workers import harness_at_once

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "rental_assistance"
TOOL = "rental-screen-baseline"
READY_TIMEOUT_S = 90

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(SERVER_GROUP)]  # one worker runs the server tests


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    drop = ("MLFLOW_TRACKING_URI", "HARNESS_USER", "HARNESS_DATA_DIR")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "COLUMNS": "250"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real tracking server, stopped by its process group (it starts uvicorn workers) when the module ends."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (root / "server.log").open("w")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
           "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "2"]
    # the job runner (huey consumers) serves MLflow's GenAI jobs, which the harness does not use
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
                            env={**_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, root / "server.log", READY_TIMEOUT_S)
        yield url
    finally:
        stop(proc)
        log.close()


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


# a `harness` command's environment: without the caller's store, user or data folder
DROP: dict[str, str | None] = {"MLFLOW_TRACKING_URI": None, "HARNESS_USER": None, "HARNESS_DATA_DIR": None,
                               "COLUMNS": "250"}


def harness(*args: str, cwd: Path) -> Ran:
    """`harness ARGS` in this process, run from `cwd` without the caller's store, user or data folder."""
    with contextlib.chdir(cwd):
        r = CliRunner().invoke(main, list(args), env=DROP, prog_name="harness",
                               catch_exceptions=False)
    return Ran(r.exit_code, r.stdout, r.stderr)


def assessed(folder: Path) -> dict:
    return json.loads((folder / "assessment.json").read_text())


def test_submit_plan_assess_approve_gate_reassess_and_concurrent_assessments(server: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = ["--tracking-uri", server]
    single_user(server, tmp_path)  # a server without authentication cannot confirm who approves (issue 12)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copyfile(EXAMPLES / "fair_tool.yaml", bundle / "tool.yaml")
    shutil.copyfile(EXAMPLES / "fair_model.skops", bundle / "fair_model.skops")

    r = harness("submit", str(bundle), "--submitter", "Vendor Val", *uri, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"registered {TOOL} 1.0.0 as submitted by Vendor Val: model version 1" in r.stdout

    # every suite the policy requires: an approval rests on complete evidence (issue 11)
    r = harness("plan", f"{TOOL}:1.0.0", "--dataset", "rental-assistance", "--by", "pat", *uri, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    plan_id = r.stdout.split()[1]

    r = harness("assess", str(bundle / "tool.yaml"), "--plan", plan_id, "--by", "dana", "--out", str(tmp_path / "a"),
                *uri, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr  # PASS
    first = assessed(tmp_path / "a")
    assert (first["verdict"], first["extra"]["plan"]) == ("PASS", plan_id)

    r = harness("approve", f"{TOOL}:1.0.0", "--run", first["run_id"], "--reviewer", "omar", "--rationale",
                "every judged finding passed", *uri, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = harness("gate", TOOL, *uri, cwd=tmp_path)
    assert (r.returncode, r.stdout.startswith(f"OPEN: {TOOL} 1.0.0 is approved by omar")) == (0, True), r.stdout

    # the bundle is gone from this machine: the re-assessment takes it from the server's artifact store
    shutil.rmtree(bundle)
    r = harness("reassess", f"{TOOL}:1.0.0", "--by", "cron", "--format", "json", *uri, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    [again] = json.loads(r.stdout)
    assert (again["verdict"], again["approval"]) == ("PASS", "kept")
    c = MlflowClient(tracking_uri=server)
    tags = c.get_run(again["run"]).data.tags
    assert (tags["harness.kind"], tags["harness.plan"], tags["harness.submitter"]) == ("reassessment", plan_id, "cron")
    assert gate.status(server, TOOL, "1.0.0")[0].completed.run_id == again["run"]

    # four assessments at once, each with its own person and seed, each in a process of its own
    people = {"ann": 101, "bea": 102, "cal": 103, "dev": 104}
    ran = harness_at_once([(["assess", str(EXAMPLES / "fair_tool.yaml"), "--dataset", "rental-assistance", "--suite",
                             "bias", "--by", who, "--seed", str(seed), "--out", str(tmp_path / who), *uri], DROP,
                            tmp_path) for who, seed in people.items()])
    for who, (code, out, err) in zip(people, ran, strict=True):
        assert code == 0, f"{who}: {out}{err}"
    results = {who: assessed(tmp_path / who) for who in people}
    run_ids = {who: res["run_id"] for who, res in results.items()}
    assert len(set(run_ids.values())) == 4
    for who, seed in people.items():
        run = c.get_run(run_ids[who])
        # the headline figures only (issue 15): the rest are in the run's tables
        expected = headline_metrics(results[who], headlines(["bias"]))
        assert expected and set(expected) < {metric_key(m["key"]) for s in results[who]["suites"]
                                             for m in s["measurements"] if m["value"] is not None
                                             and math.isfinite(m["value"])}
        assert run.info.status == "FINISHED"
        tags = run.data.tags
        assert (tags["harness.submitter"], tags["harness.seed"], tags["harness.verdict"]) == (
            who, str(seed), results[who]["verdict"])
        assert run.data.metrics == pytest.approx(expected)
        logged = json.loads(Path(c.download_artifacts(run_ids[who], "assessment.json", str(tmp_path / who / "dl")))
                            .read_text())
        assert (logged["run_id"], logged["seed"]) == (run_ids[who], seed)
    history = gate.history(server, TOOL)
    assert history.verification.ok
    assessments = [(d.run_id, d.actor) for d in history.records if d.action == "assess"]
    assert dict(assessments[2:]) == {run_ids[who]: who for who in people}  # one record each, none lost or mixed
    assert [d.action for d in history.records] == ["submit", "assess", "approve", "assess"] + ["assess"] * 4
    assert gate.gate(server, TOOL).open
