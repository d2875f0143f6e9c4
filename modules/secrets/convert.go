package secrets

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/configroot/configroot/modules/render"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Format is the API of the ExternalSecrets configroot writes.
type Format string

// The formats.
const (
	// FormatESO is External Secrets Operator's external-secrets.io/v1 (the default).
	FormatESO Format = "eso"
	// FormatLegacy is kubernetes-external-secrets' kubernetes-client.io/v1, for clusters that
	// still run it.
	FormatLegacy Format = "legacy"
)

// AnnotationExclude opts one Secret out of conversion, as in Jenkins X. The Secret reaches
// config-root as it is; the render lists it.
const AnnotationExclude = "secret.jenkins-x.io/convert-exclude"

// Converter is a kio.Filter that replaces every Secret holding data with an ExternalSecret
// whose entries point at the secret store its mapping names, and adds a ClusterSecretStore
// for each store used (ESO format, unless NoStores). The ExternalSecret carries no value:
// keys listed as unsecured go, in plain text, into its template.
//
// A Secret with no data (or only empty values) that no mapping rule names stays a Secret:
// nothing can leak, and an ExternalSecret would fight the controller that fills it at run
// time. A Secret a rule names is converted whatever its values, as Jenkins X does (its
// charts render credentials as empty placeholders, and jx secret populate fills the store);
// one that has no keys at all stays a Secret, with a warning. A Secret annotated
// secret.jenkins-x.io/convert-exclude: "true" stays a Secret too (a warning when a rule names
// it). Rules naming a Secret the render lacks, and key rules naming keys a Secret lacks, are
// warnings with their line.
//
// A value that is not UTF-8 text (IsBinary) gets remoteRef.decodingStrategy: Base64, the
// store holding it base64 (not for the local backend, a Kubernetes Secret that holds bytes);
// the legacy format cannot carry one (an error). Each property is spelled so that the
// store's ESO provider reads exactly its field (Property).
type Converter struct {
	// Mapping says which store and which remote key each Secret maps to (default:
	// DefaultMapping, everything in Vault).
	Mapping *Mapping
	// Format is the ExternalSecret API (default FormatESO).
	Format Format
	// RefreshInterval is ESO's spec.refreshInterval (default "1h").
	RefreshInterval string
	// NoStores turns off the ClusterSecretStore manifests.
	NoStores bool
	// Report, when set, receives what the conversion did.
	Report *Report
	// Partial says the render holds only some releases (selectors): mapping rules naming
	// Secrets it lacks are not warned about.
	Partial bool
}

var _ kio.Filter = Converter{}

// Report says what a conversion did, for the render's summary. It names resources, never
// values.
type Report struct {
	// Converted lists the Secrets turned into ExternalSecrets, as namespace/name.
	Converted []string
	// Empty lists the Secrets kept because they hold no data.
	Empty []string
	// OptedOut lists the Secrets kept because of AnnotationExclude.
	OptedOut []string
	// Placeholders lists the Secrets converted although all their values are empty,
	// because a mapping rule names them (Jenkins X placeholders, filled from the store):
	// populate needs a source for each of their keys.
	Placeholders []string
	// Binary lists the keys holding binary data, as "namespace/name key": their entries
	// read the store's base64 with decodingStrategy Base64.
	Binary []string
	// Stores lists the ClusterSecretStores used.
	Stores []string
	// Warnings are things the user should know: unused mapping rules, deprecated backends.
	Warnings []string
}

// Filter implements kio.Filter.
func (c Converter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if c.Mapping == nil {
		c.Mapping = DefaultMapping()
	}
	if c.Format == "" {
		c.Format = FormatESO
	}
	if c.Format != FormatESO && c.Format != FormatLegacy {
		return nil, fmt.Errorf("secrets format %q: want %s or %s", c.Format, FormatESO, FormatLegacy)
	}
	if c.RefreshInterval == "" {
		c.RefreshInterval = "1h"
	}
	report := c.Report
	if report == nil {
		report = &Report{}
		c.Report = report
	}
	stores := map[string]store{}
	usedRules := map[*SecretRule]bool{}
	out := make([]*yaml.RNode, 0, len(nodes))
	for _, n := range nodes {
		if !isSecret(n) {
			out = append(out, n)
			continue
		}
		id := render.Namespace(n) + "/" + n.GetName()
		rule := c.Mapping.Rule(render.Namespace(n), n.GetName())
		if rule != nil {
			usedRules[rule] = true
		}
		entries, err := secretEntries(n)
		if err != nil {
			return nil, err
		}
		named := func(why string) {
			if rule != nil {
				report.Warnings = append(report.Warnings, fmt.Sprintf("%s:%d: the mapping names Secret %s, but %s: it stays a Secret, not converted",
					c.Mapping.File, rule.line, id, why))
			}
		}
		switch {
		case isOptedOut(n):
			report.OptedOut = append(report.OptedOut, id)
			named(fmt.Sprintf("%s (%s) opts it out", AnnotationExclude, render.Source(n)))
			out = append(out, n)
			continue
		case len(entries) == 0:
			report.Empty = append(report.Empty, id)
			named(fmt.Sprintf("it has no data keys (%s)", render.Source(n)))
			out = append(out, n)
			continue
		case !hasData(entries) && rule == nil:
			// Filled at run time by a controller; a rule naming it says otherwise
			// (Jenkins X placeholders: the values live in the store).
			report.Empty = append(report.Empty, id)
			out = append(out, n)
			continue
		}
		if err := checkKeys(entries); err != nil {
			return nil, fmt.Errorf("%s: Secret %s: %w", render.Source(n), id, err)
		}
		backend, settings := c.Mapping.effective(rule)
		st, err := newStore(backend, settings, c.Mapping)
		if err != nil {
			return nil, fmt.Errorf("%s: Secret %s: %w", render.Source(n), id, err)
		}
		stores[st.name] = st
		var es *yaml.RNode
		if c.Format == FormatESO {
			es, err = c.eso(n, entries, rule, st)
		} else {
			es, err = c.legacy(n, entries, rule, st)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: Secret %s: %w", render.Source(n), id, err)
		}
		if c.Format == FormatESO && !c.NoStores {
			if err := render.SetUses(es, "ClusterSecretStore", st.name); err != nil {
				return nil, fmt.Errorf("%s: Secret %s: %w", render.Source(n), id, err)
			}
		}
		report.Converted = append(report.Converted, id)
		if !hasData(entries) {
			report.Placeholders = append(report.Placeholders, id)
		}
		report.Warnings = append(report.Warnings, unusedKeyRules(c.Mapping.File, rule, id, entries)...)
		out = append(out, es)
	}

	for i := range c.Mapping.Secrets {
		if r := &c.Mapping.Secrets[i]; !usedRules[r] && !c.Partial {
			report.Warnings = append(report.Warnings, fmt.Sprintf("%s:%d: the mapping names Secret %s, which this render does not produce",
				c.Mapping.File, r.line, strings.TrimPrefix(r.Namespace+"/"+r.Name, "/")))
		}
	}
	names := make([]string, 0, len(stores))
	for name := range stores {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st := stores[name]
		report.Stores = append(report.Stores, name)
		if st.backend == Alibaba {
			report.Warnings = append(report.Warnings, "External Secrets Operator 2.0 removed the Alibaba provider: "+name+" works only with ESO 1.x (or the legacy format)")
		}
		if c.Format != FormatESO || c.NoStores {
			continue
		}
		node, err := st.manifest(c.Mapping.File)
		if err != nil {
			return nil, err
		}
		out = append(out, node)
	}
	return out, nil
}

func isSecret(n *yaml.RNode) bool { return n.GetKind() == "Secret" && n.GetApiVersion() == "v1" }

func isOptedOut(n *yaml.RNode) bool {
	v := strings.ToLower(strings.TrimSpace(n.GetAnnotations()[AnnotationExclude]))
	return v == "true" || v == "yes" || v == "1"
}

// entry is one data key of a Secret. Its value is kept only for unsecured keys; for the
// others only whether it is empty and whether it is binary.
type entry struct {
	key   string
	empty bool
	// binary is true when the value is not valid UTF-8: a JSON store (Vault's KV, the
	// cloud stores' JSON objects) cannot hold it as text.
	binary bool
	value  []byte
}

// secretEntries reads the keys of data (base64) and stringData (plain; it wins, as in the
// API server). Values never leave this package but as unsecured template data.
func secretEntries(n *yaml.RNode) ([]entry, error) {
	byKey := map[string]entry{}
	for _, f := range []string{"data", "stringData"} {
		field := n.Field(f)
		if field == nil || yaml.IsMissingOrNull(field.Value) {
			continue
		}
		if field.Value.YNode().Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: Secret %s/%s: %s is not a mapping", render.Source(n), render.Namespace(n), n.GetName(), f)
		}
		content := field.Value.YNode().Content
		for i := 0; i+1 < len(content); i += 2 {
			key, raw := content[i].Value, content[i+1].Value
			value := []byte(raw)
			if f == "data" {
				decoded, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(raw), ""))
				if err != nil {
					return nil, fmt.Errorf("%s: Secret %s/%s: data.%s is not valid base64", render.Source(n), render.Namespace(n), n.GetName(), key)
				}
				value = decoded
			}
			e := entry{key: key, empty: len(value) == 0, binary: IsBinary(value), value: value}
			if prev, ok := byKey[key]; ok {
				// stringData wins in the API server, but the data value is in the file all
				// the same: the key is empty only if both are.
				e.empty = e.empty && prev.empty
			}
			byKey[key] = e
		}
	}
	entries := make([]entry, 0, len(byKey))
	for _, e := range byKey {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	return entries, nil
}

// checkKeys refuses data keys that Kubernetes does not allow in a Secret
// (validation.IsConfigMapKey: letters, digits, '-', '_' and '.', at most 253, not '.', '..'
// or starting with '..'): the API server would reject the Secret, and ESO's CRD the
// ExternalSecret's secretKey.
func checkKeys(entries []entry) error {
	for _, e := range entries {
		if errs := validation.IsConfigMapKey(e.key); len(errs) > 0 {
			return fmt.Errorf("data key %q is not a valid Secret key: %s", e.key, strings.Join(errs, "; "))
		}
	}
	return nil
}

// unusedKeyRules warns about the keys a rule maps or keeps unsecured that the Secret id
// does not have: they do nothing.
func unusedKeyRules(file string, rule *SecretRule, id string, entries []entry) []string {
	if rule == nil {
		return nil
	}
	has := map[string]bool{}
	for _, e := range entries {
		has[e.key] = true
	}
	var warnings []string
	for _, k := range rule.Mappings {
		if !has[k.Name] {
			warnings = append(warnings, fmt.Sprintf("%s:%d: the mapping maps key %s of Secret %s, which the Secret does not have", file, k.line, k.Name, id))
		}
	}
	for i, k := range rule.Unsecured {
		if !has[k] {
			warnings = append(warnings, fmt.Sprintf("%s:%d: the mapping keeps key %s of Secret %s unsecured, but the Secret does not have it", file, rule.unsecuredLine(i), k, id))
		}
	}
	return warnings
}

func hasData(entries []entry) bool {
	for _, e := range entries {
		if !e.empty {
			return true
		}
	}
	return false
}

// remoteRef is where one data key lives in the store: the remote key, the field (or, in
// the ESO format, the property that reads it) and the version; in the ESO format, how ESO
// decodes what it reads.
type remoteRef struct {
	Key              string `yaml:"key"`
	Property         string `yaml:"property,omitempty"`
	Version          string `yaml:"version,omitempty"`
	DecodingStrategy string `yaml:"decodingStrategy,omitempty"`
}

// DecodingBase64 is the remoteRef.decodingStrategy of binary values (ESO v1,
// https://external-secrets.io/latest/guides/decoding-strategy/): the store holds the value
// base64 encoded (standard alphabet, padded) and ESO decodes it into the Secret
// (pkg/utils/utils.go, Decode).
const DecodingBase64 = "Base64"

// IsBinary reports whether a Secret value is binary: not valid UTF-8. Such a value cannot
// be a JSON string (encoding/json, and every store's API, would turn its invalid bytes into
// U+FFFD), so configroot has it stored base64 and decoded by ESO. The decision depends on
// the bytes alone, so the same render always gives the same ExternalSecret.
func IsBinary(value []byte) bool { return !utf8.Valid(value) }

// remote returns the default remote reference of a data key, with the mapping's overrides.
func remote(n *yaml.RNode, key string, rule *SecretRule, st store) remoteRef {
	name := n.GetName()
	ref := remoteRef{Property: key}
	switch st.backend {
	case Vault:
		ref.Key = st.settings.Vault.Path + "/data/" + strings.ReplaceAll(name, "-", "/")
	case GCP:
		ref.Key = name
		if p := st.settings.GcpSecretsManager.UniquePrefix; p != "" {
			ref.Key = p + "-" + name
		}
		ref.Key = strings.ToLower(ref.Key)
		ref.Version = "latest"
		if v := st.settings.GcpSecretsManager.Version; v != "" {
			ref.Version = v
		}
	case AWS:
		ref.Key = name
		ref.Version = st.settings.SecretsManager.VersionStage
	case Azure:
		// Key Vault secret names allow letters, digits and dashes only.
		ref.Key = strings.ReplaceAll(name, ".", "-")
	default:
		ref.Key = name
	}
	if k := rule.Key(key); k != nil {
		if k.Key != "" {
			ref.Key = k.Key
		}
		if k.Property != "" {
			ref.Property = k.Property
		}
		if k.VersionStage != "" {
			ref.Version = k.VersionStage
		}
	}
	return ref
}

// meta is the metadata configroot writes on generated resources.
type meta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// labelsAndAnnotations is the metadata of a template: what the generated Secret carries.
type labelsAndAnnotations struct {
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// templateMeta is the Secret's own labels and annotations, for the generated Secret. ESO
// runs its templates over them too: escape makes their values literal.
func templateMeta(n *yaml.RNode, escape func(string) string) *labelsAndAnnotations {
	m := &labelsAndAnnotations{Labels: n.GetLabels(), Annotations: map[string]string{}}
	for k, v := range n.GetAnnotations() {
		if !render.IsOriginAnnotation(k) && k != AnnotationExclude {
			m.Annotations[k] = escape(v)
		}
	}
	for k, v := range m.Labels {
		m.Labels[k] = escape(v)
	}
	if len(m.Labels) == 0 && len(m.Annotations) == 0 {
		return nil
	}
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	}
	return m
}

// unsecured returns the plain template data: the unsecured keys' values.
func unsecured(n *yaml.RNode, entries []entry, rule *SecretRule, escape func(string) string) (map[string]string, error) {
	data := map[string]string{}
	for _, e := range entries {
		if !rule.IsUnsecured(e.key) {
			continue
		}
		if !utf8.Valid(e.value) {
			return nil, fmt.Errorf("unsecured key %s is binary: it cannot go into a template", e.key)
		}
		data[e.key] = escape(string(e.value))
	}
	if len(data) == 0 {
		return nil, nil
	}
	return data, nil
}

type esoExternalSecret struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   meta    `yaml:"metadata"`
	Spec       esoSpec `yaml:"spec"`
}

type esoSpec struct {
	RefreshInterval string         `yaml:"refreshInterval"`
	SecretStoreRef  esoStoreRef    `yaml:"secretStoreRef"`
	Target          esoTarget      `yaml:"target"`
	Data            []esoDataEntry `yaml:"data"`
}

type esoStoreRef struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
}

type esoTarget struct {
	Name           string       `yaml:"name"`
	CreationPolicy string       `yaml:"creationPolicy"`
	Template       *esoTemplate `yaml:"template,omitempty"`
}

type esoTemplate struct {
	Type          string                `yaml:"type,omitempty"`
	EngineVersion string                `yaml:"engineVersion"`
	MergePolicy   string                `yaml:"mergePolicy"`
	Metadata      *labelsAndAnnotations `yaml:"metadata,omitempty"`
	Data          map[string]string     `yaml:"data,omitempty"`
}

type esoDataEntry struct {
	SecretKey string    `yaml:"secretKey"`
	RemoteRef remoteRef `yaml:"remoteRef"`
}

// escapeTemplate makes a literal value safe in an ESO v2 (Go) template.
func escapeTemplate(s string) string { return strings.ReplaceAll(s, "{{", `{{ "{{" }}`) }

func (c Converter) eso(n *yaml.RNode, entries []entry, rule *SecretRule, st store) (*yaml.RNode, error) {
	es := esoExternalSecret{
		APIVersion: "external-secrets.io/v1",
		Kind:       "ExternalSecret",
		Metadata:   meta{Name: n.GetName(), Namespace: n.GetNamespace(), Labels: n.GetLabels()},
		Spec: esoSpec{
			RefreshInterval: c.RefreshInterval,
			SecretStoreRef:  esoStoreRef{Kind: "ClusterSecretStore", Name: st.name},
			Target:          esoTarget{Name: n.GetName(), CreationPolicy: "Owner"},
		},
	}
	plain, err := unsecured(n, entries, rule, escapeTemplate)
	if err != nil {
		return nil, err
	}
	tmpl := &esoTemplate{Type: secretType(n), EngineVersion: "v2", MergePolicy: "Merge", Metadata: templateMeta(n, escapeTemplate), Data: plain}
	if tmpl.Type != "" || tmpl.Metadata != nil || tmpl.Data != nil {
		es.Spec.Target.Template = tmpl
	}
	for _, e := range entries {
		if rule.IsUnsecured(e.key) {
			continue
		}
		ref := remote(n, e.key, rule, st)
		if st.backend == Local {
			// The local store is a Secret in secret-infra: its fields are Secret keys.
			if errs := validation.IsConfigMapKey(ref.Property); len(errs) > 0 {
				return nil, fmt.Errorf("key %s: property %q cannot be a key of the local store's Secret: %s", e.key, ref.Property, strings.Join(errs, "; "))
			}
		}
		// remote gives the field of the remote secret; ESO's provider reads it by a
		// property spelled its own way.
		ref.Property = Property(st.backend, ref.Property)
		if e.binary && st.backend != Local {
			// The local store is a Kubernetes Secret: it holds bytes as they are.
			ref.DecodingStrategy = DecodingBase64
			c.Report.Binary = append(c.Report.Binary, render.Namespace(n)+"/"+n.GetName()+" "+e.key)
		}
		es.Spec.Data = append(es.Spec.Data, esoDataEntry{SecretKey: e.key, RemoteRef: ref})
	}
	return toNode(n, es)
}

type legacyExternalSecret struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   meta       `yaml:"metadata"`
	Spec       legacySpec `yaml:"spec"`
}

type legacySpec struct {
	BackendType     string          `yaml:"backendType"`
	VaultMountPoint string          `yaml:"vaultMountPoint,omitempty"`
	VaultRole       string          `yaml:"vaultRole,omitempty"`
	ProjectID       string          `yaml:"projectId,omitempty"`
	Region          string          `yaml:"region,omitempty"`
	RoleArn         string          `yaml:"roleArn,omitempty"`
	KeyVaultName    string          `yaml:"keyVaultName,omitempty"`
	Data            []legacyData    `yaml:"data"`
	Template        *legacyTemplate `yaml:"template,omitempty"`
}

type legacyData struct {
	Name         string `yaml:"name"`
	Key          string `yaml:"key"`
	Property     string `yaml:"property,omitempty"`
	Version      string `yaml:"version,omitempty"`
	VersionStage string `yaml:"versionStage,omitempty"`
}

type legacyTemplate struct {
	Metadata   *labelsAndAnnotations `yaml:"metadata,omitempty"`
	Type       string                `yaml:"type,omitempty"`
	StringData map[string]string     `yaml:"stringData,omitempty"`
}

func (c Converter) legacy(n *yaml.RNode, entries []entry, rule *SecretRule, st store) (*yaml.RNode, error) {
	if st.backend == Local {
		return nil, fmt.Errorf("the local backend needs the eso format: kubernetes-external-secrets has no in-cluster store")
	}
	s := st.settings
	es := legacyExternalSecret{
		APIVersion: "kubernetes-client.io/v1",
		Kind:       "ExternalSecret",
		Metadata:   meta{Name: n.GetName(), Namespace: n.GetNamespace(), Labels: n.GetLabels()},
		Spec:       legacySpec{BackendType: string(st.backend)},
	}
	switch st.backend {
	case Vault:
		es.Spec.VaultMountPoint, es.Spec.VaultRole = s.Vault.MountPath, s.Vault.Role
	case GCP:
		es.Spec.ProjectID = s.GcpSecretsManager.ProjectID
	case AWS:
		es.Spec.Region, es.Spec.RoleArn = s.SecretsManager.Region, s.SecretsManager.RoleArn
	case Azure:
		es.Spec.KeyVaultName = s.AzureKeyVault.KeyVaultName
	case Alibaba:
		es.Spec.Region = s.AlicloudSecretsManager.Region
	}
	plain, err := unsecured(n, entries, rule, func(s string) string { return s })
	if err != nil {
		return nil, err
	}
	tmpl := &legacyTemplate{Metadata: templateMeta(n, func(s string) string { return s }), Type: secretType(n), StringData: plain}
	if tmpl.Metadata != nil || tmpl.Type != "" || tmpl.StringData != nil {
		es.Spec.Template = tmpl
	}
	for _, e := range entries {
		if rule.IsUnsecured(e.key) {
			continue
		}
		if e.binary {
			return nil, fmt.Errorf("key %s holds binary data (not UTF-8 text), which kubernetes-external-secrets cannot deliver through a property: "+
				"its vault backend decodes isBinary values into UTF-8 text, its gcpSecretsManager and azureKeyVault backends decode only a whole remote secret, "+
				"and the others have no isBinary (lib/backends/*-backend.js, _get); use --secrets-format eso, whose remoteRef.decodingStrategy: Base64 keeps every byte", e.key)
		}
		ref := remote(n, e.key, rule, st)
		d := legacyData{Name: e.key, Key: ref.Key, Property: ref.Property}
		if st.backend == AWS {
			d.VersionStage = ref.Version
		} else {
			d.Version = ref.Version
		}
		es.Spec.Data = append(es.Spec.Data, d)
	}
	return toNode(n, es)
}

func secretType(n *yaml.RNode) string {
	t, _ := n.GetString("type")
	return t
}

// toNode encodes v as a resource that takes the place of the Secret from: same origin,
// same head comment.
func toNode(from *yaml.RNode, v any) (*yaml.RNode, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	n, err := yaml.Parse(string(data))
	if err != nil {
		return nil, err
	}
	n.YNode().HeadComment = from.YNode().HeadComment
	if content := from.YNode().Content; n.YNode().HeadComment == "" && len(content) > 0 {
		n.YNode().HeadComment = content[0].HeadComment // a file's first comment sits on the first key
	}
	if err := render.CopyOrigin(from, n); err != nil {
		return nil, err
	}
	return n, nil
}
