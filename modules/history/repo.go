package history

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/configroot/configroot/modules/publish"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

func isURL(repo string) bool { return strings.Contains(repo, "://") }

// open opens the repository of o: a local one in place (read only), a URL cloned into
// memory (objects only: no work tree).
func open(ctx context.Context, o Options) (*git.Repository, error) {
	if o.Repo == "" {
		return nil, errors.New("history: the repository is required")
	}
	if !isURL(o.Repo) {
		// A bare repository or a work tree's root first; then the work tree holding the folder.
		repo, err := git.PlainOpenWithOptions(o.Repo, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
		if errors.Is(err, git.ErrRepositoryNotExists) {
			repo, err = git.PlainOpenWithOptions(o.Repo, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
		}
		if err != nil {
			return nil, fmt.Errorf("history: open %s: %w", o.Repo, err)
		}
		return repo, nil
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = publish.DefaultTimeout
	}
	var secrets []string
	var auth transport.AuthMethod
	if c := o.Credentials; c != nil && (strings.HasPrefix(o.Repo, "https://") || strings.HasPrefix(o.Repo, "http://")) {
		user := c.Username
		if user == "" {
			user = publish.DefaultUsername
		}
		auth = &githttp.BasicAuth{Username: user, Password: string(c.Token)}
		secrets = append(secrets, string(c.Token))
	}
	co := &git.CloneOptions{URL: o.Repo, Auth: auth, SingleBranch: true, Tags: git.NoTags, Progress: o.Progress}
	if o.Ref != "" {
		co.ReferenceName = plumbing.NewBranchReferenceName(o.Ref)
	}
	fmt.Fprintf(o.Progress, "cloning %s into memory\n", publish.Redact(o.Repo))
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	repo, err := git.CloneContext(cctx, memory.NewStorage(), nil, co)
	if err != nil {
		err = publish.MaskError(err, secrets...)
		if cctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("history: clone %s: timed out after %s: %w", publish.Redact(o.Repo), timeout, err)
		}
		if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
			return nil, fmt.Errorf("history: clone %s: %w: %w", publish.Redact(o.Repo), publish.ErrAuthentication, err)
		}
		return nil, fmt.Errorf("history: clone %s: %w", publish.Redact(o.Repo), err)
	}
	return repo, nil
}

// LocalDefaults returns the repository and config-root folder of a cluster repo checked
// out at source: the root of the git work tree holding source, and source/config-root
// relative to it (slash-separated). It is the default of the history command.
func LocalDefaults(source string) (repo, configRoot string, err error) {
	abs, err := filepath.Abs(source)
	if err != nil {
		return "", "", err
	}
	r, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", "", fmt.Errorf("%s is not in a git repository (pass --repo): %w", source, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w (pass --repo and --path)", source, err)
	}
	root := wt.Filesystem.Root()
	// Resolve symbolic links on both sides so that the relative path is right.
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	rel, err := filepath.Rel(root, filepath.Join(abs, "config-root"))
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", "", fmt.Errorf("%s is outside the git work tree %s", source, root)
	}
	if _, err := os.Stat(root); err != nil {
		return "", "", err
	}
	return root, filepath.ToSlash(rel), nil
}
