#!/usr/bin/env bash
# `make e2e-upstream`: the whole platform on the pinned upstream images, for a maintainer's
# machine that can pull them (not part of `make test`; the local suites use stand-ins).
#
#   scripts/e2e-upstream.sh --preflight   only check that every pinned image is present or
#                                         can be pulled; fail at once, saying which, if not
#   scripts/e2e-upstream.sh BIN           the run, with the dtaas-services binary BIN:
#     generate a project in $E2E_UPSTREAM_DIR (default: a new /tmp/dtaas-e2e-upstream.*),
#     HOSTNAME=localhost, self-signed certificates, host setup, start the five services,
#     install ThingsBoard and GitLab, `user add` on all seven for a CSV user, log in to each
#     service with that password, change it, `user add` again, log in with the new password
#     and see the old one refused, `user reset-password` (ThingsBoard admins, GitLab root)
#     and log in with the reset passwords, `service status` with every service ready; then
#     `service remove --volumes --yes` (E2E_UPSTREAM_KEEP=1 keeps the platform).
#
# The pinned images are read from the compose templates (`image: ${X_IMAGE:-<pinned>}`);
# E2E_UPSTREAM_IMAGES (space-separated) replaces that list. Needs root, Docker with the
# compose plugin, curl, jq and git. Passwords travel on stdin or in the environment of the
# commands that use them, never in their arguments.
set -euo pipefail
# As git's GIT_ASKPASS (below): answer git's password prompt from the environment.
if [ "${E2E_ASKPASS:-}" = 1 ]; then printf '%s\n' "${GIT_PW:-}"; exit 0; fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

pinned_images() {
  if [ -n "${E2E_UPSTREAM_IMAGES:-}" ]; then
    printf '%s\n' $E2E_UPSTREAM_IMAGES
    return
  fi
  sed -n 's/^ *image: \${[A-Z_]*_IMAGE:-\(.*\)}$/\1/p' "$here"/components/project/templates/compose.*.yml
}

# Every pinned image present or pulled; the first that cannot be is named and we stop.
preflight() {
  local img out
  command -v docker >/dev/null || { echo "e2e-upstream: docker is not installed" >&2; exit 1; }
  while read -r img; do
    [ -n "$img" ] || continue
    docker image inspect "$img" >/dev/null 2>&1 && continue
    echo "pulling $img" >&2
    if ! out=$(timeout "${E2E_UPSTREAM_PULL_TIMEOUT:-1800}" docker pull -q "$img" 2>&1); then
      echo "e2e-upstream: cannot pull the pinned upstream image $img: ${out##*$'\n'}" >&2
      echo "e2e-upstream needs a machine that can pull the pinned images (a registry); here use 'make run' or 'make e2e', which run the local stand-ins" >&2
      exit 1
    fi
  done < <(pinned_images)
}

if [ "${1:-}" = --preflight ]; then
  preflight
  echo "every pinned image is present"
  exit 0
fi

bin=${1:?usage: $0 --preflight | BIN}
[ "$(id -u)" = 0 ] || { echo "e2e-upstream needs root (host setup gives files to the service users)" >&2; exit 2; }
preflight

dir=${E2E_UPSTREAM_DIR:-$(mktemp -d /tmp/dtaas-e2e-upstream.XXXXXX)}
ds() { "$bin" --project-dir "$dir" "$@"; }
step() { printf '\n== %s\n' "$*"; }
fail() { echo "e2e-upstream: FAILED: $*" >&2; exit 1; }
cleanup() {
  if [ "${E2E_UPSTREAM_KEEP:-0}" != 1 ]; then
    ds service remove --volumes --yes >/dev/null 2>&1 || true
  else
    echo "platform kept in $dir"
  fi
}

step "project in $dir"
"$bin" project generate --path "$dir"
trap cleanup EXIT
ds config set HOSTNAME localhost
ds config set CERTS_SRC certs-src
ds config set SSL_VERIFY false
setting() { sed -n "s/^$1=['\"]\{0,1\}\([^'\"]*\)['\"]\{0,1\}$/\1/p" "$dir/config/services.env" | tail -1; }

step "certificates, host setup, the five services"
ds certs self-signed
ds host setup
ds service start --wait --timeout "${E2E_UPSTREAM_TIMEOUT:-20m}"
step "install ThingsBoard and GitLab"
ds service install -s thingsboard --wait --timeout "${E2E_UPSTREAM_TIMEOUT:-20m}"
ds service install -s gitlab --wait --timeout "${E2E_UPSTREAM_TIMEOUT:-30m}"

# Logins, one per service; the password comes on stdin. Exit 0 when it is accepted.
h=https://localhost
login() {
  local service=$1 user=$2 email=$3 pw
  IFS= read -r pw
  case "$service" in
    rabbitmq) printf '%s\n' "$pw" | docker exec -i rabbitmq sh -c 'read -r p; rabbitmqctl -q authenticate_user "$0" "$p"' "$user" >/dev/null 2>&1 ;;
    mongodb) printf '%s\n' "$pw" | docker exec -i mongodb sh -c 'read -r p; HOME=/tmp mongosh --quiet --tls --tlsAllowInvalidCertificates -u "$0" -p "$p" --authenticationDatabase "$0" --eval "db.runCommand({ping:1}).ok"' "$user" 2>/dev/null | grep -q 1 ;;
    postgres) printf '%s\n' "$pw" | docker exec -i postgres sh -c 'read -r p; PGPASSWORD="$p" psql -h 127.0.0.1 -U "$0" -d "$0" -Atc "select 1"' "$user" >/dev/null 2>&1 ;;
    grafana) jq -nc --arg u "$user" --arg p "$pw" '{user:$u,password:$p}' | curl -fsk -o /dev/null -H 'Content-Type: application/json' --data-binary @- "$h:$(setting GRAFANA_PORT)/login" ;;
    influxdb) printf 'user = "%s:%s"\n' "$user" "$pw" | curl -fsk -o /dev/null -K - -X POST "$h:$(setting INFLUXDB_PORT)/api/v2/signin" ;;
    thingsboard) jq -nc --arg u "$email" --arg p "$pw" '{username:$u,password:$p}' | curl -fsk -o /dev/null -H 'Content-Type: application/json' --data-binary @- "$h:$(setting THINGSBOARD_PORT)/api/auth/login" ;;
    gitlab)
      # Git over HTTPS with the password: a missing repository is "not found" once the
      # password is accepted, "HTTP Basic: Access denied" when it is not.
      local out
      out=$(GIT_PW="$pw" GIT_SSL_NO_VERIFY=1 GIT_TERMINAL_PROMPT=0 \
        GIT_ASKPASS="$here/scripts/e2e-upstream.sh" E2E_ASKPASS=1 \
        git ls-remote "https://$user@localhost:$(setting GITLAB_PORT)/gitlab/$user/e2e-none.git" 2>&1) && return 0
      ! grep -qi "access denied\|authentication failed" <<<"$out" ;;
  esac
}

csv_round() {
  local pw=$1
  printf 'username,password,email\ne2eupstream,%s,e2eupstream@example.org\n' "$pw" >"$dir/config/credentials.csv"
  chmod 600 "$dir/config/credentials.csv"
  ds user add
}

services=(rabbitmq mongodb grafana influxdb postgres thingsboard gitlab)
pw1="E2e-$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)1a"
pw2="E2e-$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)2b"

step "user add on all seven; logins with the CSV password"
csv_round "$pw1"
for s in "${services[@]}"; do
  printf '%s\n' "$pw1" | login "$s" e2eupstream e2eupstream@example.org || fail "$s refuses the CSV password"
  echo "  $s: login accepted"
done

step "changed password: the new one logs in, the old one is refused"
csv_round "$pw2"
for s in "${services[@]}"; do
  printf '%s\n' "$pw2" | login "$s" e2eupstream e2eupstream@example.org || fail "$s refuses the new password"
  if printf '%s\n' "$pw1" | login "$s" e2eupstream e2eupstream@example.org; then
    fail "$s still accepts the old password"
  fi
  echo "  $s: new password accepted, old one refused"
done

step "password reset (ThingsBoard admins, GitLab root)"
ds user reset-password -s thingsboard,gitlab
setting TB_SYSADMIN_NEW_PASSWORD | login thingsboard - "$(setting TB_SYSADMIN_EMAIL)" || fail "ThingsBoard sysadmin refuses the reset password"
setting TB_TENANT_ADMIN_PASSWORD | login thingsboard - "$(setting TB_TENANT_ADMIN_EMAIL)" || fail "ThingsBoard tenant admin refuses the reset password"
setting GITLAB_ROOT_NEW_PASSWORD | login gitlab root - || fail "GitLab root refuses the reset password"
echo "  reset passwords accepted"

step "service status: every service ready"
json=$(ds service status --json)
echo "$json" | jq -r '.services[] | "  \(.service): \(.effective) ready=\(.ready)"'
not_ready=$(echo "$json" | jq -r '[.services[] | select(.ready != true) | .service] | join(", ")')
[ -z "$not_ready" ] || fail "not ready: $not_ready"
echo
echo "e2e-upstream: all seven services ran on the pinned upstream images and passed"
