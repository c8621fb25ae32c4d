#!/usr/bin/env bash
# Build a container image from a binary built on this host, with no registry: the binary
# and the shared libraries it links (from ldd) go into a FROM-scratch image, with the
# host's CA bundle for TLS. Usage: build-image.sh BINARY DOCKERFILE TAG [SHARE_DIR]
# SHARE_DIR (man pages and shell completions, from `make man`) is the build context's
# share/, which the Dockerfile may copy to /usr/share; share/ is empty without it.
set -euo pipefail
bin=$1 dockerfile=$2 tag=$3 share=${4:-}
[ -x "$bin" ] || { echo "build-image: $bin is not an executable (build it first)" >&2; exit 2; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/etc/ssl/certs"
cp "$bin" "$root/usr/local/bin/"
# The dynamic loader and every library the binary needs, at the same paths.
for lib in $(ldd "$bin" | grep -oE '/[^ ]+' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/:/nonexistent\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
mkdir -p "$ctx/share"
if [ -n "$share" ]; then
  [ -d "$share" ] || { echo "build-image: $share is not a directory (run make man)" >&2; exit 2; }
  cp -R "$share/." "$ctx/share/"
fi
docker build -q -f "$dockerfile" -t "$tag" "$ctx" >/dev/null
echo "$tag"
