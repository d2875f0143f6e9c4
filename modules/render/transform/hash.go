package transform

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
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
func (x *configIndex) sum(ns string, template *yaml.RNode) (string, error) {
	cms, secrets := podReferences(template)
	var parts []string
	for _, name := range cms {
		if cm := x.configMaps[ns][name]; cm != nil {
			b, err := fieldsJSON(cm, "data", "binaryData")
			if err != nil {
				return "", fmt.Errorf("ConfigMap %s/%s: %w", ns, name, err)
			}
			parts = append(parts, "ConfigMap "+name+"\n"+b)
		}
	}
	for _, name := range secrets {
		if es := x.externalSecrets[ns][name]; es != nil {
			b, err := fieldsJSON(es, "spec")
			if err != nil {
				return "", fmt.Errorf("ExternalSecret %s/%s: %w", ns, es.GetName(), err)
			}
			parts = append(parts, "ExternalSecret "+es.GetApiVersion()+" "+es.GetName()+" Secret "+name+"\n"+b)
		}
	}
	if len(parts) == 0 {
		return "", nil
	}
	sort.Strings(parts)
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fieldsJSON encodes the named top-level fields of n as JSON with sorted keys (kyaml's
// RNode.MarshalJSON goes through encoding/json maps), so that the same content gives the
// same bytes whatever its YAML layout.
func fieldsJSON(n *yaml.RNode, fields ...string) (string, error) {
	var b strings.Builder
	for _, f := range fields {
		v := n.Field(f)
		if v == nil || v.Value == nil {
			continue
		}
		var data []byte
		var err error
		if v.Value.YNode().Kind == yaml.ScalarNode {
			data = []byte(fmt.Sprintf("%q", v.Value.YNode().Value))
		} else if data, err = v.Value.MarshalJSON(); err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		fmt.Fprintf(&b, "%s=%s\n", f, data)
	}
	return b.String(), nil
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
