// Package meta reads a resource's metadata in the hot loops of the render, where kyaml's
// map-building accessors (RNode.GetAnnotations) show in profiles.
package meta

import "sigs.k8s.io/kustomize/kyaml/yaml"

// Annotation returns the value of one annotation of n, or "" when n has none by that key,
// reading the YAML mapping directly instead of building a map of all of them.
func Annotation(n *yaml.RNode, key string) string {
	md := n.Field(yaml.MetadataField)
	if md == nil {
		return ""
	}
	anns := md.Value.Field(yaml.AnnotationsField)
	if anns == nil {
		return ""
	}
	content := anns.Value.YNode().Content
	for i := 0; i+1 < len(content); i += 2 {
		if content[i].Value == key {
			return content[i+1].Value
		}
	}
	return ""
}
