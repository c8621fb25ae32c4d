#!/usr/bin/env bash
# The offline container image of one binary (`make images`; no registry needed), built
# from a binary built on this host. Usage: build-image.sh NAME BIN_DIR TAG
#   NAME     dtaas-services or dtaas-jobs: projects/NAME/Dockerfile.offline, BIN_DIR/NAME
#   BIN_DIR  the cargo profile directory: target/release (`make images`) or target/debug
#            (the image tests, which reuse the binaries the test run built)
#   TAG      the image tag; printed on stdout when the image is built
# The build context is a temporary directory with:
#   rootfs/  what the multi-stage image's base (debian:bookworm-slim) provides: the dynamic
#            loader and the shared libraries the binary links (from ldd), the host's CA
#            bundle, /etc/passwd and /etc/group with the dtaas user (10001), /tmp
#   bin/     the binary (to /usr/local/bin)
#   share/   dtaas-services only: man pages and completions from scripts/share.sh (to /usr/share)
# projects/NAME/Dockerfile (multi-stage, needs a registry) installs the same files at the
# same paths; the e2e test `images::` keeps the two Dockerfiles in step.
set -euo pipefail
name=$1 bin_dir=$2 tag=$3
here=$(cd "$(dirname "$0")" && pwd)
dockerfile="$here/../projects/$name/Dockerfile.offline"
bin="$bin_dir/$name"
[ -f "$dockerfile" ] || { echo "build-image: no $dockerfile (NAME is dtaas-services or dtaas-jobs)" >&2; exit 2; }
[ -x "$bin" ] || { echo "build-image: $bin is not an executable (build it first)" >&2; exit 2; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/tmp" "$root/etc/ssl/certs" "$ctx/bin" "$ctx/share"
cp "$bin" "$ctx/bin/$name"
# The dynamic loader and every library the binary needs, at the same paths.
for lib in $(ldd "$bin" | grep -oE '/[^ ]+' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf '%s\n' 'root:x:0:0:root:/root:/nonexistent' 'nobody:x:65534:65534:nobody:/nonexistent:/nonexistent' \
  'dtaas:x:10001:10001:dtaas:/nonexistent:/nonexistent' > "$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'dtaas:x:10001:' > "$root/etc/group"
chmod 1777 "$root/tmp"
if [ "$name" = dtaas-services ]; then
  bash "$here/share.sh" "$bin" "$ctx/share"
fi
docker build -q -f "$dockerfile" -t "$tag" "$ctx" >/dev/null
echo "$tag"
