package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// RepoRoot returns the root of the configroot repository.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository root")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Tool returns the path of a pinned tool in ./bin (helm, helmfile), failing the test, never
// skipping it, when it is missing: `make tools` installs them.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed in ./bin: run `make tools` (%v)", name, err)
	}
	return p
}

// ToolsEnv puts ./bin first on PATH for the test, so helmfile finds the pinned helm, and
// gives helm and helmfile their own cache and config folders.
func ToolsEnv(t testing.TB) {
	t.Helper()
	Tool(t, "helm")
	Tool(t, "helmfile")
	t.Setenv("PATH", filepath.Join(RepoRoot(t), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Go's build cache defaults to $XDG_CACHE_HOME/go-build: keep the real one, or a test
	// that builds the CLI after this call compiles every dependency again (minutes, now
	// that the CLI links vals and the cloud SDKs).
	if os.Getenv("GOCACHE") == "" {
		if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
			t.Setenv("GOCACHE", strings.TrimSpace(string(out)))
		}
	}
	home := t.TempDir()
	for _, v := range []string{"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "XDG_CACHE_HOME"} {
		t.Setenv(v, filepath.Join(home, v))
	}
}

// GoModuleDir downloads module@version through the Go module proxy (or finds it in the module
// cache) and returns its folder.
func GoModuleDir(t testing.TB, module string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", module)
	cmd.Dir = os.TempDir() // outside any module: an exact version needs no go.mod entry
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", module, err)
	}
	var info struct{ Dir, Error string }
	if err := jsonUnmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s: %s %v", module, info.Error, err)
	}
	return info.Dir
}

// Helm is one helm major version the render tests run against.
type Helm struct {
	// Name is "helm4" or "helm3", for subtest names.
	Name string
	// Path is the binary, for render.TemplateOptions.HelmBinary.
	Path string
}

// Helms returns the helm majors configroot supports, both installed in ./bin by `make
// tools` and `make tools-test`: helm 4 (bin/helm, the default) and helm 3 (bin/helm3, out
// of support since November 2026 but still in the field). A missing one fails the test.
func Helms(t testing.TB) []Helm {
	t.Helper()
	return []Helm{{Name: "helm4", Path: Tool(t, "helm")}, {Name: "helm3", Path: Tool(t, "helm3")}}
}
