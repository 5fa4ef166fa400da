"""Real services for integration tests of the shared deployment (issue 12, section 4): a private PostgreSQL
cluster and an MLflow server with its built-in authentication, started through the same `deploy/` scripts a city
runs, so a test exercises the deployment rather than a look-alike. Helpers, not tests; nothing here is mocked.

    from tests.services import client_env, create_user, deployment, grant

    def test_something(tmp_path):
        with deployment(tmp_path) as d:             # PostgreSQL + MLflow basic-auth, as deploy/README.md sets up
            r = d.create_users("dana:dti", "rita:department", "sam:vendor")   # deploy/create-users.py
            env = client_env("dana", d.password("dana"), d.url)               # for a `harness` subprocess
            create_user(d.url, d.admin, "omar", "omar-password-1")            # or one by one, your password
            grant(d.url, d.admin, "omar", "READ", experiment_id="1")
            d.store("SELECT count(*) FROM runs")                               # the backend store, in SQL

The pieces work alone too: `postgres_server(tmp_path)` (a cluster; `pg.database(name, owner=, password=)` makes
a role and its database) and `auth_mlflow_server(backend_uri, artifacts_dir, tmp_path)` (the server on any
backend, users in SQLite unless `auth_db_uri=` says otherwise).

`postgres_server` skips the test with the reason when PostgreSQL is not installed, except under CI=true, where
that is a failure (`.ci/run` installs it). Each cluster lives in its own temporary folder, listens on a free
loopback port and on a socket in that folder, and is stopped and removed at the end: tests never touch the
host's own cluster. PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres`
system user (Debian's package creates it) and its programs run as that user through `setpriv`.

An MLflow server with basic-auth takes about 20 s to start here, so the tests share one: the session fixture
`city` (tests/conftest.py, `city_deployment` below) starts the deployment once, retires the bootstrap admin
password and creates CITY_PEOPLE; each test acts as its own people on a tool of its own, and is marked
`xdist_group(SERVER_GROUP)` so that `pytest -n 2 --dist loadgroup` runs every server test on one worker (one
deployment per run, not one per worker). Use `deployment(tmp_path)` only for a check that needs a fresh one. The
server trusts a checked password for 30 s per worker (auth_cache_ttl_seconds, deploy/README.md): a changed
password or deleted user may still work on another worker within that time.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
PG_BINDIRS = "/usr/lib/postgresql/*/bin"  # Debian's layout: one folder per major version
PG_READY_TIMEOUT_S = 30
MLFLOW_READY_TIMEOUT_S = 120
SUPERUSER = "postgres"  # the cluster's superuser, whoever owns its files
# MLflow's auth REST API (mlflow.server.auth.routes; importing that module loads the whole server, about 5 s)
CREATE_USER = "/api/2.0/mlflow/users/create"
UPDATE_USER_ADMIN = "/api/2.0/mlflow/users/update-admin"
GRANT_USER_PERMISSION = "/api/3.0/mlflow/users/permissions/grant"
REVOKE_USER_PERMISSION = "/api/3.0/mlflow/users/permissions/revoke"
GET_USER_PERMISSION = "/api/3.0/mlflow/users/permissions/get"
CREATE_REGISTERED_MODEL = "/api/2.0/mlflow/registered-models/create"
# the people of the tests' shared deployment (`city_deployment`), name -> role, as the City's policy lists them: a
# policy one test adopts there names everyone, so that another test's people keep their role whatever the order
CITY_PEOPLE = {"analyst": "dti", "reviewer": "department", "vendor": "vendor",  # tests/test_deploy.py
               "dana": "dti", "rita": "dti", "omar": "department", "sam": "vendor"}  # tests/test_shared_deployment.py
SERVER_GROUP = "mlflow-servers"  # the xdist_group of every test that starts or uses an MLflow server


def free_port() -> int:
    """A loopback TCP port nobody listens on now (another process could take it before we do; rare enough)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL's programs (initdb, postgres, psql), or None when it is not installed."""
    found = [p for p in Path("/").glob(PG_BINDIRS.lstrip("/"))
             if (p / "initdb").is_file() and (p / "postgres").is_file()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=None)


def require_postgres() -> Path:
    """PostgreSQL's programs, or skip the test saying why; under CI=true a missing PostgreSQL fails the test."""
    bindir = postgres_bindir()
    reason = None
    if bindir is None:
        reason = f"PostgreSQL is not installed (no initdb under {PG_BINDIRS}); install it: apt-get install postgresql"
    elif os.geteuid() == 0 and not _user_exists("postgres"):
        reason = "running as root and there is no 'postgres' system user to own a private cluster (PostgreSQL " \
                 "refuses root); install Debian's postgresql package, which creates it"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required under CI: .ci/run installs it)")
        pytest.skip(reason)
    assert bindir is not None
    return bindir


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _as_owner() -> list[str]:
    """The prefix that runs a PostgreSQL program as the cluster's owner: the `postgres` user under root (setpriv
    replaces the process, so its pid is postgres's own and signals reach it), nothing otherwise."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]


@dataclass(frozen=True)
class Postgres:
    """A running private cluster. Administration goes over its Unix socket as the superuser (trusted: the socket
    folder is private); roles made with `database()` connect over TCP on 127.0.0.1 with a password
    (scram-sha-256), as the MLflow server does."""

    bindir: Path
    port: int
    socket_dir: Path
    host: str = "127.0.0.1"
    superuser: str = SUPERUSER

    def admin_env(self) -> dict[str, str]:
        """libpq variables for a superuser connection: what deploy/setup-postgres.sh needs to reach this cluster
        instead of the host's."""
        return {"PGHOST": str(self.socket_dir), "PGPORT": str(self.port), "PGUSER": self.superuser,
                "PGDATABASE": "postgres"}

    def psql(self, sql: str, *, db: str = "postgres") -> str:
        """Run SQL as the superuser and return psql's unaligned output (rows on lines, fields split by |)."""
        r = subprocess.run([str(self.bindir / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", db,
                            "-c", sql], capture_output=True, text=True, timeout=60,
                           env={**os.environ, **self.admin_env(), "PGDATABASE": db})
        if r.returncode != 0:
            raise AssertionError(f"psql failed on {sql!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def database(self, name: str, *, owner: str, password: str) -> str:
        """Create the login role `owner` (with `password`) and the database `name` it owns, if missing, and return
        the SQLAlchemy URI MLflow takes: postgresql+psycopg2://owner:password@127.0.0.1:PORT/name. The three go
        into SQL as written: a test's own plain names only."""
        self.psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{owner}') THEN "
                  f"CREATE ROLE \"{owner}\" LOGIN PASSWORD '{password}'; END IF; END $$")
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.psql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.uri(name, owner, password)

    def uri(self, db: str, user: str, password: str | None = None) -> str:
        """The SQLAlchemy URI of a database here; without a password libpq takes it from PGPASSFILE."""
        cred = f"{user}:{password}" if password else user
        return f"postgresql+psycopg2://{cred}@{self.host}:{self.port}/{db}"


@contextlib.contextmanager
def postgres_server(tmp_path: Path) -> Iterator[Postgres]:
    """A private PostgreSQL cluster for the duration of the block: initdb into a new folder, `postgres` on a free
    loopback port and a socket in that folder, stopped (fast shutdown) and removed at the end. Its log is
    `tmp_path/postgres.log`. Skips (fails under CI) when PostgreSQL is absent."""
    bindir = require_postgres()
    # under root the cluster belongs to `postgres`, who cannot enter pytest's root-only tmp_path: use a folder
    # of its own in the system temp dir
    base = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    owner = _as_owner()
    if owner:
        shutil.chown(base, "postgres", "postgres")
    data, port, log_path = base / "data", free_port(), tmp_path / "postgres.log"
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc: subprocess.Popen[bytes] | None = None
    try:
        r = subprocess.run([*owner, str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8",
                            "--locale=C", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"],
                           capture_output=True, text=True, timeout=120, cwd=base)
        if r.returncode != 0:
            pytest.fail(f"initdb failed in {data} (exit {r.returncode}): {r.stderr.strip()[-2000:]}")
        with log_path.open("wb") as log:
            # fsync off: a test cluster is thrown away, and durability costs seconds per test
            proc = subprocess.Popen([*owner, str(bindir / "postgres"), "-D", str(data), "-k", str(base),
                                     "-h", "127.0.0.1", "-p", str(port), "-c", "fsync=off",
                                     "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                     "-c", "unix_socket_permissions=0700"],
                                    stdout=log, stderr=subprocess.STDOUT, cwd=base, start_new_session=True)
        pg = Postgres(bindir=bindir, port=port, socket_dir=base)
        deadline = time.monotonic() + PG_READY_TIMEOUT_S
        while subprocess.run([str(bindir / "pg_isready"), "-q", "-h", str(base), "-p", str(port)],
                             timeout=10).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                state = f"exited with code {proc.returncode}" if proc.poll() is not None else \
                    f"did not accept connections within {PG_READY_TIMEOUT_S} s"
                pytest.fail(f"PostgreSQL on port {port} {state}; its log ends:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield pg
    finally:
        if proc is not None:
            stop(proc, first=signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class AuthServer:
    """A running MLflow server with basic-auth. `admin` is (user name, password) of its administrator; `etc` the
    folder of its configuration (basic_auth.ini, secrets) as deploy/setup-mlflow.sh wrote it."""

    url: str
    admin: tuple[str, str]
    etc: Path
    log: Path
    pid: int


@contextlib.contextmanager
def auth_mlflow_server(backend_uri: str, artifacts_dir: Path, tmp_path: Path, *, auth_db_uri: str | None = None,
                       admin_password: str | None = None, workers: int = 2, etc: Path | None = None,
                       env: Mapping[str, str] | None = None) -> Iterator[AuthServer]:
    """`mlflow server --app-name basic-auth` on a free loopback port for the duration of the block, configured by
    deploy/setup-mlflow.sh and started by deploy/mlflow-server.sh (so the deployment's own scripts are what the
    test runs). Users and permissions live in `auth_db_uri` (default: a SQLite file in tmp_path; pass a PostgreSQL
    URI to keep them beside the runs, as a city does). The admin is `admin` with `admin_password` (default: a
    random one). Its configuration goes to `etc` (default tmp_path/mlflow-etc; give the folder where
    deploy/setup-postgres.sh wrote `pgpass` to have the server read the database password from there, as in a
    city's deployment). `env` adds to the server's environment. Ready when /health answers; stopped by
    its process group (uvicorn starts workers) at the end, and its log is kept in tmp_path/mlflow-server.log."""
    etc = etc or tmp_path / "mlflow-etc"
    admin_password = admin_password or secrets.token_urlsafe(18)
    auth_db_uri = auth_db_uri or f"sqlite:///{tmp_path / 'mlflow-auth.db'}"
    port = free_port()
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("MLFLOW_TRACKING_", "MLFLOW_AUTH_")) and k != "MLFLOW_FLASK_SERVER_SECRET_KEY"}
    settings = {"HARNESS_ETC": str(etc), "HARNESS_SERVICE_USER": pwd.getpwuid(os.geteuid()).pw_name,
                "HARNESS_MLFLOW_AUTH_DB_URI": auth_db_uri, "HARNESS_MLFLOW_ADMIN_PASSWORD": admin_password,
                "HARNESS_MLFLOW_ARTIFACTS": str(artifacts_dir), "HARNESS_MLFLOW_BACKEND_URI": backend_uri,
                "HARNESS_MLFLOW_PORT": str(port), "HARNESS_MLFLOW_WORKERS": str(workers),
                "HARNESS_MLFLOW": str(BIN / "mlflow")}
    run_env = {**base_env, **settings, **(env or {})}
    r = subprocess.run(["bash", str(DEPLOY / "setup-mlflow.sh")], capture_output=True, text=True, timeout=60,
                       env=run_env)
    if r.returncode != 0:
        pytest.fail(f"deploy/setup-mlflow.sh failed (exit {r.returncode}): {r.stderr.strip()}")
    log_path = tmp_path / "mlflow-server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(["bash", str(DEPLOY / "mlflow-server.sh")], stdout=log, stderr=subprocess.STDOUT,
                                cwd=tmp_path, env=run_env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, log_path)
        yield AuthServer(url=url, admin=("admin", admin_password), etc=etc, log=log_path, pid=proc.pid)
    finally:
        stop(proc)


def wait_healthy(proc: subprocess.Popen, url: str, log_path: Path, timeout_s: float = MLFLOW_READY_TIMEOUT_S) -> None:
    """Poll an mlflow server's /health until it answers 200; fail the test with the end of its log if the process
    exits first or the time runs out (NOTES.md: about 20 s here)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with code {proc.returncode} before answering /health; its log "
                        f"ends:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"mlflow server on {url} did not answer /health within {timeout_s} s; its log ends:\n"
                        f"{log_path.read_text()[-3000:]}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen, *, first: signal.Signals = signal.SIGTERM) -> None:
    """Stop a server started with start_new_session=True: its whole process group, politely, then for good."""
    for sig, wait in ((first, 20), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _admin_call(uri: str, admin: tuple[str, str], method: str, route: str, **kwargs) -> requests.Response:
    """One request to the auth REST API as the admin, credentials on the request alone (never the process's
    environment, which other tests in the same worker share)."""
    r = requests.request(method, uri.rstrip("/") + route, auth=admin, timeout=30, **kwargs)
    if r.status_code >= 400:
        raise AssertionError(f"{method} {route} as {admin[0]} answered HTTP {r.status_code}: {r.text[:500]}")
    return r


def create_user(uri: str, admin_creds: tuple[str, str], name: str, password: str, *, admin: bool = False) -> None:
    """Create an MLflow user (password at least 12 characters: MLflow's rule); `admin=True` makes it an admin."""
    _admin_call(uri, admin_creds, "POST", CREATE_USER, json={"username": name, "password": password})
    if admin:
        _admin_call(uri, admin_creds, "PATCH", UPDATE_USER_ADMIN, json={"username": name, "is_admin": True})


def _resource(experiment_id: str | None, registered_model: str | None) -> tuple[str, str]:
    if (experiment_id is None) == (registered_model is None):
        raise ValueError("give exactly one of experiment_id= and registered_model=")
    return ("experiment", experiment_id) if experiment_id is not None else ("registered_model", str(registered_model))


def grant(uri: str, admin_creds: tuple[str, str], name: str, permission: str, *, experiment_id: str | None = None,
          registered_model: str | None = None) -> None:
    """Set user `name`'s permission on one experiment (by id) or one registered model (by name): READ, USE, EDIT,
    MANAGE or DENY replace any earlier grant; NO_PERMISSIONS removes the user's grant, which leaves the server's
    default (NO_PERMISSIONS in the deployment's basic_auth.ini). MLflow 3.17 accepts no NO_PERMISSIONS grant on
    a single resource; DENY also overrides what a role would give."""
    kind, rid = _resource(experiment_id, registered_model)
    body = {"username": name, "resource_type": kind, "resource_id": rid}
    if permission == "NO_PERMISSIONS":
        r = requests.post(uri.rstrip("/") + REVOKE_USER_PERMISSION, json=body, auth=admin_creds, timeout=30)
        if r.status_code not in (200, 404):  # 404: there was no grant to remove
            raise AssertionError(f"revoking {name}'s permission on {kind} {rid} answered HTTP {r.status_code}: "
                                 f"{r.text[:500]}")
        return
    _admin_call(uri, admin_creds, "POST", GRANT_USER_PERMISSION, json={**body, "permission": permission})


def create_model(uri: str, admin_creds: tuple[str, str], name: str) -> None:
    """Create a registered model (a tool's entry in the Model Registry) as the admin, so permissions on it can be
    granted before anyone else touches it. With default_permission NO_PERMISSIONS a registered model that does not
    exist yet answers 403 rather than 404 to a non-admin, so whoever creates it first must be trusted."""
    _admin_call(uri, admin_creds, "POST", CREATE_REGISTERED_MODEL, json={"name": name})


def permission(uri: str, admin_creds: tuple[str, str], name: str, *, experiment_id: str | None = None,
               registered_model: str | None = None) -> str:
    """The permission user `name` has on one experiment or registered model, as the server resolves it."""
    kind, rid = _resource(experiment_id, registered_model)
    r = _admin_call(uri, admin_creds, "GET", GET_USER_PERMISSION,
                    params={"username": name, "resource_type": kind, "resource_id": rid})
    return str(r.json()["permission"])


CLIENT_DROP = ("MLFLOW_TRACKING_", "HARNESS_USER", "HARNESS_DATA_DIR")  # what a person's own settings replace


def client_env(name: str, password: str, uri: str) -> dict[str, str]:
    """The environment of a `harness` subprocess acting as MLflow user `name` against the server at `uri`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(CLIENT_DROP)},
            "MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_USERNAME": name, "MLFLOW_TRACKING_PASSWORD": password,
            "COLUMNS": "250"}


def client_overrides(name: str, password: str, uri: str) -> dict[str, str | None]:
    """`client_env` as changes to this process's environment (None: unset), for an in-process `harness` command
    (click's CliRunner(env=...)) acting as MLflow user `name`."""
    return {**{k: None for k in os.environ if k.startswith(CLIENT_DROP)},
            "MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_USERNAME": name, "MLFLOW_TRACKING_PASSWORD": password,
            "COLUMNS": "250"}


@dataclass(frozen=True)
class Deployment:
    """The shared deployment, running: `pg` the cluster, `server` MLflow with basic-auth on it, `etc` the folder
    of its configuration and secrets (as /etc/harness on a city's machine)."""

    pg: Postgres
    server: AuthServer
    etc: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def admin(self) -> tuple[str, str]:
        """The admin's credentials now: once create-users.py has retired the bootstrap password, the new one."""
        current = self.etc / "admin-password"
        return (self.server.admin[0], current.read_text().strip()) if current.exists() else self.server.admin

    def create_users(self, *specs: str) -> subprocess.CompletedProcess[str]:
        """Run deploy/create-users.py with `--user NAME:ROLE` for each spec (the first run also retires the bootstrap
        admin password). New users' passwords are then `password(name)`."""
        args = [a for spec in specs for a in ("--user", spec)]
        return subprocess.run([sys.executable, str(DEPLOY / "create-users.py"), "--tracking-uri", self.url,
                               "--bootstrap-password-file", str(self.etc / "bootstrap-admin-password"),
                               "--admin-password-file", str(self.etc / "admin-password"),
                               "--password-dir", str(self.etc / "initial-passwords"), *args],
                              capture_output=True, text=True, timeout=180,
                              env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")})

    def password(self, name: str) -> str:
        """The initial password create-users.py gave `name`."""
        return (self.etc / "initial-passwords" / name).read_text().strip()

    def store(self, sql: str) -> str:
        """SQL on the backend store (MLflow's `runs`, `tags`, `metrics`, `registered_models`, ...), as superuser."""
        return self.pg.psql(sql, db="mlflow")


def setup_postgres(pg: Postgres, etc: Path) -> subprocess.CompletedProcess[str]:
    """Run deploy/setup-postgres.sh against the private cluster `pg`, writing pgpass into `etc`, with the current
    account as the service account (no user is created on the host). Under root it reaches the cluster as a city's
    server does, as the `postgres` system user (runuser), without PGUSER."""
    admin = pg.admin_env()
    if os.geteuid() == 0:
        del admin["PGUSER"]
    env = {**{k: v for k, v in os.environ.items() if k != "PGUSER"}, **admin, "HARNESS_ETC": str(etc),
           "HARNESS_SERVICE_USER": pwd.getpwuid(os.geteuid()).pw_name}
    return subprocess.run(["bash", str(DEPLOY / "setup-postgres.sh")], capture_output=True, text=True, timeout=120,
                          env=env)


@contextlib.contextmanager
def deployment(tmp_path: Path, *, workers: int = 2) -> Iterator[Deployment]:
    """What deploy/README.md sets up, in tmp_path: a private PostgreSQL cluster, deploy/setup-postgres.sh (role
    `mlflow`, databases `mlflow` and `mlflow_auth`, pgpass), and deploy/mlflow-server.sh with basic-auth, runs and
    users both in PostgreSQL, the database password read from pgpass (in neither URI). Skips without PostgreSQL
    (fails under CI)."""
    with postgres_server(tmp_path) as pg:
        etc = tmp_path / "etc"
        r = setup_postgres(pg, etc)
        if r.returncode != 0:
            pytest.fail(f"deploy/setup-postgres.sh failed (exit {r.returncode}): {r.stderr.strip()}")
        with auth_mlflow_server(pg.uri("mlflow", "mlflow"), tmp_path / "artifacts", tmp_path, etc=etc,
                                auth_db_uri=pg.uri("mlflow_auth", "mlflow"), workers=workers) as server:
            yield Deployment(pg=pg, server=server, etc=etc)


@dataclass(frozen=True)
class City:
    """The tests' shared deployment, running: `deployment` as `deployment()` gives it, and `first_users` the first
    run of deploy/create-users.py on it (which retired the bootstrap admin password and created CITY_PEOPLE), kept
    for the test that checks what that first run does."""

    deployment: Deployment
    first_users: subprocess.CompletedProcess[str]


@contextlib.contextmanager
def city_deployment(tmp_path: Path) -> Iterator[City]:
    """`deployment(tmp_path)` with CITY_PEOPLE created by create-users.py: what the session fixture `city` shares
    between the tests that need a server with authentication (each with its own people and tool)."""
    with deployment(tmp_path) as d:
        first = d.create_users(*(f"{name}:{role}" for name, role in CITY_PEOPLE.items()))
        if first.returncode != 0:
            pytest.fail(f"deploy/create-users.py failed (exit {first.returncode}): {first.stderr.strip()}")
        yield City(deployment=d, first_users=first)
