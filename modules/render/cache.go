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
	"time"

	"github.com/configroot/configroot/modules/render/transform"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// CacheStats says what a cached render did.
type CacheStats struct {
	// Hit is true when the cache knew the config-root the render started from: only the
	// releases in Rendered ran through helm.
	Hit bool
	// Reused counts the releases whose files were kept as they were.
	Reused int
	// Rendered are the releases helm rendered: all of them on a miss.
	Rendered int
	// Removed counts the releases the cached render knew that the helmfile no longer has.
	Removed int
	// Uncacheable counts the releases rendered every time (Options.Log says why).
	Uncacheable int
	// Ahead counts the releases helm rendered while helmfile build keyed them, on a guess
	// from the repo's files that changed since the last cached render (see renderAhead);
	// 0 when the keys did not agree with the guess, or there was none.
	Ahead int
}

// maxStates is how many renders the cache keeps per configuration (tool versions, flags,
// configroot.yaml): the config-roots of the branches a CI runner renders, most recent first.
const maxStates = 16

// cacheState is what the cache keeps of one render: the key of each release that made a
// config-root, stored under that config-root's digest. It holds no resource and no value.
type cacheState struct {
	Format   string          `json:"format"`
	Releases []cachedRelease `json:"releases"`
	// Shared are the generated files (ClusterSecretStores) some release needs (SetUses).
	Shared []string `json:"shared,omitempty"`
	// ClusterScoped maps each CRD file of the config-root that defines a cluster-scoped
	// kind to that kind ("<group>/<kind>"): a partial render needs them, and parsing the
	// CRDs again costs more than the rest of it.
	ClusterScoped map[string]string `json:"clusterScoped,omitempty"`
}

// cachedRelease is a release of a cached render and its key ("" when not cacheable).
type cachedRelease struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Chart     string `json:"chart"`
	Key       string `json:"key,omitempty"`
	// Uses are the generated files the release's resources need (SetUses).
	Uses []string `json:"uses,omitempty"`
	// Resources counts the resources the release rendered.
	Resources int `json:"resources,omitempty"`
}

// renderCached renders the repo like Render without selectors, but runs helm only for the
// releases whose key changed since the render that wrote the current config-root.
//
// It keys each release on `helmfile build --embed-values` (releaseKeys) and on what every
// release shares (tool versions, flags, configroot.yaml, the SecretMapping); it recognises
// the current config-root by its digest. When the cache holds a state for that digest and
// these shared inputs, the releases whose key differs, the releases that are not cacheable
// and the repo's kustomize folders are rendered as a render limited by selectors would,
// and the releases the helmfile no longer has are removed: the partial merge keeps the
// rest, recomputes the generated Namespaces and reads the kept CRDs' scopes from the state.
// Where that cannot give what a full render gives, because the change reaches beyond the
// releases rendered (see overCached), and otherwise (the first render, a config-root edited
// by hand or rendered elsewhere, another configroot), every release is rendered. Either way
// the state of the written config-root is saved.
func renderCached(ctx context.Context, o Options) (Result, error) {
	cfg, tmpl, err := o.prepare()
	if err != nil {
		return Result{}, err
	}
	switch {
	case len(tmpl.Selectors) > 0:
		return Result{}, errors.New("render: a cached render renders the whole repo: use the cache or selectors, not both")
	case len(tmpl.ExtraArgs) > 0:
		// helmfile build does not see them, and they may name files (--values,
		// --set-file, --state-values-file) no key covers.
		fmt.Fprintf(o.Progress, "cache: helmfile template gets extra arguments the cache cannot key: rendering without the cache\n")
		o.Cache = ""
		return Render(ctx, o)
	}
	// helmfile build takes about as long as a helm template of a release: render the
	// releases the files that changed belong to meanwhile.
	var ahead *aheadRender
	if o.Rendered == "" {
		ahead = o.renderAhead(ctx, cfg, tmpl)
		defer ahead.close(o.Log)
	}
	// The config-root the render starts from is read and digested while helmfile build
	// runs.
	var (
		old       Files
		oldDigest string
		oldSums   fileSums
		readErr   error
		read      = make(chan struct{})
	)
	go func() {
		defer close(read)
		if old, readErr = readTree(o.Output); readErr == nil {
			oldDigest, oldSums = treeDigest(old, nil)
		}
	}()
	keys, global, err := o.cacheKeys(ctx, cfg, tmpl, func() { ahead.wait(o.Log) })
	<-read
	ahead.wait(o.Log) // before any other helmfile runs
	if err != nil {
		// helmfile template says best what is wrong (naming the release, the chart, the
		// repository); if it succeeds, the render is right without the cache.
		fmt.Fprintf(o.Progress, "cache: the releases cannot be keyed: rendering without the cache (-v says why)\n")
		fmt.Fprintf(o.Log, "cache: %v\n", err)
		o.Cache = ""
		return Render(ctx, o)
	}
	if readErr != nil {
		return Result{}, readErr
	}
	store := stateStore{dir: filepath.Join(o.Cache, "render", global[:32])}
	prev, hit := store.load(oldDigest, o.Log)

	stats := &CacheStats{Hit: hit}
	for _, k := range keys {
		if k.Key == "" {
			stats.Uncacheable++
			fmt.Fprintf(o.Log, "cache: release %s is rendered every time: %s\n", k, k.Reason)
		}
	}
	var out cachedOutput
	if hit {
		var why string
		if out, why, err = o.overCached(ctx, cfg, tmpl, keys, prev, old, ahead); err != nil {
			return Result{}, err
		}
		if why == "" {
			stats.Rendered, stats.Removed, stats.Reused = len(out.rerender), len(out.removed), len(keys)-len(out.rerender)
			if out.ahead {
				stats.Ahead = len(out.rerender)
				fmt.Fprintf(o.Log, "cache: the releases rendered were rendered while helmfile build keyed them\n")
			}
			fmt.Fprintf(o.Progress, "cache: %d releases reused, %d rendered, %d removed\n", stats.Reused, stats.Rendered, stats.Removed)
		} else {
			fmt.Fprintf(o.Progress, "cache: %s: rendering every release\n", why)
			hit, stats.Hit = false, false
		}
	} else {
		fmt.Fprintf(o.Progress, "cache: no cached render of %s with these inputs: rendering every release\n", o.Output)
	}
	if !hit {
		out = cachedOutput{usage: usage{}, rerender: keys}
		if out.c, err = o.collect(ctx, cfg, tmpl, collectPlan{kustomize: true, template: true}); err != nil {
			return Result{}, err
		}
		stats.Rendered = len(keys)
		if out.files, _, err = out.c.layoutOver(o, nil, nil, out.usage); err != nil { // not partial: no scopes asked
			return Result{}, err
		}
		out.uses = prev.nextUses(keys, nil, false, out.usage)
		out.clusterScoped = nextClusterScoped(out.files, nil, cacheState{}, false)
	}
	if len(out.files) == 0 && !o.AllowEmpty {
		return Result{}, ErrEmpty
	}
	res := Result{Output: o.Output, Releases: out.c.Releases, Resources: len(out.files), Cache: stats}
	if res.Files, err = writeAtomic(o.Output, out.files, old); err != nil {
		return Result{}, err
	}
	next := cacheState{Format: cacheFormat, ClusterScoped: out.clusterScoped, Shared: sortedKeys(out.uses.paths())}
	counts := map[string]int{}
	for _, r := range prev.Releases {
		counts[r.Namespace+"/"+r.Name] = r.Resources
	}
	for _, k := range out.rerender {
		counts[k.String()] = 0
	}
	for _, r := range out.c.Releases {
		counts[r.String()] = r.Resources
	}
	for _, k := range keys {
		next.Releases = append(next.Releases, cachedRelease{Name: k.Name, Namespace: k.Namespace, Chart: k.Chart, Key: k.Key,
			Uses: out.uses[k.String()], Resources: counts[k.String()]})
	}
	digest, _ := treeDigest(out.files, oldSums)
	if err := store.save(digest, next); err != nil {
		// config-root is written; only the next render's speed is at stake.
		fmt.Fprintf(o.Progress, "cache: %v (the next render renders every release)\n", err)
	}
	if err := ahead.save(ctx, o, tmpl, keys); err != nil {
		fmt.Fprintf(o.Log, "cache: %v (the next render renders no release ahead)\n", err)
	}
	return res, nil
}

// cachedOutput is a render over the cache: the files of config-root and what the state
// keeps of them.
type cachedOutput struct {
	c             Collected
	files         Files
	usage         usage // recorded by this render
	uses          usage // of every release, after this render
	clusterScoped map[string]string
	rerender      []releaseKey
	removed       []Release
	// ahead: rerender were rendered while helmfile build keyed them (renderAhead).
	ahead bool
}

// overCached renders the releases of keys whose key differs from prev's over old, the
// config-root prev describes. It returns why the result might not be what a full render
// gives, if it might ("" otherwise): the changed releases collide with kept ones (a
// folder or a file both would write: a full render fails or names them apart); a CRD they
// add, change or remove changes which kinds are cluster-scoped, which moves the kept
// releases' resources; a namespace in use has no Namespace object (one a chart declared
// is gone). The releases to render come from ahead's output when it rendered them.
func (o Options) overCached(ctx context.Context, cfg Config, tmpl TemplateOptions, keys []releaseKey, prev cacheState, old Files, ahead *aheadRender) (cachedOutput, string, error) {
	out := cachedOutput{usage: usage{}}
	out.rerender, out.removed = prev.changes(keys, configHashReaders(cfg), len(cfg.Kustomize) > 0)
	if len(out.rerender) == 0 && len(out.removed) == 0 && len(cfg.Kustomize) == 0 {
		out.files, out.clusterScoped = old, prev.ClusterScoped
		out.uses = prev.nextUses(keys, nil, true, out.usage)
		return out, "", nil
	}
	selected := append(releasesOf(out.rerender), out.removed...)
	sort.Slice(selected, func(i, j int) bool { return selected[i].String() < selected[j].String() })
	t := tmpl
	t.Selectors = selectorsOf(out.rerender)
	rendered := ahead.use(out.rerender, o.Log)
	out.ahead = rendered != ""
	var err error
	out.c, err = o.collect(ctx, cfg, t, collectPlan{selected: selected, partial: true, kustomize: true,
		template: len(out.rerender) > 0 && rendered == "", rendered: rendered, only: releasesOf(out.rerender)})
	if err != nil {
		return cachedOutput{}, "", err
	}
	var m *merged
	// The state knows the kept CRDs' kinds: parsing them again would cost more than the rest.
	scoped := func(kept Files) []string { return scopedKinds(prev.ClusterScoped, kept) }
	if out.files, m, err = out.c.layoutOver(o, old, scoped, out.usage); err != nil {
		return cachedOutput{}, "", err
	}
	if len(m.conflicts) > 0 {
		return out, fmt.Sprintf("%s is written by a release rendered and by one kept", m.conflicts[0]), nil
	}
	// The releases whose files stay: in the helmfile still, not rendered now.
	reused := map[string]bool{}
	for _, k := range keys {
		reused[k.String()] = true
	}
	for _, k := range out.rerender {
		delete(reused, k.String())
	}
	kept := slices.Clone(out.c.Releases)
	for _, r := range prev.Releases {
		if reused[r.Namespace+"/"+r.Name] && r.Resources > 0 {
			kept = append(kept, Release{Name: r.Name, Namespace: r.Namespace, Chart: r.Chart})
		}
	}
	if err := checkFolders(kept); err != nil {
		return out, err.Error(), nil
	}
	out.uses = prev.nextUses(keys, out.rerender, true, out.usage)
	shared := out.uses.paths()
	for _, p := range prev.Shared {
		// A generated file no release needs any more goes, as a full render would not
		// write it; the partial merge kept it.
		if !shared[p] {
			delete(out.files, p)
		}
	}
	out.clusterScoped = nextClusterScoped(out.files, old, prev, true)
	if kind := resourceOfKinds(m.kept, changedKinds(scopedKinds(prev.ClusterScoped, nil), scopedKinds(out.clusterScoped, nil))); kind != "" {
		return out, "a CRD rendered or removed changes the scope of " + kind + ", which kept releases use", nil
	}
	if ns := namespaceMissing(out.files, shared); ns != "" {
		return out, "namespace " + ns + " is in use and has no Namespace object", nil
	}
	return out, "", nil
}

// changedKinds returns the kinds in one of two sorted lists and not in the other.
func changedKinds(a, b []string) map[string]bool {
	changed := map[string]bool{}
	for _, k := range a {
		if _, ok := slices.BinarySearch(b, k); !ok {
			changed[k] = true
		}
	}
	for _, k := range b {
		if _, ok := slices.BinarySearch(a, k); !ok {
			changed[k] = true
		}
	}
	return changed
}

// resourceOfKinds returns the first of kinds ("<group>/<kind>") that a resource of files
// has, or "": Layout places such a resource by its kind's scope.
func resourceOfKinds(files Files, kinds map[string]bool) string {
	if len(kinds) == 0 {
		return ""
	}
	for _, p := range files.Paths() {
		data := files[p]
		candidate := false
		for k := range kinds {
			_, kind, _ := strings.Cut(k, "/")
			if bytes.Contains(data, []byte(kind)) {
				candidate = true
				break
			}
		}
		if !candidate {
			continue
		}
		n, err := yaml.Parse(string(data))
		if err != nil {
			return p // cannot tell: as if it were
		}
		if k := apiGroup(n.GetApiVersion()) + "/" + n.GetKind(); kinds[k] {
			return k
		}
	}
	return ""
}

// namespaceMissing returns a namespace some file of files lives in, or is the release
// namespace of (a cluster-scoped resource or CRD filed under it, not generated; a
// Namespace its chart declares), that has
// no Namespace object in files; "" when there is none. Layout writes one for each
// (unless it is a system namespace).
func namespaceMissing(files Files, generated map[string]bool) string {
	for _, p := range files.Paths() {
		ns, _ := releasePath(p)
		if data := files[p]; strings.HasPrefix(p, DirClusterNS+"/") && bytes.Contains(data, []byte(AnnotationReleaseNamespace)) {
			// A Namespace a chart declares: its release's namespace is in use.
			if n, err := yaml.Parse(string(data)); err == nil {
				ns = annotation(n, AnnotationReleaseNamespace)
			}
		}
		if ns == "" || systemNamespaces[ns] || generated[p] {
			continue
		}
		if _, ok := files[DirClusterNS+"/"+ns+".yaml"]; !ok {
			return ns
		}
	}
	return ""
}

// cacheKeys runs helmfile build and the tool versions (at once: each is a process start)
// and returns the key of every release and the key of what they all share, hex. settle
// runs once the processes are done, before the chart folders are read.
func (o Options) cacheKeys(ctx context.Context, cfg Config, tmpl TemplateOptions, settle func()) ([]releaseKey, string, error) {
	if o.Rendered != "" {
		return renderedKeys(o, cfg)
	}
	var build bytes.Buffer
	var buildErr, versionErr error
	var versions string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		versions, versionErr = toolVersions(ctx, o, tmpl)
	}()
	file := filepath.Join(o.Source, fileOr(tmpl.File))
	cmd := o.helmfileCommand(BuildArgs(tmpl))
	buildErr = o.Runner.Run(ctx, cmd, &build, o.Log)
	wg.Wait()
	if buildErr != nil {
		var exit *ExecError
		if errors.As(buildErr, &exit) {
			return nil, "", fmt.Errorf("helmfile build %s: %s", file, lastLine(exit))
		}
		return nil, "", fmt.Errorf("helmfile build %s: %w", file, buildErr)
	}
	if versionErr != nil {
		return nil, "", versionErr
	}
	h, err := sharedKey(cfg, o.FiltersKey)
	if err != nil {
		return nil, "", err
	}
	writeField(h, "tools", []byte(versions))
	writeField(h, "file", []byte(fileOr(tmpl.File)))
	writeField(h, "environment", []byte(tmpl.Environment))
	kube := tmpl.KubeVersion
	if kube == "" {
		kube = DefaultKubeVersion
	}
	writeField(h, "kube-version", []byte(kube))
	writeField(h, "args", []byte(strings.Join(tmpl.ExtraArgs, "\x00")))
	global := h.Sum(nil)
	settle()
	keys, err := releaseKeys(build.Bytes(), global, o.Source)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	return keys, hex.EncodeToString(global), nil
}

// changes returns the releases to render (key changed, new, not cacheable, and the
// readers of their ConfigMaps) and those to remove (gone from the helmfile), given keys,
// the releases now. readers is configHashReaders' answer; kustomize says that the
// kustomize folders, rendered every time, count as changed.
func (s cacheState) changes(keys []releaseKey, readers func(Release) bool, kustomize bool) ([]releaseKey, []Release) {
	prev := make(map[string]string, len(s.Releases))
	for _, r := range s.Releases {
		prev[r.Namespace+"/"+r.Name] = r.Key
	}
	now := make(map[string]bool, len(keys))
	var rerender []releaseKey
	for _, k := range keys {
		now[k.String()] = true
		if was, ok := prev[k.String()]; k.Key == "" || !ok || was != k.Key {
			rerender = append(rerender, k)
		}
	}
	var removed []Release
	for _, r := range s.Releases {
		if !now[r.Namespace+"/"+r.Name] {
			removed = append(removed, Release{Name: r.Name, Namespace: r.Namespace, Chart: r.Chart})
		}
	}
	if readers != nil && (len(rerender) > 0 || len(removed) > 0 || kustomize) {
		picked := map[string]bool{}
		for _, k := range rerender {
			picked[k.String()] = true
		}
		for _, k := range keys {
			if !picked[k.String()] && readers(k.Release) {
				rerender = append(rerender, k)
			}
		}
	}
	return rerender, removed
}

// configHashReaders returns which releases a configHash transform can annotate (their
// workloads' hash covers ConfigMaps and ExternalSecrets of any release in the namespace),
// or nil when configroot.yaml has no configHash rule.
func configHashReaders(cfg Config) func(Release) bool {
	rules := cfg.Transforms.Rules
	if cfg.Transforms.JenkinsX {
		rules = append(transform.JenkinsXRules(), rules...)
	}
	var names []string
	found := false
	for _, r := range rules {
		if r.ConfigHash == "" {
			continue
		}
		found = true
		if len(r.Match.Releases) == 0 {
			return func(Release) bool { return true }
		}
		names = append(names, r.Match.Releases...)
	}
	if !found {
		return nil
	}
	return func(r Release) bool {
		for _, n := range names {
			if n == r.Name || n == r.Folder() {
				return true
			}
		}
		return false
	}
}

// usage maps a release ("<namespace>/<name>", by helm's annotations; "/" for resources
// without them: the kustomize folders') to the paths of the generated files its resources
// need (SetUses).
type usage map[string][]string

// paths returns every file some release needs.
func (u usage) paths() map[string]bool {
	all := map[string]bool{}
	for _, paths := range u {
		for _, p := range paths {
			all[p] = true
		}
	}
	return all
}

// recordUses returns a filter that adds to u what the resources it sees need of the
// generated ones, and changes nothing. It runs after Layout, which set their paths.
func recordUses(u usage) kio.Filter {
	return kio.FilterFunc(func(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
		generated := map[string]string{}
		for _, n := range nodes {
			if annotation(n, annotationGenerated) != "" {
				generated[n.GetKind()+"/"+n.GetName()] = annotation(n, kioutil.PathAnnotation)
			}
		}
		for _, n := range nodes {
			used := annotation(n, annotationUses)
			p, ok := generated[used]
			if used == "" || !ok {
				continue
			}
			rel := annotation(n, AnnotationReleaseNamespace) + "/" + annotation(n, AnnotationReleaseName)
			if !slices.Contains(u[rel], p) {
				u[rel] = append(u[rel], p)
				sort.Strings(u[rel])
			}
		}
		return nodes, nil
	})
}

// nextUses returns the generated files each release needs after a render: what this
// render recorded (u) for the releases it rendered, the state's for the others, and the
// kustomize folders' (rendered every time, under "/").
func (s cacheState) nextUses(keys, rerender []releaseKey, hit bool, u usage) usage {
	next := usage{"/": u["/"]}
	rendered := map[string]bool{}
	for _, k := range rerender {
		rendered[k.String()] = true
	}
	prev := map[string][]string{}
	for _, r := range s.Releases {
		prev[r.Namespace+"/"+r.Name] = r.Uses
	}
	for _, k := range keys {
		if !hit || rendered[k.String()] {
			next[k.String()] = u[k.String()]
		} else {
			next[k.String()] = prev[k.String()]
		}
	}
	return next
}

// scopedKinds returns the kinds ("<group>/<kind>") of scoped (CRD file → cluster-scoped
// kind), sorted: all of them, or with in, those of the files in it.
func scopedKinds(scoped map[string]string, in Files) []string {
	kinds := make([]string, 0, len(scoped))
	for p, kind := range scoped {
		if _, ok := in[p]; ok || in == nil {
			kinds = append(kinds, kind)
		}
	}
	sort.Strings(kinds)
	return kinds
}

// nextClusterScoped returns the cluster-scoped CRD files of files: a file the render left
// as it was keeps its entry of prev, the others are read.
func nextClusterScoped(files, old Files, prev cacheState, hit bool) map[string]string {
	scoped := map[string]string{}
	for p, data := range files {
		if !strings.HasPrefix(p, DirCRDs+"/") {
			continue
		}
		if hit {
			if was, ok := old[p]; ok && bytes.Equal(was, data) {
				if kind, ok := prev.ClusterScoped[p]; ok {
					scoped[p] = kind
				}
				continue
			}
		}
		if kind, ok := clusterScopedKind(p, data); ok {
			scoped[p] = kind
		}
	}
	return scoped
}

func releasesOf(keys []releaseKey) []Release {
	rs := make([]Release, len(keys))
	for i, k := range keys {
		rs[i] = k.Release
	}
	return rs
}

// selectorsOf returns one helmfile selector per release: its name and namespace labels
// (helmfile gives every release both); a release without a namespace has an empty
// namespace label, which a selector cannot name, so its name alone selects it.
func selectorsOf(keys []releaseKey) []string {
	sels := make([]string, len(keys))
	for i, k := range keys {
		sels[i] = "name=" + k.Name + ",namespace=" + k.Namespace
		if k.Namespace == HermeticNamespace {
			sels[i] = "name=" + k.Name
		}
	}
	return sels
}

// treeDigest is the hex SHA-256 of a config-root: each file's path and the SHA-256 of its
// content, in path order. nil (no config-root) and an empty one have the same digest.
// sums holds file digests already known (those of the tree the render started from): a
// file that is the very same slice as the one digested there is not read again; the
// others are digested on every core. It returns the file digests of files.
func treeDigest(files Files, known fileSums) (string, fileSums) {
	paths := files.Paths()
	sums := make([][sha256.Size]byte, len(paths))
	_ = forEach(len(paths), func(i int) error {
		data := files[paths[i]]
		if k, ok := known[paths[i]]; ok && len(data) > 0 && len(k.data) == len(data) && &k.data[0] == &data[0] {
			sums[i] = k.sum
		} else {
			sums[i] = sha256.Sum256(data)
		}
		return nil
	})
	h := sha256.New()
	out := make(fileSums, len(paths))
	for i, p := range paths {
		writeField(h, p, sums[i][:])
		out[p] = fileSum{data: files[p], sum: sums[i]}
	}
	return hex.EncodeToString(h.Sum(nil)), out
}

// fileSums are the SHA-256 digests of the files of a tree, by path, with the content they
// were computed from.
type fileSums map[string]fileSum

type fileSum struct {
	data []byte
	sum  [sha256.Size]byte
}

// stateStore is the folder of one configuration's states, one JSON file per config-root
// digest.
type stateStore struct {
	dir string
}

// load returns the state saved for the config-root of digest, and whether there is one; an
// unreadable or foreign state is a miss (said on log), never an error.
func (s stateStore) load(digest string, log io.Writer) (cacheState, bool) {
	file := filepath.Join(s.dir, digest+".json")
	data, err := os.ReadFile(file)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(log, "cache: %v\n", err)
		}
		return cacheState{}, false
	}
	var st cacheState
	if err := json.Unmarshal(data, &st); err != nil || st.Format != cacheFormat {
		fmt.Fprintf(log, "cache: %s is not a state this configroot wrote: ignored\n", file)
		return cacheState{}, false
	}
	now := time.Now()
	_ = os.Chtimes(file, now, now) // most recently used: pruned last
	return st, true
}

// save writes st as the state of the config-root of digest (a temporary file renamed into
// place, so that a reader never sees half of it) and prunes the oldest states beyond
// maxStates.
func (s stateStore) save(digest string, st cacheState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save %s: %w", s.dir, err)
	}
	if err := writeFileAtomic(s.dir, digest+".json", data); err != nil {
		return err
	}
	return s.prune()
}

// writeFileAtomic writes data into dir/name through a temporary file renamed into place,
// so that a reader never sees half of it. dir is created for the user alone: the cache's
// keys and file digests are digests of values, Secret values among them.
func writeFileAtomic(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".state-")
	if err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	return nil
}

// prune removes the least recently used states beyond maxStates.
func (s stateStore) prune() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("prune %s: %w", s.dir, err)
	}
	type state struct {
		name string
		used time.Time
	}
	var states []state
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		states = append(states, state{e.Name(), info.ModTime()})
	}
	sort.Slice(states, func(i, j int) bool { return states[i].used.After(states[j].used) })
	for _, st := range states[min(len(states), maxStates):] {
		if err := os.Remove(filepath.Join(s.dir, st.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("prune %s: %w", s.dir, err)
		}
	}
	return nil
}
