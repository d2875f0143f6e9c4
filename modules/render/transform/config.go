package transform

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/configroot/configroot/modules/internal/kinds"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is the transforms section of configroot.yaml: labels, annotations and config hashes
// added to the rendered resources before they are written.
//
//	transforms:
//	  jenkinsX: true                # the Jenkins X Makefile's post-build labels and annotations
//	  rules:
//	    - match: {trees: [namespaces], kinds: [apps/Deployment]}
//	      annotations: {example.com/owner: platform}
type Config struct {
	// JenkinsX adds JenkinsXRules before Rules: the labels and annotations the Jenkins X
	// cluster-repo Makefile's post-build step added with jx gitops label, annotate and hash.
	JenkinsX bool `json:"jenkinsX,omitempty"`
	// Rules are applied in order, each to every resource it matches; for the same key, a
	// later rule's value replaces an earlier one's.
	Rules []Rule `json:"rules,omitempty"`
	// File names configroot.yaml in messages (set by Load; empty for a Config built in code).
	File string `json:"-"`
}

// Rule adds labels, annotations or a config hash to the resources Match selects.
type Rule struct {
	// Match selects the resources (the zero Match selects every resource).
	Match Match `json:"match,omitempty"`
	// Labels are set on metadata.labels (on the pod template with PodTemplate), replacing
	// a value already there. Keys and values must be valid Kubernetes labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are set on metadata.annotations (on the pod template with PodTemplate),
	// replacing a value already there.
	Annotations map[string]string `json:"annotations,omitempty"`
	// PodTemplate puts Labels and Annotations on the pod template of the workloads matched
	// (spec.template.metadata; spec.jobTemplate.spec.template.metadata for a CronJob)
	// instead of their own metadata; resources that are not workloads are left alone.
	PodTemplate bool `json:"podTemplate,omitempty"`
	// ConfigHash, when set, is an annotation put on the pod template of each workload
	// matched, holding the SHA-256 (hex) of the ConfigMaps and ExternalSecrets its pods use:
	// see Filter.
	ConfigHash string `json:"configHash,omitempty"`
	// Line is the rule's line in File (0 when built in code).
	Line int `json:"-"`
}

// Match selects resources. Every field that is set must match (and); within a list, any
// entry may match (or). Namespaces, Releases and Names are path.Match glob patterns.
type Match struct {
	// Trees are folders of config-root: "cluster" (cluster-scoped resources and Namespace
	// objects), "cluster/namespaces", "cluster/resources", "namespaces" (namespaced
	// resources) or "customresourcedefinitions".
	Trees []string `json:"trees,omitempty"`
	// Kinds are "Kind" (any API group), "group/Kind", "v1/Kind" or "core/Kind" (the core group), or
	// "group/version/Kind"; "group/*" is every kind of a group. Kinds are written as in
	// the resource's kind field (Deployment, not deployment or deploy).
	Kinds []string `json:"kinds,omitempty"`
	// Namespaces match the namespace folder of the resource's file: its own namespace for a
	// namespaced resource, its release's for a cluster-scoped resource or a CRD, its own
	// name for a Namespace object.
	Namespaces []string `json:"namespaces,omitempty"`
	// Releases match the release's name (helm's meta.helm.sh/release-name) or the release's
	// folder in config-root (the only name of a kustomize folder).
	Releases []string `json:"releases,omitempty"`
	// Names match metadata.name.
	Names []string `json:"names,omitempty"`
	// Selector is a Kubernetes label selector on the resource's own labels, as kubectl -l
	// takes it: "app=pusher-wave", "app!=pusher-wave" (also true without the label),
	// "tier in (web,api)", "!canary".
	Selector string `json:"selector,omitempty"`
}

// Trees of config-root a Match can name.
var trees = []string{"cluster", "cluster/namespaces", "cluster/resources", "customresourcedefinitions", "namespaces"}

// reserved are the annotation and label prefixes configroot, helm and kyaml keep for their
// own bookkeeping: a transform that set them would break the layout or a partial render.
var reserved = []string{"meta.helm.sh/", "internal.configroot.dev/", "config.kubernetes.io/", "internal.config.kubernetes.io/"}

// fieldError is a problem with one field of the section, by its path below transforms
// ("rules[1].match.kinds[0]").
type fieldError struct {
	path, msg string
}

// validate checks the rule, whose path is at ("rules[3]").
func (r Rule) validate(at string) []fieldError {
	var errs []fieldError
	add := func(p, format string, args ...any) {
		errs = append(errs, fieldError{at + p, fmt.Sprintf(format, args...)})
	}
	if len(r.Labels) == 0 && len(r.Annotations) == 0 && r.ConfigHash == "" {
		add("", "the rule adds nothing: set labels, annotations or configHash")
	}
	for _, t := range r.Match.Trees {
		if !slices.Contains(trees, t) {
			add(".match.trees", "%q is not a folder of config-root: want one of %s", t, strings.Join(trees, ", "))
		}
	}
	for i, k := range r.Match.Kinds {
		if _, err := parseKind(k); err != nil {
			add(fmt.Sprintf(".match.kinds[%d]", i), "%v", err)
		}
	}
	for field, pats := range map[string][]string{"namespaces": r.Match.Namespaces, "releases": r.Match.Releases, "names": r.Match.Names} {
		for i, p := range pats {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				add(fmt.Sprintf(".match.%s[%d]", field, i), "%q is not a glob pattern (path.Match: *, ?, [a-z])", p)
			}
		}
	}
	if r.Match.Selector != "" {
		if _, err := labels.Parse(r.Match.Selector); err != nil {
			add(".match.selector", "%q is not a label selector: %v", r.Match.Selector, err)
		}
	}
	for _, k := range sortedKeys(r.Labels) {
		for _, m := range validation.IsQualifiedName(k) {
			add(".labels."+k, "%q is not a valid label key: %s", k, m)
		}
		for _, m := range validation.IsValidLabelValue(r.Labels[k]) {
			add(".labels."+k, "%q is not a valid label value: %s", r.Labels[k], m)
		}
		if isReserved(k) {
			add(".labels."+k, "%q is configroot's or helm's own key: a transform cannot set it", k)
		}
	}
	for _, k := range sortedKeys(r.Annotations) {
		for _, m := range validation.IsQualifiedName(k) {
			add(".annotations."+k, "%q is not a valid annotation key: %s", k, m)
		}
		if isReserved(k) {
			add(".annotations."+k, "%q is configroot's or helm's own key: a transform cannot set it", k)
		}
	}
	if r.ConfigHash != "" {
		for _, m := range validation.IsQualifiedName(r.ConfigHash) {
			add(".configHash", "%q is not a valid annotation key: %s", r.ConfigHash, m)
		}
		if isReserved(r.ConfigHash) {
			add(".configHash", "%q is configroot's or helm's own key: a transform cannot set it", r.ConfigHash)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].path < errs[j].path })
	return errs
}

func isReserved(key string) bool {
	for _, p := range reserved {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// kindPattern is a parsed Match.Kinds entry.
type kindPattern struct {
	// apiVersion is a full apiVersion ("apps/v1", "v1") to equal, or "".
	apiVersion string
	// group is an API group to equal ("" with apiVersion set or any: see anyGroup).
	group    string
	anyGroup bool
	// kind is the kind to equal; "*" is any.
	kind string
}

var (
	kindRE    = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	versionRE = regexp.MustCompile(`^v[0-9]+((alpha|beta)[0-9]+)?$`)
)

// parseKind parses a Match.Kinds entry: "Kind", "group/Kind", "v1/Kind",
// "group/version/Kind", "group/*"; "core" names the core group.
func parseKind(s string) (kindPattern, error) {
	bad := func(why string) (kindPattern, error) {
		return kindPattern{}, fmt.Errorf("%q is not a kind (%s): want Kind, group/Kind, v1/Kind or group/version/Kind, e.g. Deployment, apps/Deployment, apps/v1/Deployment", s, why)
	}
	parts := strings.Split(s, "/")
	kind := parts[len(parts)-1]
	switch {
	case kind == "*" && len(parts) == 1:
		return bad("a bare * selects everything: leave kinds out instead")
	case kind != "*" && !kindRE.MatchString(kind):
		if k, ok := kinds.Short(kind); ok {
			return bad(fmt.Sprintf("%s is short for %s: write %s or %s/%s", kind, k.Kind, k.Kind, or(k.Group, "core"), k.Kind))
		}
		if upper := strings.ToUpper(kind[:min(1, len(kind))]) + kind[min(1, len(kind)):]; kindRE.MatchString(upper) {
			return bad("kinds start with a capital letter: " + upper)
		}
		return bad(fmt.Sprintf("%q is not a kind name", kind))
	}
	p := kindPattern{kind: kind}
	switch len(parts) {
	case 1:
		p.anyGroup = true
	case 2:
		switch g := parts[0]; {
		case g == "v1":
			p.apiVersion = "v1"
		case g == "core":
			// Kubernetes' documentation calls the group of v1 resources "core".
			p.group = ""
		case len(validation.IsDNS1123Subdomain(g)) == 0:
			p.group = g
		default:
			return bad(fmt.Sprintf("%q is not an API group", g))
		}
	case 3:
		if len(validation.IsDNS1123Subdomain(parts[0])) != 0 {
			return bad(fmt.Sprintf("%q is not an API group", parts[0]))
		}
		if !versionRE.MatchString(parts[1]) {
			return bad(fmt.Sprintf("%q is not an API version", parts[1]))
		}
		p.apiVersion = parts[0] + "/" + parts[1]
	default:
		return bad("too many /")
	}
	return p, nil
}

// matches reports whether a resource of apiVersion and kind matches p.
func (p kindPattern) matches(apiVersion, kind string) bool {
	if p.kind != "*" && p.kind != kind {
		return false
	}
	switch {
	case p.anyGroup:
		return true
	case p.apiVersion != "":
		return apiVersion == p.apiVersion
	default:
		return apiGroup(apiVersion) == p.group
	}
}

// apiGroup returns the group of an apiVersion ("apps/v1" → "apps", "v1" → "").
func apiGroup(apiVersion string) string {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
