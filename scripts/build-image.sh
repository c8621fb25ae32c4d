#!/usr/bin/env bash
# Build a container image from a binary built on this host, with no registry: the binary
# and the shared libraries it links (from ldd) go into a FROM-scratch image, with the
# host's CA bundle for TLS. Usage: build-image.sh BINARY DOCKERFILE TAG
set -euo pipefail
bin=$1 dockerfile=$2 tag=$3
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
docker build -q -f "$dockerfile" -t "$tag" "$ctx" >/dev/null
echo "$tag"
