#!/usr/bin/env bash
# Installs the pinned tools into ./bin, built from their Go modules through the Go module
# proxy (release binaries cannot be downloaded on every machine); Go's build cache makes
# later runs fast, and a tool already at its version is skipped.
#
#   render: what `configroot render` runs: helm 4 (bin/helm, the default) and helmfile.
#   test:   what the tests run besides: helm 3 (bin/helm3, still supported), sops, the
#           Vault server of the populate tests and an OCI registry (distribution) for the
#           remote-chart tests.
#
# Independent builds run in parallel (each in the background, its log in $bin/.logs);
# the script waits for all of them and fails, with the failed build's log, if any failed.
#
# usage: scripts/install-tools.sh [BIN_DIR] [render|test|all]
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v4.3.1}
HELM3_VERSION=${HELM3_VERSION:-v3.22.0}
HELMFILE_VERSION=${HELMFILE_VERSION:-v1.8.0}
SOPS_VERSION=${SOPS_VERSION:-v3.10.2}
REGISTRY_VERSION=${REGISTRY_VERSION:-v3.0.0}
VAULT_VERSION=${VAULT_VERSION:-v1.14.10}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/bin}
set=${2:-all}
mkdir -p "$bin/.logs"
bin=$(cd "$bin" && pwd)

# have FILE VERSION: $bin/FILE exists and says it is VERSION. (`helmfile version` would ask
# GitHub for the latest release: --version does not.)
have() {
  [[ -x $bin/$1 ]] || return 1
  case $1 in
    helm | helm3) "$bin/$1" version --short 2>/dev/null | grep -qw -- "$2" ;;
    sops) "$bin/sops" --version --disable-version-check 2>/dev/null | grep -qw -- "${2#v}" ;;
    registry) "$bin/registry" --version 2>/dev/null | grep -qw -- "$2" ;;
    *) "$bin/$1" --version 2>/dev/null | grep -qw -- "$2" ;;
  esac
}

build_helm() { # FILE MAJOR VERSION
  local tmp
  tmp=$(mktemp -d)
  GOBIN=$tmp CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/$2/internal/version.version=$3" "helm.sh/helm/$2/cmd/helm@$3"
  mv "$tmp/helm" "$bin/$1" && rmdir "$tmp"
}

build_helmfile() {
  local work
  work=$(mktemp -d)
  # helmfile's go.mod has replace directives, which go install refuses: build inside a copy.
  "$root/scripts/copy-go-module.sh" "github.com/helmfile/helmfile@$HELMFILE_VERSION" "$work/src"
  (cd "$work/src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X go.szostok.io/version.version=$HELMFILE_VERSION" -o "$bin/helmfile" .)
  chmod -R u+w "$work" && rm -rf "$work"
}

build_sops() {
  GOBIN=$bin CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"
}

build_registry() {
  GOBIN=$bin CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" \
    "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"
}

pids=() names=()
# start NAME COMMAND...: runs a build in the background, its output in $bin/.logs/NAME.log.
start() {
  local name=$1
  shift
  echo "tools: building $name into $bin (log: $bin/.logs/$name.log)" >&2
  "$@" >"$bin/.logs/$name.log" 2>&1 &
  pids+=($!) names+=("$name")
}

if [[ $set == render || $set == all ]]; then
  have helm "$HELM_VERSION" || start "helm-$HELM_VERSION" build_helm helm v4 "$HELM_VERSION"
  have helmfile "$HELMFILE_VERSION" || start "helmfile-$HELMFILE_VERSION" build_helmfile
fi
if [[ $set == test || $set == all ]]; then
  have helm3 "$HELM3_VERSION" || start "helm-$HELM3_VERSION" build_helm helm3 v3 "$HELM3_VERSION"
  have sops "$SOPS_VERSION" || start "sops-$SOPS_VERSION" build_sops
  have registry "$REGISTRY_VERSION" || start "registry-$REGISTRY_VERSION" build_registry
  # Vault has its own script, since it needs a patched copy.
  have vault "$VAULT_VERSION" || start "vault-$VAULT_VERSION" "$root/scripts/build-vault.sh" "$bin"
fi

failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "tools: building ${names[$i]} failed:" >&2
    tail -40 "$bin/.logs/${names[$i]}.log" >&2
    failed=1
  fi
done
((failed == 0)) || exit 1

versions=()
if [[ $set == render || $set == all ]]; then
  versions+=("helm $("$bin/helm" version --short)" "helmfile $("$bin/helmfile" --version | awk '{print $NF}')")
fi
if [[ $set == test || $set == all ]]; then
  versions+=("helm3 $("$bin/helm3" version --short)" "$("$bin/sops" --version --disable-version-check | head -1)"
    "$("$bin/vault" version | awk '{print $1, $2}')" "registry $("$bin/registry" --version | awk '{print $NF}')")
fi
printf -v joined '%s, ' "${versions[@]}"
echo "tools: ${joined%, }" >&2
