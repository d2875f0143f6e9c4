package secrets_test

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// keystore is the start of a Java keystore (magic 0xFEEDFEED, then bytes that are not UTF-8),
// as field case 08 renders it.
var keystore = []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0xff, 0x80, 0x7f, 0xc3, '(', 'k', 'e', 'y', 's', 't', 'o', 'r', 'e'}

// binarySecret holds a binary key, a text key, a UTF-8 key with multi-byte characters, an
// empty key, and a data key whose binary value stringData overrides with text (stringData
// wins, as in the API server).
var binarySecret = "apiVersion: v1\nkind: Secret\nmetadata: {name: payments-keystore}\ntype: Opaque\ndata:\n" +
	"  keystore.jks: " + base64.StdEncoding.EncodeToString(keystore) + "\n" +
	"  keystore-password: " + base64.StdEncoding.EncodeToString([]byte("changeit")) + "\n" +
	"  greeting: " + base64.StdEncoding.EncodeToString([]byte("grüße 😀")) + "\n" +
	"  empty: \"\"\n" +
	"  overridden: " + base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}) + "\n" +
	"stringData:\n  overridden: now text\n"

// TestConvertBinaryValues: a value that is not UTF-8 gets decodingStrategy Base64 on its entry
// in every backend but local (a Kubernetes Secret holds bytes), decided from the bytes alone;
// text values keep none. The entries validate against ESO's CRD.
func TestConvertBinaryValues(t *testing.T) {
	schema := crdSchema(t, filepath.Join(testutil.GoModuleDir(t, testutil.ExternalSecretsModule), "config", "crds", "bases", "external-secrets.io_externalsecrets.yaml"), "v1")
	for _, b := range secrets.Backends {
		t.Run(string(b), func(t *testing.T) {
			m, err := secrets.ParseMapping("m.yaml", []byte(mappingFor(b)), nil)
			if err != nil {
				t.Fatal(err)
			}
			var report secrets.Report
			files, err := convertWith(secrets.Converter{Mapping: m, Report: &report}, binarySecret)
			if err != nil {
				t.Fatal(err)
			}
			data := files["namespaces/apps/web/payments-keystore-externalsecret.yaml"]
			var es esoExternalSecret
			if err := yaml.Unmarshal(data, &es); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, d := range es.Spec.Data {
				got[d.SecretKey] = d.RemoteRef.DecodingStrategy
			}
			want := map[string]string{"keystore.jks": secrets.DecodingBase64, "keystore-password": "", "greeting": "", "empty": "", "overridden": ""}
			if b == secrets.Local {
				want["keystore.jks"] = ""
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: decodingStrategy %q, want %q", k, got[k], w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("entries %v", got)
			}
			if wantBinary := "apps/payments-keystore keystore.jks"; b != secrets.Local && strings.Join(report.Binary, ",") != wantBinary {
				t.Errorf("report.Binary %v", report.Binary)
			}
			var obj map[string]any
			if err := yaml.Unmarshal(data, &obj); err != nil {
				t.Fatal(err)
			}
			for _, e := range validate.NewSchemaValidator(schema, nil, "", strfmt.Default).Validate(jsonRoundTrip(t, obj)).Errors {
				t.Errorf("not valid against ESO's CRD: %v", e)
			}
			again, err := convertWith(secrets.Converter{Mapping: m}, binarySecret)
			if err != nil || string(again["namespaces/apps/web/payments-keystore-externalsecret.yaml"]) != string(data) {
				t.Errorf("a second conversion differs (%v)", err)
			}
		})
	}
}

// TestConvertBinaryLegacyIsAnError: kubernetes-external-secrets cannot deliver a binary value
// through a property (its Vault backend decodes isBinary into UTF-8 text), so the legacy
// format refuses one, naming the Secret and key; text-only Secrets convert.
func TestConvertBinaryLegacyIsAnError(t *testing.T) {
	for _, b := range []secrets.Backend{secrets.Vault, secrets.GCP, secrets.AWS, secrets.Azure, secrets.Alibaba} {
		m, err := secrets.ParseMapping("m.yaml", []byte(mappingFor(b)), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = convertWith(secrets.Converter{Mapping: m, Format: secrets.FormatLegacy}, binarySecret)
		if err == nil || !strings.Contains(err.Error(), "Secret apps/payments-keystore: key keystore.jks holds binary data") ||
			!strings.Contains(err.Error(), "--secrets-format eso") || strings.Contains(err.Error(), "changeit") {
			t.Errorf("%s: error %v", b, err)
		}
		text := strings.Replace(binarySecret, "  keystore.jks: "+base64.StdEncoding.EncodeToString(keystore)+"\n", "", 1)
		text = strings.Replace(text, "  overridden: "+base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe})+"\n", "", 1)
		if _, err := convertWith(secrets.Converter{Mapping: m, Format: secrets.FormatLegacy}, text); err != nil {
			t.Errorf("%s: text only: %v", b, err)
		}
	}
}

// placeholders is a render like Jenkins X's: credential Secrets with empty values that the
// mapping names, one a controller fills (no rule), and the neighbouring cases.
const placeholders = `apiVersion: v1
kind: Secret
metadata: {name: lighthouse-hmac-token}
type: Opaque
data: {hmac: ""}
---
apiVersion: v1
kind: Secret
metadata:
  name: knative-docker-user-pass
  annotations: {tekton.dev/docker-0: https://registry.example.com}
type: kubernetes.io/basic-auth
data: {username: "", password: ""}
---
apiVersion: v1
kind: Secret
metadata: {name: webhook-serving-cert}
type: Opaque
---
apiVersion: v1
kind: Secret
metadata: {name: unnamed-empty}
stringData: {token: ""}
---
apiVersion: v1
kind: Secret
metadata:
  name: named-but-excluded
  annotations: {secret.jenkins-x.io/convert-exclude: "true"}
stringData: {token: ""}
---
apiVersion: v1
kind: Secret
metadata: {name: named-without-keys}
`

const placeholderMapping = `apiVersion: secret.jenkins-x.io/v1alpha1
kind: SecretMapping
spec:
  defaults:
    backendType: vault
  secrets:
    - name: lighthouse-hmac-token
      namespace: apps
      mappings:
        - name: hmac
          key: secret/data/lighthouse/hmac
          property: token
    - name: knative-docker-user-pass
      mappings:
        - name: username
          key: secret/data/jx/pipelineUser
          property: username
        - name: password
          key: secret/data/jx/pipelineUser
          property: token
        - name: email
          key: secret/data/jx/pipelineUser
      unsecured:
        - username
        - server
    - name: named-but-excluded
    - name: named-without-keys
    - name: never-rendered
`

// TestConvertPlaceholdersNamedByMapping: a Secret the mapping names is converted whatever its
// values; an empty one no rule names stays a Secret; a rule naming a Secret that is not
// converted (opted out, no keys, never rendered) or a key it lacks is a warning with the
// rule's file and line.
func TestConvertPlaceholdersNamedByMapping(t *testing.T) {
	m, err := secrets.ParseMapping("jx/secret-mappings.yaml", []byte(placeholderMapping), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []secrets.Format{secrets.FormatESO, secrets.FormatLegacy} {
		t.Run(string(format), func(t *testing.T) {
			var report secrets.Report
			files, err := convertWith(secrets.Converter{Mapping: m, Format: format, Report: &report}, placeholders)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(report.Converted, " "), "apps/lighthouse-hmac-token apps/knative-docker-user-pass"; got != want {
				t.Errorf("converted %q, want %q", got, want)
			}
			if got, want := strings.Join(report.Placeholders, " "), "apps/lighthouse-hmac-token apps/knative-docker-user-pass"; got != want {
				t.Errorf("placeholders %q, want %q", got, want)
			}
			if got, want := strings.Join(report.Empty, " "), "apps/webhook-serving-cert apps/unnamed-empty apps/named-without-keys"; got != want {
				t.Errorf("kept empty %q, want %q", got, want)
			}
			wantWarnings := []string{
				"jx/secret-mappings.yaml:21: the mapping maps key email of Secret apps/knative-docker-user-pass, which the Secret does not have",
				"jx/secret-mappings.yaml:25: the mapping keeps key server of Secret apps/knative-docker-user-pass unsecured, but the Secret does not have it",
				"jx/secret-mappings.yaml:26: the mapping names Secret apps/named-but-excluded, but secret.jenkins-x.io/convert-exclude (release apps/web: web/templates/s.yaml) opts it out: it stays a Secret, not converted",
				"jx/secret-mappings.yaml:27: the mapping names Secret apps/named-without-keys, but it has no data keys (release apps/web: web/templates/s.yaml): it stays a Secret, not converted",
				"jx/secret-mappings.yaml:28: the mapping names Secret never-rendered, which this render does not produce",
			}
			if got := strings.Join(report.Warnings, "\n"); got != strings.Join(wantWarnings, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", got, strings.Join(wantWarnings, "\n"))
			}
			for _, kept := range []string{"webhook-serving-cert-secret.yaml", "unnamed-empty-secret.yaml", "named-but-excluded-secret.yaml", "named-without-keys-secret.yaml"} {
				if _, ok := files["namespaces/apps/web/"+kept]; !ok {
					t.Errorf("%s is not kept as a Secret: %v", kept, files.Paths())
				}
			}
			hmac := string(files["namespaces/apps/web/lighthouse-hmac-token-externalsecret.yaml"])
			knative := string(files["namespaces/apps/web/knative-docker-user-pass-externalsecret.yaml"])
			for _, want := range []string{"key: secret/data/lighthouse/hmac", "property: token"} {
				if !strings.Contains(hmac, want) {
					t.Errorf("lighthouse-hmac-token lacks %q:\n%s", want, hmac)
				}
			}
			for _, want := range []string{"type: kubernetes.io/basic-auth", "tekton.dev/docker-0: https://registry.example.com", "key: secret/data/jx/pipelineUser"} {
				if !strings.Contains(knative, want) {
					t.Errorf("knative-docker-user-pass lacks %q:\n%s", want, knative)
				}
			}
		})
	}
}

// TestConvertPartialRenderWarnsOnlyAboutRenderedSecrets: with selectors, a rule naming a
// Secret of another release is not warned about; one naming an opted-out Secret still is.
func TestConvertPartialRenderWarnsOnlyAboutRenderedSecrets(t *testing.T) {
	m, err := secrets.ParseMapping("m.yaml", []byte(placeholderMapping), nil)
	if err != nil {
		t.Fatal(err)
	}
	var report secrets.Report
	if _, err := convertWith(secrets.Converter{Mapping: m, Report: &report, Partial: true}, placeholders); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(report.Warnings, "\n")
	if strings.Contains(all, "never-rendered") || !strings.Contains(all, "named-but-excluded") {
		t.Errorf("warnings:\n%s", all)
	}
}

// TestConvertSummary: the render's line about Secrets counts placeholders and binary keys.
func TestConvertSummary(t *testing.T) {
	m, err := secrets.ParseMapping("m.yaml", []byte(placeholderMapping), nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: m, NoStores: true}}
	nodes, _, err := render.ReadRendered(fstest.MapFS{
		"apps/web/web/templates/s.yaml": {Data: []byte(placeholders)},
		"pay/pay/pay/templates/s.yaml":  {Data: []byte(binarySecret)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render.LayoutFiles(nodes, append(conv.Filters(), render.Layout{})...); err != nil {
		t.Fatal(err)
	}
	want := "secrets: 3 converted into ExternalSecrets (stores: vault), 2 of them named by the mapping with only empty values (populate needs a source for their keys), " +
		"1 binary keys stored base64 (decodingStrategy Base64), 3 empty kept as Secrets"
	if got := conv.Summary(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

// mappingFor sends every Secret to backend b, with the settings its store needs.
func mappingFor(b secrets.Backend) string {
	return "kind: SecretMapping\nspec:\n  defaults:\n    backendType: " + string(b) + `
    gcpSecretsManager: {projectId: p}
    secretsManager: {region: eu-west-1}
    azureKeyVault: {keyVaultName: kv}
    alicloudSecretsManager: {region: cn-hangzhou}
`
}

// convertWith converts doc, rendered as release web in namespace apps, with c.
func convertWith(c secrets.Converter, doc string) (render.Files, error) {
	nodes, _, err := render.ReadRendered(fstest.MapFS{"apps/web/web/templates/s.yaml": {Data: []byte(doc)}})
	if err != nil {
		return nil, err
	}
	return render.LayoutFiles(nodes, c, secrets.Guard{}, render.Layout{})
}
