package populate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/configroot/configroot/modules/secrets"
	"github.com/configroot/configroot/modules/secrets/store"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Entry is one data key of one ExternalSecret: a value the cluster will ask a store for.
type Entry struct {
	// Namespace and Secret name the Kubernetes Secret the ExternalSecret makes.
	Namespace, Secret string
	// Key is the Secret's data key (spec.data[].secretKey).
	Key string
	// Store is the secret store's name (secretStoreRef.name, or the legacy backendType).
	Store string
	// RemoteKey, Property and Version are the remoteRef.
	RemoteKey, Property, Version string
	// Field is the field of the remote secret that the store's ESO provider reads for
	// Property (secrets.PropertyField; the legacy format reads Property itself): where
	// populate writes the value. Empty when there is no property.
	Field string
	// Decoding is how the operator decodes what it reads: remoteRef.decodingStrategy
	// (None, Base64, Base64URL or Auto; "" is None), or Base64 for a legacy entry with
	// isBinary: true. Populate writes the value in the form it decodes.
	Decoding string
	// File is the ExternalSecret's file, relative to config-root.
	File string

	legacy bool
}

// ID is "namespace/secret key", how reports name an entry.
func (e Entry) ID() string { return e.Namespace + "/" + e.Secret + " " + e.Key }

// StoreSpec is a secret store as config-root declares it (a ClusterSecretStore or SecretStore
// manifest, or a legacy ExternalSecret's backend settings).
type StoreSpec struct {
	// Name is the store's name.
	Name string
	// Kind is the backend; empty when the store is known but populate cannot write to it
	// (Unsupported says why).
	Kind store.Kind
	// Unsupported explains why populate cannot write to a known store.
	Unsupported string
	// VaultServer, VaultPath, VaultVersion and VaultNamespace are spec.provider.vault's.
	VaultServer, VaultPath, VaultVersion, VaultNamespace string
	// GCPProject is spec.provider.gcpsm.projectID.
	GCPProject string
	// AWSRegion is spec.provider.aws.region.
	AWSRegion string
	// AzureVaultURL is spec.provider.azurekv.vaultUrl.
	AzureVaultURL string

	// unknown is set for a provider populate does not know: an error once an entry uses it.
	unknown string
}

// backends are what populate does with each backend of the converter: its store name
// (secrets.StoreName) stands for it in a config-root without store manifests, and its
// secrets.Backend value is also kubernetes-external-secrets' backendType.
var backends = map[secrets.Backend]StoreSpec{
	secrets.Vault:   {Kind: store.Vault},
	secrets.GCP:     {Kind: store.GCP},
	secrets.AWS:     {Kind: store.AWS},
	secrets.Azure:   {Kind: store.Azure},
	secrets.Alibaba: {Unsupported: "populate does not write to Alibaba Cloud KMS (and External Secrets 2.0 removed the provider)"},
	secrets.Local:   {Unsupported: "the local store is filled in the cluster, not by populate"},
}

// conventionalStore returns the spec of a store the converter names, for a config-root
// without its manifest.
func conventionalStore(name string) (StoreSpec, bool) {
	for b, spec := range backends {
		if secrets.StoreName(b) == name {
			return spec, true
		}
	}
	return StoreSpec{}, false
}

// conventionalNames lists the converter's store names, sorted, for errors.
func conventionalNames() []string {
	var names []string
	for b := range backends {
		names = append(names, secrets.StoreName(b))
	}
	slices.Sort(names)
	return names
}

// kindBackend is the converter's backend of each store kind populate writes to, whose ESO
// provider reads the properties (secrets.PropertyField).
var kindBackend = map[store.Kind]secrets.Backend{
	store.Vault: secrets.Vault,
	store.GCP:   secrets.GCP,
	store.AWS:   secrets.AWS,
	store.Azure: secrets.Azure,
}

// DecodingNone is the decodingStrategy of an entry read as it is stored.
const DecodingNone = "None"

// decodings are ESO's remoteRef.decodingStrategy values (external-secrets.io/v1
// ExternalSecretDecodingStrategy) with the encoding populate writes for each: the one the
// operator decodes (pkg/utils/utils.go, Decode; Auto tries standard base64 first).
var decodings = map[string]*base64.Encoding{
	DecodingNone:           nil,
	secrets.DecodingBase64: base64.StdEncoding,
	"Base64URL":            base64.URLEncoding,
	"Auto":                 base64.StdEncoding,
}

// legacyOnly are the backendTypes of kubernetes-external-secrets that the converter has no
// backend for.
var legacyOnly = map[string]StoreSpec{
	"systemManager":          {Unsupported: "populate does not write to AWS Systems Manager Parameter Store"},
	"akeyless":               {Unsupported: "populate does not write to Akeyless"},
	"ibmcloudSecretsManager": {Unsupported: "populate does not write to IBM Cloud Secrets Manager"},
}

// legacyBackend returns the spec of a kubernetes-external-secrets backendType.
func legacyBackend(backendType string) (StoreSpec, bool) {
	if b := secrets.Backend(backendType); b != secrets.Local {
		if spec, ok := backends[b]; ok {
			return spec, true
		}
	}
	spec, ok := legacyOnly[backendType]
	return spec, ok
}

// legacyNames lists the known backendTypes, sorted, for errors.
func legacyNames() []string {
	names := sortedKeys(legacyOnly)
	for b := range backends {
		if b != secrets.Local {
			names = append(names, string(b))
		}
	}
	slices.Sort(names)
	return names
}

// ConfigRoot is what populate reads from config-root: the ExternalSecret entries and the
// stores they name.
type ConfigRoot struct {
	// Entries are sorted by namespace, secret and key.
	Entries []Entry
	// Stores are by name.
	Stores map[string]StoreSpec
	// Warnings are things worth telling that stop nothing (dataFrom entries, say).
	Warnings []string
}

// esoExternalSecret is the part of an external-secrets.io ExternalSecret populate reads.
type esoExternalSecret struct {
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		SecretStoreRef struct{ Kind, Name string }
		Target         struct{ Name string }
		Data           []struct {
			SecretKey string
			RemoteRef struct{ Key, Property, Version, DecodingStrategy string }
		}
		DataFrom []json.RawMessage
	}
}

// legacyExternalSecret is the part of a kubernetes-client.io/v1 ExternalSecret populate reads.
type legacyExternalSecret struct {
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		BackendType  string
		ProjectID    string `json:"projectId"`
		Region       string
		KeyVaultName string
		Data         []struct {
			Name, Key, Property, Version, VersionStage string
			IsBinary                                   bool `json:"isBinary"`
		}
		DataFrom []json.RawMessage
	}
}

// clusterSecretStore is the part of a (Cluster)SecretStore populate reads.
type clusterSecretStore struct {
	Metadata struct{ Name string }
	Spec     struct {
		Provider map[string]json.RawMessage
	}
}

// ReadConfigRoot reads every ExternalSecret (external-secrets.io, any version, and the legacy
// kubernetes-client.io/v1) and every ClusterSecretStore and SecretStore under dir.
func ReadConfigRoot(dir string) (ConfigRoot, error) {
	if _, err := os.Stat(dir); err != nil {
		return ConfigRoot{}, fmt.Errorf("config-root %s: %w", dir, err)
	}
	nodes, err := (&kio.LocalPackageReader{PackagePath: dir, MatchFilesGlob: []string{"*.yaml", "*.yml"}, OmitReaderAnnotations: false}).Read()
	if err != nil {
		return ConfigRoot{}, fmt.Errorf("read config-root %s: %w", dir, err)
	}
	cr := ConfigRoot{Stores: map[string]StoreSpec{}}
	type legacyRef struct {
		spec StoreSpec
		file string
	}
	var legacy []legacyRef
	for _, n := range nodes {
		group, _, _ := strings.Cut(n.GetApiVersion(), "/")
		file := n.GetAnnotations()[kioutil.PathAnnotation]
		if file == "" {
			file = n.GetAnnotations()[kioutil.LegacyPathAnnotation]
		}
		switch {
		case n.GetKind() == "ExternalSecret" && group == "external-secrets.io":
			if err := readESO(n, file, &cr); err != nil {
				return ConfigRoot{}, err
			}
		case n.GetKind() == "ExternalSecret" && group == "kubernetes-client.io":
			spec, err := readLegacy(n, file, &cr)
			if err != nil {
				return ConfigRoot{}, err
			}
			legacy = append(legacy, legacyRef{spec, file})
		case (n.GetKind() == "ClusterSecretStore" || n.GetKind() == "SecretStore") && group == "external-secrets.io":
			spec, err := readStore(n, file)
			if err != nil {
				return ConfigRoot{}, err
			}
			cr.Stores[spec.Name] = spec
		}
	}
	// A store manifest wins over a name's convention; legacy backends carry their own settings.
	for _, l := range legacy {
		if prev, ok := cr.Stores[l.spec.Name]; ok && prev != l.spec {
			return ConfigRoot{}, fmt.Errorf("%s: legacy ExternalSecrets disagree on the settings of backend %s", l.file, l.spec.Name)
		}
		cr.Stores[l.spec.Name] = l.spec
	}
	for _, e := range cr.Entries {
		if spec, ok := cr.Stores[e.Store]; ok {
			if spec.unknown != "" {
				return ConfigRoot{}, fmt.Errorf("%s: ExternalSecret %s/%s: %s", e.File, e.Namespace, e.Secret, spec.unknown)
			}
			continue
		}
		spec, ok := conventionalStore(e.Store)
		if !ok {
			return ConfigRoot{}, fmt.Errorf("%s: ExternalSecret %s/%s: unknown secret store %q: no ClusterSecretStore of that name in config-root, and not one of %s",
				e.File, e.Namespace, e.Secret, e.Store, strings.Join(conventionalNames(), ", "))
		}
		spec.Name = e.Store
		cr.Stores[e.Store] = spec
	}
	for i := range cr.Entries {
		e := &cr.Entries[i]
		b, known := kindBackend[cr.Stores[e.Store].Kind]
		if e.legacy || !known {
			// kubernetes-external-secrets reads parsedValue[property]
			// (lib/backends/kv-backend.js, _fetchDataValues); stores populate does not
			// write to are left alone.
			e.Field = e.Property
			continue
		}
		field, exact := secrets.PropertyField(b, e.Property)
		e.Field = field
		if !exact {
			cr.Warnings = append(cr.Warnings, fmt.Sprintf("%s: ExternalSecret %s/%s key %s: the %s provider reads remoteRef.property %q as a gjson query, which may select another field than %q, the one populate writes; to read exactly that field, write the property as %q",
				e.File, e.Namespace, e.Secret, e.Key, cr.Stores[e.Store].Kind, e.Property, field, secrets.Property(b, field)))
		}
	}
	slices.SortFunc(cr.Entries, func(a, b Entry) int {
		return strings.Compare(a.Namespace+"\x00"+a.Secret+"\x00"+a.Key, b.Namespace+"\x00"+b.Secret+"\x00"+b.Key)
	})
	return cr, nil
}

func decode(n *yaml.RNode, v any) error {
	b, err := n.MarshalJSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func readESO(n *yaml.RNode, file string, cr *ConfigRoot) error {
	var es esoExternalSecret
	if err := decode(n, &es); err != nil {
		return fmt.Errorf("%s: ExternalSecret %s: %w", file, n.GetName(), err)
	}
	secret := es.Spec.Target.Name
	if secret == "" {
		secret = es.Metadata.Name
	}
	where := fmt.Sprintf("%s: ExternalSecret %s/%s", file, es.Metadata.Namespace, es.Metadata.Name)
	if es.Spec.SecretStoreRef.Name == "" {
		return fmt.Errorf("%s: no spec.secretStoreRef.name", where)
	}
	if len(es.Spec.DataFrom) > 0 {
		cr.Warnings = append(cr.Warnings, where+": spec.dataFrom is not populated (only spec.data entries are)")
	}
	for i, d := range es.Spec.Data {
		if d.SecretKey == "" || d.RemoteRef.Key == "" {
			return fmt.Errorf("%s: spec.data[%d] needs secretKey and remoteRef.key", where, i)
		}
		decoding := d.RemoteRef.DecodingStrategy
		if decoding == "" {
			decoding = DecodingNone
		}
		if _, ok := decodings[decoding]; !ok {
			return fmt.Errorf("%s: spec.data[%d] (%s): remoteRef.decodingStrategy %q is not one of None, Base64, Base64URL, Auto", where, i, d.SecretKey, decoding)
		}
		cr.Entries = append(cr.Entries, Entry{
			Namespace: es.Metadata.Namespace, Secret: secret, Key: d.SecretKey,
			Store:     es.Spec.SecretStoreRef.Name,
			RemoteKey: d.RemoteRef.Key, Property: d.RemoteRef.Property, Version: d.RemoteRef.Version,
			Decoding: decoding,
			File:     file,
		})
	}
	return nil
}

func readLegacy(n *yaml.RNode, file string, cr *ConfigRoot) (StoreSpec, error) {
	var es legacyExternalSecret
	if err := decode(n, &es); err != nil {
		return StoreSpec{}, fmt.Errorf("%s: ExternalSecret %s: %w", file, n.GetName(), err)
	}
	where := fmt.Sprintf("%s: ExternalSecret %s/%s", file, es.Metadata.Namespace, es.Metadata.Name)
	spec, ok := legacyBackend(es.Spec.BackendType)
	if !ok {
		return StoreSpec{}, fmt.Errorf("%s: unknown backendType %q (want one of %s)", where, es.Spec.BackendType, strings.Join(legacyNames(), ", "))
	}
	spec.Name = es.Spec.BackendType
	spec.GCPProject = es.Spec.ProjectID
	spec.AWSRegion = es.Spec.Region
	if es.Spec.KeyVaultName != "" {
		spec.AzureVaultURL = "https://" + es.Spec.KeyVaultName + ".vault.azure.net"
	}
	// vaultMountPoint and vaultRole name the Kubernetes auth mount the operator logs in
	// with, not the KV mount: the keys are full API paths (secret/data/…).
	if len(es.Spec.DataFrom) > 0 {
		cr.Warnings = append(cr.Warnings, where+": spec.dataFrom is not populated (only spec.data entries are)")
	}
	for i, d := range es.Spec.Data {
		if d.Name == "" || d.Key == "" {
			return StoreSpec{}, fmt.Errorf("%s: spec.data[%d] needs name and key", where, i)
		}
		version := d.Version
		if version == "" {
			version = d.VersionStage
		}
		// kubernetes-external-secrets decodes an isBinary value from base64
		// (lib/backends/*-backend.js, _get).
		decoding := DecodingNone
		if d.IsBinary {
			decoding = secrets.DecodingBase64
		}
		cr.Entries = append(cr.Entries, Entry{
			Namespace: es.Metadata.Namespace, Secret: es.Metadata.Name, Key: d.Name,
			Store:     spec.Name,
			RemoteKey: d.Key, Property: d.Property, Version: version,
			Decoding: decoding,
			File:     file,
			legacy:   true,
		})
	}
	return spec, nil
}

func readStore(n *yaml.RNode, file string) (StoreSpec, error) {
	var s clusterSecretStore
	if err := decode(n, &s); err != nil {
		return StoreSpec{}, fmt.Errorf("%s: %s %s: %w", file, n.GetKind(), n.GetName(), err)
	}
	spec := StoreSpec{Name: s.Metadata.Name}
	where := fmt.Sprintf("%s: %s %s", file, n.GetKind(), s.Metadata.Name)
	if len(s.Spec.Provider) != 1 {
		return StoreSpec{}, fmt.Errorf("%s: spec.provider must name exactly one provider", where)
	}
	for name, raw := range s.Spec.Provider {
		var err error
		switch name {
		case "vault":
			var p struct{ Server, Path, Version, Namespace string }
			err = json.Unmarshal(raw, &p)
			spec.Kind, spec.VaultServer, spec.VaultPath, spec.VaultVersion, spec.VaultNamespace = store.Vault, p.Server, p.Path, p.Version, p.Namespace
			if p.Version == "v1" {
				spec.Kind, spec.Unsupported = "", "populate writes to Vault KV version 2 only (spec.provider.vault.version is v1)"
			}
		case "gcpsm":
			var p struct {
				ProjectID string `json:"projectID"`
			}
			err = json.Unmarshal(raw, &p)
			spec.Kind, spec.GCPProject = store.GCP, p.ProjectID
		case "aws":
			var p struct{ Service, Region string }
			err = json.Unmarshal(raw, &p)
			spec.Kind, spec.AWSRegion = store.AWS, p.Region
			if p.Service != "" && p.Service != "SecretsManager" {
				spec.Kind, spec.Unsupported = "", "populate writes to AWS Secrets Manager only (spec.provider.aws.service is "+p.Service+")"
			}
		case "azurekv":
			var p struct {
				VaultURL string `json:"vaultUrl"`
			}
			err = json.Unmarshal(raw, &p)
			spec.Kind, spec.AzureVaultURL = store.Azure, p.VaultURL
		case "fake", "kubernetes":
			spec.Unsupported = "the " + name + " provider is filled in the cluster, not by populate"
		default:
			spec.unknown = fmt.Sprintf("%s: unknown secret store provider %q (populate writes to vault, gcpsm, aws and azurekv)", where, name)
		}
		if err != nil {
			return StoreSpec{}, fmt.Errorf("%s: spec.provider.%s: %w", where, name, err)
		}
	}
	return spec, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
