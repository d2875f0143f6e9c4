package render

import (
	"fmt"
	"regexp"
	"strings"
)

// TemplateError is a failed `helmfile template`, summarised from helmfile's output: the
// release that failed (when helm failed) and the lines that say why. The full command and
// output stay available through Unwrap, and with --verbose on the terminal.
type TemplateError struct {
	// File is the helmfile.
	File string
	// Release is "<namespace>/<name>" of the release whose helm run failed, if known.
	Release string
	// Reason is helm's or helmfile's own error lines.
	Reason string
	// Err is the failed run.
	Err *ExecError
}

// Error returns "helmfile template FILE: release NS/NAME: REASON".
func (e *TemplateError) Error() string {
	msg := "helmfile template " + e.File
	if e.Release != "" {
		msg += ": release " + e.Release
	}
	return msg + ": " + e.Reason
}

// Unwrap returns the failed run.
func (e *TemplateError) Unwrap() error { return e.Err }

var (
	// helmArg matches helmfile's listing of the helm command it ran: "  2: base (4 bytes)".
	helmArg = regexp.MustCompile(`^\s*(\d+): (.*) \(\d+ bytes\)$`)
	// helmfileError matches helmfile's own error line: "in ./helmfile.yaml: …".
	helmfileError = regexp.MustCompile(`^in \S+: `)
)

// newTemplateError distils helmfile's stderr: helm's "Error:" lines with the release named
// by the failed helm command's arguments, or else helmfile's own "in <file>: …" line.
func newTemplateError(file string, exec *ExecError) *TemplateError {
	e := &TemplateError{File: file, Err: exec}
	var args []string
	var reasons []string
	seen := map[string]bool{}
	var helmfileLine string
	for _, line := range strings.Split(exec.Stderr, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case helmArg.MatchString(line):
			args = append(args, helmArg.FindStringSubmatch(line)[2])
		case strings.HasPrefix(trimmed, "Error: "):
			if r := strings.TrimPrefix(trimmed, "Error: "); !seen[r] {
				seen[r] = true
				reasons = append(reasons, r)
			}
		case helmfileLine == "" && helmfileError.MatchString(trimmed):
			helmfileLine = helmfileError.ReplaceAllString(trimmed, "")
		}
	}
	if len(args) > 2 && args[1] == "template" {
		ns := "default"
		for i := 3; i+1 < len(args); i++ {
			if args[i] == "--namespace" {
				ns = args[i+1]
			}
		}
		e.Release = ns + "/" + args[2]
	}
	switch {
	case len(reasons) > 0:
		e.Reason = strings.Join(reasons, "; ")
	case helmfileLine != "":
		e.Reason = helmfileLine
	default:
		// No line says why: the stderr tail stays out of the message (it may echo values);
		// -v shows it.
		e.Reason = fmt.Sprintf("%s failed (%v); run with -v to see its output", exec.Name, exec.Err)
	}
	return e
}
