#!/usr/bin/env bash
# Build the local Debian 12 base image for the test kit without any container registry:
#   debootstrap --variant=minbase bookworm <rootfs> <mirror>  ->  docker import
# Usage: images/base/build.sh TAG [LABEL=VALUE ...]
# The mirror is $DEBIAN_MIRROR, else the first bookworm source configured in this machine's
# /etc/apt/sources.list(.d), else http://deb.debian.org/debian. Needs root and debootstrap.
set -euo pipefail
tag=${1:?usage: $0 TAG [LABEL=VALUE ...]}
shift

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local f uri
  # deb822 sources: the URIs of a stanza whose Suites has a plain "bookworm".
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '
      BEGIN { RS=""; FS="\n" }
      {
        u=""; s=0; en=1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)    { sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); u=a[1] }
          if ($i ~ /^Suites:/)  { if ($i ~ /[ \t]bookworm([ \t]|$)/) s=1 }
          if ($i ~ /^Enabled:[ \t]*no/) en=0
        }
        if (u != "" && s && en) { print u; exit }
      }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  # one-line sources: "deb [opts] URI bookworm ..."
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(sed -E 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }')
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  echo http://deb.debian.org/debian
}

command -v debootstrap >/dev/null || {
  echo "debootstrap is missing: apt-get install -y debootstrap" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }

url=$(mirror)
root=$(mktemp -d "${TMPDIR:-/tmp}/dtaas-base.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "debootstrap --variant=minbase bookworm from $url" >&2
debootstrap --variant=minbase bookworm "$root" "$url" >"$root.log" 2>&1 || {
  tail -30 "$root.log" >&2
  rm -f "$root.log"
  exit 1
}
rm -f "$root.log"

# Container conventions (as Debian's official images): no services started by package
# scripts, no recommends, no docs/man/locales, no apt caches.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/apt.conf.d/90container" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CONF
cat >"$root/etc/dpkg/dpkg.cfg.d/90container" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CONF
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
: >"$root/etc/hostname"

changes=(--change 'CMD ["/bin/bash"]'
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change 'ENV LANG=C.UTF-8')
for l in "$@"; do changes+=(--change "LABEL $l"); done
tar --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
echo "built $tag" >&2
