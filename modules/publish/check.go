package publish

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/configroot/configroot/modules/render"
)

// Check renders o afresh into a temporary folder (o.Output is ignored) and compares the
// result with the committed config-root folder dir; a missing dir counts as empty. It is the
// regen check of a pull request: an empty Diff means dir is up to date.
func Check(ctx context.Context, o render.Options, dir string) (Diff, error) {
	tmp, err := os.MkdirTemp("", "configroot-check-")
	if err != nil {
		return Diff{}, err
	}
	defer os.RemoveAll(tmp)
	o.Output = filepath.Join(tmp, "config-root")
	if _, err := render.Render(ctx, o); err != nil {
		return Diff{}, err
	}
	fresh, err := readFilesOrEmpty(o.Output)
	if err != nil {
		return Diff{}, err
	}
	committed, err := readFilesOrEmpty(dir)
	if err != nil {
		return Diff{}, err
	}
	return Compare(committed, fresh), nil
}

// readFilesOrEmpty reads a tree; a missing one (an empty render, a repo never rendered) is
// empty.
func readFilesOrEmpty(dir string) (render.Files, error) {
	files, err := render.ReadFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return render.Files{}, nil
	}
	return files, err
}
