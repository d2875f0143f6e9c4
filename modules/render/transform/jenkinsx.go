package transform

// Labels and annotations of the Jenkins X cluster-repo Makefile.
const (
	// LabelPipeline is the label `kubectl apply --prune -l` selects on, one value per tree
	// of config-root, so that a resource deleted from git is deleted from the cluster and
	// nothing else is.
	LabelPipeline = "gitops.jenkins-x.io/pipeline"
	// AnnotationWave asks pusher-wave to roll a Deployment when a Secret or ConfigMap it
	// uses changes (for Secrets filled by External Secrets from the store).
	AnnotationWave = "wave.pusher.com/update-on-config-change"
	// AnnotationKappChangeGroup names a kapp change group.
	AnnotationKappChangeGroup = "kapp.k14s.io/change-group"
	// AnnotationJenkinsXHash is jx gitops hash's default annotation
	// (jx-gitops pkg/cmd/hash/hash.go, DefaultAnnotation).
	AnnotationJenkinsXHash = "jenkins-x.io/hash"
)

// JenkinsXRules returns the rules `jenkinsX: true` stands for: what the post-build target of
// the Jenkins X 3 version stream's Makefile (jx3-gitops-repositories/jx3-versions,
// versionStream/src/Makefile.mk) did after the render, as jx-gitops v1.3.0 implements it
// (pkg/tagging/base.go, UpdateTagInYamlFiles: every *.yaml under --dir, values replaced;
// kind filters from jx-helpers v3 pkg/kyamls/filter.go: a bare kind matches any apiVersion;
// --selector with --invert-selector keeps resources without the label, as "!=" does):
//
//	jx gitops label --dir config-root/cluster                   gitops.jenkins-x.io/pipeline=cluster
//	jx gitops label --dir config-root/customresourcedefinitions gitops.jenkins-x.io/pipeline=customresourcedefinitions
//	jx gitops label --dir config-root/namespaces                gitops.jenkins-x.io/pipeline=namespaces
//	jx gitops annotate --dir config-root --selector app=pusher-wave kapp.k14s.io/change-group=apps.jenkins-x.io/pusher-wave
//	jx gitops annotate --dir config-root --selector app.kubernetes.io/name=ingress-nginx kapp.k14s.io/change-group=apps.jenkins-x.io/ingress-nginx
//	jx gitops label --dir config-root/cluster --kind=Namespace team=jx
//	jx gitops annotate --dir config-root/namespaces --kind Deployment --selector app=pusher-wave --invert-selector wave.pusher.com/update-on-config-change=true
//
// and, from its gitops-scheduler target (development clusters), the lighthouse roll:
//
//	jx gitops hash --pod-spec --kind Deployment -s config-root/namespaces/jx/lighthouse-config/config-cm.yaml \
//	  -s config-root/namespaces/jx/lighthouse-config/plugins-cm.yaml -d config-root/namespaces/jx/lighthouse
//
// which here is a ConfigHash rule with jx's annotation on the Deployments of the lighthouse
// folder of namespace jx: the pods mount those two ConfigMaps, so the hash changes when
// they do (its value differs from jx's, which hashed the files' bytes).
func JenkinsXRules() []Rule {
	return []Rule{
		{Match: Match{Trees: []string{"cluster"}}, Labels: map[string]string{LabelPipeline: "cluster"}},
		{Match: Match{Trees: []string{"customresourcedefinitions"}}, Labels: map[string]string{LabelPipeline: "customresourcedefinitions"}},
		{Match: Match{Trees: []string{"namespaces"}}, Labels: map[string]string{LabelPipeline: "namespaces"}},
		{Match: Match{Selector: "app=pusher-wave"}, Annotations: map[string]string{AnnotationKappChangeGroup: "apps.jenkins-x.io/pusher-wave"}},
		{Match: Match{Selector: "app.kubernetes.io/name=ingress-nginx"}, Annotations: map[string]string{AnnotationKappChangeGroup: "apps.jenkins-x.io/ingress-nginx"}},
		{Match: Match{Trees: []string{"cluster"}, Kinds: []string{"Namespace"}}, Labels: map[string]string{"team": "jx"}},
		{Match: Match{Trees: []string{"namespaces"}, Kinds: []string{"Deployment"}, Selector: "app!=pusher-wave"}, Annotations: map[string]string{AnnotationWave: "true"}},
		{Match: Match{Trees: []string{"namespaces"}, Namespaces: []string{"jx"}, Releases: []string{"lighthouse"}, Kinds: []string{"Deployment"}}, ConfigHash: AnnotationJenkinsXHash},
	}
}
