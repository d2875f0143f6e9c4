// Package kinds knows the abbreviations of Kubernetes kinds that users type: kubectl's
// short names and the file suffixes of the Jenkins X layout.
package kinds

import "strings"

// Kind is an API group and a kind.
type Kind struct {
	Group, Kind string
}

// shortNames are kubectl's short names (from the API servers' discovery documents, as
// `kubectl api-resources` lists them) and the Jenkins X file suffixes that are not short
// names (jx-gitops pkg/cmd/rename; configroot's layout shares them), plus Knative's ksvc.
var shortNames = map[string]Kind{
	"cm": {"", "ConfigMap"}, "ep": {"", "Endpoints"}, "ev": {"", "Event"}, "limits": {"", "LimitRange"},
	"ns": {"", "Namespace"}, "no": {"", "Node"}, "pvc": {"", "PersistentVolumeClaim"}, "pv": {"", "PersistentVolume"},
	"po": {"", "Pod"}, "rc": {"", "ReplicationController"}, "quota": {"", "ResourceQuota"}, "sa": {"", "ServiceAccount"},
	"svc": {"", "Service"}, "crd": {"apiextensions.k8s.io", "CustomResourceDefinition"}, "crds": {"apiextensions.k8s.io", "CustomResourceDefinition"},
	"ds": {"apps", "DaemonSet"}, "deploy": {"apps", "Deployment"}, "rs": {"apps", "ReplicaSet"}, "sts": {"apps", "StatefulSet"},
	"hpa": {"autoscaling", "HorizontalPodAutoscaler"}, "cj": {"batch", "CronJob"}, "csr": {"certificates.k8s.io", "CertificateSigningRequest"},
	"ing": {"networking.k8s.io", "Ingress"}, "netpol": {"networking.k8s.io", "NetworkPolicy"}, "pdb": {"policy", "PodDisruptionBudget"},
	"pc": {"scheduling.k8s.io", "PriorityClass"}, "sc": {"storage.k8s.io", "StorageClass"},
	"crb":           {"rbac.authorization.k8s.io", "ClusterRoleBinding"},
	"rb":            {"rbac.authorization.k8s.io", "RoleBinding"},
	"mutwebhookcfg": {"admissionregistration.k8s.io", "MutatingWebhookConfiguration"},
	"valwebhookcfg": {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration"},
	"ksvc":          {"serving.knative.dev", "Service"},
}

// Short returns the kind an abbreviation stands for ("deploy" → apps Deployment),
// case-insensitively.
func Short(s string) (Kind, bool) {
	k, ok := shortNames[strings.ToLower(s)]
	return k, ok
}
