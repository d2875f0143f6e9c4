package render

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// clusterScopedKinds lists the built-in kinds that live outside any namespace, keyed by
// "<group>/<kind>" (the core group is empty). Kinds defined by CRDs are learnt from the
// CRDs of the same render; anything else is namespaced.
var clusterScopedKinds = map[string]bool{
	"/ComponentStatus":  true,
	"/Namespace":        true,
	"/Node":             true,
	"/PersistentVolume": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"apiextensions.k8s.io/CustomResourceDefinition":                 true,
	"apiregistration.k8s.io/APIService":                             true,
	"certificates.k8s.io/CertificateSigningRequest":                 true,
	"certificates.k8s.io/ClusterTrustBundle":                        true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                       true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration":       true,
	"networking.k8s.io/IngressClass":                                true,
	"networking.k8s.io/IPAddress":                                   true,
	"networking.k8s.io/ServiceCIDR":                                 true,
	"node.k8s.io/RuntimeClass":                                      true,
	"policy/PodSecurityPolicy":                                      true,
	"rbac.authorization.k8s.io/ClusterRole":                         true,
	"rbac.authorization.k8s.io/ClusterRoleBinding":                  true,
	"resource.k8s.io/DeviceClass":                                   true,
	"resource.k8s.io/ResourceSlice":                                 true,
	"scheduling.k8s.io/PriorityClass":                               true,
	"storage.k8s.io/CSIDriver":                                      true,
	"storage.k8s.io/CSINode":                                        true,
	"storage.k8s.io/StorageClass":                                   true,
	"storage.k8s.io/VolumeAttachment":                               true,
	"storage.k8s.io/VolumeAttributesClass":                          true,
	// Well-known CRD kinds that configroot itself emits or that cluster repos use without
	// carrying their CRDs: External Secrets and cert-manager.
	"cert-manager.io/ClusterIssuer":                   true,
	"external-secrets.io/ClusterExternalSecret":       true,
	"external-secrets.io/ClusterPushSecret":           true,
	"external-secrets.io/ClusterSecretStore":          true,
	"generators.external-secrets.io/ClusterGenerator": true,
}

// Scopes tells whether a kind is cluster-scoped, without a cluster: from the built-in table,
// the CRDs of the render and the kinds the repo's configuration declares.
type Scopes struct {
	cluster map[string]bool
}

// NewScopes returns the built-in table extended by extra, a list of "<group>/<kind>"
// entries (a bare "<kind>" means the core group) declared cluster-scoped.
func NewScopes(extra []string) Scopes {
	s := Scopes{cluster: make(map[string]bool, len(clusterScopedKinds)+len(extra))}
	for k := range clusterScopedKinds {
		s.cluster[k] = true
	}
	for _, k := range extra {
		if !strings.Contains(k, "/") {
			k = "/" + k
		}
		s.cluster[k] = true
	}
	return s
}

// LearnCRD records the scope a CustomResourceDefinition declares for its kind.
func (s Scopes) LearnCRD(crd *yaml.RNode) error {
	group, err := crd.GetString("spec.group")
	if err != nil {
		return fmt.Errorf("spec.group: %w", err)
	}
	kind, err := crd.GetString("spec.names.kind")
	if err != nil {
		return fmt.Errorf("spec.names.kind: %w", err)
	}
	scope, _ := crd.GetString("spec.scope")
	switch scope {
	case "Cluster":
		s.cluster[group+"/"+kind] = true
	case "Namespaced":
		delete(s.cluster, group+"/"+kind)
	default:
		return fmt.Errorf("spec.scope %q: want Cluster or Namespaced", scope)
	}
	return nil
}

// ClusterScoped reports whether resources of apiVersion and kind live outside namespaces.
func (s Scopes) ClusterScoped(apiVersion, kind string) bool {
	return s.cluster[apiGroup(apiVersion)+"/"+kind]
}

// apiGroup returns the group of an apiVersion ("apps/v1" → "apps", "v1" → "").
func apiGroup(apiVersion string) string {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}
