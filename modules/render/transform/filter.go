package transform

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/configroot/configroot/modules/internal/meta"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// annotationReleaseName is helm's annotation naming a resource's release.
const annotationReleaseName = "meta.helm.sh/release-name"

// Filter is a kio.Filter that applies a Config to laid-out resources: it runs after the
// render's Layout (each resource must carry its config-root path in kioutil.PathAnnotation,
// which says its tree, namespace folder and release folder) and before the write, so that
// everything that writes or compares config-root sees the same result.
//
// Rules run in order. Labels and annotations go on the resource's metadata, or on its pod
// template for workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
// ReplicationController, Argo Rollout). A ConfigHash rule sets, on the pod template of each
// workload it matches, the SHA-256 (hex) of what its pods read from the same namespace:
// the data and binaryData of the ConfigMaps, and the spec of the ExternalSecrets whose
// target Secret they use, through volumes (configMap, secret, projected), env valueFrom and
// envFrom, in every container, init container and ephemeral container. The pod template
// changes exactly when one of them does, so the workload rolls. References to objects that
// are not in the render are left out; a workload that references none gets no annotation.
// A Secret is never read (its values must not reach anything derived): a Secret the render
// kept as a Secret counts for nothing.
//
// The result depends only on the resources (no time, no map order): a second run over the
// same render gives the same bytes, and applying the rules twice changes nothing more.
type Filter struct {
	// Config is the transforms section of configroot.yaml.
	Config Config
	// Partial is true when selectors limited the render: rules that match nothing are
	// expected then and not warned about.
	Partial bool
	// Existing are files of config-root (slash paths relative to it) that this render
	// keeps without rendering them (the releases a partial render did not select). The
	// config hash reads their ConfigMaps and ExternalSecrets, so that it is the same as a
	// full render's.
	Existing map[string][]byte
	// Warn receives one line per warning ("configroot.yaml:12: transforms.rules[1] matches
	// no resource"); nil discards them.
	Warn func(string)
}

var _ kio.Filter = Filter{}

// Filter implements kio.Filter. It returns the resources it was given, changed in place.
func (f Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	rules, err := f.compile()
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return nodes, nil
	}
	res := make([]resource, len(nodes))
	for i, n := range nodes {
		if res[i], err = newResource(n); err != nil {
			return nil, err
		}
	}
	var hashes *configIndex
	for _, r := range rules {
		if r.configHash != "" && hashes == nil {
			if hashes, err = newConfigIndex(res, f.Existing); err != nil {
				return nil, err
			}
		}
		matched, workloads := 0, 0
		for i := range res {
			if !r.matches(&res[i]) {
				continue
			}
			matched++
			ok, err := r.apply(&res[i], hashes)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", r.origin, res[i].describe(), err)
			}
			if ok {
				workloads++
			}
		}
		f.warnUnused(r, matched, workloads)
	}
	return nodes, nil
}

func (f Filter) warnUnused(r *rule, matched, workloads int) {
	if f.Warn == nil || f.Partial || r.implicit {
		return
	}
	switch {
	case matched == 0:
		f.Warn(r.origin + " matches no resource")
	case (r.podTemplate || r.configHash != "") && workloads == 0:
		f.Warn(fmt.Sprintf("%s matches %d resources but no workload with a pod template (podTemplate and configHash apply to %s)",
			r.origin, matched, strings.Join(workloadKinds(), ", ")))
	}
}

// rule is a Rule ready to run.
type rule struct {
	origin   string // "configroot.yaml:12: transforms.rules[1]", for messages
	implicit bool   // from jenkinsX: not warned about when it matches nothing

	trees                      []string
	kinds                      []kindPattern
	namespaces, releases, name []string
	selector                   labels.Selector // nil: any

	labels, annotations [][2]string // sorted by key
	podTemplate         bool
	configHash          string
}

// compile validates the config (again, for a Config built in code) and prepares its rules.
func (f Filter) compile() ([]*rule, error) {
	c := f.Config
	type source struct {
		r        Rule
		at       string
		implicit bool
	}
	var all []source
	if c.JenkinsX {
		for i, r := range JenkinsXRules() {
			all = append(all, source{r, fmt.Sprintf("jenkinsX (rule %d)", i+1), true})
		}
	}
	for i, r := range c.Rules {
		all = append(all, source{r, fmt.Sprintf("rules[%d]", i), false})
	}
	var errs []error
	rules := make([]*rule, 0, len(all))
	for _, s := range all {
		origin := Section + "." + s.at
		if c.File != "" && s.r.Line > 0 {
			origin = fmt.Sprintf("%s:%d: %s", c.File, s.r.Line, origin)
		} else if c.File != "" {
			origin = c.File + ": " + origin
		}
		if bad := s.r.validate(""); len(bad) > 0 {
			for _, e := range bad {
				errs = append(errs, fmt.Errorf("%s%s: %s", origin, e.path, e.msg))
			}
			continue
		}
		r := &rule{
			origin: origin, implicit: s.implicit,
			trees: s.r.Match.Trees, namespaces: s.r.Match.Namespaces, releases: s.r.Match.Releases, name: s.r.Match.Names,
			labels: pairs(s.r.Labels), annotations: pairs(s.r.Annotations),
			podTemplate: s.r.PodTemplate, configHash: s.r.ConfigHash,
		}
		for _, k := range s.r.Match.Kinds {
			p, _ := parseKind(k) // validated
			r.kinds = append(r.kinds, p)
		}
		if s.r.Match.Selector != "" {
			r.selector, _ = labels.Parse(s.r.Match.Selector) // validated
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(errs...)
}

func pairs(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, [2]string{k, m[k]})
	}
	return out
}

// resource is a resource with what the rules match on.
type resource struct {
	node                       *yaml.RNode
	path                       string // in config-root
	namespace, folder, release string // folders of the path; release from helm's annotation
	ns                         string // metadata.namespace
	apiVersion, kind, name     string
	template                   []string // path of the pod template; nil: not a workload

	labels labels.Set // metadata.labels, read when a selector needs them; nil: not read
}

// newResource reads what the rules need from n. n must have its config-root path.
func newResource(n *yaml.RNode) (resource, error) {
	r := resource{node: n, apiVersion: n.GetApiVersion(), kind: n.GetKind(), name: n.GetName(), ns: n.GetNamespace()}
	r.path = annotation(n, kioutil.PathAnnotation)
	if r.path == "" {
		return r, fmt.Errorf("transforms: %s has no config-root path: the transforms run after the layout", r.describe())
	}
	// <tree>/<namespace>/<release folder>/[<folders of the file in its chart>/]<file>
	parts := strings.Split(r.path, "/")
	switch {
	case len(parts) == 3 && parts[0] == "cluster" && parts[1] == "namespaces":
		r.namespace = strings.TrimSuffix(parts[2], ".yaml")
	case len(parts) >= 5 && parts[0] == "cluster" && parts[1] == "resources":
		r.namespace, r.folder = parts[2], parts[3]
	case len(parts) >= 4 && (parts[0] == "namespaces" || parts[0] == "customresourcedefinitions"):
		r.namespace, r.folder = parts[1], parts[2]
	default:
		return r, fmt.Errorf("transforms: %s: %s is not a config-root path", r.describe(), r.path)
	}
	r.release = annotation(n, annotationReleaseName)
	r.template = templatePath(r.apiVersion, r.kind)
	return r, nil
}

func (r *resource) describe() string {
	if r.ns != "" {
		return fmt.Sprintf("%s %s/%s", r.kind, r.ns, r.name)
	}
	return r.kind + " " + r.name
}

// matches reports whether the rule selects the resource.
func (r *rule) matches(res *resource) bool {
	if len(r.trees) > 0 && !anyOf(r.trees, func(t string) bool { return strings.HasPrefix(res.path, t+"/") }) {
		return false
	}
	if len(r.kinds) > 0 && !anyOf(r.kinds, func(k kindPattern) bool { return k.matches(res.apiVersion, res.kind) }) {
		return false
	}
	if len(r.namespaces) > 0 && !anyOf(r.namespaces, func(p string) bool { return glob(p, res.namespace) }) {
		return false
	}
	if len(r.releases) > 0 && !anyOf(r.releases, func(p string) bool {
		return (res.release != "" && glob(p, res.release)) || (res.folder != "" && glob(p, res.folder))
	}) {
		return false
	}
	if len(r.name) > 0 && !anyOf(r.name, func(p string) bool { return glob(p, res.name) }) {
		return false
	}
	if r.selector != nil {
		if res.labels == nil {
			res.labels = res.node.GetLabels()
		}
		if !r.selector.Matches(res.labels) {
			return false
		}
	}
	return true
}

// apply applies the rule to a resource it matches; workload reports whether the resource
// has a pod template (whether podTemplate and configHash had something to work on).
func (r *rule) apply(res *resource, hashes *configIndex) (workload bool, err error) {
	var template *yaml.RNode
	if res.template != nil {
		template, err = res.node.Pipe(yaml.Lookup(res.template...))
		if err != nil {
			return false, err
		}
		if template != nil && template.YNode().Kind != yaml.MappingNode {
			template = nil
		}
	}
	target := res.node
	if r.podTemplate {
		target = template
	} else if len(r.labels) > 0 {
		res.labels = nil // read again by the next selector
	}
	if target != nil {
		if err := setAll(target, yaml.LabelsField, r.labels); err != nil {
			return false, err
		}
		if err := setAll(target, yaml.AnnotationsField, r.annotations); err != nil {
			return false, err
		}
	}
	if r.configHash != "" && template != nil {
		if sum := hashes.sum(res.ns, template); sum != "" {
			if err := setAll(template, yaml.AnnotationsField, [][2]string{{r.configHash, sum}}); err != nil {
				return false, err
			}
		}
	}
	return template != nil, nil
}

// setAll sets kv in the metadata.<field> mapping of n (a resource or a pod template),
// creating it when missing: a key already there gets the new value in place, a new key is
// appended.
func setAll(n *yaml.RNode, field string, kv [][2]string) error {
	if len(kv) == 0 {
		return nil
	}
	md, err := n.Pipe(yaml.LookupCreate(yaml.MappingNode, yaml.MetadataField))
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if md.Field(field) == nil && field == yaml.LabelsField {
		// A new labels field goes before the annotations, where Kubernetes writes it.
		insertBefore(md.YNode(), yaml.AnnotationsField, field)
	}
	m, err := md.Pipe(yaml.LookupCreate(yaml.MappingNode, field))
	if err != nil {
		return fmt.Errorf("metadata.%s: %w", field, err)
	}
	if m.YNode().Kind != yaml.MappingNode {
		return fmt.Errorf("metadata.%s is not a mapping", field)
	}
	content := m.YNode().Content
next:
	for _, p := range kv {
		for i := 0; i+1 < len(content); i += 2 {
			if content[i].Value == p[0] {
				content[i+1] = stringNode(p[1])
				continue next
			}
		}
		content = append(content, stringNode(p[0]), stringNode(p[1]))
	}
	m.YNode().Content = content
	return nil
}

func stringNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: s}
}

// workloads maps "<group>/<kind>" of the workloads to the path of their pod template.
var workloads = map[string][]string{
	"apps/Deployment":        {"spec", "template"},
	"apps/StatefulSet":       {"spec", "template"},
	"apps/DaemonSet":         {"spec", "template"},
	"apps/ReplicaSet":        {"spec", "template"},
	"batch/Job":              {"spec", "template"},
	"batch/CronJob":          {"spec", "jobTemplate", "spec", "template"},
	"/ReplicationController": {"spec", "template"},
	"argoproj.io/Rollout":    {"spec", "template"},
}

func workloadKinds() []string {
	return []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController", "argoproj.io/Rollout"}
}

func templatePath(apiVersion, kind string) []string {
	return workloads[apiGroup(apiVersion)+"/"+kind]
}

// annotation returns the value of one annotation of n, or "" (meta.Annotation).
func annotation(n *yaml.RNode, key string) string { return meta.Annotation(n, key) }

func glob(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

func anyOf[T any](list []T, f func(T) bool) bool {
	for _, x := range list {
		if f(x) {
			return true
		}
	}
	return false
}

// insertBefore adds an empty mapping field key to the mapping m, before the field before
// when m has it (else nothing is inserted: LookupCreate appends it).
func insertBefore(m *yaml.Node, before, key string) {
	if m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == before {
			kv := []*yaml.Node{{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: key}, {Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}}
			m.Content = append(m.Content[:i], append(kv, m.Content[i:]...)...)
			return
		}
	}
}
