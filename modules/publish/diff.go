package publish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/configroot/configroot/modules/render"
	"sigs.k8s.io/yaml"
)

// How a file changed between two renders.
const (
	Added   = "added"
	Changed = "changed"
	Removed = "removed"
)

// FileDiff is one file of config-root that differs between two renders.
type FileDiff struct {
	// Path is the file's slash path relative to config-root.
	Path string `json:"path"`
	// Change is Added, Changed or Removed.
	Change string `json:"change"`
	// Namespace is the namespace of the path (see Namespace).
	Namespace string `json:"namespace"`
	// APIVersion, Kind and Name identify the resource (of the new file; of the old one when
	// removed); empty when the file is not a Kubernetes object.
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	// Fields lists, for a changed resource, the fields that differ, as dotted paths at most
	// three levels deep (spec.template.spec), sorted.
	Fields []string `json:"fields,omitempty"`
}

// Resource returns "Kind/name", or the path when the file is not a Kubernetes object.
func (f FileDiff) Resource() string {
	if f.Kind == "" || f.Name == "" {
		return f.Path
	}
	return f.Kind + "/" + f.Name
}

// Diff is what differs between two renders of config-root: the committed one and a fresh
// one.
type Diff struct {
	Added   int        `json:"added"`
	Changed int        `json:"changed"`
	Removed int        `json:"removed"`
	Files   []FileDiff `json:"files"`
}

// Empty reports whether the renders are identical.
func (d Diff) Empty() bool { return len(d.Files) == 0 }

// fieldDepth is how deep Compare looks for differing fields.
const fieldDepth = 3

// Compare returns what differs from old (the committed config-root) to new (a fresh
// render), files sorted by namespace then path.
func Compare(old, new render.Files) Diff {
	d := Diff{Files: []FileDiff{}}
	for p, data := range new {
		prev, ok := old[p]
		switch {
		case !ok:
			d.Added++
			d.Files = append(d.Files, describe(p, Added, data, nil))
		case !bytes.Equal(prev, data):
			d.Changed++
			d.Files = append(d.Files, describe(p, Changed, data, prev))
		}
	}
	for p, data := range old {
		if _, ok := new[p]; !ok {
			d.Removed++
			d.Files = append(d.Files, describe(p, Removed, data, nil))
		}
	}
	sort.Slice(d.Files, func(i, j int) bool {
		a, b := d.Files[i], d.Files[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Path < b.Path
	})
	return d
}

// describe identifies the resource of data and, when old is set, the fields that changed.
func describe(p, change string, data, old []byte) FileDiff {
	f := FileDiff{Path: p, Change: change, Namespace: Namespace(p)}
	var obj map[string]any
	if yaml.Unmarshal(data, &obj) != nil {
		return f
	}
	f.APIVersion, _ = obj["apiVersion"].(string)
	f.Kind, _ = obj["kind"].(string)
	if md, ok := obj["metadata"].(map[string]any); ok {
		f.Name, _ = md["name"].(string)
	}
	if old == nil {
		return f
	}
	var prev map[string]any
	if yaml.Unmarshal(old, &prev) != nil {
		return f
	}
	f.Fields = diffFields(prev, obj, "", fieldDepth)
	sort.Strings(f.Fields)
	return f
}

// diffFields returns the dotted paths, at most depth levels deep, whose values differ.
func diffFields(a, b map[string]any, prefix string, depth int) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		va, okA := a[k]
		vb, okB := b[k]
		if okA && okB && reflect.DeepEqual(va, vb) {
			continue
		}
		ma, isMapA := va.(map[string]any)
		mb, isMapB := vb.(map[string]any)
		if depth > 1 && isMapA && isMapB {
			out = append(out, diffFields(ma, mb, prefix+k+".", depth-1)...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// JSON returns the diff as indented JSON, ending with a newline.
func (d Diff) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode diff: %w", err)
	}
	return append(b, '\n'), nil
}

// MarkdownLimit is the most characters a GitHub pull request comment may hold.
const MarkdownLimit = 65536

// Markdown returns the diff as Markdown for a pull request comment: a summary line, then
// one section per namespace with one line per file. When it would be longer than limit
// bytes (so at most limit characters; MarkdownLimit when limit <= 0), it is cut at a line
// boundary and ends with "… and N more files not shown". An empty diff gives one line.
func (d Diff) Markdown(limit int) string {
	if limit <= 0 {
		limit = MarkdownLimit
	}
	var b strings.Builder
	if d.Empty() {
		return "**config-root** is up to date: no resource changed.\n"
	}
	fmt.Fprintf(&b, "**config-root**: %d resources changed (%s)\n", len(d.Files), summary(d.Added, d.Changed, d.Removed))
	// Reserve room for the longest possible cut notice.
	notice := func(n int) string { return fmt.Sprintf("\n… and %d more files not shown\n", n) }
	reserve := len(notice(len(d.Files)))
	ns := ""
	for i, f := range d.Files {
		var line strings.Builder
		if i == 0 || f.Namespace != ns {
			ns = f.Namespace
			fmt.Fprintf(&line, "\n#### %s\n\n", mdEscape(ns))
		}
		if r := f.Resource(); r != f.Path {
			fmt.Fprintf(&line, "- %s `%s` (`%s`)", f.Change, mdCode(r), mdCode(f.Path))
		} else {
			fmt.Fprintf(&line, "- %s `%s`", f.Change, mdCode(f.Path))
		}
		if len(f.Fields) > 0 {
			fields := make([]string, len(f.Fields))
			for i, field := range f.Fields {
				fields[i] = "`" + mdCode(field) + "`"
			}
			fmt.Fprintf(&line, ": %s", strings.Join(fields, ", "))
		}
		line.WriteString("\n")
		rest := len(d.Files) - i - 1
		budget := limit
		if rest > 0 {
			budget -= reserve // another line may not fit after this one
		}
		if b.Len()+line.Len() > budget {
			b.WriteString(notice(len(d.Files) - i))
			return b.String()
		}
		b.WriteString(line.String())
	}
	return b.String()
}

// mdCode makes s safe inside a `code span`.
func mdCode(s string) string { return strings.ReplaceAll(s, "`", "'") }

// mdEscape escapes Markdown's special characters in a heading.
func mdEscape(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "*", "\\*", "_", "\\_", "#", "\\#", "`", "\\`", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
