package history_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/history"
)

// TestChartSubfolders follows a resource the layout keeps in its chart's folders
// (namespaces/<ns>/<release>/charts/<subchart>/…, as jx gitops helmfile move does) and
// that then moves to the release folder itself.
func TestChartSubfolders(t *testing.T) {
	repo := t.TempDir()
	testutil.Git(t, repo, "init", "--quiet", "--initial-branch=main")
	deploy := func(replicas string) []byte {
		return []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\n  namespace: apps\nspec:\n  replicas: " + replicas + "\n")
	}
	commit := func(msg string) string {
		testutil.Git(t, repo, "add", "--all")
		testutil.Git(t, repo, "commit", "--quiet", "-m", msg)
		return testutil.Git(t, repo, "rev-parse", "HEAD")
	}
	nested := "config-root/namespaces/apps/web/charts/db/db-deploy.yaml"
	testutil.WriteFiles(t, repo, map[string][]byte{
		nested: deploy("1"),
		"config-root/namespaces/apps/web/charts/db/db-svc.yaml": []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: db\n  namespace: apps\n"),
	})
	first := commit("nested")
	testutil.WriteFiles(t, repo, map[string][]byte{nested: deploy("2")})
	second := commit("scaled")
	if err := os.Rename(filepath.Join(repo, filepath.FromSlash(nested)), filepath.Join(repo, "config-root/namespaces/apps/web/db-deploy.yaml")); err != nil {
		t.Fatal(err)
	}
	third := commit("flattened")

	q, err := history.ParseQuery("deploy/db", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := history.Log(context.Background(), q, history.Options{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		commit       string
		action       history.Action
		path, before string
	}{
		{third, history.Moved, "config-root/namespaces/apps/web/db-deploy.yaml", nested},
		{second, history.Modified, nested, ""},
		{first, history.Added, nested, ""},
	}
	if len(res.Changes) != len(want) {
		t.Fatalf("%d changes: %+v", len(res.Changes), res.Changes)
	}
	for i, w := range want {
		c := res.Changes[i]
		if c.Commit != w.commit || c.Action != w.action || c.Path != w.path || c.PreviousPath != w.before {
			t.Errorf("change %d: %+v, want %+v", i, c, w)
		}
	}
}
