package publish

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-billy/v5/util"
)

func TestMaskString(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"token", "auth failed for abc123 at host", "auth failed for ***** at host"},
		{"url user info", `Get "https://user:abc123@example.com/x.git/info/refs": 401`, `Get "https://*****@example.com/x.git/info/refs": 401`},
		{"url user only", "clone https://bot@example.com/x.git", "clone https://*****@example.com/x.git"},
		{"no at", "clone https://example.com/x.git", "clone https://example.com/x.git"},
		{"at in path", "https://example.com/a@b", "https://example.com/a@b"},
		{"two urls", "http://a:b@x/ and http://c:d@y/", "http://*****@x/ and http://*****@y/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := maskString(tc.in, "abc123"); got != tc.want {
				t.Errorf("maskString(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := Credentials{Username: "u", Token: "abc123"}
	js, err := json.Marshal(Options{Credentials: &c})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := c.Token.MarshalText()
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("publish", "credentials", c, "token", c.Token)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("publish", "credentials", c, "token", c.Token)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c.Token, c.Token, c.Token), string(js), string(text), logged.String()} {
		if strings.Contains(s, "abc123") || strings.Contains(s, "616263313233") {
			t.Errorf("the token printed: %s", s)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://x-access-token:tok@github.com/org/repo.git": "https://github.com/org/repo.git",
		"https://github.com/org/repo.git":                    "https://github.com/org/repo.git",
		"git@github.com:org/repo.git":                        "git@github.com:org/repo.git",
		"/srv/git/repo.git":                                  "/srv/git/repo.git",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNamespace(t *testing.T) {
	for p, want := range map[string]string{
		"namespaces/webapp/webapp/webapp-deploy.yaml":           "webapp",
		"cluster/resources/team-a/tenant/tenant-reader.yaml":    "team-a",
		"customresourcedefinitions/tenants/op/tenants-crd.yaml": "tenants",
		"cluster/namespaces/monitoring.yaml":                    "monitoring",
		"README.md":                                             OtherNamespace,
		"namespaces/x.yaml":                                     OtherNamespace,
	} {
		if got := Namespace(p); got != want {
			t.Errorf("Namespace(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestMessageFormat(t *testing.T) {
	c := Changes{Added: []string{"namespaces/a/r/x.yaml"}, Deleted: []string{"README.md"}}
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"no source", Message{}, "Render config-root\n\nResources 1 added, 0 changed, 1 removed:\n- (other): 0 added, 0 changed, 1 removed\n- a: 1 added, 0 changed, 0 removed\n"},
		{"title and version", Message{Title: "  Deploy it \n", RenderedBy: "configroot v1"}, "Deploy it\n\nResources 1 added, 0 changed, 1 removed:\n- (other): 0 added, 0 changed, 1 removed\n- a: 1 added, 0 changed, 0 removed\n\nRendered-By: configroot v1\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.Format(c); got != tc.want {
				t.Errorf("Format:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	base := 100 * time.Millisecond
	for attempt := 1; attempt <= 12; attempt++ {
		want := base << (attempt - 1)
		if want > 30*base {
			want = 30 * base
		}
		seen := map[time.Duration]bool{}
		for range 50 {
			d := backoff(base, attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("attempt %d: no jitter: %v", attempt, seen)
		}
	}
}

func TestSyncTree(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string][]byte{
		"keep.yaml":       []byte("same\n"),
		"change.yaml":     []byte("old\n"),
		"gone/a/b.yaml":   []byte("x\n"),
		"dir-to-file/x":   []byte("x\n"),
		"file-to-dir":     []byte("x\n"),
		"stays/gone.yaml": []byte("x\n"),
		"stays/kept.yaml": []byte("x\n"),
	})
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "keep.yaml"), old, old); err != nil {
		t.Fatal(err)
	}
	want := render.Files{
		"keep.yaml":       []byte("same\n"),
		"change.yaml":     []byte("new\n"),
		"new/deep/n.yaml": []byte("n\n"),
		"dir-to-file":     []byte("f\n"),
		"file-to-dir/x":   []byte("d\n"),
		"stays/kept.yaml": []byte("x\n"),
	}
	if err := syncTree(osfs.New(dir), ".", want); err != nil {
		t.Fatal(err)
	}
	if d := testutil.DiffTrees(want, testutil.ReadTree(t, dir)); d != "" {
		t.Error(d)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Errorf("the emptied folder gone/ is still there (%v)", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "keep.yaml")); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("an unchanged file was rewritten")
	}
	mem := memfs.New()
	if err := syncTree(mem, "absent", render.Files{"a/b.yaml": []byte("b\n")}); err != nil {
		t.Errorf("sync into a missing folder: %v", err)
	}
	if err := syncTree(mem, "absent", render.Files{"a": []byte("a\n")}); err != nil {
		t.Errorf("sync in memory: %v", err)
	}
	if data, err := util.ReadFile(mem, "absent/a"); err != nil || string(data) != "a\n" {
		t.Errorf("in memory: %q %v", data, err)
	}
}

func TestCompare(t *testing.T) {
	old := render.Files{
		"namespaces/web/app/app-deploy.yaml": []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  labels: {a: b}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: c, image: v1}]\n"),
		"namespaces/web/app/app-svc.yaml":    []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: app\n"),
		"notes.txt":                          []byte("not yaml: [\n"),
	}
	new := render.Files{
		"namespaces/web/app/app-deploy.yaml": []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  labels: {a: c}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers: [{name: c, image: v2}]\n"),
		"cluster/namespaces/web.yaml":        []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"),
		"notes.txt":                          []byte("still not yaml: [\n"),
	}
	d := Compare(old, new)
	got, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "added": 1,
  "changed": 2,
  "removed": 1,
  "files": [
    {
      "path": "notes.txt",
      "change": "changed",
      "namespace": "(other)"
    },
    {
      "path": "cluster/namespaces/web.yaml",
      "change": "added",
      "namespace": "web",
      "apiVersion": "v1",
      "kind": "Namespace",
      "name": "web"
    },
    {
      "path": "namespaces/web/app/app-deploy.yaml",
      "change": "changed",
      "namespace": "web",
      "apiVersion": "apps/v1",
      "kind": "Deployment",
      "name": "app",
      "fields": [
        "metadata.labels.a",
        "spec.replicas",
        "spec.template.spec"
      ]
    },
    {
      "path": "namespaces/web/app/app-svc.yaml",
      "change": "removed",
      "namespace": "web",
      "apiVersion": "v1",
      "kind": "Service",
      "name": "app"
    }
  ]
}
`
	if string(got) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", got, want)
	}
	md := d.Markdown(0)
	wantMD := "**config-root**: 4 resources changed (1 added, 2 changed, 1 removed)\n" +
		"\n#### (other)\n\n- changed `notes.txt`\n" +
		"\n#### web\n\n- added `Namespace/web` (`cluster/namespaces/web.yaml`)\n" +
		"- changed `Deployment/app` (`namespaces/web/app/app-deploy.yaml`): `metadata.labels.a`, `spec.replicas`, `spec.template.spec`\n" +
		"- removed `Service/app` (`namespaces/web/app/app-svc.yaml`)\n"
	if md != wantMD {
		t.Errorf("Markdown:\n%s\nwant:\n%s", md, wantMD)
	}
	if !Compare(new, new).Empty() || !strings.Contains(Compare(new, new).Markdown(0), "up to date") {
		t.Errorf("identical renders differ")
	}
}

func TestMarkdownIsCappedForPullRequestComments(t *testing.T) {
	old, new := render.Files{}, render.Files{}
	const n = 5000
	for i := range n {
		p := fmt.Sprintf("namespaces/team-%03d/release-with-a-long-name/configmap-number-%05d-cm.yaml", i%40, i)
		old[p] = fmt.Appendf(nil, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  v: \"1\"\n", i)
		new[p] = fmt.Appendf(nil, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  v: \"2\"\n", i)
	}
	d := Compare(old, new)
	md := d.Markdown(MarkdownLimit)
	if len(md) > MarkdownLimit || utf8.RuneCountInString(md) > MarkdownLimit {
		t.Fatalf("Markdown is %d bytes, over %d", len(md), MarkdownLimit)
	}
	if len(md) < MarkdownLimit-500 {
		t.Errorf("Markdown is only %d bytes: cut too early", len(md))
	}
	shown := strings.Count(md, "\n- changed ")
	var more int
	lines := strings.Split(strings.TrimRight(md, "\n"), "\n")
	last := lines[len(lines)-1]
	if _, err := fmt.Sscanf(last, "… and %d more files not shown", &more); err != nil {
		t.Fatalf("last line %q: %v", last, err)
	}
	if shown+more != n || shown == 0 {
		t.Errorf("%d shown + %d more != %d", shown, more, n)
	}
	if !strings.HasSuffix(lines[len(lines)-3], ": `data.v`") {
		t.Errorf("the cut is not at a line boundary: %q", lines[len(lines)-3])
	}
	// Every limit keeps the promise, down to tiny ones.
	for _, limit := range []int{200, 1000, 4096, 65535} {
		if got := d.Markdown(limit); len(got) > limit || !strings.Contains(got, "more files not shown") {
			t.Errorf("limit %d: %d bytes", limit, len(got))
		}
	}
	// The JSON form is never cut.
	b, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Diff
	if err := json.Unmarshal(b, &back); err != nil || len(back.Files) != n {
		t.Errorf("JSON holds %d files (%v), want %d", len(back.Files), err, n)
	}
}

func TestReadSource(t *testing.T) {
	dir := t.TempDir()
	if s, err := ReadSource(dir); err != nil || s != (Source{}) {
		t.Errorf("outside git: %+v %v, want zero", s, err)
	}
	testutil.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	if s, err := ReadSource(dir); err != nil || s != (Source{}) {
		t.Errorf("no commit yet: %+v %v, want zero", s, err)
	}
	testutil.WriteFiles(t, dir, map[string][]byte{"sub/helmfile.yaml": []byte("releases: []\n")})
	testutil.Git(t, dir, "add", "--all")
	testutil.Git(t, dir, "commit", "--quiet", "-m", "x")
	testutil.Git(t, dir, "remote", "add", "origin", "https://bot:tok@example.com/org/cluster.git")
	head := testutil.Git(t, dir, "rev-parse", "HEAD")
	s, err := ReadSource(filepath.Join(dir, "sub"))
	if err != nil || s.Commit != head || s.Repository != "https://example.com/org/cluster.git" {
		t.Errorf("ReadSource = %+v %v, want %s and the redacted origin", s, err, head)
	}
}

func TestParseAuthor(t *testing.T) {
	a, err := ParseAuthor("Render Bot <bot@example.com>")
	if err != nil || a != (Author{"Render Bot", "bot@example.com"}) || a.String() != "Render Bot <bot@example.com>" {
		t.Errorf("ParseAuthor = %+v %v", a, err)
	}
	for _, bad := range []string{"", "bot@example.com", "Bot <nope>"} {
		if _, err := ParseAuthor(bad); err == nil {
			t.Errorf("ParseAuthor(%q) succeeded", bad)
		}
	}
}
