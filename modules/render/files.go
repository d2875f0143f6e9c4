package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Files maps slash-separated paths relative to config-root to file contents.
type Files map[string][]byte

// Paths returns the paths of fs, sorted.
func (f Files) Paths() []string {
	paths := make([]string, 0, len(f))
	for p := range f {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// FilesWriter is a kio.Writer that encodes each resource into the file its
// kioutil.PathAnnotation names. It clears that annotation and configroot's internal ones on
// the resources it writes (it is the last step). Encoding is canonical (two-space indent,
// compact sequences): the same resources give the same bytes.
type FilesWriter struct {
	// Files receives the encoded files; it must not be nil.
	Files Files
}

var _ kio.Writer = FilesWriter{}

// Write implements kio.Writer. A path named by two resources is an error.
func (w FilesWriter) Write(nodes []*yaml.RNode) error {
	paths := make([]string, len(nodes))
	for i, n := range nodes {
		p := annotation(n, kioutil.PathAnnotation)
		if p == "" {
			return fmt.Errorf("%s: no path set", sourceOf(n))
		}
		if _, dup := w.Files[p]; dup {
			return fmt.Errorf("%s: %s is written twice", sourceOf(n), p)
		}
		w.Files[p] = nil
		paths[i] = p
	}
	encoded := make([][]byte, len(nodes))
	err := forEach(len(nodes), func(i int) error {
		n := nodes[i]
		src, err := clearAnnotations(n, writerClears)
		if err != nil {
			return fmt.Errorf("%s: %w", paths[i], err)
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoderWithOptions(&buf, &yaml.EncoderOptions{SeqIndent: yaml.CompactSequenceStyle})
		if err := enc.Encode(n.Document()); err != nil {
			return fmt.Errorf("%s: encode %s: %w", src, paths[i], err)
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("%s: encode %s: %w", src, paths[i], err)
		}
		encoded[i] = buf.Bytes()
		return nil
	})
	if err != nil {
		return err
	}
	for i, p := range paths {
		w.Files[p] = encoded[i]
	}
	return nil
}

// writerClears are the annotations no file of config-root carries.
var writerClears = map[string]bool{
	kioutil.PathAnnotation: true, kioutil.LegacyPathAnnotation: true,
	kioutil.IndexAnnotation: true, kioutil.LegacyIndexAnnotation: true,
	annotationNamespace: true, annotationFolder: true, annotationSource: true,
	annotationFile: true, annotationGenerated: true, annotationUses: true,
}

// clearAnnotations removes the annotations named in clear in one pass, and the annotations
// field itself when that leaves it empty. It returns where the resource came from (for
// errors), as the source annotation it removes said.
func clearAnnotations(n *yaml.RNode, clear map[string]bool) (string, error) {
	src := n.GetKind() + " " + n.GetName()
	md := n.Field(yaml.MetadataField)
	if md == nil {
		return src, nil
	}
	anns := md.Value.Field(yaml.AnnotationsField)
	if anns == nil || anns.Value.YNode().Kind != yaml.MappingNode {
		return src, nil
	}
	content := anns.Value.YNode().Content
	kept := content[:0]
	for i := 0; i+1 < len(content); i += 2 {
		switch key := content[i].Value; {
		case key == annotationSource:
			src = content[i+1].Value
		case clear[key]:
		default:
			kept = append(kept, content[i], content[i+1])
		}
	}
	anns.Value.YNode().Content = kept
	if len(kept) == 0 {
		_, err := md.Value.Pipe(yaml.Clear(yaml.AnnotationsField))
		return src, err
	}
	return src, nil
}

// WriteStats counts what a write did to config-root.
type WriteStats struct {
	// Added counts files that did not exist before.
	Added int
	// Changed counts files whose contents changed.
	Changed int
	// Unchanged counts files left byte-identical.
	Unchanged int
	// Removed counts files deleted because their resource is gone.
	Removed int
}

// Written counts the files added or changed.
func (s WriteStats) Written() int { return s.Added + s.Changed }

// WriteAtomic replaces the folder dir with exactly files: it writes them into a temporary
// folder beside dir, then swaps the two (in one atomic exchange on Linux), so that dir holds
// either the old tree or the new one, never a mix (except where dir cannot be renamed: see
// swap). When nothing changed, dir is left untouched (not even rewritten). On
// error, dir is as it was and the temporary folder is gone.
func WriteAtomic(dir string, files Files) (WriteStats, error) {
	old, err := readTree(dir)
	if err != nil {
		return WriteStats{}, err
	}
	return writeAtomic(dir, files, old)
}

// writeAtomic is WriteAtomic over old, the tree dir holds as readTree read it (a render
// limited by selectors has read it already: reading 2,000 files twice cost a tenth of it).
func writeAtomic(dir string, files, old Files) (WriteStats, error) {
	var st WriteStats
	unchanged := map[string]bool{}
	for p, data := range files {
		prev, ok := old[p]
		switch {
		case !ok:
			st.Added++
		case bytes.Equal(prev, data):
			st.Unchanged++
			unchanged[p] = true
		default:
			st.Changed++
		}
	}
	for p := range old {
		if _, ok := files[p]; !ok {
			st.Removed++
		}
	}
	if st.Written() == 0 && st.Removed == 0 && old != nil {
		return st, nil
	}

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return WriteStats{}, fmt.Errorf("write %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		return WriteStats{}, fmt.Errorf("write %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return WriteStats{}, fmt.Errorf("write %s: %w", dir, err)
	}
	// A file left as it was is hard-linked from the old tree rather than written again: a
	// render that changes one release of fifty writes that release's files, not 65 MB.
	// configroot never writes into a file it has written (it replaces it), so the two trees
	// sharing an inode is safe; where linking fails, the file is written.
	made := map[string]bool{}
	for _, p := range files.Paths() {
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if d := filepath.Dir(dst); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return WriteStats{}, fmt.Errorf("write %s: %w", dir, err)
			}
			made[d] = true
		}
		if unchanged[p] {
			if err := os.Link(filepath.Join(dir, filepath.FromSlash(p)), dst); err == nil {
				continue
			}
		}
		if err := os.WriteFile(dst, files[p], 0o644); err != nil {
			return WriteStats{}, fmt.Errorf("write %s: %w", filepath.Join(dir, p), err)
		}
	}
	if err := swap(dir, tmp, files, old, unchanged, dirOps{rename: os.Rename, exchange: exchange}); err != nil {
		return WriteStats{}, err
	}
	return st, nil
}

// swap puts tmp, which holds files, in the place of dir, which holds old (nil: dir does not
// exist); unchanged names the paths whose content is the same in both. Where the system can exchange two paths in one step (Linux's renameat2
// RENAME_EXCHANGE), dir is never missing; elsewhere dir is renamed aside first and restored
// if the second rename fails. Where a directory cannot be renamed at all (EXDEV: overlayfs,
// the filesystem of Docker's and Dagger's containers, refuses to rename a directory of a
// lower layer unless mounted with redirect_dir), dir is updated in place (replaceInPlace).
func swap(dir, tmp string, files, old Files, unchanged map[string]bool, ops dirOps) error {
	rename := ops.rename
	if old == nil {
		if err := rename(tmp, dir); err != nil {
			return fmt.Errorf("write %s: %w", dir, err)
		}
		return nil
	}
	if err := ops.exchange(tmp, dir); err == nil {
		// tmp now holds the previous tree; the caller's deferred RemoveAll drops it.
		return nil
	}
	backup := tmp + ".old"
	if err := rename(dir, backup); errors.Is(err, syscall.EXDEV) {
		return replaceInPlace(dir, tmp, files, old, unchanged, rename)
	} else if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if err := rename(tmp, dir); err != nil {
		if rerr := rename(backup, dir); rerr != nil {
			return fmt.Errorf("write %s: %w (and restoring it from %s failed: %v)", dir, err, backup, rerr)
		}
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if err := os.RemoveAll(backup); err != nil {
		return fmt.Errorf("write %s: remove previous tree %s: %w", dir, backup, err)
	}
	return nil
}

// dirOps are the renames swap uses: os.Rename and exchange, but in tests.
type dirOps struct {
	rename, exchange func(from, to string) error
}

// replaceInPlace makes dir hold exactly files when dir itself cannot be renamed: each added
// or changed file is renamed from tmp over its old version (a file rename is atomic, and
// works on overlayfs), then the files of old that files lacks are removed, then the folders
// left empty. Every file is whole at every moment, but until it returns dir mixes old and
// new files; the render is complete in tmp before it starts, so only an I/O error can stop
// it halfway, and the error says so (a re-render finishes the job).
func replaceInPlace(dir, tmp string, files, old Files, unchanged map[string]bool, rename func(from, to string) error) error {
	halfway := func(err error) error {
		return fmt.Errorf("write %s in place (it cannot be renamed on this filesystem): %w; it now mixes old and new files: render again", dir, err)
	}
	for _, p := range files.Paths() {
		if unchanged[p] {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return halfway(err)
		}
		if err := rename(filepath.Join(tmp, filepath.FromSlash(p)), dst); err != nil {
			return halfway(err)
		}
	}
	var gone []string
	for p := range old {
		if _, ok := files[p]; !ok {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return halfway(err)
		}
	}
	return removeEmptyDirs(dir)
}

// removeEmptyDirs removes the folders under dir (not dir itself) that hold nothing, deepest
// first.
func removeEmptyDirs(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != dir {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		entries, err := os.ReadDir(dirs[i])
		if err != nil {
			return fmt.Errorf("write %s: %w", dir, err)
		}
		if len(entries) == 0 {
			if err := os.Remove(dirs[i]); err != nil {
				return fmt.Errorf("write %s: %w", dir, err)
			}
		}
	}
	return nil
}

// ReadFiles returns every regular file under dir by slash path relative to dir. A missing
// dir is an error wrapping fs.ErrNotExist.
func ReadFiles(dir string) (Files, error) {
	files := Files{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return files, nil
}

// readTree reads the config-root about to be replaced: nil when dir does not exist, an
// error when it is not a folder.
func readTree(dir string) (Files, error) {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("write %s: exists and is not a folder", dir)
	}
	return ReadFiles(dir)
}
