package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ErrEmpty is returned when a render produces no resource at all: writing it would empty
// config-root, which is almost always a mistake (a wrong file or environment).
var ErrEmpty = errors.New("the render produced no resources (check the helmfile, environment and selectors; --allow-empty empties config-root on purpose)")

// Options configure Render.
type Options struct {
	// Source is the cluster repo (default ".").
	Source string
	// Output is the config-root folder (default <Source>/config-root).
	Output string
	// Template holds helmfile's flags; File and KubeVersion default from configroot.yaml.
	Template TemplateOptions
	// Rendered, when set, is an already rendered tree (<namespace>/<release>/<chart>/…) to
	// lay out instead of running helmfile.
	Rendered string
	// Helmfile is the helmfile program (default "helmfile" from PATH).
	Helmfile string
	// Runner runs helmfile (default ExecRunner).
	Runner Runner
	// Progress receives one line per release (default: discarded).
	Progress io.Writer
	// Log receives helmfile's own output (default: discarded; its stderr tail is in errors).
	Log io.Writer
	// AllowEmpty lets a render with no resources empty config-root.
	AllowEmpty bool
	// Filters run on the resources read, before Layout places them: the secrets
	// conversion and the leak guard.
	Filters []kio.Filter
	// Env are variables ("NAME=value") helmfile gets besides this process's environment:
	// chart repository credentials (<REPO>_USERNAME, <REPO>_PASSWORD) and what
	// helmfile.yaml reads with requiredEnv. Values are never printed. A variable the
	// hermetic render controls (HermeticVariables, UnsetVariables) is an error.
	Env []string
	// Warn receives the render's warnings, one line each, naming the file and line (default:
	// discarded).
	Warn func(string)
	// Cache, when set, is a folder where a render keeps what it needs to render only the
	// releases whose inputs changed next time (see renderCached): a key per release and the
	// digest of the config-root it wrote, never a resource. Empty: every render runs helm
	// for every release.
	Cache string
	// OnPartial, when set, is called before Filters run on a render that holds some
	// releases only (selectors, or a cached render that keeps the others' files), so that a
	// filter can tell (the secrets conversion does not warn about mapping rules for the
	// Secrets of releases not rendered).
	OnPartial func()
	// FiltersKey is what Filters depend on besides the resources (the SecretMapping, the
	// ExternalSecret format): part of every cache key, so that a change to it renders
	// every release again.
	FiltersKey string
}

// Result describes a finished render.
type Result struct {
	// Output is the config-root folder written.
	Output string
	// Releases are the releases and kustomize folders rendered, with their resource counts.
	Releases []Release
	// Resources counts the files of config-root this render produced.
	Resources int
	// Files counts what the write changed.
	Files WriteStats
	// Partial is true when selectors limited the render: only the selected releases' files
	// were replaced.
	Partial bool
	// Cache says what the cache did (nil without Options.Cache).
	Cache *CacheStats
}

// Collected is a render held in memory: every resource read from helmfile's output and the
// kustomize folders, before Layout. Secret values are in it; it is never written as is.
type Collected struct {
	// Nodes are the resources, annotated with their origin.
	Nodes []*yaml.RNode
	// Releases are the releases and kustomize folders read, with their resource counts.
	Releases []Release
	// Config is the repo's configroot.yaml.
	Config Config
	// Partial is true when selectors limited the render.
	Partial bool
	// Selected are the releases the selectors matched, those that rendered nothing
	// included (a release with `installed: false`, or whose chart renders no resource).
	Selected []Release
}

// Layout returns the Layout filter configured for the repo.
func (c Collected) Layout() Layout { return Layout{ClusterScopedKinds: c.Config.ClusterScopedKinds} }

// Collect runs the first half of Render: helmfile template (or the Rendered tree) and the
// repo's kustomize folders, read into memory. Populate uses it to see the values charts
// render without writing them anywhere.
func Collect(ctx context.Context, o Options) (Collected, error) {
	o = o.withDefaults()
	cfg, tmpl, err := o.prepare()
	if err != nil {
		return Collected{}, err
	}
	partial := len(tmpl.Selectors) > 0
	var selected []Release
	if partial && o.Rendered == "" {
		if selected, err = listSelected(ctx, o, tmpl); err != nil {
			return Collected{}, err
		}
	}
	return o.collect(ctx, cfg, tmpl, collectPlan{selected: selected, partial: partial, kustomize: !partial, template: true})
}

// prepare reads configroot.yaml and fills the template options it defaults.
func (o Options) prepare() (Config, TemplateOptions, error) {
	cfg, err := LoadConfig(o.Source)
	if err != nil {
		return Config{}, TemplateOptions{}, err
	}
	tmpl := o.Template
	if tmpl.File == "" {
		tmpl.File = cfg.Helmfile
	}
	if tmpl.KubeVersion == "" {
		tmpl.KubeVersion = cfg.KubeVersion
	}
	if err := checkEnv(o.Env); err != nil {
		return Config{}, TemplateOptions{}, err
	}
	return cfg, tmpl, nil
}

// collectPlan says what collect reads.
type collectPlan struct {
	// selected are the releases a partial render replaces (Collected.Selected).
	selected []Release
	// partial: only some releases are rendered (Collected.Partial).
	partial bool
	// kustomize: read the repo's kustomize folders.
	kustomize bool
	// template: run helmfile template (with tmpl's selectors); false when no release is to
	// be rendered.
	template bool
	// rendered, when set, is helmfile template's output for tmpl's selectors, already
	// there (renderAhead): read instead of running helmfile.
	rendered string
	// only, when set, are the releases of Options.Rendered to read (a cached render of an
	// already rendered tree); nil: all of them.
	only []Release
}

// collect runs helmfile template as tmpl says (or reads o.Rendered) and the kustomize
// folders, as p says.
func (o Options) collect(ctx context.Context, cfg Config, tmpl TemplateOptions, p collectPlan) (Collected, error) {
	c := Collected{Config: cfg, Partial: p.partial, Selected: p.selected}
	var rendered string
	var only []Release
	switch {
	case p.rendered != "":
		rendered = p.rendered
	case o.Rendered != "" && p.template:
		rendered, only = o.Rendered, p.only
	case p.template:
		tmp, err := os.MkdirTemp("", "configroot-render-")
		if err != nil {
			return Collected{}, fmt.Errorf("render: %w", err)
		}
		defer os.RemoveAll(tmp)
		cmd := o.helmfileCommand(TemplateArgs(tmpl, tmp))
		cmd.Output = tmp
		err = o.Runner.Run(ctx, cmd, o.Log, o.Log)
		if err != nil && !noReleasesMatched(err) {
			file := filepath.Join(o.Source, fileOr(tmpl.File))
			var exit *ExecError
			if errors.As(err, &exit) {
				te := newTemplateError(file, exit)
				if te.Repository != "" || te.Registry != "" || (te.Release != "" && !strings.Contains(te.Release, "/")) {
					// Name the releases involved; a list that fails too changes nothing.
					if listed, lerr := listReleases(ctx, o, tmpl); lerr == nil {
						te.fillReleases(listed)
					}
				}
				return Collected{}, te
			}
			return Collected{}, fmt.Errorf("helmfile template %s: %w", file, err)
		}
		rendered = tmp
	}
	if rendered != "" {
		nodes, releases, err := readRendered(os.DirFS(rendered), only)
		if err != nil {
			return Collected{}, err
		}
		c.Nodes, c.Releases = nodes, releases
	}
	if p.kustomize {
		for _, k := range cfg.Kustomize {
			r := k.Release()
			read, err := ReadKustomization(filepath.Join(o.Source, filepath.FromSlash(k.Path)), r)
			if err != nil {
				return Collected{}, err
			}
			r.Resources = len(read)
			c.Nodes = append(c.Nodes, read...)
			c.Releases = append(c.Releases, r)
		}
	}
	if err := checkFolders(c.Releases); err != nil {
		return Collected{}, err
	}
	for _, r := range c.Releases {
		kind := "release"
		if r.Chart == "" {
			kind = "kustomize"
		}
		fmt.Fprintf(o.Progress, "%-9s %-40s %4d resources\n", kind, r.String(), r.Resources)
	}
	for _, r := range c.emptySelected() {
		fmt.Fprintf(o.Progress, "%-9s %-40s %4d resources (renders nothing now: its files are removed)\n", "release", r.String(), 0)
	}
	if len(c.Nodes) == 0 && !o.AllowEmpty && !c.Partial {
		return Collected{}, ErrEmpty
	}
	return c, nil
}

// Render renders the cluster repo into config-root: Collect, then Layout, the extra
// Filters, and an atomic write. On any error config-root is left exactly as it was.
//
// With selectors only the selected releases are rendered, so only their folders are
// replaced; everything else in config-root is kept.
func Render(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	if o.Cache != "" {
		return renderCached(ctx, o)
	}
	c, err := Collect(ctx, o)
	if err != nil {
		return Result{}, err
	}
	var old Files
	if c.Partial {
		if old, err = readTree(o.Output); err != nil {
			return Result{}, err
		}
	}
	files, _, err := c.layoutOver(o, old, clusterScopedCRDs, nil)
	if err != nil {
		return Result{}, err
	}
	res := Result{Output: o.Output, Releases: c.Releases, Resources: len(files), Partial: c.Partial}
	if c.Partial {
		res.Files, err = writeAtomic(o.Output, files, old)
	} else {
		res.Files, err = WriteAtomic(o.Output, files)
	}
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// layoutOver runs the filters, Layout and the transforms over c and returns the files of
// the new config-root. A partial render keeps the files of old (the config-root it
// replaces) that belong to no selected release; the CRDs among the kept files still say
// which kinds are cluster-scoped: clusterScoped returns those kinds ("<group>/<kind>").
// It also returns what the merge kept (nil for a full render). u, when not nil, receives
// what the rendered resources need of the generated ones.
func (c Collected) layoutOver(o Options, old Files, clusterScoped func(kept Files) []string, u usage) (Files, *merged, error) {
	layout := c.Layout()
	var part partial
	if c.Partial {
		part = keptFiles(old, c.Releases, c.Selected, c.kustomizeNamespaces())
		layout.ClusterScopedKinds = append(slices.Clip(layout.ClusterScopedKinds), clusterScoped(part.kept)...)
		layout.Declared = declaredNamespaces(part.kept)
	}
	if c.Partial && o.OnPartial != nil {
		o.OnPartial()
	}
	filters := append(o.Filters[:len(o.Filters):len(o.Filters)], layout, c.transforms(part.kept, o.Warn))
	if u != nil {
		filters = append(filters, recordUses(u))
	}
	files, err := LayoutFiles(c.Nodes, filters...)
	if err != nil {
		return nil, nil, err
	}
	if !c.Partial {
		return files, nil, nil
	}
	m := &merged{kept: part.kept}
	files, m.conflicts = part.merge(files)
	return files, m, nil
}

// merged is what a partial render's merge kept of config-root.
type merged struct {
	// kept are the files of config-root the render kept.
	kept Files
	// conflicts are the paths the render wrote where a kept file holds other content
	// (partial.merge).
	conflicts []string
}

// emptySelected returns the selected releases that rendered nothing.
func (c Collected) emptySelected() []Release {
	rendered := make(map[string]bool, len(c.Releases))
	for _, r := range c.Releases {
		rendered[r.String()] = true
	}
	var empty []Release
	for _, r := range c.Selected {
		if !rendered[r.String()] {
			empty = append(empty, r)
		}
	}
	return empty
}

// clusterScopedCRDs returns "<group>/<kind>" of every cluster-scoped CRD in files.
func clusterScopedCRDs(files Files) []string {
	var kinds []string
	for p, data := range files {
		if kind, ok := clusterScopedKind(p, data); ok {
			kinds = append(kinds, kind)
		}
	}
	sort.Strings(kinds)
	return kinds
}

// clusterScopedKind returns "<group>/<kind>" when the file p of config-root is a CRD of a
// cluster-scoped kind.
func clusterScopedKind(p string, data []byte) (string, bool) {
	// Only a CRD whose text holds "scope: Cluster" can be cluster-scoped: the others,
	// most of a CRD tree's bytes, are not parsed.
	if !strings.HasPrefix(p, DirCRDs+"/") || !clusterScopeLine.Match(data) {
		return "", false
	}
	n, err := yaml.Parse(string(data))
	if err != nil {
		return "", false
	}
	if scope, _ := n.GetString("spec.scope"); scope != "Cluster" {
		return "", false
	}
	group, _ := n.GetString("spec.group")
	kind, _ := n.GetString("spec.names.kind")
	return group + "/" + kind, true
}

// clusterScopeLine matches the text that makes a CRD cluster-scoped (spec.scope of
// apiextensions.k8s.io/v1), in block or flow style, quoted or not.
var clusterScopeLine = regexp.MustCompile(`scope:[ \t]*["']?Cluster\b`)

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// checkFolders rejects two releases that would share one folder of config-root (release
// "foo" of chart "bar" and release "bar-foo" of chart "bar" are both "bar-foo"): their files
// would mix, and a render of one would delete the other's.
func checkFolders(releases []Release) error {
	seen := map[string]Release{}
	for _, r := range releases {
		key := r.Namespace + "/" + r.Folder()
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("releases %s (chart %q) and %s (chart %q) would share the config-root folder %s: rename one",
				prev, prev.Chart, r, r.Chart, key)
		}
		seen[key] = r
	}
	return nil
}

// noReleasesMatched reports helmfile's exit status 3: no release matched the selectors and
// environment. That is an empty render, not a failure; ErrEmpty guards config-root.
func noReleasesMatched(err error) bool {
	var exit *ExecError
	return errors.As(err, &exit) && exit.ExitCode() == 3
}

func fileOr(f string) string {
	if f == "" {
		return "helmfile.yaml"
	}
	return f
}

func (o Options) withDefaults() Options {
	if o.Source == "" {
		o.Source = "."
	}
	if o.Output == "" {
		o.Output = filepath.Join(o.Source, "config-root")
	}
	if o.Helmfile == "" {
		o.Helmfile = "helmfile"
	}
	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// LayoutFiles runs filters (Layout among them) over nodes, in order, and encodes the
// result into files, without touching the disk. It chains the filters directly rather than
// through kio.Pipeline, whose legacy-annotation reconciliation would drop the paths Layout
// sets on resources that had none when read.
func LayoutFiles(nodes []*yaml.RNode, filters ...kio.Filter) (Files, error) {
	var err error
	for _, f := range filters {
		if nodes, err = f.Filter(nodes); err != nil {
			return nil, err
		}
	}
	files := make(Files, len(nodes))
	if err := (FilesWriter{Files: files}).Write(nodes); err != nil {
		return nil, err
	}
	return files, nil
}
