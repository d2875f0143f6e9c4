package secrets_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// inputValues are the secret values of testdata/convert/input: none may reach config-root.
var inputValues = []string{"correct-horse-battery-staple", "super-secret-password", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUUK", "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"}

// convert lays out testdata/convert/input with the mapping of one backend.
func convert(t *testing.T, backend secrets.Backend, format secrets.Format, report *secrets.Report) (render.Files, error) {
	t.Helper()
	file := filepath.Join("testdata", "convert", "mapping-"+string(backend)+".yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := secrets.ParseMapping(file, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := render.ReadRendered(os.DirFS(filepath.Join("testdata", "convert", "input")))
	if err != nil {
		t.Fatal(err)
	}
	var allowed []string
	return render.LayoutFiles(nodes,
		secrets.Converter{Mapping: m, Format: format, Report: report},
		secrets.Guard{AllowedOut: &allowed},
		render.Layout{})
}

// TestConvertGolden converts the same render for every backend in both formats and compares
// config-root with testdata/convert/golden/<format>/<backend>.
func TestConvertGolden(t *testing.T) {
	for _, format := range []secrets.Format{secrets.FormatESO, secrets.FormatLegacy} {
		for _, backend := range secrets.Backends {
			if format == secrets.FormatLegacy && backend == secrets.Local {
				continue // an error, tested below
			}
			t.Run(fmt.Sprintf("%s/%s", format, backend), func(t *testing.T) {
				var report secrets.Report
				files, err := convert(t, backend, format, &report)
				if err != nil {
					t.Fatal(err)
				}
				got := t.TempDir()
				if _, err := render.WriteAtomic(filepath.Join(got, "config-root"), files); err != nil {
					t.Fatal(err)
				}
				testutil.CompareGolden(t, filepath.Join("testdata", "convert", "golden", string(format), string(backend)),
					filepath.Join(got, "config-root"), "go test ./modules/secrets -run TestConvertGolden -update")

				for p, data := range files {
					for _, v := range inputValues {
						if strings.Contains(string(data), v) {
							t.Errorf("%s holds a secret value", p)
						}
					}
				}
				if want := "apps/webapp-db apps/webapp-tls monitoring/grafana-admin"; strings.Join(report.Converted, " ") != want {
					t.Errorf("converted %v, want %s", report.Converted, want)
				}
				if want := "apps/webapp-webhook-cert"; strings.Join(report.Empty, " ") != want {
					t.Errorf("kept empty %v, want %s", report.Empty, want)
				}
				if want := "apps/webapp-public-config"; strings.Join(report.OptedOut, " ") != want {
					t.Errorf("opted out %v, want %s", report.OptedOut, want)
				}
				if backend == secrets.Alibaba && !strings.Contains(strings.Join(report.Warnings, "\n"), "ESO 2.0") &&
					!strings.Contains(strings.Join(report.Warnings, "\n"), "Operator 2.0 removed the Alibaba provider") {
					t.Errorf("no warning about Alibaba: %v", report.Warnings)
				}
			})
		}
	}
}

// TestESOSchema validates every ExternalSecret and ClusterSecretStore the ESO format gives
// against the real CRDs of External Secrets v0.16.2 (read from its Go module at test time),
// rejecting fields the schema does not define (the API server would silently drop them).
func TestESOSchema(t *testing.T) {
	crds := filepath.Join(testutil.GoModuleDir(t, testutil.ExternalSecretsModule), "config", "crds", "bases")
	schemas := map[string]*spec.Schema{
		"ExternalSecret":     crdSchema(t, filepath.Join(crds, "external-secrets.io_externalsecrets.yaml"), "v1"),
		"ClusterSecretStore": crdSchema(t, filepath.Join(crds, "external-secrets.io_clustersecretstores.yaml"), "v1"),
	}
	checked := map[string]int{}
	for _, backend := range secrets.Backends {
		files, err := convert(t, backend, secrets.FormatESO, nil)
		if err != nil {
			t.Fatal(err)
		}
		for p, data := range files {
			n, err := yaml.Parse(string(data))
			if err != nil {
				t.Fatal(err)
			}
			schema, ok := schemas[n.GetKind()]
			if !ok {
				continue
			}
			if n.GetApiVersion() != "external-secrets.io/v1" {
				t.Errorf("%s: apiVersion %s", p, n.GetApiVersion())
			}
			var obj map[string]any
			if err := yaml.Unmarshal(data, &obj); err != nil {
				t.Fatal(err)
			}
			obj = jsonRoundTrip(t, obj)
			res := validate.NewSchemaValidator(schema, nil, "", strfmt.Default).Validate(obj)
			for _, e := range res.Errors {
				t.Errorf("%s (%s): %v", p, backend, e)
			}
			for _, u := range unknownFields(schema, obj, "") {
				t.Errorf("%s (%s): field %s is not in the CRD schema", p, backend, u)
			}
			checked[n.GetKind()]++
		}
	}
	if checked["ExternalSecret"] != 3*len(secrets.Backends) || checked["ClusterSecretStore"] != len(secrets.Backends) {
		t.Errorf("validated %v", checked)
	}
}

func jsonRoundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// crdSchema reads the openAPIV3Schema of one version of a CRD.
func crdSchema(t *testing.T, file, version string) *spec.Schema {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				}
			}
		}
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(raw)
	if err := json.Unmarshal(js, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == version {
			js, _ := json.Marshal(v.Schema.OpenAPIV3Schema)
			var s spec.Schema
			if err := json.Unmarshal(js, &s); err != nil {
				t.Fatal(err)
			}
			return &s
		}
	}
	t.Fatalf("%s has no version %s", file, version)
	return nil
}

// unknownFields lists the object fields of v that schema does not define, where it neither
// allows additional properties nor preserves unknown fields.
func unknownFields(schema *spec.Schema, v any, path string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if preserve, _ := schema.Extensions["x-kubernetes-preserve-unknown-fields"].(bool); preserve {
			return nil
		}
		if schema.AdditionalProperties != nil && schema.AdditionalProperties.Schema != nil {
			for k, item := range v {
				out = append(out, unknownFields(schema.AdditionalProperties.Schema, item, path+"."+k)...)
			}
			return out
		}
		if path == ".metadata" || (schema.AdditionalProperties != nil && schema.AdditionalProperties.Allows) {
			return nil
		}
		for k, item := range v {
			prop, ok := schema.Properties[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, unknownFields(&prop, item, path+"."+k)...)
		}
	case []any:
		if schema.Items != nil && schema.Items.Schema != nil {
			for i, item := range v {
				out = append(out, unknownFields(schema.Items.Schema, item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return out
}

func TestLegacyLocalIsAnError(t *testing.T) {
	_, err := convert(t, secrets.Local, secrets.FormatLegacy, nil)
	if err == nil || !strings.Contains(err.Error(), "local backend needs the eso format") ||
		!strings.Contains(err.Error(), "Secret apps/webapp-db") {
		t.Fatalf("error %v", err)
	}
}

func TestConvertWarnsAboutUnusedRules(t *testing.T) {
	m, err := secrets.ParseMapping("m.yaml", []byte(`kind: SecretMapping
spec:
  secrets:
    - name: grafana-admin
      namespace: monitoring
    - name: no-such-secret
      namespace: apps
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := render.ReadRendered(os.DirFS(filepath.Join("testdata", "convert", "input")))
	if err != nil {
		t.Fatal(err)
	}
	var report secrets.Report
	if _, err := render.LayoutFiles(nodes, secrets.Converter{Mapping: m, Report: &report}, render.Layout{}); err != nil {
		t.Fatal(err)
	}
	want := "m.yaml:6: the mapping names Secret apps/no-such-secret, which this render does not produce"
	if strings.Join(report.Warnings, "\n") != want {
		t.Errorf("warnings %q, want %q", report.Warnings, want)
	}
}

func TestConvertNeedsStoreSettings(t *testing.T) {
	m, err := secrets.ParseMapping("m.yaml", []byte("kind: SecretMapping\nspec:\n  defaults:\n    backendType: gcpSecretsManager\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := render.ReadRendered(os.DirFS(filepath.Join("testdata", "convert", "input")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = render.LayoutFiles(nodes, secrets.Converter{Mapping: m}, render.Layout{})
	if err == nil || !strings.Contains(err.Error(), "m.yaml: ClusterSecretStore gcp-secrets-manager: gcpSecretsManager.projectId is required, in spec.defaults or in the rule of the Secret") {
		t.Fatalf("error %v", err)
	}
	if _, err := render.LayoutFiles(nodes, secrets.Converter{Mapping: m, NoStores: true}, render.Layout{}); err != nil {
		t.Fatalf("without stores: %v", err)
	}
}

func TestStorePerSettings(t *testing.T) {
	m, err := secrets.ParseMapping("m.yaml", []byte(`kind: SecretMapping
spec:
  defaults:
    backendType: secretsManager
    secretsManager: {region: us-east-1}
  secrets:
    - name: grafana-admin
      secretsManager: {region: eu-west-1}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := render.ReadRendered(os.DirFS(filepath.Join("testdata", "convert", "input")))
	if err != nil {
		t.Fatal(err)
	}
	var report secrets.Report
	files, err := render.LayoutFiles(nodes, secrets.Converter{Mapping: m, Report: &report}, render.Layout{})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Stores) != 2 || report.Stores[0] != "aws-secrets-manager" || !strings.HasPrefix(report.Stores[1], "aws-secrets-manager-") {
		t.Fatalf("stores %v", report.Stores)
	}
	es := string(files["namespaces/monitoring/grafana/grafana-admin-externalsecret.yaml"])
	if !strings.Contains(es, "name: "+report.Stores[1]) {
		t.Errorf("grafana-admin does not use the eu-west-1 store:\n%s", es)
	}
	store := string(files["cluster/resources/external-secrets/secret-stores/"+report.Stores[1]+"-clustersecretstore.yaml"])
	if !strings.Contains(store, "region: eu-west-1") {
		t.Errorf("store:\n%s", store)
	}
}

func TestConvertVaultPathAndTemplateEscaping(t *testing.T) {
	m, err := secrets.ParseMapping("m.yaml", []byte("kind: SecretMapping\nspec:\n  defaults:\n    backendType: vault\n    vault: {path: kv}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := render.ReadRendered(fstest.MapFS{"apps/web/web/templates/s.yaml": {Data: []byte(
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-db\n  annotations: {note: \"{{ not a template }}\"}\nstringData: {password: p}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.LayoutFiles(nodes, secrets.Converter{Mapping: m}, render.Layout{})
	if err != nil {
		t.Fatal(err)
	}
	es := string(files["namespaces/apps/web/web-db-externalsecret.yaml"])
	for _, want := range []string{"key: kv/data/web/db", `note: '{{ "{{" }} not a template }}'`} {
		if !strings.Contains(es, want) {
			t.Errorf("missing %q in:\n%s", want, es)
		}
	}
}
