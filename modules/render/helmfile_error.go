package render

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// TemplateError is a failed `helmfile template`, summarised from helmfile's output: what
// failed (a release's helm run, a chart repository, an OCI registry login, a chart pull)
// and the lines that say why, on one line. The full command and output stay available
// through Unwrap, and with --verbose on the terminal.
type TemplateError struct {
	// File is the helmfile.
	File string
	// Release is "<namespace>/<name>" of the release whose helm run failed, if known.
	Release string
	// Chart and Version are the chart reference and version helm was fetching or
	// rendering, if known.
	Chart, Version string
	// Repository and URL name the chart repository `helm repo add` failed on.
	Repository, URL string
	// Registry and Username name the OCI registry `helm registry login` failed on (never
	// the password: helmfile passes it on stdin).
	Registry, Username string
	// Releases lists "<namespace>/<name>" of the releases that take their chart from
	// Repository or Registry, when configroot could list them.
	Releases []string
	// Reason is helm's or helmfile's own error lines.
	Reason string
	// Err is the failed run.
	Err *ExecError
}

// Error returns "helmfile template FILE: WHAT: REASON" on one line, WHAT naming the
// release (with its chart and version), the repository (with its URL and the releases using
// it) or the registry that failed.
func (e *TemplateError) Error() string {
	var parts []string
	switch {
	case e.Repository != "":
		parts = append(parts, fmt.Sprintf("chart repository %s (%s)%s", e.Repository, e.URL, usedBy(e.Releases)))
	case e.Registry != "":
		parts = append(parts, fmt.Sprintf("OCI registry %s (login as %s)%s", e.Registry, e.Username, usedBy(e.Releases)))
	case e.Release != "":
		parts = append(parts, "release "+e.Release)
	}
	if e.Chart != "" {
		chart := "chart " + e.Chart
		if e.Version != "" {
			chart += " version " + e.Version
		}
		parts = append(parts, chart)
	}
	msg := "helmfile template " + e.File
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ", ")
	}
	return msg + ": " + e.Reason
}

func usedBy(releases []string) string {
	if len(releases) == 0 {
		return ""
	}
	word := "release"
	if len(releases) > 1 {
		word = "releases"
	}
	return ", used by " + word + " " + strings.Join(releases, ", ")
}

// Unwrap returns the failed run.
func (e *TemplateError) Unwrap() error { return e.Err }

var (
	// helmArg matches helmfile's listing of the helm command it ran: "  2: base (4 bytes)".
	helmArg = regexp.MustCompile(`^\s*(\d+): (.*) \(\d+ bytes\)$`)
	// helmfileError matches helmfile's own error line: "in ./helmfile.yaml: …".
	helmfileError = regexp.MustCompile(`^in \S+: `)
	// releasePrefix matches helmfile's naming of the release a chart preparation failed
	// for: `[release "certs": command …`.
	releasePrefix = regexp.MustCompile(`^\[?release "([^"]+)": `)
)

// newTemplateError distils helmfile's stderr: helm's "Error:" lines, with what failed
// named by the failed helm command's arguments (template, repo add, registry login, pull),
// or else helmfile's own "in <file>: …" line.
func newTemplateError(file string, exec *ExecError) *TemplateError {
	e := &TemplateError{File: file, Err: exec}
	var args []string
	var reasons []string
	seen := map[string]bool{}
	var helmfileLine, releaseName string
	lines := strings.Split(exec.Stderr, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case helmArg.MatchString(line):
			args = append(args, helmArg.FindStringSubmatch(line)[2])
		case strings.HasPrefix(trimmed, "Error: "):
			// helm 4 continues an error on more indented lines:
			//   Error: chart/templates/x.yaml:4:18
			//     executing "chart/templates/x.yaml" at <.Values.a.b>:
			//       nil pointer evaluating interface {}.b
			r := strings.TrimPrefix(trimmed, "Error: ")
			for indent := indentOf(line); i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" && indentOf(lines[i+1]) > indent; i++ {
				r = strings.TrimSuffix(r, ":") + ": " + strings.TrimSpace(lines[i+1])
			}
			// helmfile joins the errors of several releases as "[a; b]".
			r = strings.TrimSuffix(r, "]")
			if !seen[r] {
				seen[r] = true
				reasons = append(reasons, r)
			}
		case helmfileLine == "" && helmfileError.MatchString(trimmed):
			helmfileLine = helmfileError.ReplaceAllString(trimmed, "")
			if m := releasePrefix.FindStringSubmatch(helmfileLine); m != nil {
				releaseName = m[1]
			}
		}
	}
	e.describe(args, releaseName)
	if e.Chart != "" && !strings.HasPrefix(e.Chart, "oci://") {
		// helmfile passes a local chart as a path relative to the helmfile: not worth naming.
		if _, err := os.Stat(filepath.Join(filepath.Dir(file), e.Chart)); err == nil {
			e.Chart, e.Version = "", ""
		}
	}
	switch {
	case len(reasons) > 0:
		e.Reason = strings.Join(reasons, "; ")
	case helmfileLine != "":
		e.Reason = strings.TrimSuffix(helmfileLine, "]")
	default:
		// No line says why: the stderr tail stays out of the message (it may echo values);
		// -v shows it.
		e.Reason = fmt.Sprintf("%s failed (%v); run with -v to see its output", exec.Name, exec.Err)
	}
	return e
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " \t")) }

// describe reads what failed from the arguments of the helm command helmfile ran (args[0]
// is helm itself) and the release helmfile named.
func (e *TemplateError) describe(args []string, releaseName string) {
	flag := func(name string) string {
		for i := 1; i+1 < len(args); i++ {
			if args[i] == name {
				return args[i+1]
			}
		}
		return ""
	}
	sub := func(words ...string) bool {
		if len(args) < len(words)+1 {
			return false
		}
		for i, w := range words {
			if args[i+1] != w {
				return false
			}
		}
		return true
	}
	switch {
	case sub("template") && len(args) > 3:
		ns := flag("--namespace")
		if ns == "" {
			ns = HermeticNamespace
		}
		e.Release = ns + "/" + args[2]
		if c := args[3]; !filepath.IsAbs(c) && !strings.HasPrefix(c, "./") && !strings.HasPrefix(c, "../") {
			e.Chart, e.Version = c, flag("--version")
		}
	case sub("repo", "add") && len(args) > 4:
		e.Repository, e.URL = args[3], args[4]
	case sub("registry", "login") && len(args) > 3:
		e.Registry, e.Username = args[3], flag("--username")
	case sub("pull") && len(args) > 2:
		e.Chart, e.Version = args[2], flag("--version")
		if releaseName != "" {
			e.Release = releaseName
		}
	}
}

// fillReleases completes e with the releases involved, from listed (helmfile list): those
// that take their chart from the failed repository or registry, or the namespace of the
// release named without one.
func (e *TemplateError) fillReleases(listed []listedRelease) {
	var names []string
	for _, l := range listed {
		ns := l.Namespace
		if ns == "" {
			ns = HermeticNamespace
		}
		id := ns + "/" + l.Name
		switch {
		case e.Repository != "" && strings.HasPrefix(l.Chart, e.Repository+"/"):
			names = append(names, id)
		case e.Registry != "" && strings.HasPrefix(l.Chart, "oci://"+e.Registry+"/"):
			names = append(names, id)
		case e.Repository == "" && e.Registry == "" && e.Release == l.Name:
			e.Release = id
		}
	}
	sort.Strings(names)
	e.Releases = names
}
