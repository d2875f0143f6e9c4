package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/configroot/configroot/modules/render"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// StoreRelease is the origin given to the ClusterSecretStores configroot emits: they land in
// config-root/cluster/resources/external-secrets/secret-stores/.
var StoreRelease = render.Release{Name: "secret-stores", Namespace: "external-secrets"}

// storeNames are the ClusterSecretStore names of the backends with the mapping's defaults.
var storeNames = map[Backend]string{
	Vault:   "vault",
	GCP:     "gcp-secrets-manager",
	AWS:     "aws-secrets-manager",
	Azure:   "azure-key-vault",
	Alibaba: "alibaba-secrets-manager",
	Local:   "local",
}

// StoreName is the ClusterSecretStore name of a backend with the mapping's defaults.
func StoreName(b Backend) string { return storeNames[b] }

// store is one ClusterSecretStore: a backend with its settings.
type store struct {
	name     string
	backend  Backend
	settings StoreSettings
}

// effective returns the backend of a Secret and its settings: the rule's, field by field
// over the defaults.
func (m *Mapping) effective(rule *SecretRule) (Backend, StoreSettings) {
	b := m.Defaults.BackendType
	s := m.Defaults.StoreSettings.withDefaults()
	if rule == nil {
		return b, s
	}
	if rule.BackendType != noBackend {
		b = rule.BackendType
	}
	if r := rule.Vault; r != nil {
		s.Vault = &VaultSettings{Server: or(r.Server, s.Vault.Server), Path: or(r.Path, s.Vault.Path), Role: or(r.Role, s.Vault.Role), MountPath: or(r.MountPath, s.Vault.MountPath)}
	}
	if r := rule.GcpSecretsManager; r != nil {
		s.GcpSecretsManager = &GCPSettings{ProjectID: or(r.ProjectID, s.GcpSecretsManager.ProjectID), UniquePrefix: or(r.UniquePrefix, s.GcpSecretsManager.UniquePrefix), Version: or(r.Version, s.GcpSecretsManager.Version)}
	}
	if r := rule.SecretsManager; r != nil {
		s.SecretsManager = &AWSSettings{Region: or(r.Region, s.SecretsManager.Region), RoleArn: or(r.RoleArn, s.SecretsManager.RoleArn), VersionStage: or(r.VersionStage, s.SecretsManager.VersionStage)}
	}
	if r := rule.AzureKeyVault; r != nil {
		s.AzureKeyVault = &AzureSettings{KeyVaultName: or(r.KeyVaultName, s.AzureKeyVault.KeyVaultName)}
	}
	if r := rule.AlicloudSecretsManager; r != nil {
		s.AlicloudSecretsManager = &AlibabaSettings{Region: or(r.Region, s.AlicloudSecretsManager.Region)}
	}
	return b, s
}

// withDefaults fills every backend's settings, with configroot's defaults for Vault.
func (s StoreSettings) withDefaults() StoreSettings {
	v := VaultSettings{Server: "http://vault.vault:8200", Path: "secret", Role: "external-secrets", MountPath: "kubernetes"}
	if s.Vault != nil {
		v = VaultSettings{Server: or(s.Vault.Server, v.Server), Path: or(s.Vault.Path, v.Path), Role: or(s.Vault.Role, v.Role), MountPath: or(s.Vault.MountPath, v.MountPath)}
	}
	out := StoreSettings{Vault: &v, GcpSecretsManager: &GCPSettings{}, SecretsManager: &AWSSettings{}, AzureKeyVault: &AzureSettings{}, AlicloudSecretsManager: &AlibabaSettings{}}
	if s.GcpSecretsManager != nil {
		*out.GcpSecretsManager = *s.GcpSecretsManager
	}
	if s.SecretsManager != nil {
		*out.SecretsManager = *s.SecretsManager
	}
	if s.AzureKeyVault != nil {
		*out.AzureKeyVault = *s.AzureKeyVault
	}
	if s.AlicloudSecretsManager != nil {
		*out.AlicloudSecretsManager = *s.AlicloudSecretsManager
	}
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// newStore names the store of a backend and settings: the backend's plain name with the
// mapping's defaults, else that name with a short hash of the settings that differ.
func newStore(b Backend, s StoreSettings, m *Mapping) (store, error) {
	if !b.valid() {
		return store{}, fmt.Errorf("unknown backend %q", b)
	}
	st := store{name: storeNames[b], backend: b, settings: s}
	if key, def := st.key(), (store{backend: b, settings: m.Defaults.StoreSettings.withDefaults()}).key(); key != def {
		sum := sha256.Sum256([]byte(key))
		st.name += "-" + hex.EncodeToString(sum[:])[:8]
	}
	return st, nil
}

// key is what makes two stores of one backend different (the remote-key settings such as
// GCP's unique prefix do not: they shape keys, not the store).
func (st store) key() string {
	s := st.settings
	switch st.backend {
	case Vault:
		return fmt.Sprintf("%s|%s|%s|%s", s.Vault.Server, s.Vault.Path, s.Vault.Role, s.Vault.MountPath)
	case GCP:
		return s.GcpSecretsManager.ProjectID
	case AWS:
		return s.SecretsManager.Region + "|" + s.SecretsManager.RoleArn
	case Azure:
		return s.AzureKeyVault.KeyVaultName
	case Alibaba:
		return s.AlicloudSecretsManager.Region
	}
	return ""
}

type clusterSecretStore struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   meta      `yaml:"metadata"`
	Spec       storeSpec `yaml:"spec"`
}

type storeSpec struct {
	Provider map[string]any `yaml:"provider"`
}

type ref struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace,omitempty"`
	Key       string `yaml:"key,omitempty"`
}

// esoServiceAccount is the service account ESO runs as in its default chart install.
var esoServiceAccount = ref{Name: "external-secrets", Namespace: "external-secrets"}

// manifest returns the ClusterSecretStore of st; required settings missing from the mapping
// are errors naming the field.
func (st store) manifest(file string) (*yaml.RNode, error) {
	s := st.settings
	need := func(value, field string) error {
		if value == "" {
			return fmt.Errorf("%s: ClusterSecretStore %s: %s is required, in spec.defaults or in the rule of the Secret (or turn the stores off with --secret-stores=false)", mappingName(file), st.name, field)
		}
		return nil
	}
	var provider map[string]any
	switch st.backend {
	case Vault:
		provider = map[string]any{"vault": map[string]any{
			"server": s.Vault.Server, "path": s.Vault.Path, "version": "v2",
			"auth": map[string]any{"kubernetes": map[string]any{"mountPath": s.Vault.MountPath, "role": s.Vault.Role}},
		}}
	case GCP:
		if err := need(s.GcpSecretsManager.ProjectID, "gcpSecretsManager.projectId"); err != nil {
			return nil, err
		}
		provider = map[string]any{"gcpsm": map[string]any{"projectID": s.GcpSecretsManager.ProjectID}}
	case AWS:
		if err := need(s.SecretsManager.Region, "secretsManager.region"); err != nil {
			return nil, err
		}
		aws := map[string]any{"service": "SecretsManager", "region": s.SecretsManager.Region}
		if s.SecretsManager.RoleArn != "" {
			aws["role"] = s.SecretsManager.RoleArn
		}
		provider = map[string]any{"aws": aws}
	case Azure:
		if err := need(s.AzureKeyVault.KeyVaultName, "azureKeyVault.keyVaultName"); err != nil {
			return nil, err
		}
		provider = map[string]any{"azurekv": map[string]any{
			"vaultUrl": "https://" + s.AzureKeyVault.KeyVaultName + ".vault.azure.net", "authType": "WorkloadIdentity",
			"serviceAccountRef": esoServiceAccount,
		}}
	case Alibaba:
		if err := need(s.AlicloudSecretsManager.Region, "alicloudSecretsManager.region"); err != nil {
			return nil, err
		}
		provider = map[string]any{"alibaba": map[string]any{
			"regionID": s.AlicloudSecretsManager.Region,
			"auth": map[string]any{"secretRef": map[string]any{
				"accessKeyIDSecretRef":     ref{Name: "alibaba-credentials", Namespace: esoServiceAccount.Namespace, Key: "access-key-id"},
				"accessKeySecretSecretRef": ref{Name: "alibaba-credentials", Namespace: esoServiceAccount.Namespace, Key: "access-key-secret"},
			}},
		}}
	case Local:
		provider = map[string]any{"kubernetes": map[string]any{
			"remoteNamespace": "secret-infra",
			"server":          map[string]any{"caProvider": map[string]any{"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt", "namespace": "secret-infra"}},
			"auth":            map[string]any{"serviceAccount": esoServiceAccount},
		}}
	}
	data, err := yaml.Marshal(clusterSecretStore{
		APIVersion: "external-secrets.io/v1", Kind: "ClusterSecretStore",
		Metadata: meta{Name: st.name}, Spec: storeSpec{Provider: provider},
	})
	if err != nil {
		return nil, err
	}
	n, err := yaml.Parse(string(data))
	if err != nil {
		return nil, err
	}
	if err := render.SetOrigin(n, StoreRelease, "ClusterSecretStore "+st.name); err != nil {
		return nil, err
	}
	return n, nil
}

func mappingName(file string) string {
	if file == "" {
		return "the secret mapping (built-in default)"
	}
	return file
}
