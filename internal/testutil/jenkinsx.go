package testutil

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// JenkinsXGitopsModule is the jx-gitops release whose own tests of `split`, `rename`,
// `helmfile move` and `namespace` the Jenkins X compatibility suite replays through
// configroot (Apache-2.0; its test data and tests are read from the module cache, never
// copied into this repo).
const JenkinsXGitopsModule = "github.com/jenkins-x-plugins/jx-gitops@v1.3.0"

// JenkinsXGitops returns the folder of JenkinsXGitopsModule, downloaded through the Go
// module proxy (or found in the module cache).
func JenkinsXGitops(t testing.TB) string {
	t.Helper()
	return GoModuleDir(t, JenkinsXGitopsModule)
}

var docsRow = regexp.MustCompile(`^\| (\d+) \|`)

// JenkinsXRow fails t unless row n of docs/jenkins-x.md (the table of configroot's
// deliberate departures from Jenkins X) mentions phrase, and returns "documented difference:
// docs/jenkins-x.md row <n>" for the test to log. When another row mentions phrase, the
// message names it, so renumbered rows are easy to follow.
func JenkinsXRow(t testing.TB, n int, phrase string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "docs", "jenkins-x.md")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := ""
	for _, line := range strings.Split(string(data), "\n") {
		m := docsRow.FindStringSubmatch(line)
		if m == nil || !strings.Contains(line, phrase) {
			continue
		}
		if row, _ := strconv.Atoi(m[1]); row == n {
			return "documented difference: docs/jenkins-x.md row " + m[1]
		}
		elsewhere = m[1]
	}
	if elsewhere != "" {
		t.Fatalf("%s: row %d does not mention %q, row %s does: renumber the test", p, n, phrase, elsewhere)
	}
	t.Fatalf("%s: no row mentions %q: a difference from Jenkins X must be documented", p, phrase)
	return ""
}
