package populate

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/modules/render"
)

// binaryEntry is a vault ExternalSecret whose key reads the store's base64
// (decodingStrategy, or the legacy isBinary), with a text key beside it.
func binaryEntry(ns, name, strategy string) string {
	return `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target: {name: ` + name + `}
  data:
    - secretKey: keystore.jks
      remoteRef: {key: secret/data/` + strings.ReplaceAll(name, "-", "/") + `, property: keystore.jks, decodingStrategy: ` + strategy + `}
    - secretKey: password
      remoteRef: {key: secret/data/` + strings.ReplaceAll(name, "-", "/") + `, property: password}
`
}

// TestPopulateWrongFormIsReported: a value already in the store in a form its entry cannot
// decode (text, as an older populate stored a binary value) is reported, not rewritten, and
// the run exits with ErrWrongForm after writing the rest; --overwrite replaces it with base64.
func TestPopulateWrongFormIsReported(t *testing.T) {
	var log leaks
	corrupted := log.secret("\ufffd\ufffd\ufffd\ufffd\x00\x00\x00\x02\ufffd\ufffd\x7f\ufffd(keystore")
	putKV(t, "wrong/form", map[string]any{"keystore.jks": corrupted})
	_, version := kv(t, "wrong/form")
	keystore := []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0xff, 0x80, 0x7f}
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": binaryEntry("ns", "wrong-form", "Base64"),
		"rendered/ns/wf/chart/templates/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: wrong-form}\ndata:\n  keystore.jks: " +
			base64.StdEncoding.EncodeToString(keystore) + "\n  password: " + base64.StdEncoding.EncodeToString([]byte(log.secret("61x-wrongform-Password"))) + "\n",
		SourcesFile: "default: {rendered: true}\n",
	})
	o := options(repo, &log)
	o.Render = render.Options{Rendered: filepath.Join(repo, "rendered")}
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if !errors.Is(err, ErrWrongForm) || !strings.Contains(err.Error(), "ns/wrong-form keystore.jks (secret/data/wrong/form#keystore.jks, decodingStrategy Base64)") {
		t.Fatalf("error %v", err)
	}
	if st := statuses(res); st["ns/wrong-form keystore.jks"] != WrongForm || st["ns/wrong-form password"] != Written {
		t.Fatalf("statuses %v", st)
	}
	data, _ := kv(t, "wrong/form")
	if data["keystore.jks"] != corrupted || data["password"] != "61x-wrongform-Password" {
		t.Error("the value in the wrong form was rewritten, or the other one not written")
	}
	if _, v := kv(t, "wrong/form"); v != version+1 {
		t.Errorf("version %d, want %d (one write, for the password)", v, version+1)
	}

	o.Overwrite = true
	res, err = Populate(context.Background(), o)
	log.record(res, err)
	if err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if data, _ := kv(t, "wrong/form"); data["keystore.jks"] != base64.StdEncoding.EncodeToString(keystore) {
		t.Error("--overwrite did not store the keystore as base64")
	}
	log.check(t)
}

// TestPopulateBinaryValueForTextEntry: a binary value for an entry that reads text (no
// decodingStrategy: config-root rendered by an older configroot, or a hand-written entry)
// would be corrupted by the store: an error naming the entry, and nothing is written.
func TestPopulateBinaryValueForTextEntry(t *testing.T) {
	var log leaks
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("ns", "text-entry", "keystore.jks", "other"),
		"keystore.jks":       "\xfe\xed\xfe\xed\x00\x00\x00\x02\xff\x80",
		SourcesFile: `secrets:
  - name: text-entry
    keys:
      keystore.jks: {ref: "ref+file://./keystore.jks"}
      other: {password: {}}
`,
	})
	t.Chdir(repo)
	res, err := Populate(context.Background(), options(repo, &log))
	log.record(res, err)
	if err == nil || !strings.Contains(err.Error(), "Secret ns/text-entry key keystore.jks") || !strings.Contains(err.Error(), "the value is binary (not UTF-8 text)") ||
		!strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("error %v", err)
	}
	if data, _ := kv(t, "text/entry"); data != nil {
		t.Fatal("values were written")
	}
	log.check(t)
}

// TestPopulateDecodingStrategies: each strategy gets the form it decodes (Base64URL the URL
// alphabet, Auto standard base64, the legacy isBinary base64, None the value as it is), and
// an unknown strategy is an error naming the file and the entry.
func TestPopulateDecodingStrategies(t *testing.T) {
	var log leaks
	value := "\xfb\xff\xbf binary+/ \x00"
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": strings.NewReplacer("property: url}", "property: url, decodingStrategy: Base64URL}", "property: auto}", "property: auto, decodingStrategy: Auto}",
			"property: none}", "property: none, decodingStrategy: None}").Replace(externalSecret("ns", "decode-all", "url", "auto", "none")) + "---\n" +
			strings.ReplaceAll(externalSecret("ns", "decode-auto", "auto"), "property: auto}", "property: auto, decodingStrategy: Auto}") + "---\n" + `apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: {name: decode-legacy, namespace: ns}
spec:
  backendType: vault
  data:
    - {name: bin, key: secret/data/decode/legacy, property: bin, isBinary: true}
`,
		"value.bin": value,
		"text.txt":  log.secret("35x-decode-Text"),
		SourcesFile: "secrets:\n  - name: decode-all\n    keys: {url: {ref: \"ref+file://./value.bin\"}, auto: {ref: \"ref+file://./text.txt\"}, none: {ref: \"ref+file://./text.txt\"}}\n" +
			"  - name: decode-auto\n    keys: {auto: {ref: \"ref+file://./value.bin\"}}\n  - name: decode-legacy\n    keys: {bin: {ref: \"ref+file://./value.bin\"}}\n",
	})
	t.Chdir(repo)
	res, err := Populate(context.Background(), options(repo, &log))
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := kv(t, "decode/all")
	auto, _ := kv(t, "decode/auto")
	legacy, _ := kv(t, "decode/legacy")
	if all["url"] != base64.URLEncoding.EncodeToString([]byte(value)) || all["none"] != "35x-decode-Text" ||
		all["auto"] != base64.StdEncoding.EncodeToString([]byte("35x-decode-Text")) {
		t.Errorf("decode/all holds the wrong forms: url %v, none %v, auto %v", all["url"] == base64.URLEncoding.EncodeToString([]byte(value)),
			all["none"] == "35x-decode-Text", all["auto"] == base64.StdEncoding.EncodeToString([]byte("35x-decode-Text")))
	}
	if auto["auto"] != base64.StdEncoding.EncodeToString([]byte(value)) || legacy["bin"] != base64.StdEncoding.EncodeToString([]byte(value)) {
		t.Errorf("Auto or isBinary did not get standard base64")
	}

	bad := writeRepo(t, map[string]string{
		"config-root/b.yaml": strings.ReplaceAll(externalSecret("ns", "decode-bad", "k"), "property: k}", "property: k, decodingStrategy: Hex}"),
	})
	_, err = Populate(context.Background(), options(bad, &log))
	if err == nil || !strings.Contains(err.Error(), `b.yaml: ExternalSecret ns/decode-bad: spec.data[0] (k): remoteRef.decodingStrategy "Hex" is not one of None, Base64, Base64URL, Auto`) {
		t.Fatalf("unknown strategy: %v", err)
	}
	log.check(t)
}

// TestPopulateOneFieldOneForm: two entries reading one store field with decodings that want
// different forms are an error before anything is written.
func TestPopulateOneFieldOneForm(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": binaryEntry("ns", "one-form", "Base64") + "---\n" +
			strings.Replace(externalSecret("other", "one-form", "keystore.jks"), "name: one-form\n  namespace: other", "name: one-form-text\n  namespace: other", 1),
		SourcesFile: "default: {password: {}}\n",
	})
	res, err := Populate(context.Background(), options(repo, &leaks{}))
	if err == nil || !strings.Contains(err.Error(), "secret/data/one/form#keystore.jks") || !strings.Contains(err.Error(), "one field holds one form") ||
		!strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("error %v (%v)", err, statuses(res))
	}
	if data, _ := kv(t, "one/form"); data != nil {
		t.Fatal("written")
	}
}

// TestPopulateWritesWhereTheProviderReads: populate writes the field the property reads
// (an escaped property names its unescaped field), and warns about a hand-written property
// that the provider reads as a query.
func TestPopulateWritesWhereTheProviderReads(t *testing.T) {
	var log leaks
	stores := newBackendStores(t)
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: fields, namespace: ns}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: gcp-secrets-manager}
  target: {name: fields}
  data:
    - {secretKey: dockerconfig, remoteRef: {key: fields, property: '\.dockerconfigjson'}}
    - {secretKey: star, remoteRef: {key: fields, property: 'a\*b'}}
    - {secretKey: query, remoteRef: {key: fields, property: 'x*y'}}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: gcp-secrets-manager}
spec:
  provider:
    gcpsm: {projectID: acme}
`,
		SourcesFile: "default: {password: {}}\n",
	})
	o := options(repo, &log)
	o.Open = stores.open
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := stores.gcp.Payload("projects/acme/secrets/fields")
	for _, field := range []string{`".dockerconfigjson":`, `"a*b":`, `"x*y":`} {
		if !strings.Contains(string(payload), field) {
			t.Errorf("the remote secret has no field %s", field)
		}
	}
	paths := map[string]string{}
	for _, it := range res.Items {
		paths[it.Key] = it.StorePath
	}
	if paths["dockerconfig"] != "projects/acme/secrets/fields#.dockerconfigjson" || paths["star"] != "projects/acme/secrets/fields#a*b" {
		t.Errorf("store paths %v", paths)
	}
	want := `a.yaml: ExternalSecret ns/fields key query: the gcpsm provider reads remoteRef.property "x*y" as a gjson query, which may select another field than "x*y", the one populate writes; to read exactly that field, write the property as "x\\*y"`
	if len(res.Warnings) != 1 || !strings.HasSuffix(res.Warnings[0], want) {
		t.Errorf("warnings %q, want one ending %q", res.Warnings, want)
	}
	log.check(t)
}

// TestPopulateEmptyKeyOfASecretWithData: an empty key of a rendered Secret that has data is a
// value (ESO needs the field to sync the Secret); only a Secret of empty placeholders is not.
func TestPopulateEmptyKeyOfASecretWithData(t *testing.T) {
	var log leaks
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("ns", "empty-key", "password", "ca.crt"),
		"rendered/ns/ek/chart/templates/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: empty-key}\nstringData:\n  password: " +
			log.secret("24x-emptykey-Password") + "\n  ca.crt: \"\"\n",
		SourcesFile: "default: {rendered: true}\n",
	})
	o := options(repo, &log)
	o.Render = render.Options{Rendered: filepath.Join(repo, "rendered")}
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if err != nil || res.Count(Written) != 2 {
		t.Fatalf("%v, %v", statuses(res), err)
	}
	if data, _ := kv(t, "empty/key"); data["ca.crt"] != "" || data["password"] != "24x-emptykey-Password" {
		t.Error("the empty key or the password was not written")
	}
	log.check(t)
}
