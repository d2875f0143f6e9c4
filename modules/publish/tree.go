package publish

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/configroot/configroot/modules/render"
	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/util"
)

// syncTree makes the folder dir of fsys hold exactly files: it writes the files that are
// new or differ, deletes the files that are not in files, and removes the folders that end
// up empty. Unchanged files are not rewritten, so their modification times stay and git's
// metadata-first status check skips them.
func syncTree(fsys billy.Filesystem, dir string, files render.Files) error {
	for p := range files {
		if !fs.ValidPath(p) || p == "." {
			return fmt.Errorf("invalid file path %q: want a slash-separated path inside the folder", p)
		}
	}
	var dirs []string
	err := util.Walk(fsys, dir, func(p string, info fs.FileInfo, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return nil // nothing to delete
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if info.IsDir() {
			if p == dir {
				return nil
			}
			if _, isFile := files[filepath.ToSlash(rel)]; isFile {
				if err := util.RemoveAll(fsys, p); err != nil {
					return err
				}
				return filepath.SkipDir
			}
			dirs = append(dirs, p)
			return nil
		}
		if _, keep := files[filepath.ToSlash(rel)]; !keep || !info.Mode().IsRegular() {
			return fsys.Remove(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if old, err := util.ReadFile(fsys, f); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := fsys.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return fmt.Errorf("sync %s: %w", dir, err)
		}
		if err := util.WriteFile(fsys, f, data, 0o644); err != nil {
			return fmt.Errorf("sync %s: %w", dir, err)
		}
	}
	// Deepest first, so that a folder emptied by its children's removal goes too.
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if entries, err := fsys.ReadDir(d); err == nil && len(entries) == 0 {
			if err := fsys.Remove(d); err != nil {
				return fmt.Errorf("sync %s: %w", dir, err)
			}
		}
	}
	return nil
}
