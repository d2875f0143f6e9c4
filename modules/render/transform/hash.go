package transform

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// configIndex holds, per namespace, what a config hash reads: the ConfigMaps by name and
// the ExternalSecrets by the name of the Secret they create. Secrets are never indexed.
type configIndex struct {
	configMaps      map[string]map[string]*yaml.RNode // namespace → name → ConfigMap
	externalSecrets map[string]map[string]*yaml.RNode // namespace → target Secret → ExternalSecret
}

// newConfigIndex indexes the rendered resources, then the existing files the render keeps
// (a rendered object wins over an existing one of the same namespace and name).
func newConfigIndex(res []resource, existing map[string][]byte) (*configIndex, error) {
	x := &configIndex{configMaps: map[string]map[string]*yaml.RNode{}, externalSecrets: map[string]map[string]*yaml.RNode{}}
	for i := range res {
		x.add(res[i].node, true)
	}
	paths := make([]string, 0, len(existing))
	for p, data := range existing {
		// Only namespaced objects are read, and only files that can hold one of the two kinds.
		if strings.HasPrefix(p, "namespaces/") && (bytes.Contains(data, []byte("ConfigMap")) || bytes.Contains(data, []byte("ExternalSecret"))) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		n, err := yaml.Parse(string(existing[p]))
		if err != nil {
			return nil, fmt.Errorf("config hash: read %s: %w", p, err)
		}
		x.add(n, false)
	}
	return x, nil
}

// add indexes n when it is a ConfigMap or an ExternalSecret; override says whether it
// replaces an object already indexed under the same key.
func (x *configIndex) add(n *yaml.RNode, override bool) {
	ns := n.GetNamespace()
	var m map[string]map[string]*yaml.RNode
	var key string
	switch kind, group := n.GetKind(), apiGroup(n.GetApiVersion()); {
	case kind == "ConfigMap" && group == "":
		m, key = x.configMaps, n.GetName()
	case kind == "ExternalSecret" && group == "external-secrets.io":
		// ESO creates spec.target.name, by default the ExternalSecret's own name.
		key, _ = n.GetString("spec.target.name")
		if key == "" {
			key = n.GetName()
		}
		m = x.externalSecrets
	case kind == "ExternalSecret" && group == "kubernetes-client.io":
		// kubernetes-external-secrets creates a Secret named after the ExternalSecret.
		m, key = x.externalSecrets, n.GetName()
	default:
		return
	}
	if m[ns] == nil {
		m[ns] = map[string]*yaml.RNode{}
	}
	if _, ok := m[ns][key]; ok && !override {
		return
	}
	m[ns][key] = n
}

// sum returns the config hash of a pod template of namespace ns, "" when its pods reference
// nothing the index holds.
func (x *configIndex) sum(ns string, template *yaml.RNode) string {
	cms, secrets := podReferences(template)
	var parts []string
	for _, name := range cms {
		if cm := x.configMaps[ns][name]; cm != nil {
			parts = append(parts, "ConfigMap "+name+"\n"+canonicalFields(cm, "data", "binaryData"))
		}
	}
	for _, name := range secrets {
		if es := x.externalSecrets[ns][name]; es != nil {
			parts = append(parts, "ExternalSecret "+es.GetApiVersion()+" "+es.GetName()+" Secret "+name+"\n"+canonicalFields(es, "spec"))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalFields encodes the named top-level fields of n canonically (canonical), so that
// the same content gives the same bytes whatever its YAML layout, key order or quoting.
func canonicalFields(n *yaml.RNode, fields ...string) string {
	var b strings.Builder
	for _, f := range fields {
		v := n.Field(f)
		if v == nil || v.Value == nil {
			continue
		}
		b.WriteString(f)
		b.WriteByte('=')
		canonical(&b, v.Value.YNode())
		b.WriteByte('\n')
	}
	return b.String()
}

// canonical writes n as JSON-like text with mapping keys sorted and every scalar quoted
// with its resolved tag (so that 1 and "1" differ, and 'a' and "a" do not).
func canonical(b *strings.Builder, n *yaml.Node) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			canonical(b, n.Content[0])
		}
	case yaml.MappingNode:
		idx := make([]int, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			idx = append(idx, i)
		}
		sort.Slice(idx, func(i, j int) bool { return n.Content[idx[i]].Value < n.Content[idx[j]].Value })
		b.WriteByte('{')
		for _, i := range idx {
			b.WriteString(strconv.Quote(n.Content[i].Value))
			b.WriteByte(':')
			canonical(b, n.Content[i+1])
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for _, c := range n.Content {
			canonical(b, c)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	default:
		b.WriteString(n.ShortTag())
		b.WriteString(strconv.Quote(n.Value))
	}
}

// podReferences returns the names of the ConfigMaps and Secrets a pod template's spec
// uses, each sorted and once: volumes (configMap, secret, projected sources) and, in every
// container, init container and ephemeral container, env valueFrom and envFrom. Image pull
// secrets and service account tokens are not configuration and are not included.
func podReferences(template *yaml.RNode) (configMaps, secrets []string) {
	cm, sec := map[string]bool{}, map[string]bool{}
	get := func(n *yaml.RNode, path ...string) string {
		v, err := n.Pipe(yaml.Lookup(path...))
		if err != nil || v == nil || v.YNode().Kind != yaml.ScalarNode {
			return ""
		}
		return v.YNode().Value
	}
	add := func(set map[string]bool, name string) {
		if name != "" {
			set[name] = true
		}
	}
	each := func(n *yaml.RNode, path []string, f func(*yaml.RNode)) {
		list, err := n.Pipe(yaml.Lookup(path...))
		if err != nil || list == nil || list.YNode().Kind != yaml.SequenceNode {
			return
		}
		for _, item := range list.Content() {
			if item.Kind == yaml.MappingNode {
				f(yaml.NewRNode(item))
			}
		}
	}
	each(template, []string{"spec", "volumes"}, func(v *yaml.RNode) {
		add(cm, get(v, "configMap", "name"))
		add(sec, get(v, "secret", "secretName"))
		each(v, []string{"projected", "sources"}, func(s *yaml.RNode) {
			add(cm, get(s, "configMap", "name"))
			add(sec, get(s, "secret", "name"))
		})
	})
	for _, containers := range []string{"containers", "initContainers", "ephemeralContainers"} {
		each(template, []string{"spec", containers}, func(c *yaml.RNode) {
			each(c, []string{"env"}, func(e *yaml.RNode) {
				add(cm, get(e, "valueFrom", "configMapKeyRef", "name"))
				add(sec, get(e, "valueFrom", "secretKeyRef", "name"))
			})
			each(c, []string{"envFrom"}, func(e *yaml.RNode) {
				add(cm, get(e, "configMapRef", "name"))
				add(sec, get(e, "secretRef", "name"))
			})
		})
	}
	return sortedSet(cm), sortedSet(sec)
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
