#!/usr/bin/env bash
# Create the PostgreSQL role and the two databases the shared MLflow server needs (issue 12, section 4): one for
# runs, models and the decision log (the backend store), one for MLflow's users and permissions (basic-auth).
#
# Safe to run again: an existing role keeps its password unless HARNESS_PG_PASSWORD names a new one, existing
# databases are kept. The password never appears on a command line or in a unit file: it goes into a libpq
# password file (PGPASSFILE format) readable only by the service user, which the server reads through PGPASSFILE.
#
# Run as root on the database host (Debian's `postgresql` package: the cluster's superuser is reached as the
# `postgres` system user over the local socket). To use another cluster, set the usual libpq variables for a
# superuser connection (PGHOST, PGPORT, PGUSER): the tests do that against a private cluster.
#
# Settings (environment):
#   HARNESS_ETC           folder for the password file            default /etc/harness
#   HARNESS_SERVICE_USER  the account the MLflow server runs as    default harness-mlflow (created if missing)
#   HARNESS_PG_ROLE       database role                            default mlflow
#   HARNESS_PG_DB         backend store database                   default mlflow
#   HARNESS_PG_AUTH_DB    MLflow auth database                     default mlflow_auth
#   HARNESS_PG_PORT       port the server listens on (127.0.0.1)   default $PGPORT, else 5432
#   HARNESS_PG_PASSWORD   the role's password; default: the one already in the password file, else a new random one
set -euo pipefail
umask 077

ETC=${HARNESS_ETC:-/etc/harness}
SERVICE_USER=${HARNESS_SERVICE_USER:-harness-mlflow}
ROLE=${HARNESS_PG_ROLE:-mlflow}
DB=${HARNESS_PG_DB:-mlflow}
AUTH_DB=${HARNESS_PG_AUTH_DB:-mlflow_auth}
PORT=${HARNESS_PG_PORT:-${PGPORT:-5432}}
PASSFILE="$ETC/pgpass"

die() { echo "setup-postgres.sh: $*" >&2; exit 1; }

for name in "$ROLE" "$DB" "$AUTH_DB"; do
    [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "'$name' is not a plain PostgreSQL name (lower-case letters, digits, _); fix HARNESS_PG_ROLE / HARNESS_PG_DB / HARNESS_PG_AUTH_DB."
done
[[ $PORT =~ ^[0-9]+$ ]] || die "port '$PORT' is not a number; fix HARNESS_PG_PORT or PGPORT."

# The service account owns the password file; create it as a system account without a shell when missing.
if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "user $SERVICE_USER does not exist and only root can create it; run as root or set HARNESS_SERVICE_USER."
    useradd --system --home-dir /var/lib/harness-mlflow --create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

# The password: given, else kept from an earlier run, else new. Only URL-safe characters, so it can never break
# the pgpass format, a connection URI or the SQL below.
password=${HARNESS_PG_PASSWORD:-}
if [ -z "$password" ] && [ -s "$PASSFILE" ]; then
    password=$(awk -F: -v role="$ROLE" '$4 == role { print $5; exit }' "$PASSFILE")
fi
if [ -z "$password" ]; then
    password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
fi
[[ $password =~ ^[A-Za-z0-9._~-]{16,}$ ]] || die "HARNESS_PG_PASSWORD must be at least 16 characters from A-Z a-z 0-9 . _ ~ -; choose another or leave it unset to generate one."

# psql as the cluster's superuser: the `postgres` system user on Debian, or whoever PGUSER names.
psql_admin() {
    if [ -z "${PGUSER:-}" ] && [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres
    else
        psql -X -q -v ON_ERROR_STOP=1 -d postgres
    fi
}

# The password reaches psql through its environment (\getenv), never its arguments (visible in `ps`).
HARNESS_PG_SECRET=$password HARNESS_PG_ROLE_NAME=$ROLE HARNESS_PG_DBS="$DB $AUTH_DB" psql_admin <<'SQL'
\getenv pw HARNESS_PG_SECRET
\getenv role HARNESS_PG_ROLE_NAME
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'role', :'pw') \gexec
\getenv dbs HARNESS_PG_DBS
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', db, :'role')
  FROM unnest(string_to_array(:'dbs', ' ')) AS db
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = db) \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db) FROM unnest(string_to_array(:'dbs', ' ')) AS db \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', db, :'role') FROM unnest(string_to_array(:'dbs', ' ')) AS db \gexec
SQL

# libpq's password file, written whole and then moved into place so a reader never sees half of it. A new
# configuration folder can be crossed by the service accounts but not listed (mode 711).
[ -d "$ETC" ] || install -d -m 711 "$ETC"
tmp=$(mktemp "$ETC/.pgpass.XXXXXX")
printf '127.0.0.1:%s:%s:%s:%s\n127.0.0.1:%s:%s:%s:%s\n' \
    "$PORT" "$DB" "$ROLE" "$password" "$PORT" "$AUTH_DB" "$ROLE" "$password" >"$tmp"
chmod 600 "$tmp"
chown "$SERVICE_USER:" "$tmp"
mv -f "$tmp" "$PASSFILE"

echo "PostgreSQL: role $ROLE owns databases $DB and $AUTH_DB on 127.0.0.1:$PORT; password in $PASSFILE (mode 600, owner $SERVICE_USER)"
echo "backend store: postgresql+psycopg2://$ROLE@127.0.0.1:$PORT/$DB  (password from PGPASSFILE=$PASSFILE)"
