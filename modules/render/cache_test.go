package render_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
)

// cacheRepo is a cluster repo for the cache's tests: the example (local charts, a Secret
// with values, a kustomize folder, a cluster-scoped CRD) plus the real External Secrets
// chart from a local folder and the real cert-manager chart from a chart repository on
// 127.0.0.1, which serves it in two versions.
type cacheRepo struct {
	dir       string
	chartRepo string
	// sub adds sub/helmfile.yaml as a sub-helmfile.
	sub bool
	// runner, when set, runs helmfile for the cached renders.
	runner render.Runner
}

func newCacheRepo(t *testing.T) cacheRepo {
	t.Helper()
	repo := cacheRepo{dir: exampleRepo(t)}
	testutil.ExternalSecretsChart(t, filepath.Join(repo.dir, "charts"))
	charts := t.TempDir()
	v1 := testutil.CertManagerChart(t, charts)
	v2 := testutil.CopyDir(t, v1)
	chartYAML := filepath.Join(v2, "Chart.yaml")
	data, err := os.ReadFile(chartYAML)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("version: "+certManagerVersion), []byte("version: v1.18.3"), 1)
	if err := os.WriteFile(chartYAML, data, 0o644); err != nil {
		t.Fatal(err)
	}
	repo.chartRepo = testutil.ChartRepository(t, testutil.PackageCharts(t, v1, v2), nil)
	return repo
}

// release is one release entry of the test's helmfile.
type cacheRelease struct {
	name, namespace, chart, version, values, extra string
}

func (r cacheRepo) writeHelmfile(t *testing.T, releases []cacheRelease) {
	t.Helper()
	var b strings.Builder
	b.WriteString("environments:\n  default:\n    values:\n      - env/default.yaml\n---\n")
	if r.chartRepo != "" {
		b.WriteString("repositories:\n  - name: jetstack\n    url: " + r.chartRepo + "\n")
	}
	b.WriteString("releases:\n")
	for _, rel := range releases {
		b.WriteString("  - name: " + rel.name + "\n    namespace: " + rel.namespace + "\n    chart: " + rel.chart + "\n")
		if rel.version != "" {
			b.WriteString("    version: " + rel.version + "\n")
		}
		if rel.values != "" {
			b.WriteString("    values:\n      - " + rel.values + "\n")
		}
		b.WriteString(rel.extra)
	}
	if r.sub {
		b.WriteString("helmfiles:\n  - path: sub/helmfile.yaml\n")
	}
	writeFile(t, filepath.Join(r.dir, "helmfile.yaml"), b.String())
}

// render renders the repo with the secrets conversion, into out, with the cache in cache
// ("" for none).
func (r cacheRepo) render(t *testing.T, out, cache string, log *bytes.Buffer) render.Result {
	t.Helper()
	mapping, err := secrets.LoadMapping(r.dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping, Format: secrets.FormatESO, Partial: cache != ""}}
	o := render.Options{Source: r.dir, Output: out, Filters: conv.Filters(), Cache: cache, FiltersKey: "eso"}
	if cache != "" && r.runner != nil {
		o.Runner = r.runner
	}
	if log != nil {
		o.Progress, o.Log = log, log
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := render.Render(ctx, o)
	if err != nil {
		t.Fatalf("render %s (cache %q): %v", r.dir, cache, err)
	}
	return res
}

// renderCachedAsFull renders the repo with the cache in cache into configRoot, and without
// into a folder of its own; it stops the test (naming the step) unless the two are the same
// byte for byte, and returns what the cache did.
func (r cacheRepo) renderCachedAsFull(t *testing.T, step, configRoot, cache string, log *bytes.Buffer) *render.CacheStats {
	t.Helper()
	full := filepath.Join(t.TempDir(), "config-root")
	r.render(t, full, "", nil)
	res := r.render(t, configRoot, cache, log)
	if diff := testutil.DiffTrees(testutil.ReadTree(t, full), testutil.ReadTree(t, configRoot)); diff != "" {
		t.Fatalf("%s: the cached render differs from the full render:\n%s", step, diff)
	}
	return res.Cache
}

// TestCacheGivesTheFullRender edits a repo of real charts step by step (values, a remote
// chart's version, a local chart, a release removed, one added, a namespace changed, a
// release the cache cannot key, config-root edited by hand) and requires, after each edit,
// the cached render to equal byte for byte a render without the cache, and to have run helm
// for the releases the edit touched only. The cache folder never holds a Secret value.
func TestCacheGivesTheFullRender(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := newCacheRepo(t)
	cache := filepath.Join(t.TempDir(), "cache")
	configRoot := filepath.Join(repo.dir, "config-root")
	const marker = "cache-marker-3f9a1c77" // a database password: a Secret value
	writeFile(t, filepath.Join(repo.dir, "values", "webapp-admin.yaml"),
		"replicaCount: 1\ngreeting: admin console\nservice:\n  port: 8443\ndatabase:\n  user: admin\n  password: "+marker+"\n")
	releases := []cacheRelease{
		{name: "webapp", namespace: "apps", chart: "./charts/webapp", values: "values/webapp.yaml.gotmpl"},
		{name: "webapp-admin", namespace: "apps", chart: "./charts/webapp", values: "values/webapp-admin.yaml"},
		{name: "tenants", namespace: "operators", chart: "./charts/tenant-operator"},
		{name: "base", namespace: "platform", chart: "./charts/platform"},
		{name: "external-secrets", namespace: "external-secrets", chart: "./charts/external-secrets"},
		{name: "cert-manager", namespace: "cert-manager", chart: "jetstack/cert-manager", version: certManagerVersion,
			extra: "    set:\n      - name: crds.enabled\n        value: true\n"},
	}
	// webapp-admin's Secret alone goes to Google Secret Manager: its ClusterSecretStore
	// must go when that release no longer has it (moved to another namespace, below).
	writeFile(t, filepath.Join(repo.dir, ".jx", "secret", "mapping", "secret-mappings.yaml"), `apiVersion: secret.jenkins-x.io/v1alpha1
kind: SecretMapping
spec:
  defaults:
    backendType: vault
    gcpSecretsManager:
      projectId: my-project
  secrets:
    - name: webapp-admin-db
      namespace: apps
      backendType: gcpSecretsManager
`)
	gcpStore := filepath.Join(configRoot, "cluster", "resources", "external-secrets", "secret-stores", "gcp-secrets-manager-clustersecretstore.yaml")
	var log bytes.Buffer
	step := func(name string, rendered int, hit bool) {
		t.Helper()
		if c := repo.renderCachedAsFull(t, name, configRoot, cache, &log); c == nil || c.Hit != hit || c.Rendered != rendered {
			t.Errorf("%s: cache %+v, want hit=%t and %d releases rendered", name, c, hit, rendered)
		}
	}
	repo.writeHelmfile(t, releases)
	step("first render", 6, false)
	step("unchanged", 0, true)

	writeFile(t, filepath.Join(repo.dir, "values", "webapp-admin.yaml"),
		"replicaCount: 2\ngreeting: admin console\nservice:\n  port: 8443\ndatabase:\n  user: admin\n  password: "+marker+"-2\n")
	step("values of webapp-admin", 1, true)

	releases[5].version = "v1.18.3"
	repo.writeHelmfile(t, releases)
	step("cert-manager's version", 1, true)

	cm := filepath.Join(repo.dir, "charts", "webapp", "templates", "configmap.yaml")
	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cm, strings.Replace(string(data), "data:", "data:\n  edited: \"yes\"", 1))
	step("the webapp chart", 2, true) // webapp and webapp-admin

	// A sub-helmfile's chart folder is relative to it: sub/charts/webapp, a copy of the
	// webapp chart, not charts/webapp.
	if err := os.CopyFS(filepath.Join(repo.dir, "sub", "charts", "webapp"), os.DirFS(filepath.Join(repo.dir, "charts", "webapp"))); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo.dir, "sub", "helmfile.yaml"), "releases:\n  - name: sub-web\n    namespace: sub\n    chart: ./charts/webapp\n")
	repo.sub = true
	repo.writeHelmfile(t, releases)
	step("a sub-helmfile", 7, true) // the helmfiles entry is in every root release's key
	subCM := filepath.Join(repo.dir, "sub", "charts", "webapp", "templates", "configmap.yaml")
	data, err = os.ReadFile(subCM)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, subCM, strings.Replace(string(data), "data:", "data:\n  sub: \"yes\"", 1))
	step("the sub-helmfile's chart", 1, true)

	// An umbrella chart whose dependency is the webapp chart folder (file://): helmfile's
	// helm dependency build packages it into charts/ on every render.
	version := regexp.MustCompile(`(?m)^version: (.+)$`).FindStringSubmatch(string(readFile(t, filepath.Join(repo.dir, "charts", "webapp", "Chart.yaml"))))[1]
	writeFile(t, filepath.Join(repo.dir, "charts", "umbrella", "Chart.yaml"),
		"apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n  - name: webapp\n    version: \""+version+"\"\n    repository: file://../webapp\n")
	writeFile(t, filepath.Join(repo.dir, "values", "umbrella.yaml"), "webapp:\n  database: {user: u, password: "+marker+"-u}\n")
	releases = append(releases, cacheRelease{name: "umbrella", namespace: "umbrella", chart: "./charts/umbrella", values: "values/umbrella.yaml"})
	repo.writeHelmfile(t, releases)
	step("an umbrella chart", 1, true)
	step("an umbrella chart, unchanged", 0, true)
	writeFile(t, cm, strings.Replace(string(readFile(t, cm)), "data:", "data:\n  edited-again: \"yes\"", 1))
	step("the webapp chart, an umbrella's dependency", 3, true) // webapp, webapp-admin, umbrella

	releases = append(releases[:2], releases[3:]...) // tenants: a CRD, cluster resources, its namespace
	repo.writeHelmfile(t, releases)
	step("tenants removed", 0, true)

	releases = append(releases, cacheRelease{name: "tenants-b", namespace: "operators-b", chart: "./charts/tenant-operator"})
	repo.writeHelmfile(t, releases)
	step("tenants-b added", 1, true)

	if _, err := os.Stat(gcpStore); err != nil {
		t.Fatalf("webapp-admin's Secret has no ClusterSecretStore: %v", err)
	}
	releases[1].namespace = "apps-admin"
	repo.writeHelmfile(t, releases)
	step("webapp-admin moved to apps-admin", 1, true)
	if _, err := os.Stat(gcpStore); err == nil {
		t.Fatal("the ClusterSecretStore no Secret uses any more is still there")
	}

	releases[2].extra = "    hooks:\n      - events: [prepare]\n        command: \"true\"\n"
	repo.writeHelmfile(t, releases)
	step("base has a hook", 1, true)
	step("base has a hook, unchanged", 1, true)
	if !strings.Contains(log.String(), "cache: release platform/base is rendered every time: it sets hooks, whose effect the cache does not know") {
		t.Errorf("no note says why platform/base is not cached:\n%s", log.String())
	}

	// A config hash on webapp's Deployment covers ConfigMaps of any release in its
	// namespace: webapp is rendered whenever anything is (configroot.yaml changed: a miss).
	writeFile(t, filepath.Join(repo.dir, "configroot.yaml"), "kubeVersion: v1.37.0\nkustomize:\n  - path: kustomize/monitoring-rules\n    namespace: monitoring\n"+
		"transforms:\n  rules:\n    - match: {releases: [webapp]}\n      configHash: example.com/config-hash\n")
	step("a configHash rule", 8, false)
	releases[3].values = "values/webapp-admin.yaml" // external-secrets: a value it ignores
	repo.writeHelmfile(t, releases)
	step("external-secrets' values, with a configHash rule", 3, true) // and base, which has a hook

	writeFile(t, filepath.Join(configRoot, "namespaces", "apps", "edited-by-hand.yaml"), "kind: ConfigMap\n")
	step("config-root edited by hand", 8, false)

	// The cache holds keys and digests only: no Secret value, in any file.
	states := cacheHolds(t, cache, marker)
	if states == 0 {
		t.Fatal("the cache folder holds no state")
	}
	if strings.Contains(log.String(), marker) {
		t.Errorf("the render's output shows a Secret value")
	}
}

// TestCacheBrokenRepo: a repo helmfile cannot build gets the error a render without the
// cache gives (naming the release and its chart), and config-root is untouched.
func TestCacheBrokenRepo(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := exampleRepo(t)
	cache := filepath.Join(t.TempDir(), "cache")
	mustRender(t, repo, func(o *render.Options) { o.Cache = cache })
	before := testutil.ReadTree(t, filepath.Join(repo, "config-root"))
	if err := os.Remove(filepath.Join(repo, "values", "webapp-admin.yaml")); err != nil {
		t.Fatal(err)
	}
	_, plain := renderRepo(t, repo, nil)
	_, cached := renderRepo(t, repo, func(o *render.Options) { o.Cache = cache })
	if plain == nil || cached == nil || cached.Error() != plain.Error() {
		t.Errorf("a broken repo: cached render error %v, want the render's own %v", cached, plain)
	}
	if d := testutil.DiffTrees(before, testutil.ReadTree(t, filepath.Join(repo, "config-root"))); d != "" {
		t.Errorf("a failed cached render changed config-root:\n%s", d)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCacheChangesBeyondTheRelease edits releases in ways that reach beyond their own
// folders (a Namespace a chart declares for another release's namespace, a CRD's scope
// that decides where another release's resources go, a kustomize folder's resource in
// another namespace, a new release whose folder is an existing one's) and requires the
// cached render to give what a render without the cache gives: the same files, or the same
// error.
func TestCacheChangesBeyondTheRelease(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := cacheRepo{dir: exampleRepo(t)}
	cache := filepath.Join(t.TempDir(), "cache")
	configRoot := filepath.Join(repo.dir, "config-root")
	writeFile(t, filepath.Join(repo.dir, "charts", "nsowner", "Chart.yaml"), "apiVersion: v2\nname: nsowner\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(repo.dir, "charts", "nsowner", "templates", "ns.yaml"),
		"{{ if .Values.declare }}apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    istio-injection: enabled\n{{ end }}\n")
	writeFile(t, filepath.Join(repo.dir, "charts", "foo-crd", "Chart.yaml"), "apiVersion: v2\nname: foo-crd\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(repo.dir, "charts", "foo-crd", "templates", "crd.yaml"), `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: foos.example.com
spec:
  group: example.com
  names: {kind: Foo, plural: foos, singular: foo, listKind: FooList}
  scope: {{ .Values.scope }}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`)
	writeFile(t, filepath.Join(repo.dir, "charts", "foo-user", "Chart.yaml"), "apiVersion: v2\nname: foo-user\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(repo.dir, "charts", "foo-user", "templates", "foo.yaml"), "apiVersion: example.com/v1\nkind: Foo\nmetadata:\n  name: a-foo\nspec: {}\n")
	writeFile(t, filepath.Join(repo.dir, "kustomize", "extras", "kustomization.yaml"), "resources:\n  - cm.yaml\n")
	writeFile(t, filepath.Join(repo.dir, "kustomize", "extras", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other1\n  namespace: elsewhere\ndata:\n  a: b\n")
	writeFile(t, filepath.Join(repo.dir, "configroot.yaml"), "kubeVersion: v1.37.0\nkustomize:\n  - path: kustomize/monitoring-rules\n    namespace: monitoring\n  - path: kustomize/extras\n    namespace: extras\n")
	releases := []cacheRelease{
		{name: "webapp", namespace: "apps", chart: "./charts/webapp", values: "values/webapp.yaml.gotmpl"},
		{name: "webapp-admin", namespace: "apps", chart: "./charts/webapp", values: "values/webapp-admin.yaml"},
		{name: "nsowner", namespace: "infra", chart: "./charts/nsowner", extra: "    set:\n      - name: declare\n        value: true\n"},
		{name: "foo-crd", namespace: "infra", chart: "./charts/foo-crd", extra: "    set:\n      - name: scope\n        value: Cluster\n"},
		{name: "foo-user", namespace: "apps", chart: "./charts/foo-user"},
	}
	var log bytes.Buffer
	renderTo := func(out, cache string) (map[string][]byte, error) {
		mapping, err := secrets.LoadMapping(repo.dir, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping, Format: secrets.FormatESO, Partial: cache != ""}}
		_, err = render.Render(context.Background(), render.Options{Source: repo.dir, Output: out, Filters: conv.Filters(), Cache: cache, Progress: &log, Log: &log})
		if err != nil {
			return nil, err
		}
		return testutil.ReadTree(t, out), nil
	}
	fails := false // the next step's render fails
	step := func(name string) {
		t.Helper()
		want, wantErr := renderTo(filepath.Join(t.TempDir(), "config-root"), "")
		got, gotErr := renderTo(configRoot, cache)
		if (wantErr != nil) != fails {
			t.Fatalf("%s: the render without the cache: error %v", name, wantErr)
		}
		switch {
		case wantErr != nil || gotErr != nil:
			if wantErr == nil || gotErr == nil || wantErr.Error() != gotErr.Error() {
				t.Fatalf("%s: the cached render's error %v, want %v", name, gotErr, wantErr)
			}
		default:
			if diff := testutil.DiffTrees(want, got); diff != "" {
				t.Fatalf("%s: the cached render differs from the full render:\n%s\n%s", name, diff, log.String())
			}
		}
	}
	edit := func(name string, change func()) {
		t.Helper()
		change()
		repo.writeHelmfile(t, releases)
		step(name)
	}
	repo.writeHelmfile(t, releases)
	step("first render")
	if data := readFile(t, filepath.Join(configRoot, "cluster", "namespaces", "apps.yaml")); !bytes.Contains(data, []byte("istio-injection")) {
		t.Fatalf("the chart's Namespace apps is not in config-root:\n%s", data)
	}
	edit("webapp's values, apps declared by nsowner", func() { releases[0].values = "values/webapp-admin.yaml" })
	edit("nsowner no longer declares apps", func() { releases[2].extra = "" })
	edit("nsowner declares apps again", func() { releases[2].extra = "    set:\n      - name: declare\n        value: true\n" })
	edit("Foo becomes namespaced", func() { releases[3].extra = "    set:\n      - name: scope\n        value: Namespaced\n" })
	edit("foo-crd removed", func() {
		releases = releases[:3:3]
		releases = append(releases, cacheRelease{name: "foo-user", namespace: "apps", chart: "./charts/foo-user"})
	})
	writeFile(t, filepath.Join(repo.dir, "kustomize", "extras", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other2\n  namespace: elsewhere\ndata:\n  a: b\n")
	step("a kustomize ConfigMap in another namespace renamed")
	writeFile(t, filepath.Join(repo.dir, "kustomize", "extras", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other2\n  namespace: extras\ndata:\n  a: b\n")
	step("the kustomize ConfigMap moved to the folder's namespace")

	// Extra helmfile arguments may name files no key covers: no cache.
	res, err := render.Render(context.Background(), render.Options{Source: repo.dir, Output: filepath.Join(t.TempDir(), "config-root"), Cache: cache, Progress: &log,
		Template: render.TemplateOptions{ExtraArgs: []string{"--skip-deps"}}})
	if err != nil || res.Cache != nil {
		t.Errorf("extra arguments: a render with the cache (%+v), or an error: %v", res.Cache, err)
	}

	fails = true
	edit("a release whose folder is webapp-admin's", func() {
		releases = append(releases, cacheRelease{name: "admin", namespace: "apps", chart: "./charts/webapp", values: "values/webapp-admin.yaml"})
	})
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.HasPrefix(l, "cache:") {
			t.Log(l)
		}
	}
}

// TestCacheRendersAhead: a cached render runs helm, while helmfile build keys the releases,
// for the releases whose values files or chart folder changed since the last cached
// render, and lays that out when the keys agree. Each step requires what a render without
// the cache gives, how many releases were rendered ahead, and that their output is gone
// when the render ends. Guesses the keys refute (a comment added to a values file, the
// helmfile changed beside a values file) render what the keys say instead; the helmfile's
// new releases are guessed right once a render has listed them again.
func TestCacheRendersAhead(t *testing.T) {
	testutil.ToolsEnv(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where helmfile template's output goes ahead of the keys
	repo := cacheRepo{dir: exampleRepo(t)}
	cache := filepath.Join(t.TempDir(), "cache")
	configRoot := filepath.Join(repo.dir, "config-root")
	const marker = "ahead-marker-5b1e0c3d" // a Secret value
	adminValues := func(replicas, comment string) {
		writeFile(t, filepath.Join(repo.dir, "values", "webapp-admin.yaml"), comment+"replicaCount: "+replicas+
			"\ngreeting: admin console\nservice:\n  port: 8443\ndatabase:\n  user: admin\n  password: "+marker+"\n")
	}
	adminValues("1", "")
	releases := []cacheRelease{
		{name: "webapp", namespace: "apps", chart: "./charts/webapp", values: "values/webapp.yaml.gotmpl"},
		{name: "webapp-admin", namespace: "apps", chart: "./charts/webapp", values: "values/webapp-admin.yaml"},
		{name: "tenants", namespace: "operators", chart: "./charts/tenant-operator"},
		{name: "base", namespace: "platform", chart: "./charts/platform"},
	}
	var log bytes.Buffer
	step := func(name string, rendered, ahead int) {
		t.Helper()
		if c := repo.renderCachedAsFull(t, name, configRoot, cache, &log); c == nil || c.Rendered != rendered || c.Ahead != ahead {
			t.Errorf("%s: cache %+v, want %d releases rendered, %d of them ahead", name, c, rendered, ahead)
		}
		left, err := filepath.Glob(filepath.Join(tmp, "configroot-ahead-*"))
		if err != nil || len(left) > 0 {
			t.Errorf("%s: the output rendered ahead is still there: %v %v", name, left, err)
		}
	}
	// A sub-helmfile's values files are relative to it.
	writeFile(t, filepath.Join(repo.dir, "sub", "helmfile.yaml"), "releases:\n  - name: sub-web\n    namespace: sub\n    chart: ../charts/webapp\n    values: [values/sub.yaml]\n")
	writeFile(t, filepath.Join(repo.dir, "sub", "values", "sub.yaml"), "greeting: sub\n")
	repo.sub = true
	repo.writeHelmfile(t, releases)
	step("first render", 5, 0)
	adminValues("2", "")
	step("values of webapp-admin", 1, 1)
	writeFile(t, filepath.Join(repo.dir, "sub", "values", "sub.yaml"), "greeting: sub, edited\n")
	step("values of the sub-helmfile's release", 1, 1)

	// A values file saved after the early render read it and before helmfile build did:
	// the keys see the new values, the early output the old ones. It is not used.
	adminValues("3", "")
	race := &savedBetween{done: make(chan struct{}), save: func() { adminValues("4", "") }}
	repo.runner = race
	res := repo.render(t, configRoot, cache, &log)
	repo.runner = nil
	if c := res.Cache; c == nil || c.Rendered != 1 || c.Ahead != 0 {
		t.Errorf("values saved while they were keyed: cache %+v, want 1 release rendered, none ahead", c)
	}
	full := filepath.Join(t.TempDir(), "config-root")
	repo.render(t, full, "", nil)
	if diff := testutil.DiffTrees(testutil.ReadTree(t, full), testutil.ReadTree(t, configRoot)); diff != "" {
		t.Fatalf("values saved while they were keyed: the cached render differs from the full render:\n%s", diff)
	}
	if !race.saved {
		t.Error("no early render ran: the race was not run")
	}
	if !strings.Contains(log.String(), "changed while the releases were keyed") {
		t.Errorf("-v does not say why the early render was not used:\n%s", log.String())
	}
	cm := filepath.Join(repo.dir, "charts", "webapp", "templates", "configmap.yaml")
	writeFile(t, cm, strings.Replace(string(readFile(t, cm)), "data:", "data:\n  edited: \"yes\"", 1))
	step("the webapp chart", 3, 3) // webapp, webapp-admin and sub-web
	adminValues("4", "# a comment changes no value\n")
	step("a comment in webapp-admin's values", 0, 0)

	adminValues("5", "")
	releases[2].extra = "    labels:\n      tier: operators\n"
	repo.writeHelmfile(t, releases)
	step("tenants' labels and webapp-admin's values", 2, 0)

	writeFile(t, filepath.Join(repo.dir, "values", "extra.yaml"), "greeting: extra\n")
	writeFile(t, filepath.Join(repo.dir, "values", "note.txt"), "a note\n")
	releases = append(releases, cacheRelease{name: "extra", namespace: "extra", chart: "./charts/webapp", values: "values/extra.yaml"})
	releases[3].extra = "    set:\n      - name: note\n        file: values/note.txt\n" // base: not cacheable
	repo.writeHelmfile(t, releases)
	step("extra added, base sets a value from a file", 2, 0)
	writeFile(t, filepath.Join(repo.dir, "values", "extra.yaml"), "greeting: extra, edited\n")
	step("values of extra", 2, 2) // and base, rendered every time
	step("unchanged, but for base", 1, 1)

	// helmfile build runs the prepare hooks as helmfile template does: never both at once.
	releases[3].extra = "    hooks:\n      - events: [prepare]\n        command: \"true\"\n"
	repo.writeHelmfile(t, releases)
	step("base has a hook", 1, 0)
	writeFile(t, filepath.Join(repo.dir, "values", "extra.yaml"), "greeting: extra, edited again\n")
	step("values of extra, with a hook in the helmfile", 2, 0)

	if !strings.Contains(log.String(), "rendered while helmfile build keyed them") {
		t.Errorf("-v does not say which render used releases rendered ahead:\n%s", log.String())
	}
	cacheHolds(t, cache, marker)
	if strings.Contains(log.String(), marker) {
		t.Errorf("the render's output shows a Secret value")
	}
}

// TestCacheNewHelm: the cache asks helm and helmfile their versions once per executable
// (a cached render then starts no version process), and a helm replaced in place, even
// with the old one's modification time, is asked again: the render after it is a miss,
// since another helm may render the same inputs differently.
func TestCacheNewHelm(t *testing.T) {
	testutil.ToolsEnv(t)
	bin := t.TempDir()
	helm := filepath.Join(bin, "helm")
	install := func(from string) {
		t.Helper()
		if err := os.Remove(helm); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(helm, readFile(t, testutil.Tool(t, from)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	install("helm")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	repo := exampleRepo(t)
	cache := filepath.Join(t.TempDir(), "cache")
	cached := func(name string, hit bool) {
		t.Helper()
		res := mustRender(t, repo, func(o *render.Options) { o.Cache = cache })
		if res.Cache == nil || res.Cache.Hit != hit {
			t.Errorf("%s: cache %+v, want hit=%t", name, res.Cache, hit)
		}
	}
	cached("first render", false)
	cached("unchanged", true)
	memo := string(readFile(t, filepath.Join(cache, "render", "tools.json")))
	if !strings.Contains(memo, helm) || !strings.Contains(memo, "v4.") {
		t.Fatalf("the cache does not know helm 4 at %s: %s", helm, memo)
	}
	info, err := os.Stat(helm)
	if err != nil {
		t.Fatal(err)
	}
	install("helm3")
	if err := os.Chtimes(helm, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	cached("helm 3 in helm 4's place", false)
	cached("helm 3, unchanged", true)
	if memo := string(readFile(t, filepath.Join(cache, "render", "tools.json"))); !strings.Contains(memo, "v3.") {
		t.Errorf("the cache did not ask the new helm its version: %s", memo)
	}

	// A version manager's shim (asdf's are scripts) runs the helm the repo or the
	// environment pins: the file stays, the helm changes; it is asked every time.
	memo = string(readFile(t, filepath.Join(cache, "render", "tools.json")))
	if err := os.Remove(helm); err != nil {
		t.Fatal(err)
	}
	writeFile(t, helm, "#!/bin/sh\nexec \"$CONFIGROOT_TEST_HELM\" \"$@\"\n")
	if err := os.Chmod(helm, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIGROOT_TEST_HELM", testutil.Tool(t, "helm"))
	cached("a shim running helm 4", true) // the state of the first render, with helm 4
	t.Setenv("CONFIGROOT_TEST_HELM", testutil.Tool(t, "helm3"))
	cached("the same shim running helm 3", true) // the state with helm 3
	if now := string(readFile(t, filepath.Join(cache, "render", "tools.json"))); now != memo {
		t.Errorf("the cache keeps the version of a shim: %s", now)
	}
}

// savedBetween runs helmfile, but holds helmfile build until the early helmfile template
// (of a cached render) is done, and then calls save: a file saved between the two.
type savedBetween struct {
	save  func()
	done  chan struct{}
	saved bool
}

func (r *savedBetween) Run(ctx context.Context, c render.Command, stdout, stderr io.Writer) error {
	if slices.Contains(c.Args, "--embed-values") {
		select {
		case <-r.done:
		case <-time.After(time.Minute): // no early render: the test says so
		}
	}
	err := render.ExecRunner{}.Run(ctx, c, stdout, stderr)
	if strings.Contains(c.Output, "configroot-ahead-") {
		r.save()
		r.saved = true
		close(r.done)
	}
	return err
}

// TestCacheRenderedTree: `render --rendered TREE --cache DIR` lays out again only the
// releases whose files in TREE changed (the real External Secrets, cert-manager and webapp
// charts' output, plus a copy of webapp's as a fourth release), and gives, after each edit
// (a ConfigMap, a Secret's value, a release removed, one added), what a render without the
// cache gives. The cache holds no Secret value.
func TestCacheRenderedTree(t *testing.T) {
	testutil.ToolsEnv(t)
	tree := testutil.CopyDir(t, testutil.RealChartsTree(t))
	if err := os.CopyFS(filepath.Join(tree, "apps-b", "webapp-b"), os.DirFS(filepath.Join(tree, "apps", "webapp"))); err != nil {
		t.Fatal(err)
	}
	source := t.TempDir()
	cache := filepath.Join(t.TempDir(), "cache")
	configRoot := filepath.Join(t.TempDir(), "config-root")
	mapping, err := secrets.LoadMapping(source, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	renderTo := func(out, cache string) render.Result {
		t.Helper()
		conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping, Format: secrets.FormatESO, Partial: cache != ""}}
		res, err := render.Render(context.Background(), render.Options{Source: source, Rendered: tree, Output: out,
			Filters: conv.Filters(), Cache: cache, FiltersKey: "eso"})
		if err != nil {
			t.Fatalf("render --rendered %s (cache %q): %v", tree, cache, err)
		}
		return res
	}
	step := func(name string, rendered, removed int, hit bool) {
		t.Helper()
		full := filepath.Join(t.TempDir(), "config-root")
		renderTo(full, "")
		c := renderTo(configRoot, cache).Cache
		if diff := testutil.DiffTrees(testutil.ReadTree(t, full), testutil.ReadTree(t, configRoot)); diff != "" {
			t.Fatalf("%s: the cached render differs from the full render:\n%s", name, diff)
		}
		if c == nil || c.Hit != hit || c.Rendered != rendered || c.Removed != removed {
			t.Errorf("%s: cache %+v, want hit=%t, %d releases laid out, %d removed", name, c, hit, rendered, removed)
		}
	}
	step("first render", 4, 0, false)
	step("unchanged", 0, 0, true)

	cm := filepath.Join(tree, "apps", "webapp", "webapp", "templates", "configmap.yaml")
	writeFile(t, cm, strings.Replace(string(readFile(t, cm)), "data:", "data:\n  edited: \"yes\"", 1))
	step("a ConfigMap of apps/webapp", 1, 0, true)

	const marker = "rendered-marker-9d2c41e7"
	secret := filepath.Join(tree, "apps-b", "webapp-b", "webapp", "templates", "secret.yaml")
	writeFile(t, secret, strings.Replace(string(readFile(t, secret)), "replace-me-from-the-secret-store", marker, 1))
	step("a Secret's value in apps-b/webapp-b", 1, 0, true)

	if err := os.RemoveAll(filepath.Join(tree, "apps-b")); err != nil {
		t.Fatal(err)
	}
	step("apps-b/webapp-b removed", 0, 1, true)

	if err := os.CopyFS(filepath.Join(tree, "apps-new", "webapp-new"), os.DirFS(filepath.Join(tree, "apps", "webapp"))); err != nil {
		t.Fatal(err)
	}
	step("apps-new/webapp-new added", 1, 0, true)

	cacheHolds(t, cache, marker)
}

// cacheHolds fails the test when a file of the cache folder holds marker (a Secret value),
// and returns how many files it holds.
func cacheHolds(t *testing.T, cache, marker string) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(cache, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		files++
		if bytes.Contains(readFile(t, p), []byte(marker)) {
			t.Errorf("%s holds a Secret value", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
