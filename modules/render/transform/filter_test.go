package transform_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/render/transform"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// readTree reads a laid-out config-root as Layout leaves it: every resource with its
// config-root path in kioutil.PathAnnotation.
func readTree(t testing.TB, dir string) []*yaml.RNode {
	t.Helper()
	nodes, err := (&kio.LocalPackageReader{PackagePath: dir, PreserveSeqIndent: false}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// writeTree encodes nodes as the render writes them and returns the files.
func writeTree(t testing.TB, nodes []*yaml.RNode) render.Files {
	t.Helper()
	files := render.Files{}
	if err := (render.FilesWriter{Files: files}).Write(nodes); err != nil {
		t.Fatal(err)
	}
	return files
}

func toDir(t testing.TB, files render.Files) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestJenkinsX applies `jenkinsX: true` to a laid-out Jenkins X cluster and compares the
// result with the golden tree; a second run over the result changes nothing.
func TestJenkinsX(t *testing.T) {
	f := transform.Filter{Config: transform.Config{JenkinsX: true}, Warn: func(w string) { t.Errorf("warning: %s", w) }}
	nodes, err := f.Filter(readTree(t, "testdata/jenkinsx/input"))
	if err != nil {
		t.Fatal(err)
	}
	got := toDir(t, writeTree(t, nodes))
	testutil.CompareGolden(t, "testdata/jenkinsx/expected", got, "go test ./modules/render/transform -run TestJenkinsX -update")

	again, err := f.Filter(readTree(t, got))
	if err != nil {
		t.Fatal(err)
	}
	if d := testutil.DiffTrees(testutil.ReadTree(t, got), writeTree(t, again)); d != "" {
		t.Errorf("a second run changed the result:\n%s", d)
	}
}

// TestSecretsUntouched checks that a Secret kept with data gets only metadata, that its
// data is byte-identical, and that no value reaches any other resource (the config hash
// reads ExternalSecrets, never Secrets).
func TestSecretsUntouched(t *testing.T) {
	const value = "secret-value-never-copied"
	const encoded = "c2VjcmV0LXZhbHVlLW5ldmVyLWNvcGllZA=="
	rules := []transform.Rule{
		{Labels: map[string]string{"everything": "labelled"}, Annotations: map[string]string{"example.com/all": "yes"}},
		{ConfigHash: "example.com/config-hash"},
		{PodTemplate: true, Labels: map[string]string{"pod": "labelled"}},
	}
	in := readTree(t, "testdata/jenkinsx/input")
	// Make the Secret with data a pod's configuration too: it must still count for nothing.
	for _, n := range in {
		if n.GetName() == "lighthouse-keeper" {
			_, err := n.Pipe(yaml.Lookup("spec", "template", "spec", "volumes"), yaml.Append(yaml.MustParse("name: oauth\nsecret:\n  secretName: lighthouse-oauth-token\n").YNode()))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	before := writeTree(t, readTree(t, "testdata/jenkinsx/input"))
	out, err := transform.Filter{Config: transform.Config{Rules: rules}}.Filter(in)
	if err != nil {
		t.Fatal(err)
	}
	files := writeTree(t, out)
	const secret = "namespaces/jx/lighthouse/lighthouse-oauth-token-secret.yaml"
	sec, err := yaml.Parse(string(files[secret]))
	if err != nil {
		t.Fatal(err)
	}
	if got := sec.GetLabels()["everything"]; got != "labelled" {
		t.Errorf("the Secret did not get the label: %q", got)
	}
	dataOf := func(b []byte) string {
		n, err := yaml.Parse(string(b))
		if err != nil {
			t.Fatal(err)
		}
		d, err := n.Pipe(yaml.Lookup("data"))
		if err != nil || d == nil {
			t.Fatalf("no data: %v", err)
		}
		return d.MustString()
	}
	if a, b := dataOf(before[secret]), dataOf(files[secret]); a != b {
		t.Errorf("the Secret's data changed:\n%s\n%s", a, b)
	}
	for p, data := range files {
		if p != secret && (bytes.Contains(data, []byte(encoded)) || bytes.Contains(data, []byte(value))) {
			t.Errorf("%s holds the Secret's value", p)
		}
	}
	// The keeper's hash is the same with or without the Secret volume: the Secret is not read.
	plain, err := transform.Filter{Config: transform.Config{Rules: rules}}.Filter(readTree(t, "testdata/jenkinsx/input"))
	if err != nil {
		t.Fatal(err)
	}
	const keeper = "namespaces/jx/lighthouse/lighthouse-keeper-deploy.yaml"
	if a, b := podAnnotation(t, files[keeper], "example.com/config-hash"), podAnnotation(t, writeTree(t, plain)[keeper], "example.com/config-hash"); a == "" || a != b {
		t.Errorf("the config hash depends on a Secret: %q vs %q", a, b)
	}
}

func podAnnotation(t testing.TB, data []byte, key string) string {
	t.Helper()
	n, err := yaml.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.Pipe(yaml.Lookup("spec", "template", "metadata", "annotations", key))
	if err != nil || v == nil {
		return ""
	}
	return v.YNode().Value
}

// TestConfigHash checks that a workload's hash changes exactly when a ConfigMap or
// ExternalSecret it uses changes, and not when anything else does.
func TestConfigHash(t *testing.T) {
	const key = "example.com/config-hash"
	cfg := transform.Config{Rules: []transform.Rule{{Match: transform.Match{Kinds: []string{"apps/Deployment"}}, ConfigHash: key}}}
	hashes := func(edit func(n *yaml.RNode)) map[string]string {
		t.Helper()
		nodes := readTree(t, "testdata/jenkinsx/input")
		for _, n := range nodes {
			edit(n)
		}
		out, err := transform.Filter{Config: cfg}.Filter(nodes)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for p, data := range writeTree(t, out) {
			if strings.HasSuffix(p, "-deploy.yaml") {
				got[p] = podAnnotation(t, data, key)
			}
		}
		return got
	}
	base := hashes(func(*yaml.RNode) {})
	const webhooks, keeper, wave = "namespaces/jx/lighthouse/lighthouse-webhooks-deploy.yaml", "namespaces/jx/lighthouse/lighthouse-keeper-deploy.yaml", "namespaces/jx/pusher-wave/pusher-wave-deploy.yaml"
	if base[webhooks] == "" || base[keeper] == "" || base[webhooks] == base[keeper] {
		t.Fatalf("want distinct hashes on the lighthouse Deployments: %v", base)
	}
	if base[wave] != "" {
		t.Errorf("pusher-wave references nothing but got a hash %q", base[wave])
	}
	set := func(name string, value string, path ...string) func(n *yaml.RNode) {
		return func(n *yaml.RNode) {
			if n.GetName() != name || n.GetKind() == "Namespace" {
				return
			}
			last := len(path) - 1
			if err := n.PipeE(yaml.LookupCreate(yaml.MappingNode, path[:last]...), yaml.SetField(path[last], yaml.NewStringRNode(value))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name    string
		edit    func(n *yaml.RNode)
		changed []string
	}{
		{"plugins ConfigMap data", set("plugins", "plugins: {}\n", "data", "plugins.yaml"), []string{webhooks, keeper}},
		{"config ConfigMap binaryData", set("config", "AAEC", "binaryData", "logo"), []string{webhooks, keeper}},
		{"ExternalSecret remote key", func(n *yaml.RNode) {
			if n.GetKind() == "ExternalSecret" {
				if err := n.PipeE(yaml.Lookup("spec", "refreshInterval"), yaml.Set(yaml.NewStringRNode("5m"))); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{webhooks}},
		{"ConfigMap label only", set("plugins", "x", "metadata", "labels", "team"), nil},
		{"Deployment label", set("lighthouse-webhooks", "2", "metadata", "labels", "version"), nil},
		{"ConfigMap moved to another namespace", func(n *yaml.RNode) {
			if n.GetName() == "plugins" {
				n.SetNamespace("nginx")
			}
		}, []string{webhooks, keeper}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := hashes(c.edit)
			for p, h := range got {
				want := base[p]
				changed := h != want
				if changed != contains(c.changed, p) {
					t.Errorf("%s: hash %s → %s, want changed=%v", p, want, h, !changed)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRules checks each selector and target on the Jenkins X tree.
func TestRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		rule  transform.Rule
		want  []string // config-root paths that get the label x=y (on the pod template with PodTemplate)
		warns []string
	}{
		{"trees", transform.Rule{Match: transform.Match{Trees: []string{"cluster/namespaces", "customresourcedefinitions"}}}, []string{
			"cluster/namespaces/jx.yaml", "cluster/namespaces/nginx.yaml",
			"customresourcedefinitions/jx/lighthouse/lighthousejobs.lighthouse.jenkins.io-crd.yaml",
		}, nil},
		{"kinds by group", transform.Rule{Match: transform.Match{Kinds: []string{"rbac.authorization.k8s.io/ClusterRole", "batch/*"}}}, []string{
			"cluster/resources/jx/lighthouse/lighthouse-clusterrole.yaml", "namespaces/jx/lighthouse/lighthouse-gc-jobs-cronjob.yaml",
		}, nil},
		{"namespaces and names", transform.Rule{Match: transform.Match{Namespaces: []string{"ngin?"}, Names: []string{"*-controller"}}}, []string{
			"namespaces/nginx/ingress-nginx/ingress-nginx-controller-deploy.yaml", "namespaces/nginx/ingress-nginx/ingress-nginx-controller-svc.yaml",
		}, nil},
		{"namespace of a Namespace object", transform.Rule{Match: transform.Match{Namespaces: []string{"nginx"}, Kinds: []string{"Namespace"}}}, []string{
			"cluster/namespaces/nginx.yaml",
		}, nil},
		{"release by name or folder", transform.Rule{Match: transform.Match{Releases: []string{"lighthouse-config", "pusher-*"}}}, []string{
			"namespaces/jx/lighthouse-config/config-cm.yaml", "namespaces/jx/lighthouse-config/plugins-cm.yaml", "namespaces/jx/pusher-wave/pusher-wave-deploy.yaml",
		}, nil},
		{"selector", transform.Rule{Match: transform.Match{Selector: "app in (pusher-wave, lighthouse-keeper)"}}, []string{
			"namespaces/jx/lighthouse/lighthouse-keeper-deploy.yaml", "namespaces/jx/pusher-wave/pusher-wave-deploy.yaml",
		}, nil},
		{"pod template", transform.Rule{Match: transform.Match{Namespaces: []string{"jx"}}, PodTemplate: true}, []string{
			"namespaces/jx/lighthouse/lighthouse-gc-jobs-cronjob.yaml", "namespaces/jx/lighthouse/lighthouse-keeper-deploy.yaml",
			"namespaces/jx/lighthouse/lighthouse-webhooks-deploy.yaml", "namespaces/jx/pusher-wave/pusher-wave-deploy.yaml",
		}, nil},
		{"matches nothing", transform.Rule{Match: transform.Match{Names: []string{"nothing-*"}}}, nil,
			[]string{"configroot.yaml:7: transforms.rules[0] matches no resource"}},
		{"no workload", transform.Rule{Match: transform.Match{Kinds: []string{"ConfigMap"}}, PodTemplate: true}, nil,
			[]string{"configroot.yaml:7: transforms.rules[0] matches 2 resources but no workload with a pod template"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.rule.Labels = map[string]string{"x": "y"}
			c.rule.Line = 7
			var warns []string
			f := transform.Filter{Config: transform.Config{File: "configroot.yaml", Rules: []transform.Rule{c.rule}}, Warn: func(w string) { warns = append(warns, w) }}
			out, err := f.Filter(readTree(t, "testdata/jenkinsx/input"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			files := writeTree(t, out)
			for _, p := range files.Paths() {
				n, err := yaml.Parse(string(files[p]))
				if err != nil {
					t.Fatal(err)
				}
				lookup := []string{"metadata", "labels", "x"}
				if c.rule.PodTemplate {
					lookup = append([]string{"spec", "template"}, lookup...)
					if n.GetKind() == "CronJob" {
						lookup = append([]string{"spec", "jobTemplate"}, lookup...)
					}
				}
				if v, _ := n.Pipe(yaml.Lookup(lookup...)); v != nil {
					got = append(got, p)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("labelled:\n got %q\nwant %q", got, c.want)
			}
			if len(warns) != len(c.warns) {
				t.Fatalf("warnings %q, want %q", warns, c.warns)
			}
			for i := range warns {
				if !strings.HasPrefix(warns[i], c.warns[i]) {
					t.Errorf("warning %q, want %q", warns[i], c.warns[i])
				}
			}
			// A partial render expects rules that match nothing: no warning.
			warns = nil
			f.Partial = true
			if _, err := f.Filter(readTree(t, "testdata/jenkinsx/input")); err != nil || len(warns) > 0 {
				t.Errorf("partial render: %v, warnings %q", err, warns)
			}
		})
	}
}

// TestNoPath checks that the transforms refuse resources that Layout has not placed.
func TestNoPath(t *testing.T) {
	n := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
	_, err := transform.Filter{Config: transform.Config{JenkinsX: true}}.Filter([]*yaml.RNode{n})
	if err == nil || !strings.Contains(err.Error(), "ConfigMap x has no config-root path: the transforms run after the layout") {
		t.Errorf("error = %v", err)
	}
}

// TestInvalidCodeConfig checks that a Config built in code is validated too.
func TestInvalidCodeConfig(t *testing.T) {
	cfg := transform.Config{File: "configroot.yaml", Rules: []transform.Rule{{Line: 4, Match: transform.Match{Kinds: []string{"deploy"}}, Labels: map[string]string{"a": "b"}}}}
	_, err := transform.Filter{Config: cfg}.Filter(readTree(t, "testdata/jenkinsx/input"))
	if err == nil || !strings.Contains(err.Error(), `configroot.yaml:4: transforms.rules[0].match.kinds[0]: "deploy" is not a kind`) {
		t.Errorf("error = %v", err)
	}
}

// TestJenkinsXMatchesJxGitops compares `jenkinsX: true` with what jx-gitops v1.3.0 itself
// made of the same tree when running the Makefile's post-build commands
// (testdata/jenkinsx/jx-gitops, regenerated by testdata/jenkinsx/jx-gitops.sh): the same
// labels and annotations, key for key and value for value, on every resource and pod
// template. Only the value of jenkins-x.io/hash differs (jx-gitops hashes the bytes of two
// files; configroot the content of what the pods mount): it must be on the same pod
// templates.
func TestJenkinsXMatchesJxGitops(t *testing.T) {
	out, err := transform.Filter{Config: transform.Config{JenkinsX: true}}.Filter(readTree(t, "testdata/jenkinsx/input"))
	if err != nil {
		t.Fatal(err)
	}
	ours := writeTree(t, out)
	theirs := testutil.ReadTree(t, "testdata/jenkinsx/jx-gitops")
	if len(ours) != len(theirs) {
		t.Fatalf("%d files, jx-gitops %d", len(ours), len(theirs))
	}
	maps := func(data []byte) map[string]map[string]string {
		n, err := yaml.Parse(string(data))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]string{}
		for _, at := range [][]string{{"metadata"}, {"spec", "template", "metadata"}, {"spec", "jobTemplate", "spec", "template", "metadata"}} {
			for _, field := range []string{"labels", "annotations"} {
				m, err := n.Pipe(yaml.Lookup(append(at, field)...))
				if err != nil || m == nil {
					continue
				}
				kv := map[string]string{}
				for i := 0; i+1 < len(m.YNode().Content); i += 2 {
					kv[m.YNode().Content[i].Value] = m.YNode().Content[i+1].Value
				}
				if v, ok := kv[transform.AnnotationJenkinsXHash]; ok && v != "" {
					kv[transform.AnnotationJenkinsXHash] = "<set>"
				}
				out[strings.Join(append(at, field), ".")] = kv
			}
		}
		return out
	}
	for p, data := range theirs {
		if got, want := maps(ours[p]), maps(data); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n configroot %v\n jx-gitops  %v", p, got, want)
		}
	}
}

// TestChartSubfolders checks files the layout keeps in the folders they had in their chart
// (charts/<subchart>/, templates/config/): they belong to their release folder's tree,
// namespace and release.
func TestChartSubfolders(t *testing.T) {
	var nodes []*yaml.RNode
	for _, p := range []string{
		"namespaces/apps/web/charts/db/db-deploy.yaml",
		"cluster/resources/apps/web/charts/db/db-clusterrole.yaml",
		"customresourcedefinitions/apps/web/charts/db/crds/dbs.example.com-crd.yaml",
	} {
		n := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
		if err := n.PipeE(yaml.SetAnnotation(kioutil.PathAnnotation, p)); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	var warns []string
	f := transform.Filter{Config: transform.Config{Rules: []transform.Rule{
		{Match: transform.Match{Namespaces: []string{"apps"}, Releases: []string{"web"}}, Labels: map[string]string{"release": "web"}},
	}}, Warn: func(w string) { warns = append(warns, w) }}
	out, err := f.Filter(nodes)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range out {
		if n.GetLabels()["release"] != "web" {
			t.Errorf("%s: not matched", n.GetAnnotations()[kioutil.PathAnnotation])
		}
	}
	if len(warns) > 0 {
		t.Errorf("warnings %q", warns)
	}
}
