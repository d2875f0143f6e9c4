#!/usr/bin/env bash
# End-to-end test of the configroot Dagger module on a real Dagger v0.21.8 engine: the Go
# test internal/daggere2e (read its package comment for what it proves), run on a clean copy
# of the committed module (HEAD: no uncommitted edit is tested).
#
# With the offline engine harness of ../shared/dagger-harness (the default: DAGGER_CALL
# unset), the module is loaded on the engine first (the cold time is printed), then the test
# runs inside the engine's network namespace (nsenter), so that the Vault, git and chart
# repository servers it starts are reachable from the engine's containers at the
# namespace's bridge address. With another engine, set DAGGER_CALL="dagger call -m",
# DAGGER_E2E_HOST (an address of this machine the engine's containers reach) and
# DAGGER_STATE (the engine's state folder, or skip).
#
# usage: scripts/dagger-e2e.sh [go test flags, e.g. -run 'TestModule/check']
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
harness=/tmp/dg/e2e
call=${DAGGER_CALL:-$harness/dagger-call.sh}
if [[ -z ${DAGGER_CALL:-} && ! -x $harness/dagger-call.sh ]]; then
  echo "dagger-e2e: no Dagger engine: build the harness of ../shared/dagger-harness (about an hour), or set DAGGER_CALL" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" archive --format=tar HEAD | (mkdir -p "$work/module" && tar -x -C "$work/module")

netns=()
if [[ -z ${DAGGER_CALL:-} ]]; then
  printf '==> dagger-e2e: load the module on the engine\n' >&2
  start=$(date +%s%N)
  "$harness/dagger-cmd.sh" "$work/module" functions >"$work/load.log" 2>&1 ||
    { tail -30 "$work/load.log" >&2; echo "dagger-e2e: FAIL: the module does not load" >&2; exit 1; }
  printf '==> dagger-e2e: module loaded in %.1f s (cold: seeding the Go SDK image, starting the engine, building the module)\n' \
    "$(( ($(date +%s%N) - start) / 1000000 ))e-3" >&2
  netns=(nsenter -t "$(cat "$harness/run/engine.pid")" -n)
fi

cd "$root"
DAGGER_CALL=$call DAGGER_E2E_MODULE=$work/module "${netns[@]}" \
  go test -tags daggere2e -count=1 -v -timeout 60m ./internal/daggere2e "$@"
