package secrets_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
)

func TestGuardRefusesUnconvertedSecrets(t *testing.T) {
	nodes, _, err := render.ReadRendered(fstest.MapFS{
		"apps/web/web/templates/s.yaml": {Data: []byte(`apiVersion: v1
kind: Secret
metadata: {name: token}
data: {token: aHVudGVyMg==, empty: ""}
---
apiVersion: v1
kind: Secret
metadata: {name: kept, annotations: {secret.jenkins-x.io/convert-exclude: "true"}}
stringData: {url: https://example.com}
---
apiVersion: v1
kind: Secret
metadata: {name: blank}
type: kubernetes.io/tls
`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var allowed []string
	_, err = render.LayoutFiles(nodes, secrets.Guard{AllowedOut: &allowed}, render.Layout{})
	if err == nil {
		t.Fatal("the guard let a Secret with data through")
	}
	msg := err.Error()
	if !strings.Contains(msg, "release apps/web: web/templates/s.yaml: Secret apps/token (keys token)") || strings.Contains(msg, "hunter2") || strings.Contains(msg, "aHVudGVyMg") {
		t.Errorf("error %q", msg)
	}
	if strings.Join(allowed, " ") != "apps/kept" {
		t.Errorf("allowed %v", allowed)
	}
}

func TestGuardFiles(t *testing.T) {
	files := render.Files{
		"namespaces/apps/web/token-secret.yaml": []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: apps}\nstringData: {token: hunter2}\n"),
		"namespaces/apps/web/kept-secret.yaml":  []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: kept, namespace: apps, annotations: {secret.jenkins-x.io/convert-exclude: \"true\"}}\nstringData: {a: b}\n"),
		"namespaces/apps/web/empty-secret.yaml": []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: empty, namespace: apps}\n"),
		"README.md":                             []byte("# not YAML: {[\n"),
	}
	err := secrets.GuardFiles(files)
	if err == nil || !strings.Contains(err.Error(), "namespaces/apps/web/token-secret.yaml: Secret apps/token (keys token)") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
	delete(files, "namespaces/apps/web/token-secret.yaml")
	if err := secrets.GuardFiles(files); err != nil {
		t.Fatalf("clean files: %v", err)
	}
}
