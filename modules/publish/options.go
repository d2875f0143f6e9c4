package publish

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"path"
	"strings"
	"time"

	"github.com/configroot/configroot/modules/render"
)

// Defaults of Options.
const (
	DefaultBranch  = "main"
	DefaultPath    = "config-root"
	DefaultTimeout = 2 * time.Minute
	DefaultRetries = 5
	DefaultBackoff = time.Second
)

// DefaultAuthor signs commits when Options.Author is not set.
var DefaultAuthor = Author{Name: "configroot", Email: "configroot@users.noreply.github.com"}

// Options configure Open and Publish.
type Options struct {
	// URL is the cluster repo: an http(s) URL, or the path of a local repository (it is
	// cloned too, and pushed to; a non-bare one must not have the branch checked out).
	// Required.
	URL string
	// Branch is the branch published to (default DefaultBranch). It must exist.
	Branch string
	// PullRequestBranch, when set, is pushed instead of Branch: it is created from Branch
	// when the remote does not have it, and otherwise gets a new commit on top of its head.
	PullRequestBranch string
	// Credentials authenticate to an http(s) URL (nil: anonymous).
	Credentials *Credentials
	// Path is the folder of the repo replaced by Files (default DefaultPath).
	Path string
	// Files is the new content of Path: every file, by slash path relative to Path.
	Files render.Files
	// AllowEmpty lets an empty Files remove everything under Path.
	AllowEmpty bool
	// Message describes the commit.
	Message Message
	// Author signs the commit, as author and committer (default DefaultAuthor).
	Author Author
	// Timeout bounds every git network operation: clone, fetch, list and push (default
	// DefaultTimeout).
	Timeout time.Duration
	// Retries bounds how many times a push rejected because the branch moved is retried
	// (default DefaultRetries; negative: none).
	Retries int
	// Backoff is the wait before the first retry; it doubles at each retry, up to 30 times
	// Backoff, and is jittered between half and all of it (default DefaultBackoff).
	Backoff time.Duration
	// Dir is the folder the clone's git objects and index go to (a bare layout; the
	// worktree is held in memory); it must not exist or be empty (default: a temporary
	// folder, removed by Close).
	Dir string
	// Progress receives one line per step (default: discarded).
	Progress io.Writer
	// Log receives git's own progress messages (default: discarded).
	Log io.Writer
}

// Author is a commit's author or committer.
type Author struct {
	Name, Email string
}

// String returns "Name <email>".
func (a Author) String() string { return fmt.Sprintf("%s <%s>", a.Name, a.Email) }

// ParseAuthor parses "Name <email>".
func ParseAuthor(s string) (Author, error) {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name == "" {
		return Author{}, fmt.Errorf("author %q: want \"Name <email>\"", s)
	}
	return Author{Name: addr.Name, Email: addr.Address}, nil
}

// ErrEmptyFiles is returned when Files is empty and AllowEmpty is not set: publishing it
// would delete the whole folder, which is almost always a mistake.
var ErrEmptyFiles = errors.New("nothing to publish: the rendered folder is empty")

func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		return o, errors.New("publish: the repository URL is required")
	}
	if o.Branch == "" {
		o.Branch = DefaultBranch
	}
	if o.PullRequestBranch == o.Branch {
		return o, fmt.Errorf("publish: the pull request branch must differ from the target branch %s", o.Branch)
	}
	if o.Path == "" {
		o.Path = DefaultPath
	}
	o.Path = strings.Trim(path.Clean(strings.ReplaceAll(o.Path, "\\", "/")), "/")
	if o.Path == "." || o.Path == ".git" || strings.HasPrefix(o.Path, "../") || strings.HasPrefix(o.Path, ".git/") || o.Path == ".." {
		return o, fmt.Errorf("publish: path %q must be a folder inside the repository", o.Path)
	}
	if o.Author == (Author{}) {
		o.Author = DefaultAuthor
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Credentials != nil && o.Credentials.Username == "" {
		c := *o.Credentials
		c.Username = DefaultUsername
		o.Credentials = &c
	}
	return o, nil
}

// secrets are the strings MaskError hides.
func (o Options) secrets() []string {
	if o.Credentials == nil {
		return nil
	}
	return []string{string(o.Credentials.Token)}
}
