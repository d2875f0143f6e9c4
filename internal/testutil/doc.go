// Package testutil holds what configroot's tests share: whole-folder comparisons with golden
// trees, the pinned helm and helmfile of ./bin, real charts taken from Go modules, and a
// real git server (git http-backend behind net/http/cgi, with basic auth) with helpers to
// create and inspect bare repositories.
package testutil
