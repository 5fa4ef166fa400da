"""The shared deployment end to end (issue 12, sections 2 and 4): PostgreSQL, the MLflow server with its
authentication, set up by deploy/, and the people of a real assessment, each running `harness` with their own
login and signing key. Nothing is mocked: the identities are the server's, the refusals are the harness's and
MLflow's own.

The vendor submits; the analyst assesses; the vendor cannot approve, waive, or write to the tool's runs; the
analyst cannot approve her own run, nor record it in someone else's name; one signature does not open the gate
of a high-risk tool; the department's signature does; four concurrent assessments all land.

Each person's commands run in this process (click's CliRunner with that person's environment and working
folder: an interpreter start costs seconds of imports, about 25 times over), except the four concurrent
assessments, which are processes of their own because concurrency is what they test (forks of a server that
imported the harness once, `tests.workers.harness_at_once`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner

from harness.cli import main
from tests.services import CITY_PEOPLE, SERVER_GROUP, City, client_overrides
from tests.workers import harness_at_once

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "rental_assistance"
TOOL = "rental-screen-baseline"
PEOPLE = {"dana": "dti", "rita": "dti", "omar": "department", "sam": "vendor"}  # this test's; the city has more

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(SERVER_GROUP)]


def policy_with_roles(folder: Path) -> Path:
    """The packaged policy, with every user of the deployment in their roles (those of the other tests on the shared
    server too, who must keep theirs whichever test runs first): nothing else weakened."""
    assert PEOPLE.items() <= CITY_PEOPLE.items()
    text = resources.files("harness.policies").joinpath("default.yaml").read_text()
    roles = "".join(f"      {role}: [{', '.join(p for p, r in CITY_PEOPLE.items() if r == role)}]\n"
                    for role in ("dti", "department", "vendor"))
    assert text.count("    roles: {}\n") == 1
    path = folder / "city-policy.yaml"
    path.write_text(text.replace("    roles: {}\n", "    roles:\n" + roles))
    return path


@dataclass(frozen=True)
class Ran:
    """A finished `harness` command: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


class Person:
    """One person at their own machine: MLflow login, signing key, and the City's list of trusted keys."""

    def __init__(self, name: str, password: str, url: str, home: Path, trusted: Path) -> None:
        self.name, self.home = name, home
        home.mkdir(parents=True, exist_ok=True)
        self.env: dict[str, str | None] = {**client_overrides(name, password, url),
                                           "HARNESS_SIGNING_KEY": str(home / "signing.key"),
                                           "HARNESS_TRUSTED_KEYS": str(trusted)}

    def run(self, *args: str, extra: dict[str, str] | None = None) -> Ran:
        """`harness ARGS` in this process, in this person's folder and environment; a bug that escapes the
        command's own error handling is raised."""
        with contextlib.chdir(self.home):
            r = CliRunner().invoke(main, list(args), env={**self.env, **(extra or {})}, prog_name="harness",
                                   catch_exceptions=False)
        return Ran(r.exit_code, r.stdout, r.stderr)

    @contextlib.contextmanager
    def environment(self):
        """This person's environment for code run here directly (MLflow's own client)."""
        with mock.patch.dict(os.environ):
            for k, v in self.env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            yield

    def public_key(self) -> str:
        r = self.run("keys", "init")
        assert r.returncode == 0, r.stderr
        return next(line.split(":", 1)[1].strip() for line in r.stdout.splitlines() if line.startswith("public key"))


def ok(r: Ran, *codes: int) -> str:
    assert r.returncode in (codes or (0,)), f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def refusals(run_id: str) -> list[str]:
    """What MLflow's own client (as whoever's environment is in force) gets for a write, a read and a tag of the
    run: ALLOWED or REFUSED with the server's error code."""
    from mlflow.tracking import MlflowClient

    c = MlflowClient()
    out = []
    for call in (lambda: c.log_metric(run_id, "bias.x", 1.0), lambda: c.get_run(run_id),
                 lambda: c.set_tag(run_id, "harness.verdict", "PASS")):
        try:
            call()
            out.append("ALLOWED")
        except Exception as e:
            out += ["REFUSED", str(getattr(e, "error_code", type(e).__name__))]
    return out


def test_a_vendor_an_analyst_and_a_reviewer_on_the_citys_server(city: City, tmp_path: Path) -> None:
    # the shared deployment (`city`): this test's people are PEOPLE, its tool TOOL
    d = city.deployment
    made = d.create_users(*(f"{p}:{r}" for p, r in PEOPLE.items()))  # the `city` fixture's run created them
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[:len(PEOPLE)] == [f"{p} ({r}): exists, unchanged" for p, r in PEOPLE.items()]
    trusted = tmp_path / "trusted-keys"
    admin = Person(d.admin[0], d.admin[1], d.url, tmp_path / "admin", trusted)
    people = {p: Person(p, d.password(p), d.url, tmp_path / p, trusted) for p in PEOPLE}
    lines = [admin.public_key()] + [people[p].public_key() + (" only=submit" if r == "vendor" else "")
                                    for p, r in PEOPLE.items()]
    trusted.write_text("\n".join(lines) + "\n")
    dana, rita, omar, sam = (people[p] for p in ("dana", "rita", "omar", "sam"))

    # the City's policy names who is who; the administrator opens the tool's records before the vendor comes
    path = policy_with_roles(tmp_path)
    ok(admin.run("policy", "adopt", str(path), "--reason", "the City's people and their roles",
                 "--acknowledge-weakening", "who holds a role is the City's decision"))
    opened = ok(admin.run("access", "open", TOOL))
    assert f"sam (vendor): EDIT on experiment harness/{TOOL}/submissions" in opened
    assert f"harness/{TOOL}\n" not in opened.replace(f"harness/{TOOL}/", "") or "sam (vendor): EDIT on " \
        f"experiment harness/{TOOL}\n" not in opened

    # the vendor submits with its own login; typing another name is refused
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copyfile(EXAMPLES / "fair_tool.yaml", bundle / "tool.yaml")
    shutil.copyfile(EXAMPLES / "fair_model.skops", bundle / "fair_model.skops")
    r = sam.run("submit", str(bundle), "--submitter", "Dana")
    assert r.returncode == 2 and "you are signed in to the MLflow server as 'sam'" in r.stdout + r.stderr
    assert f"registered {TOOL} 1.0.0 as submitted by sam" in ok(sam.run("submit", str(bundle)))

    # the analyst cannot start a run in someone else's name, by flag or by $HARNESS_USER
    for args, extra in ((["--by", "omar"], None), ([], {"HARNESS_USER": "omar"})):
        r = dana.run("assess", str(bundle / "tool.yaml"), "--dataset", "rental-assistance", "--out",
                     str(tmp_path / "x"), *args, extra=extra)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "you are signed in to the MLflow server as 'dana', but the person starting the assessment is " \
               "given as 'omar'" in (r.stdout + r.stderr).replace("\n", " ")
    ok(dana.run("assess", str(bundle / "tool.yaml"), "--dataset", "rental-assistance", "--out",
                str(tmp_path / "a")))
    run = json.loads((tmp_path / "a" / "assessment.json").read_text())
    assert run["verdict"] == "PASS" and run["extra"]["submitter"] == "dana"
    run_id = run["run_id"]

    # the vendor: no approval, no waiver, and MLflow itself refuses it the evidence
    r = sam.run("approve", f"{TOOL}:1.0.0", "--run", run_id, "--rationale", "mine is fine")
    assert r.returncode == 2 and "rule 'role'" in r.stdout + r.stderr and "'sam' holds the role(s) vendor" in \
        (r.stdout + r.stderr).replace("\n", " ")
    r = sam.run("waive", f"{TOOL}:1.0.0", "--run", run_id, "--rationale", "r", "--conditions", "c",
                "--expires", "2027-01-01")
    assert r.returncode == 2 and "rule 'role'" in r.stdout + r.stderr
    with sam.environment():
        assert refusals(run_id) == ["REFUSED", "PERMISSION_DENIED"] * 3

    # the analyst cannot approve her own run; one dti signature does not open a high-risk tool's gate
    r = dana.run("approve", f"{TOOL}:1.0.0", "--run", run_id, "--rationale", "I ran it")
    assert r.returncode == 2 and "separation-of-duties" in r.stdout + r.stderr
    out = ok(rita.run("approve", f"{TOOL}:1.0.0", "--run", run_id, "--rationale", "every check passed"))
    assert "signed (dti) the approve of" in out and "awaiting department" in out
    assert "authenticated (MLflow server login)" in out
    r = rita.run("gate", TOOL)
    assert r.returncode == 1, r.stdout
    out = ok(omar.run("approve", f"{TOOL}:1.0.0", "--run", run_id, "--rationale", "the department agrees"))
    assert out.startswith(f"approved {TOOL} 1.0.0") and "by omar (authenticated" in out
    assert ok(omar.run("gate", TOOL)).startswith(f"OPEN: {TOOL} 1.0.0 is approved by omar")
    r = sam.run("gate", TOOL)  # the gate re-hashes the evidence, which the vendor may not read
    assert r.returncode == 2 and "the MLflow server refused sam permission for this" in r.stderr

    history = json.loads(ok(omar.run("history", TOOL, "--verify", "--format", "json")))
    assert [(r["action"], r["actor"], r["details"]["identity"]) for r in history["records"]] == [
        ("submit", "sam", "mlflow-basic-auth"), ("assess", "dana", "mlflow-basic-auth"),
        ("signoff", "rita", "mlflow-basic-auth"), ("approve", "omar", "mlflow-basic-auth")]

    # four concurrent assessments by the analyst all land, each with its assess record (one suite each, the
    # cheapest to start: what is tested is the recording, not the suite)
    ran = harness_at_once([(["assess", str(bundle / "tool.yaml"), "--dataset", "rental-assistance", "--suite",
                             "performance", "--out", str(tmp_path / f"c{i}")], dana.env, dana.home) for i in range(4)])
    for code, stdout, stderr in ran:
        assert code in (0, 3), stdout + stderr
    runs = {json.loads((tmp_path / f"c{i}" / "assessment.json").read_text())["run_id"] for i in range(4)}
    assert len(runs) == 4
    history = json.loads(ok(omar.run("history", TOOL, "--verify", "--format", "json")))
    assert {r["run_id"] for r in history["records"] if r["action"] == "assess"} >= runs
    assert ok(omar.run("gate", TOOL)).startswith("OPEN")  # narrowed runs are evidence, never a decision
