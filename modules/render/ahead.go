package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// inputsFormat names the layout of repoInputs; another value is ignored.
const inputsFormat = "configroot-render-inputs/v1"

// repoInputs is what a cached render keeps of the repo it rendered, to guess the next
// time, before helmfile build has keyed the releases, which releases a change touches: the
// repo's files as they were, and which releases read which values file and chart folder.
// The guess only decides what helm renders while the keys are computed (renderAhead); the
// keys alone decide what the render uses.
type repoInputs struct {
	Format string `json:"format"`
	// Files are the repo's files (slash paths relative to it; .git, config-root and the
	// cache left out).
	Files map[string]fileStamp `json:"files"`
	// Values maps each values and secrets file of a release (slash path relative to the
	// repo) to the releases ("<namespace>/<name>") that list it, as `helmfile build`
	// without --embed-values lists them.
	Values map[string][]string `json:"values,omitempty"`
	// Charts maps each local chart folder (slash path relative to the repo) to the
	// releases of that chart.
	Charts map[string][]string `json:"charts,omitempty"`
	// Releases counts the releases of the helmfile.
	Releases int `json:"releases,omitempty"`
	// Always are the releases every cached render renders: those the cache cannot key.
	Always []string `json:"always,omitempty"`
	// Registry is true when the helmfile pulls charts from an OCI registry: helmfile logs
	// in to it (helm registry login writes the registry's config file), which two
	// helmfile processes must not do at once; nothing is rendered ahead then.
	Registry bool `json:"registry,omitempty"`
}

// fileStamp is a file as a render saw it: its size, modification time (ns) and SHA-256
// (hex). The digest is read again only when the size or the time changed; a checkout
// that changes the time alone keeps the digest.
type fileStamp struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"`
	Sum     string `json:"sum"`
}

// hasMapping reports whether the inputs say which releases read which file.
func (in repoInputs) hasMapping() bool { return in.Format == inputsFormat && in.Releases > 0 }

// aheadRender is a `helmfile template` of the releases a cached render guesses it must
// render, run while helmfile build keys the releases: when the keys agree with the guess,
// the render lays out its output instead of running helmfile template after the keys.
// It also refreshes the inputs' mapping (helmfile build without --embed-values) when a
// file it does not map changed. Its output holds Secret values: close removes it.
type aheadRender struct {
	file   string     // the inputs state
	inputs repoInputs // now: the files as this render found them, the mapping it knows
	guess  []releaseKey
	dir    string // helmfile template's output folder
	log    bytes.Buffer
	err    error
	wg     sync.WaitGroup
	// refreshed is the mapping of helmfile build when it ran (nil otherwise, or when it
	// failed).
	refreshed *repoInputs
}

// renderAhead looks at which of the repo's files changed since the inputs saved by the last
// cached render of o.Source into o.Output, and starts helmfile template for the releases
// that read them (plus the releases rendered every time), when that is at most
// maxAhead(releases). It returns nil when the repo's folders cannot be named.
func (o Options) renderAhead(ctx context.Context, cfg Config, tmpl TemplateOptions) *aheadRender {
	source, err := filepath.Abs(o.Source)
	if err != nil {
		return nil
	}
	output, err := filepath.Abs(o.Output)
	if err != nil {
		return nil
	}
	h := sha256.New()
	for _, s := range []string{source, output, fileOr(tmpl.File), tmpl.Environment} {
		writeField(h, "", []byte(s))
	}
	a := &aheadRender{file: filepath.Join(o.Cache, "render", "inputs", hex.EncodeToString(h.Sum(nil))[:32]+".json")}
	prev := loadInputs(a.file)
	cache, _ := filepath.Abs(o.Cache)
	files, err := stampFiles(source, []string{filepath.Join(source, ".git"), output, cache}, prev.Files)
	if err != nil {
		fmt.Fprintf(&a.log, "cache: %v (no release is rendered ahead)\n", err)
		return a
	}
	a.inputs = repoInputs{Format: inputsFormat, Files: files, Values: prev.Values, Charts: prev.Charts, Releases: prev.Releases, Registry: prev.Registry}
	guess, mapped := prev.guess(files)
	if !mapped {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.refreshed = o.releaseInputs(ctx, tmpl, source)
		}()
	}
	if len(guess) == 0 || len(guess) > maxAhead(prev.Releases) || prev.Registry || configHashReaders(cfg) != nil {
		// configHash rules add readers the guess does not know of.
		return a
	}
	a.guess = guess
	if a.dir, err = os.MkdirTemp("", "configroot-ahead-"); err != nil {
		a.guess, a.dir = nil, ""
		return a
	}
	t := tmpl
	t.Selectors = selectorsOf(guess)
	cmd := Command{Dir: o.Source, Name: o.Helmfile, Args: TemplateArgs(t, a.dir), Output: a.dir, Env: o.helmfileEnv(), Unset: UnsetVariables}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.err = o.Runner.Run(ctx, cmd, &a.log, &a.log)
	}()
	return a
}

// maxAhead is how many of n releases a render renders ahead at most: a wrong guess costs
// the time helm takes for them (the render waits for it before it removes their output),
// and a change to more releases than that renders long enough for the keys' time not to
// matter.
func maxAhead(n int) int { return max(4, n/4) }

// use returns the folder helmfile template rendered the releases of rerender into, when
// they are exactly the releases guessed and it succeeded; "" otherwise. It waits for the
// run.
func (a *aheadRender) use(rerender []releaseKey) string {
	if a == nil || a.dir == "" || len(rerender) != len(a.guess) {
		return ""
	}
	for i := range rerender {
		if rerender[i].String() != a.guess[i].String() {
			return ""
		}
	}
	a.wg.Wait()
	if a.err != nil {
		return ""
	}
	return a.dir
}

// close waits for what renderAhead started, copies its log into log and removes its output.
// Waiting, rather than killing helmfile, is what makes sure no helm it started writes a
// Secret into the folder after it is removed.
func (a *aheadRender) close(log io.Writer) {
	if a == nil {
		return
	}
	a.wg.Wait()
	if a.dir != "" {
		_ = os.RemoveAll(a.dir)
		a.dir = ""
	}
	_, _ = log.Write(a.log.Bytes())
	a.log.Reset()
}

// save writes the inputs for the next render: the files as this render found them, the
// mapping (refreshed, or the one it had) and the releases of keys the cache cannot key.
func (a *aheadRender) save(keys []releaseKey) error {
	if a == nil || a.inputs.Files == nil {
		return nil
	}
	a.wg.Wait()
	in := a.inputs
	if a.refreshed != nil {
		in.Values, in.Charts, in.Releases, in.Registry = a.refreshed.Values, a.refreshed.Charts, a.refreshed.Releases, a.refreshed.Registry
	}
	in.Always = nil
	for _, k := range keys {
		if k.Key == "" {
			in.Always = append(in.Always, k.String())
		}
	}
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("save %s: %w", a.file, err)
	}
	dir := filepath.Dir(a.file)
	if err := writeFileAtomic(dir, filepath.Base(a.file), data); err != nil {
		return err
	}
	return stateStore{dir: dir}.prune()
}

// guess returns the releases that read a file of files that is not as in (sorted by
// namespace and name, with those rendered every time), and whether every changed file is
// one the mapping names.
func (in repoInputs) guess(files map[string]fileStamp) ([]releaseKey, bool) {
	if !in.hasMapping() {
		return nil, false
	}
	picked := map[string]bool{}
	for _, r := range in.Always {
		picked[r] = true
	}
	mapped := true
	changed := func(p string) {
		if rs, ok := in.Values[p]; ok {
			for _, r := range rs {
				picked[r] = true
			}
			return
		}
		found := false
		for dir, rs := range in.Charts {
			if strings.HasPrefix(p, dir+"/") {
				found = true
				for _, r := range rs {
					picked[r] = true
				}
			}
		}
		if !found {
			mapped = false
		}
	}
	for p, st := range files {
		if was, ok := in.Files[p]; !ok || was.Sum != st.Sum {
			changed(p)
		}
	}
	for p := range in.Files {
		if _, ok := files[p]; !ok {
			changed(p)
		}
	}
	guess := make([]releaseKey, 0, len(picked))
	for r := range picked {
		ns, name, _ := strings.Cut(r, "/")
		guess = append(guess, releaseKey{Release: Release{Namespace: ns, Name: name}})
	}
	sort.Slice(guess, func(i, j int) bool { return guess[i].String() < guess[j].String() })
	return guess, mapped
}

// loadInputs reads the inputs a render saved; a missing, unreadable or foreign file gives
// empty inputs.
func loadInputs(file string) repoInputs {
	data, err := os.ReadFile(file)
	if err != nil {
		return repoInputs{}
	}
	var in repoInputs
	if json.Unmarshal(data, &in) != nil || in.Format != inputsFormat {
		return repoInputs{}
	}
	return in
}

// maxDigested is the size (bytes) beyond which stampFiles does not read a file: a guess
// is not worth reading a repo's disk images or archives on every render.
const maxDigested = 8 << 20

// stampFiles stamps every regular file below root but those below skip (absolute paths);
// a file whose size and time are those of prev keeps prev's digest, the others are read
// (on every core), but those over maxDigested.
func stampFiles(root string, skip []string, prev map[string]fileStamp) (map[string]fileStamp, error) {
	type entry struct {
		path  string
		stamp fileStamp
	}
	var entries []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && slices.Contains(skip, p) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		entries = append(entries, entry{filepath.ToSlash(rel), fileStamp{Size: info.Size(), ModTime: info.ModTime().UnixNano()}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	err = forEach(len(entries), func(i int) error {
		e := &entries[i]
		if was, ok := prev[e.path]; ok && was.Size == e.stamp.Size && was.ModTime == e.stamp.ModTime {
			e.stamp.Sum = was.Sum
			return nil
		}
		if e.stamp.Size > maxDigested {
			// Not worth reading: its time stands for its content.
			e.stamp.Sum = fmt.Sprintf("mtime:%d", e.stamp.ModTime)
			return nil
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(e.path)))
		if err != nil {
			return fmt.Errorf("read %s: %w", root, err)
		}
		sum := sha256.Sum256(data)
		e.stamp.Sum = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		return nil, err
	}
	files := make(map[string]fileStamp, len(entries))
	for _, e := range entries {
		files[e.path] = e.stamp
	}
	return files, nil
}

// releaseInputs runs `helmfile build` (values files named, not embedded) and returns which
// releases read which values file and local chart folder of the repo at source; nil when
// it fails.
func (o Options) releaseInputs(ctx context.Context, tmpl TemplateOptions, source string) *repoInputs {
	var build bytes.Buffer
	t := tmpl
	t.Selectors = nil
	cmd := Command{Dir: o.Source, Name: o.Helmfile, Args: append(globalArgs(t), "build"), Env: o.helmfileEnv(), Unset: UnsetVariables}
	if err := o.Runner.Run(ctx, cmd, &build, nil); err != nil {
		return nil
	}
	in, err := mapInputs(build.Bytes(), source)
	if err != nil {
		return nil
	}
	return &in
}

// mapInputs reads the output of `helmfile build` (without --embed-values): each release's
// values and secrets files and local chart folder, relative to the folder of the helmfile
// that names them, as slash paths relative to source (files outside source are left out),
// and whether a chart comes from an OCI registry (an `oci: true` repository, or an oci://
// chart).
func mapInputs(build []byte, source string) (repoInputs, error) {
	in := repoInputs{Values: map[string][]string{}, Charts: map[string][]string{}}
	add := func(m map[string][]string, dir, p, release string) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		rel, err := filepath.Rel(source, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return
		}
		rel = filepath.ToSlash(rel)
		if !slices.Contains(m[rel], release) {
			m[rel] = append(m[rel], release)
		}
	}
	for _, chunk := range splitDocuments(build) {
		doc, err := yaml.Parse(string(chunk))
		if errors.Is(err, io.EOF) || (err == nil && doc.IsNilOrEmpty()) {
			continue
		}
		if err != nil {
			return repoInputs{}, fmt.Errorf("helmfile build: unexpected output: %w", err)
		}
		dir := source
		if m := sourceLine.FindSubmatch(chunk); m != nil {
			dir = filepath.Dir(strings.TrimSpace(string(m[1])))
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(source, dir)
			}
		}
		if repos := doc.Field("repositories"); repos != nil {
			entries, _ := repos.Value.Elements()
			for _, e := range entries {
				if scalarField(e, "oci") == "true" {
					in.Registry = true
				}
			}
		}
		releases := doc.Field("releases")
		if releases == nil {
			continue
		}
		elements, err := releases.Value.Elements()
		if err != nil {
			return repoInputs{}, fmt.Errorf("helmfile build: releases: %w", err)
		}
		for _, rel := range elements {
			name, ns := scalarField(rel, "name"), scalarField(rel, "namespace")
			if ns == "" {
				ns = HermeticNamespace
			}
			id := Release{Name: name, Namespace: ns}.String()
			in.Releases++
			if strings.HasPrefix(scalarField(rel, "chart"), "oci://") {
				in.Registry = true
			}
			if p := localChartFolder(rel); p != "" {
				add(in.Charts, dir, p, id)
			}
			for _, list := range []string{"values", "secrets"} {
				f := rel.Field(list)
				if f == nil {
					continue
				}
				entries, _ := f.Value.Elements()
				for _, e := range entries {
					if e.YNode().Kind == yaml.ScalarNode {
						add(in.Values, dir, e.YNode().Value, id)
					}
				}
			}
		}
	}
	return in, nil
}

// scalarField returns the value of field of n when it is a scalar, or "".
func scalarField(n *yaml.RNode, field string) string {
	if f := n.Field(field); f != nil && f.Value.YNode().Kind == yaml.ScalarNode {
		return f.Value.YNode().Value
	}
	return ""
}
