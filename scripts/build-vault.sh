#!/usr/bin/env bash
# Builds the Vault server the populate tests run (`vault server -dev` on 127.0.0.1) into
# ./bin/vault. Test tooling only: configroot never ships or links Vault.
#
# Release binaries cannot be downloaded on every machine, and the module proxy's
# github.com/hashicorp/vault@v1.14.10 does not build as it is: its go.mod replaces ./api,
# ./sdk and three ./api/auth/* folders that the module zip lacks. This script builds a copy
# with the published sdk v0.11.0, api v1.10.0, approle v0.1.0, userpass v0.1.0 and
# kubernetes v0.4.1, plus scripts/vault.patch, four small source fixes for that sdk:
#   - vault/eventbus: the plugin event sender's Send is SendEvent in sdk v0.11;
#   - vault/sdk_v011_stubs.go: stubs for the four methods sdk v0.11 adds to SystemView and
#     ExtendedSystemView;
#   - vault/logical_system_helpers.go: two enterprise managed-keys stub paths drop
#     CreateOperation (sdk v0.11 panics on one without an ExistenceCheck);
#   - transit's cache-config path gets an ExistenceCheck, for the same reason.
# The KV secrets engine the tests use is the unmodified plugin from the proxy.
#
# About 10 minutes and 360 MiB the first time on 2 cores; Go's build cache makes a rebuild
# fast. Skips everything when $BIN/vault is already this version.
#
# usage: scripts/build-vault.sh [BIN_DIR]
set -euo pipefail
VAULT_VERSION=${VAULT_VERSION:-v1.14.10}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/bin}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)

if [[ -x $bin/vault ]] && "$bin/vault" version 2>/dev/null | grep -qw -- "Vault $VAULT_VERSION"; then
  exit 0
fi

echo "tools: building vault $VAULT_VERSION into $bin (about 10 minutes the first time)" >&2
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
"$root/scripts/copy-go-module.sh" "github.com/hashicorp/vault@$VAULT_VERSION" "$work/src"
cd "$work/src"
sed -i '/^replace github.com\/hashicorp\/vault\/\(api\|sdk\)/d' go.mod
go mod edit \
  -require=github.com/hashicorp/vault/api@v1.10.0 \
  -require=github.com/hashicorp/vault/sdk@v0.11.0 \
  -require=github.com/hashicorp/vault/api/auth/approle@v0.1.0 \
  -require=github.com/hashicorp/vault/api/auth/userpass@v0.1.0 \
  -require=github.com/hashicorp/vault/api/auth/kubernetes@v0.4.1
git apply -p1 "$root/scripts/vault.patch"
# -trimpath keeps the build cache valid across the temporary folders of later runs.
go build -mod=mod -trimpath -o "$work/vault" .
"$work/vault" version >&2
mv "$work/vault" "$bin/vault"
