#!/usr/bin/env bash
# Copies the source of a Go module, downloaded through the Go module proxy, into a writable
# folder, for tools whose go.mod has replace directives that `go install` refuses
# (helmfile) or that need patching before they build (Vault).
#
# usage: scripts/copy-go-module.sh MODULE@VERSION DEST   (DEST must not exist)
set -euo pipefail
module=$1 dest=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir=$(cd "$tmp" && go mod download -json "$module" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
[[ -n $dir ]] || { echo "tools: could not download $module" >&2; exit 1; }
cp -r "$dir" "$dest" && chmod -R u+w "$dest"
