package history

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Folders of config-root, as render lays it out (modules/render/layout.go).
const (
	dirNamespaces       = "namespaces"
	dirCluster          = "cluster"
	dirClusterResources = "resources"
	dirClusterNS        = "namespaces"
	dirCRDs             = "customresourcedefinitions"
)

// found is a file of config-root that holds a resource answering the query.
type found struct {
	path string // relative to the tree searched
	blob plumbing.Hash
	mode filemode.FileMode
	id   Resource
}

// searcher finds the files of a query's resource in config-root trees. A resource may be
// in any release folder, and in the cluster-scoped tree as well as the namespaced one (it
// may have moved or changed scope), so it looks in every folder where its file name could
// be: <name>-<suffix>.yaml, or <name>.yaml for a Namespace. Every tree and blob is read at
// most once: a subtree whose hash was searched before gives the same answer, which keeps a
// walk over many commits that each change a few files cheap.
type searcher struct {
	s    storer.EncodedObjectStorer
	q    Query
	base string // the file name prefix: the name with ':' and '/' as '-' (render's fileName)

	trees map[treeKey][]found
	blobs map[plumbing.Hash]*Resource // nil: not a resource answering the query
}

type treeKey struct {
	hash  plumbing.Hash
	depth int // folder levels above the files: 0 for a release folder
	exact bool
}

func newSearcher(s storer.EncodedObjectStorer, q Query) *searcher {
	return &searcher{
		s: s, q: q,
		base:  strings.NewReplacer(":", "-", "/", "-").Replace(q.Name),
		trees: map[treeKey][]found{},
		blobs: map[plumbing.Hash]*Resource{},
	}
}

// configRoot returns the files of the query's resource under the config-root tree root.
func (s *searcher) configRoot(root plumbing.Hash) ([]found, error) {
	t, err := object.GetTree(s.s, root)
	if err != nil {
		return nil, err
	}
	var out []found
	add := func(prefix string, fs []found) {
		for _, f := range fs {
			f.path = prefix + "/" + f.path
			out = append(out, f)
		}
	}
	for _, e := range t.Entries {
		if e.Mode != filemode.Dir {
			continue
		}
		switch e.Name {
		case dirNamespaces:
			fs, err := s.namespaces(e.Hash)
			if err != nil {
				return nil, err
			}
			add(e.Name, fs)
		case dirCRDs:
			if !s.q.mayBe("CustomResourceDefinition") {
				continue
			}
			fs, err := s.dir(treeKey{hash: e.Hash, depth: 2})
			if err != nil {
				return nil, err
			}
			add(e.Name, fs)
		case dirCluster:
			fs, err := s.cluster(e.Hash)
			if err != nil {
				return nil, err
			}
			add(e.Name, fs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// namespaces searches namespaces/<namespace>/<release>/: only the query's namespace when
// it has one.
func (s *searcher) namespaces(h plumbing.Hash) ([]found, error) {
	if s.q.Namespace == "" {
		return s.dir(treeKey{hash: h, depth: 2})
	}
	t, err := object.GetTree(s.s, h)
	if err != nil {
		return nil, err
	}
	for _, e := range t.Entries {
		if e.Name == s.q.Namespace && e.Mode == filemode.Dir {
			fs, err := s.dir(treeKey{hash: e.Hash, depth: 1})
			out := make([]found, len(fs)) // fs is memoized: copy before prefixing
			for i, f := range fs {
				f.path = e.Name + "/" + f.path
				out[i] = f
			}
			return out, err
		}
	}
	return nil, nil
}

// cluster searches cluster/resources/<namespace>/<release>/ and, for a Namespace,
// cluster/namespaces/.
func (s *searcher) cluster(h plumbing.Hash) ([]found, error) {
	t, err := object.GetTree(s.s, h)
	if err != nil {
		return nil, err
	}
	var out []found
	for _, e := range t.Entries {
		if e.Mode != filemode.Dir {
			continue
		}
		var fs []found
		switch {
		case e.Name == dirClusterResources:
			fs, err = s.dir(treeKey{hash: e.Hash, depth: 2})
		case e.Name == dirClusterNS && s.q.mayBe("Namespace"):
			fs, err = s.dir(treeKey{hash: e.Hash, exact: true})
		}
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			f.path = e.Name + "/" + f.path
			out = append(out, f)
		}
	}
	return out, nil
}

// dir searches the tree k.hash, k.depth folder levels above a release folder (0: a release
// folder, whose files may also be in subfolders: the folders of a file inside its chart,
// such as charts/<subchart>/, which the layout keeps as jx gitops helmfile move does).
func (s *searcher) dir(k treeKey) ([]found, error) {
	if fs, ok := s.trees[k]; ok {
		return fs, nil
	}
	t, err := object.GetTree(s.s, k.hash)
	if err != nil {
		return nil, err
	}
	var out []found
	for _, e := range t.Entries {
		if k.depth > 0 || (e.Mode == filemode.Dir && !k.exact) {
			if e.Mode != filemode.Dir {
				continue
			}
			fs, err := s.dir(treeKey{hash: e.Hash, depth: max(0, k.depth-1)})
			if err != nil {
				return nil, err
			}
			for _, f := range fs {
				f.path = e.Name + "/" + f.path
				out = append(out, f)
			}
			continue
		}
		if !e.Mode.IsFile() || !s.candidate(e.Name, k.exact) {
			continue
		}
		id, err := s.identify(e.Hash)
		if err != nil {
			return nil, err
		}
		if id != nil {
			out = append(out, found{path: e.Name, blob: e.Hash, mode: e.Mode, id: *id})
		}
	}
	s.trees[k] = out
	return out, nil
}

// candidate reports whether a file name can be the query's resource: <name>-<suffix>.yaml
// (with a collision hash maybe), or <name>.yaml for the Namespace objects.
func (s *searcher) candidate(file string, exact bool) bool {
	if exact {
		return file == s.base+".yaml"
	}
	return strings.HasPrefix(file, s.base+"-") && strings.HasSuffix(file, ".yaml")
}

// identify reads a blob's resource identity; nil when it does not answer the query.
func (s *searcher) identify(h plumbing.Hash) (*Resource, error) {
	if id, ok := s.blobs[h]; ok {
		return id, nil
	}
	id, err := readIdentity(s.s, h)
	if err != nil {
		return nil, err
	}
	if id != nil && !s.q.matches(*id) {
		id = nil
	}
	s.blobs[h] = id
	return id, nil
}

// readIdentity reads apiVersion, kind, metadata.name and metadata.namespace of the YAML
// blob h; nil when it is not a Kubernetes resource.
func readIdentity(s storer.EncodedObjectStorer, h plumbing.Hash) (*Resource, error) {
	data, err := readBlob(s, h)
	if err != nil {
		return nil, err
	}
	var doc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"metadata"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil || doc.Kind == "" || doc.Metadata.Name == "" {
		return nil, nil // not a resource: never a match
	}
	return &Resource{APIVersion: doc.APIVersion, Kind: doc.Kind, Namespace: doc.Metadata.Namespace, Name: doc.Metadata.Name}, nil
}

func readBlob(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(s, h)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	defer r.Close()
	return io.ReadAll(r)
}
