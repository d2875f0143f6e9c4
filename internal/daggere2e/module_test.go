//go:build daggere2e

// Package daggere2e_test runs configroot's Dagger module on a real Dagger v0.21.8 engine, as
// a user's `dagger call` does, against real servers: a Vault dev server, a git smart-HTTP
// server and a Helm chart repository with basic auth, all started by the test. It is not
// part of `make test` (CI cannot build an engine in its time): `make dagger-e2e` runs it
// through scripts/dagger-e2e.sh, which copies the committed module, loads it on the engine
// and runs this test inside the engine's network namespace, so that the engine's
// containers reach the servers at the namespace's bridge address.
//
// Settings (environment):
//
//	DAGGER_E2E_MODULE  the module to call (a clean copy of the repo), required
//	DAGGER_CALL        the command that calls a module, given the module then the call's
//	                   arguments (default /tmp/dg/e2e/dagger-call.sh, the offline harness of
//	                   ../shared/dagger-harness; with a Dagger CLI: "dagger call -m")
//	DAGGER_STATE       the engine's state folder, scanned for Secret values afterwards
//	                   (default /tmp/dg/state; "skip" for an engine whose state is elsewhere)
//	DAGGER_E2E_HOST    the address the engine's containers reach this test's servers at
//	                   (default: this network namespace's first non-loopback IPv4 address)
package daggere2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/configroot/configroot/cmd/configroot/cli"
	"github.com/configroot/configroot/internal/testutil"
)

// engine calls the module under test.
type engine struct {
	call   []string
	module string
	work   string

	mu      sync.Mutex
	timings []string
}

// result is what one `dagger call` did.
type result struct {
	stdout, stderr string
	err            error
	took           time.Duration
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// errorLine is the line Dagger reports a failed call with ("Error: ...", followed at most
// by a hint to run --help), without its trace id; "" when there is none.
func (r result) errorLine() string {
	lines := strings.Split(strings.TrimSpace(ansi.ReplaceAllString(r.stderr, "")), "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-2; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "Error: ") {
			continue
		}
		if j := strings.LastIndex(line, " [traceparent:"); j > 0 {
			line = line[:j]
		}
		return line
	}
	return ""
}

// output is everything the call printed, for failure messages and leak checks.
func (r result) output() string { return r.stdout + r.stderr }

func newEngine(t *testing.T) *engine {
	module := os.Getenv("DAGGER_E2E_MODULE")
	if module == "" {
		t.Fatal("DAGGER_E2E_MODULE is not set: run `make dagger-e2e` (scripts/dagger-e2e.sh)")
	}
	call := strings.Fields(os.Getenv("DAGGER_CALL"))
	if len(call) == 0 {
		call = []string{"/tmp/dg/e2e/dagger-call.sh"}
	}
	return &engine{call: call, module: module, work: t.TempDir()}
}

// run calls the module with args (after the module's own arguments come the function and
// its arguments), with env added to the environment (for env:NAME secrets), and records
// how long it took under label.
func (e *engine) run(t *testing.T, label string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(e.call[0], append(append(append([]string(nil), e.call[1:]...), e.module), args...)...)
	cmd.Dir = e.work
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), err: err, took: time.Since(start)}
	e.mu.Lock()
	e.timings = append(e.timings, fmt.Sprintf("%-58s %6.1f s", label, r.took.Seconds()))
	e.mu.Unlock()
	return r
}

// mustRun is run that fails the test when the call fails.
func (e *engine) mustRun(t *testing.T, label string, env []string, args ...string) result {
	t.Helper()
	r := e.run(t, label, env, args...)
	if r.err != nil {
		t.Fatalf("%s: %v\n%s", label, r.err, tail(r.output(), 40))
	}
	return r
}

// mustFail is run that fails the test unless the call fails with one "Error:" line that
// contains every one of want.
func (e *engine) mustFail(t *testing.T, label string, env []string, want []string, args ...string) result {
	t.Helper()
	r := e.run(t, label, env, args...)
	if r.err == nil {
		t.Fatalf("%s: the call succeeded:\n%s", label, tail(r.output(), 20))
	}
	line := r.errorLine()
	if line == "" {
		t.Fatalf("%s: the call did not end in one Error: line:\n%s", label, tail(r.output(), 20))
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("%s: the error %q does not say %q", label, line, w)
		}
	}
	t.Logf("%s: %s", label, line)
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(ansi.ReplaceAllString(s, ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// serverHost is the address the engine's containers reach this test's servers at.
func serverHost(t *testing.T) string {
	if h := os.Getenv("DAGGER_E2E_HOST"); h != "" {
		return h
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback != 0 || i.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	t.Fatal("no non-loopback IPv4 address: run in the engine's network namespace (scripts/dagger-e2e.sh does) or set DAGGER_E2E_HOST")
	return ""
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(b), old, new, 1))
}

// markerRepo is a copy of the example whose webapp Secret's password is computed by the
// chart from a seed (so the value is in no source file the engine receives) and whose
// secret sources take every value from the render. It returns the repo and the value.
func markerRepo(t *testing.T, example string) (string, string) {
	repo := testutil.CopyDir(t, example)
	seed := "e2e-" + randomHex(t, 8)
	sum := sha256.Sum256([]byte("computed-" + seed))
	value := hex.EncodeToString(sum[:])
	replaceInFile(t, filepath.Join(repo, "charts/webapp/templates/secret.yaml"),
		"password: {{ .Values.database.password | quote }}",
		`password: {{ printf "computed-%s" .Values.seed | sha256sum | quote }}`)
	b, err := os.ReadFile(filepath.Join(repo, "charts/webapp/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "charts/webapp/values.yaml"), string(b)+"seed: "+seed+"\n")
	writeFile(t, filepath.Join(repo, ".configroot/secret-sources.yaml"), "default:\n  rendered: true\n")
	return repo, value
}

// renderLocally runs `configroot render` (the CLI, in this process, with ./bin's helm and
// helmfile) over repo with env added, into a new folder it returns.
func renderLocally(t *testing.T, repo string, env map[string]string) string {
	t.Helper()
	testutil.ToolsEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	out := filepath.Join(t.TempDir(), "config-root")
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), "e2e", []string{"render", "--source", repo, "--output", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("configroot render %s: exit %d\n%s", repo, code, stderr.String())
	}
	return out
}

func sameTree(t *testing.T, what, want, got string) {
	t.Helper()
	if d := testutil.DiffTrees(testutil.ReadTree(t, want), testutil.ReadTree(t, got)); d != "" {
		t.Errorf("%s: config-roots differ:\n%s", what, d)
	}
}

func TestModule(t *testing.T) {
	e := newEngine(t)
	host := serverHost(t)
	example := filepath.Join(e.module, "examples", "cluster")
	t.Logf("servers listen on %s for the engine's containers", host)
	defer func() {
		t.Logf("timings (2 shared cores; warm engine, module loaded by scripts/dagger-e2e.sh):\n%s",
			strings.Join(e.timings, "\n"))
	}()
	// Values that must never reach the engine's state, scanned for at the end.
	var secretValues []string

	t.Run("render the example", func(t *testing.T) {
		out := filepath.Join(e.work, "example", "config-root")
		e.mustRun(t, "render examples/cluster (first call)", nil, "--source", example, "render", "export", "--path", out)
		sameTree(t, "dagger render vs the committed example", filepath.Join(example, "config-root"), out)
		out2 := filepath.Join(e.work, "example2", "config-root")
		e.mustRun(t, "render examples/cluster again (unchanged input)", nil, "--source", example, "render", "export", "--path", out2)
		sameTree(t, "second render", out, out2)
	})

	t.Run("check", func(t *testing.T) {
		r := e.mustRun(t, "check examples/cluster (up to date)", nil, "--source", example, "check")
		if !strings.Contains(r.stdout, "config-root is up to date") {
			t.Errorf("check of the committed example did not say up to date:\n%s", tail(r.output(), 10))
		}
		stale := testutil.CopyDir(t, example)
		replaceInFile(t, filepath.Join(stale, "values/webapp.yaml.gotmpl"), "greeting: hello from", "greeting: good evening from")
		r = e.run(t, "check after a values change (stale)", nil, "--source", stale, "check")
		if r.err == nil {
			t.Fatalf("check passed after a values change:\n%s", tail(r.output(), 10))
		}
		if !strings.Contains(r.output(), "config-root is stale") || !strings.Contains(r.output(), "namespaces/apps/webapp/webapp-config-cm.yaml") {
			t.Errorf("check did not list the changed file:\n%s", tail(r.output(), 15))
		}
		// What a user does next: render over the stale config-root. In the exec, the
		// committed config-root is a directory of a lower overlayfs layer, which cannot be
		// renamed (this failed with "invalid cross-device link").
		out := filepath.Join(e.work, "stale", "config-root")
		e.mustRun(t, "render over a stale config-root", nil, "--source", stale, "render", "export", "--path", out)
		sameTree(t, "dagger render vs configroot render of the stale repo", renderLocally(t, stale, nil), out)
	})

	t.Run("render with the render cache volume", func(t *testing.T) {
		repo := testutil.CopyDir(t, example)
		// The committed config-root is the render of this repo: after this call the cache
		// volume knows it (an earlier run of this test may have taught it already).
		out := filepath.Join(e.work, "cached", "config-root")
		e.mustRun(t, "render --render-cache (example)", nil, "--source", repo, "--render-cache", "render", "export", "--path", out)
		sameTree(t, "cached dagger render vs the committed example", filepath.Join(example, "config-root"), out)
		replaceInFile(t, filepath.Join(repo, "values/webapp.yaml.gotmpl"), "greeting: hello from", "greeting: cached hello from")
		out2 := filepath.Join(e.work, "cached2", "config-root")
		r := e.mustRun(t, "render --render-cache after a values change", nil, "--source", repo, "--render-cache", "render", "export", "--path", out2)
		sameTree(t, "cached dagger render vs configroot render of the changed repo", renderLocally(t, repo, nil), out2)
		if !strings.Contains(r.output(), "cache: 3 releases reused, 1 rendered, 0 removed") {
			t.Errorf("the cached render did not reuse the unchanged releases:\n%s", tail(r.output(), 30))
		}
	})

	t.Run("clear errors", func(t *testing.T) {
		bad := testutil.CopyDir(t, example)
		writeFile(t, filepath.Join(bad, "helmfile.yaml"), "releases:\n  - name: x\n   chart: ./charts/webapp\n")
		e.mustFail(t, "render of a broken helmfile.yaml", nil, []string{"render: ", "helmfile.yaml"},
			"--source", bad, "render", "export", "--path", filepath.Join(e.work, "bad"))
		if _, err := os.Stat(filepath.Join(e.work, "bad")); err == nil {
			t.Error("a failed render exported something")
		}
		broken := testutil.CopyDir(t, example)
		writeFile(t, filepath.Join(broken, "charts/platform/templates/broken.yaml"),
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nothing.here }}\n")
		e.mustFail(t, "render of a broken chart", nil, []string{"release platform/base", "broken.yaml"},
			"--source", broken, "render", "export", "--path", filepath.Join(e.work, "broken"))
		e.mustFail(t, "an unknown argument", nil, []string{"unknown flag: --no-such-argument"},
			"--source", example, "render", "--no-such-argument", "x", "export", "--path", filepath.Join(e.work, "unknown"))
	})

	t.Run("real charts from a chart repository with credentials", func(t *testing.T) {
		charts := t.TempDir()
		eso := testutil.ExternalSecretsChart(t, charts)
		certManager := testutil.CertManagerChart(t, charts)
		auth := &testutil.BasicAuth{Username: "e2e", Password: "repo-" + randomHex(t, 12)}
		secretValues = append(secretValues, auth.Password)
		var mu sync.Mutex
		downloads := 0
		url := testutil.ChartRepositoryAt(t, host, testutil.PackageCharts(t, certManager), auth, func(path string) {
			if strings.HasSuffix(path, ".tgz") {
				mu.Lock()
				downloads++
				mu.Unlock()
			}
		})
		repo := t.TempDir()
		if err := os.Rename(eso, filepath.Join(repo, "external-secrets")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, "values/cert-manager.yaml"), "crds:\n  enabled: true\n")
		writeFile(t, filepath.Join(repo, "values/external-secrets.yaml"), "replicaCount: 1\n")
		writeFile(t, filepath.Join(repo, "helmfile.yaml"), fmt.Sprintf(`repositories:
  - name: jetstack
    url: %s
releases:
  - name: external-secrets
    namespace: external-secrets
    chart: ./external-secrets
    values:
      - values/external-secrets.yaml
  - name: cert-manager
    namespace: cert-manager
    chart: jetstack/cert-manager
    version: %s
    values:
      - values/cert-manager.yaml
`, url, testutil.CertManagerModule[strings.LastIndexByte(testutil.CertManagerModule, '@')+1:]))
		creds := filepath.Join(t.TempDir(), "charts.env")
		writeFile(t, creds, fmt.Sprintf("JETSTACK_USERNAME=%s\nJETSTACK_PASSWORD=%s\n", auth.Username, auth.Password))

		want := renderLocally(t, repo, map[string]string{"JETSTACK_USERNAME": auth.Username, "JETSTACK_PASSWORD": auth.Password})
		mu.Lock()
		downloads = 0
		mu.Unlock()
		out := filepath.Join(e.work, "real", "config-root")
		r := e.mustRun(t, "render real charts, remote cert-manager (first)", nil, "--source", repo,
			"--repository-credentials", "file:"+creds, "render", "export", "--path", out)
		sameTree(t, "dagger render vs configroot render of the real-chart repo", want, out)
		if strings.Contains(r.output(), auth.Password) {
			t.Error("the repository password is in Dagger's output")
		}
		// A values change: helm runs again, and takes the chart from the cache volume.
		writeFile(t, filepath.Join(repo, "values/external-secrets.yaml"), "replicaCount: 2\n")
		e.mustRun(t, "render real charts after a values change", nil, "--source", repo,
			"--repository-credentials", "file:"+creds, "render", "export", "--path", filepath.Join(e.work, "real2", "config-root"))
		mu.Lock()
		defer mu.Unlock()
		t.Logf("chart downloads over two renders: %d", downloads)
		if downloads > 1 {
			t.Errorf("the remote chart was downloaded %d times over two renders: helm's cache volume is not used "+
				"(or the image's helm is 3, which downloads on every render: the harness image must carry helm 4, "+
				"cp bin/helm /tmp/dg/e2e/bin/helm && /tmp/dg/e2e/build-helmfile-image.sh)", downloads)
		}
		bad := filepath.Join(t.TempDir(), "bad.env")
		writeFile(t, bad, "JETSTACK_USERNAME=e2e\nJETSTACK_PASSWORD=wrong-"+auth.Password[5:]+"\n")
		r = e.mustFail(t, "render with a wrong repository password", nil, []string{"jetstack", url},
			"--source", repo, "--repository-credentials", "file:"+bad, "render", "export", "--path", filepath.Join(e.work, "real3"))
		if strings.Contains(r.output(), auth.Password[5:]) {
			t.Error("the wrong repository password is in Dagger's output")
		}
	})

	srv, err := testutil.StartVaultAt(host)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	secretValues = append(secretValues, srv.Token)
	vaultEnv := []string{"E2E_VAULT_TOKEN=" + srv.Token}
	repo, rendered := markerRepo(t, example)
	secretValues = append(secretValues, rendered)

	t.Run("render and check a repo whose Secret value is computed", func(t *testing.T) {
		out := filepath.Join(e.work, "marker", "config-root")
		e.mustRun(t, "render the marker repo", nil, "--source", repo, "render", "export", "--path", out)
		for name, content := range testutil.ReadTree(t, out) {
			if bytes.Contains(content, []byte(rendered)) {
				t.Errorf("the rendered Secret value reached config-root/%s", name)
			}
		}
		if err := os.RemoveAll(filepath.Join(repo, "config-root")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(out, filepath.Join(repo, "config-root")); err != nil {
			t.Fatal(err)
		}
		r := e.mustRun(t, "check the marker repo", nil, "--source", repo, "check")
		if !strings.Contains(r.stdout, "config-root is up to date") {
			t.Errorf("check of the marker repo's own render did not say up to date:\n%s", tail(r.output(), 10))
		}
	})

	t.Run("populate into Vault", func(t *testing.T) {
		r := e.mustRun(t, "populate a real Vault from the render", vaultEnv, "--source", repo, "populate",
			"--vault-addr", srv.Addr, "--vault-token", "env:E2E_VAULT_TOKEN")
		if strings.Contains(r.output(), rendered) {
			t.Error("populate printed the Secret value")
		}
		got := vaultValue(t, srv, "webapp/db", "password")
		if got != rendered {
			t.Errorf("Vault's secret/webapp/db password is %d bytes, not the rendered value", len(got))
		}
		if !strings.Contains(r.stdout, "webapp-db") {
			t.Errorf("populate did not report webapp-db:\n%s", r.stdout)
		}
		e.mustFail(t, "populate with a wrong Vault token", []string{"E2E_VAULT_TOKEN=wrong-token"}, []string{"populate: ", "vault read", "403 Forbidden: permission denied"},
			"--source", repo, "populate", "--vault-addr", srv.Addr, "--vault-token", "env:E2E_VAULT_TOKEN", "--overwrite")
	})

	t.Run("publish and regen over HTTP", func(t *testing.T) {
		gitToken := "git-" + randomHex(t, 12)
		secretValues = append(secretValues, gitToken)
		git := testutil.NewGitServerAt(t, host, "e2e", gitToken)
		git.NewBareRepo(t, "example.git", "main", map[string][]byte{"README.md": []byte("cluster repo\n")})
		gitEnv := []string{"E2E_GIT_TOKEN=" + gitToken}
		args := []string{"--source", example, "publish", "--repo", git.URL("example.git"), "--token", "env:E2E_GIT_TOKEN", "--username", "e2e"}
		r := e.mustRun(t, "publish the example to a git server", gitEnv, args...)
		commit := strings.TrimSpace(r.stdout)
		if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(commit) {
			t.Fatalf("publish returned %q, not a commit", commit)
		}
		clone := filepath.Join(t.TempDir(), "clone")
		testutil.Git(t, "", "clone", "-q", filepath.Join(git.Root, "example.git"), clone)
		if head := strings.TrimSpace(testutil.Git(t, clone, "rev-parse", "HEAD")); head != commit {
			t.Errorf("main is at %s, publish said %s", head, commit)
		}
		sameTree(t, "published config-root vs the committed example", filepath.Join(example, "config-root"), filepath.Join(clone, "config-root"))
		r = e.mustRun(t, "publish again (no change)", gitEnv, args...)
		if got := strings.TrimSpace(r.stdout); got != "no change" {
			t.Errorf("the second publish returned %q, want \"no change\" (first: %s); the branch's last commits:\n%s", got, commit,
				testutil.Git(t, filepath.Join(git.Root, "example.git"), "log", "--stat", "-3", "main"))
		}
		r = e.mustFail(t, "publish with a wrong token", []string{"E2E_GIT_TOKEN=wrong-" + gitToken[4:]}, []string{"publish", "authentication failed"}, args...)
		if strings.Contains(r.output(), gitToken[4:]) {
			t.Error("the wrong token is in Dagger's output")
		}

		git.NewBareRepo(t, "marker.git", "main", map[string][]byte{"README.md": []byte("cluster repo\n")})
		r = e.mustRun(t, "regen: render, populate Vault, publish", append(gitEnv, vaultEnv...), "--source", repo, "regen",
			"--repo", git.URL("marker.git"), "--token", "env:E2E_GIT_TOKEN", "--username", "e2e",
			"--vault-addr", srv.Addr, "--vault-token", "env:E2E_VAULT_TOKEN")
		if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(strings.TrimSpace(r.stdout)) {
			t.Errorf("regen returned %q, not a commit", strings.TrimSpace(r.stdout))
		}
		clone = filepath.Join(t.TempDir(), "marker")
		testutil.Git(t, "", "clone", "-q", filepath.Join(git.Root, "marker.git"), clone)
		if files := testutil.ReadTree(t, filepath.Join(clone, "config-root")); len(files) == 0 {
			t.Error("regen pushed no config-root")
		}
		for _, v := range secretValues {
			if strings.Contains(r.output(), v) {
				t.Error("a secret value is in regen's output")
			}
		}
	})

	t.Run("Google Cloud and Azure credentials reach populate", func(t *testing.T) {
		// No Google or Azure endpoint is reachable from here, so these populates cannot
		// succeed. Google's: without credentials the SDK says it has none; with the key
		// file it gets past that, to the API call.
		gcp := testutil.CopyDir(t, example)
		writeFile(t, filepath.Join(gcp, ".jx/secret/mapping/secret-mappings.yaml"), `apiVersion: secret.jenkins-x.io/v1alpha1
kind: SecretMapping
spec:
  defaults:
    backendType: gcpSecretsManager
    gcpSecretsManager:
      projectId: configroot-e2e
`)
		e.mustFail(t, "populate Google Secret Manager, no credentials", nil, []string{"populate: ", "could not find default credentials"},
			"--source", gcp, "populate", "--dry-run")
		key, keyLine := serviceAccountKey(t)
		secretValues = append(secretValues, keyLine)
		r := e.run(t, "populate Google Secret Manager, --gcp-credentials", nil, "--source", gcp, "populate", "--dry-run",
			"--gcp-credentials", "file:"+key)
		t.Logf("with --gcp-credentials: %s", r.errorLine())
		if strings.Contains(r.output(), "could not find default credentials") || !strings.Contains(r.errorLine(), "gcp secret manager read projects/configroot-e2e/") {
			t.Errorf("the service account key did not take populate to Secret Manager's API:\n%s", tail(r.output(), 10))
		}

		azure := testutil.CopyDir(t, example)
		writeFile(t, filepath.Join(azure, ".jx/secret/mapping/secret-mappings.yaml"), `apiVersion: secret.jenkins-x.io/v1alpha1
kind: SecretMapping
spec:
  defaults:
    backendType: azureKeyVault
    azureKeyVault:
      keyVaultName: configroot-e2e
`)
		// Azure's Key Vault client asks the vault for its tenant before it authenticates,
		// and no vault is reachable here: what is checked is that the client secret is
		// never printed, nor left in the engine's state (scanned below).
		clientSecret := "azure-" + randomHex(t, 12)
		secretValues = append(secretValues, clientSecret)
		r = e.run(t, "populate Azure Key Vault, --azure-client-secret", []string{"E2E_AZURE_SECRET=" + clientSecret,
			"E2E_AZURE_TENANT=00000000-0000-0000-0000-00000000e2e0", "E2E_AZURE_CLIENT=00000000-0000-0000-0000-00000000e2e1"},
			"--source", azure, "populate", "--dry-run", "--azure-tenant-id", "env:E2E_AZURE_TENANT",
			"--azure-client-id", "env:E2E_AZURE_CLIENT", "--azure-client-secret", "env:E2E_AZURE_SECRET")
		t.Logf("with --azure-client-secret: %s", r.errorLine())
		if strings.Contains(r.output(), clientSecret) {
			t.Error("the Azure client secret is in Dagger's output")
		}
	})

	t.Run("no secret value in the engine's state", func(t *testing.T) {
		state := os.Getenv("DAGGER_STATE")
		if state == "" {
			state = "/tmp/dg/state"
		}
		if state == "skip" {
			t.Log("DAGGER_STATE=skip: the engine's state is not scanned")
			return
		}
		files, size, found := scan(t, state, secretValues)
		t.Logf("scanned %d files, %.1f MB, of %s for %d secret values", files, float64(size)/1e6, state, len(secretValues))
		for _, f := range found {
			t.Errorf("a secret value is in the engine's state: %s", f)
		}
		if files == 0 {
			t.Errorf("%s holds no files: not the engine's state", state)
		}
	})
}

// serviceAccountKey writes a Google Cloud service account key file (a new RSA key) and
// returns its path and a line of its private key, to look for where it must not be.
func serviceAccountKey(t *testing.T) (string, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "configroot-e2e", "private_key_id": randomHex(t, 20),
		"private_key": pemKey, "client_email": "e2e@configroot-e2e.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sa.json")
	writeFile(t, path, string(b))
	return path, strings.Split(pemKey, "\n")[3]
}

// vaultValue reads field of the KV v2 secret at path (under secret/) from srv.
func vaultValue(t *testing.T, srv *testutil.Vault, path, field string) string {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = srv.Addr
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(srv.Token)
	s, err := c.KVv2("secret").Get(context.Background(), path)
	if err != nil {
		t.Fatalf("read secret/%s from Vault: %v", path, err)
	}
	v, _ := s.Data[field].(string)
	return v
}

// scan reads every regular file under root and returns how many it read, their size, and
// the files holding one of needles (named by index, never by value).
func scan(t *testing.T, root string, needles []string) (files int, size int64, found []string) {
	t.Helper()
	longest := 0
	for _, n := range needles {
		longest = max(longest, len(n))
	}
	buf := make([]byte, 1<<20+longest)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) || os.IsPermission(err) {
				return nil // the engine removes snapshots while we walk
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		files++
		r := bufio.NewReaderSize(f, 1<<20)
		keep := 0
		seen := map[int]bool{}
		for {
			n, err := io.ReadFull(r, buf[keep:keep+1<<20])
			size += int64(n)
			chunk := buf[:keep+n]
			for i, needle := range needles {
				if !seen[i] && bytes.Contains(chunk, []byte(needle)) {
					seen[i] = true
					found = append(found, fmt.Sprintf("%s (secret value #%d)", path, i))
				}
			}
			if err != nil {
				break
			}
			keep = min(longest-1, len(chunk))
			copy(buf, chunk[len(chunk)-keep:])
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", root, err)
	}
	return files, size, found
}
