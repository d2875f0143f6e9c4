package render

import (
	"fmt"
	"io/fs"
	"syscall"
)

// fileIdentity returns the inode and status-change time of a file: a file replaced, even by
// a copy that keeps its size and modification time, gets others.
func fileIdentity(info fs.FileInfo) string {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d:%d %d.%d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
}
