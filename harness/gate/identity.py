"""Who is acting, and whether anyone proved it (issue 12, section 2; policy 2.3: a named person answers for
every decision, 4.1: separation of duties).

On a tracking server that runs MLflow's built-in authentication (`mlflow server --app-name basic-auth`),
the acting person is the MLflow user whose credentials the client sends (`MLFLOW_TRACKING_USERNAME` and
`MLFLOW_TRACKING_PASSWORD`). The harness confirms them with the server before it writes anything: the
auth app answers `GET /api/2.0/mlflow/users/get?username=U` only to U itself, so a 200 with U's record
proves that the password is U's. A name typed on the command line (`--reviewer`, `--by`, `$HARNESS_USER`)
that is not that user is refused: on such a server nobody records a decision in someone else's name.

On the embedded SQLite store, or a server without authentication, nobody can prove who typed a name: the
name is taken as written and every record says `identity: unauthenticated`; the policy decides which
decisions need more (`settings.gate.authenticated_approval`, `harness.gate.roles`).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from harness.errors import GateError
from harness.gate.inputs import ACCOUNTS, named_person, person_key, refuse, submitter_of

AUTHENTICATED = "mlflow-basic-auth"
UNAUTHENTICATED = "unauthenticated"
USER_ENV, PASSWORD_ENV = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"


@dataclass(frozen=True)
class Identity:
    """The acting person: `name` as it goes into the record, and how it is known (`identity`, which every
    record keeps in `details.identity`): AUTHENTICATED when the server confirmed the credentials, else
    UNAUTHENTICATED."""

    name: str
    identity: str = UNAUTHENTICATED

    @property
    def authenticated(self) -> bool:
        return self.identity == AUTHENTICATED


def _is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


@functools.cache
def _confirmed(uri: str, user: str, password: str) -> str | None:
    """The user name the server confirms for these credentials; None when the server has no authentication
    (the auth app's endpoint does not exist). Refused credentials are a GateError. Cached per process: one
    question per command, not per record."""
    import httpx

    url = uri.rstrip("/") + "/api/2.0/mlflow/users/get"
    try:
        r = httpx.get(url, params={"username": user}, auth=(user, password), timeout=30.0)
    except httpx.HTTPError as e:
        raise GateError(f"cannot confirm who you are with the MLflow server at {uri}: {e}") from None
    if r.status_code == 404:
        return None
    if r.status_code in (401, 403):
        raise GateError(f"the MLflow server at {uri} refused the credentials of {user!r} ({USER_ENV} / "
                        f"{PASSWORD_ENV}); nothing was recorded. Check the user name and password")
    if r.status_code != 200:
        raise GateError(f"cannot confirm who you are with the MLflow server at {uri}: it answered HTTP "
                        f"{r.status_code} to {url}")
    try:
        name = r.json()["user"]["username"]
    except (ValueError, KeyError, TypeError):
        raise GateError(f"the MLflow server at {uri} answered {url} with something that is not a user "
                        "record; nothing was recorded") from None
    if name != user:
        raise GateError(f"the MLflow server at {uri} confirmed user {name!r} for the credentials of {user!r}; "
                        "nothing was recorded")
    return str(name)


def server_user(uri: str) -> str | None:
    """The authenticated MLflow user for `uri` (None: an embedded store, no credentials, or a server without
    authentication)."""
    user, password = os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    if not _is_server(uri) or not user:
        return None
    return _confirmed(uri, user, password)


def acting(uri: str, named: str | None, role: str, what: str) -> Identity:
    """The person recording `what`: the authenticated server user (a different name given is refused), else
    the name given (which must not be empty)."""

    user = server_user(uri)
    if user is None:
        return Identity(named_person(named, role, what), UNAUTHENTICATED)
    given = (named or "").strip()
    if given and person_key(given) != person_key(user):
        raise refuse(what, "authenticated-identity", "2.3",
                      f"you are signed in to the MLflow server as {user!r}, but the {role} is given as {given!r}; "
                      "on a server with authentication a decision is recorded only in the name of the person "
                      "who makes it. Leave the name out, or sign in as that person")
    return Identity(user, AUTHENTICATED)


def not_an_account(who: Identity, role: str, what: str) -> None:
    """An approval, waiver or adoption is a person's decision (policy 2.3): a typed account name ("root") says
    nobody. A login the server confirmed is someone's password, whatever its name (the administrator who
    adopts the City's first policy on a new server), so only unauthenticated names are refused."""
    name = who.name
    if not who.authenticated and person_key(name) in ACCOUNTS:
        raise refuse(what, "accountable-person", "2.3", f"{name!r} is an account, not a person; the {role} must "
                      "be named as the person who answers for the decision")


def actor_name(uri: str, named: str | None, role: str, what: str) -> str:
    """Who starts an assessment or a submission: the authenticated server user (a different `--by`,
    `--submitter` or `$HARNESS_USER` is refused before anything runs), else `--by`, `$HARNESS_USER` or the
    login name (`inputs.submitter_of`)."""

    if server_user(uri) is None:
        return submitter_of(named)
    return acting(uri, named if named and named.strip() else os.environ.get("HARNESS_USER"), role, what).name


def identity_label(identity: str | None) -> str:
    """How a record's identity reads in history, reports and the register."""
    if identity == AUTHENTICATED:
        return "authenticated (MLflow server login)"
    return "unauthenticated (name as typed)"


__all__ = ["AUTHENTICATED", "UNAUTHENTICATED", "Identity", "acting", "actor_name", "identity_label", "server_user"]
