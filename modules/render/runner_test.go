package render

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// remoteRunner stands for a runner that executes the command elsewhere (the Dagger module's
// container): it records the command and writes a rendered tree into c.Output, as the
// container's output copied back would be.
type remoteRunner struct {
	got  []Command
	tree map[string]string
}

func (r *remoteRunner) Run(_ context.Context, c Command, _, _ io.Writer) error {
	r.got = append(r.got, c)
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
