package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/spf13/pflag"
)

// TestHelpExplainsEveryFlag checks that --help of every command names each of its flags
// with a description.
func TestHelpExplainsEveryFlag(t *testing.T) {
	root := newRootCommand(testVersion, nil, nil)
	for _, cmd := range append(root.Commands(), root) {
		if cmd.Hidden || cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		t.Run(cmd.Name(), func(t *testing.T) {
			var out bytes.Buffer
			code := Run(context.Background(), testVersion, append(strings.Fields(cmd.CommandPath())[1:], "--help"), &out, &out)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out.String())
			}
			help := out.String()
			if !strings.Contains(help, cmd.Short) && !strings.Contains(help, cmd.Long) {
				t.Errorf("help does not describe the command:\n%s", help)
			}
			cmd.Flags().VisitAll(func(f *pflag.Flag) {
				if f.Usage == "" || !strings.Contains(help, "--"+f.Name) || !strings.Contains(help, f.Usage[:min(len(f.Usage), 30)]) {
					t.Errorf("--%s is not explained in:\n%s", f.Name, help)
				}
			})
		})
	}
}

// testVersion is the configroot version the tests run Run with.
const testVersion = "test"

// buildCLI builds the configroot binary for tests that check real exit codes.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "configroot")
	cmd := exec.Command("go", "build", "-o", bin, "..") // cmd/configroot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runBinary(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func TestRenderCommand(t *testing.T) {
	testutil.ToolsEnv(t)
	bin := buildCLI(t)
	repo := testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(t), "examples", "cluster"))
	if err := os.RemoveAll(filepath.Join(repo, "config-root")); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runBinary(t, bin, "render", "--source", repo)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout is not empty: %q", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	wantLines := []string{"release   apps/webapp ", "release   apps/webapp-admin ", "release   operators/tenants ", "release   platform/base ", "kustomize monitoring/monitoring-rules ",
		"rendered 4 releases and 1 kustomize folders into " + filepath.Join(repo, "config-root") + ": 33 files; 33 written (33 new, 0 changed), 0 unchanged, 0 removed",
		"secrets: 2 converted into ExternalSecrets (stores: vault), 1 empty kept as Secrets"}
	if len(lines) != len(wantLines) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(wantLines), stderr)
	}
	for i, w := range wantLines {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("stderr line %d = %q, want it to start with %q", i, lines[i], w)
		}
	}

	_, stderr, code = runBinary(t, bin, "render", "--source", repo)
	if code != 0 || !strings.Contains(stderr, "0 written (0 new, 0 changed), 33 unchanged, 0 removed") {
		t.Errorf("second run: exit %d:\n%s", code, stderr)
	}

	// A failure: one line on stderr, exit 1, config-root untouched.
	before := testutil.ReadTree(t, filepath.Join(repo, "config-root"))
	if err := os.RemoveAll(filepath.Join(repo, "charts", "platform")); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runBinary(t, bin, "render", "--source", repo)
	if code != 1 || stdout != "" {
		t.Errorf("missing chart: exit %d, stdout %q", code, stdout)
	}
	if !strings.HasPrefix(stderr, "configroot: helmfile template "+filepath.Join(repo, "helmfile.yaml")+": release platform/base: ") ||
		strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("missing chart: stderr is not one clear line:\n%s", stderr)
	}
	if d := testutil.DiffTrees(before, testutil.ReadTree(t, filepath.Join(repo, "config-root"))); d != "" {
		t.Errorf("a failed render changed config-root:\n%s", d)
	}

	// Bad usage.
	_, stderr, code = runBinary(t, bin, "render", "--no-such-flag")
	if code == 0 || !strings.Contains(stderr, "unknown flag: --no-such-flag") {
		t.Errorf("unknown flag: exit %d:\n%s", code, stderr)
	}
}

// TestExampleGolden renders examples/cluster as `make render` does (real helmfile and helm,
// secrets converted) and compares the result byte for byte with the committed
// examples/cluster/config-root. No secret value of the example may be in it.
func TestExampleGolden(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(t), "examples", "cluster"))
	if err := os.RemoveAll(filepath.Join(repo, "config-root")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := Run(context.Background(), testVersion, []string{"render", "--source", repo}, &out, &out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	got := filepath.Join(repo, "config-root")
	testutil.CompareGolden(t, filepath.Join(testutil.RepoRoot(t), "examples", "cluster", "config-root"), got, "make golden")
	for p, data := range testutil.ReadTree(t, got) {
		if bytes.Contains(data, []byte("replace-me-from-the-secret-store")) {
			t.Errorf("%s holds the example's secret value", p)
		}
	}
	// check renders with the same secrets conversion: the fresh render is up to date.
	out.Reset()
	if code := Run(context.Background(), testVersion, []string{"check", "--source", repo}, &out, &out); code != 0 {
		t.Errorf("check of a fresh render: exit %d:\n%s", code, out.String())
	}
}

func TestRenderRenderedTree(t *testing.T) {
	rendered := t.TempDir()
	src := filepath.Join(rendered, "apps", "web", "web", "templates")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "config-root")
	var stdout, stderr bytes.Buffer
	// --helmfile names a program that does not exist: --rendered must not run it.
	code := Run(context.Background(), testVersion, []string{"render", "--rendered", rendered, "--output", out, "--source", t.TempDir(), "--helmfile", "/nonexistent/helmfile"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := testutil.ReadTree(t, out)
	if _, ok := got["namespaces/apps/web/c-cm.yaml"]; !ok || len(got) != 2 {
		t.Errorf("files %v", got)
	}
}

// TestRenderCache runs render --cache as a user would: the first render keys every
// release, the second after a values change renders one and gives what a render without
// the cache gives; the cache does not go with --selector.
func TestRenderCache(t *testing.T) {
	testutil.ToolsEnv(t)
	repo := testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(t), "examples", "cluster"))
	cache := filepath.Join(t.TempDir(), "cache")
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code := Run(context.Background(), testVersion, args, &out, &out); code != 0 {
			t.Fatalf("configroot %s: exit %d:\n%s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}
	// A mapping rule for a Secret no release renders: a full render warns about it, a
	// render that reuses releases cannot tell.
	mapping := filepath.Join(repo, ".jx", "secret", "mapping", "secret-mappings.yaml")
	data, err := os.ReadFile(mapping)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mapping, append(data, "    - name: no-such-secret\n      namespace: apps\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	const unused = "the mapping names Secret apps/no-such-secret, which this render does not produce"
	out := run("render", "--source", repo, "--cache", cache)
	if !strings.Contains(out, "cache: no cached render of "+filepath.Join(repo, "config-root")+" with these inputs: rendering every release") ||
		!strings.Contains(out, unused) {
		t.Errorf("first cached render:\n%s", out)
	}
	values := filepath.Join(repo, "values", "webapp-admin.yaml")
	data, err = os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(values, bytes.Replace(data, []byte("admin console"), []byte("admin console, cached"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out = run("render", "--source", repo, "--cache", cache, "-v")
	for _, want := range []string{"cache: 3 releases reused, 1 rendered, 0 removed", "release   apps/webapp-admin ",
		"1 written (0 new, 1 changed), 32 unchanged, 0 removed (cache: 3 releases reused)"} {
		if !strings.Contains(out, want) {
			t.Errorf("cached render after a values change: no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, unused) {
		t.Errorf("a cached render that reused releases warned about a mapping rule:\n%s", out)
	}
	full := filepath.Join(t.TempDir(), "config-root")
	run("render", "--source", repo, "--output", full)
	if d := testutil.DiffTrees(testutil.ReadTree(t, full), testutil.ReadTree(t, filepath.Join(repo, "config-root"))); d != "" {
		t.Errorf("the cached render differs from a render without the cache:\n%s", d)
	}

	var errOut bytes.Buffer
	if code := Run(context.Background(), testVersion, []string{"render", "--source", repo, "--cache", cache, "-l", "name=webapp"}, &errOut, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "use the cache or selectors, not both") {
		t.Errorf("--cache with --selector: exit %d:\n%s", code, errOut.String())
	}
}
