#!/usr/bin/env bash
# Prepare the shared MLflow server (issue 12, section 4): its secrets, the basic-auth configuration, the artifact
# folder and the settings file the systemd unit reads. Run once as root after setup-postgres.sh; safe to run again
# (secrets that exist are kept, the configuration is rewritten from the settings below).
#
# Written to $HARNESS_ETC (default /etc/harness), each owned by the service user and readable by it alone:
#   flask-secret-key  signs the server's sessions and CSRF tokens (MLFLOW_FLASK_SERVER_SECRET_KEY)
#   bootstrap-admin-password  the MLflow admin's first password; create-users.py retires it on its first run
#   basic_auth.ini    MLflow basic-auth: users and permissions in PostgreSQL, NO_PERMISSIONS by default (no
#                     secret in it: the database password comes from the pgpass file, the admin password from
#                     the file above, both through the environment mlflow-server.sh sets)
#   mlflow.env        settings for mlflow-server.sh (EnvironmentFile of harness-mlflow.service), kept if present
#
# Settings (environment):
#   HARNESS_ETC, HARNESS_SERVICE_USER, HARNESS_PG_ROLE, HARNESS_PG_DB, HARNESS_PG_AUTH_DB, HARNESS_PG_PORT: as in
#     setup-postgres.sh
#   HARNESS_MLFLOW_AUTH_DB_URI    where MLflow keeps users and permissions
#                                 default postgresql+psycopg2://ROLE@127.0.0.1:PORT/AUTH_DB
#   HARNESS_MLFLOW_ADMIN_USER     default admin
#   HARNESS_MLFLOW_ADMIN_PASSWORD the bootstrap admin password (12+ characters); default: kept, else random
#   HARNESS_MLFLOW_ARTIFACTS      the served artifact store                    default /var/lib/harness-mlflow/artifacts
#   HARNESS_MLFLOW_AUTH_CACHE_TTL seconds a worker trusts a checked password   default 30 (0: check every request)
set -euo pipefail
umask 077

ETC=${HARNESS_ETC:-/etc/harness}
SERVICE_USER=${HARNESS_SERVICE_USER:-harness-mlflow}
ROLE=${HARNESS_PG_ROLE:-mlflow}
DB=${HARNESS_PG_DB:-mlflow}
AUTH_DB=${HARNESS_PG_AUTH_DB:-mlflow_auth}
PORT=${HARNESS_PG_PORT:-5432}
AUTH_DB_URI=${HARNESS_MLFLOW_AUTH_DB_URI:-postgresql+psycopg2://$ROLE@127.0.0.1:$PORT/$AUTH_DB}
ADMIN_USER=${HARNESS_MLFLOW_ADMIN_USER:-admin}
ARTIFACTS=${HARNESS_MLFLOW_ARTIFACTS:-/var/lib/harness-mlflow/artifacts}
AUTH_CACHE_TTL=${HARNESS_MLFLOW_AUTH_CACHE_TTL:-30}

die() { echo "setup-mlflow.sh: $*" >&2; exit 1; }

id -u "$SERVICE_USER" >/dev/null 2>&1 || die "user $SERVICE_USER does not exist; run setup-postgres.sh first (it creates it) or set HARNESS_SERVICE_USER."
[[ $ADMIN_USER =~ ^[A-Za-z0-9._@-]+$ ]] || die "admin user name '$ADMIN_USER' may hold only letters, digits and . _ @ -; fix HARNESS_MLFLOW_ADMIN_USER."
[[ $AUTH_CACHE_TTL =~ ^[0-9]+$ ]] || die "HARNESS_MLFLOW_AUTH_CACHE_TTL must be a whole number of seconds, not '$AUTH_CACHE_TTL'."
[[ $AUTH_DB_URI != *$'\n'* ]] || die "HARNESS_MLFLOW_AUTH_DB_URI holds a line break; give one URI."

# a new configuration folder can be crossed by the service accounts but not listed
[ -d "$ETC" ] || install -d -m 711 "$ETC"

# write NAME CONTENT: the file is made whole beside its target, owned by the service user, mode 600, then moved.
write() {
    local tmp
    tmp=$(mktemp "$ETC/.$1.XXXXXX")
    printf '%s\n' "$2" >"$tmp"
    chmod 600 "$tmp"
    chown "$SERVICE_USER:" "$tmp"
    mv -f "$tmp" "$ETC/$1"
}
random() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }

[ -s "$ETC/flask-secret-key" ] || write flask-secret-key "$(random 48)"

if [ -n "${HARNESS_MLFLOW_ADMIN_PASSWORD:-}" ]; then
    [ "${#HARNESS_MLFLOW_ADMIN_PASSWORD}" -ge 12 ] || die "HARNESS_MLFLOW_ADMIN_PASSWORD must be at least 12 characters (MLflow's rule)."
    write bootstrap-admin-password "$HARNESS_MLFLOW_ADMIN_PASSWORD"
elif [ ! -s "$ETC/bootstrap-admin-password" ]; then
    write bootstrap-admin-password "$(random 32)"
fi

# configparser reads % as interpolation: double it so a URI with an escaped character survives.
write basic_auth.ini "# Written by deploy/setup-mlflow.sh; run it again rather than editing this file.
[mlflow]
# Nobody sees an experiment or a model unless granted (policy 1.2: evidence is need-to-know).
default_permission = NO_PERMISSIONS
database_uri = ${AUTH_DB_URI//%/%%}
admin_username = $ADMIN_USER
# admin_password: not here; mlflow-server.sh passes $ETC/bootstrap-admin-password as MLFLOW_AUTH_ADMIN_PASSWORD.
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
# Every request carries a password, and checking one costs about 0.1 s of CPU (scrypt): an assessment makes
# hundreds of requests. A worker trusts a password it checked for this many seconds; a password change or a
# deleted user reaches the other workers within that time.
auth_cache_ttl_seconds = $AUTH_CACHE_TTL"

if [ ! -e "$ETC/mlflow.env" ]; then
    write mlflow.env "# Settings of deploy/mlflow-server.sh, read by harness-mlflow.service (EnvironmentFile).
HARNESS_ETC=$ETC
HARNESS_MLFLOW_BACKEND_URI=postgresql+psycopg2://$ROLE@127.0.0.1:$PORT/$DB
HARNESS_MLFLOW_ARTIFACTS=$ARTIFACTS
HARNESS_MLFLOW_HOST=127.0.0.1
HARNESS_MLFLOW_PORT=5000
HARNESS_MLFLOW_WORKERS=4"
fi

(umask 022 && mkdir -p "$ARTIFACTS")
chown "$SERVICE_USER:" "$ARTIFACTS"
chmod 700 "$ARTIFACTS"

echo "MLflow: configuration in $ETC (basic_auth.ini, mlflow.env), secrets readable by $SERVICE_USER only, artifacts in $ARTIFACTS"
echo "bootstrap admin: $ADMIN_USER, password in $ETC/bootstrap-admin-password"
