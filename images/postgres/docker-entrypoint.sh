#!/usr/bin/env bash
# Entrypoint of the test kit's PostgreSQL image (written for this project). Conventions of
# the upstream image that the generated compose files rely on:
#   - `docker-entrypoint.sh postgres [-c k=v ...]` (or just `-c k=v ...`) runs the server as
#     user postgres; any other command is run as given;
#   - on first start (no $PGDATA/PG_VERSION) the cluster is initialised: superuser
#     $POSTGRES_USER (default postgres) with $POSTGRES_PASSWORD (or the file named by
#     POSTGRES_PASSWORD_FILE; handed to initdb through a pipe, never in argv), database
#     $POSTGRES_DB (default: the user's name), listen on all addresses, scram-sha-256 for
#     host connections, trust on the local socket; *.sh/*.sql in /docker-entrypoint-initdb.d
#     run once;
#   - POSTGRES_HOST_AUTH_METHOD=trust allows an empty password, as upstream.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

file_env() {  # file_env VAR [default]: VAR, or the content of the file named by VAR_FILE
  local var=$1 file_var="${1}_FILE" def=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    log "both $var and $file_var are set; use one"; exit 1
  fi
  local val=$def
  if [ -n "${!var:-}" ]; then val=${!var}; elif [ -n "${!file_var:-}" ]; then val=$(<"${!file_var}"); fi
  export "$var"="$val"
  unset "$file_var"
}

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

init_cluster() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    log "database is uninitialised and POSTGRES_PASSWORD is not set"
    log "set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)"
    exit 1
  fi
  log "initialising $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  local pwargs=()
  # initdb reads the password from its stdin (a pipe), never from argv or a file on disk.
  [ -n "$POSTGRES_PASSWORD" ] && pwargs=(--pwfile=/dev/stdin)
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" "${pwargs[@]}" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} \
    >/dev/null <<<"$POSTGRES_PASSWORD"
  {
    echo
    echo "listen_addresses = '*'"
  } >>"$PGDATA/postgresql.conf"
  {
    echo
    echo "# added by docker-entrypoint.sh: connections from any address"
    echo "host all all all $auth"
  } >>"$PGDATA/pg_hba.conf"

  # A temporary server for the database and init scripts, on a private unix socket only:
  # a healthcheck's pg_isready cannot mistake it for the real server.
  local sock
  sock=$(mktemp -d /tmp/pg-init.XXXXXX)
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$sock -p ${PGPORT:-5432}" \
    -w -s start
  export PGHOST=$sock
  local psql=(psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --no-password)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) log "running $f"; . "$f" ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) [ -e "$f" ] && log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w -s stop
  unset PGHOST
  rmdir "$sock"
  log "initialisation done"
}

if [ "$1" = postgres ]; then
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 2775 /var/run/postgresql
    # Re-run this script as postgres (setpriv from util-linux: no gosu needed).
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_cluster
  fi
  unset POSTGRES_PASSWORD
  exec "$@"
fi

exec "$@"
