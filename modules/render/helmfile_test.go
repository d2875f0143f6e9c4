package render

import (
	"bytes"
	"errors"
	"fmt"
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

// TestExecRunnerOneWriterForBoth checks that a writer given for stdout and stderr gets all
// of both: exec copies them on two goroutines.
func TestExecRunnerOneWriterForBoth(t *testing.T) {
	var log bytes.Buffer
	err := ExecRunner{}.Run(t.Context(), Command{Name: "sh", Args: []string{"-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"}}, &log, &log)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		for _, s := range []string{"out", "err"} {
			if !strings.Contains(log.String(), fmt.Sprintf("%s%d\n", s, i)) {
				t.Errorf("the log lost %s%d: %q", s, i, log.String())
			}
		}
	}
}

// TestTemplateErrorNamesWhatFailed feeds newTemplateError helmfile's stderr as helmfile
// v1.8.0 prints it (taken from real runs) and checks the one line it makes of it.
func TestTemplateErrorNamesWhatFailed(t *testing.T) {
	args := func(a ...string) string {
		var b strings.Builder
		b.WriteString("ARGS:\n")
		for i, s := range a {
			fmt.Fprintf(&b, "  %d: %s (%d bytes)\n", i, s, len(s))
		}
		return b.String()
	}
	cases := []struct {
		name, stderr string
		listed       []listedRelease
		want         string
	}{
		{
			name: "helm 4 template error on several lines",
			stderr: "in ./helmfile.yaml: command \"helm\" exited with non-zero status:\n\n" +
				args("helm", "template", "base", "/repo/charts/platform", "--namespace", "platform") +
				"\nSTDERR:\n  Error: platform/templates/broken.yaml:4:18\n    executing \"platform/templates/broken.yaml\" at <.Values.nothing.here>:\n      nil pointer evaluating interface {}.here\n\n  Use --debug flag to render out invalid YAML\n",
			want: `helmfile template helmfile.yaml: release platform/base: platform/templates/broken.yaml:4:18: executing "platform/templates/broken.yaml" at <.Values.nothing.here>: nil pointer evaluating interface {}.here`,
		},
		{
			name: "remote chart version missing",
			stderr: "in ./helmfile.yaml: command \"helm\" exited with non-zero status:\n\n" +
				args("helm", "template", "certs", "charts/cert-manager", "--version", "v9.9.9", "--namespace", "cert-manager") +
				"\nSTDERR:\n  Error: chart \"cert-manager\" matching v9.9.9 not found in charts index.\n",
			want: `helmfile template helmfile.yaml: release cert-manager/certs, chart charts/cert-manager version v9.9.9: chart "cert-manager" matching v9.9.9 not found in charts index.`,
		},
		{
			name: "chart repository refuses the credentials",
			stderr: "Adding repo private http://127.0.0.1:1\nin ./helmfile.yaml: command \"helm\" exited with non-zero status:\n\n" +
				args("helm", "repo", "add", "private", "http://127.0.0.1:1", "--force-update", "--username", "bot", "--password-stdin") +
				"\nSTDERR:\n  Error: looks like \"http://127.0.0.1:1\" is not a valid chart repository or cannot be reached: failed to fetch http://127.0.0.1:1/index.yaml : 401 Unauthorized\n",
			listed: []listedRelease{{Name: "a", Namespace: "x", Chart: "private/a"}, {Name: "b", Chart: "other/b"}, {Name: "c", Chart: "private/c"}},
			want:   `helmfile template helmfile.yaml: chart repository private (http://127.0.0.1:1), used by releases default/c, x/a: looks like "http://127.0.0.1:1" is not a valid chart repository or cannot be reached: failed to fetch http://127.0.0.1:1/index.yaml : 401 Unauthorized`,
		},
		{
			name: "OCI registry login",
			stderr: "Logging in to registry\nin ./helmfile.yaml: command \"helm\" exited with non-zero status:\n\n" +
				args("helm", "registry", "login", "reg.example.com", "--username", "bot", "--password-stdin") +
				"\nSTDERR:\n  Error: authenticating to \"reg.example.com\": response status code 401\n",
			listed: []listedRelease{{Name: "a", Namespace: "x", Chart: "oci://reg.example.com/charts/a"}},
			want:   `helmfile template helmfile.yaml: OCI registry reg.example.com (login as bot), used by release x/a: authenticating to "reg.example.com": response status code 401`,
		},
		{
			name: "OCI pull of one release, errors joined by helmfile",
			stderr: "in ./helmfile.yaml: [release \"certs\": command \"helm\" exited with non-zero status:\n\n" +
				args("helm", "pull", "oci://reg/charts/cert-manager", "--destination", "/tmp/x", "--untar", "--version", "v9") +
				"\nSTDERR:\n  Error: failed to perform \"FetchReference\" on source: reg/charts/cert-manager:v9: not found\n\nCOMBINED OUTPUT:\n  Error: failed to perform \"FetchReference\" on source: reg/charts/cert-manager:v9: not found]\n",
			listed: []listedRelease{{Name: "certs", Namespace: "cert-manager", Chart: "oci://reg/charts/cert-manager"}},
			want:   `helmfile template helmfile.yaml: release cert-manager/certs, chart oci://reg/charts/cert-manager version v9: failed to perform "FetchReference" on source: reg/charts/cert-manager:v9: not found`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTemplateError("helmfile.yaml", &ExecError{Name: "helmfile", Err: errors.New("exit status 1"), Stderr: tc.stderr})
			e.fillReleases(tc.listed)
			if got := e.Error(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
