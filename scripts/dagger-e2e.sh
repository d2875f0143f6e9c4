#!/usr/bin/env bash
# End-to-end test of the configroot Dagger module on a real Dagger v0.21.8 engine.
#
# It calls the module with DAGGER_CALL (default: the offline engine harness of
# ../shared/dagger-harness, /tmp/dg/e2e/dagger-call.sh MODULE ARGS...; with a Dagger CLI on
# PATH, set DAGGER_CALL="dagger call -m"), from a clean copy of the committed module, and
# checks:
#   1. render of examples/cluster equals the committed examples/cluster/config-root, byte
#      for byte;
#   2. check passes on the example, and fails naming the file on a stale config-root;
#   3. a broken chart fails the render with one line naming the release;
#   4. --repository-credentials reaches helmfile (a value helmfile.yaml reads with
#      requiredEnv shows up hashed in config-root), and its plaintext appears nowhere in
#      Dagger's output;
#   5. a Secret value the chart computes at render time (so it is in no source file) is
#      nowhere in the engine's state afterwards: the raw render stays in its exec's tmpfs
#      (DAGGER_STATE: the engine's state folder, default /tmp/dg/state, the harness's;
#      DAGGER_STATE=skip for an engine whose state this machine cannot read).
#
# populate is not run: the stores it writes to would have to be reachable from inside the
# engine's containers.
#
# usage: scripts/dagger-e2e.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
call=${DAGGER_CALL:-/tmp/dg/e2e/dagger-call.sh}
state=${DAGGER_STATE:-/tmp/dg/state}
if [[ $call == /tmp/dg/* && ! -x ${call%% *} ]]; then
  echo "dagger-e2e: no Dagger engine: build the harness of ../shared/dagger-harness (about an hour), or set DAGGER_CALL" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '\n==> dagger-e2e: %s\n' "$*" >&2; }
fail() { echo "dagger-e2e: FAIL: $*" >&2; exit 1; }

# The module as committed: a clean copy of HEAD, so that no uncommitted edit is tested.
git -C "$root" archive --format=tar HEAD | (mkdir -p "$work/module" && tar -x -C "$work/module")
module=$work/module
dcall() { (cd "$work" && $call "$module" "$@"); }

step "render examples/cluster"
dcall --source "$module/examples/cluster" render export --path "$work/out1/config-root" >"$work/log1" 2>&1 ||
  { tail -30 "$work/log1"; fail "render"; }
diff -r "$module/examples/cluster/config-root" "$work/out1/config-root" ||
  fail "the Dagger render differs from the committed example config-root"

step "check: up to date, then stale"
dcall --source "$module/examples/cluster" check >"$work/log2" 2>&1 || { tail -30 "$work/log2"; fail "check of an up-to-date repo"; }
grep -q "config-root is up to date" "$work/log2" || fail "check did not say up to date"
cp -r "$module/examples/cluster" "$work/stale"
echo "# edited by hand" >>"$work/stale/config-root/namespaces/apps/webapp/webapp-deploy.yaml"
if dcall --source "$work/stale" check >"$work/log3" 2>&1; then fail "check passed on a stale config-root"; fi
grep -q "namespaces/apps/webapp/webapp-deploy.yaml" "$work/log3" || { tail -20 "$work/log3"; fail "check did not name the stale file"; }

step "a broken chart"
cp -r "$module/examples/cluster" "$work/broken"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nothing.here }}\n' >"$work/broken/charts/platform/templates/broken.yaml"
if dcall --source "$work/broken" render export --path "$work/out4" >"$work/log4" 2>&1; then fail "a broken chart rendered"; fi
grep -q "render: helmfile template helmfile.yaml: release platform/base" "$work/log4" || { tail -20 "$work/log4"; fail "the error does not name the release"; }

step "repository credentials and no Secret value in the engine"
marker="e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
rendered=$(printf '%s' "computed-$marker" | sha256sum | cut -c1-64)
cp -r "$module/examples/cluster" "$work/creds"
rm -rf "$work/creds/config-root"
# The Secret's password is computed by the chart, so its value is in no source file.
sed -i 's|password: {{ .Values.database.password \| quote }}|password: {{ printf "computed-%s" .Values.seed \| sha256sum \| quote }}|' \
  "$work/creds/charts/webapp/templates/secret.yaml"
printf 'seed: %s\n' "$marker" >>"$work/creds/charts/webapp/values.yaml"
printf 'E2E_CHARTS_PASSWORD="%s"\n' "$marker" >"$work/charts.env"
sed -i 's|^greeting: hello from {{ .Environment.Name }}|greeting: hello from {{ .Environment.Name }} {{ requiredEnv "E2E_CHARTS_PASSWORD" \| sha1sum }}|' \
  "$work/creds/values/webapp.yaml.gotmpl"
touch "$work/stamp"
dcall --source "$work/creds" --repository-credentials "file:$work/charts.env" render export --path "$work/out5/config-root" >"$work/log5" 2>&1 ||
  { tail -30 "$work/log5"; fail "render with repository credentials"; }
want=$(printf '%s' "$marker" | sha1sum | cut -c1-40)
grep -rq "$want" "$work/out5/config-root" || fail "the credential did not reach helmfile (no hash of it in config-root)"
grep -rq "$marker" "$work/log5" && fail "the credential's plaintext is in Dagger's output"
grep -rq "$rendered" "$work/out5/config-root" && fail "the rendered Secret value reached config-root"
if [[ $state != skip ]]; then
  [[ -d $state ]] || fail "no engine state folder $state (DAGGER_STATE=skip to skip this check)"
  if find "$state" -newer "$work/stamp" -type f -size -64M -print0 2>/dev/null | xargs -0 -r grep -l -- "$rendered" 2>/dev/null | head -1 | grep -q .; then
    fail "the rendered Secret value is in the engine's state ($state): the raw render left its exec"
  fi
fi
step "all passed"
