package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/publish"
	vault "github.com/hashicorp/vault/api"
)

const (
	testToken    = "cli-t0ken-7f3a9c"
	testTokenEnv = "CONFIGROOT_TEST_TOKEN"
)

// runCLI runs the configroot command line and returns its exit status, stdout and stderr.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), testVersion, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// sourceRepo makes a git repo holding files, with an origin remote carrying credentials
// (which must not reach the commit message), and returns it and its HEAD.
func sourceRepo(t *testing.T, files map[string][]byte) (dir, head string) {
	t.Helper()
	dir = t.TempDir()
	testutil.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	testutil.WriteFiles(t, dir, files)
	testutil.Git(t, dir, "add", "--all")
	testutil.Git(t, dir, "commit", "--quiet", "-m", "sources")
	testutil.Git(t, dir, "remote", "add", "origin", "https://bot:"+testToken+"@example.com/org/cluster.git")
	return dir, testutil.Git(t, dir, "rev-parse", "HEAD")
}

func TestPublishCommand(t *testing.T) {
	srv := testutil.NewGitServer(t, publish.DefaultUsername, testToken)
	bare := srv.NewBareRepo(t, "cluster.git", "main", map[string][]byte{
		"README.md": []byte("# cluster\n"),
		"config-root/namespaces/apps/old/old-cm.yaml": []byte("kind: ConfigMap\n"),
	})
	src, head := sourceRepo(t, map[string][]byte{
		"helmfile.yaml": []byte("releases: []\n"),
		"config-root/namespaces/apps/webapp/webapp-deploy.yaml": []byte("kind: Deployment\n"),
		"config-root/cluster/namespaces/apps.yaml":              []byte("kind: Namespace\n"),
	})
	t.Setenv(testTokenEnv, testToken)
	args := []string{"publish", "--source", src, "--repo", srv.URL("cluster.git"), "--token-env", testTokenEnv,
		"--author", "Render Bot <bot@example.com>"}

	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	commit := testutil.Git(t, bare, "rev-parse", "main")
	if stdout != commit+"\n" {
		t.Errorf("stdout = %q, want only the commit %s", stdout, commit)
	}
	msg, err := testutil.GitRaw(bare, "log", "-1", "--format=%B", commit)
	if err != nil {
		t.Fatal(err)
	}
	want := "Render config-root from " + head[:12] + `

Resources 2 added, 0 changed, 1 removed:
- apps: 2 added, 0 changed, 1 removed

Source-Commit: ` + head + `
Source-Repository: https://example.com/org/cluster.git
Rendered-By: configroot ` + testVersion + "\n\n"
	if msg != want {
		t.Errorf("commit message:\n%q\nwant:\n%q", msg, want)
	}
	if got := testutil.Git(t, bare, "ls-tree", "-r", "--name-only", "main"); got != "README.md\nconfig-root/cluster/namespaces/apps.yaml\nconfig-root/namespaces/apps/webapp/webapp-deploy.yaml" {
		t.Errorf("files on main:\n%s", got)
	}
	for _, s := range []string{stdout, stderr, msg} {
		if strings.Contains(s, testToken) {
			t.Errorf("the token leaked: %q", s)
		}
	}

	// Again: no change, exit 0, nothing committed.
	code, stdout, stderr = runCLI(t, args...)
	if code != 0 || stdout != "no change\n" {
		t.Errorf("second run: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	if got := testutil.Git(t, bare, "rev-parse", "main"); got != commit {
		t.Errorf("second run moved main to %s", got)
	}

	// With a pull request branch and a title.
	testutil.WriteFiles(t, src, map[string][]byte{"config-root/namespaces/apps/webapp/webapp-svc.yaml": []byte("kind: Service\n")})
	code, stdout, stderr = runCLI(t, append(args, "--pull-request-branch", "configroot/pr", "--message", "Add the webapp service")...)
	if code != 0 {
		t.Fatalf("pull request run: exit %d, stderr %s", code, stderr)
	}
	pr := testutil.Git(t, bare, "rev-parse", "configroot/pr")
	if stdout != pr+"\n" || testutil.Git(t, bare, "rev-parse", "main") != commit {
		t.Errorf("stdout %q, branch %s, main %s (want unchanged %s)", stdout, pr, testutil.Git(t, bare, "rev-parse", "main"), commit)
	}
	if title := testutil.Git(t, bare, "log", "-1", "--format=%s", pr); title != "Add the webapp service" {
		t.Errorf("title = %q", title)
	}
}

func TestPublishCommandWrongToken(t *testing.T) {
	srv := testutil.NewGitServer(t, publish.DefaultUsername, testToken)
	bare := srv.NewBareRepo(t, "cluster.git", "main", map[string][]byte{"README.md": []byte("x\n")})
	before := testutil.Git(t, bare, "rev-parse", "main")
	src, _ := sourceRepo(t, map[string][]byte{"config-root/namespaces/a/r/x-cm.yaml": []byte("kind: ConfigMap\n")})
	const wrong = "wr0ng-cli-t0ken-1b2c"
	t.Setenv(testTokenEnv, wrong)
	code, stdout, stderr := runCLI(t, "publish", "--source", src, "--repo", srv.URL("cluster.git"), "--token-env", testTokenEnv, "-v")
	if code == 0 {
		t.Fatalf("exit 0 with a wrong token; stdout %q", stdout)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if !strings.Contains(stderr, "authentication failed") || !strings.Contains(stderr, "$"+testTokenEnv) {
		t.Errorf("stderr does not say the token in $%s was refused:\n%s", testTokenEnv, stderr)
	}
	if strings.Contains(stdout+stderr, wrong) || strings.Contains(stdout+stderr, testToken) {
		t.Errorf("a token leaked:\n%s%s", stdout, stderr)
	}
	if got := testutil.Git(t, bare, "rev-parse", "main"); got != before {
		t.Errorf("main moved")
	}

	// And an unset variable is an error before any network access.
	t.Setenv(testTokenEnv, "")
	if code, _, stderr := runCLI(t, "publish", "--source", src, "--repo", srv.URL("cluster.git"), "--token-env", testTokenEnv); code == 0 || !strings.Contains(stderr, "empty or unset") {
		t.Errorf("unset token: exit %d, stderr %s", code, stderr)
	}
}

func TestPublishCommandWithoutRender(t *testing.T) {
	src := t.TempDir()
	code, _, stderr := runCLI(t, "publish", "--source", src, "--repo", filepath.Join(src, "nowhere.git"))
	if code == 0 || !strings.Contains(stderr, "run configroot render first") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}

// exampleSource copies examples/cluster into a git repo of its own and returns it.
func exampleSource(t *testing.T) string {
	t.Helper()
	testutil.ToolsEnv(t)
	src := testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(t), "examples", "cluster"))
	testutil.Git(t, src, "init", "--quiet", "--initial-branch=main")
	testutil.Git(t, src, "add", "--all")
	testutil.Git(t, src, "commit", "--quiet", "-m", "sources")
	return src
}

func TestCheckAndDiffCommands(t *testing.T) {
	src := exampleSource(t)
	if code, _, stderr := runCLI(t, "render", "--source", src); code != 0 {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "check", "--source", src)
	if code != 0 || stdout != "" {
		t.Fatalf("check of a fresh render: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "diff", "--source", src)
	if code != 0 || !strings.Contains(stdout, "up to date") {
		t.Errorf("diff of a fresh render: exit %d, %q", code, stdout)
	}

	// Make the committed config-root stale: a hand edit, a lost file, a leftover file.
	root := filepath.Join(src, "config-root")
	deploy := filepath.Join(root, "namespaces/apps/webapp/webapp-deploy.yaml")
	data, err := os.ReadFile(deploy)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deploy, bytes.Replace(data, []byte("replicas: "), []byte("replicas: 1"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "cluster/namespaces/monitoring.yaml")); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, root, map[string][]byte{"namespaces/apps/gone/gone-cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gone\n")})

	code, stdout, stderr = runCLI(t, "check", "--source", src)
	wantOut := "added:   cluster/namespaces/monitoring.yaml\n" +
		"removed: namespaces/apps/gone/gone-cm.yaml\n" +
		"changed: namespaces/apps/webapp/webapp-deploy.yaml\n"
	if code != 1 || stdout != wantOut {
		t.Errorf("check of a stale config-root: exit %d, stdout:\n%s\nwant:\n%s", code, stdout, wantOut)
	}
	if !strings.Contains(stderr, "3 files differ from a fresh render (1 added, 1 changed, 1 removed)") {
		t.Errorf("stderr: %s", stderr)
	}

	code, stdout, _ = runCLI(t, "diff", "--source", src, "--format", "json")
	var d publish.Diff
	if err := json.Unmarshal([]byte(stdout), &d); code != 0 || err != nil {
		t.Fatalf("diff --format json: exit %d, %v\n%s", code, err, stdout)
	}
	if d.Added != 1 || d.Changed != 1 || d.Removed != 1 || len(d.Files) != 3 {
		t.Errorf("diff: %+v", d)
	}
	code, stdout, _ = runCLI(t, "diff", "--source", src)
	if code != 0 || !strings.Contains(stdout, "- changed `Deployment/webapp` (`namespaces/apps/webapp/webapp-deploy.yaml`): `spec.replicas`\n") {
		t.Errorf("diff markdown: exit %d\n%s", code, stdout)
	}

	// A failed render is exit status 2, not "stale".
	if code, _, _ := runCLI(t, "check", "--source", src, "--helmfile", "no-such-helmfile"); code != 2 {
		t.Errorf("check with a failing render: exit %d, want 2", code)
	}
}

// TestPipelineCommand runs render, populate (into a real Vault) and publish in one command.
func TestPipelineCommand(t *testing.T) {
	v, err := testutil.StartVault()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	t.Setenv("VAULT_ADDR", v.Addr)
	t.Setenv("VAULT_TOKEN", v.Token)
	src := exampleSource(t)
	testutil.WriteFiles(t, src, map[string][]byte{".configroot/secret-sources.yaml": []byte("default:\n  password: {length: 20}\n")})
	testutil.Git(t, src, "add", "--all")
	testutil.Git(t, src, "commit", "--quiet", "-m", "secret sources")
	bare := testutil.NewBareRepo(t, filepath.Join(t.TempDir(), "cluster.git"), "main", map[string][]byte{"README.md": []byte("# cluster\n")})
	code, stdout, stderr := runCLI(t, "pipeline", "--source", src, "--repo", bare)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	commit := testutil.Git(t, bare, "rev-parse", "main")
	if stdout != commit+"\n" {
		t.Errorf("stdout = %q, want %s", stdout, commit)
	}
	for _, step := range []string{"==> render\n", "==> populate\n", "==> publish\n"} {
		if !strings.Contains(stderr, step) {
			t.Errorf("stderr does not show %q:\n%s", step, stderr)
		}
	}
	if !strings.Contains(stderr, "populate: 3 written") {
		t.Errorf("populate did not write the 3 missing values:\n%s", stderr)
	}
	// The values are in Vault, where the ExternalSecrets look for them.
	client, err := vault.NewClient(&vault.Config{Address: v.Addr})
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.Token)
	for _, path := range []string{"webapp/db", "webapp/admin/db"} {
		s, err := client.KVv2("secret").Get(context.Background(), path)
		if err != nil || s.Data["password"] == nil {
			t.Errorf("secret/%s: %v, %v", path, err, s)
		}
	}
	// The commit holds exactly the render.
	checkout := filepath.Join(t.TempDir(), "checkout")
	testutil.Git(t, "", "clone", "--quiet", bare, checkout)
	if d := testutil.DiffTrees(testutil.ReadTree(t, filepath.Join(src, "config-root")), testutil.ReadTree(t, filepath.Join(checkout, "config-root"))); d != "" {
		t.Errorf("the published config-root differs from the render:\n%s", d)
	}
	code, stdout, stderr = runCLI(t, "pipeline", "--source", src, "--repo", bare)
	if code != 0 || stdout != "no change\n" || !strings.Contains(stderr, "populate: 3 already present") {
		t.Errorf("second pipeline: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	// regen is pipeline's other name (the Dagger function's).
	code, stdout, stderr = runCLI(t, "regen", "--source", src, "--repo", bare, "--skip-populate")
	if code != 0 || stdout != "no change\n" || !strings.Contains(stderr, "skipped (--skip-populate)") {
		t.Errorf("regen --skip-populate: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
}

// TestPublishRefusesSecretData checks that publish runs the leak guard over the folder it
// commits: a hand-edited config-root holding a Secret with data never reaches the repo.
func TestPublishRefusesSecretData(t *testing.T) {
	src, _ := sourceRepo(t, map[string][]byte{
		"config-root/namespaces/apps/web/db-secret.yaml": []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: apps}\nstringData: {password: guard-Value-7}\n"),
	})
	bare := testutil.NewBareRepo(t, filepath.Join(t.TempDir(), "cluster.git"), "main", map[string][]byte{"README.md": []byte("# cluster\n")})
	before := testutil.Git(t, bare, "rev-parse", "main")
	code, stdout, stderr := runCLI(t, "publish", "--source", src, "--repo", bare)
	if code == 0 || !strings.Contains(stderr, "db-secret.yaml: Secret apps/db (keys password)") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "guard-Value-7") {
		t.Error("the value was printed")
	}
	if after := testutil.Git(t, bare, "rev-parse", "main"); after != before {
		t.Errorf("main moved from %s to %s", before, after)
	}
}
