package render

import (
	"strings"

	"github.com/configroot/configroot/modules/internal/meta"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Annotations configroot reads and writes on resources.
const (
	// AnnotationReleaseName is helm's own annotation naming the release that owns a resource.
	AnnotationReleaseName = "meta.helm.sh/release-name"
	// AnnotationReleaseNamespace is helm's own annotation naming the release's namespace.
	AnnotationReleaseNamespace = "meta.helm.sh/release-namespace"
	// AnnotationHelmHook marks helm hooks; test hooks are dropped from config-root.
	AnnotationHelmHook = "helm.sh/hook"

	// annotationNamespace, annotationFolder, annotationSource, annotationFile and
	// annotationGenerated carry a resource's origin through the pipeline; they never reach
	// config-root.
	annotationNamespace = "internal.configroot.dev/namespace"
	annotationFolder    = "internal.configroot.dev/folder"
	annotationSource    = "internal.configroot.dev/source"
	// annotationFile is the file helm wrote the resource to, relative to the release's
	// output folder ("<chart>/templates/config/x.yaml"); Layout keeps its folders below the
	// release folder. Kustomize output and resources configroot makes have none.
	annotationFile = "internal.configroot.dev/file"
	// annotationGenerated marks a resource configroot made (SetOrigin): its origin namespace
	// is where it is filed, not a namespace a release installs into, so Layout writes no
	// Namespace object for it.
	annotationGenerated = "internal.configroot.dev/generated"
	// annotationUses names, on a resource, the generated resource it needs (SetUses).
	annotationUses = "internal.configroot.dev/uses"
)

// Release is a source of resources: a helmfile release (Chart set) or a kustomize folder.
type Release struct {
	// Name is the release name.
	Name string
	// Namespace is the namespace the release installs into.
	Namespace string
	// Chart is the name of the release's chart; empty for a kustomize folder.
	Chart string
	// Resources counts the resources read for the release.
	Resources int
}

// Folder is the name of the release's folder in config-root, as Jenkins X names it: the
// chart name when it equals the release name, the release name when it starts with the
// chart name, otherwise "<chart>-<release>".
func (r Release) Folder() string {
	switch {
	case r.Chart == "" || r.Chart == r.Name:
		return r.Name
	case strings.HasPrefix(r.Name, r.Chart):
		return r.Name
	default:
		return r.Chart + "-" + r.Name
	}
}

// String returns "<namespace>/<name>".
func (r Release) String() string { return r.Namespace + "/" + r.Name }

// annotation returns the value of one annotation of n, or "" (meta.Annotation).
func annotation(n *yaml.RNode, key string) string { return meta.Annotation(n, key) }

// SetOrigin marks a resource made outside the readers (a ClusterSecretStore) as filed with
// release r, so that Layout places it in r's folders; r's namespace does not get a Namespace
// object for it. source names it in errors.
func SetOrigin(n *yaml.RNode, r Release, source string) error {
	return setAnnotations(n, [][2]string{{annotationNamespace, r.Namespace}, {annotationFolder, r.Folder()}, {annotationSource, source}, {annotationGenerated, "true"}})
}

// SetUses records that n needs the resource of kind and name that a filter generated and
// filed with SetOrigin (an ExternalSecret its ClusterSecretStore). A full render writes
// that resource while any release needs it; a cached render, which renders some releases
// only, uses the record to keep it exactly as long (renderCached).
func SetUses(n *yaml.RNode, kind, name string) error {
	return setAnnotations(n, [][2]string{{annotationUses, kind + "/" + name}})
}

// CopyOrigin copies the origin of from (and its helm release annotations) to to, so that to
// (an ExternalSecret made from a Secret) lands in the same folder as from would.
func CopyOrigin(from, to *yaml.RNode) error {
	var kv [][2]string
	for _, k := range []string{annotationNamespace, annotationFolder, annotationSource, annotationFile, annotationGenerated,
		AnnotationReleaseName, AnnotationReleaseNamespace} {
		if v := annotation(from, k); v != "" {
			kv = append(kv, [2]string{k, v})
		}
	}
	return setAnnotations(to, kv)
}

// Namespace returns the namespace a resource will live in: its own, else its release's.
func Namespace(n *yaml.RNode) string {
	if ns := n.GetNamespace(); ns != "" {
		return ns
	}
	return annotation(n, annotationNamespace)
}

// Source names where a resource came from, for errors: "release <ns>/<name>: <file>".
func Source(n *yaml.RNode) string { return sourceOf(n) }

// IsOriginAnnotation reports whether an annotation is configroot's or helm's release
// bookkeeping rather than the resource's own.
func IsOriginAnnotation(key string) bool {
	switch key {
	case annotationNamespace, annotationFolder, annotationSource, annotationFile, annotationGenerated, annotationUses,
		AnnotationReleaseName, AnnotationReleaseNamespace:
		return true
	}
	return false
}
