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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// inputsFormat names the layout of repoInputs; another value is ignored.
const inputsFormat = "configroot-render-inputs/v2"

// repoInputs is what a cached render keeps of the repo it rendered, to guess the next
// time, before helmfile build has keyed the releases, which releases a change touches: the
// repo's files as they were, and which releases read which values file and chart folder.
// The guess only decides what helm renders while the keys are computed (renderAhead); the
// keys alone decide what the render uses.
type repoInputs struct {
	Format string `json:"format"`
	// Files are the repo's files (slash paths relative to it; .git, config-root, the cache
	// and what helm dependency build writes left out).
	Files map[string]fileStamp `json:"files"`
	// Values maps each values and secrets file of a release (slash path relative to the
	// repo) to the releases ("<namespace>/<name>") that list it, as `helmfile build`
	// without --embed-values lists them.
	Values map[string][]string `json:"values,omitempty"`
	// Charts maps each local chart folder (slash path relative to the repo) to the
	// releases of that chart.
	Charts map[string][]string `json:"charts,omitempty"`
	// Helmfiles are the repo's helmfiles and environment values files (slash paths).
	Helmfiles []string `json:"helmfiles,omitempty"`
	// Releases counts the releases of the helmfile.
	Releases int `json:"releases,omitempty"`
	// Always are the releases every cached render renders: those the cache cannot key.
	Always []string `json:"always,omitempty"`
	// Registry is true when the helmfile pulls charts from an OCI registry: helmfile logs
	// in to it (helm registry login writes the registry's config file), which two
	// helmfile processes must not do at once.
	Registry bool `json:"registry,omitempty"`
	// Hooks is true when the helmfile or a release has hooks: helmfile build runs the
	// prepare hooks as helmfile template does, and they may write files the other reads.
	Hooks bool `json:"hooks,omitempty"`
}

// fileStamp is a file as a render saw it: its size (bytes), modification time (ns) and,
// for a file the helmfile names (a values file, a file of a chart folder, a helmfile),
// its SHA-256 (hex). Other files, which may hold anything (an .env, a token), are never
// read: their size stands for their content from one render to the next.
type fileStamp struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"`
	Sum     string `json:"sum,omitempty"`
}

// sameAs reports whether the file is as it was: the same digest where both have one,
// else the same size.
func (s fileStamp) sameAs(was fileStamp) bool {
	if s.Sum != "" && was.Sum != "" {
		return s.Sum == was.Sum
	}
	return s.Size == was.Size
}

// hasMapping reports whether the inputs say which releases read which file.
func (in repoInputs) hasMapping() bool { return in.Format == inputsFormat && in.Releases > 0 }

// named reports whether the helmfile names the file p (slash path): a values or secrets
// file, a file of a local chart folder, a helmfile or an environment values file.
func (in repoInputs) named(p string) bool {
	return slices.Contains(in.Helmfiles, p) || len(in.readers(p)) > 0
}

// readers returns the releases that read the file p (slash path): as a values or secrets
// file, or as a file of their chart folder.
func (in repoInputs) readers(p string) []string {
	rs := in.Values[p]
	for dir, chart := range in.Charts {
		if strings.HasPrefix(p, dir+"/") {
			rs = append(slices.Clip(rs), chart...)
		}
	}
	return rs
}

// aheadRender is a `helmfile template` of the releases a cached render guesses it must
// render, run while helmfile build keys the releases: when the keys agree with the guess,
// and no file of the repo changed meanwhile, the render lays out its output instead of
// running helmfile template after the keys. Its output holds Secret values: close removes
// it. The fields below wg are the goroutine's until wait returns.
type aheadRender struct {
	file   string   // the inputs state
	source string   // the repo, absolute
	skip   []string // folders left out of the stamps, absolute
	start  time.Time
	waited bool
	wg     sync.WaitGroup

	inputs  repoInputs // the files as this render found them, the mapping the last one saved
	refresh bool       // the mapping does not cover what changed: list it again after the render
	guess   []releaseKey
	dir     string // helmfile template's output folder
	log     bytes.Buffer
	err     error
}

// renderAhead starts, on a goroutine, what aheadRender describes: it stamps the repo's
// files, compares them with the inputs saved by the last cached render of o.Source into
// o.Output, and runs helmfile template for the releases that read a changed file (plus
// those rendered every time) when every changed file is one the helmfile names, the
// releases are at most maxAhead, and no two helmfile processes can get in each other's way
// (no registry login, no hooks, no configHash rule, whose readers the guess does not know).
// It returns nil when the repo's folders cannot be named.
func (o Options) renderAhead(ctx context.Context, cfg Config, tmpl TemplateOptions) *aheadRender {
	source, err := filepath.Abs(o.Source)
	if err != nil {
		return nil
	}
	output, err := filepath.Abs(o.Output)
	if err != nil {
		return nil
	}
	cache, err := filepath.Abs(o.Cache)
	if err != nil {
		return nil
	}
	h := sha256.New()
	for _, s := range []string{source, output, fileOr(tmpl.File), tmpl.Environment} {
		writeField(h, "", []byte(s))
	}
	a := &aheadRender{
		file:   filepath.Join(cache, "render", "inputs", hex.EncodeToString(h.Sum(nil))[:32]+".json"),
		source: source,
		skip:   []string{filepath.Join(source, ".git"), output, cache},
		start:  time.Now(),
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.run(ctx, o, cfg, tmpl)
	}()
	return a
}

// run is renderAhead's goroutine.
func (a *aheadRender) run(ctx context.Context, o Options, cfg Config, tmpl TemplateOptions) {
	prev := loadInputs(a.file)
	files, err := stampFiles(a.source, a.skip, prev.Files, prev.named, time.Time{})
	if err != nil {
		fmt.Fprintf(&a.log, "cache: %v (no release is rendered ahead)\n", err)
		return
	}
	a.inputs = prev
	a.inputs.Format, a.inputs.Files = inputsFormat, files
	guess, mapped := prev.guess(files)
	a.refresh = !mapped
	if !mapped || len(guess) == 0 || len(guess) > maxAhead(prev.Releases) || prev.Registry || prev.Hooks || configHashReaders(cfg) != nil {
		return
	}
	if a.dir, err = os.MkdirTemp("", "configroot-ahead-"); err != nil {
		a.dir = ""
		return
	}
	a.guess = guess
	t := tmpl
	t.Selectors = selectorsOf(guess)
	cmd := o.helmfileCommand(TemplateArgs(t, a.dir))
	cmd.Output = a.dir
	a.err = o.Runner.Run(ctx, cmd, &a.log, &a.log)
}

// maxAhead is how many of n releases a render renders ahead at most: a wrong guess costs
// the time helm takes for them (the render waits for it before it runs helmfile again),
// and a change to more releases than that renders long enough for the keys' time not to
// matter.
func maxAhead(n int) int { return max(4, n/4) }

// wait waits for what renderAhead started and copies its output (helmfile's, the notes)
// to log. The render waits before it reads a chart folder or runs helmfile again: helm
// dependency build writes into a local chart's charts/ folder.
func (a *aheadRender) wait(log io.Writer) {
	if a == nil || a.waited {
		return
	}
	a.wg.Wait()
	a.waited = true
	_, _ = log.Write(a.log.Bytes())
	a.log.Reset()
}

// use returns the folder helmfile template rendered the releases of rerender into, when
// they are exactly the releases guessed, it succeeded, and no file of the repo changed
// since it started (a file saved in between could give the keys one content and the
// output another); "" otherwise. Call it after wait.
func (a *aheadRender) use(rerender []releaseKey, log io.Writer) string {
	if a == nil || !a.waited || a.dir == "" || a.err != nil || len(rerender) != len(a.guess) {
		return ""
	}
	for i := range rerender {
		if rerender[i].String() != a.guess[i].String() {
			return ""
		}
	}
	// A file written in the second the render started may keep its time: read it again.
	now, err := stampFiles(a.source, a.skip, a.inputs.Files, a.inputs.named, a.start.Add(-time.Second))
	if err != nil || !maps.EqualFunc(now, a.inputs.Files, func(x, y fileStamp) bool { return x == y }) {
		fmt.Fprintf(log, "cache: a file of %s changed while the releases were keyed: rendering them again\n", a.source)
		return ""
	}
	return a.dir
}

// close waits for what renderAhead started and removes its output.
func (a *aheadRender) close(log io.Writer) {
	if a == nil {
		return
	}
	a.wait(log)
	if a.dir != "" {
		_ = os.RemoveAll(a.dir)
		a.dir = ""
	}
}

// save writes the inputs for the next render: the files as this render found them, the
// mapping (listed again with `helmfile build` when what changed was not in it: after the
// render, since that build too runs hooks and logs in to registries) and the releases of
// keys the cache cannot key.
func (a *aheadRender) save(ctx context.Context, o Options, tmpl TemplateOptions, keys []releaseKey) error {
	if a == nil {
		return nil
	}
	a.wait(o.Log)
	if a.inputs.Files == nil {
		return nil
	}
	in := a.inputs
	if a.refresh {
		mapped, err := o.releaseInputs(ctx, tmpl, a.source)
		if err == nil {
			// Digest the files the helmfile names now, as they are now: a file saved since
			// the render started then looks unchanged next time, and the keys, not the
			// guess, render it.
			mapped.Files, err = stampFiles(a.source, a.skip, in.Files, mapped.named, time.Time{})
		}
		if err != nil {
			in = repoInputs{Format: inputsFormat, Files: in.Files} // no mapping: no guess next time
			fmt.Fprintf(o.Log, "cache: %v (no release is rendered ahead next time)\n", err)
		} else {
			mapped.Format = inputsFormat
			in = mapped
		}
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

// guess returns the releases to render given files, the repo now: those that read a
// values file or a chart folder that changed since in's files (and those rendered every
// time), sorted by namespace and name; and whether every file that changed, appeared or
// went is one the mapping names.
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
		readers := in.readers(p)
		if len(readers) == 0 || slices.Contains(in.Helmfiles, p) {
			mapped = false // a file the mapping does not name, or a helmfile, which changes it
			return
		}
		for _, r := range readers {
			picked[r] = true
		}
	}
	for p, st := range files {
		if was, ok := in.Files[p]; !ok || !st.sameAs(was) {
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
// is not worth reading a repo's archives on every render.
const maxDigested = 8 << 20

// stampFiles stamps every regular file below root but those below skip (absolute paths),
// and what helm dependency build writes into a chart (charts/*.tgz, tmpcharts*/). It
// digests the files digest names (slash paths) on every core, but those over maxDigested,
// and those whose size and time are as in prev and whose time is before racy (zero: any
// time), which keep prev's digest.
func stampFiles(root string, skip []string, prev map[string]fileStamp, digest func(string) bool, racy time.Time) (map[string]fileStamp, error) {
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
			if p != root && (slices.Contains(skip, p) || strings.HasPrefix(d.Name(), "tmpcharts")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || (strings.HasSuffix(d.Name(), ".tgz") && filepath.Base(filepath.Dir(p)) == "charts") {
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
		if !digest(e.path) || e.stamp.Size > maxDigested {
			return nil
		}
		if was, ok := prev[e.path]; ok && was.Sum != "" && was.Size == e.stamp.Size && was.ModTime == e.stamp.ModTime &&
			(racy.IsZero() || e.stamp.ModTime < racy.UnixNano()) {
			e.stamp.Sum = was.Sum
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
// releases read which file of the repo at source (mapInputs).
func (o Options) releaseInputs(ctx context.Context, tmpl TemplateOptions, source string) (repoInputs, error) {
	var build bytes.Buffer
	t := tmpl
	t.Selectors = nil
	cmd := o.helmfileCommand(append(globalArgs(t), "build"))
	if err := o.Runner.Run(ctx, cmd, &build, nil); err != nil {
		var exit *ExecError
		if errors.As(err, &exit) {
			return repoInputs{}, fmt.Errorf("helmfile build: %s", lastLine(exit))
		}
		return repoInputs{}, fmt.Errorf("helmfile build: %w", err)
	}
	return mapInputs(build.Bytes(), source)
}

// mapInputs reads the output of `helmfile build` (without --embed-values): each release's
// values and secrets files and local chart folder (localChartFolder), relative to the
// folder of the helmfile that names them, as slash paths relative to source (files outside
// source are left out); the helmfiles and environment values files; whether a chart comes
// from an OCI registry (an `oci: true` repository, or an oci:// chart); whether there are
// hooks.
func mapInputs(build []byte, source string) (repoInputs, error) {
	in := repoInputs{Values: map[string][]string{}, Charts: map[string][]string{}}
	rel := func(dir, p string) (string, bool) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		r, err := filepath.Rel(source, p)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.ToSlash(r), true
	}
	add := func(m map[string][]string, dir, p, release string) {
		if r, ok := rel(dir, p); ok && !slices.Contains(m[r], release) {
			m[r] = append(m[r], release)
		}
	}
	files := func(list *yaml.RNode) ([]string, error) {
		if list == nil {
			return nil, nil
		}
		entries, err := list.Elements()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			if e.YNode().Kind == yaml.ScalarNode {
				names = append(names, e.YNode().Value)
			}
		}
		return names, nil
	}
	states, err := helmfileStates(build, source)
	if err != nil {
		return repoInputs{}, err
	}
	for _, st := range states {
		doc, dir := st.doc, source
		if st.file != "" {
			if r, ok := rel(source, st.file); ok && !slices.Contains(in.Helmfiles, r) {
				in.Helmfiles = append(in.Helmfiles, r)
			}
			dir = filepath.Dir(st.file)
		}
		if doc.Field("hooks") != nil {
			in.Hooks = true
		}
		if envs := doc.Field("environments"); envs != nil {
			err := envs.Value.VisitFields(func(env *yaml.MapNode) error {
				values := env.Value.Field("values")
				if values == nil {
					return nil
				}
				names, err := files(values.Value)
				for _, n := range names {
					if r, ok := rel(dir, n); ok && !slices.Contains(in.Helmfiles, r) {
						in.Helmfiles = append(in.Helmfiles, r)
					}
				}
				return err
			})
			if err != nil {
				return repoInputs{}, fmt.Errorf("helmfile build: environments: %w", err)
			}
		}
		if repos := doc.Field("repositories"); repos != nil {
			entries, err := repos.Value.Elements()
			if err != nil {
				return repoInputs{}, fmt.Errorf("helmfile build: repositories: %w", err)
			}
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
		for _, r := range elements {
			name, ns := scalarField(r, "name"), scalarField(r, "namespace")
			if ns == "" {
				ns = HermeticNamespace
			}
			id := Release{Name: name, Namespace: ns}.String()
			in.Releases++
			if strings.HasPrefix(scalarField(r, "chart"), "oci://") {
				in.Registry = true
			}
			if r.Field("hooks") != nil {
				in.Hooks = true
			}
			if p := localChartFolder(r); p != "" {
				add(in.Charts, dir, p, id)
			}
			for _, list := range []string{"values", "secrets"} {
				f := r.Field(list)
				if f == nil {
					continue
				}
				names, err := files(f.Value)
				if err != nil {
					return repoInputs{}, fmt.Errorf("helmfile build: release %s: %s: %w", id, list, err)
				}
				for _, n := range names {
					add(in.Values, dir, n, id)
				}
			}
		}
	}
	sort.Strings(in.Helmfiles)
	return in, nil
}

// scalarField returns the value of field of n when it is a scalar, or "".
func scalarField(n *yaml.RNode, field string) string {
	if f := n.Field(field); f != nil && f.Value.YNode().Kind == yaml.ScalarNode {
		return f.Value.YNode().Value
	}
	return ""
}
