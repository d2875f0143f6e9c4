package render

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo", "config-root") // the parent does not exist yet
	st, err := WriteAtomic(dir, Files{"a/one.yaml": []byte("1\n"), "b/two.yaml": []byte("2\n")})
	if err != nil || st != (WriteStats{Added: 2}) {
		t.Fatalf("first write: %+v, %v", st, err)
	}
	st, err = WriteAtomic(dir, Files{"a/one.yaml": []byte("1\n"), "b/two.yaml": []byte("two\n"), "c/three.yaml": []byte("3\n")})
	if err != nil || st != (WriteStats{Added: 1, Changed: 1, Unchanged: 1}) {
		t.Fatalf("second write: %+v, %v", st, err)
	}
	st, err = WriteAtomic(dir, Files{"c/three.yaml": []byte("3\n")})
	if err != nil || st != (WriteStats{Unchanged: 1, Removed: 2}) {
		t.Fatalf("third write: %+v, %v", st, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "c" {
		t.Errorf("config-root holds %v, want only c/ (empty folders of removed files go too)", entries)
	}
	siblings, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(siblings) != 1 {
		t.Errorf("temporary folders left beside config-root: %v", siblings)
	}
}

func TestWriteAtomicRefusesAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config-root")
	if err := os.WriteFile(file, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := WriteAtomic(file, Files{"a.yaml": []byte("a\n")})
	if err == nil || !strings.Contains(err.Error(), file+": exists and is not a folder") {
		t.Fatalf("error %v", err)
	}
	if data, _ := os.ReadFile(file); string(data) != "not a folder" {
		t.Errorf("the file was changed: %q", data)
	}
}

// TestSwapWhereDirectoriesCannotBeRenamed runs swap with a rename that refuses directories
// as overlayfs does for a directory of a lower layer (EXDEV): the container layers of
// Docker and Dagger, where `dagger call render` over a stale config-root failed with
// "invalid cross-device link". config-root is then updated in place: changed and added files
// replaced, removed ones deleted with the folders they leave empty, unchanged ones not
// touched. (The real overlayfs case runs in make dagger-e2e.)
func TestSwapWhereDirectoriesCannotBeRenamed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config-root")
	old := Files{"a/same.yaml": []byte("same\n"), "a/changed.yaml": []byte("old\n"), "gone/deep/x.yaml": []byte("x\n")}
	for p, data := range old {
		writeTestFile(t, filepath.Join(dir, p), data)
	}
	sameBefore, err := os.Stat(filepath.Join(dir, "a/same.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := Files{"a/same.yaml": []byte("same\n"), "a/changed.yaml": []byte("new\n"), "b/added.yaml": []byte("added\n")}
	tmp := filepath.Join(t.TempDir(), ".config-root.new")
	for p, data := range files {
		writeTestFile(t, filepath.Join(tmp, p), data)
	}
	var renamedDirs []string
	overlay := func(from, to string) error {
		if fi, err := os.Stat(from); err == nil && fi.IsDir() {
			renamedDirs = append(renamedDirs, from)
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EXDEV}
		}
		return os.Rename(from, to)
	}
	unchanged := map[string]bool{"a/same.yaml": true}
	if err := swap(dir, tmp, files, old, unchanged, dirOps{rename: overlay, exchange: overlay}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Errorf("config-root holds %d files, want %d: %v", len(got), len(files), got.Paths())
	}
	for p, data := range files {
		if string(got[p]) != string(data) {
			t.Errorf("%s = %q, want %q", p, got[p], data)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Errorf("the folder of the removed file is still there (%v)", err)
	}
	sameAfter, err := os.Stat(filepath.Join(dir, "a/same.yaml"))
	if err != nil || !os.SameFile(sameBefore, sameAfter) {
		t.Errorf("the unchanged file was replaced (%v)", err)
	}
	// The exchange and the rename aside were tried, and refused.
	if len(renamedDirs) != 2 || renamedDirs[0] != tmp || renamedDirs[1] != dir {
		t.Errorf("directory renames tried: %v, want the exchange of %s and the rename of %s", renamedDirs, tmp, dir)
	}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWriteAtomicLinksUnchangedFiles checks that a write which changes one file keeps the
// others as they were, by hard link (the same file, not a copy), while the swap stays
// atomic: the changed file has its new content, the previous tree is gone.
func TestWriteAtomicLinksUnchangedFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config-root")
	if _, err := WriteAtomic(dir, Files{"a/same.yaml": []byte("same\n"), "b/changed.yaml": []byte("old\n")}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(filepath.Join(dir, "a/same.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := WriteAtomic(dir, Files{"a/same.yaml": []byte("same\n"), "b/changed.yaml": []byte("new\n")})
	if err != nil || st != (WriteStats{Changed: 1, Unchanged: 1}) {
		t.Fatalf("second write: %+v, %v", st, err)
	}
	after, err := os.Stat(filepath.Join(dir, "a/same.yaml"))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("the unchanged file was written again, not linked (%v)", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b/changed.yaml")); err != nil || string(b) != "new\n" {
		t.Errorf("changed file: %q, %v", b, err)
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil || len(entries) != 1 {
		t.Errorf("beside config-root: %v (%v), want nothing left of the swap", entries, err)
	}
}
