// Package publish is the last step of configroot's pipeline (render → populate → publish):
// it commits a rendered config-root to the cluster repo with go-git and pushes it, and it
// compares two renders for the check and diff commands.
//
// Publish clones the repo privately (a local path is cloned too, never edited in place:
// objects and index in a temporary folder, the worktree in memory), makes the folder Options.Path hold exactly the rendered files, stages from
// Worktree.Status so that deletions count, and commits only when something changed
// (ErrNoChanges otherwise). A push the remote rejects because the branch moved is retried a
// bounded number of times: fetch, reset to the new remote head, re-apply, commit, push. The
// target branch is never force-pushed, and every network operation has a timeout.
//
// Credentials never appear in errors: every error that may carry the remote's answer is
// passed through a mask that replaces the token (and URL user info) with "*****".
package publish
