#!/usr/bin/env bash
# Build the test kit's local service images (no container registry needed):
#   base      dtaas-test/debian:bookworm   debootstrap minbase + docker import (base/build.sh)
#   postgres  dtaas-test/postgres:15       postgres/Dockerfile on the base
#   rabbitmq  dtaas-test/rabbitmq:3.10     rabbitmq/Dockerfile on the base
#   mongodb grafana influxdb thingsboard gitlab
#             dtaas-test/<name>-standin:1  standins/Dockerfile on the base (build arg SERVICE)
#   dind      dtaas-test/dind:1            dind/Dockerfile on the base: an inner dockerd for the
#                                          swarm tests (only when asked for: not in the default)
# Usage: images/build.sh [--force] [base|postgres|rabbitmq|standins|<stand-in>|dind ...]
#        (default: all but dind; `standins` means the five stand-ins)
# Prints one `name=tag` line per image on stdout; progress goes to stderr.
# Cached by tag: every image carries the label org.dtaas.test.recipe=<sha256 of its recipe>
# (its directory's files, plus its base's recipe hash) and is rebuilt only when that
# changes. Concurrent runs are serialised with flock, so parallel tests may all call it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
label=org.dtaas.test.recipe

# DTAAS_TEST_IMAGE_NS (default dtaas-test) names the service images' repository prefix, so a
# branch can build its own stand-ins on a shared engine without replacing another's.
ns=${DTAAS_TEST_IMAGE_NS:-dtaas-test}
declare -A TAG=(
  [base]=dtaas-test/debian:bookworm
  [postgres]=$ns/postgres:15
  [rabbitmq]=$ns/rabbitmq:3.10
  [mongodb]=$ns/mongodb-standin:1
  [grafana]=$ns/grafana-standin:1
  [influxdb]=$ns/influxdb-standin:1
  [thingsboard]=$ns/thingsboard-standin:1
  [gitlab]=$ns/gitlab-standin:1
  [dind]=$ns/dind:1
)
STANDINS=(mongodb grafana influxdb thingsboard gitlab)
# The default user of a stand-in: the upstream image's USER.
standin_user() {
  case "$1" in
    thingsboard) echo 799:799 ;;
    grafana) echo 472:0 ;;
    *) echo 0:0 ;;
  esac
}
# The recipe directory of an image (the stand-ins share one).
recipe_dir() {
  case "$1" in
    mongodb | grafana | influxdb | thingsboard | gitlab) echo standins ;;
    *) echo "$1" ;;
  esac
}

force=0
want=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    base | postgres | rabbitmq | mongodb | grafana | influxdb | thingsboard | gitlab | dind) want+=("$a") ;;
    standins) want+=("${STANDINS[@]}") ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown image '$a' (base, postgres, rabbitmq, standins, ${STANDINS[*]}, dind)" >&2; exit 2 ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=(base postgres rabbitmq "${STANDINS[@]}")

# sha256 over the names and contents of the files of one recipe directory (+ extra text).
recipe_hash() {
  local dir=$1 extra=${2:-}
  {
    printf '%s\n' "$extra"
    (cd "$here/$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

current_label() {
  docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true
}

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# Drop the image a rebuilt tag pointed at before (ignored while a container still uses it).
drop_old() {
  local old=$1 tag=$2
  if [ -n "$old" ] && [ "$old" != "$(image_id "$tag")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
}

build_base() {
  local h=$1 tag=${TAG[base]} old
  old=$(image_id "$tag")
  echo "building $tag (debootstrap, about a minute)" >&2
  bash "$here/base/build.sh" "$tag" "$label=$h"
  drop_old "$old" "$tag"
}

build_service() {
  local name=$1 h=$2 tag=${TAG[$1]} dir old log
  dir=$(recipe_dir "$name")
  old=$(image_id "$tag")
  log=$(mktemp "${TMPDIR:-/tmp}/dtaas-image-$name.XXXXXX")
  echo "building $tag" >&2
  if ! DOCKER_BUILDKIT=0 docker build --pull=false --build-arg "BASE=${TAG[base]}" \
      --build-arg "SERVICE=$name" --build-arg "STANDIN_USER=$(standin_user "$name")" \
      --label "$label=$h" -t "$tag" "$here/$dir" >"$log" 2>&1; then
    tail -40 "$log" >&2
    rm -f "$log"
    echo "docker build of $tag failed" >&2
    exit 1
  fi
  rm -f "$log"
  drop_old "$old" "$tag"
}

lock=${DTAAS_TEST_IMAGES_LOCK:-${TMPDIR:-/tmp}/dtaas-test-images.lock}
exec 9>"$lock"
flock 9

base_hash=$(recipe_hash base)
if [ "$force" = 1 ] || [ "$(current_label "${TAG[base]}")" != "$base_hash" ]; then
  build_base "$base_hash"
fi
for name in "${want[@]}"; do
  [ "$name" = base ] && continue
  extra="base=$base_hash"
  [ "$(recipe_dir "$name")" = "$name" ] || extra="$extra service=$name user=$(standin_user "$name")"
  h=$(recipe_hash "$(recipe_dir "$name")" "$extra")
  if [ "$force" = 1 ] || [ "$(current_label "${TAG[$name]}")" != "$h" ]; then
    build_service "$name" "$h"
  fi
done
for name in "${want[@]}"; do
  printf '%s=%s\n' "$name" "${TAG[$name]}"
done
