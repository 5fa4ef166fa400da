"""The shared deployment a city runs (issue 12, section 4; deploy/README.md): the scripts and systemd units are
sound, and, on a private PostgreSQL cluster, the deployment's own scripts make the databases, start MLflow with
its authentication, create an analyst, a reviewer and a vendor, and keep each to what they may do, while an
analyst's `harness assess` lands in the PostgreSQL-backed store. Nothing is mocked: tests/services.py starts real
servers (PostgreSQL is a CI requirement: .ci/run installs it)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from werkzeug.security import check_password_hash

from tests.services import (
    CITY_PEOPLE,
    DEPLOY,
    SERVER_GROUP,
    AuthServer,
    City,
    Deployment,
    client_env,
    create_model,
    create_user,
    grant,
    permission,
    setup_postgres,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
UNITS = DEPLOY / "systemd"
SCRIPTS = sorted(DEPLOY.glob("*.sh"))
EXAMPLES = ROOT / "examples" / "rental_assistance"
# examples/rental_assistance/fair_tool.yaml under an id of its own: tests/test_shared_deployment.py assesses the
# baseline itself on the same shared server
TOOL = "rental-screen-deploy-check"


def _units(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as section -> key -> values (a key may repeat), comments and blank lines left out."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            current = sections.setdefault(m.group(1), {})
            continue
        key, eq, value = line.partition("=")
        assert current is not None and eq, f"{path.name}, line {n}: not 'Key=value' inside a section: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _create_users_module():
    spec = importlib.util.spec_from_file_location("create_users", DEPLOY / "create-users.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _run(cmd: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120),
                          env={**os.environ, **(env or {})}, **kw)


# --- the scripts and units, without servers -------------------------------------------------------------------

def test_every_deploy_file_the_readmes_name_exists() -> None:
    """The install commands in README.md and deploy/README.md name files that are there (a renamed script would
    leave a city with a command that fails half-way through its set-up)."""
    named = set()
    for readme in (ROOT / "README.md", DEPLOY / "README.md"):
        named |= set(re.findall(r"/opt/harness/src/(deploy/[\w./@-]*[\w@])", readme.read_text()))
        named |= {f"deploy/{m}" for m in re.findall(r"^\| `([\w./@-]+)`", readme.read_text(), re.M)
                  if readme.parent == DEPLOY}
    assert {"deploy/setup-postgres.sh", "deploy/create-users.py", "deploy/users.example.yaml",
            "deploy/systemd/harness-reassess.service"} <= named
    assert sorted(n for n in named if not (ROOT / n).exists() and not n.endswith("/*")) == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_script_parses_and_is_strict(script: Path) -> None:
    """Every deploy script parses (bash -n), is executable, stops on the first error and on unset variables, and,
    when shellcheck is installed, passes it."""
    r = _run(["bash", "-n", str(script)])
    assert r.returncode == 0, r.stderr
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert script.stat().st_mode & stat.S_IXUSR, f"{script.name} is not executable"
    assert not re.search(r"^\s*eval\b", text, re.M), f"{script.name} uses eval"
    if shutil.which("shellcheck"):
        r = _run(["shellcheck", "--severity=warning", str(script)])
        assert r.returncode == 0, r.stdout


def test_create_users_script_compiles_and_is_executable() -> None:
    r = _run([sys.executable, "-m", "py_compile", str(DEPLOY / "create-users.py")])
    assert r.returncode == 0, r.stderr
    assert (DEPLOY / "create-users.py").stat().st_mode & stat.S_IXUSR


def test_reassess_service_runs_the_due_reassessment_and_notifies_on_failure() -> None:
    unit = _units(UNITS / "harness-reassess.service")
    assert unit["Unit"]["OnFailure"] == ["harness-notify@%n.service"]
    service = unit["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["User"] == ["harness"]  # a dedicated account, never root
    assert service["EnvironmentFile"] == ["/etc/harness/reassess.env"]
    assert service["ExecStart"] == ["/opt/harness/venv/bin/harness reassess --due --out /var/lib/harness/reports"]
    # the flags are the CLI's real ones
    from harness.cli import main

    reassess = main.commands["reassess"]
    options = {o for p in reassess.params for o in getattr(p, "opts", [])}
    assert {"--due", "--out"} <= options


def test_reassess_timer_is_daily_and_catches_up() -> None:
    timer = _units(UNITS / "harness-reassess.timer")["Timer"]
    assert timer["OnCalendar"] == ["*-*-* 06:00:00"]
    assert timer["Persistent"] == ["true"]
    assert timer["Unit"] == ["harness-reassess.service"]
    assert _units(UNITS / "harness-reassess.timer")["Install"]["WantedBy"] == ["timers.target"]


def test_notify_and_mlflow_units_run_the_deploy_scripts() -> None:
    notify = _units(UNITS / "harness-notify@.service")["Service"]
    assert notify["ExecStart"] == ["/opt/harness/src/deploy/notify.sh %i"]
    assert notify["EnvironmentFile"] == ["-/etc/harness/notify.env"]  # optional: the default is logger
    mlflow = _units(UNITS / "harness-mlflow.service")["Service"]
    assert mlflow["ExecStart"] == ["/opt/harness/src/deploy/mlflow-server.sh"]
    assert (mlflow["User"], mlflow["EnvironmentFile"]) == (["harness-mlflow"], ["/etc/harness/mlflow.env"])
    assert mlflow["ReadWritePaths"] == ["/var/lib/harness-mlflow"]


def test_systemd_units_verify(tmp_path: Path) -> None:
    """systemd's own check, on copies whose paths point at this checkout (it also checks that ExecStart= is
    executable), with no warning at all (an unknown key is only a warning)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed; the key checks above still ran")
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/harness/venv/bin/harness", str(BIN / "harness"))
        (tmp_path / unit.name).write_text(text.replace("/opt/harness/src/deploy", str(DEPLOY)))
    instance = tmp_path / "harness-notify@harness-reassess.service.service"
    shutil.copyfile(tmp_path / "harness-notify@.service", instance)
    names = ["harness-mlflow.service", "harness-reassess.service", "harness-reassess.timer", instance.name]
    r = _run(["systemd-analyze", "verify", "--man=no", *(f"./{n}" for n in names)], cwd=tmp_path)
    assert (r.returncode, r.stderr.strip(), r.stdout.strip()) == (0, "", "")


def test_mlflow_server_script_refuses_a_non_loopback_host_and_missing_setup(tmp_path: Path) -> None:
    r = _run(["bash", str(DEPLOY / "mlflow-server.sh")],
             {"HARNESS_ETC": str(tmp_path), "HARNESS_MLFLOW_HOST": "0.0.0.0", "HARNESS_MLFLOW": "/bin/true"})
    assert r.returncode == 1
    assert r.stderr.strip() == ("mlflow-server.sh: HARNESS_MLFLOW_HOST=0.0.0.0 is not a loopback address; serve "
                                "other machines through a TLS reverse proxy on this host (see deploy/README.md).")
    r = _run(["bash", str(DEPLOY / "mlflow-server.sh")], {"HARNESS_ETC": str(tmp_path), "HARNESS_MLFLOW": "/bin/true"})
    assert r.returncode == 1
    assert r.stderr.startswith(f"mlflow-server.sh: {tmp_path}/flask-secret-key is missing or unreadable by ")
    assert r.stderr.rstrip().endswith("; run deploy/setup-mlflow.sh as root first.")


def test_setup_postgres_refuses_unsafe_names_and_passwords_before_touching_the_database(tmp_path: Path) -> None:
    me = {"HARNESS_ETC": str(tmp_path), "HARNESS_SERVICE_USER": _me(), "PGHOST": str(tmp_path / "no-such-socket")}
    r = _run(["bash", str(DEPLOY / "setup-postgres.sh")], {**me, "HARNESS_PG_ROLE": "mlflow; DROP ROLE x"})
    assert (r.returncode, r.stderr.strip()) == (1, "setup-postgres.sh: 'mlflow; DROP ROLE x' is not a plain "
                                                   "PostgreSQL name (lower-case letters, digits, _); fix "
                                                   "HARNESS_PG_ROLE / HARNESS_PG_DB / HARNESS_PG_AUTH_DB.")
    r = _run(["bash", str(DEPLOY / "setup-postgres.sh")], {**me, "HARNESS_PG_PASSWORD": "pw'; --"})
    assert r.returncode == 1
    assert r.stderr.startswith("setup-postgres.sh: HARNESS_PG_PASSWORD must be at least 16 characters from")
    assert not (tmp_path / "pgpass").exists()


def test_notify_pipes_the_message_to_the_configured_command(tmp_path: Path) -> None:
    out = tmp_path / "message"
    r = _run(["bash", str(DEPLOY / "notify.sh"), "harness-reassess.service"],
             {"HARNESS_NOTIFY_COMMAND": f'{{ printenv HARNESS_FAILED_UNIT; cat; }} > "{out}"'})
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "harness-reassess.service"
    assert re.fullmatch(r"harness: harness-reassess\.service failed on \S+: the unit failed.*", lines[1])
    assert "Full log: journalctl -u harness-reassess.service" in lines


def test_create_users_reads_people_and_refuses_what_mlflow_would_misread(tmp_path: Path) -> None:
    cu = _create_users_module()
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  - {name: dana, role: dti}\n  - {name: oscar, role: [dti, admin]}\n")
    people = cu.parse_people(users, ["sam:vendor"])
    assert [(p.name, p.roles, p.is_admin) for p in people] == [
        ("dana", ("dti",), False), ("oscar", ("dti", "admin"), True), ("sam", ("vendor",), False)]
    assert cu.roles_block(people).splitlines()[-2:] == ["      dti: [dana, oscar]", "      vendor: [sam]"]
    with pytest.raises(cu.SetupError, match=r"--user #1 \('Dana:dti'\): 'Dana' is listed twice \(names differing"):
        cu.parse_people(users, ["Dana:dti"])
    with pytest.raises(cu.SetupError, match=r"users\[0\]: name 'dana analyst' must be 1-64 characters"):
        users.write_text("users:\n  - {name: dana analyst, role: dti}\n")
        cu.parse_people(users, [])
    with pytest.raises(cu.SetupError, match=r"--user #1 \('sam'\): role None of 'sam' must be a lower-case role"):
        cu.parse_people(None, ["sam"])
    with pytest.raises(cu.SetupError, match=r"users\[0\]: expected \{name: \.\.\., role: \.\.\.\}, got"):
        users.write_text("users:\n  - {name: sam, role: vendor, password: hunter2hunter2}\n")
        cu.parse_people(users, [])


def test_create_users_will_not_demote_the_admin_it_signs_in_as(capsys: pytest.CaptureFixture[str]) -> None:
    cu = _create_users_module()
    assert cu.main(["--user", "admin:dti", "--tracking-uri", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err == ("create-users.py: 'admin' is the MLflow admin this script signs in as; give it "
                                       "role admin (or list it not at all) rather than taking its admin rights away\n")


def test_missing_postgresql_skips_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A developer without PostgreSQL sees why the deployment test skipped; CI, which installs it, never skips it."""
    import tests.services as services

    monkeypatch.setattr(services, "PG_BINDIRS", str(tmp_path / "*" / "bin"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"^PostgreSQL is not installed \(no initdb under .*\); install it: "
                                                    r"apt-get install postgresql$"):
        services.require_postgres()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"\(required under CI: \.ci/run installs it\)$"):
        services.require_postgres()


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


# --- the deployment, for real -----------------------------------------------------------------------------------

def _setup_is_repeatable(d: Deployment) -> str:
    """setup-postgres.sh again, with the server running: nothing changes (a new password would cut the server off
    its database). Returns the pgpass file's content."""
    pgpass = (d.etc / "pgpass").read_text()
    r = setup_postgres(d.pg, d.etc)
    assert r.returncode == 0, r.stderr
    assert (d.etc / "pgpass").read_text() == pgpass
    assert d.pg.psql("SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE "
                     "'mlflow%' ORDER BY 1").splitlines() == ["mlflow:mlflow", "mlflow_auth:mlflow"]
    assert d.pg.psql("SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = 'mlflow'") == "f"
    assert requests.get(d.url + "/health", timeout=30).status_code == 200
    return pgpass


def _command_lines(pgid: int) -> list[str]:
    """The command lines of every process in a process group (what any local user can read in `ps`)."""
    lines = []
    for proc in Path("/proc").iterdir():
        try:
            stat_fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if proc.name.isdigit() and int(stat_fields[2]) == pgid:
                lines.append((proc / "cmdline").read_text().replace("\0", " "))
        except (OSError, IndexError, ValueError):
            continue
    return lines


def _secrets_stay_secret(server: AuthServer, etc: Path, pgpass: str) -> None:
    """Every secret file is mode 600 in a folder that cannot be listed; none of the secrets is in basic_auth.ini or
    on the command line of any server process (readable by every local user)."""
    assert stat.S_IMODE(etc.stat().st_mode) == 0o711
    for name in ("pgpass", "flask-secret-key", "bootstrap-admin-password", "basic_auth.ini", "mlflow.env"):
        assert stat.S_IMODE((etc / name).stat().st_mode) == 0o600, name
    secrets = [pgpass.split(":")[-1].strip(), (etc / "flask-secret-key").read_text().strip(), server.admin[1]]
    ini = (etc / "basic_auth.ini").read_text()
    assert "default_permission = NO_PERMISSIONS" in ini
    assert [s for s in secrets if s in ini] == []
    commands = _command_lines(server.pid)
    assert len(commands) >= 3, commands  # the script's mlflow, its uvicorn supervisor and workers
    assert [c for c in commands for s in secrets if s in c] == []


def _users(city: City) -> dict[str, tuple[str, str]]:
    """create-users.py twice: the first run (the `city` fixture's, for every person of the shared deployment)
    retired the bootstrap admin password and created the people, the second (after a simulated crash of the first
    between its two steps) recovers and changes nothing. Returns each of this test's people's (name, password)."""
    d, r = city.deployment, city.first_users
    people = ("analyst:dti", "reviewer:department", "vendor:vendor")
    assert r.returncode == 0, r.stderr
    passwords = d.etc / "initial-passwords"
    assert r.stdout.splitlines()[:1 + len(CITY_PEOPLE)] == [
        f"changed the password of MLflow admin 'admin'; the new one is in {d.etc / 'admin-password'}",
        *(f"{name} ({role}): created (initial password in {passwords / name})" for name, role in CITY_PEOPLE.items())]
    admin = d.admin
    assert admin[1] != d.server.admin[1]
    # as if the first run had stopped after the server took the new password but before the file was renamed
    (d.etc / "admin-password").rename(d.etc / "admin-password.new")
    r = d.create_users(*people)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == ["analyst (dti): exists, unchanged", "reviewer (department): exists, unchanged",
                                         "vendor (vendor): exists, unchanged"]
    assert (d.admin, (d.etc / "admin-password.new").exists()) == (admin, False)
    # the bootstrap password, which the server's account can read, is retired (read in the auth database: a worker
    # that checked it before may trust it for auth_cache_ttl_seconds more)
    [stored] = d.pg.psql("SELECT password_hash FROM users WHERE username = 'admin'", db="mlflow_auth").splitlines()
    assert (check_password_hash(stored, d.server.admin[1]), check_password_hash(stored, admin[1])) == (False, True)
    # the tests' own helper makes users the same way
    create_user(d.url, admin, "auditor", "auditor-password-1", admin=True)
    r = requests.get(f"{d.url}/api/2.0/mlflow/users/get", params={"username": "auditor"},
                     auth=("auditor", "auditor-password-1"), timeout=30)
    assert (r.status_code, r.json()["user"]["is_admin"]) == (200, True)
    return {n: (n, d.password(n)) for n in ("analyst", "reviewer", "vendor")}


def _vendor_kept_out(url: str, admin: tuple[str, str], analyst: tuple[str, str], vendor: tuple[str, str]) -> None:
    """No credentials: 401. The analyst creates an experiment and logs to its run; the vendor, with NO_PERMISSIONS
    on it, can neither log to that run, nor read it, nor start one there: 403."""
    api = url + "/api/2.0/mlflow"
    assert requests.get(f"{api}/experiments/search", params={"max_results": 5}, timeout=30).status_code == 401
    r = requests.post(f"{api}/experiments/create", json={"name": "probe"}, auth=analyst, timeout=30)
    assert r.status_code == 200, r.text
    experiment = r.json()["experiment_id"]
    grant(url, admin, "vendor", "NO_PERMISSIONS", experiment_id=experiment)
    assert permission(url, admin, "vendor", experiment_id=experiment) == "NO_PERMISSIONS"
    assert permission(url, admin, "analyst", experiment_id=experiment) == "MANAGE"  # its creator
    r = requests.post(f"{api}/runs/create", json={"experiment_id": experiment}, auth=analyst, timeout=30)
    assert r.status_code == 200, r.text
    run = r.json()["run"]["info"]["run_id"]
    metric = {"run_id": run, "key": "selection_rate", "value": 0.5, "timestamp": 0}
    assert requests.post(f"{api}/runs/log-metric", json=metric, auth=analyst, timeout=30).status_code == 200
    refused = requests.post(f"{api}/runs/log-metric", json={**metric, "value": 1.0}, auth=vendor, timeout=30)
    assert refused.status_code == 403, refused.text
    assert requests.get(f"{api}/runs/get", params={"run_id": run}, auth=vendor, timeout=30).status_code == 403
    assert requests.post(f"{api}/runs/create", json={"experiment_id": experiment}, auth=vendor,
                         timeout=30).status_code == 403


def _assessment_lands(d: Deployment, analyst: tuple[str, str], vendor: tuple[str, str], tmp_path: Path) -> None:
    """The analyst's `harness assess`, run as a user runs it, lands in PostgreSQL; the vendor cannot read it. The
    admin creates the tool's registered models and grants the analyst on them first: with NO_PERMISSIONS by
    default, a model that does not exist yet answers a non-admin 403, not 404."""
    for model in (TOOL, f"{TOOL} (decision log)"):
        create_model(d.url, d.admin, model)
        grant(d.url, d.admin, "analyst", "EDIT", registered_model=model)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    manifest = (EXAMPLES / "fair_tool.yaml").read_text()
    assert manifest.count("\nid: rental-screen-baseline\n") == 1
    (bundle / "tool.yaml").write_text(manifest.replace("\nid: rental-screen-baseline\n", f"\nid: {TOOL}\n"))
    shutil.copyfile(EXAMPLES / "fair_model.skops", bundle / "fair_model.skops")
    out = tmp_path / "assessment"
    r = subprocess.run([str(BIN / "harness"), "assess", str(bundle / "tool.yaml"),
                        "--dataset", "rental-assistance", "--suite", "bias", "--by", analyst[0], "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path, env=client_env(*analyst, d.url))
    assert r.returncode in (0, 1, 3), r.stdout + r.stderr
    result = json.loads((out / "assessment.json").read_text())
    row = d.store(f"SELECT r.status || '|' || t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND "
                  f"t.key = 'harness.verdict' WHERE r.run_uuid = '{result['run_id']}'")
    assert (row, result["tool"]["id"]) == (f"FINISHED|{result['verdict']}", TOOL)
    get = f"{d.url}/api/2.0/mlflow/runs/get"
    assert requests.get(get, params={"run_id": result["run_id"]}, auth=vendor, timeout=30).status_code == 403
    assert requests.get(get, params={"run_id": result["run_id"]}, auth=analyst, timeout=30).status_code == 200


@pytest.mark.slow
@pytest.mark.xdist_group(SERVER_GROUP)
def test_shared_deployment_on_postgresql_with_authentication(city: City, tmp_path: Path) -> None:
    """The README's shared deployment, end to end, with its own scripts: PostgreSQL set up, MLflow with basic-auth
    on it (the database password read from pgpass, in neither URI), people created, the vendor kept out, the
    analyst's assessment recorded. The deployment is the session's shared one (`city`): this test's people are
    analyst, reviewer and vendor, its tool TOOL."""
    d = city.deployment
    pgpass = _setup_is_repeatable(d)
    _secrets_stay_secret(d.server, d.etc, pgpass)
    people = _users(city)
    _vendor_kept_out(d.url, d.admin, people["analyst"], people["vendor"])
    _assessment_lands(d, people["analyst"], people["vendor"], tmp_path)
