package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ReadRendered reads a tree rendered by `helmfile template --output-dir-template
// <dir>/{{.Release.Namespace}}/{{.Release.Name}}`: <namespace>/<release>/<chart>/… holding
// the YAML files helm wrote. Files are read in lexical order; every document becomes one
// resource, annotated with its release (helm's meta.helm.sh annotations) and its origin for
// Layout. Empty and comment-only documents are skipped.
//
// The releases are returned sorted by namespace and name, each with the number of resources
// read. A release folder whose chart rendered nothing has no files and is not returned.
func ReadRendered(fsys fs.FS) ([]*yaml.RNode, []Release, error) {
	return readRendered(fsys, nil)
}

// readRendered is ReadRendered of the releases only names ("<namespace>/<name>" folders);
// nil: all of them.
func readRendered(fsys fs.FS, only []Release) ([]*yaml.RNode, []Release, error) {
	releases, files, err := renderedFiles(fsys, only)
	if err != nil {
		return nil, nil, err
	}

	type job struct {
		release int
		file    string
		nodes   []*yaml.RNode
	}
	var jobs []job
	for i, r := range releases {
		for _, p := range files[r] {
			jobs = append(jobs, job{release: i, file: p})
		}
	}
	err = forEach(len(jobs), func(i int) error {
		r := releases[jobs[i].release]
		data, err := fs.ReadFile(fsys, jobs[i].file)
		if err != nil {
			return fmt.Errorf("release %s: %w", r, err)
		}
		jobs[i].nodes, err = readDocuments(data, r, strings.TrimPrefix(jobs[i].file, r.Namespace+"/"+r.Name+"/"), true)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	var nodes []*yaml.RNode
	for _, j := range jobs {
		nodes = append(nodes, j.nodes...)
		releases[j.release].Resources += len(j.nodes)
	}
	return nodes, releases, nil
}

// renderedFiles lists the releases of a rendered tree (<namespace>/<release>/<chart>/…),
// sorted by namespace and name, and their YAML files in lexical order: of the releases only
// names, or all of them (nil). A file elsewhere, or a release folder holding several
// charts, is an error.
func renderedFiles(fsys fs.FS, only []Release) ([]Release, map[Release][]string, error) {
	keep := map[string]bool{}
	for _, r := range only {
		keep[r.String()] = true
	}
	files := map[Release][]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && only != nil && strings.Count(p, "/") == 1 && !keep[p] {
			return fs.SkipDir // <namespace>/<release> of a release not to read
		}
		if d.IsDir() || !isYAML(p) {
			return nil
		}
		parts := strings.SplitN(p, "/", 4)
		if len(parts) < 4 {
			return fmt.Errorf("%s: not in <namespace>/<release>/<chart>/", p)
		}
		r := Release{Namespace: parts[0], Name: parts[1], Chart: parts[2]}
		files[r] = append(files[r], p)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read rendered tree: %w", err)
	}
	releases := make([]Release, 0, len(files))
	for r := range files {
		releases = append(releases, r)
	}
	sort.Slice(releases, func(i, j int) bool { return releases[i].String() < releases[j].String() })
	if err := checkOneChart(releases); err != nil {
		return nil, nil, err
	}
	return releases, files, nil
}

// checkOneChart rejects a tree where one release folder holds more than one chart folder.
func checkOneChart(releases []Release) error {
	for i := 1; i < len(releases); i++ {
		if releases[i].String() == releases[i-1].String() {
			return fmt.Errorf("release %s: several chart folders (%s, %s): not a helmfile --output-dir-template tree",
				releases[i], releases[i-1].Chart, releases[i].Chart)
		}
	}
	return nil
}

// readDocuments parses the YAML documents of one file of release r into resources. helm
// marks the release with its meta.helm.sh annotations; kustomize output does not.
//
// Every resource comes out as a tree of its own, the object the API server would see:
//   - aliases are replaced by copies of their anchored nodes and `<<` merge keys are merged
//     (YAML 1.2 §7.1; the YAML 1.1 merge type that kubectl honours through
//     sigs.k8s.io/yaml), so that an edit of one resource never shows up in another place;
//   - list objects (`kind: List`, `ConfigMapList`, any `<Kind>List` with `items`) are
//     flattened into their items, as kubectl and helm do (k8s.io/cli-runtime
//     resource.Builder.Flatten, meta.IsListType). Each item keeps the list's head comment
//     (helm's `# Source:` line). A list inside a list is refused.
func readDocuments(data []byte, r Release, file string, helm bool) ([]*yaml.RNode, error) {
	src := "release " + r.String() + ": " + file
	anns := [][2]string{
		{annotationNamespace, r.Namespace},
		{annotationFolder, r.Folder()},
		{annotationSource, src},
	}
	if helm {
		anns = append(anns, [2]string{AnnotationReleaseName, r.Name}, [2]string{AnnotationReleaseNamespace, r.Namespace},
			[2]string{annotationFile, file})
	}
	// DisableUnwrapping: the reader's own unwrapping only knows `List` and
	// ResourceList, and only as the sole document of a file.
	docs, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true, DisableUnwrapping: true}).Read()
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", src, err)
	}
	nodes := make([]*yaml.RNode, 0, len(docs))
	for i, n := range docs {
		if n.YNode().Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: not a Kubernetes resource: a document is a YAML %s, not a mapping", src, n.YNode().ShortTag())
		}
		if err := duplicateKeys(n.YNode()); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if hasAnchors(n.YNode()) {
			if err := n.DeAnchor(); err != nil {
				return nil, fmt.Errorf("%s: document %d: YAML alias or merge key: %w", src, i+1, err)
			}
		}
		items, isList, err := listItems(n)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", src, i+1, err)
		}
		if !isList {
			nodes = append(nodes, n)
			continue
		}
		nodes = append(nodes, items...)
	}
	for _, n := range nodes {
		if err := setAnnotations(n, anns); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
	}
	return nodes, nil
}

// hasAnchors reports whether a document uses YAML anchors, aliases or merge keys.
// kyaml's DeAnchor copies every mapping it visits, so it only runs on the few documents
// that need it.
func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode || n.Tag == yaml.MergeTag {
		return true
	}
	for _, c := range n.Content {
		if hasAnchors(c) {
			return true
		}
	}
	return false
}

// isListKind reports whether a document is a Kubernetes list object: a kind named
// `List` or `<Kind>List` (the API's convention for list types) holding an `items` field.
// A custom resource whose kind merely ends in "List" but has no top-level items is an
// object.
func isListKind(n *yaml.RNode) bool {
	return strings.HasSuffix(n.GetKind(), "List") && n.Field("items") != nil
}

// listItems returns the items of a list object n, each a mapping that carries the list's
// head comment; isList is false when n is not a list. An item that is not a mapping or is
// a list itself is an error naming its position.
func listItems(n *yaml.RNode) (items []*yaml.RNode, isList bool, err error) {
	if !isListKind(n) {
		return nil, false, nil
	}
	kind := n.GetKind()
	seq := n.Field("items").Value
	if yaml.IsMissingOrNull(seq) {
		return nil, true, nil
	}
	if seq.YNode().Kind != yaml.SequenceNode {
		return nil, true, fmt.Errorf("%s: items is a YAML %s, not a sequence", kind, seq.YNode().ShortTag())
	}
	var head string
	if c := n.YNode().Content; len(c) > 0 {
		head = c[0].HeadComment
	}
	for i, y := range seq.YNode().Content {
		item := yaml.NewRNode(y)
		switch {
		case y.Kind != yaml.MappingNode:
			return nil, true, fmt.Errorf("%s: items[%d] is a YAML %s, not a Kubernetes resource", kind, i, y.ShortTag())
		case isListKind(item):
			return nil, true, fmt.Errorf("%s: items[%d] is a %s: a list inside a list is not flattened (write its items into the outer list)", kind, i, item.GetKind())
		}
		if head != "" && len(y.Content) > 0 {
			if c := y.Content[0].HeadComment; c != "" {
				y.Content[0].HeadComment = head + "\n" + c
			} else {
				y.Content[0].HeadComment = head
			}
		}
		items = append(items, item)
	}
	return items, true, nil
}

func isYAML(p string) bool {
	ext := path.Ext(p)
	return ext == ".yaml" || ext == ".yml"
}

// setAnnotations sets the annotations kv on n in one pass over metadata.annotations,
// creating it when missing. Values are plain strings, quoted only where YAML needs it.
func setAnnotations(n *yaml.RNode, kv [][2]string) error {
	md, err := mappingField(n, yaml.MetadataField)
	if err != nil {
		return err
	}
	anns, err := mappingField(md, yaml.AnnotationsField)
	if err != nil {
		return fmt.Errorf("metadata.%w", err)
	}
	content := anns.YNode().Content
next:
	for _, a := range kv {
		for i := 0; i+1 < len(content); i += 2 {
			if content[i].Value == a[0] {
				content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: a[1]}
				continue next
			}
		}
		content = append(content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: a[0]},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: a[1]})
	}
	anns.YNode().Content = content
	return nil
}

// mappingField returns the mapping under key in n, creating it when missing or null; any
// other value is an error.
func mappingField(n *yaml.RNode, key string) (*yaml.RNode, error) {
	f := n.Field(key)
	if f == nil || yaml.IsMissingOrNull(f.Value) {
		m := yaml.NewMapRNode(nil)
		if err := n.PipeE(yaml.SetField(key, m)); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return m, nil
	}
	if f.Value.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s is a YAML %s, not a mapping", key, f.Value.YNode().ShortTag())
	}
	return f.Value, nil
}

// duplicateKeys rejects a mapping that holds one key twice, at any depth. YAML forbids it,
// helm lets it through, and readers disagree on which value wins: kyaml sees the first, the
// API server the last. A Secret with "data: {}" then a second "data:" must not pass for
// empty, nor a "kind: ConfigMap" then "kind: Secret" for a ConfigMap.
func duplicateKeys(n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if seen[k.Value] {
					return fmt.Errorf("line %d: key %q appears twice in one mapping", k.Line, k.Value)
				}
				seen[k.Value] = true
			}
			if err := duplicateKeys(n.Content[i+1]); err != nil {
				return err
			}
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			if err := duplicateKeys(c); err != nil {
				return err
			}
		}
	}
	return nil
}
