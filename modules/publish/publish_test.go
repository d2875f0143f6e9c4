package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/publish"
	"github.com/configroot/configroot/modules/render"
)

const (
	testUser  = "x-access-token"
	testToken = "s3cr3t-t0ken-4242"
)

// initialRepo is the cluster repo the tests start from: sources plus a rendered config-root.
func initialRepo() map[string][]byte {
	return map[string][]byte{
		"README.md":     []byte("# cluster\n"),
		"helmfile.yaml": []byte("releases: []\n"),
		"config-root/cluster/namespaces/webapp.yaml":                     []byte("kind: Namespace\nname: webapp\n"),
		"config-root/namespaces/webapp/webapp/webapp-deploy.yaml":        []byte("kind: Deployment\nreplicas: 1\n"),
		"config-root/namespaces/webapp/webapp/webapp-svc.yaml":           []byte("kind: Service\n"),
		"config-root/namespaces/team-a/tenant/tenant-cm.yaml":            []byte("kind: ConfigMap\n"),
		"config-root/namespaces/team-a/tenant/tenant-sa.yaml":            []byte("kind: ServiceAccount\n"),
		"config-root/cluster/resources/team-a/tenant/tenant-reader.yaml": []byte("kind: ClusterRole\n"),
	}
}

// configRoot returns the config-root part of files, relative to config-root.
func configRoot(files map[string][]byte) render.Files {
	out := render.Files{}
	for p, data := range files {
		if rel, ok := strings.CutPrefix(p, "config-root/"); ok {
			out[rel] = data
		}
	}
	return out
}

// newRemote starts a git server holding cluster.git with the initial repo on main.
func newRemote(t *testing.T) (srv *testutil.GitServer, url, bare string) {
	t.Helper()
	srv = testutil.NewGitServer(t, testUser, testToken)
	bare = srv.NewBareRepo(t, "cluster.git", "main", initialRepo())
	return srv, srv.URL("cluster.git"), bare
}

func options(url string, files render.Files) publish.Options {
	return publish.Options{
		URL:         url,
		Credentials: &publish.Credentials{Token: testToken},
		Files:       files,
		Message:     publish.Message{SourceCommit: "0123456789abcdef0123456789abcdef01234567", SourceRepository: "https://user:pw@example.com/org/cluster-src.git", RenderedBy: "configroot test"},
		Author:      publish.Author{Name: "Render Bot", Email: "bot@example.com"},
		Timeout:     30 * time.Second,
		Backoff:     10 * time.Millisecond,
	}
}

// revParse returns the commit of rev in the bare repo, "" when it does not exist.
func revParse(t *testing.T, bare, rev string) string {
	t.Helper()
	out, err := testutil.GitOutput(bare, "rev-parse", "--verify", "--quiet", rev)
	if err != nil {
		return ""
	}
	return out
}

// treeAt returns the files of the repo at rev, under prefix (relative to it).
func treeAt(t *testing.T, bare, rev, prefix string) map[string][]byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	testutil.Git(t, "", "clone", "--quiet", "--no-checkout", bare, dir)
	testutil.Git(t, dir, "checkout", "--quiet", rev)
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, filepath.FromSlash(prefix))
	if _, err := os.Stat(root); err != nil {
		return map[string][]byte{}
	}
	return testutil.ReadTree(t, root)
}

// commitMessage returns the exact message of a commit (everything after its headers).
func commitMessage(t *testing.T, bare, rev string) string {
	t.Helper()
	raw, err := testutil.GitRaw(bare, "cat-file", "commit", rev)
	if err != nil {
		t.Fatal(err)
	}
	_, msg, ok := strings.Cut(raw, "\n\n")
	if !ok {
		t.Fatalf("commit %s has no message:\n%s", rev, raw)
	}
	return msg
}

func TestPublishCommitsPushesAndSecondRunChangesNothing(t *testing.T) {
	_, url, bare := newRemote(t)
	before := revParse(t, bare, "main")

	files := configRoot(initialRepo())
	files["namespaces/webapp/webapp/webapp-deploy.yaml"] = []byte("kind: Deployment\nreplicas: 3\n")
	files["namespaces/monitoring/rules/rules-prometheusrule.yaml"] = []byte("kind: PrometheusRule\n")
	delete(files, "namespaces/team-a/tenant/tenant-sa.yaml")

	var progress strings.Builder
	o := options(url, files)
	o.Progress = &progress
	res, err := publish.Publish(context.Background(), o)
	if err != nil {
		t.Fatalf("Publish: %v\n%s", err, progress.String())
	}
	if got := revParse(t, bare, "main"); got != res.Commit || got == before {
		t.Fatalf("remote main = %s, want the new commit %s (was %s)", got, res.Commit, before)
	}
	if res.Branch != "main" || res.Attempts != 1 {
		t.Errorf("Result = %+v, want branch main, 1 attempt", res)
	}
	if parent := revParse(t, bare, res.Commit+"^"); parent != before {
		t.Errorf("parent of the commit = %s, want the previous head %s", parent, before)
	}
	if d := testutil.DiffTrees(files, treeAt(t, bare, res.Commit, "config-root")); d != "" {
		t.Errorf("config-root in the commit differs from the render:\n%s", d)
	}
	all := treeAt(t, bare, res.Commit, "")
	if string(all["README.md"]) != "# cluster\n" || string(all["helmfile.yaml"]) != "releases: []\n" {
		t.Errorf("files outside config-root changed: %q %q", all["README.md"], all["helmfile.yaml"])
	}

	wantMsg := `Render config-root from 0123456789ab

Resources 1 added, 1 changed, 1 removed:
- monitoring: 1 added, 0 changed, 0 removed
- team-a: 0 added, 0 changed, 1 removed
- webapp: 0 added, 1 changed, 0 removed

Source-Commit: 0123456789abcdef0123456789abcdef01234567
Source-Repository: https://example.com/org/cluster-src.git
Rendered-By: configroot test
`
	if got := commitMessage(t, bare, res.Commit); got != wantMsg {
		t.Errorf("commit message:\n%s\nwant:\n%s", got, wantMsg)
	}
	author := testutil.Git(t, bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", res.Commit)
	if author != "Render Bot <bot@example.com>|Render Bot <bot@example.com>" {
		t.Errorf("author|committer = %q", author)
	}

	// The same render again: nothing to commit, nothing pushed.
	again, err := publish.Publish(context.Background(), o)
	if !errors.Is(err, publish.ErrNoChanges) {
		t.Fatalf("second Publish: err = %v, want ErrNoChanges", err)
	}
	if again.Commit != res.Commit {
		t.Errorf("second Publish: Commit = %s, want the head %s", again.Commit, res.Commit)
	}
	if got := revParse(t, bare, "main"); got != res.Commit {
		t.Errorf("second Publish moved main to %s", got)
	}
}

func TestPublishRemovedReleaseRemovesItsFiles(t *testing.T) {
	_, url, bare := newRemote(t)
	files := configRoot(initialRepo())
	for p := range files {
		if strings.Contains(p, "/tenant/") {
			delete(files, p) // the tenant release is gone from the helmfile
		}
	}
	res, err := publish.Publish(context.Background(), options(url, files))
	if err != nil {
		t.Fatal(err)
	}
	status := testutil.Git(t, bare, "show", "--format=", "--name-status", res.Commit)
	want := "D\tconfig-root/cluster/resources/team-a/tenant/tenant-reader.yaml\n" +
		"D\tconfig-root/namespaces/team-a/tenant/tenant-cm.yaml\n" +
		"D\tconfig-root/namespaces/team-a/tenant/tenant-sa.yaml"
	if status != want {
		t.Errorf("files of the commit:\n%s\nwant:\n%s", status, want)
	}
	if d := testutil.DiffTrees(files, treeAt(t, bare, res.Commit, "config-root")); d != "" {
		t.Errorf("config-root differs from the render:\n%s", d)
	}
	if want := []string{"cluster/resources/team-a/tenant/tenant-reader.yaml", "namespaces/team-a/tenant/tenant-cm.yaml", "namespaces/team-a/tenant/tenant-sa.yaml"}; fmt.Sprint(res.Changes.Deleted) != fmt.Sprint(want) || len(res.Changes.Added)+len(res.Changes.Modified) != 0 {
		t.Errorf("Changes = %+v, want only deletions %v", res.Changes, want)
	}
}

func TestPublishManyChangesAtOnce(t *testing.T) {
	// More files than are staged one by one: the whole folder is added in one go.
	_, url, bare := newRemote(t)
	files := render.Files{}
	for i := range 150 {
		files[fmt.Sprintf("namespaces/ns-%d/app/cm-%d-cm.yaml", i%7, i)] = fmt.Appendf(nil, "kind: ConfigMap\nindex: %d\n", i)
	}
	res, err := publish.Publish(context.Background(), options(url, files))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes.Added) != 150 || len(res.Changes.Deleted) != 6 {
		t.Errorf("Changes: %d added, %d deleted; want 150 and 6", len(res.Changes.Added), len(res.Changes.Deleted))
	}
	if d := testutil.DiffTrees(files, treeAt(t, bare, res.Commit, "config-root")); d != "" {
		t.Errorf("config-root differs from the render:\n%s", d)
	}
}

func TestPublishWrongToken(t *testing.T) {
	_, url, bare := newRemote(t)
	before := revParse(t, bare, "main")
	const wrong = "wr0ng-t0ken-9999"
	o := options(url, configRoot(initialRepo()))
	o.Credentials = &publish.Credentials{Token: wrong}
	var progress strings.Builder
	o.Progress, o.Log = &progress, &progress
	_, err := publish.Publish(context.Background(), o)
	if !errors.Is(err, publish.ErrAuthentication) {
		t.Fatalf("err = %v, want ErrAuthentication", err)
	}
	for _, s := range []string{err.Error(), progress.String(), fmt.Sprintf("%v %+v %#v", o, o, o.Credentials)} {
		if strings.Contains(s, wrong) || strings.Contains(s, testToken) {
			t.Errorf("a token leaked: %q", s)
		}
	}
	if got := revParse(t, bare, "main"); got != before {
		t.Errorf("main moved to %s", got)
	}
}

func TestPublishTokenInURLIsMasked(t *testing.T) {
	srv, _, _ := newRemote(t)
	// user info in the URL of a repo that does not exist: the error names the URL.
	url := strings.Replace(srv.URL("missing.git"), "http://", "http://someone:"+testToken+"@", 1)
	o := options(url, configRoot(initialRepo()))
	o.Credentials = nil
	_, err := publish.Publish(context.Background(), o)
	if err == nil {
		t.Fatal("Publish to a missing repository succeeded")
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "someone") {
		t.Errorf("credentials leaked: %v", err)
	}
}

func TestPublishRetriesWhenTheBranchMoved(t *testing.T) {
	srv, url, bare := newRemote(t)
	tmp := t.TempDir()
	// Another publisher lands a commit just as our push arrives, once.
	var once sync.Once
	var other string
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			once.Do(func() {
				var err error
				if other, err = pushOtherCommit(filepath.Join(tmp, "other"), bare, "other\n"); err != nil {
					t.Errorf("moving main: %v", err)
				}
			})
		}
		return false
	})
	files := configRoot(initialRepo())
	files["namespaces/webapp/webapp/webapp-svc.yaml"] = []byte("kind: Service\nport: 80\n")
	var progress strings.Builder
	o := options(url, files)
	o.Progress = &progress
	res, err := publish.Publish(context.Background(), o)
	if err != nil {
		t.Fatalf("Publish: %v\n%s", err, progress.String())
	}
	if res.Attempts != 2 {
		t.Errorf("Attempts = %d, want 2\n%s", res.Attempts, progress.String())
	}
	if !strings.Contains(progress.String(), "push rejected: main moved; retrying") {
		t.Errorf("progress does not report the retry:\n%s", progress.String())
	}
	if parent := revParse(t, bare, res.Commit+"^"); parent != other {
		t.Errorf("the commit's parent = %s, want the other publisher's commit %s", parent, other)
	}
	all := treeAt(t, bare, "main", "")
	if string(all["OTHER.md"]) != "other\n" {
		t.Errorf("the other publisher's change is lost")
	}
	if d := testutil.DiffTrees(files, treeAt(t, bare, "main", "config-root")); d != "" {
		t.Errorf("config-root differs from the render:\n%s", d)
	}
}

// pushOtherCommit writes OTHER.md on main of bare, as another publisher would, and
// returns the new head. It runs in server handlers, so it returns errors instead of
// failing the test.
func pushOtherCommit(dir, bare, content string) (string, error) {
	steps := [][]string{
		{"clone", "--quiet", bare, dir},
		{"-C", dir, "config", "user.name", "other"},
	}
	for _, args := range steps {
		if _, err := testutil.GitOutput("", args...); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "OTHER.md"), []byte(content), 0o644); err != nil {
		return "", err
	}
	for _, args := range [][]string{{"add", "OTHER.md"}, {"commit", "--quiet", "-m", "other"}, {"push", "--quiet", "origin", "main"}} {
		if _, err := testutil.GitOutput(dir, args...); err != nil {
			return "", err
		}
	}
	return testutil.GitOutput(dir, "rev-parse", "HEAD")
}

func TestPublishGivesUpAfterRetries(t *testing.T) {
	srv, url, bare := newRemote(t)
	tmp := t.TempDir()
	// The branch moves before every push.
	var mu sync.Mutex
	var pushes int
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			mu.Lock()
			defer mu.Unlock()
			pushes++
			if _, err := pushOtherCommit(filepath.Join(tmp, fmt.Sprint(pushes)), bare, fmt.Sprintln(pushes)); err != nil {
				t.Errorf("moving main: %v", err)
			}
		}
		return false
	})
	files := configRoot(initialRepo())
	files["namespaces/webapp/webapp/webapp-svc.yaml"] = []byte("kind: Service\nport: 81\n")
	o := options(url, files)
	o.Retries = 2
	_, err := publish.Publish(context.Background(), o)
	if !errors.Is(err, publish.ErrRejected) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("err = %v, want ErrRejected after 3 attempts", err)
	}
	if pushes != 3 {
		t.Errorf("%d pushes, want 3", pushes)
	}
	if strings.Contains(string(treeAt(t, bare, "main", "config-root")["namespaces/webapp/webapp/webapp-svc.yaml"]), "81") {
		t.Errorf("the rejected render reached main")
	}
}

func TestPublishRacingPublishers(t *testing.T) {
	_, url, bare := newRemote(t)
	const n = 10
	renders := make([]render.Files, n)
	for i := range renders {
		files := configRoot(initialRepo())
		files["namespaces/webapp/webapp/webapp-deploy.yaml"] = fmt.Appendf(nil, "kind: Deployment\nreplicas: %d\n", i+10)
		files[fmt.Sprintf("namespaces/team-%d/app/app-cm.yaml", i)] = fmt.Appendf(nil, "kind: ConfigMap\npublisher: %d\n", i)
		renders[i] = files
	}
	results := make([]publish.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			o := options(url, renders[i])
			o.Retries = 30
			o.Backoff = 20 * time.Millisecond
			results[i], errs[i] = publish.Publish(context.Background(), o)
		})
	}
	close(start)
	wg.Wait()

	history := strings.Fields(testutil.Git(t, bare, "rev-list", "main"))
	inHistory := map[string]bool{}
	for _, c := range history {
		inHistory[c] = true
	}
	if merges := testutil.Git(t, bare, "rev-list", "--merges", "main"); merges != "" {
		t.Errorf("merge commits in the history: %s", merges)
	}
	landed := 0
	byCommit := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			// Allowed, but only as a bounded give-up after retries.
			if !errors.Is(errs[i], publish.ErrRejected) {
				t.Errorf("publisher %d: %v", i, errs[i])
			}
			continue
		}
		landed++
		byCommit[results[i].Commit] = i
		if !inHistory[results[i].Commit] {
			t.Errorf("publisher %d: commit %s is not in the history of main: lost", i, results[i].Commit)
		}
		if d := testutil.DiffTrees(renders[i], treeAt(t, bare, results[i].Commit, "config-root")); d != "" {
			t.Errorf("publisher %d: its commit does not hold its render:\n%s", i, d)
		}
	}
	t.Logf("%d of %d publishers landed", landed, n)
	if landed == 0 {
		t.Fatal("no publisher landed")
	}
	if len(history) != 1+landed {
		t.Errorf("main has %d commits, want the initial one plus %d landed", len(history), landed)
	}
	head := history[0]
	last, ok := byCommit[head]
	if !ok {
		t.Fatalf("the head of main %s is no publisher's commit", head)
	}
	if d := testutil.DiffTrees(renders[last], treeAt(t, bare, "main", "config-root")); d != "" {
		t.Errorf("the final tree differs from the render of the last commit (publisher %d):\n%s", last, d)
	}
}

func TestPublishServerStoppedMidPushLeavesTheBranch(t *testing.T) {
	srv, url, bare := newRemote(t)
	before := revParse(t, bare, "main")
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			_, _ = io.CopyN(io.Discard, r.Body, 100) // part of the pack arrives, then the server dies
			go srv.Close()
			panic(http.ErrAbortHandler)
		}
		return false
	})
	files := configRoot(initialRepo())
	files["namespaces/webapp/webapp/webapp-deploy.yaml"] = []byte("kind: Deployment\nreplicas: 7\n")
	_, err := publish.Publish(context.Background(), options(url, files))
	if err == nil {
		t.Fatal("Publish succeeded against a server that died")
	}
	if errors.Is(err, publish.ErrRejected) || !strings.HasPrefix(err.Error(), "push ") {
		t.Errorf("err = %v, want a push error that is not a rejection", err)
	}
	if got := revParse(t, bare, "main"); got != before {
		t.Errorf("main moved from %s to %s", before, got)
	}
	if refs := testutil.Git(t, bare, "for-each-ref", "--format=%(refname)"); refs != "refs/heads/main" {
		t.Errorf("refs of the remote: %q, want only refs/heads/main", refs)
	}
}

func TestPublishTimesOut(t *testing.T) {
	srv, url, bare := newRemote(t)
	before := revParse(t, bare, "main")
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			// Hang until the client gives up. The body is read first: the server notices a
			// closed connection only once it has read the request.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return true
		}
		return false
	})
	files := configRoot(initialRepo())
	files["namespaces/webapp/webapp/webapp-deploy.yaml"] = []byte("kind: Deployment\nreplicas: 8\n")
	o := options(url, files)
	o.Timeout = time.Second
	start := time.Now()
	_, err := publish.Publish(context.Background(), o)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("Publish took %s with a 1s timeout", elapsed)
	}
	if got := revParse(t, bare, "main"); got != before {
		t.Errorf("main moved from %s to %s", before, got)
	}
}

func TestPublishPullRequestBranch(t *testing.T) {
	_, url, bare := newRemote(t)
	main := revParse(t, bare, "main")
	files := configRoot(initialRepo())
	files["namespaces/webapp/webapp/webapp-deploy.yaml"] = []byte("kind: Deployment\nreplicas: 5\n")
	o := options(url, files)
	o.PullRequestBranch = "configroot/render"
	first, err := publish.Publish(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if first.Branch != "configroot/render" || revParse(t, bare, "configroot/render") != first.Commit {
		t.Fatalf("Result %+v; remote configroot/render = %s", first, revParse(t, bare, "configroot/render"))
	}
	if got := revParse(t, bare, "main"); got != main {
		t.Errorf("main moved to %s", got)
	}
	if parent := revParse(t, bare, first.Commit+"^"); parent != main {
		t.Errorf("the branch starts from %s, want main %s", parent, main)
	}

	// A new render updates the existing branch with a fast-forward commit.
	files["namespaces/webapp/webapp/webapp-deploy.yaml"] = []byte("kind: Deployment\nreplicas: 6\n")
	second, err := publish.Publish(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if parent := revParse(t, bare, second.Commit+"^"); parent != first.Commit {
		t.Errorf("second commit's parent = %s, want the branch head %s", parent, first.Commit)
	}
	if _, err := publish.Publish(context.Background(), o); !errors.Is(err, publish.ErrNoChanges) {
		t.Errorf("third Publish: err = %v, want ErrNoChanges", err)
	}
	if d := testutil.DiffTrees(files, treeAt(t, bare, "configroot/render", "config-root")); d != "" {
		t.Errorf("the branch differs from the render:\n%s", d)
	}
}

func TestPublishLocalRepositoryPath(t *testing.T) {
	bare := testutil.NewBareRepo(t, filepath.Join(t.TempDir(), "cluster.git"), "main", initialRepo())
	files := configRoot(initialRepo())
	files["namespaces/webapp/webapp/webapp-svc.yaml"] = []byte("kind: Service\nport: 8080\n")
	o := options(bare, files)
	res, err := publish.Publish(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := revParse(t, bare, "main"); got != res.Commit {
		t.Errorf("main = %s, want %s", got, res.Commit)
	}
	if d := testutil.DiffTrees(files, treeAt(t, bare, "main", "config-root")); d != "" {
		t.Errorf("config-root differs from the render:\n%s", d)
	}
}

func TestPublishErrors(t *testing.T) {
	_, url, _ := newRemote(t)
	cases := []struct {
		name string
		edit func(*publish.Options)
		want error
		text string
	}{
		{"missing branch", func(o *publish.Options) { o.Branch = "nope" }, publish.ErrBranchNotFound, "branch nope"},
		{"empty render", func(o *publish.Options) { o.Files = render.Files{} }, publish.ErrEmptyFiles, "empty"},
		{"no URL", func(o *publish.Options) { o.URL = "" }, nil, "repository URL is required"},
		{"path outside", func(o *publish.Options) { o.Path = "../x" }, nil, "inside the repository"},
		{"bad file path", func(o *publish.Options) { o.Files = render.Files{"../escape.yaml": nil} }, nil, "invalid file path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := options(url, configRoot(initialRepo()))
			tc.edit(&o)
			_, err := publish.Publish(context.Background(), o)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestPublishAllowEmpty(t *testing.T) {
	_, url, bare := newRemote(t)
	o := options(url, render.Files{})
	o.AllowEmpty = true
	res, err := publish.Publish(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes.Deleted) != 6 {
		t.Errorf("%d deleted, want 6", len(res.Changes.Deleted))
	}
	if got := treeAt(t, bare, "main", "config-root"); len(got) != 0 {
		t.Errorf("config-root still holds %d files", len(got))
	}
}
