#!/usr/bin/env bash
# The man pages and shell completions of dtaas-services, rendered by the binary itself and
# laid out as under /usr/share: man/man1/*.1, bash-completion/completions/dtaas-services,
# zsh/vendor-completions/_dtaas-services, fish/vendor_completions.d/dtaas-services.fish.
# The one copy of this layout: `make man`, scripts/build-image.sh (the offline image) and
# the builder stage of projects/dtaas-services/Dockerfile (the multi-stage image) run it.
# Usage: share.sh BINARY OUT_DIR   (OUT_DIR is replaced)
set -euo pipefail
bin=$1 out=$2
[ -x "$bin" ] || { echo "share: $bin is not an executable (build it first)" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out/bash-completion/completions" "$out/zsh/vendor-completions" \
  "$out/fish/vendor_completions.d"
"$bin" -q man --dir "$out/man/man1"
"$bin" completions bash > "$out/bash-completion/completions/dtaas-services"
"$bin" completions zsh > "$out/zsh/vendor-completions/_dtaas-services"
"$bin" completions fish > "$out/fish/vendor_completions.d/dtaas-services.fish"
