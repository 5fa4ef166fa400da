#!/usr/bin/env python3
"""Create the people of a shared harness server in MLflow's built-in authentication (issue 12, section 4), and
retire the bootstrap admin password. Safe to run again: existing users keep their passwords, only their admin
flag is brought in line with the file.

    python deploy/create-users.py --users /etc/harness/users.yaml

users.yaml (or `--user NAME:ROLE`, repeatable):

    users:
      - {name: dana, role: dti}            # a DTI analyst: assesses (policy 4.2)
      - {name: rita, role: department}     # a department reviewer: signs off
      - {name: sam, role: vendor}          # a vendor's account: submits bundles only
      - {name: reassess, role: dti}        # the account of the scheduled re-assessment (harness-reassess.service)
      - {name: oscar, role: admin}         # an MLflow administrator (manages users and permissions)

A new user gets a random password, written to PASSWORD_DIR/NAME (mode 600) for the administrator to hand over;
the person then changes it (MLflow's update-password API or UI). Roles other than `admin` mean nothing to MLflow:
who may submit, assess, approve or waive is the harness policy's `settings.gate.roles` (policy 2.3), so the script
ends by printing that block for the City's policy (`harness policy adopt`).

The admin's password is read from a file, never from the command line (visible to every local user in `ps`). The
first run retires the bootstrap password setup-mlflow.sh made (the server's account can read it): it sets a new
random one, kept in $HARNESS_ETC/admin-password, readable by root only.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

ETC = Path(os.environ.get("HARNESS_ETC", "/etc/harness"))
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
ADMIN_ROLE = "admin"


class SetupError(Exception):
    """A problem the operator must fix; printed as one sentence, exit 2."""


@dataclass(frozen=True)
class Person:
    name: str
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


def parse_people(users_file: Path | None, cli: list[str]) -> list[Person]:
    """People from the YAML file and `--user NAME:ROLE[,ROLE]`, each named once; every problem names its place."""
    entries: list[tuple[str, object, object]] = []
    if users_file is not None:
        import yaml

        try:
            data = yaml.safe_load(users_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise SetupError(f"cannot read {users_file}: {e}") from None
        rows = data.get("users") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise SetupError(f"{users_file}: expected a top-level 'users:' list of {{name, role}} entries")
        for i, row in enumerate(rows):
            where = f"{users_file}: users[{i}]"
            if not isinstance(row, dict) or set(row) - {"name", "role"}:
                raise SetupError(f"{where}: expected {{name: ..., role: ...}}, got {row!r}")
            entries.append((where, row.get("name"), row.get("role")))
    for i, spec in enumerate(cli):
        name, _, role = spec.partition(":")
        entries.append((f"--user #{i + 1} ({spec!r})", name, role.split(",") if role else None))
    people: dict[str, Person] = {}
    for where, name, role in entries:
        if not isinstance(name, str) or not NAME.match(name):
            raise SetupError(f"{where}: name {name!r} must be 1-64 characters from letters, digits and . _ @ - "
                             "(MLflow user names are compared exactly, so keep them plain)")
        roles = [role] if isinstance(role, str) else role
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and ROLE.match(r) for r in roles):
            raise SetupError(f"{where}: role {role!r} of {name!r} must be a lower-case role name (vendor, dti, "
                             "department, admin, ...) or a list of them")
        if name.casefold() in {p.casefold() for p in people}:
            raise SetupError(f"{where}: {name!r} is listed twice (names differing only in case count as one)")
        people[name] = Person(name, tuple(dict.fromkeys(roles)))
    return list(people.values())


def _read_secret(path: Path, what: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise SetupError(f"cannot read the {what} from {path}: {e.strerror}; run as root, or pass its file") from None
    if not value:
        raise SetupError(f"{path} is empty; it should hold the {what}")
    return value


def _write_secret(path: Path, value: str) -> None:
    """Write a secret whole (a reader never sees half), mode 600, owned by whoever runs this (root)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Server:
    """The auth API as one user; credentials travel with each request, via MLflow's own client."""

    def __init__(self, uri: str, user: str, password: str) -> None:
        from mlflow.server import get_app_client

        self.uri, self.user, self.password = uri, user, password
        # MLflow's auth client takes its credentials from the process environment only; this process acts as the
        # admin alone, so setting them here is the documented way (mlflow.server.get_app_client)
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = user, password
        self.client = get_app_client("basic-auth", tracking_uri=uri)

    def works(self) -> bool:
        """Whether these credentials are accepted (an admin may read its own record)."""
        import requests

        r = requests.get(self.uri.rstrip("/") + "/api/2.0/mlflow/users/get", params={"username": self.user},
                         auth=(self.user, self.password), timeout=30)
        if r.status_code in (401, 403):
            return False
        if r.status_code == 404:
            raise SetupError(f"the MLflow server at {self.uri} has no authentication (no users API); start it with "
                             "deploy/mlflow-server.sh (--app-name basic-auth)")
        r.raise_for_status()
        return True

    def user_exists(self, name: str) -> bool:
        from mlflow.exceptions import RestException

        try:
            return self.client.get_user(name).username == name
        except RestException as e:
            if e.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise


def admin_session(uri: str, admin: str, bootstrap_file: Path, password_file: Path, *, rotate: bool) -> Server:
    """The admin's session, with the bootstrap password retired. The bootstrap password (setup-mlflow.sh) is
    readable by the server's account and sits in its environment, so it must not stay valid: the first run
    replaces it with a new random one kept in `password_file` (root only); later runs use that file, and change
    it again only with `rotate`. Crash-safe: the new password is stored in FILE.new before the server learns it,
    so whichever of the two the server accepts is current, and it ends up in FILE."""
    pending = password_file.with_name(password_file.name + ".new")
    candidates = [(pending, "pending MLflow admin password")] if pending.exists() else []
    if password_file.exists():
        candidates.append((password_file, "MLflow admin password"))
    else:
        candidates.append((bootstrap_file, "bootstrap MLflow admin password"))
    server = current = None
    for path, what in candidates:
        current = _read_secret(path, what)
        server = Server(uri, admin, current)
        if server.works():
            if path == pending:
                os.replace(pending, password_file)
            break
        server = None
    if server is None or current is None:
        tried = " or ".join(str(p) for p, _ in candidates)
        raise SetupError(f"the MLflow server at {uri} refused admin {admin!r} with the password in {tried}; put the "
                         f"admin's current password in {password_file}")
    if password_file.exists() and not rotate:
        return server
    new = secrets.token_urlsafe(24)
    _write_secret(pending, new)
    server.client.update_user_password(admin, new, current_password=current)
    os.replace(pending, password_file)
    print(f"changed the password of MLflow admin {admin!r}; the new one is in {password_file}")
    return Server(uri, admin, new)


def ensure(server: Server, person: Person, password_dir: Path) -> str:
    """Create `person` if missing (password into password_dir) and set the admin flag; returns what was done."""
    created = ""
    if not server.user_exists(person.name):
        password = secrets.token_urlsafe(18)
        target = password_dir / person.name
        _write_secret(target, password)  # before the server has it: a crash leaves an unused file, not a lost login
        server.client.create_user(person.name, password)
        created = f"created (initial password in {target})"
    user = server.client.get_user(person.name)
    if bool(user.is_admin) != person.is_admin:
        server.client.update_user_admin(person.name, person.is_admin)
        flag = "made an MLflow admin" if person.is_admin else "no longer an MLflow admin"
        return f"{created}, {flag}" if created else flag
    return created or "exists, unchanged"


def roles_block(people: list[Person]) -> str:
    """The `settings.gate.roles` block of the harness policy for these people (roles other than admin)."""
    by_role: dict[str, list[str]] = {}
    for p in people:
        for r in p.roles:
            if r != ADMIN_ROLE:
                by_role.setdefault(r, []).append(p.name)
    lines = ["# settings.gate.roles for the City's policy (harness policy adopt; policy 2.3):",
             "settings:", "  gate:", "    roles:"]
    lines += [f"      {r}: [{', '.join(names)}]" for r, names in sorted(by_role.items())] or ["      {}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI") or "http://127.0.0.1:5000",
                    help="the MLflow server (default: $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000)")
    ap.add_argument("--admin-user", default=os.environ.get("HARNESS_MLFLOW_ADMIN_USER", "admin"))
    ap.add_argument("--bootstrap-password-file", type=Path, default=ETC / "bootstrap-admin-password",
                    help="the admin password setup-mlflow.sh made (default: $HARNESS_ETC/bootstrap-admin-password); "
                         "used once, then retired")
    ap.add_argument("--admin-password-file", type=Path, default=ETC / "admin-password",
                    help="where the admin's own password is kept, root only (default: $HARNESS_ETC/admin-password)")
    ap.add_argument("--rotate-admin-password", action="store_true",
                    help="replace the admin's password with a new random one again")
    ap.add_argument("--users", type=Path, help="YAML file: users: [{name: ..., role: ...}, ...]")
    ap.add_argument("--user", action="append", default=[], metavar="NAME:ROLE", help="one more user (repeatable)")
    ap.add_argument("--password-dir", type=Path, default=ETC / "initial-passwords",
                    help="where new users' initial passwords are written, one file each "
                         "(default: $HARNESS_ETC/initial-passwords)")
    args = ap.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    try:
        people = parse_people(args.users, args.user)
        for p in people:
            if p.name == args.admin_user and not p.is_admin:
                raise SetupError(f"{p.name!r} is the MLflow admin this script signs in as; give it role admin (or list "
                                 "it not at all) rather than taking its admin rights away")
        server = admin_session(args.tracking_uri, args.admin_user, args.bootstrap_password_file,
                               args.admin_password_file, rotate=args.rotate_admin_password)
        for person in people:
            done = ensure(server, person, args.password_dir)
            print(f"{person.name} ({', '.join(person.roles)}): {done}")
    except SetupError as e:
        print(f"create-users.py: {e}", file=sys.stderr)
        return 2
    if people:
        print(roles_block(people))
    return 0


if __name__ == "__main__":
    sys.exit(main())
