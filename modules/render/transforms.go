package render

import (
	"github.com/configroot/configroot/modules/render/transform"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

// transforms returns the filter of configroot.yaml's transforms section, run after Layout
// (it matches on config-root paths) and before the write. In a partial render, kept are
// the files the render keeps from the config-root it replaces: what the config hash reads
// besides the render, so that a partial render hashes as a full one does.
func (c Collected) transforms(kept Files, warn func(string)) kio.Filter {
	return transform.Filter{Config: c.Config.Transforms, Partial: c.Partial, Existing: kept, Warn: warn}
}

// kustomizeNamespaces returns the namespaces of the repo's kustomize folders.
func (c Collected) kustomizeNamespaces() []string {
	var ns []string
	for _, k := range c.Config.Kustomize {
		ns = append(ns, k.Namespace)
	}
	return ns
}
