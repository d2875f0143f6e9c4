package secrets

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/configroot/configroot/modules/render"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Guard is the last filter before config-root is written: it fails when a Secret with data
// would reach config-root without the opt-out annotation, naming every such Secret and key
// (never a value). Opted-out Secrets with data pass, and are listed in AllowedOut.
type Guard struct {
	// AllowedOut, when set, receives the opted-out Secrets with data, as namespace/name.
	AllowedOut *[]string
}

var _ kio.Filter = Guard{}

// Filter implements kio.Filter; it changes nothing.
func (g Guard) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	var leaks, allowed []string
	for _, n := range nodes {
		if !isSecret(n) {
			continue
		}
		entries, err := secretEntries(n)
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, e := range entries {
			if !e.empty {
				keys = append(keys, e.key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		id := render.Namespace(n) + "/" + n.GetName()
		if isOptedOut(n) {
			allowed = append(allowed, id)
			continue
		}
		leaks = append(leaks, fmt.Sprintf("%s: Secret %s (keys %s)", render.Source(n), id, strings.Join(keys, ", ")))
	}
	if g.AllowedOut != nil {
		sort.Strings(allowed)
		*g.AllowedOut = allowed
	}
	if len(leaks) > 0 {
		sort.Strings(leaks)
		return nil, fmt.Errorf("secret data would reach config-root unconverted (convert it, or annotate the Secret %s: \"true\" to keep it on purpose):\n  %s",
			AnnotationExclude, strings.Join(leaks, "\n  "))
	}
	return nodes, nil
}

// GuardFiles runs the Guard over a config-root already on disk (a hand edit, a render of an
// older configroot), before it is published: a Secret with data and without the opt-out
// annotation is an error naming its file and keys.
func GuardFiles(files render.Files) error {
	var nodes []*yaml.RNode
	for _, p := range files.Paths() {
		read, err := (&kio.ByteReader{Reader: bytes.NewReader(files[p]), OmitReaderAnnotations: true}).Read()
		if err != nil {
			continue // not YAML: not a Secret either
		}
		for _, n := range read {
			if isSecret(n) {
				if err := render.SetOrigin(n, render.Release{Namespace: n.GetNamespace(), Name: "config-root"}, p); err != nil {
					return err
				}
				nodes = append(nodes, n)
			}
		}
	}
	_, err := Guard{}.Filter(nodes)
	return err
}
