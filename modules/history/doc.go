// Package history reads the history of one resource of config-root from the cluster repo
// with go-git: the point of one canonical file per resource. It sits beside publish, which
// writes that history (one commit per render, with a Source-Commit trailer), and changes
// nothing.
//
// ParseQuery reads a resource as kubectl names it (KIND/NAME and a namespace); Log walks the
// first-parent line of commits from a ref, newest first, finds the resource's files in
// each config-root tree by identity (following it across release renames, scope changes,
// removals and re-additions) and returns one Change per commit that touched it, with the
// unified diff when asked. Each config-root subtree is searched once per walk, whatever the
// number of commits sharing it.
package history
