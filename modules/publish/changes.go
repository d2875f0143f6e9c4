package publish

import (
	"fmt"
	"sort"
	"strings"
)

// Changes lists the files a publish added, modified and deleted, as slash paths relative to
// the published folder (config-root), each list sorted.
type Changes struct {
	Added, Modified, Deleted []string
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Added)+len(c.Modified)+len(c.Deleted) == 0 }

// Count is the number of changed files.
func (c Changes) Count() int { return len(c.Added) + len(c.Modified) + len(c.Deleted) }

func (c *Changes) sort() {
	sort.Strings(c.Added)
	sort.Strings(c.Modified)
	sort.Strings(c.Deleted)
}

// NamespaceChanges counts the resources (files) of one namespace a publish added, changed
// and removed.
type NamespaceChanges struct {
	Namespace               string
	Added, Changed, Removed int
}

// ByNamespace counts the changes per namespace, sorted by namespace. The namespace of a
// file is read from its config-root path (see Namespace).
func (c Changes) ByNamespace() []NamespaceChanges {
	counts := map[string]*NamespaceChanges{}
	get := func(p string) *NamespaceChanges {
		ns := Namespace(p)
		n := counts[ns]
		if n == nil {
			n = &NamespaceChanges{Namespace: ns}
			counts[ns] = n
		}
		return n
	}
	for _, p := range c.Added {
		get(p).Added++
	}
	for _, p := range c.Modified {
		get(p).Changed++
	}
	for _, p := range c.Deleted {
		get(p).Removed++
	}
	out := make([]NamespaceChanges, 0, len(counts))
	for _, n := range counts {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

// OtherNamespace is the namespace Namespace gives a path outside the config-root layout.
const OtherNamespace = "(other)"

// Namespace returns the namespace a config-root path belongs to, from the layout render
// writes: namespaces/<ns>/…, cluster/resources/<ns>/…, customresourcedefinitions/<ns>/…
// (the release namespace) and cluster/namespaces/<ns>.yaml. Any other path gives
// OtherNamespace.
func Namespace(p string) string {
	parts := strings.Split(p, "/")
	switch {
	case len(parts) >= 3 && (parts[0] == "namespaces" || parts[0] == "customresourcedefinitions"):
		return parts[1]
	case len(parts) >= 4 && parts[0] == "cluster" && parts[1] == "resources":
		return parts[2]
	case len(parts) == 3 && parts[0] == "cluster" && parts[1] == "namespaces" && strings.HasSuffix(parts[2], ".yaml"):
		return strings.TrimSuffix(parts[2], ".yaml")
	}
	return OtherNamespace
}

// summary is "N added, N changed, N removed".
func summary(added, changed, removed int) string {
	return fmt.Sprintf("%d added, %d changed, %d removed", added, changed, removed)
}
