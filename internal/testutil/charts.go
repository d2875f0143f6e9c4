package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Real charts used by the tests, from Go modules served by the module proxy.
const (
	ExternalSecretsModule = "github.com/external-secrets/external-secrets@v0.16.2"
	CertManagerModule     = "github.com/cert-manager/cert-manager@v1.18.2"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// ExternalSecretsChart copies the External Secrets chart of ExternalSecretsModule into
// dir/external-secrets and adds what its release process would: the OCI dependency is
// dropped (no registry is reachable here) and the CRDs of config/crds/bases go to crds/.
func ExternalSecretsChart(t testing.TB, dir string) string {
	t.Helper()
	mod := GoModuleDir(t, ExternalSecretsModule)
	chart := copyInto(t, filepath.Join(mod, "deploy", "charts", "external-secrets"), filepath.Join(dir, "external-secrets"))
	editYAML(t, filepath.Join(chart, "Chart.yaml"), func(n *yaml.RNode) error {
		return n.PipeE(yaml.Clear("dependencies"))
	})
	if err := os.Remove(filepath.Join(chart, "Chart.lock")); err != nil {
		t.Fatal(err)
	}
	copyGlob(t, filepath.Join(mod, "config", "crds", "bases", "*.yaml"), filepath.Join(chart, "crds"))
	return chart
}

// CertManagerChart copies the cert-manager chart of CertManagerModule into
// dir/cert-manager, builds Chart.yaml from Chart.template.yaml, and copies the CRD
// templates of deploy/crds into templates/ (rendered when crds.enabled is true).
func CertManagerChart(t testing.TB, dir string) string {
	t.Helper()
	mod := GoModuleDir(t, CertManagerModule)
	version := CertManagerModule[strings.LastIndexByte(CertManagerModule, '@')+1:]
	chart := copyInto(t, filepath.Join(mod, "deploy", "charts", "cert-manager"), filepath.Join(dir, "cert-manager"))
	tmpl, err := os.ReadFile(filepath.Join(chart, "Chart.template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("{{IS_PRERELEASE}}", "false", "version: v0.0.0", "version: "+version,
		"appVersion: v0.0.0", "appVersion: "+version).Replace(string(tmpl))
	if err := os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	copyGlob(t, filepath.Join(mod, "deploy", "crds", "crd-*.yaml"), filepath.Join(chart, "templates"))
	return chart
}

func copyInto(t testing.TB, src, dst string) string {
	t.Helper()
	tmp := CopyDir(t, src)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyGlob(t testing.TB, pattern, dstDir string) {
	t.Helper()
	matches, err := filepath.Glob(pattern)
	if err != nil || len(matches) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		if filepath.Base(m) == "kustomization.yaml" {
			continue // config/crds/bases holds one; it is not a CRD
		}
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dstDir, filepath.Base(m)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func editYAML(t testing.TB, file string, edit func(*yaml.RNode) error) {
	t.Helper()
	n, err := yaml.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := edit(n); err != nil {
		t.Fatalf("edit %s: %v", file, err)
	}
	if err := yaml.WriteFile(n, file); err != nil {
		t.Fatal(err)
	}
}
