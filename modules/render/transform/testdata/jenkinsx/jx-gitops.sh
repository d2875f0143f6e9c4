#!/usr/bin/env bash
# Regenerates jx-gitops/: the input tree after the post-build step of the Jenkins X 3
# version stream's Makefile (versionStream/src/Makefile.mk, with its gitops-scheduler hash),
# run by jx-gitops v1.3.0 itself. TestJenkinsXMatchesJxGitops compares configroot's
# `jenkinsX: true` with it. Build jx-gitops from its module:
#   cp -r "$(go env GOMODCACHE)/github.com/jenkins-x-plugins/jx-gitops@v1.3.0" /tmp/jxsrc
#   (cd /tmp/jxsrc && chmod -R u+w . && go build -o /tmp/jx-gitops ./cmd)
# then: JX_GITOPS=/tmp/jx-gitops ./jx-gitops.sh
set -euo pipefail
cd "$(dirname "$0")"
J=${JX_GITOPS:-jx-gitops}
rm -rf jx-gitops && cp -r input jx-gitops
cd jx-gitops
OUTPUT_DIR=.
"$J" hash --pod-spec --kind Deployment -s namespaces/jx/lighthouse-config/config-cm.yaml -s namespaces/jx/lighthouse-config/plugins-cm.yaml -d namespaces/jx/lighthouse
"$J" label --dir $OUTPUT_DIR/cluster                   gitops.jenkins-x.io/pipeline=cluster
"$J" label --dir $OUTPUT_DIR/customresourcedefinitions gitops.jenkins-x.io/pipeline=customresourcedefinitions
"$J" label --dir $OUTPUT_DIR/namespaces                gitops.jenkins-x.io/pipeline=namespaces
"$J" annotate --dir $OUTPUT_DIR --selector app=pusher-wave kapp.k14s.io/change-group=apps.jenkins-x.io/pusher-wave
"$J" annotate --dir $OUTPUT_DIR --selector app.kubernetes.io/name=ingress-nginx kapp.k14s.io/change-group=apps.jenkins-x.io/ingress-nginx
"$J" label --dir $OUTPUT_DIR/cluster --kind=Namespace team=jx
"$J" annotate --dir $OUTPUT_DIR/namespaces --kind Deployment --selector app=pusher-wave --invert-selector wave.pusher.com/update-on-config-change=true
