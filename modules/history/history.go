package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/configroot/configroot/modules/internal/closest"
	"github.com/configroot/configroot/modules/publish"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Options say which repository, folder and commits Log walks.
type Options struct {
	// Repo is the cluster repo: the path of a local repository (any folder of a work tree,
	// or a bare repository), read in place and never changed, or an http(s) URL, cloned into
	// memory. Required.
	Repo string
	// Ref is the commit the walk starts from: a branch, tag, commit or any revision go-git
	// resolves (default HEAD). For a URL it must be a branch (default: the remote's HEAD).
	Ref string
	// Path is the config-root folder in the repo, slash-separated (default
	// publish.DefaultPath).
	Path string
	// Credentials authenticate to an http(s) URL (nil: anonymous).
	Credentials *publish.Credentials
	// Since and Until, when set, keep the commits whose committer date is in [Since, Until];
	// the walk stops at the first commit older than Since.
	Since, Until time.Time
	// MaxCount, when positive, keeps the newest MaxCount changes.
	MaxCount int
	// Patch fills Change.Patch.
	Patch bool
	// Timeout bounds the clone of a URL (default publish.DefaultTimeout).
	Timeout time.Duration
	// Progress receives one line per step and git's progress (default: discarded).
	Progress io.Writer
}

// Action is what a commit did to the resource.
type Action string

// Actions of a Change.
const (
	Added    Action = "added"
	Modified Action = "modified"
	Removed  Action = "removed"
	// Moved is a resource whose file changed path in the commit (another release folder,
	// another scope), its content changed or not.
	Moved Action = "moved"
)

// Change is one commit's change to the resource.
type Change struct {
	// Commit is the commit's hash.
	Commit string `json:"commit"`
	// Date is the author date, in the author's time zone.
	Date time.Time `json:"date"`
	// Author is the commit's author.
	Author Person `json:"author"`
	// Subject is the first line of the commit message.
	Subject string `json:"subject"`
	// SourceCommit is the Source-Commit trailer publish writes (the source repo's commit
	// rendered), or "".
	SourceCommit string `json:"sourceCommit,omitempty"`
	// Action is what the commit did to the resource.
	Action Action `json:"change"`
	// Path is the resource's file after the commit (before it, when removed), in the repo.
	Path string `json:"path"`
	// PreviousPath is the file before a move.
	PreviousPath string `json:"previousPath,omitempty"`
	// Resource is the resource's identity after the commit (before it, when removed).
	Resource Resource `json:"resource"`
	// Patch is the unified diff of the file (git's format), with Options.Patch.
	Patch string `json:"patch,omitempty"`
}

// Person is a commit's author.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Result is a resource's history.
type Result struct {
	// Resource is the resource as last seen.
	Resource Resource
	// Path is its file in the starting commit, or where it was last seen if removed since.
	Path string
	// Exists is true when the starting commit has the resource.
	Exists bool
	// Start is the commit the walk started from.
	Start string
	// Changes are the commits that changed it, newest first.
	Changes []Change
	// Commits counts the commits walked.
	Commits int
}

// Log walks the history of the cluster repo's config-root from Options.Ref, newest first,
// following first parents (as `git log --first-parent`: the line of commits publish makes),
// and returns the commits that added, changed, moved or removed the resource q names.
//
// The resource is recognized by its identity (API group, kind, namespace, name), read from
// the files where its name could be in any release folder, so that it is followed when its
// release is renamed, when it moves between the cluster and namespaced trees (a change of
// scope), and across a removal and re-addition. When no commit walked has it, the error is
// a *NotFoundError listing the closest resources of the starting commit; when several
// resources answer q (one name in two namespaces and no namespace given), an
// *AmbiguousError listing them.
func Log(ctx context.Context, q Query, o Options) (Result, error) {
	if len(q.Kinds) == 0 || q.Name == "" {
		return Result{}, errors.New("history: the query needs a kind and a name (ParseQuery)")
	}
	if o.Path == "" {
		o.Path = publish.DefaultPath
	}
	o.Path = strings.Trim(path.Clean(o.Path), "/")
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	repo, err := open(ctx, o)
	if err != nil {
		return Result{}, err
	}
	w := &walker{s: repo.Storer, o: o, q: q, search: newSearcher(repo.Storer, q), roots: map[plumbing.Hash]plumbing.Hash{}, at: map[plumbing.Hash][]found{}}
	return w.log(ctx, repo)
}

// walker walks the first-parent line of commits.
type walker struct {
	s      storer.EncodedObjectStorer
	o      Options
	q      Query
	search *searcher
	roots  map[plumbing.Hash]plumbing.Hash // commit tree → config-root tree (zero: none)
	at     map[plumbing.Hash][]found       // config-root tree → the resource's files
}

// step is a commit with the query's files in it and in its first parent.
type step struct {
	c         *object.Commit
	cur, prev []found
}

func (w *walker) log(ctx context.Context, repo *git.Repository) (Result, error) {
	ref := w.o.Ref
	if ref == "" || isURL(w.o.Repo) {
		ref = "HEAD"
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		return Result{}, fmt.Errorf("history: %s: revision %s: %w", publish.Redact(w.o.Repo), ref, err)
	}
	c, err := repo.CommitObject(*hash)
	if err != nil {
		return Result{}, fmt.Errorf("history: %s: commit %s: %w", publish.Redact(w.o.Repo), hash, err)
	}
	res := Result{Start: c.Hash.String()}
	var steps []step
	for c != nil {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		if !w.o.Since.IsZero() && c.Committer.When.Before(w.o.Since) {
			break
		}
		parent, err := firstParent(repo, c)
		if err != nil {
			return Result{}, err
		}
		st := step{c: c}
		if st.cur, err = w.files(c); err != nil {
			return Result{}, err
		}
		if parent != nil {
			if st.prev, err = w.files(parent); err != nil {
				return Result{}, err
			}
		}
		steps = append(steps, st)
		res.Commits++
		c = parent
	}

	id, last, err := w.resolve(steps, res.Start)
	if err != nil {
		return Result{}, err
	}
	res.Resource, res.Path = id.Resource, w.o.Path+"/"+last
	if len(steps) > 0 {
		for _, f := range steps[0].cur {
			if id.owns(f) {
				res.Exists = true
			}
		}
	}
	for _, st := range steps {
		if !w.o.Until.IsZero() && st.c.Committer.When.After(w.o.Until) {
			continue
		}
		changes := diff(filter(st.prev, id), filter(st.cur, id))
		for _, ch := range changes {
			change, err := w.change(st.c, ch)
			if err != nil {
				return Result{}, err
			}
			res.Changes = append(res.Changes, change)
		}
		if w.o.MaxCount > 0 && len(res.Changes) >= w.o.MaxCount {
			res.Changes = res.Changes[:w.o.MaxCount]
			break
		}
	}
	return res, nil
}

// files returns the query's files in commit c (memoized by config-root tree).
func (w *walker) files(c *object.Commit) ([]found, error) {
	root, ok := w.roots[c.TreeHash]
	if !ok {
		t, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", c.Hash, err)
		}
		sub, err := t.Tree(w.o.Path)
		switch {
		case errors.Is(err, object.ErrDirectoryNotFound), errors.Is(err, object.ErrEntryNotFound):
			root = plumbing.ZeroHash
		case err != nil:
			return nil, fmt.Errorf("commit %s: %s: %w", c.Hash, w.o.Path, err)
		default:
			root = sub.Hash
		}
		w.roots[c.TreeHash] = root
	}
	if root.IsZero() {
		return nil, nil
	}
	if fs, ok := w.at[root]; ok {
		return fs, nil
	}
	fs, err := w.search.configRoot(root)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %s: %w", c.Hash, w.o.Path, err)
	}
	w.at[root] = fs
	return fs, nil
}

func firstParent(repo *git.Repository, c *object.Commit) (*object.Commit, error) {
	if len(c.ParentHashes) == 0 {
		return nil, nil
	}
	p, err := repo.CommitObject(c.ParentHashes[0])
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, nil // a shallow clone's boundary
	}
	if err != nil {
		return nil, fmt.Errorf("commit %s: parent %s: %w", c.Hash, c.ParentHashes[0], err)
	}
	return p, nil
}

// identity is the one resource a query resolved to: cluster-scoped files of the same
// group, kind and name belong to it too (a change of scope).
type identity struct {
	Resource
	group string
}

func (id identity) owns(f found) bool {
	return f.id.Name == id.Name && f.id.Kind == id.Kind && f.id.Group() == id.group &&
		(f.id.Namespace == "" || f.id.Namespace == id.Namespace)
}

// resolve picks the one resource the files found belong to, and the path it was last seen
// at (relative to config-root).
func (w *walker) resolve(steps []step, start string) (identity, string, error) {
	type key struct{ group, kind, name, namespace string }
	last := map[key]found{}
	var order []key
	for _, st := range steps {
		for _, fs := range [][]found{st.cur, st.prev} {
			for _, f := range fs {
				k := key{f.id.Group(), f.id.Kind, f.id.Name, f.id.Namespace}
				if _, ok := last[k]; !ok {
					last[k] = f
					order = append(order, k)
				}
			}
		}
	}
	if len(order) == 0 {
		return identity{}, "", &NotFoundError{Query: w.q, Path: w.o.Path, Closest: w.closest(steps), Since: w.o.Since}
	}
	// A cluster-scoped form merges into the namespaced one of the same group, kind and name.
	var distinct []key
	for _, k := range order {
		if k.namespace == "" {
			namespaced := false
			for _, o := range order {
				if o.namespace != "" && o.group == k.group && o.kind == k.kind && o.name == k.name {
					namespaced = true
				}
			}
			if namespaced {
				continue
			}
		}
		distinct = append(distinct, k)
	}
	if len(distinct) > 1 {
		e := &AmbiguousError{Query: w.q}
		for _, k := range distinct {
			f := last[k]
			e.Matches = append(e.Matches, Match{Resource: f.id, Path: w.o.Path + "/" + f.path})
		}
		sort.Slice(e.Matches, func(i, j int) bool { return e.Matches[i].Resource.Qualified() < e.Matches[j].Resource.Qualified() })
		return identity{}, "", e
	}
	k := distinct[0]
	// The path last seen: the newest file of the resource, any scope.
	id := identity{Resource: last[k].id, group: k.group}
	for _, o := range order {
		if f := last[o]; id.owns(f) {
			return id, f.path, nil
		}
	}
	return id, last[k].path, nil
}

// closest lists the resources of the starting commit whose names are nearest the query's.
func (w *walker) closest(steps []step) []string {
	if len(steps) == 0 {
		return nil
	}
	root := w.roots[steps[0].c.TreeHash]
	if root.IsZero() {
		return nil
	}
	type file struct {
		path, name string
		hash       plumbing.Hash
	}
	var files []file
	var walk func(h plumbing.Hash, prefix string)
	walk = func(h plumbing.Hash, prefix string) {
		t, err := object.GetTree(w.s, h)
		if err != nil {
			return
		}
		for _, e := range t.Entries {
			p := path.Join(prefix, e.Name)
			if e.Mode == filemode.Dir {
				walk(e.Hash, p)
			} else if strings.HasSuffix(e.Name, ".yaml") {
				files = append(files, file{p, nameOf(p), e.Hash})
			}
		}
	}
	walk(root, "")
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	near := closest.Names(w.q.Name, names, 10)
	type scored struct {
		r     Resource
		score int
	}
	var all []scored
	seen := map[string]bool{}
	for _, f := range files {
		if !contains(near, f.name) {
			continue
		}
		id, err := readIdentity(w.s, f.hash)
		if err != nil || id == nil || seen[id.Qualified()] {
			continue
		}
		seen[id.Qualified()] = true
		score := closest.Distance(strings.ToLower(w.q.Name), strings.ToLower(id.Name))
		if !w.q.mayBe(id.Kind) {
			score += 2
		}
		if w.q.Namespace != "" && id.Namespace != w.q.Namespace {
			score++
		}
		all = append(all, scored{*id, score})
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score < all[j].score
		}
		return all[i].r.String() < all[j].r.String()
	})
	var out []string
	for _, s := range all[:min(3, len(all))] {
		out = append(out, s.r.String())
	}
	return out
}

// nameOf guesses a resource's name from its config-root file: the base name without
// ".yaml", without a collision hash and without the kind suffix (cluster/namespaces files
// are the name itself).
func nameOf(p string) string {
	base := strings.TrimSuffix(path.Base(p), ".yaml")
	if strings.HasPrefix(p, dirCluster+"/"+dirClusterNS+"/") {
		return base
	}
	if i := strings.LastIndexByte(base, '-'); i > 0 && len(base)-i-1 == 8 && isHex(base[i+1:]) {
		base = base[:i]
	}
	if i := strings.LastIndexByte(base, '-'); i > 0 {
		base = base[:i]
	}
	return base
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// filter keeps the files of the resource id.
func filter(fs []found, id identity) []found {
	var out []found
	for _, f := range fs {
		if id.owns(f) {
			out = append(out, f)
		}
	}
	return out
}

// fileChange is a change of the resource's file between a commit's parent and itself.
type fileChange struct {
	action   Action
	from, to *found
}

// diff compares the resource's files before (old) and after (cur) a commit: a path in
// both whose blob changed is modified; the others pair up as moves, and what is left is
// added or removed.
func diff(old, cur []found) []fileChange {
	var out []fileChange
	var gone, came []*found
	for i := range old {
		o := &old[i]
		kept := false
		for j := range cur {
			if cur[j].path == o.path {
				kept = true
				if cur[j].blob != o.blob {
					out = append(out, fileChange{Modified, o, &cur[j]})
				}
			}
		}
		if !kept {
			gone = append(gone, o)
		}
	}
	for j := range cur {
		found := false
		for i := range old {
			if old[i].path == cur[j].path {
				found = true
			}
		}
		if !found {
			came = append(came, &cur[j])
		}
	}
	for len(gone) > 0 && len(came) > 0 {
		out = append(out, fileChange{Moved, gone[0], came[0]})
		gone, came = gone[1:], came[1:]
	}
	for _, f := range came {
		out = append(out, fileChange{Added, nil, f})
	}
	for _, f := range gone {
		out = append(out, fileChange{Removed, f, nil})
	}
	return out
}

// change describes a fileChange of commit c.
func (w *walker) change(c *object.Commit, fc fileChange) (Change, error) {
	ch := Change{
		Commit:       c.Hash.String(),
		Date:         c.Author.When,
		Author:       Person{Name: c.Author.Name, Email: c.Author.Email},
		Subject:      strings.TrimSpace(strings.SplitN(c.Message, "\n", 2)[0]),
		SourceCommit: trailer(c.Message, "Source-Commit"),
		Action:       fc.action,
	}
	switch {
	case fc.to != nil:
		ch.Path, ch.Resource = w.o.Path+"/"+fc.to.path, fc.to.id
		if fc.action == Moved {
			ch.PreviousPath = w.o.Path + "/" + fc.from.path
		}
	default:
		ch.Path, ch.Resource = w.o.Path+"/"+fc.from.path, fc.from.id
	}
	if w.o.Patch {
		p, err := w.patch(c, fc)
		if err != nil {
			return Change{}, fmt.Errorf("commit %s: diff %s: %w", c.Hash, ch.Path, err)
		}
		ch.Patch = p
	}
	return ch, nil
}

// patch returns the unified diff of a fileChange, in git's format.
func (w *walker) patch(c *object.Commit, fc fileChange) (string, error) {
	t, err := c.Tree() // any tree of the repo: the change reads blobs through its storer
	if err != nil {
		return "", err
	}
	entry := func(f *found) object.ChangeEntry {
		if f == nil {
			return object.ChangeEntry{}
		}
		return object.ChangeEntry{
			Name: w.o.Path + "/" + f.path, Tree: t,
			TreeEntry: object.TreeEntry{Name: path.Base(f.path), Mode: f.mode, Hash: f.blob},
		}
	}
	change := &object.Change{From: entry(fc.from), To: entry(fc.to)}
	p, err := change.Patch()
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

// trailer returns the value of the last "key: value" line of a commit message.
func trailer(msg, key string) string {
	value := ""
	for _, line := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			value = strings.TrimSpace(v)
		}
	}
	return value
}
