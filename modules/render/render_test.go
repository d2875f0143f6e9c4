package render_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
)

// exampleRepo copies examples/cluster, without any rendered config-root, into a temp folder.
func exampleRepo(t *testing.T) string {
	t.Helper()
	repo := testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(t), "examples", "cluster"))
	if err := os.RemoveAll(filepath.Join(repo, "config-root")); err != nil {
		t.Fatal(err)
	}
	return repo
}

func renderRepo(t *testing.T, repo string, edit func(*render.Options)) (render.Result, error) {
	t.Helper()
	o := render.Options{Source: repo}
	if edit != nil {
		edit(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return render.Render(ctx, o)
}

func mustRender(t *testing.T, repo string, edit func(*render.Options)) render.Result {
	t.Helper()
	res, err := renderRepo(t, repo, edit)
	if err != nil {
		t.Fatalf("render %s: %v", repo, err)
	}
	return res
}

// TestExampleCluster renders examples/cluster with the real helmfile and helm. (The CLI's
// tests compare its full output, secrets converted, with the committed golden tree.)
func TestExampleCluster(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := exampleRepo(t)
	res := mustRender(t, repo, nil)
	got := filepath.Join(repo, "config-root")

	wantReleases := []string{"apps/webapp", "apps/webapp-admin", "operators/tenants", "platform/base", "monitoring/monitoring-rules"}
	var gotReleases []string
	for _, r := range res.Releases {
		gotReleases = append(gotReleases, r.String())
	}
	if strings.Join(gotReleases, " ") != strings.Join(wantReleases, " ") {
		t.Errorf("releases %v, want %v", gotReleases, wantReleases)
	}
	if res.Files.Added != res.Resources || res.Files.Removed != 0 {
		t.Errorf("first render stats %+v for %d files", res.Files, res.Resources)
	}

	// A second run changes nothing, not even a modification time.
	before := testutil.ReadTree(t, got)
	stamp := time.Unix(1_000_000_000, 0)
	probe := filepath.Join(got, "namespaces", "apps", "webapp", "webapp-deploy.yaml")
	if err := os.Chtimes(probe, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	again := mustRender(t, repo, nil)
	if again.Files.Written() != 0 || again.Files.Removed != 0 || again.Files.Unchanged != res.Resources {
		t.Errorf("second render stats %+v, want %d unchanged", again.Files, res.Resources)
	}
	if d := testutil.DiffTrees(before, testutil.ReadTree(t, got)); d != "" {
		t.Errorf("second render changed config-root:\n%s", d)
	}
	if info, err := os.Stat(probe); err != nil || !info.ModTime().Equal(stamp) {
		t.Errorf("second render rewrote %s (%v)", probe, err)
	}
}

func TestExampleEnvironment(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := exampleRepo(t)
	mustRender(t, repo, func(o *render.Options) { o.Template.Environment = "production" })
	deploy, err := os.ReadFile(filepath.Join(repo, "config-root", "namespaces", "apps", "webapp", "webapp-deploy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(deploy, []byte("replicas: 3")) {
		t.Errorf("production webapp Deployment has not 3 replicas:\n%s", deploy)
	}
}

// TestExampleSelector checks that a render limited by selectors replaces only the selected
// releases' folders and keeps everything else.
func TestExampleSelector(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := exampleRepo(t)
	mustRender(t, repo, nil)
	out := filepath.Join(repo, "config-root")
	full := testutil.ReadTree(t, out)

	// Change the webapp chart: only the apps releases may change.
	cm := filepath.Join(repo, "charts", "webapp", "templates", "configmap.yaml")
	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cm, bytes.Replace(data, []byte("GREETING:"), []byte("SALUTATION:"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	// A stale file in a platform release folder survives a render of other releases.
	stale := "namespaces/platform/platform-base/stale-cm.yaml"
	if err := os.WriteFile(filepath.Join(out, stale), []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := mustRender(t, repo, func(o *render.Options) { o.Template.Selectors = []string{"name=webapp"} })
	if !res.Partial || len(res.Releases) != 1 || res.Releases[0].Name != "webapp" {
		t.Fatalf("selector render: partial %v, releases %v", res.Partial, res.Releases)
	}
	after := testutil.ReadTree(t, out)
	for p, before := range full {
		changed := !bytes.Equal(before, after[p])
		if changed != (p == "namespaces/apps/webapp/webapp-config-cm.yaml") {
			t.Errorf("%s: changed = %v", p, changed)
		}
	}
	if _, ok := after[stale]; !ok {
		t.Errorf("%s of an unselected release was removed", stale)
	}
}

func TestRemovedReleaseRemovesItsFiles(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := exampleRepo(t)
	mustRender(t, repo, nil)
	hf := filepath.Join(repo, "helmfile.yaml")
	data, err := os.ReadFile(hf)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("  - name: base\n"))
	if i < 0 {
		t.Fatal("release base not found in helmfile.yaml")
	}
	if err := os.WriteFile(hf, data[:i], 0o644); err != nil {
		t.Fatal(err)
	}
	res := mustRender(t, repo, nil)
	files := testutil.ReadTree(t, filepath.Join(repo, "config-root"))
	for p := range files {
		if strings.Contains(p, "platform") {
			t.Errorf("%s survived the removal of release platform/base", p)
		}
	}
	// 5 resources, plus the Namespace object of platform.
	if res.Files.Removed != 6 || res.Files.Written() != 0 {
		t.Errorf("stats %+v, want 6 removed and nothing written", res.Files)
	}
}

// TestBadInput checks that each kind of bad input gives one clear error naming the file or
// release, and leaves an existing config-root exactly as it was.
func TestBadInput(t *testing.T) {
	testutil.ToolsEnv(t)
	cases := []struct {
		name   string
		break_ func(t *testing.T, repo string) // makes the repo bad
		want   []string                        // the error contains each
	}{
		{
			name: "malformed helmfile.yaml",
			break_: func(t *testing.T, repo string) {
				writeFile(t, filepath.Join(repo, "helmfile.yaml"), "releases:\n  - name: webapp\n    chart: [./charts/webapp\n")
			},
			want: []string{"helmfile template", "helmfile.yaml: failed to read helmfile.yaml", "yaml: line 2"},
		},
		{
			name: "chart template error",
			break_: func(t *testing.T, repo string) {
				writeFile(t, filepath.Join(repo, "charts", "platform", "templates", "broken.yaml"),
					"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nothing.here }}\n")
			},
			want: []string{"helmfile.yaml: release platform/base: ", "platform/templates/broken.yaml:4:18", "nil pointer"},
		},
		{
			name: "chart renders invalid YAML",
			break_: func(t *testing.T, repo string) {
				writeFile(t, filepath.Join(repo, "charts", "platform", "templates", "invalid.yaml"),
					"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [unclosed\n")
			},
			want: []string{"release platform/base: YAML parse error on platform/templates/invalid.yaml", "line 6"},
		},
		{
			name: "missing chart",
			break_: func(t *testing.T, repo string) {
				if err := os.RemoveAll(filepath.Join(repo, "charts", "tenant-operator")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"release operators/tenants: path \"./charts/tenant-operator\" not found"},
		},
		{
			name:   "unwritable output folder",
			break_: func(t *testing.T, repo string) { makeReadOnly(t, repo) },
			want:   []string{"config-root: mkdir "},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := exampleRepo(t)
			out := filepath.Join(repo, "config-root")
			mustRender(t, repo, nil)
			// Make the existing config-root differ from any new render, so that a write is due.
			writeFile(t, filepath.Join(out, "namespaces", "apps", "webapp", "webapp-deploy.yaml"), "# edited by hand\n")
			before := testutil.ReadTree(t, out)
			entriesBefore := dirNames(t, repo)

			tc.break_(t, repo)
			_, err := renderRepo(t, repo, nil)
			if err == nil {
				t.Fatal("render succeeded")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
			if d := testutil.DiffTrees(before, testutil.ReadTree(t, out)); d != "" {
				t.Errorf("config-root changed:\n%s", d)
			}
			if got := dirNames(t, repo); got != entriesBefore {
				t.Errorf("entries beside config-root changed: %s, want %s", got, entriesBefore)
			}
		})
	}
}

func TestEmptyRenderRefused(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := exampleRepo(t)
	writeFile(t, filepath.Join(repo, "helmfile.yaml"), "releases: []\n")
	writeFile(t, filepath.Join(repo, "configroot.yaml"), "kubeVersion: v1.37.0\n")
	if _, err := renderRepo(t, repo, nil); !errors.Is(err, render.ErrEmpty) {
		t.Fatalf("error %v, want ErrEmpty", err)
	}
	if _, err := os.Stat(filepath.Join(repo, "config-root")); !os.IsNotExist(err) {
		t.Errorf("config-root was written (%v)", err)
	}
	res, err := renderRepo(t, repo, func(o *render.Options) { o.AllowEmpty = true })
	if err != nil || res.Resources != 0 {
		t.Fatalf("allow-empty render: %v, %d resources", err, res.Resources)
	}
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

// makeReadOnly makes dir unwritable. Tests run as root in CI, which ignores permission
// bits, so there the folder gets the immutable attribute (chattr +i) instead.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i %s: %v: %s (root ignores permission bits; the immutable attribute is the only way to make a folder unwritable for root)", dir, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
}
