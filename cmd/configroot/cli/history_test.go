package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/configroot/configroot/internal/testutil"
)

// historyRepo is a git repo holding the example cluster repo (with its committed
// config-root) in the folder cluster/, with three commits: the example, a changed replica
// count of the webapp Deployment, and the webapp-admin release folder renamed.
func historyRepo(t *testing.T) (root, source string, commits []string) {
	t.Helper()
	root = t.TempDir()
	source = filepath.Join(root, "cluster")
	if err := os.CopyFS(source, os.DirFS(filepath.Join(testutil.RepoRoot(t), "examples", "cluster"))); err != nil {
		t.Fatal(err)
	}
	testutil.Git(t, root, "init", "--quiet", "--initial-branch=main")
	commit := func(msg string) {
		testutil.Git(t, root, "add", "--all")
		testutil.Git(t, root, "commit", "--quiet", "-m", msg)
		commits = append(commits, testutil.Git(t, root, "rev-parse", "HEAD"))
	}
	commit("Render config-root from 0123456789ab\n\nSource-Commit: 0123456789abcdef0123456789abcdef01234567")
	deploy := filepath.Join(source, "config-root", "namespaces", "apps", "webapp", "webapp-deploy.yaml")
	data, err := os.ReadFile(deploy)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deploy, bytes.Replace(data, []byte("replicas: 1"), []byte("replicas: 3"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	commit("Scale the webapp")
	old := filepath.Join(source, "config-root", "namespaces", "apps", "webapp-admin")
	if err := os.Rename(old, old+"-v2"); err != nil {
		t.Fatal(err)
	}
	commit("Rename the admin release")
	return root, source, commits
}

func TestHistoryCommand(t *testing.T) {
	root, source, commits := historyRepo(t)
	short := func(i int) string { return commits[i][:12] }
	date := `\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d{4}`

	t.Run("text", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "history", "deploy/webapp", "-n", "apps", "--source", source)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		want := regexp.MustCompile(`^Deployment apps/webapp  cluster/config-root/namespaces/apps/webapp/webapp-deploy.yaml\n\n` +
			short(1) + `  ` + date + `  test  modified  Scale the webapp\n` +
			short(0) + `  ` + date + `  test  added     Render config-root from 0123456789ab  \[source 0123456789ab\]\n$`)
		if !want.MatchString(stdout) {
			t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
		}
		if stderr != "Deployment apps/webapp: 2 changes in 3 commits walked from "+short(2)+" of "+root+"\n" {
			t.Errorf("stderr: %q", stderr)
		}
	})

	t.Run("moved, with the patch", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "history", "Deployment", "webapp-admin", "-n", "apps", "-p", "--source", source)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, w := range []string{
			short(2) + "  ", "  moved     Rename the admin release\n",
			"              from cluster/config-root/namespaces/apps/webapp-admin/webapp-admin-deploy.yaml\n",
			"diff --git a/cluster/config-root/namespaces/apps/webapp-admin/webapp-admin-deploy.yaml b/cluster/config-root/namespaces/apps/webapp-admin-v2/webapp-admin-deploy.yaml\n",
			"+kind: Deployment\n",
		} {
			if !strings.Contains(stdout, w) {
				t.Errorf("stdout lacks %q:\n%s", w, stdout)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "history", "deployments.apps/webapp", "-n", "apps", "--format", "json", "--repo", root, "--path", "cluster/config-root")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines:\n%s", len(lines), stdout)
		}
		var c struct {
			Commit, Subject, Change, Path, SourceCommit string
			Author                                      struct{ Name, Email string }
			Resource                                    struct{ APIVersion, Kind, Namespace, Name string }
		}
		if err := json.Unmarshal([]byte(lines[1]), &c); err != nil {
			t.Fatal(err)
		}
		if c.Commit != commits[0] || c.Change != "added" || c.SourceCommit != "0123456789abcdef0123456789abcdef01234567" ||
			c.Author.Email != "test@example.com" || c.Resource.Kind != "Deployment" || c.Resource.Namespace != "apps" ||
			c.Path != "cluster/config-root/namespaces/apps/webapp/webapp-deploy.yaml" {
			t.Errorf("json: %+v", c)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "history", "deploy/webap", "-n", "apps", "--source", source)
		want := "configroot: Deployment.apps apps/webap: not found in the history of cluster/config-root (closest: Deployment apps/webapp, Service apps/webapp, ServiceAccount apps/webapp)\n"
		if code != 1 || stdout != "" || stderr != want {
			t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"history", "webapp", "--source", source}, `resource "webapp": want KIND/NAME`},
			{[]string{"history", "deploy/webapp", "--since", "yesterday", "--source", source}, `--since: "yesterday": want a duration ago`},
			{[]string{"history", "deploy/webapp", "--format", "yaml", "--source", source}, `--format "yaml": want text or json`},
			{[]string{"history", "deploy/webapp", "--source", t.TempDir()}, "is not in a git repository (pass --repo)"},
			{[]string{"history", "deploy/webapp", "--repo", root, "--token-env", "CONFIGROOT_TEST_UNSET_TOKEN"}, "--token-env: the environment variable CONFIGROOT_TEST_UNSET_TOKEN is empty or unset"},
		} {
			code, _, stderr := runCLI(t, c.args...)
			if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q, want one line with %q", c.args, code, stderr, c.want)
			}
		}
	})
	// Last: it adds a commit with the webapp in a second namespace.
	t.Run("ambiguous", func(t *testing.T) {
		code, _, stderr := runCLI(t, "history", "Service/webapp", "--source", source)
		if code != 0 {
			t.Fatalf("one namespace only: exit %d: %s", code, stderr)
		}
		for _, f := range []string{"webapp-deploy.yaml", "webapp-svc.yaml"} {
			data, err := os.ReadFile(filepath.Join(source, "config-root", "namespaces", "apps", "webapp", f))
			if err != nil {
				t.Fatal(err)
			}
			testutil.WriteFiles(t, filepath.Join(source, "config-root", "namespaces", "staging", "webapp"),
				map[string][]byte{f: bytes.ReplaceAll(data, []byte("namespace: apps"), []byte("namespace: staging"))})
		}
		testutil.Git(t, root, "add", "--all")
		testutil.Git(t, root, "commit", "--quiet", "-m", "webapp in staging")
		code, stdout, stderr := runCLI(t, "history", "svc/webapp", "--source", source)
		want := "configroot: svc/webapp is ambiguous: 2 resources match; add -n NAMESPACE or write KIND.GROUP/NAME:\n" +
			"  Service apps/webapp (cluster/config-root/namespaces/apps/webapp/webapp-svc.yaml)\n" +
			"  Service staging/webapp (cluster/config-root/namespaces/staging/webapp/webapp-svc.yaml)\n"
		if code != 1 || stdout != "" || stderr != want {
			t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
		}
		code, stdout, _ = runCLI(t, "history", "svc/webapp", "-n", "staging", "--source", source)
		if code != 0 || !strings.Contains(stdout, "added     webapp in staging\n") {
			t.Errorf("with -n staging: exit %d:\n%s", code, stdout)
		}
	})
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"30d":                  now.AddDate(0, 0, -30),
		"2w":                   now.AddDate(0, 0, -14),
		"12h":                  now.Add(-12 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-01-31T10:00:00Z": time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if got, err := parseWhen("2026-01-31", now); err != nil || got.Format("2006-01-02 15:04") != "2026-01-31 00:00" {
		t.Errorf("a date: %s, %v", got, err)
	}
	for _, bad := range []string{"yesterday", "-3d", "3x"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q): no error", bad)
		}
	}
}
