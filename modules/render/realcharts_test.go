package render_test

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// realChartsRepo is a cluster repo holding the External Secrets and cert-manager charts,
// taken from their Go modules and completed as their release process would.
func realChartsRepo(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	testutil.ExternalSecretsChart(t, filepath.Join(repo, "charts"))
	testutil.CertManagerChart(t, filepath.Join(repo, "charts"))
	writeFile(t, filepath.Join(repo, "values", "cert-manager.yaml"), "crds:\n  enabled: true\n")
	writeFile(t, filepath.Join(repo, "helmfile.yaml"), `releases:
  - name: external-secrets
    namespace: external-secrets
    chart: ./charts/external-secrets
  - name: cert-manager
    namespace: cert-manager
    chart: ./charts/cert-manager
    values:
      - values/cert-manager.yaml
`)
	return repo
}

// helmTemplate runs helm itself over a chart, as helmfile would, and returns the resources
// it renders by identity ("group/Kind name"), test hooks excluded.
func helmTemplate(t *testing.T, helm, repo, release, ns, chart string, values ...string) map[string]int {
	t.Helper()
	args := []string{"template", release, chart, "--namespace", ns, "--include-crds", "--skip-tests", "--kube-version", render.DefaultKubeVersion}
	for _, v := range values {
		args = append(args, "--values", v)
	}
	cmd := exec.Command(helm, args...)
	cmd.Dir = repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, stderr.String())
	}
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(out), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, n := range nodes {
		if strings.HasPrefix(n.GetAnnotations()["helm.sh/hook"], "test") {
			continue
		}
		ids[identity(n)]++
	}
	return ids
}

func identity(n *yaml.RNode) string {
	group := ""
	if i := strings.LastIndexByte(n.GetApiVersion(), '/'); i >= 0 {
		group = n.GetApiVersion()[:i]
	}
	return group + "/" + n.GetKind() + " " + n.GetName()
}

// TestRealCharts renders the External Secrets and cert-manager charts with helmfile and
// checks that every resource helm renders lands exactly once, at the path the conventions
// give, that a second run is byte-identical and that removing a release removes its files.
func TestRealCharts(t *testing.T) {
	testutil.ToolsEnv(t)
	for _, h := range testutil.Helms(t) {
		t.Run(h.Name, func(t *testing.T) { testRealCharts(t, h.Path) })
	}
}

func testRealCharts(t *testing.T, helm string) {
	withHelm := func(o *render.Options) { o.Template.HelmBinary = helm }
	repo := realChartsRepo(t)
	res := mustRender(t, repo, withHelm)
	out := filepath.Join(repo, "config-root")
	files := testutil.ReadTree(t, out)

	releases := []struct{ name, ns, chart, folder string }{
		{"external-secrets", "external-secrets", "./charts/external-secrets", "external-secrets"},
		{"cert-manager", "cert-manager", "./charts/cert-manager", "cert-manager"},
	}
	want := map[string]int{}
	for _, r := range releases {
		var values []string
		if r.name == "cert-manager" {
			values = append(values, "values/cert-manager.yaml")
		}
		for id, n := range helmTemplate(t, helm, repo, r.name, r.ns, r.chart, values...) {
			want[r.ns+" "+id] += n
		}
	}
	if len(want) < 80 {
		t.Fatalf("helm rendered only %d resources: the charts are not complete", len(want))
	}

	got := map[string]int{}
	for p, data := range files {
		n, err := yaml.Parse(string(data))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if path.Dir(p) == "cluster/namespaces" && n.GetAnnotations()[render.AnnotationReleaseName] == "" {
			continue // a Namespace object configroot adds
		}
		relNS := n.GetAnnotations()[render.AnnotationReleaseNamespace]
		got[relNS+" "+identity(n)]++
		checkPath(t, p, n, relNS)
	}
	var missing, extra, twice []string
	for id, n := range want {
		switch {
		case got[id] == 0:
			missing = append(missing, id)
		case got[id] != n:
			twice = append(twice, id)
		}
	}
	for id := range got {
		if want[id] == 0 {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra)+len(twice) > 0 {
		t.Errorf("config-root vs helm template: missing %v, extra %v, counted differently %v", missing, extra, twice)
	}

	// A few paths, exactly.
	for _, p := range []string{
		"customresourcedefinitions/cert-manager/cert-manager/certificates.cert-manager.io-crd.yaml",
		"customresourcedefinitions/external-secrets/external-secrets/externalsecrets.external-secrets.io-crd.yaml",
		"namespaces/cert-manager/cert-manager/cert-manager-deploy.yaml",
		"namespaces/cert-manager/cert-manager/cert-manager-webhook-svc.yaml",
		"cluster/resources/cert-manager/cert-manager/cert-manager-webhook-valwebhookcfg.yaml",
		"cluster/resources/cert-manager/cert-manager/cert-manager-controller-issuers-clusterrole.yaml",
		"cluster/resources/external-secrets/external-secrets/secretstore-validate-valwebhookcfg.yaml",
		"namespaces/external-secrets/external-secrets/external-secrets-webhook-deploy.yaml",
		// cert-manager's leader election lives in kube-system on purpose: kept there.
		"namespaces/kube-system/cert-manager/cert-manager-leaderelection-role.yaml",
		"cluster/namespaces/cert-manager.yaml",
		"cluster/namespaces/external-secrets.yaml",
	} {
		if _, ok := files[p]; !ok {
			t.Errorf("missing %s", p)
		}
	}
	if _, ok := files["cluster/namespaces/kube-system.yaml"]; ok {
		t.Error("a Namespace object for kube-system was emitted")
	}

	// A second run is byte-identical.
	again := mustRender(t, repo, withHelm)
	if again.Files.Written() != 0 || again.Files.Removed != 0 {
		t.Errorf("second run: %+v", again.Files)
	}
	if d := testutil.DiffTrees(files, testutil.ReadTree(t, out)); d != "" {
		t.Errorf("second run changed config-root:\n%s", d)
	}

	// Removing a release removes its files and its namespace.
	writeFile(t, filepath.Join(repo, "helmfile.yaml"), "releases:\n  - name: external-secrets\n    namespace: external-secrets\n    chart: ./charts/external-secrets\n")
	removed := mustRender(t, repo, withHelm)
	for p := range testutil.ReadTree(t, out) {
		if strings.Contains(p, "cert-manager") {
			t.Errorf("%s survived the removal of release cert-manager", p)
		}
	}
	if removed.Files.Removed == 0 || removed.Resources+removed.Files.Removed != res.Resources {
		t.Errorf("after removal: %d files, %d removed, before %d", removed.Resources, removed.Files.Removed, res.Resources)
	}
}

// checkPath checks a file's path against the conventions, from the resource alone.
func checkPath(t *testing.T, p string, n *yaml.RNode, relNS string) {
	t.Helper()
	folder := n.GetAnnotations()[render.AnnotationReleaseName] // chart == release in these repos
	kind, name, ns := n.GetKind(), n.GetName(), n.GetNamespace()
	stem := strings.NewReplacer(":", "-", "/", "-").Replace(name)
	var dir string
	switch {
	case kind == "Namespace":
		if p != "cluster/namespaces/"+stem+".yaml" {
			t.Errorf("Namespace %s at %s", name, p)
		}
		return
	case kind == "CustomResourceDefinition":
		dir = path.Join("customresourcedefinitions", relNS, folder)
	case ns == "":
		dir = path.Join("cluster/resources", relNS, folder)
	default:
		dir = path.Join("namespaces", ns, folder)
	}
	if path.Dir(p) != dir {
		t.Errorf("%s %s at %s, want it in %s/", kind, name, p, dir)
	}
	base := strings.TrimSuffix(path.Base(p), ".yaml")
	if !strings.HasPrefix(base, stem+"-") {
		t.Errorf("%s %s in file %s", kind, name, p)
	}
	if kind == "Deployment" && !strings.HasSuffix(base, "-deploy") {
		t.Errorf("Deployment %s in file %s", name, p)
	}
}

// TestSubchartFolders renders, with the real helmfile and helm, an umbrella chart holding the
// External Secrets chart as a packaged subchart, a nested template folder, a Knative Service and a
// CRD of its own, and checks that every file keeps its folder inside the chart below the
// release folder in all three trees (only a last templates/ or crds/ is dropped), as
// `jx gitops helmfile move` keeps it, and that a render limited by a selector replaces
// those nested files too.
func TestSubchartFolders(t *testing.T) {
	testutil.ToolsEnv(t)
	for _, h := range testutil.Helms(t) {
		t.Run(h.Name, func(t *testing.T) { testSubchartFolders(t, h.Path) })
	}
}

func testSubchartFolders(t *testing.T, helm string) {
	withHelm := func(o *render.Options) { o.Template.HelmBinary = helm }
	repo := t.TempDir()
	umbrella := filepath.Join(repo, "charts", "platform")
	// The subchart goes in packaged, as `helm dependency build` puts it (packaging honours
	// its .helmignore, which keeps templates/crds/README.md out).
	eso := testutil.ExternalSecretsChart(t, t.TempDir())
	if out, err := exec.Command(helm, "package", eso, "--destination", filepath.Join(umbrella, "charts")).CombinedOutput(); err != nil {
		t.Fatalf("helm package %s: %v\n%s", eso, err, out)
	}
	writeFile(t, filepath.Join(umbrella, "Chart.yaml"), "apiVersion: v2\nname: platform\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(umbrella, "values.yaml"), "external-secrets:\n  fullnameOverride: external-secrets\n")
	writeFile(t, filepath.Join(umbrella, "templates", "service.yaml"),
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: platform\nspec:\n  ports:\n    - port: 80\n")
	writeFile(t, filepath.Join(umbrella, "templates", "knative.yaml"),
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: platform\nspec:\n  template:\n    spec:\n      containers:\n        - image: example.com/platform:1\n")
	writeFile(t, filepath.Join(umbrella, "templates", "config", "settings.yaml"),
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: blue\n")
	writeFile(t, filepath.Join(umbrella, "templates", "config", "leader.yaml"),
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: platform-leader\n  namespace: kube-system\nrules: []\n")
	writeFile(t, filepath.Join(umbrella, "crds", "widgets.yaml"), `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object}}
`)
	writeFile(t, filepath.Join(repo, "charts", "notes", "Chart.yaml"), "apiVersion: v2\nname: notes\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(repo, "charts", "notes", "templates", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n")
	writeFile(t, filepath.Join(repo, "helmfile.yaml"), `releases:
  - name: platform
    namespace: infra
    chart: ./charts/platform
  - name: notes
    namespace: tools
    chart: ./charts/notes
`)
	mustRender(t, repo, withHelm)
	out := filepath.Join(repo, "config-root")
	files := testutil.ReadTree(t, out)

	for _, p := range []string{
		"namespaces/infra/platform/platform-svc.yaml",
		"namespaces/infra/platform/platform-ksvc.yaml",
		"namespaces/infra/platform/templates/config/settings-cm.yaml",
		"namespaces/kube-system/platform/templates/config/platform-leader-role.yaml",
		"customresourcedefinitions/infra/platform/widgets.example.com-crd.yaml",
		"namespaces/infra/platform/charts/external-secrets/external-secrets-deploy.yaml",
		"cluster/resources/infra/platform/charts/external-secrets/secretstore-validate-valwebhookcfg.yaml",
		"customresourcedefinitions/infra/platform/charts/external-secrets/externalsecrets.external-secrets.io-crd.yaml",
	} {
		if _, ok := files[p]; !ok {
			t.Errorf("missing %s", p)
		}
	}
	// Every file helm wrote is in the folder its "# Source:" line gives, by the same rule.
	checked := 0
	for p, data := range files {
		line, _, _ := strings.Cut(string(data), "\n")
		source, ok := strings.CutPrefix(line, "# Source: ")
		if !ok {
			continue
		}
		_, inChart, _ := strings.Cut(source, "/")
		dir := path.Dir(inChart)
		if b := path.Base(dir); b == "templates" || b == "crds" {
			dir = path.Dir(dir)
		}
		parts := strings.Split(p, "/")
		if parts[0] == "cluster" {
			parts = parts[1:]
		}
		if got := path.Dir(strings.Join(parts[3:], "/")); got != dir {
			t.Errorf("%s (from %s) is in %q below its release folder, want %q", p, source, got, dir)
		}
		checked++
	}
	if checked < 40 {
		t.Errorf("only %d files carry helm's # Source: line", checked)
	}
	for _, ns := range []string{"infra", "tools"} {
		want := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n  labels:\n    name: " + ns + "\n"
		if got := string(files["cluster/namespaces/"+ns+".yaml"]); got != want {
			t.Errorf("cluster/namespaces/%s.yaml:\n%s\nwant:\n%s", ns, got, want)
		}
	}

	// A selector render of platform replaces its nested files, those in kube-system too.
	if err := os.Remove(filepath.Join(umbrella, "templates", "config", "leader.yaml")); err != nil {
		t.Fatal(err)
	}
	mustRender(t, repo, func(o *render.Options) { withHelm(o); o.Template.Selectors = []string{"name=platform"} })
	after := testutil.ReadTree(t, out)
	if _, ok := after["namespaces/kube-system/platform/templates/config/platform-leader-role.yaml"]; ok {
		t.Error("a selector render kept the Role its release no longer renders")
	}
	if _, ok := after["namespaces/tools/notes/notes-cm.yaml"]; !ok {
		t.Error("a selector render of platform removed release notes' files")
	}
	if len(after) != len(files)-1 {
		t.Errorf("after the selector render: %d files, want %d", len(after), len(files)-1)
	}
}

// TestHelmMajorsGiveTheSameConfigRoot renders the real charts and the example repo with
// helm 4 and helm 3: config-root must be byte-identical, so that a repo moving to helm 4
// sees no diff.
func TestHelmMajorsGiveTheSameConfigRoot(t *testing.T) {
	testutil.ToolsEnv(t)
	for name, repo := range map[string]string{"real charts": realChartsRepo(t), "example": exampleRepo(t)} {
		t.Run(name, func(t *testing.T) {
			var trees []map[string][]byte
			for _, h := range testutil.Helms(t) {
				r := testutil.CopyDir(t, repo)
				mustRender(t, r, func(o *render.Options) { o.Template.HelmBinary = h.Path })
				trees = append(trees, testutil.ReadTree(t, filepath.Join(r, "config-root")))
			}
			if d := testutil.DiffTrees(trees[0], trees[1]); d != "" {
				t.Errorf("helm 4 and helm 3 give different config-roots (want: helm 4, got: helm 3):\n%s", d)
			}
		})
	}
}
