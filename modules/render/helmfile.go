package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// DefaultKubeVersion is the Kubernetes version helm renders for when neither the flag nor
// the repo's configroot.yaml sets one. A helm built with `go install` assumes v1.20.0, which
// charts such as cert-manager refuse; an explicit version also keeps renders identical
// whichever helm build runs them.
const DefaultKubeVersion = "v1.37.0"

// OutputDirTemplate is the --output-dir-template helmfile gets, below outDir: one folder per
// release, <namespace>/<release>, with "default" for a release without a namespace.
func OutputDirTemplate(outDir string) string {
	return strings.TrimSuffix(outDir, "/") + `/{{ or .Release.Namespace "default" }}/{{ .Release.Name }}`
}

// TemplateOptions are the inputs of `helmfile template`.
type TemplateOptions struct {
	// File is the helmfile.yaml, relative to the working folder (default "helmfile.yaml").
	File string
	// Environment is helmfile's -e (empty: helmfile's default).
	Environment string
	// Selectors are helmfile's -l label selectors.
	Selectors []string
	// Concurrency bounds helm processes run at once (0: helmfile's default, unbounded).
	Concurrency int
	// KubeVersion is passed to helm as --kube-version; empty means DefaultKubeVersion.
	KubeVersion string
	// HelmBinary is the helm helmfile runs (empty: "helm" from PATH).
	HelmBinary string
	// ExtraArgs are appended to the template command as they are.
	ExtraArgs []string
}

// TemplateArgs returns the argument list of `helmfile template` (without the program name)
// writing one folder per release under outDir. The CLI and the Dagger function both run
// exactly this list, locally or in a container.
func TemplateArgs(o TemplateOptions, outDir string) []string {
	kube := o.KubeVersion
	if kube == "" {
		kube = DefaultKubeVersion
	}
	args := append(globalArgs(o), "template",
		"--include-crds",
		"--skip-tests",
		"--kube-version", kube,
		"--output-dir-template", OutputDirTemplate(outDir),
	)
	if o.Concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(o.Concurrency))
	}
	return append(args, o.ExtraArgs...)
}

// ListArgs returns the argument list of `helmfile list` (without the program name) that
// prints, as JSON, every release of the helmfile in o's environment with its labels,
// whether it renders anything or not: without selectors, since helmfile's own filtering
// drops a release whose `condition:` is false. --skip-charts: listing needs no chart.
func ListArgs(o TemplateOptions) []string {
	o.Selectors = nil
	return append(globalArgs(o), "list", "--skip-charts", "--output", "json")
}

// globalArgs are helmfile's flags that choose the releases: file, helm, environment and
// selectors.
func globalArgs(o TemplateOptions) []string {
	file := o.File
	if file == "" {
		file = "helmfile.yaml"
	}
	args := []string{"--file", file}
	if o.HelmBinary != "" {
		args = append(args, "--helm-binary", o.HelmBinary)
	}
	if o.Environment != "" {
		args = append(args, "--environment", o.Environment)
	}
	for _, s := range o.Selectors {
		args = append(args, "--selector", s)
	}
	return args
}

// Command is one program run: helmfile template, for configroot.
type Command struct {
	// Dir is the working folder: the cluster repo.
	Dir string
	// Name is the program.
	Name string
	// Args are its arguments.
	Args []string
	// Output is the folder the program writes its results to. A Runner that runs the program
	// elsewhere (in a container) copies it back to the same path.
	Output string
	// Env are variables ("NAME=value") set for the program, over the runner's own
	// environment.
	Env []string
	// Unset names variables of the runner's own environment the program must not see.
	Unset []string
}

// Runner runs a Command. ExecRunner runs it on this machine; the Dagger module runs the
// same Command in a container.
type Runner interface {
	// Run runs c, streaming its output to stdout and stderr (nil: discarded). A non-zero
	// exit is an *ExecError.
	Run(ctx context.Context, c Command, stdout, stderr io.Writer) error
}

// ExecRunner runs programs with os/exec.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// Run implements Runner. The returned *ExecError holds the tail of stderr.
func (ExecRunner) Run(ctx context.Context, c Command, stdout, stderr io.Writer) error {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	// exec copies stdout and stderr on two goroutines: one lock keeps a writer given for
	// both (the render's Log) from losing what they write at the same time.
	var mu sync.Mutex
	stdout, stderr = lockedWriter{&mu, stdout}, lockedWriter{&mu, stderr}
	var tail tailBuffer
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = Environ(os.Environ(), c.Env, c.Unset)
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, &tail)
	ownGroup(cmd)
	err := cmd.Run()
	if ctx.Err() != nil {
		reap(cmd)
	}
	if err != nil {
		code := -1
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
		return &ExecError{Name: c.Name, Args: c.Args, Code: code, Err: err, Stderr: tail.String()}
	}
	return nil
}

// lockedWriter serialises the writes of several writers that may share a destination.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TailStderr keeps the end of what a program writes to stderr, for an *ExecError.
func TailStderr(s string) string {
	var t tailBuffer
	_, _ = t.Write([]byte(s))
	return t.String()
}

// ExecError is a failed run of a program.
type ExecError struct {
	// Name is the program.
	Name string
	// Args are its arguments.
	Args []string
	// Code is the exit status, or -1 when the program did not run or was killed.
	Code int
	// Err is the exit error (or the error starting it).
	Err error
	// Stderr is the end of what the program wrote to stderr.
	Stderr string
}

// Error returns the command (with --set values hidden), the exit status and the stderr tail.
func (e *ExecError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Command(), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ":\n" + s
	}
	return msg
}

// ExitCode is the program's exit status, or -1 when it did not run or was killed.
func (e *ExecError) ExitCode() int { return e.Code }

// Unwrap returns the underlying error.
func (e *ExecError) Unwrap() error { return e.Err }

// Command is the command line, with the values of --set style flags replaced by "***" as
// they may carry secrets.
func (e *ExecError) Command() string {
	parts := []string{e.Name}
	hide := false
	for _, a := range e.Args {
		switch {
		case hide:
			parts = append(parts, "***")
			hide = false
		case isSetFlag(a):
			parts = append(parts, a)
			hide = true
		case strings.Contains(a, "=") && isSetFlag(a[:strings.IndexByte(a, '=')]):
			parts = append(parts, a[:strings.IndexByte(a, '=')+1]+"***")
		default:
			parts = append(parts, a)
		}
	}
	return strings.Join(parts, " ")
}

func isSetFlag(a string) bool {
	switch a {
	case "--set", "--set-string", "--set-file", "--set-json", "--set-literal", "--state-values-set", "--state-values-set-string", "--args":
		return true
	}
	return false
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct{ b []byte }

const tailSize = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailSize {
		t.b = t.b[len(t.b)-tailSize:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := string(bytes.ToValidUTF8(t.b, nil))
	if len(t.b) == tailSize {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = "…" + s[i:]
		}
	}
	return s
}
