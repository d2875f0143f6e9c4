package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Folders of config-root.
const (
	DirCRDs             = "customresourcedefinitions"
	DirClusterResources = "cluster/resources"
	DirClusterNS        = "cluster/namespaces"
	DirNamespaces       = "namespaces"
)

// kindSuffixes are the Jenkins X file-name suffixes by lower-case kind, as `jx gitops
// rename` has them (jx-gitops v1.3.0, pkg/cmd/rename/rename.go, kindSuffixes); any other kind
// uses its lower-case name. The one suffix that depends on the group is in suffix.
var kindSuffixes = map[string]string{
	"clusterrolebinding":             "crb",
	"configmap":                      "cm",
	"customresourcedefinition":       "crd",
	"deployment":                     "deploy",
	"mutatingwebhookconfiguration":   "mutwebhookcfg",
	"namespace":                      "ns",
	"rolebinding":                    "rb",
	"service":                        "svc",
	"serviceaccount":                 "sa",
	"validatingwebhookconfiguration": "valwebhookcfg",
}

// systemNamespaces exist in every cluster; configroot never emits a Namespace object for them,
// so that a GitOps operator never owns (or prunes) them.
var systemNamespaces = map[string]bool{
	"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true,
}

// Layout is a kio.Filter that places every resource in config-root: it drops helm test
// hooks, sets kioutil.PathAnnotation on each resource by the config-root conventions, forces
// the release namespace on namespaced resources that have none, removes it from
// cluster-scoped ones, adds a Namespace object labelled "name: <namespace>" for every
// namespace a release installs into or a namespaced resource lives in (but the system ones,
// and those a chart renders itself) and returns the resources sorted by path.
//
// A file of a chart's output keeps its folders below the release folder, as Jenkins X's
// `jx gitops helmfile move` keeps them: "charts/<subchart>/" for a subchart, "templates/config/"
// for a nested template folder (see chartFolders). Only the last "templates" or "crds"
// folder is dropped.
//
// Each input resource must carry its origin (namespace, folder, source), as set by
// ReadRendered or ReadKustomization. Two different resources that would get the same file
// both survive: all but the first (by group, kind, namespace and name) get a short hash of
// their identity in the file name. The same resource rendered twice is an error.
type Layout struct {
	// ClusterScopedKinds extends the built-in table of cluster-scoped kinds
	// ("<group>/<kind>"; CRDs of the same render are learnt by themselves).
	ClusterScopedKinds []string
	// Declared are namespaces whose Namespace object a chart declared in files a partial
	// render keeps: Layout does not write one of its own for them.
	Declared []string
}

var _ kio.Filter = Layout{}

// placed is a resource with its identity and its path in config-root.
type placed struct {
	node      *yaml.RNode
	identity  string // group/kind/namespace/name
	name      string
	namespace string // after placement; empty for cluster-scoped resources
	release   string // the namespace its release installs into; empty for what configroot made
	source    string
	dir       string
	base      string // file name without ".yaml"
}

// Filter implements kio.Filter.
func (l Layout) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	scopes := NewScopes(l.ClusterScopedKinds)
	kept := make([]*yaml.RNode, 0, len(nodes))
	annotations := make([]map[string]string, 0, len(nodes))
	for _, n := range nodes {
		anns := n.GetAnnotations()
		if isTestHook(anns) {
			continue
		}
		kept = append(kept, n)
		annotations = append(annotations, anns)
		if n.GetKind() == "CustomResourceDefinition" && apiGroup(n.GetApiVersion()) == "apiextensions.k8s.io" {
			if err := scopes.LearnCRD(n); err != nil {
				return nil, fmt.Errorf("%s: CustomResourceDefinition %s: %w", sourceOf(n), n.GetName(), err)
			}
		}
	}

	all := make([]placed, len(kept), len(kept)+8)
	err := forEach(len(kept), func(i int) error {
		var err error
		all[i], err = place(kept[i], annotations[i], scopes)
		return err
	})
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(all))
	declared := map[string]bool{}
	for _, ns := range l.Declared {
		declared[ns] = true
	}
	var releases []string
	for i, p := range all {
		paths[i] = p.path()
		if p.dir == DirClusterNS {
			declared[p.name] = true
		}
		if p.release != "" {
			releases = append(releases, p.release)
		}
	}
	used := namespacesInUse(paths)
	for _, ns := range releases {
		if !systemNamespaces[ns] {
			used[ns] = true
		}
	}
	for _, ns := range sortedKeys(used) {
		if declared[ns] {
			continue
		}
		all = append(all, placed{node: namespaceObject(ns), identity: "/Namespace//" + ns, source: "configroot", dir: DirClusterNS, base: ns})
	}

	if err := resolveCollisions(all); err != nil {
		return nil, err
	}
	out := make([]*yaml.RNode, len(all))
	for i, p := range all {
		if err := p.node.PipeE(yaml.SetAnnotation(kioutil.PathAnnotation, p.path())); err != nil {
			return nil, fmt.Errorf("%s: %w", p.source, err)
		}
		out[i] = p.node
	}
	return out, nil
}

func (p placed) path() string { return p.dir + "/" + p.base + ".yaml" }

// place computes where one resource goes and fixes its namespace accordingly.
func place(n *yaml.RNode, anns map[string]string, scopes Scopes) (placed, error) {
	src := anns[annotationSource]
	apiVersion, kind, name := n.GetApiVersion(), n.GetKind(), n.GetName()
	switch {
	case apiVersion == "" || kind == "":
		return placed{}, fmt.Errorf("%s: not a Kubernetes resource: apiVersion and kind are required", src)
	case name == "":
		return placed{}, fmt.Errorf("%s: %s has no metadata.name", src, kind)
	}
	relNS, folder := anns[annotationNamespace], anns[annotationFolder]
	if relNS == "" || folder == "" {
		return placed{}, fmt.Errorf("%s: %s %s has no release (read it with ReadRendered or ReadKustomization)", src, kind, name)
	}
	p := placed{node: n, source: src, name: name, base: fileName(name) + "-" + suffix(apiVersion, kind)}
	if anns[annotationGenerated] == "" {
		p.release = relNS
	}
	sub := chartFolders(anns[annotationFile])
	clusterScoped := scopes.ClusterScoped(apiVersion, kind)
	ns := n.GetNamespace()
	switch {
	case kind == "Namespace" && apiVersion == "v1":
		p.dir, p.base = DirClusterNS, fileName(name)
	case kind == "CustomResourceDefinition" && apiGroup(apiVersion) == "apiextensions.k8s.io":
		p.dir = path.Join(DirCRDs, relNS, folder, sub)
	case clusterScoped:
		p.dir = path.Join(DirClusterResources, relNS, folder, sub)
	default:
		if ns == "" {
			ns = relNS
			setNamespace(n, ns)
		}
		p.dir = path.Join(DirNamespaces, ns, folder, sub)
	}
	if clusterScoped {
		if ns != "" {
			if err := n.SetNamespace(""); err != nil {
				return placed{}, fmt.Errorf("%s: %s %s: %w", src, kind, name, err)
			}
		}
		ns = ""
	}
	p.namespace = ns
	p.identity = apiGroup(apiVersion) + "/" + kind + "/" + ns + "/" + name
	return p, nil
}

// resolveCollisions keeps every resource: when several would get one file, all but the
// first by identity get a short hash of their identity appended to the file name. The same
// identity twice is an error naming both sources.
func resolveCollisions(all []placed) error {
	sort.SliceStable(all, func(i, j int) bool {
		if a, b := all[i].path(), all[j].path(); a != b {
			return a < b
		}
		return all[i].identity < all[j].identity
	})
	for i := 1; i < len(all); i++ {
		if all[i].path() != all[i-1].path() {
			continue
		}
		if all[i].identity == all[i-1].identity {
			return fmt.Errorf("%s and %s: the same resource %s is rendered twice", all[i-1].source, all[i].source, all[i].identity)
		}
	}
	// Rename in a second pass so that the comparison above sees original paths only.
	for i := len(all) - 1; i > 0; i-- {
		first := i
		for first > 0 && all[first-1].path() == all[i].path() {
			first--
		}
		for j := first + 1; j <= i; j++ {
			sum := sha256.Sum256([]byte(all[j].identity))
			all[j].base += "-" + hex.EncodeToString(sum[:])[:8]
		}
		i = first
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].path() < all[j].path() })
	return nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// isTestHook reports whether a resource is a helm test hook (helm.sh/hook: test, test-success…).
func isTestHook(anns map[string]string) bool {
	hooks, ok := anns[AnnotationHelmHook]
	if !ok {
		return false
	}
	for _, h := range strings.Split(hooks, ",") {
		if strings.HasPrefix(strings.TrimSpace(h), "test") {
			return true
		}
	}
	return false
}

// suffix returns the file-name suffix of a kind: kindSuffixes, else the lower-case kind. A
// Knative Service (an apiVersion with "knative" in its group, such as serving.knative.dev/v1)
// is "ksvc", as in `jx gitops rename` (jx-gitops v1.3.0, pkg/cmd/rename/rename.go,
// canonicalName), so that it never shares a file name with the core Service of its name.
func suffix(apiVersion, kind string) string {
	lower := strings.ToLower(kind)
	s, ok := kindSuffixes[lower]
	switch {
	case !ok:
		return lower
	case s == "svc" && strings.Contains(apiGroup(apiVersion), "knative"):
		return "ksvc"
	}
	return s
}

// chartFolders returns the folders a file of helm's output keeps below its release folder,
// as `jx gitops helmfile move --dir-includes-release-name` keeps them (jx-gitops v1.3.0,
// pkg/cmd/helmfile/move/move.go, moveFilesToClusterOrNamespacesFolder): the file's folder
// inside its chart folder, without its last element when that is "templates" or "crds".
// file is relative to the release's output folder ("<chart>/templates/x.yaml"), so
// "web/templates/x.yaml" and "web/crds/x.yaml" keep nothing, "web/templates/config/x.yaml"
// keeps "templates/config" and "web/charts/db/templates/x.yaml" keeps "charts/db". An empty
// file (kustomize output, resources configroot makes) keeps nothing.
func chartFolders(file string) string {
	i := strings.IndexByte(file, '/')
	if i < 0 {
		return ""
	}
	dir := path.Dir(file[i+1:])
	if b := path.Base(dir); b == "templates" || b == "crds" {
		dir = path.Dir(dir)
	}
	if dir == "." {
		return ""
	}
	return dir
}

// fileName turns a resource name into a file-name stem: ':' and '/' become '-'.
func fileName(name string) string {
	return strings.NewReplacer(":", "-", "/", "-").Replace(name)
}

// sourceOf names where a resource came from, for errors.
func sourceOf(n *yaml.RNode) string {
	if s := annotation(n, annotationSource); s != "" {
		return s
	}
	return fmt.Sprintf("%s %s", n.GetKind(), n.GetName())
}

// namespaceObject returns the Namespace configroot adds for name, labelled "name: <name>"
// as Jenkins X labels the Namespaces it adds (jx-gitops v1.3.0,
// lazyCreateNamespaceResource in pkg/cmd/helmfile/move/move.go and pkg/cmd/namespace/namespace.go):
// NetworkPolicies and webhooks select namespaces by that label. (The API server adds
// kubernetes.io/metadata.name itself.)
func namespaceObject(name string) *yaml.RNode {
	n := yaml.NewMapRNode(nil)
	_ = n.PipeE(yaml.SetField("apiVersion", yaml.NewStringRNode("v1")))
	_ = n.PipeE(yaml.SetField("kind", yaml.NewStringRNode("Namespace")))
	_ = n.SetName(name)
	_ = n.SetLabels(map[string]string{"name": name})
	return n
}

// setNamespace adds metadata.namespace right after metadata.name, where charts put it, so
// that forced namespaces read like written ones. The resource has no namespace yet.
func setNamespace(n *yaml.RNode, ns string) {
	md := n.Field(yaml.MetadataField).Value.YNode()
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: yaml.NamespaceField}
	value := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: ns}
	at := len(md.Content)
	for i := 0; i+1 < len(md.Content); i += 2 {
		if md.Content[i].Value == yaml.NameField {
			at = i + 2
			break
		}
	}
	md.Content = append(md.Content[:at], append([]*yaml.Node{key, value}, md.Content[at:]...)...)
}
