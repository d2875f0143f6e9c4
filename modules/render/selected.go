package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ErrNoMatch is returned when the selectors of a render match no release of the helmfile
// in its environment: almost always a typo, and never a reason to change config-root.
var ErrNoMatch = errors.New("the selectors match no release")

// listedRelease is one entry of `helmfile list --output json` (helmfile pkg/app
// HelmRelease).
type listedRelease struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Enabled   bool   `json:"enabled"`
	Installed bool   `json:"installed"`
	// Labels are "key:value" pairs joined by commas, helmfile's implicit name, namespace
	// and chart labels included.
	Labels string `json:"labels"`
	Chart  string `json:"chart"`
}

// labels parses Labels.
func (l listedRelease) labels() map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(l.Labels, ",") {
		if k, v, ok := strings.Cut(kv, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// matchSelectors reports whether labels match helmfile selectors: a release matches when
// any selector matches, and a selector ("k=v,k2!=v2") when all of its terms do; k=v needs
// label k with value v, k!=v only that k is not v (helmfile pkg/state/release_filters.go,
// ParseLabels and LabelFilter.Match). A malformed term is an error.
func matchSelectors(labels map[string]string, selectors []string) (bool, error) {
	for _, sel := range selectors {
		all := true
		for _, term := range strings.Split(sel, ",") {
			if k, v, ok := strings.Cut(term, "!="); ok && k != "" {
				if got, has := labels[k]; has && got == v {
					all = false
				}
				continue
			}
			k, v, ok := strings.Cut(term, "=")
			if !ok || k == "" {
				return false, fmt.Errorf("malformed selector %q: want key=value or key!=value terms, joined by commas", sel)
			}
			if got, has := labels[k]; !has || got != v {
				all = false
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

// listReleases runs `helmfile list` and returns every release of the helmfile in tmpl's
// environment, selectors ignored (a release whose condition is false included).
func listReleases(ctx context.Context, o Options, tmpl TemplateOptions) ([]listedRelease, error) {
	file := fileOr(tmpl.File)
	var stdout bytes.Buffer
	cmd := o.helmfileCommand(ListArgs(tmpl))
	err := o.Runner.Run(ctx, cmd, &stdout, o.Log)
	if err != nil && !noReleasesMatched(err) {
		var exit *ExecError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("helmfile list %s: %s", file, lastLine(exit))
		}
		return nil, fmt.Errorf("helmfile list %s: %w", file, err)
	}
	// helmfile exits with status 3 when the helmfile has no release.
	var listed []listedRelease
	if out := bytes.TrimSpace(stdout.Bytes()); err == nil && len(out) > 0 {
		if err := json.Unmarshal(out, &listed); err != nil {
			return nil, fmt.Errorf("helmfile list %s: unexpected output: %w", file, err)
		}
	}
	return listed, nil
}

// listSelected returns the releases the selectors of tmpl match, sorted, with the
// namespace a release without one renders into: disabled ones too (installed: false, a
// false condition), which helmfile template skips and whose files a full render would
// therefore remove. No match is ErrNoMatch, naming the file, environment and selectors.
func listSelected(ctx context.Context, o Options, tmpl TemplateOptions) ([]Release, error) {
	listed, err := listReleases(ctx, o, tmpl)
	if err != nil {
		return nil, err
	}
	file := fileOr(tmpl.File)
	releases := make([]Release, 0, len(listed))
	for _, l := range listed {
		ok, err := matchSelectors(l.labels(), tmpl.Selectors)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if !ok {
			continue
		}
		ns := l.Namespace
		if ns == "" {
			ns = HermeticNamespace
		}
		releases = append(releases, Release{Name: l.Name, Namespace: ns, Chart: chartName(l.Chart)})
	}
	if len(releases) == 0 {
		env := tmpl.Environment
		if env == "" {
			env = "default"
		}
		return nil, fmt.Errorf("%s (environment %s, selectors %s): %w", file, env, strings.Join(tmpl.Selectors, " "), ErrNoMatch)
	}
	sort.Slice(releases, func(i, j int) bool { return releases[i].String() < releases[j].String() })
	return releases, nil
}

// chartName is the name a chart reference most likely has: the last element of a local
// path, of "repo/chart" or of an OCI reference, without a version tag.
func chartName(ref string) string {
	ref = strings.TrimSuffix(ref, "/")
	name := path.Base(ref)
	if i := strings.IndexByte(name, ':'); i > 0 && strings.HasPrefix(ref, "oci://") {
		name = name[:i]
	}
	return name
}

// lastLine is the most telling line of a failed helmfile: its last non-empty stderr line.
func lastLine(e *ExecError) string {
	lines := strings.Split(strings.TrimSpace(e.Stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return e.Err.Error()
}

// partial is the part of the existing config-root a render limited by selectors keeps,
// computed once for the transforms (which read it) and for the merge.
type partial struct {
	// kept are the files of old that belong to no selected release.
	kept Files
	// candidates are the namespaces whose generated Namespace may no longer be used: those
	// of the selected releases and of the files they owned.
	candidates map[string]bool
}

// keptFiles splits the existing config-root old for a render limited by selectors: the
// files of the selected releases go, everything else is kept.
//
// A rendered release owns its folders under its own namespace. Any selected release owns
// the files whose helm annotations (meta.helm.sh/release-name and -namespace) name it,
// wherever they are: the resources it put in other namespaces, and all of the files of a
// release that renders nothing now. kustomize lists the namespaces of the repo's kustomize
// folders, which a partial render does not render but keeps: never candidates.
func keptFiles(old Files, rendered, selected []Release, kustomize []string) partial {
	owned := make([]string, 0, 3*len(rendered))
	for _, r := range rendered {
		for _, top := range []string{DirNamespaces, DirClusterResources, DirCRDs} {
			owned = append(owned, path.Join(top, r.Namespace, r.Folder())+"/")
		}
	}
	// A kustomize folder's resources have no release annotations: it owns its folder in
	// every namespace (resources that name another namespace than the folder's are filed
	// under that one).
	kustomizeFolders := map[string]bool{}
	for _, r := range rendered {
		if r.Chart == "" {
			kustomizeFolders[r.Folder()] = true
		}
	}
	p := partial{kept: Files{}, candidates: map[string]bool{}}
	for _, r := range selected {
		p.candidates[r.Namespace] = true
	}
	for f, data := range old {
		ns, folder := releasePath(f)
		if hasAnyPrefix(f, owned) || ownedBy(data, selected) || (kustomizeFolders[folder] && !bytes.Contains(data, []byte(AnnotationReleaseName))) {
			if ns != "" {
				p.candidates[ns] = true
			}
			continue
		}
		p.kept[f] = data
	}
	for _, ns := range kustomize {
		delete(p.candidates, ns)
	}
	return p
}

// merge adds the kept files to files, the render's own, so that a render limited by
// selectors equals the matching part of a full render; the generated Namespace of a
// namespace no longer used goes, as Layout would not write it (see unusedNamespaces). It
// also returns, sorted, the paths the render wrote where a kept file holds other content:
// the render's file wins, where a full render might have failed (the same resource twice),
// named both apart, or kept the other (a Namespace a chart declares, which Layout here did
// not know of).
func (p partial) merge(files Files) (Files, []string) {
	var conflicts []string
	for f, data := range p.kept {
		if mine, ok := files[f]; !ok {
			files[f] = data
		} else if !bytes.Equal(mine, data) {
			conflicts = append(conflicts, f)
		}
	}
	for _, ns := range unusedNamespaces(files, p.candidates) {
		delete(files, DirClusterNS+"/"+ns+".yaml")
	}
	sort.Strings(conflicts)
	return files, conflicts
}

// declaredNamespaces returns the namespaces whose Namespace object in files a chart
// declared (it carries helm's release annotation; Layout's own carry none).
func declaredNamespaces(files Files) []string {
	var declared []string
	for p, data := range files {
		if name, ok := strings.CutPrefix(p, DirClusterNS+"/"); ok && bytes.Contains(data, []byte(AnnotationReleaseName)) {
			declared = append(declared, strings.TrimSuffix(name, ".yaml"))
		}
	}
	sort.Strings(declared)
	return declared
}

// releasePath returns the namespace folder and the release folder of a config-root path
// of one of the trees that have them (namespaces, cluster/resources,
// customresourcedefinitions: <tree>/<namespace>/<folder>/…), "" for what the path lacks.
func releasePath(p string) (namespace, folder string) {
	for _, top := range []string{DirNamespaces, DirClusterResources, DirCRDs} {
		if rest, ok := strings.CutPrefix(p, top+"/"); ok {
			parts := strings.SplitN(rest, "/", 3)
			if len(parts) == 3 {
				folder = parts[1]
			}
			if len(parts) >= 2 {
				namespace = parts[0]
			}
			return namespace, folder
		}
	}
	return "", ""
}

// unusedNamespaces returns the candidates whose generated Namespace object files holds
// but Layout would no longer write: no namespaced resource lives there, and no release
// installs into it (no file of the cluster-scoped trees filed under it carries helm's
// release-namespace annotation naming it). A Namespace a chart rendered itself (it carries
// helm's annotations) is not generated and stays.
func unusedNamespaces(files Files, candidates map[string]bool) []string {
	var unused []string
	for _, ns := range sortedKeys(candidates) {
		gen, ok := files[DirClusterNS+"/"+ns+".yaml"]
		if !ok || bytes.Contains(gen, []byte(AnnotationReleaseName)) {
			continue
		}
		if !namespaceUsed(files, ns) {
			unused = append(unused, ns)
		}
	}
	return unused
}

// namespaceUsed reports whether ns holds namespaced resources or is the release namespace
// of a cluster-scoped resource, a CRD or a Namespace a chart declares in files.
func namespaceUsed(files Files, ns string) bool {
	prefix := DirNamespaces + "/" + ns + "/"
	releasePrefixes := []string{DirClusterResources + "/" + ns + "/", DirCRDs + "/" + ns + "/", DirClusterNS + "/"}
	for p, data := range files {
		if strings.HasPrefix(p, prefix) {
			return true
		}
		if !hasAnyPrefix(p, releasePrefixes) || !bytes.Contains(data, []byte(AnnotationReleaseNamespace)) {
			continue
		}
		if n, err := yaml.Parse(string(data)); err == nil && annotation(n, AnnotationReleaseNamespace) == ns {
			return true
		}
	}
	return false
}

// ownedBy reports whether a file of config-root holds a resource whose helm release
// annotations name one of releases.
func ownedBy(data []byte, releases []Release) bool {
	if !bytes.Contains(data, []byte(AnnotationReleaseName)) {
		return false
	}
	// Parsing is the cost (config-root holds CRDs of hundreds of KB, and every file of a
	// 50-release repo is looked at): a file can only name a release whose name and
	// namespace it contains (DNS labels, never escaped by the YAML encoder).
	candidate := false
	for _, r := range releases {
		if bytes.Contains(data, []byte(r.Name)) && bytes.Contains(data, []byte(r.Namespace)) {
			candidate = true
			break
		}
	}
	if !candidate {
		return false
	}
	n, err := yaml.Parse(string(data))
	if err != nil {
		return false
	}
	name, ns := annotation(n, AnnotationReleaseName), annotation(n, AnnotationReleaseNamespace)
	for _, r := range releases {
		if r.Name == name && r.Namespace == ns {
			return true
		}
	}
	return false
}

// namespacesInUse returns the namespaces that need a generated Namespace object, given
// the paths of config-root: those holding namespaced resources, but the system ones.
func namespacesInUse(paths []string) map[string]bool {
	used := map[string]bool{}
	for _, p := range paths {
		parts := strings.SplitN(p, "/", 3)
		if len(parts) == 3 && parts[0] == DirNamespaces && !systemNamespaces[parts[1]] {
			used[parts[1]] = true
		}
	}
	return used
}
