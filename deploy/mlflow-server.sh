#!/usr/bin/env bash
# Start the shared MLflow tracking server the way the City runs it (issue 12, section 4): MLflow's built-in
# authentication (basic-auth, NO_PERMISSIONS by default), runs and the decision log in PostgreSQL, artifacts
# served by the server itself (clients never need the artifact folder), usage telemetry off, loopback only.
# harness-mlflow.service runs it as the service user; the tests run it too (tests/services.py).
#
# Secrets are read from files made by setup-postgres.sh and setup-mlflow.sh and handed to MLflow through its
# environment (readable by the service user and root only), never on the command line, which every local user
# can read in `ps`: the database password through PGPASSFILE, the admin password and the session key as
# MLFLOW_AUTH_ADMIN_PASSWORD and MLFLOW_FLASK_SERVER_SECRET_KEY.
#
# Settings (environment, normally from /etc/harness/mlflow.env):
#   HARNESS_ETC                 folder of the secrets and basic_auth.ini          default /etc/harness
#   HARNESS_MLFLOW_BACKEND_URI  backend store      default postgresql+psycopg2://mlflow@127.0.0.1:5432/mlflow
#   HARNESS_MLFLOW_ARTIFACTS    artifact folder the server serves                 default /var/lib/harness-mlflow/artifacts
#   HARNESS_MLFLOW_HOST         loopback address to listen on                     default 127.0.0.1
#   HARNESS_MLFLOW_PORT                                                            default 5000
#   HARNESS_MLFLOW_WORKERS      server worker processes                           default 4
#   HARNESS_MLFLOW_ALLOWED_HOSTS  Host headers to accept, comma-separated; replaces MLflow's default (localhost
#                               names), so list localhost,127.0.0.1 and the name a TLS proxy forwards
#   HARNESS_MLFLOW              the mlflow command        default /opt/harness/venv/bin/mlflow, else mlflow on PATH
set -euo pipefail

ETC=${HARNESS_ETC:-/etc/harness}
BACKEND=${HARNESS_MLFLOW_BACKEND_URI:-postgresql+psycopg2://mlflow@127.0.0.1:5432/mlflow}
ARTIFACTS=${HARNESS_MLFLOW_ARTIFACTS:-/var/lib/harness-mlflow/artifacts}
HOST=${HARNESS_MLFLOW_HOST:-127.0.0.1}
PORT=${HARNESS_MLFLOW_PORT:-5000}
WORKERS=${HARNESS_MLFLOW_WORKERS:-4}
MLFLOW=${HARNESS_MLFLOW:-}

die() { echo "mlflow-server.sh: $*" >&2; exit 1; }

if [ -z "$MLFLOW" ]; then
    if [ -x /opt/harness/venv/bin/mlflow ]; then MLFLOW=/opt/harness/venv/bin/mlflow
    else MLFLOW=$(command -v mlflow) || die "no mlflow command: install the harness with its server extra (pip install 'ai-risk-harness[server]') or set HARNESS_MLFLOW."
    fi
fi

# Basic auth sends passwords with every request: in the clear unless TLS is in front. Other machines reach the
# server through a TLS reverse proxy on this host, never directly.
case $HOST in
    127.0.0.1 | ::1 | localhost) ;;
    *) die "HARNESS_MLFLOW_HOST=$HOST is not a loopback address; serve other machines through a TLS reverse proxy on this host (see deploy/README.md)." ;;
esac

for f in flask-secret-key bootstrap-admin-password basic_auth.ini; do
    [ -r "$ETC/$f" ] || die "$ETC/$f is missing or unreadable by $(id -un); run deploy/setup-mlflow.sh as root first."
done
if [ -e "$ETC/pgpass" ]; then
    export PGPASSFILE=${PGPASSFILE:-$ETC/pgpass}
fi

MLFLOW_FLASK_SERVER_SECRET_KEY=$(<"$ETC/flask-secret-key")
MLFLOW_AUTH_ADMIN_PASSWORD=$(<"$ETC/bootstrap-admin-password")
export MLFLOW_FLASK_SERVER_SECRET_KEY MLFLOW_AUTH_ADMIN_PASSWORD
export MLFLOW_AUTH_CONFIG_PATH="$ETC/basic_auth.ini"
# Nothing leaves the City's machines: forced, not defaulted (README, "Nothing leaves").
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
# MLflow's GenAI job runner is not used by the harness; do not start its consumers.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false

args=(server --app-name basic-auth
      --backend-store-uri "$BACKEND"
      --artifacts-destination "$ARTIFACTS" --serve-artifacts
      --host "$HOST" --port "$PORT" --workers "$WORKERS")
if [ -n "${HARNESS_MLFLOW_ALLOWED_HOSTS:-}" ]; then
    args+=(--allowed-hosts "$HARNESS_MLFLOW_ALLOWED_HOSTS")
fi
exec "$MLFLOW" "${args[@]}"
