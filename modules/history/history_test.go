package history_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/history"
	"github.com/configroot/configroot/modules/publish"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
)

const (
	testUser  = "x-access-token"
	testToken = "h1st0ry-t0ken-4242"
)

// published is a cluster repo on a real git server whose history was made by rendering the
// example cluster repo with helmfile and publishing each render with modules/publish.
type published struct {
	url  string // the repo on the server
	bare string // its folder
	// commits are the publish commits, oldest first; sources the Source-Commit of each.
	commits, sources []string
}

// step is one change of the source repo, rendered and published.
type step struct {
	name string
	edit func(t *testing.T, repo string)
}

// steps are the changes the published history is made of, in order.
var steps = []step{
	{"initial render", func(*testing.T, string) {}},
	{"the webapp's greeting changes", func(t *testing.T, repo string) {
		edit(t, filepath.Join(repo, "values", "webapp.yaml.gotmpl"), "greeting: hello from", "greeting: bonjour from")
	}},
	{"release tenants renamed tenancy", func(t *testing.T, repo string) {
		edit(t, filepath.Join(repo, "helmfile.yaml"), "- name: tenants", "- name: tenancy")
	}},
	{"Tenant team-b removed", func(t *testing.T, repo string) {
		edit(t, filepath.Join(repo, "charts", "tenant-operator", "values.yaml"), "  - team-b\n", "")
	}},
	{"Tenant team-b re-added", func(t *testing.T, repo string) {
		edit(t, filepath.Join(repo, "charts", "tenant-operator", "values.yaml"), "  - team-a\n", "  - team-a\n  - team-b\n")
	}},
	{"TenantPolicy becomes cluster-scoped", func(t *testing.T, repo string) {
		edit(t, filepath.Join(repo, "charts", "tenant-operator", "crds", "tenantpolicies.yaml"), "scope: Namespaced", "scope: Cluster")
	}},
	{"a second webapp in namespace staging", func(t *testing.T, repo string) {
		edit(t, filepath.Join(repo, "helmfile.yaml"), "releases:\n", `releases:
  - name: webapp
    namespace: staging
    chart: ./charts/webapp
    values:
      - values/webapp.yaml.gotmpl
`)
	}},
}

// newPublished renders and publishes every step.
func newPublished(t *testing.T) published {
	t.Helper()
	testutil.ToolsEnv(t)
	srv := testutil.NewGitServer(t, testUser, testToken)
	p := published{url: srv.URL("cluster.git")}
	p.bare = srv.NewBareRepo(t, "cluster.git", "main", map[string][]byte{"README.md": []byte("# cluster\n")})
	source := testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(t), "examples", "cluster"))
	if err := os.RemoveAll(filepath.Join(source, "config-root")); err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		s.edit(t, source)
		mapping, err := secrets.LoadMapping(source, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if _, err := render.Render(ctx, render.Options{Source: source, Filters: conv.Filters()}); err != nil {
			t.Fatalf("step %d (%s): render: %v", i, s.name, err)
		}
		files, err := render.ReadFiles(filepath.Join(source, "config-root"))
		if err != nil {
			t.Fatal(err)
		}
		src := fmt.Sprintf("%040x", i+1)
		res, err := publish.Publish(ctx, publish.Options{
			URL: p.url, Credentials: &publish.Credentials{Token: testToken}, Files: files,
			Message: publish.Message{Title: s.name, SourceCommit: src, RenderedBy: "configroot test"},
			Author:  publish.Author{Name: "Render Bot", Email: "bot@example.com"},
		})
		cancel()
		if err != nil {
			t.Fatalf("step %d (%s): publish: %v", i, s.name, err)
		}
		p.commits = append(p.commits, res.Commit)
		p.sources = append(p.sources, src)
	}
	return p
}

func edit(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// want is a change expected: the step that made it, its action, its path and previous path.
type want struct {
	step         int
	action       history.Action
	path, moved  string
	namespace    string // of the resource after the change
	patchHasLine string
}

// TestPublishedHistory walks a history made by real renders and publishes, from a local
// clone and from the server's URL.
func TestPublishedHistory(t *testing.T) {
	p := newPublished(t)
	clone := filepath.Join(t.TempDir(), "cluster")
	testutil.Git(t, "", "clone", "--quiet", p.bare, clone)

	const tenancy, tenants = "config-root/namespaces/operators/tenant-operator-tenancy/", "config-root/namespaces/operators/tenant-operator-tenants/"
	cases := []struct {
		name, resource, namespace string
		o                         history.Options
		want                      []want
	}{
		{"moved by a release rename", "deploy/tenant-operator", "operators", history.Options{Patch: true}, []want{
			{step: 2, action: history.Moved, path: tenancy + "tenant-operator-deploy.yaml", moved: tenants + "tenant-operator-deploy.yaml", namespace: "operators",
				patchHasLine: "+    meta.helm.sh/release-name: tenancy"},
			{step: 0, action: history.Added, path: tenants + "tenant-operator-deploy.yaml", namespace: "operators"},
		}},
		{"cluster-scoped, moved", "ClusterRole/tenant-operator", "", history.Options{}, []want{
			{step: 2, action: history.Moved, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/tenant-operator-clusterrole.yaml",
				moved: "config-root/cluster/resources/operators/tenant-operator-tenants/tenant-operator-clusterrole.yaml"},
			{step: 0, action: history.Added, path: "config-root/cluster/resources/operators/tenant-operator-tenants/tenant-operator-clusterrole.yaml"},
		}},
		{"removed and re-added", "tenants.example.com/team-b", "", history.Options{}, []want{
			{step: 4, action: history.Added, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml"},
			{step: 3, action: history.Removed, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml"},
			{step: 2, action: history.Moved, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml",
				moved: "config-root/cluster/resources/operators/tenant-operator-tenants/team-b-tenant.yaml"},
			{step: 0, action: history.Added, path: "config-root/cluster/resources/operators/tenant-operator-tenants/team-b-tenant.yaml"},
		}},
		{"scope change followed", "TenantPolicy/team-a-default", "operators", history.Options{}, []want{
			{step: 5, action: history.Moved, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-a-default-tenantpolicy.yaml",
				moved: tenancy + "team-a-default-tenantpolicy.yaml"},
			{step: 2, action: history.Moved, path: tenancy + "team-a-default-tenantpolicy.yaml", moved: tenants + "team-a-default-tenantpolicy.yaml", namespace: "operators"},
			{step: 0, action: history.Added, path: tenants + "team-a-default-tenantpolicy.yaml", namespace: "operators"},
		}},
		{"modified, with the patch", "cm/webapp-config", "apps", history.Options{Patch: true}, []want{
			{step: 1, action: history.Modified, path: "config-root/namespaces/apps/webapp/webapp-config-cm.yaml", namespace: "apps", patchHasLine: `+  GREETING: "bonjour from default"`},
			{step: 0, action: history.Added, path: "config-root/namespaces/apps/webapp/webapp-config-cm.yaml", namespace: "apps", patchHasLine: `+  GREETING: "hello from default"`},
		}},
		{"one of two namespaces", "Deployment/webapp", "staging", history.Options{}, []want{
			{step: 6, action: history.Added, path: "config-root/namespaces/staging/webapp/webapp-deploy.yaml", namespace: "staging"},
		}},
		{"max count", "tenants.example.com/team-b", "", history.Options{MaxCount: 2}, []want{
			{step: 4, action: history.Added, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml"},
			{step: 3, action: history.Removed, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml"},
		}},
		{"from an older ref", "tenant/team-b", "", history.Options{Ref: "HEAD~3"}, []want{
			{step: 3, action: history.Removed, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml"},
			{step: 2, action: history.Moved, path: "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml",
				moved: "config-root/cluster/resources/operators/tenant-operator-tenants/team-b-tenant.yaml"},
			{step: 0, action: history.Added, path: "config-root/cluster/resources/operators/tenant-operator-tenants/team-b-tenant.yaml"},
		}},
	}
	repos := []struct {
		name string
		o    history.Options
	}{
		{"local clone", history.Options{Repo: clone}},
		{"bare repository", history.Options{Repo: p.bare}},
		{"remote URL", history.Options{Repo: p.url, Credentials: &publish.Credentials{Token: testToken}}},
	}
	for _, r := range repos {
		for _, c := range cases {
			if r.name == "remote URL" && c.o.Ref != "" {
				continue // a URL takes a branch only; the ref case runs on the local ones
			}
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				q, err := history.ParseQuery(c.resource, c.namespace)
				if err != nil {
					t.Fatal(err)
				}
				o := c.o
				o.Repo, o.Credentials = r.o.Repo, r.o.Credentials
				res, err := history.Log(context.Background(), q, o)
				if err != nil {
					t.Fatal(err)
				}
				checkChanges(t, p, res.Changes, c.want)
			})
		}
	}

	t.Run("remote URL on a branch", func(t *testing.T) {
		q, _ := history.ParseQuery("tenant/team-b", "")
		res, err := history.Log(context.Background(), q, history.Options{Repo: p.url, Ref: "main", Credentials: &publish.Credentials{Token: testToken}})
		if err != nil || len(res.Changes) != 4 || res.Start != p.commits[len(p.commits)-1] {
			t.Errorf("%+v, %v", res, err)
		}
		_, err = history.Log(context.Background(), q, history.Options{Repo: p.url, Ref: "no-such-branch", Credentials: &publish.Credentials{Token: testToken}})
		if err == nil || !strings.Contains(err.Error(), "clone "+p.url) {
			t.Errorf("a missing branch: %v", err)
		}
	})

	t.Run("result", func(t *testing.T) {
		q, _ := history.ParseQuery("tenant/team-b", "")
		res, err := history.Log(context.Background(), q, history.Options{Repo: clone})
		if err != nil {
			t.Fatal(err)
		}
		want := history.Resource{APIVersion: "example.com/v1", Kind: "Tenant", Name: "team-b"}
		if res.Resource != want || !res.Exists || res.Start != p.commits[len(p.commits)-1] || res.Commits != len(steps)+1 ||
			res.Path != "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml" {
			t.Errorf("result %+v", res)
		}
		// At the commit that removed it, it does not exist: the path is where it was last seen.
		res, err = history.Log(context.Background(), q, history.Options{Repo: clone, Ref: p.commits[3]})
		if err != nil {
			t.Fatal(err)
		}
		if res.Exists || res.Path != "config-root/cluster/resources/operators/tenant-operator-tenancy/team-b-tenant.yaml" {
			t.Errorf("at the removal: %+v", res)
		}
	})

	t.Run("ambiguous", func(t *testing.T) {
		q, _ := history.ParseQuery("deploy/webapp", "")
		_, err := history.Log(context.Background(), q, history.Options{Repo: clone})
		var amb *history.AmbiguousError
		if !errors.As(err, &amb) || !errors.Is(err, history.ErrAmbiguous) {
			t.Fatalf("error %v, want an AmbiguousError", err)
		}
		wantMsg := "deploy/webapp is ambiguous: 2 resources match; add -n NAMESPACE or write KIND.GROUP/NAME:\n" +
			"  Deployment.apps apps/webapp (config-root/namespaces/apps/webapp/webapp-deploy.yaml)\n" +
			"  Deployment.apps staging/webapp (config-root/namespaces/staging/webapp/webapp-deploy.yaml)"
		if err.Error() != wantMsg {
			t.Errorf("error:\n%s\nwant:\n%s", err, wantMsg)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		for _, c := range []struct{ resource, namespace, want string }{
			{"deploy/webap", "apps", "Deployment.apps apps/webap: not found in the history of config-root (closest: Deployment apps/webapp, Deployment staging/webapp, Service apps/webapp)"},
			{"deploy/tenant-operator", "apps", "Deployment.apps apps/tenant-operator: not found in the history of config-root (closest: Deployment operators/tenant-operator, ClusterRole tenant-operator, ClusterRoleBinding tenant-operator)"},
			{"Certificate/nothing-like-it", "", "Certificate nothing-like-it: not found in the history of config-root"},
		} {
			q, err := history.ParseQuery(c.resource, c.namespace)
			if err != nil {
				t.Fatal(err)
			}
			_, err = history.Log(context.Background(), q, history.Options{Repo: clone})
			var nf *history.NotFoundError
			if !errors.As(err, &nf) || !errors.Is(err, history.ErrNotFound) || err.Error() != c.want {
				t.Errorf("%s: error\n%v\nwant\n%s", c.resource, err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: the error is not one line", c.resource)
			}
		}
	})

	t.Run("since and until", func(t *testing.T) {
		q, _ := history.ParseQuery("tenant/team-b", "")
		future := time.Now().Add(time.Hour)
		res, err := history.Log(context.Background(), q, history.Options{Repo: clone, Since: future})
		var nf *history.NotFoundError
		if !errors.As(err, &nf) || !strings.HasSuffix(err.Error(), " since "+future.Format("2006-01-02 15:04 -0700")) {
			t.Errorf("since the future: %+v, %v", res, err)
		}
		res, err = history.Log(context.Background(), q, history.Options{Repo: clone, Until: time.Now().Add(-time.Hour)})
		if err != nil || len(res.Changes) != 0 {
			t.Errorf("until an hour ago: %+v, %v", res.Changes, err)
		}
		res, err = history.Log(context.Background(), q, history.Options{Repo: clone, Since: time.Now().Add(-time.Hour)})
		if err != nil || len(res.Changes) != 4 {
			t.Errorf("since an hour ago: %d changes, %v", len(res.Changes), err)
		}
	})

	t.Run("bad credentials", func(t *testing.T) {
		q, _ := history.ParseQuery("tenant/team-b", "")
		wrong := "wr0ng-t0ken-999"
		_, err := history.Log(context.Background(), q, history.Options{Repo: p.url, Credentials: &publish.Credentials{Token: publish.Secret(wrong)}})
		if !errors.Is(err, publish.ErrAuthentication) {
			t.Fatalf("error %v, want ErrAuthentication", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testToken) {
			t.Errorf("the error shows a token: %v", err)
		}
	})
}

func checkChanges(t *testing.T, p published, got []history.Change, want []want) {
	t.Helper()
	if len(got) != len(want) {
		var b strings.Builder
		for _, c := range got {
			fmt.Fprintf(&b, "  %s %s %s (from %s)\n", c.Commit[:8], c.Action, c.Path, c.PreviousPath)
		}
		t.Fatalf("%d changes, want %d:\n%s", len(got), len(want), b.String())
	}
	for i, w := range want {
		c := got[i]
		exp := history.Change{
			Commit: p.commits[w.step], SourceCommit: p.sources[w.step], Subject: steps[w.step].name,
			Author: history.Person{Name: "Render Bot", Email: "bot@example.com"},
			Action: w.action, Path: w.path, PreviousPath: w.moved,
		}
		gotCmp := c
		gotCmp.Date, gotCmp.Resource, gotCmp.Patch = time.Time{}, history.Resource{}, ""
		if !reflect.DeepEqual(gotCmp, exp) {
			t.Errorf("change %d:\n got %+v\nwant %+v", i, gotCmp, exp)
		}
		if c.Resource.Namespace != w.namespace {
			t.Errorf("change %d: resource %+v, want namespace %q", i, c.Resource, w.namespace)
		}
		if time.Since(c.Date) > time.Hour {
			t.Errorf("change %d: date %s", i, c.Date)
		}
		if w.patchHasLine != "" && !strings.Contains(c.Patch, "\n"+w.patchHasLine+"\n") {
			t.Errorf("change %d: the patch has no line %q:\n%s", i, w.patchHasLine, c.Patch)
		}
	}
}
