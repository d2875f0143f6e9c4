package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// cacheFormat names the layout of the cache's keys and states; a change to either (or to
// what a key covers) changes it, so that an older cache is never read as a newer one.
const cacheFormat = "configroot-render-cache/v2"

// BuildArgs returns the argument list of `helmfile build --embed-values` (without the
// program name): every release of the helmfile in o's environment as helmfile resolved it
// (templates rendered, values files read and embedded), which is what the cache keys a
// release's output on. It needs no chart of a chart repository (OCI charts are pulled, as
// helmfile template would).
func BuildArgs(o TemplateOptions) []string {
	o.Selectors = nil
	return append(globalArgs(o), "build", "--embed-values")
}

// releaseKey is one release of the helmfile and the cache key of its output.
type releaseKey struct {
	Release
	// Key is the hex SHA-256 of everything the release's `helm template` output depends
	// on; empty when the release is not cacheable.
	Key string
	// Reason says why the release is not cacheable ("it has hooks").
	Reason string
}

// cacheableFields are the fields of a release of `helmfile build` whose whole effect on the
// release's output is in the build's text: its identity, its chart reference, its values
// (embedded) and install-time flags helm template ignores (helmfile pkg/state ReleaseSpec).
// A release with any other field (hooks that run commands, chartify's patches and
// transformers, a post-renderer, set from a file) is rendered every time.
var cacheableFields = map[string]bool{
	"name": true, "namespace": true, "chart": true, "chartPath": true, "version": true, "labels": true,
	"values": true, "secrets": true, "set": true, "installed": true, "condition": true, "createNamespace": true,
	"apiVersions": true, "kubeVersion": true, "needs": true, "wait": true, "waitForJobs": true, "timeout": true,
	"atomic": true, "force": true, "recreatePods": true, "historyMax": true, "cleanupOnFail": true,
	"disableValidation": true, "disableOpenAPIValidation": true, "disableValidationOnInstall": true,
	"missingFileHandler": true, "skipDeps": true, "verify": true, "devel": true, "reuseValues": true,
	"kubeContext": true, "description": true,
	// How the chart is fetched: the chart's name and exact version say what is fetched.
	"plainHttp": true, "insecureSkipTLSVerify": true, "caFile": true, "certFile": true, "keyFile": true,
	"passCredentials": true,
}

// exactVersion matches a chart version that names one chart: semantic version 2.0, with an
// optional leading v, and no range operator (helm resolves "~1.2", ">=1" or an empty
// version to the newest chart that matches, which changes as the repository does).
var exactVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// releaseKeys reads the output of `helmfile build --embed-values` and returns each release
// with its key: SHA-256 of global (what every release depends on: tool versions, flags,
// configroot.yaml), the part of the helmfile document it is in that is not releases
// (repositories, helm defaults), the release entry itself, the environment's values when a
// condition reads them, and the content of its chart (a local folder's files; for a chart
// of a repository, its exact version, in the entry). Releases are sorted by namespace and
// name.
func releaseKeys(build []byte, global []byte, source string) ([]releaseKey, error) {
	charts := chartDigests{sums: map[string]chartDigest{}}
	var keys []releaseKey
	states, err := helmfileStates(build, source)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		doc := st.doc
		// A helmfile's chartPath is relative to its own folder (a sub-helmfile's is not
		// the repo's).
		dir := ""
		if st.file != "" {
			dir = filepath.Dir(st.file)
		}
		skipDeps := false
		if n, err := doc.Pipe(yaml.Lookup("helmDefaults", "skipDeps")); err == nil && n != nil {
			skipDeps = n.YNode().Value == "true"
		}
		releases, err := doc.Pipe(yaml.Lookup("releases"))
		if err != nil {
			return nil, fmt.Errorf("helmfile build: %w", err)
		}
		common := doc.Copy()
		for _, f := range []string{"releases", "renderedvalues"} {
			if _, err := common.Pipe(yaml.Clear(f)); err != nil {
				return nil, fmt.Errorf("helmfile build: %w", err)
			}
		}
		commonJSON, err := common.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("helmfile build: %w", err)
		}
		var envJSON []byte
		if env := doc.Field("renderedvalues"); env != nil {
			if envJSON, err = env.Value.MarshalJSON(); err != nil {
				return nil, fmt.Errorf("helmfile build: %w", err)
			}
		}
		if releases == nil {
			continue
		}
		elements, err := releases.Elements()
		if err != nil {
			return nil, fmt.Errorf("helmfile build: releases: %w", err)
		}
		for _, rel := range elements {
			k, err := keyRelease(rel, global, commonJSON, envJSON, dir, skipDeps, &charts)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys, nil
}

// helmfileState is one document of `helmfile build`: the state of one helmfile, and the
// helmfile's path (absolute; "" when helmfile did not name it).
type helmfileState struct {
	doc  *yaml.RNode
	file string
}

// helmfileStates reads the output of `helmfile build` (with or without --embed-values), a
// document per helmfile, each named in a "#  Source: <path>" line (relative to source, or
// absolute); documents of nothing but comments are left out.
func helmfileStates(build []byte, source string) ([]helmfileState, error) {
	var states []helmfileState
	for _, chunk := range splitDocuments(build) {
		doc, err := yaml.Parse(string(chunk))
		if errors.Is(err, io.EOF) || (err == nil && doc.IsNilOrEmpty()) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("helmfile build: unexpected output: %w", err)
		}
		st := helmfileState{doc: doc}
		if m := sourceLine.FindSubmatch(chunk); m != nil {
			st.file = strings.TrimSpace(string(m[1]))
			if !filepath.IsAbs(st.file) {
				st.file = filepath.Join(source, st.file)
			}
		}
		states = append(states, st)
	}
	return states, nil
}

// sourceLine is the comment helmfile build puts at the top of each document, naming the
// helmfile it comes from.
var sourceLine = regexp.MustCompile(`(?m)^#\s+Source:\s*(.+)$`)

// splitDocuments splits a YAML stream at its "---" lines (the embedded values are block
// content, indented: a "---" line is always a document marker).
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data) - i
		}
		line := bytes.TrimRight(data[i:i+end], "\r \t")
		if bytes.Equal(line, []byte("---")) {
			docs = append(docs, data[start:i])
			start = i + end + 1
		}
		i += end + 1
	}
	if start < len(data) {
		docs = append(docs, data[start:])
	}
	return docs
}

// keyRelease keys one release entry of helmfile build.
// dir is the folder of the release's helmfile ("" when helmfile build did not say).
// skipDeps says the helmfile's helmDefaults skip `helm dependency build`.
func keyRelease(rel *yaml.RNode, global, commonJSON, envJSON []byte, dir string, skipDeps bool, charts *chartDigests) (releaseKey, error) {
	str := func(field string) string { return scalarField(rel, field) }
	k := releaseKey{Release: Release{Name: str("name"), Namespace: str("namespace"), Chart: chartName(str("chart"))}}
	if k.Name == "" {
		return releaseKey{}, errors.New("helmfile build: a release has no name")
	}
	if k.Namespace == "" {
		k.Namespace = HermeticNamespace
	}
	fields, err := rel.Fields()
	if err != nil {
		return releaseKey{}, fmt.Errorf("helmfile build: release %s: %w", k, err)
	}
	for _, f := range fields {
		if !cacheableFields[f] {
			k.Reason = fmt.Sprintf("it sets %s, whose effect the cache does not know (hooks run commands; patches, transformers and post-renderers read files)", f)
			return k, nil
		}
	}
	if set := rel.Field("set"); set != nil {
		if entries, _ := set.Value.Elements(); slices.ContainsFunc(entries, func(e *yaml.RNode) bool { return e.Field("file") != nil }) {
			k.Reason = "it sets a value from a file"
			return k, nil
		}
	}
	var chart chartDigest
	if p := localChartFolder(rel); p != "" {
		skip := rel.Field("skipDeps") != nil && rel.Field("skipDeps").Value.YNode().Value == "true"
		chart = charts.folder(p, dir, skip || skipDeps)
	} else if v := str("version"); !exactVersion.MatchString(v) {
		chart.reason = fmt.Sprintf("its chart %s has no exact version (%q): the chart repository decides which it gets", str("chart"), v)
	}
	if chart.reason != "" {
		k.Reason = chart.reason
		return k, nil
	}
	relJSON, err := rel.MarshalJSON()
	if err != nil {
		return releaseKey{}, fmt.Errorf("helmfile build: release %s: %w", k, err)
	}
	h := sha256.New()
	writeField(h, "global", global)
	writeField(h, "helmfile", commonJSON)
	writeField(h, "release", relJSON)
	if rel.Field("condition") != nil {
		writeField(h, "environment", envJSON)
	}
	writeField(h, "chart", chart.sum)
	k.Key = hex.EncodeToString(h.Sum(nil))
	return k, nil
}

// renderedKeys keys the releases of the already rendered tree o.Rendered
// (<namespace>/<release>/<chart>/…, see ReadRendered): each on what every release shares
// (configroot's version, configroot.yaml, the filters) and the paths and contents of its
// files, the releases on every core. A tree ReadRendered would refuse is an error.
func renderedKeys(o Options, cfg Config) ([]releaseKey, string, error) {
	h, err := sharedKey(cfg, o.FiltersKey)
	if err != nil {
		return nil, "", err
	}
	writeField(h, "rendered", nil) // not keyed as a helmfile's releases are
	global := h.Sum(nil)

	fsys := os.DirFS(o.Rendered)
	releases, files, err := renderedFiles(fsys, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", o.Rendered, err)
	}
	keys := make([]releaseKey, len(releases))
	err = forEach(len(releases), func(i int) error {
		r := releases[i]
		h := sha256.New()
		writeField(h, "global", global)
		writeField(h, "release", []byte(r.String()+"/"+r.Chart))
		for _, p := range files[r] {
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			writeField(h, p, sum[:])
		}
		keys[i] = releaseKey{Release: r, Key: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("read rendered tree %s: %w", o.Rendered, err)
	}
	return keys, hex.EncodeToString(global), nil
}

// sharedKey starts the key of what every release shares: the cache's format, configroot's
// version, configroot.yaml and what the filters depend on (Options.FiltersKey).
func sharedKey(cfg Config, filtersKey string) (hash.Hash, error) {
	settings, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render cache: %w", err)
	}
	h := sha256.New()
	writeField(h, "format", []byte(cacheFormat))
	writeField(h, "configroot", []byte(selfVersion()))
	writeField(h, "configroot.yaml", settings)
	writeField(h, "filters", []byte(filtersKey))
	return h, nil
}

// localChartFolder returns the folder of a release's local chart, relative to its
// helmfile's folder (or absolute), as `helmfile build` prints the release: its chartPath,
// which helmfile sets when the prepared chart's path differs from the chart field
// (helmfile v1.8.0 pkg/app/run.go), or else the chart field itself when helmfile reads it as
// a folder ("../charts/x" from a sub-helmfile normalizes to itself, so it has no chartPath).
// "" for a chart of a repository or registry.
func localChartFolder(rel *yaml.RNode) string {
	if p := scalarField(rel, "chartPath"); p != "" {
		return p
	}
	if chart := scalarField(rel, "chart"); chart != "" && localChart(chart) {
		return chart
	}
	return ""
}

// localChart reports whether helmfile reads chart as a folder rather than as
// <repository>/<chart> (helmfile v1.8.0 pkg/state/util.go isLocalChart): it starts with
// "./" or "../", or it is no URL and is absolute, has no "/", or has other than two or
// three parts.
func localChart(chart string) bool {
	sep := string(filepath.Separator)
	switch {
	case strings.HasPrefix(chart, "."+sep) || strings.HasPrefix(chart, ".."+sep):
		return true
	case strings.Contains(chart, "://"):
		return false
	}
	parts := len(strings.Split(chart, "/"))
	return filepath.IsAbs(chart) || !strings.Contains(chart, "/") || (parts != 2 && parts != 3)
}

// writeField writes a named, length-prefixed part of a key, so that no two different
// sequences of parts hash the same bytes.
func writeField(h hash.Hash, name string, data []byte) {
	fmt.Fprintf(h, "%s %d\n", name, len(data))
	h.Write(data)
}

// chartDigest is the digest of a local chart folder, or why it cannot be keyed.
type chartDigest struct {
	sum    []byte
	reason string
}

// chartDigests digests local chart folders, each once per render (fifty releases of one
// chart read it once).
type chartDigests struct {
	sums map[string]chartDigest
}

// folder returns the digest of the chart folder p (relative to base, the folder of the
// release's helmfile, or absolute: an OCI chart helmfile pulled): every file's path, mode
// and content, in lexical order. vendored says the release skips `helm dependency build`
// (skipDeps): its charts/ folder is rendered as it is. Otherwise, for a chart that declares
// dependencies, helmfile's `helm dependency build` rewrites charts/*.tgz and Chart.lock
// (with a timestamp) from them: those files are left out, and the key covers instead the
// dependencies Chart.lock pins and, for a file:// dependency, that folder's digest. A
// chart whose dependencies come from a repository without a Chart.lock cannot be keyed:
// their version ranges would be resolved anew.
func (c *chartDigests) folder(p, base string, vendored bool) chartDigest {
	dir := filepath.FromSlash(p)
	if !filepath.IsAbs(dir) {
		if base == "" {
			return chartDigest{reason: "helmfile build did not say which helmfile it is in, so its chart folder is unknown"}
		}
		dir = filepath.Join(base, dir)
	}
	memo := fmt.Sprintf("%s\x00%t", dir, vendored)
	if d, ok := c.sums[memo]; ok {
		return d
	}
	c.sums[memo] = chartDigest{reason: "its chart's file:// dependencies depend on each other"} // until done: a cycle
	d := c.digest(dir, vendored)
	c.sums[memo] = d
	return d
}

// chartMeta is what the cache reads of Chart.yaml and Chart.lock.
type chartMeta struct {
	Dependencies []chartDependency `json:"dependencies"`
	Digest       string            `json:"digest"`
}

// chartDependency is one dependency of Chart.yaml or Chart.lock.
type chartDependency struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Repository string `json:"repository"`
}

func (c *chartDigests) digest(dir string, vendored bool) chartDigest {
	var chart, lock chartMeta
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return chartDigest{reason: fmt.Sprintf("its chart folder cannot be read (%v)", err)}
	}
	if err := sigsyaml.Unmarshal(data, &chart); err != nil {
		return chartDigest{reason: fmt.Sprintf("its chart's Chart.yaml cannot be read (%v)", err)}
	}
	h := sha256.New()
	// helm dependency build runs, and rewrites charts/ from Chart.yaml: unless a dependency
	// has no repository (its .tgz is committed in charts/: the folder counts as it is).
	built := !vendored && len(chart.Dependencies) > 0 &&
		!slices.ContainsFunc(chart.Dependencies, func(d chartDependency) bool { return d.Repository == "" })
	if built {
		data, err := os.ReadFile(filepath.Join(dir, "Chart.lock"))
		switch {
		case err == nil:
			if err := sigsyaml.Unmarshal(data, &lock); err != nil {
				return chartDigest{reason: fmt.Sprintf("its chart's Chart.lock cannot be read (%v)", err)}
			}
			lockJSON, _ := json.Marshal(lock)
			writeField(h, "Chart.lock", lockJSON)
		case !errors.Is(err, fs.ErrNotExist):
			return chartDigest{reason: fmt.Sprintf("its chart's Chart.lock cannot be read (%v)", err)}
		}
		for _, dep := range chart.Dependencies {
			if local, ok := strings.CutPrefix(dep.Repository, "file://"); ok {
				// helm dependency build packages the folder as it is, its charts/ included.
				d := c.folder(local, dir, true)
				if d.reason != "" {
					return d
				}
				writeField(h, "dependency "+dep.Repository, d.sum)
			} else if dep.Repository != "" && lock.Digest == "" {
				return chartDigest{reason: "its chart's dependencies come from a repository and have no Chart.lock"}
			}
		}
	}
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if built && (rel == "Chart.lock" || (path.Dir(rel) == "charts" && strings.HasSuffix(rel, ".tgz"))) {
			return nil // rewritten by helm dependency build from what the key covers above
		}
		info, err := os.Stat(p) // a symbolic link counts as what it points to, as helm reads it
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s %o %d\n", rel, info.Mode().Perm(), info.Size())
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return chartDigest{reason: fmt.Sprintf("its chart folder cannot be read (%v)", err)}
	}
	return chartDigest{sum: h.Sum(nil)}
}

// toolVersions runs `<helm> version --short` and `<helmfile> version -o short` through the
// runner and returns their output: part of every key, since another helm or helmfile may
// render the same inputs differently. A version already asked of the very same executable
// (toolMemo) is not asked again: the two processes cost a cached render a tenth of a
// second of CPU.
func toolVersions(ctx context.Context, o Options, tmpl TemplateOptions) (string, error) {
	helm := tmpl.HelmBinary
	if helm == "" {
		helm = "helm"
	}
	cmds := []Command{
		{Dir: o.Source, Name: helm, Args: []string{"version", "--short"}, Env: o.helmfileEnv(), Unset: UnsetVariables},
		{Dir: o.Source, Name: o.Helmfile, Args: []string{"version", "--output", "short"},
			Env: append(o.helmfileEnv(), "HELMFILE_UPGRADE_NOTICE_DISABLED=true"), Unset: UnsetVariables},
	}
	memo := toolMemo{file: filepath.Join(o.Cache, "render", "tools.json")}
	known := memo.load()
	stamps := make([]string, len(cmds))
	outs := make([]string, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i := range cmds {
		if _, ok := o.Runner.(ExecRunner); ok && !slices.ContainsFunc(o.Env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
			// exec and helmfile find the program on this process's PATH.
			stamps[i] = executableStamp(cmds[i])
		}
		if v, ok := known[stamps[i]]; ok && stamps[i] != "" {
			outs[i] = v
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			errs[i] = o.Runner.Run(ctx, cmds[i], &out, io.Discard)
			outs[i] = strings.TrimSpace(out.String())
		}()
	}
	wg.Wait()
	var b strings.Builder
	learnt := false
	for i, c := range cmds {
		if errs[i] != nil {
			return "", fmt.Errorf("render cache: %s %s: %w", c.Name, strings.Join(c.Args, " "), errs[i])
		}
		if _, ok := known[stamps[i]]; !ok && stamps[i] != "" {
			known[stamps[i]], learnt = outs[i], true
		}
		fmt.Fprintf(&b, "%s: %s\n", filepath.Base(c.Name), outs[i])
	}
	if learnt {
		_ = memo.save(known, stamps) // only the next render's speed is at stake
	}
	return b.String(), nil
}

// toolMemo keeps the versions of the executables a cached render asked, by executable
// stamp: as ccache's default compiler_check ("mtime": the compiler's size and modification
// time) trusts a compiler it has seen, with the inode and status-change time besides where
// the system has them, which no copy or package install keeps.
type toolMemo struct {
	file string
}

// load returns the versions known, by stamp; none when the file is missing or unreadable.
func (m toolMemo) load() map[string]string {
	known := map[string]string{}
	if data, err := os.ReadFile(m.file); err == nil {
		_ = json.Unmarshal(data, &known)
	}
	return known
}

// save writes the versions known; when they are more than maxStates (a machine's
// executables are few: these are old ones), only those of now, in stamps.
func (m toolMemo) save(known map[string]string, now []string) error {
	if len(known) > maxStates {
		kept := map[string]string{}
		for _, s := range now {
			if v, ok := known[s]; ok {
				kept[s] = v
			}
		}
		known = kept
	}
	data, err := json.Marshal(known)
	if err != nil {
		return fmt.Errorf("save %s: %w", m.file, err)
	}
	return writeFileAtomic(filepath.Dir(m.file), filepath.Base(m.file), data)
}

// executableStamp names the executable c runs and its arguments: its absolute path (links
// resolved), size, modification time and fileIdentity; "" when it cannot be found, and
// when it is not the program itself but a version manager's shim (asdf's are scripts,
// mise's are links to mise): what those run depends on the folder and the environment.
func executableStamp(c Command) string {
	name := c.Name
	if strings.ContainsRune(name, filepath.Separator) && !filepath.IsAbs(name) {
		name = filepath.Join(c.Dir, name) // exec runs a relative path from c.Dir
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	if p, err = filepath.Abs(p); err != nil {
		return ""
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		return ""
	}
	if filepath.Base(p) != filepath.Base(name) {
		return ""
	}
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil || string(head) == "#!" {
		return ""
	}
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d %d %s %s", p, info.Size(), info.ModTime().UnixNano(), fileIdentity(info), strings.Join(c.Args, " "))
}

// selfVersion names the configroot build: its module version and VCS revision, and, for a
// build from a modified or unversioned tree (a developer's), the executable's size and
// modification time, so that a rebuilt configroot never reads keys an older one wrote.
func selfVersion() string {
	var b strings.Builder
	devel := true
	if info, ok := debug.ReadBuildInfo(); ok {
		b.WriteString(info.Main.Path + "@" + info.Main.Version)
		devel = info.Main.Version == "" || info.Main.Version == "(devel)"
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.WriteString(" " + s.Value)
				devel = false
			case "vcs.modified":
				b.WriteString(" modified=" + s.Value)
				devel = devel || s.Value == "true"
			}
		}
	}
	if devel {
		if exe, err := os.Executable(); err == nil {
			if info, err := os.Stat(exe); err == nil {
				fmt.Fprintf(&b, " %s %d %d", exe, info.Size(), info.ModTime().UnixNano())
			}
		}
	}
	return b.String()
}
