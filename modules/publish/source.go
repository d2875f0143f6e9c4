package publish

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Source identifies the rendered source repo in a commit message.
type Source struct {
	// Commit is the HEAD commit of the source repo.
	Commit string
	// Repository is the URL of its "origin" remote, without user info; empty when it has none.
	Repository string
}

// ReadSource returns the HEAD commit and origin URL of the git repository holding dir (dir
// or any parent). A folder outside any git repository, or a repository with no commit yet,
// gives the zero Source and no error: the message then names no source commit. Uncommitted
// changes in the source are not detected.
func ReadSource(dir string) (Source, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return Source{}, nil
	}
	if err != nil {
		return Source{}, fmt.Errorf("open source repo %s: %w", dir, err)
	}
	head, err := repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return Source{}, nil
	}
	if err != nil {
		return Source{}, fmt.Errorf("source repo %s: HEAD: %w", dir, err)
	}
	s := Source{Commit: head.Hash().String()}
	if origin, err := repo.Remote("origin"); err == nil && len(origin.Config().URLs) > 0 {
		s.Repository = Redact(origin.Config().URLs[0])
	}
	return s, nil
}
