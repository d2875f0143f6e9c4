#!/usr/bin/env bash
# Installs the pinned tools the render, populate and their tests run (helm, helmfile, sops,
# and the Vault server of the populate tests) into ./bin.
# Release binaries cannot be downloaded on every machine, so both are built from their Go
# modules through the Go module proxy; Go's build cache makes later runs fast.
#
# usage: scripts/install-tools.sh [BIN_DIR]
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v3.22.0}
HELMFILE_VERSION=${HELMFILE_VERSION:-v1.8.0}
SOPS_VERSION=${SOPS_VERSION:-v3.10.2}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/bin}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)

# have TOOL VERSION: TOOL is in $bin at VERSION. (`helmfile version` would ask GitHub for the
# latest release: --version does not.)
have() {
  [[ -x $bin/$1 ]] || return 1
  case $1 in
    helm) "$bin/helm" version --short 2>/dev/null | grep -qw -- "$2" ;;
    sops) "$bin/sops" --version --disable-version-check 2>/dev/null | grep -qw -- "${2#v}" ;;
    *) "$bin/$1" --version 2>/dev/null | grep -qw -- "$2" ;;
  esac
}

if ! have helm "$HELM_VERSION"; then
  echo "tools: building helm $HELM_VERSION into $bin" >&2
  GOBIN=$bin CGO_ENABLED=0 go install -trimpath \
    -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

if ! have helmfile "$HELMFILE_VERSION"; then
  echo "tools: building helmfile $HELMFILE_VERSION into $bin (slow the first time)" >&2
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  # helmfile's go.mod has replace directives, which go install refuses: build inside a copy.
  "$root/scripts/copy-go-module.sh" "github.com/helmfile/helmfile@$HELMFILE_VERSION" "$work/src"
  (cd "$work/src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-X go.szostok.io/version.version=$HELMFILE_VERSION" -o "$bin/helmfile" .)
fi
if ! have sops "$SOPS_VERSION"; then
  echo "tools: building sops $SOPS_VERSION into $bin" >&2
  GOBIN=$bin CGO_ENABLED=0 go install -trimpath "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"
fi

# Vault (test tooling for populate): its own script, since it needs a patched copy.
"$root/scripts/build-vault.sh" "$bin"

echo "tools: $("$bin/helm" version --short), $("$bin/helmfile" --version), $("$bin/sops" --version --disable-version-check | head -1), $("$bin/vault" version)" >&2
