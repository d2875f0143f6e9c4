package render

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ReadKustomization builds the kustomize folder dir in-process (krusty, default options: no
// plugins, no helm, loads restricted to the folder) and returns its resources annotated with
// r as their origin, so Layout places them like a release's.
func ReadKustomization(dir string, r Release) ([]*yaml.RNode, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	data, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	return readDocuments(data, r, "kustomize build "+dir, false)
}
