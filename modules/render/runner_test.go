package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// remoteRunner stands for a runner that executes the command elsewhere (the Dagger module's
// container): it records the command and writes a rendered tree into c.Output, as the
// container's output copied back would be.
type remoteRunner struct {
	got  []Command
	tree map[string]string
	// listed are releases ("<namespace>/<name>/<chart>") helmfile list prints besides those
	// of tree: selected releases that render nothing.
	listed []string
	// noMatch makes helmfile list exit with status 3, as helmfile does when no release
	// matches.
	noMatch bool
}

func (r *remoteRunner) Run(_ context.Context, c Command, stdout, _ io.Writer) error {
	r.got = append(r.got, c)
	if slices.Contains(c.Args, "list") {
		// helmfile list --output json: the releases of the tree, as helmfile prints them.
		if r.noMatch {
			return &ExecError{Name: c.Name, Args: c.Args, Code: 3, Err: errors.New("exit status 3"),
				Stderr: "err: no releases found that matches specified selector(app=typo) and environment(default), in any helmfile\n"}
		}
		seen := map[string]bool{}
		var listed []string
		for _, p := range append(slices.Collect(maps.Keys(r.tree)), r.listed...) {
			parts := strings.SplitN(p, "/", 4)
			if !seen[parts[0]+"/"+parts[1]] {
				seen[parts[0]+"/"+parts[1]] = true
				listed = append(listed, fmt.Sprintf(`{"name":%q,"namespace":%q,"enabled":true,"installed":true,"labels":"app:%s,chart:%s,name:%s,namespace:%s","chart":"./charts/%s","version":""}`,
					parts[1], parts[0], parts[1], parts[2], parts[1], parts[0], parts[2]))
			}
		}
		sort.Strings(listed)
		_, err := io.WriteString(stdout, "["+strings.Join(listed, ",")+"]\n")
		return err
	}
	for p, data := range r.tree {
		file := filepath.Join(c.Output, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TestRenderHandsTheRunnerTheCLICommand checks what a Runner gets: the repo as working
// folder, exactly TemplateArgs (with configroot.yaml's settings) and the folder the
// --output-dir-template writes to, whose content is then laid out.
func TestRenderHandsTheRunnerTheCLICommand(t *testing.T) {
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, ConfigFile), []byte("helmfile: hf.yaml\nkubeVersion: v1.31.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runner := &remoteRunner{tree: map[string]string{"apps/web/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"}}
	res, err := Render(t.Context(), Options{
		Source: repo, Runner: runner, Helmfile: "/usr/bin/helmfile",
		Template: TemplateOptions{Environment: "prod", Concurrency: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(runner.got) != 1 {
		t.Fatalf("%d runs", len(runner.got))
	}
	c := runner.got[0]
	want := TemplateArgs(TemplateOptions{File: "hf.yaml", Environment: "prod", Concurrency: 2, KubeVersion: "v1.31.4"}, c.Output)
	if c.Dir != repo || c.Name != "/usr/bin/helmfile" || strings.Join(c.Args, " ") != strings.Join(want, " ") {
		t.Errorf("command %+v\nwant args %v", c, want)
	}
	if !strings.Contains(strings.Join(c.Args, " "), "--output-dir-template "+c.Output+"/{{") {
		t.Errorf("the output folder %s is not where helmfile writes: %v", c.Output, c.Args)
	}
	if _, err := os.Stat(c.Output); !os.IsNotExist(err) {
		t.Errorf("the temporary output %s was not removed (%v)", c.Output, err)
	}
	if res.Resources != 2 { // the ConfigMap and its Namespace
		t.Errorf("%d files", res.Resources)
	}
}

func TestRenderRefusesReleasesSharingAFolder(t *testing.T) {
	runner := &remoteRunner{tree: map[string]string{
		"apps/foo/bar/templates/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"apps/bar-foo/bar/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n",
	}}
	out := filepath.Join(t.TempDir(), "config-root")
	_, err := Render(t.Context(), Options{Source: t.TempDir(), Output: out, Runner: runner})
	if err == nil || !strings.Contains(err.Error(), `releases apps/bar-foo (chart "bar") and apps/foo (chart "bar") would share the config-root folder apps/bar-foo`) {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("config-root was written")
	}
}

// TestPartialRender renders all releases, then one selected release whose chart changed,
// and checks that the result equals what a full render would give: the selected release's
// files replaced (also those it puts in another namespace), the others' kept, and kinds
// whose CRD belongs to an unselected release still placed as cluster-scoped.
func TestPartialRender(t *testing.T) {
	crdRel := map[string]string{
		"ops/crds/crds/crds/foo.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: foos.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: Foo}}\n",
	}
	inst := func(role string) map[string]string {
		return map[string]string{
			"ops/inst/inst/templates/all.yaml": "apiVersion: example.com/v1\nkind: Foo\nmetadata: {name: f}\n---\n" +
				"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: " + role + ", namespace: kube-system}\n---\n" +
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
		}
	}
	all := func(role string) map[string]string {
		m := inst(role)
		for k, v := range crdRel {
			m[k] = v
		}
		return m
	}
	repo := t.TempDir()
	out := filepath.Join(t.TempDir(), "config-root")
	render := func(tree map[string]string, selectors ...string) Files {
		t.Helper()
		if _, err := Render(t.Context(), Options{Source: repo, Output: out, Runner: &remoteRunner{tree: tree},
			Template: TemplateOptions{Selectors: selectors}}); err != nil {
			t.Fatal(err)
		}
		files, err := ReadFiles(out)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	render(all("leader"))
	partial := render(inst("leader-v2"), "name=inst")

	want := t.TempDir()
	if _, err := Render(t.Context(), Options{Source: repo, Output: filepath.Join(want, "config-root"), Runner: &remoteRunner{tree: all("leader-v2")}}); err != nil {
		t.Fatal(err)
	}
	full, err := ReadFiles(filepath.Join(want, "config-root"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(partial.Paths(), "\n"), strings.Join(full.Paths(), "\n"); got != want {
		t.Errorf("partial render:\n%s\nwant (full render):\n%s", got, want)
	}
	for p, data := range full {
		if string(partial[p]) != string(data) {
			t.Errorf("%s differs from the full render", p)
		}
	}
}

// TestPartialRenderOfAReleaseThatRendersNothing renders a release that the selector still
// matches but that renders nothing now (disabled): its files, and the Namespace only it
// used, go, exactly as in a full render; a selector matching no release is an error that
// changes nothing.
func TestPartialRenderOfAReleaseThatRendersNothing(t *testing.T) {
	keep := map[string]string{
		"ops/crds/crds/crds/foo.yaml":     "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: foos.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: Foo}}\n",
		"web/site/site/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site}\n",
	}
	all := maps.Clone(keep)
	all["jx/lighthouse/lighthouse/templates/all.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: lighthouse}\n---\n" +
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: lighthouse}\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elsewhere, namespace: web}\n"
	repo := t.TempDir()
	out := filepath.Join(t.TempDir(), "config-root")
	if _, err := Render(t.Context(), Options{Source: repo, Output: out, Runner: &remoteRunner{tree: all}}); err != nil {
		t.Fatal(err)
	}
	before, err := ReadFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"namespaces/jx/lighthouse/lighthouse-deploy.yaml", "cluster/namespaces/jx.yaml", "namespaces/web/lighthouse/elsewhere-cm.yaml"} {
		if _, ok := before[p]; !ok {
			t.Fatalf("the first render has no %s: %v", p, before.Paths())
		}
	}

	// A selector that matches nothing: an error, with or without AllowEmpty.
	for _, allow := range []bool{false, true} {
		_, err := Render(t.Context(), Options{Source: repo, Output: out, AllowEmpty: allow,
			Runner: &remoteRunner{noMatch: true}, Template: TemplateOptions{Selectors: []string{"app=typo"}}})
		if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "helmfile.yaml (environment default, selectors app=typo)") {
			t.Errorf("allow-empty %v: error %v, want ErrNoMatch naming the file and selectors", allow, err)
		}
		if after, _ := ReadFiles(out); len(after) != len(before) {
			t.Errorf("a failed render changed config-root")
		}
	}

	// lighthouse is disabled: the selector still matches it, helmfile renders nothing.
	res, err := Render(t.Context(), Options{Source: repo, Output: out,
		Runner:   &remoteRunner{listed: []string{"jx/lighthouse/lighthouse"}},
		Template: TemplateOptions{Selectors: []string{"app=lighthouse"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files.Removed != 4 || res.Files.Written() != 0 {
		t.Errorf("stats %+v, want 4 files removed (its 3 resources and the jx Namespace) and none written", res.Files)
	}
	partial, err := ReadFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	wantDir := filepath.Join(t.TempDir(), "config-root")
	if _, err := Render(t.Context(), Options{Source: repo, Output: wantDir, Runner: &remoteRunner{tree: keep}}); err != nil {
		t.Fatal(err)
	}
	full, err := ReadFiles(wantDir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(partial.Paths(), "\n"), strings.Join(full.Paths(), "\n"); got != want {
		t.Errorf("partial render:\n%s\nwant (full render without lighthouse):\n%s", got, want)
	}
	for p, data := range full {
		if string(partial[p]) != string(data) {
			t.Errorf("%s differs from the full render", p)
		}
	}
}

// TestMatchSelectors checks configroot's reading of helmfile selectors against helmfile's
// own rules (pkg/state/release_filters.go: ParseLabels, LabelFilter.Match).
func TestMatchSelectors(t *testing.T) {
	labels := map[string]string{"name": "lighthouse", "namespace": "jx", "app": "lighthouse", "tier": ""}
	cases := []struct {
		selectors []string
		want      bool
	}{
		{[]string{"app=lighthouse"}, true},
		{[]string{"app=other"}, false},
		{[]string{"app=lighthouse,namespace=jx"}, true},
		{[]string{"app=lighthouse,namespace=nginx"}, false},
		{[]string{"app=other", "name=lighthouse"}, true}, // several selectors: any
		{[]string{"app!=other"}, true},
		{[]string{"app!=lighthouse"}, false},
		{[]string{"missing!=x"}, true}, // helmfile: an absent label is not equal
		{[]string{"missing=x"}, false},
		{[]string{"tier="}, true},
	}
	for _, tc := range cases {
		got, err := matchSelectors(labels, tc.selectors)
		if err != nil || got != tc.want {
			t.Errorf("%v: %v (%v), want %v", tc.selectors, got, err, tc.want)
		}
	}
	if _, err := matchSelectors(labels, []string{"app"}); err == nil || !strings.Contains(err.Error(), `malformed selector "app"`) {
		t.Errorf("a malformed selector: %v", err)
	}
}

// TestExecRunnerCancelStopsTheGroup: cancelling a render stops what helmfile started, not
// helmfile alone (a helm left running would go on writing rendered Secrets into a folder
// the render removed). The command stands for helmfile: a shell that starts a child (helm)
// and waits for it.
func TestExecRunnerCancelStopsTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ExecRunner{}.Run(ctx, Command{Dir: dir, Name: "sh", Args: []string{"-c", "sleep 120 & echo $! > " + pidFile + "; wait"}}, nil, nil)
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the command did not start its child")
		}
		if data, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(data), "\n") {
			fmt.Sscan(string(data), &pid)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled command reported success")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled command did not return")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child (pid %d) still runs after the render was cancelled", pid)
		}
	}
}
