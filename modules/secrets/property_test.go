package secrets_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"sigs.k8s.io/yaml"
)

// specialNames are field names that each ESO provider may misread: dots where gjson
// separates path components, gjson's wildcards, queries, modifiers, pipes and escapes,
// spaces, slashes and non-ASCII.
var specialNames = []string{
	".dockerconfigjson", ".dockercfg", ".git-credentials", "tls.crt", "ca.crt", "a.b.c", "a..b", "a.", ".", "..", "..a", ".a.b",
	"a/b", "/", "a*b", "*", "a?b", "?", "#", "a#b", "#(x)", "@", "@this", "a@b", "|", "a|b", `\`, `a\b`, `a\.b`,
	"a b", " ", " lead", "trail ", "!", "!true", "a=b", "[a]", "{a}", "a,b", "a:b", "ünï", `a"b`, "~", "0", "1.5",
	"password", "a", "b",
}

// esoLookup reads property from a remote secret holding fields, the way ESO's provider for
// backend b does (internal/testutil/eso.go): the fields as the store would hold them.
func esoLookup(t *testing.T, b secrets.Backend, fields map[string]string, property string) ([]byte, error) {
	t.Helper()
	js, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	switch b {
	case secrets.Vault:
		data := map[string]any{}
		for k, v := range fields {
			data[k] = v
		}
		return testutil.ESOVault(data, property)
	case secrets.GCP:
		return testutil.ESOGCP(js, property)
	case secrets.AWS:
		return testutil.ESOAWS(string(js), property)
	case secrets.Azure:
		return testutil.ESOAzure(string(js), property)
	case secrets.Alibaba:
		return testutil.ESOAlibaba(string(js), property)
	case secrets.Local:
		data := map[string][]byte{}
		for k, v := range fields {
			data[k] = []byte(v)
		}
		return testutil.ESOKubernetes(data, property)
	}
	t.Fatalf("no lookup for backend %s", b)
	return nil, nil
}

// checkName proves, for one field name, that the property configroot writes for it is read
// by the provider as exactly that field: PropertyField gives the name back as exact, and the
// provider's lookup over a remote secret holding every name of others (so a wildcard or a
// nested path has something wrong to find) returns this field's value.
func checkName(t *testing.T, b secrets.Backend, name string, others []string) {
	t.Helper()
	fields := map[string]string{}
	for i, o := range others {
		fields[o] = fmt.Sprintf("decoy-%d", i)
	}
	fields[name] = "the-value-of-" + name
	p := secrets.Property(b, name)
	if f, exact := secrets.PropertyField(b, p); f != name || !exact {
		t.Errorf("%s: Property(%q) = %q, whose field is %q (exact %v)", b, name, p, f, exact)
	}
	got, err := esoLookup(t, b, fields, p)
	if err != nil {
		t.Errorf("%s: property %q of field %q: ESO fails: %v", b, p, name, err)
		return
	}
	if string(got) != fields[name] {
		t.Errorf("%s: property %q of field %q: ESO reads %q", b, p, name, got)
	}
}

// TestPropertyResolvesPerProvider is the per-backend table: every special name, as the
// property configroot writes, resolves through the provider's own lookup (reproduced from
// ESO's source in internal/testutil/eso.go) to exactly that field of the remote secret.
func TestPropertyResolvesPerProvider(t *testing.T) {
	for _, b := range secrets.Backends {
		t.Run(string(b), func(t *testing.T) {
			for _, name := range specialNames {
				checkName(t, b, name, specialNames)
			}
		})
	}
}

// TestPropertyIsTheNameWhereItCan: the names Kubernetes allows as Secret keys keep their
// spelling where the provider reads them as they are (Jenkins X writes property = key), and
// are escaped where it would not.
func TestPropertyIsTheNameWhereItCan(t *testing.T) {
	cases := []struct {
		b          secrets.Backend
		name, want string
	}{
		{secrets.Vault, ".dockerconfigjson", ".dockerconfigjson"},
		{secrets.Vault, "a*b", "a*b"},
		{secrets.Local, "tls.crt", "tls.crt"},
		{secrets.AWS, "tls.crt", "tls.crt"},
		{secrets.AWS, ".dockerconfigjson", ".dockerconfigjson"},
		{secrets.AWS, "a*b", `a\*b`},
		{secrets.Azure, ".git-credentials", ".git-credentials"},
		{secrets.Azure, "a/b.c", `a\/b.c`},
		{secrets.GCP, "tls.crt", "tls.crt"},
		{secrets.GCP, ".dockerconfigjson", `\.dockerconfigjson`},
		{secrets.GCP, ".a.b", `\.a\.b`},
		{secrets.Alibaba, "tls.crt", `tls\.crt`},
		{secrets.Alibaba, "password", "password"},
	}
	for _, tc := range cases {
		if got := secrets.Property(tc.b, tc.name); got != tc.want {
			t.Errorf("%s: Property(%q) = %q, want %q", tc.b, tc.name, got, tc.want)
		}
	}
}

// TestPropertyFieldFlagsQueries: a hand-written property that a provider reads as a gjson
// query is not exact (populate warns about it); one it reads as a field is.
func TestPropertyFieldFlagsQueries(t *testing.T) {
	cases := []struct {
		b        secrets.Backend
		property string
		field    string
		exact    bool
	}{
		{secrets.AWS, "a*b", "a*b", false},
		{secrets.GCP, "user|@reverse", "user|@reverse", false},
		{secrets.Azure, "#", "#", false},
		{secrets.Alibaba, "tls.crt", "tls.crt", false},
		{secrets.GCP, ".dockerconfigjson", ".dockerconfigjson", false},
		{secrets.AWS, `a\*b`, "a*b", true},
		{secrets.AWS, "tls.crt", "tls.crt", true},
		{secrets.Azure, "tls.crt", "tls.crt", true},
		{secrets.Vault, "a*b", "a*b", true},
		{secrets.Local, "x.y", "x.y", true},
		{secrets.GCP, "", "", true},
	}
	for _, tc := range cases {
		f, exact := secrets.PropertyField(tc.b, tc.property)
		if f != tc.field || exact != tc.exact {
			t.Errorf("%s: PropertyField(%q) = %q, %v; want %q, %v", tc.b, tc.property, f, exact, tc.field, tc.exact)
		}
	}
	// Not exact means it: the provider really reads another field for these. gjson
	// matches a wildcard against the object's fields in their order.
	if v, _ := testutil.ESOAWS(`{"a+b":"other","a*b":"wanted"}`, "a*b"); string(v) != "other" {
		t.Errorf("aws: a*b read %q: the wildcard did not match the first field", v)
	}
	if _, err := esoLookup(t, secrets.Alibaba, map[string]string{"tls.crt": "v"}, "tls.crt"); !errors.Is(err, testutil.ErrESONotFound) {
		t.Errorf("alibaba read a dotted field by its plain name: %v", err)
	}
}

// TestPropertyRandomNames is the property test: for random names drawn mostly from gjson's
// special characters, every backend's property reads back the field, among decoys.
func TestPropertyRandomNames(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	alphabet := []byte(`.*?#@|\!=[]{}(),:/ "'~$%^&+<>;` + "ab0_-")
	for i := 0; i < 400; i++ {
		n := 1 + r.IntN(8)
		var b strings.Builder
		for j := 0; j < n; j++ {
			if r.IntN(12) == 0 {
				b.WriteString("é")
				continue
			}
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		name := b.String()
		for _, backend := range secrets.Backends {
			checkName(t, backend, name, specialNames)
		}
		if t.Failed() {
			t.Fatalf("failed on %q (seed %d)", name, seed)
		}
	}
}

// TestPropertyFieldMatchesProviders checks PropertyField's model of each provider against
// the provider's lookup, for random hand-written properties (escapes included): whenever it
// says exact, the provider reads that field, among decoys.
func TestPropertyFieldMatchesProviders(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	alphabet := []byte(`.*?#@|\\\!=[]{}(),:/ "~` + "ab0_-")
	exactSeen := 0
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j, n := 0, 1+r.IntN(7); j < n; j++ {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		property := b.String()
		for _, backend := range secrets.Backends {
			field, exact := secrets.PropertyField(backend, property)
			if !exact {
				continue
			}
			exactSeen++
			fields := map[string]string{}
			for k, o := range specialNames {
				fields[o] = fmt.Sprintf("decoy-%d", k)
			}
			fields[field] = "wanted"
			got, err := esoLookup(t, backend, fields, property)
			if err != nil || string(got) != "wanted" {
				t.Fatalf("%s: PropertyField(%q) says field %q, but ESO reads %q, %v (seed %d)", backend, property, field, got, err, seed)
			}
		}
	}
	if exactSeen < 2000 {
		t.Fatalf("only %d exact cases checked", exactSeen)
	}
}

// TestConvertedPropertiesResolve runs the converter over a Secret whose keys need care
// (.dockerconfigjson, tls.crt, several dots) and a mapping that sends other keys to fields
// with gjson characters, for every backend, and reads each ExternalSecret entry back through
// the provider's lookup from a remote secret holding those fields: each entry reads its own.
func TestConvertedPropertiesResolve(t *testing.T) {
	keys := []string{".dockerconfigjson", ".git-credentials", "tls.crt", "a.b.c", "plain", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	// The fields the mapping sends k1…k7 to.
	mapped := map[string]string{"k1": "a/b", "k2": "x*y", "k3": "who?", "k4": "#tag", "k5": "@home|pipe", "k6": `back\slash`, "k7": "with space.and.dots"}
	var doc strings.Builder
	doc.WriteString("apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData:\n")
	for _, k := range keys {
		fmt.Fprintf(&doc, "  %q: value-of-%s\n", k, k)
	}
	var rule strings.Builder
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7"} {
		fmt.Fprintf(&rule, "        - {name: %s, property: %q}\n", k, mapped[k])
	}
	for _, b := range secrets.Backends {
		t.Run(string(b), func(t *testing.T) {
			m, err := secrets.ParseMapping("m.yaml", []byte("kind: SecretMapping\nspec:\n  defaults:\n    backendType: "+string(b)+
				"\n  secrets:\n    - name: keys\n      mappings:\n"+rule.String()), nil)
			if err != nil {
				t.Fatal(err)
			}
			mapped := mapped
			if b == secrets.Local {
				// The local store's fields are the keys of a Secret: "a/b" cannot be one.
				_, err := convertFiles(m, doc.String())
				if err == nil || !strings.Contains(err.Error(), `key k1: property "a/b" cannot be a key of the local store's Secret`) {
					t.Fatalf("local store with field a/b: error %v", err)
				}
				m.Secrets = nil
				mapped = nil
			}
			es := convertOne(t, m, doc.String())
			// The remote secret as populate fills it: one field per key (the mapped
			// field where the mapping says so), plus every special name as a decoy.
			fields := map[string]string{}
			for i, o := range specialNames {
				fields[o] = fmt.Sprintf("decoy-%d", i)
			}
			for _, k := range keys {
				f := k
				if mapped[k] != "" {
					f = mapped[k]
				}
				fields[f] = "value-of-" + k
			}
			if len(es.Spec.Data) != len(keys) {
				t.Fatalf("%d entries, want %d", len(es.Spec.Data), len(keys))
			}
			for _, d := range es.Spec.Data {
				got, err := esoLookup(t, b, fields, d.RemoteRef.Property)
				if err != nil || string(got) != "value-of-"+d.SecretKey {
					t.Errorf("entry %s, property %q: ESO reads %q, %v", d.SecretKey, d.RemoteRef.Property, got, err)
				}
			}
		})
	}
}

// TestConvertRefusesInvalidKeys: a data key Kubernetes does not allow in a Secret is an error
// naming the file, the Secret and the key.
func TestConvertRefusesInvalidKeys(t *testing.T) {
	for _, key := range []string{"a b", "a/b", "..x", "*", "café"} {
		nodes, _, err := render.ReadRendered(fstest.MapFS{"apps/web/web/templates/s.yaml": {Data: []byte(
			fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\nstringData: {%q: v}\n", key))}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = render.LayoutFiles(nodes, secrets.Converter{}, render.Layout{})
		if err == nil || !strings.Contains(err.Error(), "Secret apps/bad") || !strings.Contains(err.Error(), fmt.Sprintf("data key %q is not a valid Secret key", key)) ||
			!strings.Contains(err.Error(), "web/templates/s.yaml") {
			t.Errorf("key %q: error %v", key, err)
		}
	}
}

// esoEntry is one spec.data entry of an external-secrets.io/v1 ExternalSecret.
type esoEntry struct {
	SecretKey string `json:"secretKey"`
	RemoteRef struct {
		Key              string `json:"key"`
		Property         string `json:"property"`
		Version          string `json:"version"`
		DecodingStrategy string `json:"decodingStrategy"`
	} `json:"remoteRef"`
}

// esoExternalSecret is the part of an ExternalSecret these tests read.
type esoExternalSecret struct {
	Kind string `json:"kind"`
	Spec struct {
		Data []esoEntry `json:"data"`
	} `json:"spec"`
}

// convertOne converts the one Secret of doc (rendered as release web in namespace apps) with
// m and returns its ExternalSecret.
func convertOne(t *testing.T, m *secrets.Mapping, doc string) esoExternalSecret {
	t.Helper()
	files, err := convertFiles(m, doc)
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range files {
		var es esoExternalSecret
		if err := yaml.Unmarshal(data, &es); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if es.Kind == "ExternalSecret" {
			return es
		}
	}
	t.Fatalf("no ExternalSecret in %v", files.Paths())
	return esoExternalSecret{}
}

// convertFiles converts doc, rendered as release web in namespace apps, with m.
func convertFiles(m *secrets.Mapping, doc string) (render.Files, error) {
	nodes, _, err := render.ReadRendered(fstest.MapFS{"apps/web/web/templates/s.yaml": {Data: []byte(doc)}})
	if err != nil {
		return nil, err
	}
	return render.LayoutFiles(nodes, secrets.Converter{Mapping: m, NoStores: true}, secrets.Guard{}, render.Layout{})
}
