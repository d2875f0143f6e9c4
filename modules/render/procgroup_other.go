//go:build !unix

package render

import "os/exec"

// ownGroup leaves cmd in configroot's process group: exec kills helmfile alone.
func ownGroup(*exec.Cmd) {}

// reap has no process group to kill here.
func reap(*exec.Cmd) {}
