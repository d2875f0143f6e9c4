package history_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/configroot/configroot/modules/history"
)

// Size of the benchmark's cluster repo: the 1,000 commits over 10,000 files.
const (
	benchCommits    = 1000
	benchNamespaces = 45 // × benchReleases × benchFiles namespaced files
	benchReleases   = 10
	benchFiles      = 20
	benchCluster    = 1000 // cluster-scoped files
	benchPerCommit  = 5    // files changed by each commit
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// benchRepo returns a cluster repo of benchCommits publish-like commits over 10,000 files
// of config-root, packed as git packs a real clone: the first commit adds every file; each
// next one changes benchPerCommit random files, every 20th also the target Deployment
// ns-07/target, which moves to another release folder at commit 500, is removed at 700 and
// re-added at 800. It is written once per test binary with git fast-import.
func benchRepo(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() { benchDir, benchErr = makeBenchRepo() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

func makeBenchRepo() (string, error) {
	dir, err := os.MkdirTemp("", "configroot-history-bench-")
	if err != nil {
		return "", err
	}
	if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("git init: %v: %s", err, out)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := os.CreateTemp("", "fast-import-*.log")
	if err != nil {
		return "", err
	}
	defer os.Remove(out.Name())
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(in, 1<<20)
	var paths []string
	for ns := 0; ns < benchNamespaces; ns++ {
		for rel := 0; rel < benchReleases; rel++ {
			for f := 0; f < benchFiles; f++ {
				paths = append(paths, fmt.Sprintf("namespaces/ns-%02d/rel-%d/app-%02d-%02d-deploy.yaml", ns, rel, rel, f))
			}
		}
	}
	for i := 0; i < benchCluster; i++ {
		paths = append(paths, fmt.Sprintf("cluster/resources/ns-%02d/rel-0/role-%04d-clusterrole.yaml", i%benchNamespaces, i))
	}
	const target, moved = "namespaces/ns-07/rel-3/target-deploy.yaml", "namespaces/ns-07/rel-3-renamed/target-deploy.yaml"
	content := func(p string, gen int) string {
		var ns, name string
		fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(p))), "%s", &ns)
		name = filepath.Base(p)
		name = name[:len(name)-len(filepath.Ext(name))]
		if filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(p)))) == "resources" {
			return fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: %s\nrules: []\n# generation %d\n", name[:len(name)-len("-clusterrole")], gen)
		}
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  replicas: %d\n  template:\n    spec:\n      containers:\n      - name: app\n        image: example.com/app:%d\n",
			name[:len(name)-len("-deploy")], ns, gen%5+1, gen)
	}
	file := func(p string, gen int) {
		c := content(p, gen)
		fmt.Fprintf(w, "M 100644 inline config-root/%s\ndata %d\n%s\n", p, len(c), c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 1; i <= benchCommits; i++ {
		msg := fmt.Sprintf("Render config-root from %012x\n\nResources: 5 changed\n\nSource-Commit: %040x\n", i, i)
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\nauthor configroot <configroot@example.com> %d +0000\ncommitter configroot <configroot@example.com> %d +0000\ndata %d\n%s",
			i, 1_700_000_000+i*600, 1_700_000_000+i*600, len(msg), msg)
		if i > 1 {
			fmt.Fprintf(w, "from :%d\n", i-1)
		}
		switch {
		case i == 1:
			for _, p := range paths {
				file(p, 0)
			}
			file(target, 0)
		case i == 500:
			fmt.Fprintf(w, "D config-root/%s\n", target)
			file(moved, i)
		case i == 700:
			fmt.Fprintf(w, "D config-root/%s\n", moved)
		case i == 800:
			file(moved, i)
		case i%20 == 0 && (i < 700 || i > 800):
			if i < 500 {
				file(target, i)
			} else {
				file(moved, i)
			}
		}
		if i > 1 {
			for j := 0; j < benchPerCommit; j++ {
				file(paths[rng.IntN(len(paths))], i)
			}
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		log, _ := os.ReadFile(out.Name())
		return "", fmt.Errorf("git fast-import: %v: %s", err, log)
	}
	return dir, nil
}

// BenchmarkLog walks the 1,000 commits of benchRepo (10,000 files) for one resource, as
// configroot history does from a local clone: opening the repo included.
func BenchmarkLog(b *testing.B) {
	repo := benchRepo(b)
	for _, c := range []struct {
		name, resource, namespace string
		patch                     bool
		changes                   int
	}{
		{"namespaced", "deploy/target", "ns-07", false, 47},
		{"any-namespace", "deploy/target", "", false, 47},
		{"patch", "deploy/target", "ns-07", true, 47},
		{"cluster-scoped", "ClusterRole/role-0042", "", false, -1},
	} {
		b.Run(c.name, func(b *testing.B) {
			q, err := history.ParseQuery(c.resource, c.namespace)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := history.Log(context.Background(), q, history.Options{Repo: repo, Patch: c.patch})
				if err != nil {
					b.Fatal(err)
				}
				if res.Commits != benchCommits || (c.changes >= 0 && len(res.Changes) != c.changes) {
					b.Fatalf("%d commits walked, %d changes", res.Commits, len(res.Changes))
				}
			}
		})
	}
}

// TestBenchRepo checks the benchmark's repo and the walk over it: the target's 47
// changes (added, 24 modified, moved, 9 modified, removed, added again, 10 modified), so
// that the benchmark measures a correct walk.
func TestBenchRepo(t *testing.T) {
	benchOnce.Do(func() { benchDir, benchErr = makeBenchRepo() })
	if benchErr != nil {
		t.Fatal(benchErr)
	}
	q, _ := history.ParseQuery("deploy/target", "")
	res, err := history.Log(context.Background(), q, history.Options{Repo: benchDir})
	if err != nil {
		t.Fatal(err)
	}
	count := map[history.Action]int{}
	for _, c := range res.Changes {
		count[c.Action]++
	}
	if len(res.Changes) != 47 || count[history.Added] != 2 || count[history.Moved] != 1 || count[history.Removed] != 1 || count[history.Modified] != 43 {
		t.Errorf("%d changes: %v", len(res.Changes), count)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
