"""Who may write what on the City's shared tracking server (issue 12, section 2; policy 2.3 designated
individuals, 4.1 separation of duties, 3.2 records).

MLflow's authentication gives whoever creates an experiment or registered model MANAGE on it, and with the
deployment's `default_permission = NO_PERMISSIONS` nobody else can even read it. So a tool's records are opened
by an MLflow administrator before anyone submits (`harness access open TOOL`): the harness creates them and
grants each person the permission their role in the policy in force (`settings.gate.roles`) calls for:

| resource                              | dti  | department | vendor |
|---------------------------------------|------|------------|--------|
| experiment harness/<tool> (evidence)  | EDIT | EDIT       | none   |
| experiment harness/<tool>/submissions | EDIT | READ       | EDIT   |
| registered model <tool> (versions)    | EDIT | EDIT       | EDIT   |
| registered model <tool> (decision log)| EDIT | EDIT       | EDIT   |
| experiment harness/_city-policy       | EDIT | READ       | READ   |
| registered model _city-policy (log)   | EDIT | READ       | READ   |

A vendor therefore cannot create, change or read an assessment run. It can append its `submit` record and
register a version; a record it forged through the MLflow API is signed by a key the City trusts only for
`submit` records (`HARNESS_TRUSTED_KEYS` with `only=submit`, `harness.gate.signing.scopes`) and breaks the
tool's history, which closes its gate: a vendor can spoil its own tool's records, never approve it. The
department signs approvals (decision log) and marks the approved run (evidence experiment).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from harness.errors import ConfigError, TrackingError
from harness.tracking.store import Store

GRANT = "/api/3.0/mlflow/users/permissions/grant"
GET_PERMISSION = "/api/3.0/mlflow/users/permissions/get"
EVIDENCE, SUBMISSIONS_EXP, VERSIONS, LOG, POLICY_EXP, POLICY_LOG_MODEL = (
    "evidence", "submissions", "versions", "decision log", "policy", "policy log")
TABLE: dict[str, dict[str, str]] = {
    "dti": {EVIDENCE: "EDIT", SUBMISSIONS_EXP: "EDIT", VERSIONS: "EDIT", LOG: "EDIT", POLICY_EXP: "EDIT",
            POLICY_LOG_MODEL: "EDIT"},
    "department": {EVIDENCE: "EDIT", SUBMISSIONS_EXP: "READ", VERSIONS: "EDIT", LOG: "EDIT", POLICY_EXP: "READ",
                   POLICY_LOG_MODEL: "READ"},
    "vendor": {SUBMISSIONS_EXP: "EDIT", VERSIONS: "EDIT", LOG: "EDIT", POLICY_EXP: "READ", POLICY_LOG_MODEL: "READ"},
}


@dataclass(frozen=True)
class Grant:
    user: str
    role: str
    resource: str  # one of the TABLE's resource names
    kind: str  # experiment | registered_model
    resource_id: str  # experiment id or registered model name
    name: str  # the experiment's or model's name, for people
    permission: str


def _resources(store: Store, tool: str) -> dict[str, tuple[str, str, str]]:
    """Create (when missing) and name the tool's and the policy log's resources: resource -> (kind, id, name)."""
    from harness.gate.policies import POLICY_LOG
    from harness.gate.records import log_name
    from harness.tracking.runs import EXPERIMENT_PREFIX, SUBMISSIONS

    reg = store.registry
    reg.ensure_model(tool, {"harness.kind": "tool", "harness.tool_id": tool},
                     description=f"{tool}: versions are tool versions (harness.gate)")
    reg.ensure_model(log_name(tool), {"harness.kind": "decision-log", "harness.tool_id": tool},
                     description=f"Append-only, hash-chained decision log of {tool} (harness.gate).")
    reg.ensure_model(log_name(POLICY_LOG), {"harness.kind": "decision-log", "harness.tool_id": POLICY_LOG},
                     description=f"Append-only, hash-chained decision log of {POLICY_LOG} (harness.gate).")
    return {
        EVIDENCE: ("experiment", store.experiment_id(tool), EXPERIMENT_PREFIX + tool),
        SUBMISSIONS_EXP: ("experiment", store.experiment_id(tool, SUBMISSIONS),
                          f"{EXPERIMENT_PREFIX}{tool}/{SUBMISSIONS}"),
        VERSIONS: ("registered_model", tool, tool),
        LOG: ("registered_model", log_name(tool), log_name(tool)),
        POLICY_EXP: ("experiment", store.experiment_id(POLICY_LOG), EXPERIMENT_PREFIX + POLICY_LOG),
        POLICY_LOG_MODEL: ("registered_model", log_name(POLICY_LOG), log_name(POLICY_LOG)),
    }


def plan(roles: dict[str, list[str]], resources: dict[str, tuple[str, str, str]]) -> list[Grant]:
    """The grants the TABLE calls for, for everyone the policy names in a role it knows. A person in two roles
    gets the stronger permission of the two."""
    rank = {"READ": 1, "EDIT": 2}
    best: dict[tuple[str, str], Grant] = {}
    for role, people in roles.items():
        for resource, permission in TABLE.get(role, {}).items():
            kind, rid, name = resources[resource]
            for user in people:
                g = Grant(user, role, resource, kind, rid, name, permission)
                old = best.get((user, resource))
                if old is None or rank[permission] > rank[old.permission]:
                    best[(user, resource)] = g
    return sorted(best.values(), key=lambda g: (g.user, g.resource))


def open_tool(store: Store, tool: str) -> list[Grant]:
    """Create TOOL's records on the shared server and grant the people of the policy in force what their role
    calls for. Needs an MLflow administrator's login (MLFLOW_TRACKING_USERNAME / _PASSWORD); idempotent."""
    import httpx

    from harness.gate.identity import PASSWORD_ENV, USER_ENV, server_user
    from harness.gate.policies import in_force
    from harness.gate.roles import roles

    uri = store.uri
    if not uri.startswith(("http://", "https://")):
        raise ConfigError(f"{uri} is an embedded store: it has no users or permissions. `harness access open` is for "
                          "the City's tracking server with authentication (deploy/README.md)")
    if server_user(uri) is None:
        raise ConfigError(f"the MLflow server at {uri} did not confirm a login: set {USER_ENV} and {PASSWORD_ENV} to "
                          "an MLflow administrator's, on a server started with --app-name basic-auth")
    policy = in_force(uri).policy
    people = roles(policy)
    if not people:
        raise ConfigError(f"{policy.label} names nobody in settings.gate.roles, so nobody would be granted anything; "
                          "adopt a policy that lists the City's MLflow users by role (deploy/create-users.py prints "
                          "the block)")
    grants = plan(people, _resources(store, tool))
    auth = (os.environ[USER_ENV], os.environ.get(PASSWORD_ENV, ""))
    for g in grants:
        r = httpx.post(uri.rstrip("/") + GRANT, auth=auth, timeout=30.0,
                       json={"username": g.user, "resource_type": g.kind, "resource_id": g.resource_id,
                             "permission": g.permission})
        if r.status_code != 200:
            raise TrackingError(f"granting {g.user} {g.permission} on {g.name} answered HTTP {r.status_code}: "
                                f"{r.text[:300]}; is {auth[0]} an MLflow administrator, and does user {g.user} "
                                "exist (deploy/create-users.py)?")
    return grants


__all__ = ["TABLE", "Grant", "open_tool", "plan"]
