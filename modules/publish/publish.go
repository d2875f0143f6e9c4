package publish

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Publish commits Options.Files as the folder Options.Path of the repo and pushes the
// commit: to Options.Branch, or to Options.PullRequestBranch when set. When the folder
// already holds exactly those files it returns ErrNoChanges and pushes nothing. A push
// rejected because the branch moved is retried up to Options.Retries times, each after a
// jittered backoff: fetch, reset to the new remote head, re-apply the files, commit (or
// stop with ErrNoChanges if the branch now holds them), push. Nothing is ever
// force-pushed, so a failed publish leaves the remote branch as it was.
func Publish(ctx context.Context, o Options) (Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if len(o.Files) == 0 && !o.AllowEmpty {
		return Result{}, ErrEmptyFiles
	}
	r, err := Open(ctx, o)
	if err != nil {
		return Result{}, err
	}
	defer r.Close()
	for attempt := 1; ; attempt++ {
		if err := r.Replace(o.Files); err != nil {
			return Result{}, err
		}
		res, err := r.Commit(o.Message)
		res.Attempts = attempt
		if err != nil {
			return res, err // ErrNoChanges included
		}
		err = r.Push(ctx)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, ErrRejected) {
			return Result{}, err
		}
		if attempt > o.Retries {
			return Result{}, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := backoff(o.Backoff, attempt)
		fmt.Fprintf(o.Progress, "push rejected: %s moved; retrying in %s (attempt %d of %d)\n",
			r.Branch(), wait.Round(time.Millisecond), attempt+1, o.Retries+1)
		if err := sleep(ctx, wait); err != nil {
			return Result{}, fmt.Errorf("push %s (branch %s): %w", r.remote(), r.Branch(), err)
		}
		if err := r.Sync(ctx); err != nil {
			return Result{}, err
		}
	}
}

// backoff returns the wait before retry number attempt (1 for the first): base doubled at
// each attempt, capped at 30 times base, then jittered between half and all of it so that
// racing publishers spread out.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < 30*base; i++ {
		d *= 2
	}
	d = min(d, 30*base)
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
