#!/usr/bin/env bash
# Entrypoint of the test kit's RabbitMQ image (written for this project).
#   `rabbitmq-server` (the default command) runs the broker as user rabbitmq after making
#   /var/lib/rabbitmq (usually a bind mount) its own and creating the Erlang cookie there
#   when missing (so a healthcheck's CLI call as root can never create it first, owned by
#   root). Any other command is run as given.
# RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS are read by RabbitMQ 3.10 itself from its
# environment: on a fresh node it creates that user with the administrator tag and full
# permissions on vhost "/". They never appear in any process's argv.
set -Eeuo pipefail

data=/var/lib/rabbitmq
cookie=$data/.erlang.cookie

if [ "$1" = rabbitmq-server ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$data"
  chown rabbitmq:rabbitmq "$data"
  if [ ! -s "$cookie" ]; then
    rm -f "$cookie"
    (umask 0377 && od -An -N20 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F >"$cookie")
  fi
  chown rabbitmq:rabbitmq "$cookie"
  chmod 0400 "$cookie"
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = rabbitmq-server ]; then
  # Not Debian's /usr/sbin wrapper: it would send the log to files under /var/log/rabbitmq.
  shift
  exec /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi

exec "$@"
