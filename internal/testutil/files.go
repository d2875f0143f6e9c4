package testutil

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Update, set with -update, makes golden comparisons rewrite the golden tree instead.
var Update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// ReadTree returns every regular file under dir by slash-separated relative path.
func ReadTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		t.Fatalf("read tree %s: %v", dir, err)
	}
	return files
}

// DiffTrees reports the files missing from got, the extra ones and those that differ, one
// per line; empty when the trees are byte-identical.
func DiffTrees(want, got map[string][]byte) string {
	var b strings.Builder
	paths := map[string]bool{}
	for p := range want {
		paths[p] = true
	}
	for p := range got {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		w, inWant := want[p]
		g, inGot := got[p]
		switch {
		case !inGot:
			b.WriteString("missing: " + p + "\n")
		case !inWant:
			b.WriteString("extra:   " + p + "\n")
		case !bytes.Equal(w, g):
			b.WriteString("differs: " + p + "\n" + cmp.Diff(string(w), string(g)) + "\n")
		}
	}
	return b.String()
}

// CompareGolden fails t unless the tree got equals the golden tree; with -update it
// replaces the golden tree by got. regen is the command that regenerates the golden files.
func CompareGolden(t testing.TB, golden, got, regen string) {
	t.Helper()
	if *Update {
		if err := os.RemoveAll(golden); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(golden, os.DirFS(got)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := DiffTrees(ReadTree(t, golden), ReadTree(t, got)); d != "" {
		t.Errorf("%s differs from the golden %s (regenerate with: %s):\n%s", got, golden, regen, d)
	}
}

// CopyDir copies the tree src into a new folder under t.TempDir() and returns it.
func CopyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	// os.CopyFS keeps read-only modes (module cache files are 0444); tests edit the copies.
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
