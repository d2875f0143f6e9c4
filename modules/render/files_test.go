package render

import (
	"os"
	"path/filepath"
	"strings"
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
