package populate

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/internal/testutil/cloudfake"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"github.com/configroot/configroot/modules/secrets/store"
	"sigs.k8s.io/yaml"
)

// The round trip: a rendered Secret goes through the converter into config-root, populate
// fills the store from the rendered values, and the test reads back what each ExternalSecret
// entry gets the way the External Secrets Operator would: the provider's lookup of the
// entry's property in what the store holds (internal/testutil/eso.go, from ESO's source),
// then the entry's decodingStrategy. What comes out must be the rendered bytes, exactly.
// Vault is the real dev server; AWS Secrets Manager, Google Secret Manager and Azure Key
// Vault are fakes speaking their wire protocols (they cannot run here), driven through the
// official SDK clients.

// backendStores are the stores a round trip can run against.
type backendStores struct {
	aws    *testutil.FakeSecretsManager
	awsURL string
	gcp    *cloudfake.SecretManager
	azure  *cloudfake.KeyVault
}

func newBackendStores(t *testing.T) *backendStores {
	t.Helper()
	b := &backendStores{gcp: cloudfake.NewSecretManager(t), azure: cloudfake.NewKeyVault(t)}
	b.aws, b.awsURL = testutil.NewFakeSecretsManager(t)
	return b
}

// open is Options.Open: the real Vault, or the fake of the store's kind.
func (b *backendStores) open(ctx context.Context, spec StoreSpec) (store.Store, error) {
	switch spec.Kind {
	case store.Vault:
		return store.NewVault(store.VaultOptions{Address: testVault.Addr, Token: testVault.Token, Mount: spec.VaultPath})
	case store.AWS:
		return store.NewAWS(ctx, store.AWSOptions{Region: spec.AWSRegion, Endpoint: b.awsURL,
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", "")})
	case store.GCP:
		return store.NewGCP(ctx, store.GCPOptions{Project: spec.GCPProject, ClientOptions: b.gcp.ClientOptions()})
	case store.Azure:
		return store.NewAzure(store.AzureOptions{VaultURL: b.azure.URL(), Credential: cloudfake.Credential{}, ClientOptions: b.azure.ClientOptions()})
	}
	return nil, fmt.Errorf("no test store for %s", spec.Name)
}

// esoReads returns the bytes the operator puts into the Secret for entry d of an
// ExternalSecret of backend b: the store's content, the provider's lookup, the decoding.
func (b *backendStores) esoReads(t *testing.T, backend secrets.Backend, d esoEntry) ([]byte, error) {
	t.Helper()
	var got []byte
	var err error
	switch backend {
	case secrets.Vault:
		path := strings.TrimPrefix(d.RemoteRef.Key, "secret/data/")
		data, _ := kv(t, path)
		got, err = testutil.ESOVault(data, d.RemoteRef.Property)
	case secrets.AWS:
		s, ok := b.aws.Secret(d.RemoteRef.Key)
		if !ok {
			return nil, fmt.Errorf("no secret %s", d.RemoteRef.Key)
		}
		got, err = testutil.ESOAWS(s, d.RemoteRef.Property)
	case secrets.GCP:
		p, ok := b.gcp.Payload("projects/acme/secrets/" + d.RemoteRef.Key)
		if !ok {
			return nil, fmt.Errorf("no secret %s", d.RemoteRef.Key)
		}
		got, err = testutil.ESOGCP(p, d.RemoteRef.Property)
	case secrets.Azure:
		v, ok := b.azure.Secret(d.RemoteRef.Key)
		if !ok {
			return nil, fmt.Errorf("no secret %s", d.RemoteRef.Key)
		}
		got, err = testutil.ESOAzure(v, d.RemoteRef.Property)
	default:
		t.Fatalf("no store for %s", backend)
	}
	if err != nil {
		return nil, err
	}
	return testutil.ESODecode(d.RemoteRef.DecodingStrategy, got)
}

// mappingFor is a SecretMapping sending everything to backend b, with the settings its
// ClusterSecretStore needs, plus extra rules.
func mappingFor(b secrets.Backend, rules string) string {
	return "apiVersion: secret.jenkins-x.io/v1alpha1\nkind: SecretMapping\nspec:\n  defaults:\n    backendType: " + string(b) + `
    gcpSecretsManager: {projectId: acme}
    secretsManager: {region: eu-west-1}
    azureKeyVault: {keyVaultName: kv}
` + rules
}

// convertRepo lays out a cluster repo whose render is rendered (path → YAML, under
// <namespace>/<release>/<chart>/templates/): the rendered tree under rendered/, config-root
// converted with mapping, and the sources file. It returns the repo and the render report.
func convertRepo(t *testing.T, mapping string, rendered map[string]string, sources string) (string, secrets.Report) {
	t.Helper()
	files := map[string]string{SourcesFile: sources, secrets.MappingFile: mapping}
	fsys := fstest.MapFS{}
	for p, doc := range rendered {
		files["rendered/"+p] = doc
		fsys[p] = &fstest.MapFile{Data: []byte(doc)}
	}
	repo := writeRepo(t, files)
	m, err := secrets.LoadMapping(repo, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := render.ReadRendered(fsys)
	if err != nil {
		t.Fatal(err)
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: m}}
	out, err := render.LayoutFiles(nodes, append(conv.Filters(), render.Layout{})...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render.WriteAtomic(filepath.Join(repo, "config-root"), out); err != nil {
		t.Fatal(err)
	}
	return repo, conv.Report
}

// esoEntry is one spec.data entry of an external-secrets.io/v1 ExternalSecret.
type esoEntry struct {
	SecretKey string `json:"secretKey"`
	RemoteRef struct {
		Key, Property, Version, DecodingStrategy string
	} `json:"remoteRef"`
}

// externalSecretEntries reads the spec.data of the ExternalSecret in config-root file rel.
func externalSecretEntries(t *testing.T, repo, rel string) []esoEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, "config-root", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	var es struct {
		Kind string
		Spec struct{ Data []esoEntry }
	}
	if err := yaml.Unmarshal(data, &es); err != nil || es.Kind != "ExternalSecret" {
		t.Fatalf("%s: not an ExternalSecret (%v)", rel, err)
	}
	return es.Spec.Data
}

// secretYAML is a rendered Secret holding values in data (base64).
func secretYAML(name string, keys []string, values map[string][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ndata:\n", name)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %q: %q\n", k, base64.StdEncoding.EncodeToString(values[k]))
	}
	return b.String()
}

// randomValue is a value of one of the shapes a Secret holds: binary (a keystore, a DER
// certificate: any bytes, most often not UTF-8), ASCII text, or UTF-8 text with multi-byte
// characters; empty sometimes.
func randomValue(r *rand.Rand) []byte {
	n := r.IntN(96)
	b := make([]byte, n)
	switch r.IntN(4) {
	case 0, 1:
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
	case 2:
		for i := range b {
			b[i] = byte(' ' + r.IntN(95))
		}
	default:
		var s strings.Builder
		for s.Len() < n {
			s.WriteRune([]rune("aé€😀\u00ff\ufffd\x00\n\"\\")[r.IntN(10)])
		}
		b = []byte(s.String())
	}
	return b
}

// TestBinaryRoundTrip is the property test of the round trip, per backend: random values
// (binary or text) under keys that need care (.dockerconfigjson, tls.crt, several dots),
// plus keys the mapping sends to fields with gjson's special characters, and the keystore
// of field case 08; every entry gives back exactly the rendered bytes. A second populate run
// finds every value present and writes nothing.
func TestBinaryRoundTrip(t *testing.T) {
	keystore, err := os.ReadFile(filepath.Join("testdata", "field-cases", "08-binary-secret", "keystore.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if utf8.Valid(keystore) {
		t.Fatal("keystore.bin is valid UTF-8: it proves nothing")
	}
	seed := rand.Uint64()
	t.Logf("seed %d (random values)", seed)
	r := rand.New(rand.NewPCG(seed, 8))
	stores := newBackendStores(t)
	for _, backend := range []secrets.Backend{secrets.Vault, secrets.AWS, secrets.GCP, secrets.Azure} {
		t.Run(string(backend), func(t *testing.T) {
			var log leaks
			keys := []string{"keystore.jks", ".dockerconfigjson", ".git-credentials", "tls.crt", "a.b.c", "m1", "m2", "m3", "m4"}
			values := map[string][]byte{"keystore.jks": keystore}
			for i := 0; i < 24; i++ {
				keys = append(keys, fmt.Sprintf("v%02d", i))
			}
			binary := 0
			for _, k := range keys[1:] {
				values[k] = randomValue(r)
				if !utf8.Valid(values[k]) {
					binary++
				}
			}
			rules := `  secrets:
    - name: rt-` + strings.ToLower(string(backend)) + `
      mappings:
        - {name: m1, property: "a/b"}
        - {name: m2, property: "x*y"}
        - {name: m3, property: "#tag|@pipe"}
        - {name: m4, property: ".hidden.file"}
`
			name := "rt-" + strings.ToLower(string(backend))
			repo, report := convertRepo(t, mappingFor(backend, rules),
				map[string]string{"roundtrip/rt/rt/templates/s.yaml": secretYAML(name, keys, values)},
				"default: {rendered: true}\n")
			if len(report.Binary) != binary+1 {
				t.Errorf("%d keys reported binary, want %d", len(report.Binary), binary+1)
			}
			o := options(repo, &log)
			o.Open = stores.open
			o.Render = render.Options{Rendered: filepath.Join(repo, "rendered")}
			res, err := Populate(context.Background(), o)
			log.record(res, err)
			if err != nil {
				t.Fatal(err)
			}
			entries := externalSecretEntries(t, repo, "namespaces/roundtrip/rt/"+name+"-externalsecret.yaml")
			if len(entries) != len(keys) {
				t.Fatalf("%d entries, want %d", len(entries), len(keys))
			}
			for _, d := range entries {
				want := values[d.SecretKey]
				if wantB64 := !utf8.Valid(want); wantB64 != (d.RemoteRef.DecodingStrategy == secrets.DecodingBase64) {
					t.Errorf("%s: decodingStrategy %q for a value binary=%v", d.SecretKey, d.RemoteRef.DecodingStrategy, wantB64)
				}
				got, err := stores.esoReads(t, backend, d)
				if err != nil {
					t.Errorf("%s (property %q): ESO would fail: %v", d.SecretKey, d.RemoteRef.Property, err)
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s (property %q, %s): ESO puts %d bytes into the Secret, not the %d rendered (seed %d)",
						d.SecretKey, d.RemoteRef.Property, d.RemoteRef.DecodingStrategy, len(got), len(want), seed)
				}
			}
			if res.Count(Written) != len(keys) {
				t.Errorf("%d written, want %d", res.Count(Written), len(keys))
			}

			res, err = Populate(context.Background(), o)
			log.record(res, err)
			if err != nil || res.Count(Present) != len(keys) {
				t.Fatalf("second run: %v, %v", statuses(res), err)
			}
			log.secret(base64.StdEncoding.EncodeToString(keystore))
			log.check(t)
		})
	}
}
