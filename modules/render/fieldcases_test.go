package render_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The field cases (testdata/fieldcases, copied from shared/field-cases, each EXPECTED.md
// naming the public report it rebuilds) rendered with the real helmfile and helm, through
// the secrets conversion as the CLI runs it.

// fieldCase copies testdata/fieldcases/<name> into a temp folder and returns it.
func fieldCase(t *testing.T, name string) string {
	t.Helper()
	return testutil.CopyDir(t, filepath.Join("testdata", "fieldcases", name))
}

// renderWithSecrets renders repo with helm (a path; "" is helm from PATH) as `configroot
// render` does (secrets converted and guarded) and returns config-root's files.
func renderWithSecrets(t *testing.T, helm, repo string, edit func(*render.Options)) (map[string][]byte, error) {
	t.Helper()
	mapping, err := secrets.LoadMapping(repo, "", func(w string) { t.Logf("mapping: %s", w) })
	if err != nil {
		t.Fatal(err)
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping, Format: secrets.FormatESO, NoStores: true}}
	_, err = renderRepo(t, repo, func(o *render.Options) {
		o.Template.HelmBinary = helm
		if edit != nil {
			edit(o)
		}
		conv.Converter.Partial = len(o.Template.Selectors) > 0
		o.Filters = conv.Filters()
	})
	if err != nil {
		return nil, err
	}
	return testutil.ReadTree(t, filepath.Join(repo, "config-root")), nil
}

func mustRenderWithSecrets(t *testing.T, helm, repo string, edit func(*render.Options)) map[string][]byte {
	t.Helper()
	files, err := renderWithSecrets(t, helm, repo, edit)
	if err != nil {
		t.Fatalf("render %s: %v", repo, err)
	}
	return files
}

// parseFile parses one file of config-root, failing the test when it is missing.
func parseFile(t *testing.T, files map[string][]byte, p string) *yaml.RNode {
	t.Helper()
	data, ok := files[p]
	if !ok {
		t.Fatalf("config-root has no %s; it has:\n%s", p, strings.Join(sortedPaths(files), "\n"))
	}
	n, err := yaml.Parse(string(data))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return n
}

func sortedPaths(files map[string][]byte) []string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// str returns the YAML of the field at path of n, for comparisons.
func str(t *testing.T, n *yaml.RNode, path ...string) string {
	t.Helper()
	f, err := n.Pipe(yaml.Lookup(path...))
	if err != nil || f == nil {
		t.Fatalf("%s %s has no %s (%v)", n.GetKind(), n.GetName(), strings.Join(path, "."), err)
	}
	return strings.TrimSpace(f.MustString())
}

// TestFieldCaseConfigMapList: kube-prometheus-stack renders its Grafana dashboards as one
// ConfigMapList; config-root holds one file per ConfigMap and none for the list (case 05).
//
// The dashboards' template is templates/grafana/configmap-dashboards.yaml, so their files
// keep templates/grafana/ below the release folder, as `jx gitops helmfile move` keeps a
// nested template folder (docs/jenkins-x.md; EXPECTED.md, written before that rule was
// followed, names the release folder itself).
func TestFieldCaseConfigMapList(t *testing.T) {
	testutil.ToolsEnv(t)
	for _, h := range testutil.Helms(t) {
		t.Run(h.Name, func(t *testing.T) { testFieldCaseConfigMapList(t, h.Path) })
	}
}

func testFieldCaseConfigMapList(t *testing.T, helm string) {
	repo := fieldCase(t, "05-configmaplist")
	files := mustRenderWithSecrets(t, helm, repo, nil)
	const dashboards = "namespaces/monitoring/kube-prometheus-stack/templates/grafana/"
	want := []string{
		"cluster/namespaces/monitoring.yaml",
		"namespaces/monitoring/kube-prometheus-stack/prometheus-sa.yaml",
		dashboards + "kube-prometheus-stack-nodes-cm.yaml",
		dashboards + "kube-prometheus-stack-pods-cm.yaml",
	}
	if got := sortedPaths(files); !slices.Equal(got, want) {
		t.Fatalf("config-root:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, dash := range []string{"nodes", "pods"} {
		p := dashboards + "kube-prometheus-stack-" + dash + "-cm.yaml"
		cm := parseFile(t, files, p)
		if cm.GetNamespace() != "monitoring" || cm.GetLabels()["grafana_dashboard"] != "1" {
			t.Errorf("%s: namespace %q, labels %v", p, cm.GetNamespace(), cm.GetLabels())
		}
		json, err := os.ReadFile(filepath.Join(repo, "charts", "monitoring", "dashboards", dash+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if got := cm.GetDataMap()[dash+".json"]; got != string(json) {
			t.Errorf("%s: data %s.json = %q, want the dashboard file %q", p, dash, got, json)
		}
		if !strings.HasPrefix(string(files[p]), "# Source: kube-prometheus-stack/templates/grafana/configmap-dashboards.yaml\n") {
			t.Errorf("%s lost helm's Source comment:\n%s", p, files[p])
		}
	}
}

// TestFieldCaseAnchors: aliases and merge keys are resolved when reading, so the release
// annotations land on the Deployment only, merged maps hold every key, and an aliased
// Secret value is a value (case 04).
func TestFieldCaseAnchors(t *testing.T) {
	testutil.ToolsEnv(t)
	for _, h := range testutil.Helms(t) {
		t.Run(h.Name, func(t *testing.T) { testFieldCaseAnchors(t, h.Path) })
	}
}

func testFieldCaseAnchors(t *testing.T, helm string) {
	files := mustRenderWithSecrets(t, helm, fieldCase(t, "04-yaml-anchors"), nil)

	d := parseFile(t, files, "namespaces/apps/anchored/anchor-test-deploy.yaml")
	labels := "app.kubernetes.io/name: anchor-test\napp.kubernetes.io/part-of: demo"
	if got := str(t, d, "spec", "selector", "matchLabels"); got != labels {
		t.Errorf("matchLabels:\n%s\nwant:\n%s", got, labels)
	}
	podLabels, err := d.Pipe(yaml.Lookup("spec", "template", "metadata", "labels"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := podLabels.Fields(); !sameSet(got, []string{"app.kubernetes.io/name", "app.kubernetes.io/part-of", "tier"}) {
		t.Errorf("pod template labels %v", got)
	}
	if got := str(t, d, "spec", "template", "metadata", "annotations"); got != "prometheus.io/scrape: \"true\"\nprometheus.io/port: \"8080\"" {
		t.Errorf("pod template annotations (the release annotations belong to the Deployment only):\n%s", got)
	}
	if a := d.GetAnnotations(); a[render.AnnotationReleaseName] != "anchored" || a["prometheus.io/port"] != "8080" {
		t.Errorf("Deployment annotations %v", a)
	}
	for _, field := range []string{"image", "ports", "command"} {
		foo := str(t, d, "spec", "template", "spec", "containers", "[name=foo]", field)
		bar := str(t, d, "spec", "template", "spec", "containers", "[name=bar]", field)
		if foo != bar || foo == "" {
			t.Errorf("containers foo and bar differ in %s: %q and %q", field, foo, bar)
		}
	}
	if got := str(t, d, "spec", "template", "spec", "containers", "[name=bar]", "command"); got != "[sleep, infinity]" {
		t.Errorf("container bar command %q", got)
	}

	es := parseFile(t, files, "namespaces/apps/anchored/anchor-creds-externalsecret.yaml")
	data, err := es.Pipe(yaml.Lookup("spec", "data"))
	if err != nil || data == nil {
		t.Fatalf("ExternalSecret anchor-creds has no spec.data (%v)", err)
	}
	var keys []string
	for _, e := range data.Content() {
		keys = append(keys, yaml.GetValue(yaml.NewRNode(e).Field("secretKey").Value))
	}
	if !sameSet(keys, []string{"password", "username", "replica-username"}) {
		t.Errorf("ExternalSecret keys %v, want password, username, replica-username", keys)
	}

	ing := parseFile(t, files, "namespaces/blog/blog/blog-ingress.yaml")
	if ing.GetNamespace() != "blog" {
		t.Errorf("Ingress namespace %q", ing.GetNamespace())
	}
	first, second := str(t, ing, "spec", "rules", "[host=blog.example.com]", "http"), str(t, ing, "spec", "rules", "[host=www.blog.example.com]", "http")
	if first != second || !strings.Contains(first, "number: 80") {
		t.Errorf("Ingress rules differ:\n%s\n---\n%s", first, second)
	}
	for p, data := range files {
		if strings.Contains(string(data), "&") && strings.Contains(string(data), "*") && strings.Contains(string(data), "<<") {
			t.Errorf("%s still holds YAML anchors:\n%s", p, data)
		}
	}
}

// TestFieldCaseKubeContext: a release without a namespace renders into "default" whatever
// kube context, HELM_NAMESPACE or HELMFILE_NAMESPACE the machine has (case 13).
func TestFieldCaseKubeContext(t *testing.T) {
	testutil.ToolsEnv(t)
	src := fieldCase(t, "13-release-namespace-kubecontext")
	laptop := filepath.Join(src, "kubeconfig-laptop.yaml")
	home := t.TempDir() // a HOME whose ~/.kube/config names another context namespace
	writeFile(t, filepath.Join(home, ".kube", "config"), strings.Replace(mustRead(t, laptop), "namespace: tools", "namespace: homens", 1))

	machines := []struct {
		name string
		env  map[string]string
	}{
		{"CI: no kubeconfig", map[string]string{"KUBECONFIG": filepath.Join(t.TempDir(), "none")}},
		{"laptop: KUBECONFIG with a context namespace", map[string]string{"KUBECONFIG": laptop}},
		{"laptop: ~/.kube/config with a context namespace", map[string]string{"HOME": home}},
		{"HELM_NAMESPACE and HELM_KUBECONTEXT set", map[string]string{"KUBECONFIG": laptop, "HELM_NAMESPACE": "tools", "HELM_KUBECONTEXT": "laptop"}},
		{"HELMFILE_NAMESPACE set", map[string]string{"HELMFILE_NAMESPACE": "tools", "HELMFILE_KUBE_CONTEXT": "laptop"}},
	}
	var first map[string][]byte
	for _, h := range testutil.Helms(t) {
		for _, m := range machines {
			t.Run(h.Name+"/"+m.name, func(t *testing.T) {
				helm := h.Path
				for k, v := range m.env {
					t.Setenv(k, v)
				}
				repo := testutil.CopyDir(t, src)
				files := mustRenderWithSecrets(t, helm, repo, nil)
				want := []string{
					"cluster/resources/default/otel-collector/otel-collector-crb.yaml",
					"namespaces/default/otel-collector/otel-collector-cm.yaml",
					"namespaces/default/otel-collector/otel-collector-sa.yaml",
				}
				if got := sortedPaths(files); !slices.Equal(got, want) {
					t.Fatalf("config-root:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				cm := parseFile(t, files, "namespaces/default/otel-collector/otel-collector-cm.yaml")
				if cm.GetNamespace() != "default" || cm.GetDataMap()["endpoint"] != "otel-collector.default.svc:4317" {
					t.Errorf("ConfigMap namespace %q, data %v", cm.GetNamespace(), cm.GetDataMap())
				}
				if got := str(t, parseFile(t, files, want[0]), "subjects", "[name=otel-collector]", "namespace"); got != "default" {
					t.Errorf("ClusterRoleBinding subject namespace %q", got)
				}
				if first == nil {
					first = files
				} else if d := testutil.DiffTrees(first, files); d != "" {
					t.Errorf("config-root differs from the render with helm 4 on a machine without kubeconfig:\n%s", d)
				}
			})
		}
	}
}

// TestFieldCaseSelectorDisabledRelease: a selector render of a release that now renders
// nothing removes its files exactly as a full render does, with or without --allow-empty,
// whichever way the release was turned off; a selector matching no release is an error
// that changes nothing (case 02b and its neighbours).
func TestFieldCaseSelectorDisabledRelease(t *testing.T) {
	testutil.ToolsEnv(t)
	for _, h := range testutil.Helms(t) {
		t.Run(h.Name, func(t *testing.T) { testFieldCaseSelectorDisabledRelease(t, h.Path) })
	}
}

func testFieldCaseSelectorDisabledRelease(t *testing.T, helm string) {
	disable := []struct {
		name string
		edit func(t *testing.T, repo string)
	}{
		{"chart renders nothing (enabled: false)", func(t *testing.T, repo string) {
			writeFile(t, filepath.Join(repo, "values", "lighthouse.yaml"), "enabled: false\n")
		}},
		{"release installed: false", func(t *testing.T, repo string) {
			replaceIn(t, filepath.Join(repo, "helmfile.yaml"), "    chart: ./charts/lighthouse\n", "    chart: ./charts/lighthouse\n    installed: false\n")
		}},
		{"release condition false", func(t *testing.T, repo string) {
			// helmfile reads a condition from the environment's values.
			replaceIn(t, filepath.Join(repo, "helmfile.yaml"), "    chart: ./charts/lighthouse\n", "    chart: ./charts/lighthouse\n    condition: lighthouse.enabled\n")
			replaceIn(t, filepath.Join(repo, "helmfile.yaml"), "releases:\n", "environments:\n  default:\n    values:\n      - lighthouse: {enabled: false}\n---\nreleases:\n")
		}},
	}
	for _, dis := range disable {
		for _, allowEmpty := range []bool{false, true} {
			name := dis.name
			if allowEmpty {
				name += ", --allow-empty"
			}
			t.Run(name, func(t *testing.T) {
				repo := fieldCase(t, "02b-selector-disabled-release")
				before := mustRenderWithSecrets(t, helm, repo, nil)
				if _, ok := before["namespaces/jx/lighthouse/lighthouse-webhooks-deploy.yaml"]; !ok {
					t.Fatalf("the first render has no lighthouse Deployment:\n%s", strings.Join(sortedPaths(before), "\n"))
				}
				dis.edit(t, repo)
				partial := mustRenderWithSecrets(t, helm, repo, func(o *render.Options) {
					o.Template.Selectors = []string{"app=lighthouse"}
					o.AllowEmpty = allowEmpty
				})
				for p := range partial {
					if strings.Contains(p, "lighthouse") {
						t.Errorf("%s survived", p)
					}
				}
				fullRepo := testutil.CopyDir(t, repo)
				if err := os.RemoveAll(filepath.Join(fullRepo, "config-root")); err != nil {
					t.Fatal(err)
				}
				full := mustRenderWithSecrets(t, helm, fullRepo, nil)
				if d := testutil.DiffTrees(full, partial); d != "" {
					t.Errorf("the selector render differs from a full render:\n%s", d)
				}
			})
		}
	}

	t.Run("selector matching no release", func(t *testing.T) {
		repo := fieldCase(t, "02b-selector-disabled-release")
		before := mustRenderWithSecrets(t, helm, repo, nil)
		for _, allowEmpty := range []bool{false, true} {
			_, err := renderWithSecrets(t, helm, repo, func(o *render.Options) {
				o.Template.Selectors = []string{"app=lighthose"}
				o.AllowEmpty = allowEmpty
			})
			if !errors.Is(err, render.ErrNoMatch) || !strings.Contains(err.Error(), "selectors app=lighthose") {
				t.Errorf("allow-empty %v: error %v, want ErrNoMatch naming the selector", allowEmpty, err)
			}
		}
		if d := testutil.DiffTrees(before, testutil.ReadTree(t, filepath.Join(repo, "config-root"))); d != "" {
			t.Errorf("config-root changed:\n%s", d)
		}
	})
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func replaceIn(t *testing.T, p, old, new string) {
	t.Helper()
	s := mustRead(t, p)
	if !strings.Contains(s, old) {
		t.Fatalf("%s does not hold %q", p, old)
	}
	writeFile(t, p, strings.Replace(s, old, new, 1))
}
