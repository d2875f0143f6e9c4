package render

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestTemplateArgs(t *testing.T) {
	cases := []struct {
		name string
		o    TemplateOptions
		want string
	}{
		{"defaults", TemplateOptions{},
			`--file helmfile.yaml template --include-crds --skip-tests --kube-version ` + DefaultKubeVersion +
				` --output-dir-template /out/{{ or .Release.Namespace "default" }}/{{ .Release.Name }}`},
		{"every option", TemplateOptions{File: "hf/prod.yaml", Environment: "production", Selectors: []string{"tier=apps", "name=web"},
			Concurrency: 4, KubeVersion: "v1.33.1", HelmBinary: "/opt/helm", ExtraArgs: []string{"--skip-deps"}},
			`--file hf/prod.yaml --helm-binary /opt/helm --environment production --selector tier=apps --selector name=web template --include-crds --skip-tests --kube-version v1.33.1` +
				` --output-dir-template /out/{{ or .Release.Namespace "default" }}/{{ .Release.Name }} --concurrency 4 --skip-deps`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(TemplateArgs(tc.o, "/out/"), " "); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestExecErrorHidesSetValues(t *testing.T) {
	e := &ExecError{Name: "helmfile", Args: []string{"template", "--set", "db.password=hunter2", "--set-string=token=s3cr3t", "--state-values-set", "a=b"}, Err: errors.New("exit status 1")}
	got := e.Error()
	for _, secret := range []string{"hunter2", "s3cr3t", "a=b"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q leaks %q", got, secret)
		}
	}
	if want := "helmfile template --set *** --set-string=*** --state-values-set ***: exit status 1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExecRunnerFailure(t *testing.T) {
	err := ExecRunner{}.Run(t.Context(), Command{Dir: t.TempDir(), Name: "sh", Args: []string{"-c", "echo doing; echo broken >&2; exit 7"}}, nil, nil)
	var exit *ExecError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 || strings.TrimSpace(exit.Stderr) != "broken" {
		t.Fatalf("error %#v", err)
	}
	var execErr *exec.ExitError
	if !errors.As(err, &execErr) {
		t.Errorf("error does not unwrap to *exec.ExitError")
	}
	err = ExecRunner{}.Run(t.Context(), Command{Dir: t.TempDir(), Name: "/nonexistent/helmfile"}, nil, nil)
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("missing program: %v", err)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	var tb tailBuffer
	for i := 0; i < 2000; i++ {
		_, _ = tb.Write([]byte("line of progress output\n"))
	}
	_, _ = tb.Write([]byte("Error: the reason\n"))
	s := tb.String()
	if len(s) > tailSize+8 || !strings.HasSuffix(s, "Error: the reason\n") || !strings.HasPrefix(s, "…\n") {
		t.Errorf("tail of %d bytes: %q…", len(s), s[:40])
	}
}

func TestTemplateErrorWithoutHelmArgs(t *testing.T) {
	e := newTemplateError("helmfile.yaml", &ExecError{Name: "helmfile", Err: errors.New("exit status 1"),
		Stderr: "Adding repo stable\nin ./helmfile.yaml: environment \"prod\" is not defined\n"})
	if got, want := e.Error(), `helmfile template helmfile.yaml: environment "prod" is not defined`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if e.Release != "" {
		t.Errorf("release %q", e.Release)
	}
}
