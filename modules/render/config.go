package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/configroot/configroot/modules/render/transform"
	"sigs.k8s.io/yaml"
)

// ConfigFile is the name of the repo's configroot settings file, at the source root.
const ConfigFile = "configroot.yaml"

// Config is configroot.yaml: the settings a cluster repo keeps beside its helmfile.yaml.
// Every field is optional.
type Config struct {
	// Helmfile is the helmfile to render, relative to the repo (default "helmfile.yaml").
	Helmfile string `json:"helmfile,omitempty"`
	// KubeVersion is the Kubernetes version helm renders for (default DefaultKubeVersion).
	KubeVersion string `json:"kubeVersion,omitempty"`
	// Kustomize lists plain kustomize folders rendered beside the helmfile releases.
	Kustomize []KustomizeEntry `json:"kustomize,omitempty"`
	// ClusterScopedKinds lists "<group>/<kind>" kinds to treat as cluster-scoped, for CRDs
	// that are installed outside this repo.
	ClusterScopedKinds []string `json:"clusterScopedKinds,omitempty"`
	// Transforms are the labels, annotations and config hashes added to the rendered
	// resources before they are written (the Jenkins X Makefile's post-build step). Read by
	// transform.Load, with line numbers in its errors.
	Transforms transform.Config `json:"transforms,omitempty"`
}

// KustomizeEntry is one kustomize folder, laid out as if it were a release.
type KustomizeEntry struct {
	// Path is the folder holding kustomization.yaml, relative to the repo.
	Path string `json:"path"`
	// Namespace is the namespace its namespaced resources go to.
	Namespace string `json:"namespace"`
	// Name is its folder name in config-root (default: the base name of Path).
	Name string `json:"name,omitempty"`
}

// Release returns the release the entry's resources belong to.
func (k KustomizeEntry) Release() Release {
	name := k.Name
	if name == "" {
		name = path.Base(filepath.ToSlash(k.Path))
	}
	return Release{Name: name, Namespace: k.Namespace}
}

// LoadConfig reads <source>/configroot.yaml; a missing file gives the zero Config. Unknown
// fields are errors, so that a typo does not silently change the render.
func LoadConfig(source string) (Config, error) {
	file := filepath.Join(source, ConfigFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read %s: %w", file, err)
	}
	var c Config
	// The transforms section is decoded by transform.Load, which knows its lines; here it
	// is only skipped over (the outer field hides Config.Transforms from encoding/json).
	skip := struct {
		*Config
		Transforms any `json:"transforms,omitempty"`
	}{Config: &c}
	if err := yaml.UnmarshalStrict(data, &skip); err != nil {
		return Config{}, fmt.Errorf("%s: %w", file, err)
	}
	if c.Transforms, err = transform.Load(file, data); err != nil {
		return Config{}, err
	}
	for i, k := range c.Kustomize {
		switch {
		case k.Path == "":
			return Config{}, fmt.Errorf("%s: kustomize[%d]: path is required", file, i)
		case k.Namespace == "":
			return Config{}, fmt.Errorf("%s: kustomize[%d] (%s): namespace is required", file, i, k.Path)
		case filepath.IsAbs(k.Path) || strings.HasPrefix(path.Clean(filepath.ToSlash(k.Path)), "../"):
			return Config{}, fmt.Errorf("%s: kustomize[%d]: path %s must stay inside the repo", file, i, k.Path)
		}
	}
	return c, nil
}
