package render

import (
	"github.com/configroot/configroot/modules/render/transform"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

// transforms returns the filter of configroot.yaml's transforms section, run after Layout
// (it matches on config-root paths) and before the write. In a partial render, old is the
// config-root being replaced: the files the render keeps from it are what the config hash
// reads besides the render, so that a partial render hashes as a full one does.
func (c Collected) transforms(old Files, warn func(string)) (kio.Filter, error) {
	f := transform.Filter{Config: c.Config.Transforms, Partial: c.Partial, Warn: warn}
	if t := c.Config.Transforms; c.Partial && (t.JenkinsX || len(t.Rules) > 0) {
		kept, err := mergePartial(old, Files{}, c.Releases, c.Selected, c.kustomizeNamespaces())
		if err != nil {
			return nil, err
		}
		f.Existing = kept
	}
	return f, nil
}

// kustomizeNamespaces returns the namespaces of the repo's kustomize folders.
func (c Collected) kustomizeNamespaces() []string {
	var ns []string
	for _, k := range c.Config.Kustomize {
		ns = append(ns, k.Namespace)
	}
	return ns
}
