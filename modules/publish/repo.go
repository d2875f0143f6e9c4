package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/configroot/configroot/modules/render"
	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Expected outcomes, checked with errors.Is.
var (
	// ErrNoChanges is returned by Commit and Publish when the folder already holds exactly
	// the files: nothing is committed or pushed, and Result.Commit is the current head.
	ErrNoChanges = errors.New("no changes")
	// ErrRejected is returned by Push when the remote refused the push because the branch
	// moved since it was fetched; Sync, Replace and Commit again, then Push.
	ErrRejected = errors.New("push rejected: the branch moved")
	// ErrBranchNotFound is returned when the remote has no such branch.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrAuthentication is returned when the remote refuses the credentials (or asks for
	// some when none were given).
	ErrAuthentication = errors.New("authentication failed")
)

// remoteName is the name of the cloned remote.
const remoteName = "origin"

// Result describes a publish.
type Result struct {
	// Commit is the commit pushed; with ErrNoChanges, the head of the branch as it was.
	Commit string
	// Branch is the branch pushed (the pull request branch when one was asked for).
	Branch string
	// Changes are the files of the folder the commit added, modified and deleted.
	Changes Changes
	// Attempts counts the commit-and-push attempts (1 when the first push landed).
	Attempts int
}

// Repo is a private clone of the cluster repo, on the branch to push. Its methods are not
// safe for concurrent use. Replace expects a clean worktree, which Open, Sync and Commit
// leave behind.
type Repo struct {
	o    Options
	dir  string
	tmp  bool
	repo *git.Repository
	fs   billy.Filesystem // the worktree, in memory
	wt   *git.Worktree
	// branch is the branch pushed: Options.PullRequestBranch, else Options.Branch.
	branch string
	// expected is the remote value of branch the local head builds on (zero: the remote
	// does not have the branch yet).
	expected plumbing.Hash
	// head is the local head.
	head plumbing.Hash
}

// Open clones the repo into Options.Dir (a temporary folder by default) on Options.Branch,
// then, with a PullRequestBranch, switches to that branch (or creates it from Branch when
// the remote does not have it). Close removes the temporary folder.
func Open(ctx context.Context, o Options) (*Repo, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Repo{o: o, dir: o.Dir, branch: o.Branch}
	if r.dir == "" {
		if r.dir, err = os.MkdirTemp("", "configroot-publish-"); err != nil {
			return nil, fmt.Errorf("clone %s: %w", r.remote(), err)
		}
		r.tmp = true
	}
	fmt.Fprintf(o.Progress, "cloning %s (branch %s)\n", r.remote(), o.Branch)
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	// Objects and the index go to disk, so that memory does not grow with the history; the
	// worktree stays in memory: it is about as big as the render, and checking out 10,000
	// files to disk costs more than the rest of a publish.
	r.fs = memfs.New()
	storage := filesystem.NewStorage(osfs.New(r.dir), cache.NewObjectLRUDefault())
	r.repo, err = git.CloneContext(cctx, storage, r.fs, &git.CloneOptions{
		URL:           o.URL,
		Auth:          r.auth(),
		RemoteName:    remoteName,
		ReferenceName: plumbing.NewBranchReferenceName(o.Branch),
		SingleBranch:  true,
		Tags:          git.NoTags,
		Progress:      o.Log,
	})
	timedOut := cctx.Err() == context.DeadlineExceeded
	cancel()
	if err != nil {
		r.Close()
		return nil, r.networkError("clone", o.Branch, err, timedOut)
	}
	if r.wt, err = r.repo.Worktree(); err != nil {
		r.Close()
		return nil, fmt.Errorf("clone %s: %w", r.remote(), err)
	}
	head, err := r.repo.Head()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("clone %s (branch %s): %w", r.remote(), o.Branch, err)
	}
	r.head, r.expected = head.Hash(), head.Hash()
	if o.PullRequestBranch != "" {
		r.branch = o.PullRequestBranch
		if err := r.Sync(ctx); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Dir returns the folder holding the clone's git objects and index (a bare layout: the
// worktree is kept in memory).
func (r *Repo) Dir() string { return r.dir }

// Branch returns the branch Push updates.
func (r *Repo) Branch() string { return r.branch }

// Head returns the local head commit.
func (r *Repo) Head() string { return r.head.String() }

// Close removes the clone when Open made its folder; it is safe to call twice.
func (r *Repo) Close() error {
	if !r.tmp {
		return nil
	}
	r.tmp = false
	return os.RemoveAll(r.dir)
}

// Sync fetches the branch to push and resets the clone to its remote head, discarding any
// local commit. When the remote does not have a pull request branch yet, the clone is reset
// to the head of the target branch instead.
func (r *Repo) Sync(ctx context.Context) error {
	hash, found, err := r.fetch(ctx, r.branch)
	if err != nil {
		return err
	}
	r.expected = hash
	if !found {
		if r.branch == r.o.Branch {
			return fmt.Errorf("fetch %s (branch %s): %w", r.remote(), r.branch, ErrBranchNotFound)
		}
		if hash, found, err = r.fetch(ctx, r.o.Branch); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("fetch %s (branch %s): %w", r.remote(), r.o.Branch, ErrBranchNotFound)
		}
	}
	local := plumbing.NewBranchReferenceName(r.branch)
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(local, hash)); err != nil {
		return fmt.Errorf("reset to %s: %w", hash, err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, local)); err != nil {
		return fmt.Errorf("reset to %s: %w", hash, err)
	}
	if err := r.wt.Reset(&git.ResetOptions{Commit: hash, Mode: git.HardReset}); err != nil {
		return fmt.Errorf("reset to %s: %w", hash, err)
	}
	r.head = hash
	fmt.Fprintf(r.o.Progress, "reset to %s (%s)\n", shortHash(hash.String()), r.branch)
	return nil
}

// fetch fetches branch into its remote-tracking ref and returns its head; found is false
// when the remote has no such branch.
func (r *Repo) fetch(ctx context.Context, branch string) (hash plumbing.Hash, found bool, err error) {
	tracking := plumbing.NewRemoteReferenceName(remoteName, branch)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(branch), tracking))
	fctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	err = r.repo.FetchContext(fctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth(),
		Tags:       git.NoTags,
		Progress:   r.o.Log,
	})
	switch {
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return plumbing.ZeroHash, false, nil
	case err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate):
		return plumbing.ZeroHash, false, r.networkError("fetch", branch, err, fctx.Err() == context.DeadlineExceeded)
	}
	ref, err := r.repo.Reference(tracking, true)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("fetch %s (branch %s): %w", r.remote(), branch, err)
	}
	return ref.Hash(), true, nil
}

// Replace makes the folder Options.Path of the clone hold exactly files: new and changed
// files are written, files that are not in files are deleted. Nothing is staged yet.
func (r *Repo) Replace(files render.Files) error {
	return syncTree(r.fs, filepath.FromSlash(r.o.Path), files)
}

// Commit stages every change under Options.Path (additions, modifications and deletions,
// read from Worktree.Status) and commits it with m's message. When nothing changed it
// returns ErrNoChanges, with Result.Commit set to the current head.
func (r *Repo) Commit(m Message) (Result, error) {
	res := Result{Commit: r.head.String(), Branch: r.branch}
	changes, err := r.stage()
	if err != nil {
		return res, fmt.Errorf("stage %s: %w", r.o.Path, err)
	}
	if changes.Empty() {
		return res, ErrNoChanges
	}
	res.Changes = changes
	now := time.Now()
	sig := &object.Signature{Name: r.o.Author.Name, Email: r.o.Author.Email, When: now}
	hash, err := r.wt.Commit(m.Format(changes), &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return res, fmt.Errorf("commit %s: %w", r.o.Path, err)
	}
	r.head = hash
	res.Commit = hash.String()
	fmt.Fprintf(r.o.Progress, "committed %s on %s: %s\n", shortHash(res.Commit), r.branch,
		summary(len(changes.Added), len(changes.Modified), len(changes.Deleted)))
	return res, nil
}

// stageOneByOne is the most files staged one at a time; above it a single Add of the
// folder stages them all (it runs one more Status but writes the index once, where each
// single-file Add rewrites the whole index).
const stageOneByOne = 64

// stage stages the changes under Options.Path and returns them.
func (r *Repo) stage() (Changes, error) {
	status, err := r.wt.Status()
	if err != nil {
		return Changes{}, err
	}
	prefix := r.o.Path + "/"
	var c Changes
	for p, s := range status {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		rel := strings.TrimPrefix(p, prefix)
		switch {
		case s.Worktree == git.Deleted || s.Staging == git.Deleted:
			c.Deleted = append(c.Deleted, rel)
		case s.Worktree == git.Untracked || s.Staging == git.Untracked || s.Staging == git.Added:
			c.Added = append(c.Added, rel)
		case s.Worktree == git.Modified || s.Staging == git.Modified:
			c.Modified = append(c.Modified, rel)
		}
	}
	c.sort()
	if c.Empty() {
		return c, nil
	}
	if len(c.Deleted) > 0 {
		// Removed from the index in one write; the files are already gone from disk.
		idx, err := r.repo.Storer.Index()
		if err != nil {
			return c, err
		}
		for _, p := range c.Deleted {
			if _, err := idx.Remove(prefix + p); err != nil {
				return c, fmt.Errorf("%s: %w", p, err)
			}
		}
		if err := r.repo.Storer.SetIndex(idx); err != nil {
			return c, err
		}
	}
	written := append(append([]string(nil), c.Added...), c.Modified...)
	if len(written) > stageOneByOne {
		return c, r.wt.AddWithOptions(&git.AddOptions{Path: r.o.Path})
	}
	for _, p := range written {
		if err := r.wt.AddWithOptions(&git.AddOptions{Path: prefix + p, SkipStatus: true}); err != nil {
			return c, fmt.Errorf("%s: %w", p, err)
		}
	}
	return c, nil
}

// Push pushes the local head to the branch, never forcing. When the remote refuses
// because the branch moved it returns an error wrapping ErrRejected. When the push failed
// but the remote branch turns out to hold the local head (the server's answer was lost),
// it returns nil.
func (r *Repo) Push(ctx context.Context) error {
	ref := plumbing.NewBranchReferenceName(r.branch)
	spec := config.RefSpec(fmt.Sprintf("%s:%s", ref, ref)) // no leading "+": never a force push
	pctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	err := r.repo.PushContext(pctx, &git.PushOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth(),
		Progress:   r.o.Log,
	})
	timedOut := pctx.Err() == context.DeadlineExceeded
	cancel()
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		r.expected = r.head
		fmt.Fprintf(r.o.Progress, "pushed %s to %s\n", shortHash(r.head.String()), r.branch)
		return nil
	}
	// Why did it fail? Ask the remote where the branch is now.
	current, lerr := r.remoteHead(ctx, ref)
	switch {
	case lerr != nil:
		return r.networkError("push", r.branch, err, timedOut)
	case current == r.head:
		r.expected = r.head
		fmt.Fprintf(r.o.Progress, "pushed %s to %s (the server's answer was lost)\n", shortHash(r.head.String()), r.branch)
		return nil
	case current != r.expected:
		return fmt.Errorf("push %s (branch %s): %w (%s)", r.remote(), r.branch, ErrRejected, MaskError(err, r.o.secrets()...))
	}
	return r.networkError("push", r.branch, err, timedOut)
}

// remoteHead returns the remote's head of ref, zero when it has no such ref.
func (r *Repo) remoteHead(ctx context.Context, ref plumbing.ReferenceName) (plumbing.Hash, error) {
	remote, err := r.repo.Remote(remoteName)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	lctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	refs, err := remote.ListContext(lctx, &git.ListOptions{Auth: r.auth()})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, rf := range refs {
		if rf.Name() == ref {
			return rf.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// auth returns the basic-auth credentials for an http(s) remote, nil otherwise.
func (r *Repo) auth() transport.AuthMethod {
	c := r.o.Credentials
	if c == nil || !(strings.HasPrefix(r.o.URL, "https://") || strings.HasPrefix(r.o.URL, "http://")) {
		return nil
	}
	return &githttp.BasicAuth{Username: c.Username, Password: string(c.Token)}
}

// remote names the repo in messages, without credentials.
func (r *Repo) remote() string { return maskString(Redact(r.o.URL), r.o.secrets()...) }

// networkError wraps the error of a network operation with the remote and branch, tells
// authentication failures, missing branches and timeouts (timedOut: the operation's own
// deadline passed; go-git does not always wrap context errors) apart, and masks the
// credentials.
func (r *Repo) networkError(op, branch string, err error, timedOut bool) error {
	err = MaskError(err, r.o.secrets()...)
	if timedOut && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s (branch %s): timed out after %s (%w): %w", op, r.remote(), branch, r.o.Timeout, context.DeadlineExceeded, err)
	}
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%s %s (branch %s): %w: %w", op, r.remote(), branch, ErrAuthentication, err)
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, plumbing.ErrReferenceNotFound):
		return fmt.Errorf("%s %s (branch %s): %w: %w", op, r.remote(), branch, ErrBranchNotFound, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s (branch %s): timed out after %s: %w", op, r.remote(), branch, r.o.Timeout, err)
	}
	return fmt.Errorf("%s %s (branch %s): %w", op, r.remote(), branch, err)
}
