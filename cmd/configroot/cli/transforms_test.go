package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
)

// TestRenderTransformsCommand checks the transforms through the CLI: a bad setting fails
// the render with its file and line and writes nothing; a rule that matches nothing is a
// warning with its line; render and check see the same transformed files.
func TestRenderTransformsCommand(t *testing.T) {
	repo := t.TempDir()
	rendered := filepath.Join(t.TempDir(), "rendered")
	testutil.WriteFiles(t, rendered, map[string][]byte{
		"apps/web/web/templates/all.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {GREETING: hello}\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:1\n        envFrom:\n        - configMapRef: {name: web-config}\n"),
	})
	config := filepath.Join(repo, "configroot.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(config, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write("transforms:\n  rules:\n    - match:\n        kinds: [deployment]\n      labels: {a: b}\n")
	code, _, stderr := runCLI(t, "render", "--source", repo, "--rendered", rendered)
	want := config + `:4: transforms.rules[0].match.kinds[0]: "deployment" is not a kind (kinds start with a capital letter: Deployment)`
	if code != 1 || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr:\n%s\nwant one line with:\n%s", code, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(repo, "config-root")); !os.IsNotExist(err) {
		t.Errorf("config-root was written (%v)", err)
	}

	write(`transforms:
  jenkinsX: true
  rules:
    - match: {names: [nothing-*]}
      labels: {a: b}
    - configHash: example.com/config-hash
`)
	code, _, stderr = runCLI(t, "render", "--source", repo, "--rendered", rendered)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "configroot: warning: " + config + ":4: transforms.rules[0] matches no resource\n"; !strings.Contains(stderr, want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	deploy, err := os.ReadFile(filepath.Join(repo, "config-root", "namespaces", "apps", "web", "web-deploy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"gitops.jenkins-x.io/pipeline: namespaces", `wave.pusher.com/update-on-config-change: "true"`, "example.com/config-hash: "} {
		if !strings.Contains(string(deploy), w) {
			t.Errorf("the Deployment lacks %q:\n%s", w, deploy)
		}
	}
	code, stdout, stderr := runCLI(t, "check", "--source", repo, "--rendered", rendered)
	if code != 0 {
		t.Errorf("check: exit %d:\n%s%s", code, stdout, stderr)
	}
}
