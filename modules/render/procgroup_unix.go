//go:build unix

package render

import (
	"os/exec"
	"syscall"
	"time"
)

// ownGroup makes cmd the leader of a process group of its own, so that cancelling the
// render stops what it started too: helmfile runs helm, and a helm left running after
// helmfile was killed goes on writing rendered Secrets into a folder the render has
// removed. Cancelling sends SIGTERM to the group (helmfile removes its temporary files on
// it) and waits up to 10 s before exec kills helmfile; reap then kills whatever of the
// group is left.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
}

// reap kills what is left of cmd's process group once a cancelled cmd has ended.
func reap(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
