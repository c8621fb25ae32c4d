#!/usr/bin/env bash
# `make run`: bring up a local development platform in $1 (default ./platform) with the
# embedded defaults, HOSTNAME=localhost and self-signed TLS certificates.
# Re-running is safe: every step is idempotent.
#
# Images: the pinned upstream ones. Where no container registry is reachable (or with
# DTAAS_RUN_IMAGES=local), the local images of images/build.sh are used instead: real
# PostgreSQL and RabbitMQ built from Debian's packages, small stand-ins for the others.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "make run needs root: host setup gives the TLS key files to the service users (uids 999, 1000, 799) and the services' data directories to theirs; run: sudo make run" >&2
  exit 2
fi
dir=${1:-platform}
bin=${2:-target/release/dtaas-services}
here=$(cd "$(dirname "$0")/.." && pwd)
ds() { "$bin" --project-dir "$dir" "$@"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

"$bin" project generate --path "$dir"
if [ "$(ds config get HOSTNAME)" != "localhost" ]; then
  # Local development: localhost, certificates made here, self-signed so no TLS verification.
  ds config set HOSTNAME localhost
  ds config set CERTS_SRC certs-src
  ds config set SSL_VERIFY false
  # Host ports already taken on this machine (a local PostgreSQL on 5432, ...) move up.
  for key in RABBITMQ_PORT RABBITMQ_MANAGEMENT_PORT RABBITMQ_MQTT_PORT INFLUXDB_PORT MONGODB_PORT \
             GRAFANA_PORT POSTGRES_PORT THINGSBOARD_PORT THINGSBOARD_EDGE_RPC_PORT \
             THINGSBOARD_MQTT_PORT THINGSBOARD_MQTT_SSL_PORT GITLAB_PORT GITLAB_SSH_PORT; do
    port=$(ds config get "$key")
    while port_busy "$port"; do port=$((port + 10000)); done
    [ "$port" = "$(ds config get "$key")" ] || { echo "  $key moved to free port $port"; ds config set "$key" "$port"; }
  done
fi

mode=${DTAAS_RUN_IMAGES:-auto}
if [ "$mode" = local ] || { [ "$mode" = auto ] && ! getent hosts registry-1.docker.io >/dev/null 2>&1; }; then
  echo "No container registry reachable: using the local images of images/build.sh"
  # build.sh prints one name=tag line per image (DTAAS_TEST_IMAGE_NS picks the repository).
  tags=$(bash "$here/images/build.sh")
  while IFS='=' read -r name tag; do
    case "$name" in
      postgres | rabbitmq | mongodb | grafana | influxdb | thingsboard | gitlab)
        ds config set "$(echo "$name" | tr a-z A-Z)_IMAGE" "$tag" ;;
    esac
  done <<<"$tags"
fi

ds certs self-signed
ds host setup
ds service start --wait --timeout "${DTAAS_RUN_TIMEOUT:-10m}"
ds service status
