package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/render/transform"
	"github.com/configroot/configroot/modules/secrets"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestLoadConfigTransforms checks that configroot.yaml's transforms section is read with
// its lines, and that the rest of the file is still decoded strictly.
func TestLoadConfigTransforms(t *testing.T) {
	repo := t.TempDir()
	file := filepath.Join(repo, render.ConfigFile)
	writeFile(t, file, `kubeVersion: v1.31.0
transforms:
  jenkinsX: true
  rules:
    - match: {kinds: [apps/Deployment]}
      configHash: example.com/config-hash
`)
	c, err := render.LoadConfig(repo)
	if err != nil {
		t.Fatal(err)
	}
	if c.KubeVersion != "v1.31.0" || !c.Transforms.JenkinsX || len(c.Transforms.Rules) != 1 ||
		c.Transforms.Rules[0].Line != 5 || c.Transforms.File != file {
		t.Errorf("config %+v", c)
	}

	for _, bad := range []struct{ yaml, want string }{
		{"transforms:\n  rules:\n    - labels: {\"bad key\": x}\n", file + `:3: transforms.rules[0].labels.bad key: "bad key" is not a valid label key`},
		{"transform:\n  jenkinsX: true\n", file + `: error unmarshaling JSON: while decoding JSON: json: unknown field "transform"`},
		{"kubeVersion: [1]\ntransforms: {jenkinsX: true}\n", file + ": error unmarshaling JSON"},
	} {
		writeFile(t, file, bad.yaml)
		if _, err := render.LoadConfig(repo); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

// TestTransformsExample renders examples/cluster with real helmfile and helm, the secrets
// conversion and `jenkinsX: true` plus a config hash on every Deployment, and checks what
// the issue asks: the Makefile's labels on every file of each tree, a hash that changes
// exactly when a ConfigMap (or ExternalSecret) a Deployment uses changes, never a Secret
// value anywhere, and a second render that changes nothing.
func TestTransformsExample(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := exampleRepo(t)
	const hashKey = "example.com/config-hash"
	cfg, err := os.ReadFile(filepath.Join(repo, render.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, render.ConfigFile), string(cfg)+`transforms:
  jenkinsX: true
  rules:
    - match: {kinds: [apps/Deployment]}
      configHash: `+hashKey+`
`)
	var warnings []string
	renderIt := func() (render.Result, render.Files) {
		t.Helper()
		mapping, err := secrets.LoadMapping(repo, "", func(w string) { t.Errorf("mapping warning: %s", w) })
		if err != nil {
			t.Fatal(err)
		}
		conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping}}
		res := mustRender(t, repo, func(o *render.Options) {
			o.Filters = conv.Filters()
			o.Warn = func(w string) { warnings = append(warnings, w) }
		})
		files, err := render.ReadFiles(filepath.Join(repo, "config-root"))
		if err != nil {
			t.Fatal(err)
		}
		return res, files
	}
	_, files := renderIt()
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}

	for p, data := range files {
		n, err := yaml.Parse(string(data))
		if err != nil {
			t.Fatal(err)
		}
		tree := strings.Split(p, "/")[0]
		if got := n.GetLabels()[transform.LabelPipeline]; got != tree {
			t.Errorf("%s: %s=%q, want %q", p, transform.LabelPipeline, got, tree)
		}
		if n.GetKind() == "Namespace" && n.GetLabels()["team"] != "jx" {
			t.Errorf("%s: no team=jx label", p)
		}
		wave := n.GetAnnotations()[transform.AnnotationWave]
		if want := map[bool]string{true: "true"}[n.GetKind() == "Deployment"]; wave != want {
			t.Errorf("%s: %s=%q, want %q", p, transform.AnnotationWave, wave, want)
		}
	}
	const web, admin = "namespaces/apps/webapp/webapp-deploy.yaml", "namespaces/apps/webapp-admin/webapp-admin-deploy.yaml"
	hashes := func(files render.Files) (string, string) {
		return podAnnotation(t, files[web], hashKey), podAnnotation(t, files[admin], hashKey)
	}
	webHash, adminHash := hashes(files)
	if webHash == "" || adminHash == "" || webHash == adminHash {
		t.Fatalf("hashes %q and %q: want two different ones", webHash, adminHash)
	}
	if !bytes.Contains(files["namespaces/apps/webapp/webapp-db-externalsecret.yaml"], []byte("kind: ExternalSecret")) {
		t.Fatal("the webapp's Secret was not converted")
	}

	// Idempotent: a second render writes nothing.
	res, _ := renderIt()
	if res.Files.Written() != 0 || res.Files.Removed != 0 {
		t.Errorf("a second render changed config-root: %+v", res.Files)
	}

	// A new Secret value changes nothing (the hash reads the ExternalSecret, never values),
	// and never reaches config-root.
	const value = "a-new-password-that-must-not-leak"
	editFile(t, filepath.Join(repo, "charts", "webapp", "values.yaml"), "replace-me-from-the-secret-store", value)
	res, files = renderIt()
	if res.Files.Written() != 0 {
		t.Errorf("a new Secret value changed config-root: %+v", res.Files)
	}
	for p, data := range files {
		if bytes.Contains(data, []byte(value)) {
			t.Errorf("%s holds the Secret value", p)
		}
	}

	// The webapp's ConfigMap changes: its Deployment's hash does, the admin's does not.
	editFile(t, filepath.Join(repo, "values", "webapp.yaml.gotmpl"), "greeting: hello from", "greeting: bonjour from")
	_, files = renderIt()
	if w, a := hashes(files); w == webHash || a != adminHash {
		t.Errorf("after the webapp's ConfigMap changed: hashes %q → %q, %q → %q; want only the first changed", webHash, w, adminHash, a)
	}
}

func editFile(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	writeFile(t, file, strings.Replace(string(data), old, new, 1))
}

func podAnnotation(t *testing.T, data []byte, key string) string {
	t.Helper()
	n, err := yaml.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.Pipe(yaml.Lookup("spec", "template", "metadata", "annotations", key))
	if err != nil || v == nil {
		return ""
	}
	return v.YNode().Value
}

// TestTransformsRealCharts renders the External Secrets and cert-manager charts with
// `jenkinsX: true` and a config hash on every workload, and checks the Makefile's labels and
// annotation on every file, the hash on the workloads whose pods read a ConfigMap of the
// render (none in these charts' defaults: no annotation), and that a second render writes
// nothing.
func TestTransformsRealCharts(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := realChartsRepo(t)
	writeFile(t, filepath.Join(repo, render.ConfigFile), `transforms:
  jenkinsX: true
  rules:
    - match: {kinds: [apps/*]}
      podTemplate: true
      labels: {example.com/rendered-by: configroot}
    - configHash: example.com/config-hash
`)
	var warnings []string
	res := mustRender(t, repo, func(o *render.Options) { o.Warn = func(w string) { warnings = append(warnings, w) } })
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	files, err := render.ReadFiles(filepath.Join(repo, "config-root"))
	if err != nil {
		t.Fatal(err)
	}
	deployments := 0
	for p, data := range files {
		n, err := yaml.Parse(string(data))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n.GetLabels()[transform.LabelPipeline], strings.Split(p, "/")[0]; got != want {
			t.Errorf("%s: %s=%q, want %q", p, transform.LabelPipeline, got, want)
		}
		if n.GetKind() != "Deployment" {
			continue
		}
		deployments++
		if n.GetAnnotations()[transform.AnnotationWave] != "true" {
			t.Errorf("%s: no %s", p, transform.AnnotationWave)
		}
		v, err := n.Pipe(yaml.Lookup("spec", "template", "metadata", "labels", "example.com/rendered-by"))
		if err != nil || v == nil || v.YNode().Value != "configroot" {
			t.Errorf("%s: no pod template label (%v)", p, err)
		}
		if h := podAnnotation(t, data, "example.com/config-hash"); h != "" {
			t.Errorf("%s: a config hash %q with no ConfigMap used", p, h)
		}
	}
	if deployments < 4 {
		t.Errorf("%d Deployments rendered, want the charts' 4 or more", deployments)
	}
	again := mustRender(t, repo, func(o *render.Options) { o.Warn = func(w string) { warnings = append(warnings, w) } })
	if again.Files.Written() != 0 || again.Files.Removed != 0 || again.Resources != res.Resources {
		t.Errorf("a second render changed config-root: %+v", again.Files)
	}
}
