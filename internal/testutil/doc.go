// Package testutil holds what configroot's tests share: whole-folder comparisons with golden
// trees, the pinned helm and helmfile of ./bin, and real charts taken from Go modules.
package testutil
