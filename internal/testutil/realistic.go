package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RealisticTree returns a folder holding a `helmfile template --output-dir-template`
// tree of about docs documents of real chart output, for benchmarks: the External Secrets
// and cert-manager charts (CRDs of hundreds of KB included) and the example repo's webapp
// chart (a Deployment, Services, a ConfigMap, a Secret with data), rendered once with the
// pinned helmfile and helm, then grown by ../shared/bench/synth-render.py, which copies it
// with namespaces, releases and names suffixed until docs documents are reached. The
// folder is removed with the benchmark. Tools must be on PATH (ToolsEnv).
func RealisticTree(tb testing.TB, docs int) string {
	tb.Helper()
	synth := filepath.Join(RepoRoot(tb), "..", "shared", "bench", "synth-render.py")
	if _, err := os.Stat(synth); err != nil {
		tb.Fatalf("the realistic benchmarks grow a real render with %s: %v", synth, err)
	}
	src := RealChartsTree(tb)
	out := filepath.Join(tb.TempDir(), "tree")
	grow := exec.Command("python3", synth, src, out, strconv.Itoa(docs))
	got, err := grow.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", synth, err, got)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(got)))
	if err != nil || n < docs {
		tb.Fatalf("%s made %q documents, want %d", synth, got, docs)
	}
	return out
}

// RealChartsTree returns a folder holding the `helmfile template --output-dir-template`
// tree RealisticTree grows: the External Secrets, cert-manager and webapp charts rendered
// once with the pinned helmfile and helm, as releases external-secrets/external-secrets,
// cert-manager/cert-manager and apps/webapp (about 100 documents). Tools must be on PATH
// (ToolsEnv).
func RealChartsTree(tb testing.TB) string {
	tb.Helper()
	repo := tb.TempDir()
	ExternalSecretsChart(tb, filepath.Join(repo, "charts"))
	CertManagerChart(tb, filepath.Join(repo, "charts"))
	if err := os.CopyFS(filepath.Join(repo, "charts", "webapp"), os.DirFS(filepath.Join(RepoRoot(tb), "examples", "cluster", "charts", "webapp"))); err != nil {
		tb.Fatal(err)
	}
	helmfile := `releases:
  - name: external-secrets
    namespace: external-secrets
    chart: ./charts/external-secrets
  - name: cert-manager
    namespace: cert-manager
    chart: ./charts/cert-manager
    values: [{crds: {enabled: true}}]
  - name: webapp
    namespace: apps
    chart: ./charts/webapp
`
	if err := os.WriteFile(filepath.Join(repo, "helmfile.yaml"), []byte(helmfile), 0o644); err != nil {
		tb.Fatal(err)
	}
	src := filepath.Join(tb.TempDir(), "rendered")
	cmd := exec.Command(Tool(tb, "helmfile"), "template", "--skip-tests", "--include-crds", "--kube-version", "v1.37.0",
		"--output-dir-template", src+`/{{ .Release.Namespace }}/{{ .Release.Name }}`)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("helmfile template: %v\n%s", err, out)
	}
	return src
}
