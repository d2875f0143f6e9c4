package testutil

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// GitServer is a real git smart-HTTP server for tests: git's own git-http-backend behind
// net/http/cgi, on 127.0.0.1, with HTTP basic auth. Repositories are bare folders under
// Root; NewBareRepo creates them with pushes enabled.
type GitServer struct {
	// Root is GIT_PROJECT_ROOT: the folder holding the bare repositories.
	Root string
	// User and Token are the only credentials the server accepts.
	User, Token string

	srv       *httptest.Server
	closeOnce sync.Once

	mu        sync.Mutex
	intercept func(http.ResponseWriter, *http.Request) bool
	requests  []string
}

// NewGitServer starts a GitServer on 127.0.0.1 accepting user and token, stopped by
// t.Cleanup.
func NewGitServer(t testing.TB, user, token string) *GitServer {
	t.Helper()
	return NewGitServerAt(t, "127.0.0.1", user, token)
}

// NewGitServerAt is NewGitServer listening on host (an IP address of this machine, on a
// free port): the Dagger end-to-end test serves the engine's containers this way.
func NewGitServerAt(t testing.TB, host, user, token string) *GitServer {
	t.Helper()
	backend := filepath.Join(Git(t, "", "--exec-path"), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git-http-backend not found: %v", err)
	}
	s := &GitServer{Root: t.TempDir(), User: user, Token: token}
	cgiHandler := &cgi.Handler{
		Path: backend,
		Env: append(gitEnv(),
			"GIT_PROJECT_ROOT="+s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
		),
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.User)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		intercept := s.intercept
		s.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		cgiHandler.ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("git server: %v", err)
	}
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	t.Cleanup(s.Close)
	return s
}

// URL returns the clone URL of the bare repository name (a folder under Root).
func (s *GitServer) URL(name string) string { return s.srv.URL + "/" + name }

// Close stops the server and closes every open connection; safe to call twice, and from
// a goroutine started by a handler (not from the handler itself: Close waits for it).
func (s *GitServer) Close() {
	s.closeOnce.Do(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Intercept installs f in front of git-http-backend: when f returns true it has answered
// the (authenticated) request itself. nil removes it.
func (s *GitServer) Intercept(f func(http.ResponseWriter, *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = f
}

// Requests returns the authenticated requests served so far, as "METHOD /path".
func (s *GitServer) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// NewBareRepo creates the bare repository Root/name with http.receivepack enabled, and,
// when files is not empty, one commit on branch holding files (slash paths relative to the
// repo root). It returns the repository folder.
func (s *GitServer) NewBareRepo(t testing.TB, name, branch string, files map[string][]byte) string {
	t.Helper()
	return NewBareRepo(t, filepath.Join(s.Root, name), branch, files)
}

// NewBareRepo creates the bare repository dir with http.receivepack enabled and, when files
// is not empty, one commit on branch holding files. It returns dir.
func NewBareRepo(t testing.TB, dir, branch string, files map[string][]byte) string {
	t.Helper()
	Git(t, "", "init", "--quiet", "--bare", "--initial-branch="+branch, dir)
	Git(t, dir, "config", "http.receivepack", "true")
	if len(files) == 0 {
		return dir
	}
	work := t.TempDir()
	Git(t, work, "init", "--quiet", "--initial-branch="+branch)
	WriteFiles(t, work, files)
	Git(t, work, "add", "--all")
	Git(t, work, "commit", "--quiet", "-m", "initial")
	Git(t, work, "push", "--quiet", dir, branch)
	return dir
}

// WriteFiles writes files (slash paths) under dir.
func WriteFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Git runs the machine's git in dir (none: the current folder) with a fixed identity and no
// user or system configuration, and returns its trimmed stdout; it fails t on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GitOutput(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// GitOutput is Git returning the error (with git's stderr) instead of failing a test.
func GitOutput(dir string, args ...string) (string, error) {
	out, err := GitRaw(dir, args...)
	return strings.TrimSpace(out), err
}

// GitRaw is GitOutput without trimming the output.
func GitRaw(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitEnv()...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &gitError{err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return string(out), nil
}

type gitError struct {
	err    error
	stderr string
}

func (e *gitError) Error() string { return e.err.Error() + ": " + e.stderr }
func (e *gitError) Unwrap() error { return e.err }

// gitEnv isolates git from the machine's configuration and fixes its identity and dates'
// author, so that test repositories do not depend on who runs them.
func gitEnv() []string {
	return []string{
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_TERMINAL_PROMPT=0",
	}
}
