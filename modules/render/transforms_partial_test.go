package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTransformsPartialRender checks that a render limited by selectors gives the same
// files as a full render when a workload's config hash reads a ConfigMap of a release the
// selectors left out, and that rules matching only the unselected releases are not warned
// about.
func TestTransformsPartialRender(t *testing.T) {
	tree := func(greeting, image string) map[string]string {
		return map[string]string{
			"apps/settings/settings/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {GREETING: " + greeting + "}\n",
			"apps/web/web/templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n" +
				"      containers:\n      - name: web\n        image: " + image + "\n        envFrom:\n        - configMapRef: {name: settings}\n",
		}
	}
	only := func(m map[string]string, prefix string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if strings.HasPrefix(k, prefix) {
				out[k] = v
			}
		}
		return out
	}
	repo := t.TempDir()
	writeConfig := "transforms:\n  rules:\n    - match: {releases: [settings]}\n      labels: {tier: config}\n    - match: {kinds: [Deployment]}\n      configHash: example.com/config-hash\n"
	if err := os.WriteFile(filepath.Join(repo, ConfigFile), []byte(writeConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	renderInto := func(out string, tree map[string]string, selectors ...string) Files {
		t.Helper()
		if _, err := Render(t.Context(), Options{Source: repo, Output: out, Runner: &remoteRunner{tree: tree},
			Template: TemplateOptions{Selectors: selectors}, Warn: func(w string) { warnings = append(warnings, w) }}); err != nil {
			t.Fatal(err)
		}
		files, err := ReadFiles(out)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	out := t.TempDir() + "/config-root"
	first := renderInto(out, tree("hello", "web:1"))
	if !strings.Contains(string(first["namespaces/apps/web/web-deploy.yaml"]), "example.com/config-hash: ") {
		t.Fatalf("no config hash:\n%s", first["namespaces/apps/web/web-deploy.yaml"])
	}
	// Only the web release is rendered (a new image): its hash still counts the settings
	// ConfigMap kept from the previous render.
	partial := renderInto(out, only(tree("hello", "web:2"), "apps/web/"), "name=web")
	full := renderInto(t.TempDir()+"/config-root", tree("hello", "web:2"))
	if got, want := strings.Join(partial.Paths(), "\n"), strings.Join(full.Paths(), "\n"); got != want {
		t.Fatalf("partial render:\n%s\nwant:\n%s", got, want)
	}
	for p, data := range full {
		if string(partial[p]) != string(data) {
			t.Errorf("%s differs from the full render:\n%s\nwant:\n%s", p, partial[p], data)
		}
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	// A full render where the rule matches nothing warns, naming the file and line.
	renderInto(t.TempDir()+"/config-root", only(tree("hello", "web:2"), "apps/web/"))
	if len(warnings) != 1 || !strings.HasSuffix(warnings[0], ConfigFile+":3: transforms.rules[0] matches no resource") {
		t.Errorf("warnings: %q", warnings)
	}
}
