package populate

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
)

// The field cases (testdata/field-cases, copied from the shared field cases, each with its
// EXPECTED.md) are rendered as a user would: the pinned helmfile and helm of ./bin, the
// secrets conversion, config-root written; then populate fills the real Vault.

// renderFieldCase copies field case name into a temporary folder, renders it into its
// config-root and returns the repo and the conversion's report.
func renderFieldCase(t *testing.T, name string) (string, secrets.Report) {
	t.Helper()
	testutil.ToolsEnv(t)
	repo := testutil.CopyDir(t, filepath.Join("testdata", "field-cases", name))
	m, err := secrets.LoadMapping(repo, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: m}}
	if _, err := render.Render(context.Background(), render.Options{
		Source: repo, Helmfile: testutil.Tool(t, "helmfile"), Filters: conv.Filters(),
	}); err != nil {
		t.Fatal(err)
	}
	return repo, conv.Report
}

// fieldCaseOptions are populate's options for a rendered field case: the real Vault, and
// helmfile for the rendered values.
func fieldCaseOptions(t *testing.T, repo string, log *leaks) Options {
	o := options(repo, log)
	o.Render.Helmfile = testutil.Tool(t, "helmfile")
	return o
}

// TestFieldCase08BinarySecret: a Java keystore in a Secret (not UTF-8) gets
// decodingStrategy: Base64, populate stores it base64 in Vault, and what ESO reads back and
// decodes is keystore.bin byte for byte; the text password is stored as it is.
func TestFieldCase08BinarySecret(t *testing.T) {
	var log leaks
	repo, report := renderFieldCase(t, "08-binary-secret")
	keystore, err := os.ReadFile(filepath.Join(repo, "keystore.bin"))
	if err != nil {
		t.Fatal(err)
	}
	log.secret(base64.StdEncoding.EncodeToString(keystore))
	log.secret("changeit")

	entries := externalSecretEntries(t, repo, "namespaces/payments/payments/payments-keystore-externalsecret.yaml")
	if len(entries) != 2 {
		t.Fatalf("%d spec.data entries, want 2", len(entries))
	}
	strategies := map[string]string{}
	for _, d := range entries {
		strategies[d.SecretKey] = d.RemoteRef.DecodingStrategy
	}
	if strategies["keystore.jks"] != secrets.DecodingBase64 || strategies["keystore-password"] != "" {
		t.Fatalf("decoding strategies %v: keystore.jks must read base64, keystore-password as it is", strategies)
	}
	if strings.Join(report.Binary, ",") != "payments/payments-keystore keystore.jks" {
		t.Errorf("report.Binary %v", report.Binary)
	}

	res, err := Populate(context.Background(), fieldCaseOptions(t, repo, &log))
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	stores := &backendStores{}
	for _, d := range entries {
		got, err := stores.esoReads(t, secrets.Vault, d)
		if err != nil {
			t.Fatalf("%s: ESO would fail: %v", d.SecretKey, err)
		}
		want := keystore
		if d.SecretKey == "keystore-password" {
			want = []byte("changeit")
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: ESO puts %d bytes into the Secret, not the %d rendered", d.SecretKey, len(got), len(want))
		}
	}
	data, _ := kv(t, "payments/keystore")
	if data["keystore.jks"] != base64.StdEncoding.EncodeToString(keystore) {
		t.Error("Vault does not hold the keystore as base64")
	}
	log.check(t)
}

// TestFieldCase17JenkinsXPlaceholders: the Secrets the SecretMapping names are converted
// although the chart renders them empty (lighthouse-hmac-token at the rule's remote key and
// property; knative-docker-user-pass with its type and tekton annotation in the template);
// the controller-filled webhook-serving-cert, which no rule names, stays a Secret. Populate
// does not store the empty placeholders as values: with only `rendered` declared they are
// reported missing, and with sources declared they are filled.
func TestFieldCase17JenkinsXPlaceholders(t *testing.T) {
	var log leaks
	repo, report := renderFieldCase(t, "17-jx-empty-secret-with-mapping")
	root := filepath.Join(repo, "config-root")
	hmac := readFile(t, filepath.Join(root, "namespaces/jx/jxboot-helmfile-resources/lighthouse-hmac-token-externalsecret.yaml"))
	knative := readFile(t, filepath.Join(root, "namespaces/jx/jxboot-helmfile-resources/knative-docker-user-pass-externalsecret.yaml"))
	readFile(t, filepath.Join(root, "namespaces/jx/jxboot-helmfile-resources/webhook-serving-cert-secret.yaml"))
	for _, gone := range []string{"lighthouse-hmac-token-secret.yaml", "knative-docker-user-pass-secret.yaml"} {
		if _, err := os.Stat(filepath.Join(root, "namespaces/jx/jxboot-helmfile-resources", gone)); err == nil {
			t.Errorf("%s is still in config-root", gone)
		}
	}
	hmacEntries := externalSecretEntries(t, repo, "namespaces/jx/jxboot-helmfile-resources/lighthouse-hmac-token-externalsecret.yaml")
	if len(hmacEntries) != 1 || hmacEntries[0].RemoteRef.Key != "secret/data/lighthouse/hmac" || hmacEntries[0].RemoteRef.Property != "token" {
		t.Errorf("lighthouse-hmac-token entries %+v:\n%s", hmacEntries, hmac)
	}
	for _, want := range []string{"type: kubernetes.io/basic-auth", "tekton.dev/docker-0: https://registry.example.com", "key: secret/data/jx/pipelineUser", "property: token", "property: username"} {
		if !strings.Contains(knative, want) {
			t.Errorf("knative-docker-user-pass lacks %q:\n%s", want, knative)
		}
	}
	if strings.Join(report.Placeholders, " ") != "jx/lighthouse-hmac-token jx/knative-docker-user-pass" || strings.Join(report.Empty, " ") != "jx/webhook-serving-cert" {
		t.Errorf("placeholders %v, kept empty %v", report.Placeholders, report.Empty)
	}
	if len(report.Warnings) != 0 {
		t.Errorf("warnings %q", report.Warnings)
	}

	// The repo declares nothing; with the render as the source, the empty placeholders are
	// missing values, reported, never written.
	if err := os.MkdirAll(filepath.Join(repo, ".configroot"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeSources := func(content string) {
		if err := os.WriteFile(filepath.Join(repo, SourcesFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeSources("default: {rendered: true}\n")
	res, err := Populate(context.Background(), fieldCaseOptions(t, repo, &log))
	log.record(res, err)
	if !errors.Is(err, ErrNoSource) || res.Count(NoSource) != 3 || !strings.Contains(err.Error(), "rendered empty") {
		t.Fatalf("placeholders with the render as source: %v, %v", statuses(res), err)
	}
	if !strings.Contains(log.String(), "only empty placeholders") {
		t.Errorf("no warning says why:\n%s", log.String())
	}
	for _, p := range []string{"lighthouse/hmac", "jx/pipelineUser"} {
		if data, _ := kv(t, p); data != nil {
			t.Errorf("secret/%s was written from empty placeholders", p)
		}
	}

	// With sources, as jx secret populate would ask for them, every key is filled.
	t.Setenv("JX_PIPELINE_USER", log.secret("17x-pipeline-user"))
	t.Setenv("JX_PIPELINE_TOKEN", log.secret("17x-pipeline-Token"))
	writeSources(`secrets:
  - name: lighthouse-hmac-token
    keys: {hmac: {hmac: {bytes: 20}}}
  - name: knative-docker-user-pass
    keys:
      username: {ref: "ref+envsubst://$JX_PIPELINE_USER"}
      password: {ref: "ref+envsubst://$JX_PIPELINE_TOKEN"}
`)
	res, err = Populate(context.Background(), fieldCaseOptions(t, repo, &log))
	log.record(res, err)
	if err != nil || res.Count(Written) != 3 {
		t.Fatalf("with sources: %v, %v", statuses(res), err)
	}
	user, _ := kv(t, "jx/pipelineUser")
	if user["username"] != "17x-pipeline-user" || user["token"] != "17x-pipeline-Token" {
		t.Error("secret/jx/pipelineUser does not hold the declared username and token")
	}
	if h, _ := kv(t, "lighthouse/hmac"); len(h["token"].(string)) != 40 {
		t.Error("secret/lighthouse/hmac#token is not a 20-byte hex HMAC key")
	} else {
		log.secret(h["token"].(string))
	}
	log.check(t)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFieldCase04AliasesInPopulate: a Secret value written as a YAML alias (replica-username:
// *user) is the anchored value, so populate with `rendered: true` stores app-user for
// replica-username, like username, not the anchor's name. The render's reader resolves
// aliases (modules/render/read.go); this proves what reaches the store.
func TestFieldCase04AliasesInPopulate(t *testing.T) {
	var log leaks
	repo, _ := renderFieldCase(t, "04-yaml-anchors")
	entries := externalSecretEntries(t, repo, "namespaces/apps/anchored/anchor-creds-externalsecret.yaml")
	var keys []string
	for _, d := range entries {
		keys = append(keys, d.SecretKey)
	}
	if strings.Join(keys, " ") != "password replica-username username" {
		t.Fatalf("anchor-creds entries %v, want password, replica-username, username", keys)
	}
	log.secret("not-in-git")
	res, err := Populate(context.Background(), fieldCaseOptions(t, repo, &log))
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := kv(t, "anchor/creds")
	if data["username"] != "app-user" {
		t.Fatalf("username is %q, want app-user", data["username"])
	}
	if data["replica-username"] != "app-user" {
		t.Errorf("replica-username is %q, want app-user (the aliased value, not the anchor's name)", data["replica-username"])
	}
	if data["password"] != "not-in-git" {
		t.Error("password is not the rendered value")
	}
	log.check(t)
}
