package secrets_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/modules/secrets"
)

func TestParseMappingErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"not a mapping kind", "apiVersion: v1\nkind: ConfigMap\n", `m.yaml:1: kind: "ConfigMap", want SecretMapping`},
		{"no spec", "kind: SecretMapping\n", "m.yaml:1: spec: missing"},
		{"unknown default backend", "kind: SecretMapping\nspec:\n  defaults:\n    backendType: keepass\n",
			`m.yaml:4: spec.defaults.backendType: unknown backend "keepass" (want one of vault, gcpSecretsManager, secretsManager, azureKeyVault, alicloudSecretsManager, local)`},
		{"unknown secret backend", "kind: SecretMapping\nspec:\n  secrets:\n    - name: db\n      backendType: onepassword\n",
			`m.yaml:4: spec.secrets[0].backendType: unknown backend "onepassword" for Secret db`},
		{"secret without name", "kind: SecretMapping\nspec:\n  secrets:\n    - backendType: vault\n", "m.yaml:4: spec.secrets[0].name: missing"},
		{"mapping without name", "kind: SecretMapping\nspec:\n  secrets:\n    - name: db\n      mappings:\n        - key: x\n",
			"m.yaml:4: spec.secrets[0].mappings[0].name: missing (the data key of Secret db)"},
		{"secret mapped twice", "kind: SecretMapping\nspec:\n  secrets:\n    - name: db\n    - name: db\n", "m.yaml:5: spec.secrets[1]: Secret db is also mapped at line 4"},
		{"key mapped twice", "kind: SecretMapping\nspec:\n  secrets:\n    - name: db\n      mappings: [{name: a}, {name: a}]\n", "key a of Secret db is mapped twice"},
		{"bad YAML", "kind: SecretMapping\nspec: [\n", "m.yaml: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secrets.ParseMapping("m.yaml", []byte(tc.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseMappingWarnsAboutUnknownFields(t *testing.T) {
	var warnings []string
	m, err := secrets.ParseMapping("m.yaml", []byte(`apiVersion: secret.jenkins-x.io/v1alpha1
kind: SecretMapping
spec:
  defaults:
    backendType: gcpSecretsManager
    gcpSecretsManager:
      projectId: p
      region: eu
  secrets:
    - name: db
      namespce: apps
`), func(s string) { warnings = append(warnings, s) })
	if err != nil {
		t.Fatal(err)
	}
	want := "m.yaml:8: spec.defaults.gcpSecretsManager.region: unknown field, ignored\nm.yaml:11: spec.secrets[].namespce: unknown field, ignored"
	if got := strings.Join(warnings, "\n"); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
	if m.Defaults.BackendType != secrets.GCP || m.Defaults.GcpSecretsManager.ProjectID != "p" || m.Rule("apps", "db") == nil {
		t.Errorf("mapping %+v", m)
	}
}

func TestRuleMatching(t *testing.T) {
	m, err := secrets.ParseMapping("m.yaml", []byte(`kind: SecretMapping
spec:
  secrets:
    - name: db
      backendType: vault
    - name: db
      namespace: prod
      backendType: secretsManager
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Rule("prod", "db"); r == nil || r.BackendType != secrets.AWS {
		t.Errorf("prod/db: %+v", r)
	}
	if r := m.Rule("dev", "db"); r == nil || r.BackendType != secrets.Vault || r.Line() != 4 {
		t.Errorf("dev/db: %+v", r)
	}
	if r := m.Rule("dev", "cache"); r != nil {
		t.Errorf("dev/cache: %+v", r)
	}
}

func TestLoadMapping(t *testing.T) {
	dir := t.TempDir()
	m, err := secrets.LoadMapping(dir, "", nil)
	if err != nil || m.Defaults.BackendType != secrets.Vault {
		t.Fatalf("no file: %+v, %v", m, err)
	}
	if _, err := secrets.LoadMapping(dir, filepath.Join(dir, "missing.yaml"), nil); err == nil {
		t.Error("an explicit missing file is not an error")
	}
	file := filepath.Join(dir, filepath.FromSlash(secrets.MappingFile))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("kind: SecretMapping\nspec:\n  defaults:\n    backendType: azureKeyVault\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := secrets.LoadMapping(dir, "", nil); err != nil || m.Defaults.BackendType != secrets.Azure || m.File != file {
		t.Fatalf("file: %+v, %v", m, err)
	}
}
