package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// MappingFile is where a cluster repo keeps its SecretMapping, as in Jenkins X.
const MappingFile = ".jx/secret/mapping/secret-mappings.yaml"

// Backend names a secret store kind, as the SecretMapping spells it.
type Backend string

// The backends configroot converts to.
const (
	Vault     Backend = "vault"
	GCP       Backend = "gcpSecretsManager"
	AWS       Backend = "secretsManager"
	Azure     Backend = "azureKeyVault"
	Alibaba   Backend = "alicloudSecretsManager"
	Local     Backend = "local"
	noBackend Backend = ""
)

// Backends lists every backend, in a stable order.
var Backends = []Backend{Vault, GCP, AWS, Azure, Alibaba, Local}

func (b Backend) valid() bool {
	for _, k := range Backends {
		if b == k {
			return true
		}
	}
	return false
}

// Mapping is a parsed SecretMapping (secret.jenkins-x.io/v1alpha1): defaults for every
// Secret and rules for some.
type Mapping struct {
	// File is where the mapping was read from ("" for the built-in default).
	File string
	// Defaults apply to every Secret without a rule of its own.
	Defaults Defaults `yaml:"defaults"`
	// Secrets are the per-Secret rules.
	Secrets []SecretRule `yaml:"secrets"`
}

// Defaults are the mapping's spec.defaults.
type Defaults struct {
	// BackendType is the store of every Secret without a rule naming another (default vault).
	BackendType Backend `yaml:"backendType"`
	// StoreSettings configure the stores.
	StoreSettings `yaml:",inline"`
}

// StoreSettings are the per-backend settings, in spec.defaults or in one rule.
type StoreSettings struct {
	// Vault is a configroot extension: where the ClusterSecretStore finds Vault.
	Vault *VaultSettings `yaml:"vault,omitempty"`
	// GcpSecretsManager configures Google Secret Manager.
	GcpSecretsManager *GCPSettings `yaml:"gcpSecretsManager,omitempty"`
	// SecretsManager configures AWS Secrets Manager.
	SecretsManager *AWSSettings `yaml:"secretsManager,omitempty"`
	// AzureKeyVault configures Azure Key Vault.
	AzureKeyVault *AzureSettings `yaml:"azureKeyVault,omitempty"`
	// AlicloudSecretsManager configures Alibaba Cloud KMS secrets.
	AlicloudSecretsManager *AlibabaSettings `yaml:"alicloudSecretsManager,omitempty"`
}

// VaultSettings locate Vault for the ClusterSecretStore (configroot extension).
type VaultSettings struct {
	// Server is Vault's URL as the cluster reaches it (default http://vault.vault:8200).
	Server string `yaml:"server,omitempty"`
	// Path is the KV version 2 mount (default secret).
	Path string `yaml:"path,omitempty"`
	// Role is the Kubernetes auth role ESO logs in with (default external-secrets).
	Role string `yaml:"role,omitempty"`
	// MountPath is the Kubernetes auth mount (default kubernetes).
	MountPath string `yaml:"mountPath,omitempty"`
}

// GCPSettings configure Google Secret Manager.
type GCPSettings struct {
	// ProjectID is the Google Cloud project holding the secrets.
	ProjectID string `yaml:"projectId,omitempty"`
	// UniquePrefix starts every remote key (usually the cluster's name).
	UniquePrefix string `yaml:"uniquePrefix,omitempty"`
	// Version is the secret version read (default latest).
	Version string `yaml:"version,omitempty"`
}

// AWSSettings configure AWS Secrets Manager.
type AWSSettings struct {
	// Region is the AWS region of Secrets Manager.
	Region string `yaml:"region,omitempty"`
	// RoleArn is a role ESO assumes, if any.
	RoleArn string `yaml:"roleArn,omitempty"`
	// VersionStage is the version stage read (default: AWS's, AWSCURRENT).
	VersionStage string `yaml:"versionStage,omitempty"`
}

// AzureSettings configure Azure Key Vault.
type AzureSettings struct {
	// KeyVaultName is the vault's name: https://<name>.vault.azure.net.
	KeyVaultName string `yaml:"keyVaultName,omitempty"`
}

// AlibabaSettings configure Alibaba Cloud secrets (a configroot extension: the region).
type AlibabaSettings struct {
	// Region is the Alibaba Cloud region.
	Region string `yaml:"region,omitempty"`
}

// SecretRule is one entry of spec.secrets: how one Secret maps to its store.
type SecretRule struct {
	// Name is the Secret's name.
	Name string `yaml:"name"`
	// Namespace limits the rule to the Secret of that namespace (empty: any).
	Namespace string `yaml:"namespace,omitempty"`
	// BackendType overrides the default store.
	BackendType Backend `yaml:"backendType,omitempty"`
	// Unsecured lists the data keys kept in plain text in the template.
	Unsecured []string `yaml:"unsecured,omitempty"`
	// Mappings override the remote key, property or version of some data keys.
	Mappings []KeyRule `yaml:"mappings,omitempty"`
	// StoreSettings override the defaults' for this Secret (another store if they differ).
	StoreSettings `yaml:",inline"`

	line           int
	unsecuredLines []int
}

// unsecuredLine is the line of Unsecured[i] (the rule's when unknown).
func (r *SecretRule) unsecuredLine(i int) int {
	if i < len(r.unsecuredLines) {
		return r.unsecuredLines[i]
	}
	return r.line
}

// KeyRule maps one data key of a Secret to a remote key and property.
type KeyRule struct {
	// Name is the data key of the Secret.
	Name string `yaml:"name"`
	// Key is the remote key (default: the backend's convention).
	Key string `yaml:"key,omitempty"`
	// Property is the property of the remote secret (default: the data key).
	Property string `yaml:"property,omitempty"`
	// VersionStage is the version read (AWS version stage, GCP version).
	VersionStage string `yaml:"versionStage,omitempty"`

	line int
}

// DefaultMapping is used when a repo has no mapping file: everything goes to Vault.
func DefaultMapping() *Mapping { return &Mapping{Defaults: Defaults{BackendType: Vault}} }

// LoadMapping reads <source>/.jx/secret/mapping/secret-mappings.yaml (or file, when set),
// the Jenkins X SecretMapping format, and validates it: errors name the file, the line and
// the field. Fields configroot does not know are reported through warn (Jenkins X repos may
// carry settings of newer jx versions) and otherwise ignored. A missing default file gives
// DefaultMapping.
func LoadMapping(source, file string, warn func(string)) (*Mapping, error) {
	explicit := file != ""
	if !explicit {
		file = filepath.Join(source, filepath.FromSlash(MappingFile))
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return DefaultMapping(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secret mapping: %w", err)
	}
	return ParseMapping(file, data, warn)
}

// ParseMapping parses and validates a SecretMapping read from file.
func ParseMapping(file string, data []byte, warn func(string)) (*Mapping, error) {
	if warn == nil {
		warn = func(string) {}
	}
	root, err := yaml.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	fail := func(n *yaml.Node, field, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s: %s", file, n.Line, field, fmt.Sprintf(format, args...))
	}
	if kind := root.GetKind(); kind != "SecretMapping" {
		return nil, fail(root.YNode(), "kind", "%q, want SecretMapping", kind)
	}
	if av := root.GetApiVersion(); av != "" && !strings.HasPrefix(av, "secret.jenkins-x.io/") {
		return nil, fail(root.YNode(), "apiVersion", "%q, want secret.jenkins-x.io/v1alpha1", av)
	}
	unknownFields(root.YNode(), "", schema, file, warn)
	spec := root.Field("spec")
	if spec == nil {
		return nil, fail(root.YNode(), "spec", "missing")
	}
	m := &Mapping{File: file}
	if err := spec.Value.YNode().Decode(m); err != nil {
		return nil, fmt.Errorf("%s: spec: %w", file, err)
	}
	if secrets := spec.Value.Field("secrets"); secrets != nil {
		for i, item := range secrets.Value.YNode().Content {
			if i >= len(m.Secrets) {
				break
			}
			r := &m.Secrets[i]
			r.line = item.Line
			rule := yaml.NewRNode(item)
			if f := rule.Field("mappings"); f != nil {
				for j, k := range f.Value.YNode().Content {
					if j < len(r.Mappings) {
						r.Mappings[j].line = k.Line
					}
				}
			}
			if f := rule.Field("unsecured"); f != nil {
				for _, k := range f.Value.YNode().Content {
					r.unsecuredLines = append(r.unsecuredLines, k.Line)
				}
			}
		}
	}

	defaultsNode := spec.Value.YNode()
	if d := spec.Value.Field("defaults"); d != nil {
		defaultsNode = d.Value.YNode()
	}
	if m.Defaults.BackendType == noBackend {
		m.Defaults.BackendType = Vault
	}
	if !m.Defaults.BackendType.valid() {
		return nil, fail(defaultsNode, "spec.defaults.backendType", "unknown backend %q (want one of %s)", m.Defaults.BackendType, backendList())
	}
	seen := map[string]int{}
	for i, r := range m.Secrets {
		field := fmt.Sprintf("spec.secrets[%d]", i)
		at := &yaml.Node{Line: r.line}
		switch {
		case r.Name == "":
			return nil, fail(at, field+".name", "missing")
		case r.BackendType != noBackend && !r.BackendType.valid():
			return nil, fail(at, field+".backendType", "unknown backend %q for Secret %s (want one of %s)", r.BackendType, r.Name, backendList())
		}
		id := r.Namespace + "/" + r.Name
		if prev, dup := seen[id]; dup {
			return nil, fail(at, field, "Secret %s is also mapped at line %d", strings.TrimPrefix(id, "/"), prev)
		}
		seen[id] = r.line
		keys := map[string]bool{}
		for j, k := range r.Mappings {
			if k.Name == "" {
				return nil, fail(at, fmt.Sprintf("%s.mappings[%d].name", field, j), "missing (the data key of Secret %s)", r.Name)
			}
			if keys[k.Name] {
				return nil, fail(at, fmt.Sprintf("%s.mappings[%d]", field, j), "key %s of Secret %s is mapped twice", k.Name, r.Name)
			}
			keys[k.Name] = true
		}
	}
	return m, nil
}

// Rule returns the rule of the Secret namespace/name: the most specific of the rules naming
// it (one with its namespace wins over one without), or nil.
func (m *Mapping) Rule(namespace, name string) *SecretRule {
	var found *SecretRule
	for i := range m.Secrets {
		r := &m.Secrets[i]
		if r.Name != name || (r.Namespace != "" && r.Namespace != namespace) {
			continue
		}
		if found == nil || r.Namespace != "" {
			found = r
		}
	}
	return found
}

// Line is the line of the rule in the mapping file (0 when unknown).
func (r *SecretRule) Line() int { return r.line }

// Key returns the rule of one data key, or nil.
func (r *SecretRule) Key(name string) *KeyRule {
	if r == nil {
		return nil
	}
	for i := range r.Mappings {
		if r.Mappings[i].Name == name {
			return &r.Mappings[i]
		}
	}
	return nil
}

// IsUnsecured reports whether a data key stays in plain text in the template.
func (r *SecretRule) IsUnsecured(key string) bool {
	if r == nil {
		return false
	}
	for _, k := range r.Unsecured {
		if k == key {
			return true
		}
	}
	return false
}

func backendList() string {
	names := make([]string, len(Backends))
	for i, b := range Backends {
		names[i] = string(b)
	}
	return strings.Join(names, ", ")
}

// field is a node of the known SecretMapping schema; nil children accept anything.
type field map[string]field

var storeFields = field{
	"vault":                  {"server": nil, "path": nil, "role": nil, "mountPath": nil},
	"gcpSecretsManager":      {"projectId": nil, "uniquePrefix": nil, "version": nil},
	"secretsManager":         {"region": nil, "roleArn": nil, "versionStage": nil},
	"azureKeyVault":          {"keyVaultName": nil},
	"alicloudSecretsManager": {"region": nil},
}

var schema = func() field {
	defaults := field{"backendType": nil}
	rule := field{"name": nil, "namespace": nil, "backendType": nil, "unsecured": nil,
		"mappings": {"name": nil, "key": nil, "property": nil, "versionStage": nil}}
	for k, v := range storeFields {
		defaults[k], rule[k] = v, v
	}
	return field{"apiVersion": nil, "kind": nil, "metadata": nil, "spec": {"defaults": defaults, "secrets": rule}}
}()

// unknownFields warns about every mapping key the schema does not know, with its line.
func unknownFields(n *yaml.Node, path string, known field, file string, warn func(string)) {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			unknownFields(item, path+"[]", known, file, warn)
		}
	case yaml.MappingNode:
		var unknown []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			child, ok := known[key]
			if !ok {
				unknown = append(unknown, fmt.Sprintf("%s:%d: %s: unknown field, ignored", file, n.Content[i].Line, strings.TrimPrefix(path+"."+key, ".")))
				continue
			}
			if child != nil {
				unknownFields(n.Content[i+1], path+"."+key, child, file, warn)
			}
		}
		sort.Strings(unknown)
		for _, u := range unknown {
			warn(u)
		}
	}
}
