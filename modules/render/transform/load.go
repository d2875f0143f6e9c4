package transform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/configroot/configroot/modules/internal/closest"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Section is the key of the transforms section in configroot.yaml.
const Section = "transforms"

// Load reads the transforms section of configroot.yaml, whose contents are data and whose
// name file prefixes every error. A file without the section gives the zero Config.
//
// It is strict: an unknown field, a value of the wrong type, a duplicate key, an invalid
// label or annotation, a kind, glob or selector that does not parse are errors of the form
// "<file>:<line>: transforms.rules[1].match.kinds[0]: …", all of them joined (errors.Join).
// A label or annotation value may be written as any YAML scalar and is taken as written
// (true is "true"); a null one is an error.
func Load(file string, data []byte) (Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", file, err)
	}
	c := Config{File: file}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return c, nil
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return c, nil // not a mapping: the strict decoding of the whole file reports it
	}
	var section *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == Section {
			section = resolve(root.Content[i+1])
		}
	}
	if section == nil || section.Tag == "!!null" {
		return c, nil
	}
	d := &decoder{file: file, lines: map[string]int{}}
	d.config(section, &c)
	if len(d.errs) == 0 {
		for i, r := range c.Rules {
			for _, e := range r.validate(fmt.Sprintf("rules[%d]", i)) {
				d.errs = append(d.errs, d.format(d.line(e.path), e.path, e.msg))
			}
		}
	}
	if len(d.errs) > 0 {
		return Config{}, errors.Join(d.errs...)
	}
	return c, nil
}

// decoder walks the section's YAML nodes, keeping the line of every field for messages.
type decoder struct {
	file  string
	errs  []error
	lines map[string]int // path below transforms → line
}

func (d *decoder) format(line int, at, msg string) error {
	where := Section
	if at != "" {
		where += "." + at
	}
	if d.file == "" {
		return fmt.Errorf("line %d: %s: %s", line, where, msg)
	}
	return fmt.Errorf("%s:%d: %s: %s", d.file, line, where, msg)
}

func (d *decoder) errorf(n *yaml.Node, at, format string, args ...any) {
	d.errs = append(d.errs, d.format(n.Line, at, fmt.Sprintf(format, args...)))
}

// line returns the line of the field at path, or of its nearest parent that has one.
func (d *decoder) line(at string) int {
	for {
		if l, ok := d.lines[at]; ok {
			return l
		}
		i := strings.LastIndexAny(at, ".[")
		if i < 0 {
			return d.lines[""]
		}
		at = at[:i]
	}
}

// fields calls set for each key of the mapping n (at path at), reporting keys not in known
// (with the closest known one), duplicate keys and a node that is not a mapping.
func (d *decoder) fields(n *yaml.Node, at string, known []string, set func(key string, v *yaml.Node, at string)) {
	d.lines[at] = n.Line
	if n.Kind != yaml.MappingNode {
		d.errorf(n, at, "want a mapping with %s, not %s", strings.Join(known, ", "), describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		sub := k.Value
		if at != "" {
			sub = at + "." + k.Value
		}
		if seen[k.Value] {
			d.errorf(k, sub, "set twice")
			continue
		}
		seen[k.Value] = true
		if !contains(known, k.Value) {
			hint := ""
			if near := closest.Names(k.Value, known, 1); len(near) > 0 {
				hint = fmt.Sprintf(" (did you mean %s?)", near[0])
			}
			d.errorf(k, sub, "unknown field%s; known: %s", hint, strings.Join(known, ", "))
			continue
		}
		d.lines[sub] = k.Line
		set(k.Value, v, sub)
	}
}

func (d *decoder) config(n *yaml.Node, c *Config) {
	d.fields(n, "", []string{"jenkinsX", "rules"}, func(key string, v *yaml.Node, at string) {
		switch key {
		case "jenkinsX":
			c.JenkinsX = d.boolean(v, at)
		case "rules":
			if isNull(v) {
				return
			}
			if v.Kind != yaml.SequenceNode {
				d.errorf(v, at, "want a list of rules, not %s", describe(v))
				return
			}
			for i, item := range v.Content {
				item = resolve(item)
				r := Rule{Line: item.Line}
				d.rule(item, fmt.Sprintf("rules[%d]", i), &r)
				c.Rules = append(c.Rules, r)
			}
		}
	})
}

func (d *decoder) rule(n *yaml.Node, at string, r *Rule) {
	d.fields(n, at, []string{"match", "labels", "annotations", "podTemplate", "configHash"}, func(key string, v *yaml.Node, at string) {
		switch key {
		case "match":
			d.match(v, at, &r.Match)
		case "labels":
			r.Labels = d.stringMap(v, at)
		case "annotations":
			r.Annotations = d.stringMap(v, at)
		case "podTemplate":
			r.PodTemplate = d.boolean(v, at)
		case "configHash":
			r.ConfigHash = d.str(v, at)
		}
	})
}

func (d *decoder) match(n *yaml.Node, at string, m *Match) {
	d.fields(n, at, []string{"trees", "kinds", "namespaces", "releases", "names", "selector"}, func(key string, v *yaml.Node, at string) {
		switch key {
		case "trees":
			m.Trees = d.strings(v, at)
		case "kinds":
			m.Kinds = d.strings(v, at)
		case "namespaces":
			m.Namespaces = d.strings(v, at)
		case "releases":
			m.Releases = d.strings(v, at)
		case "names":
			m.Names = d.strings(v, at)
		case "selector":
			m.Selector = d.str(v, at)
		}
	})
}

func (d *decoder) boolean(n *yaml.Node, at string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, at, "want true or false, not %s", describe(n))
		return false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

// str reads a string; any scalar but null is taken as written.
func (d *decoder) str(n *yaml.Node, at string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, at, "want a string, not %s", describe(n))
		return ""
	}
	return n.Value
}

// strings reads a list of strings; a single string is a list of one, null an empty list.
func (d *decoder) strings(n *yaml.Node, at string) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		d.lines[at] = n.Line
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, at, "want a list of strings, not %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		sub := fmt.Sprintf("%s[%d]", at, i)
		d.lines[sub] = item.Line
		out = append(out, d.str(resolve(item), sub))
	}
	return out
}

// stringMap reads a mapping of strings (labels, annotations); null is an empty one.
func (d *decoder) stringMap(n *yaml.Node, at string) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, at, "want a mapping of keys to values, not %s", describe(n))
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		sub := at + "." + k.Value
		d.lines[sub] = k.Line
		if _, dup := out[k.Value]; dup {
			d.errorf(k, sub, "set twice")
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			d.errorf(v, sub, "want a string value, not %s (write \"\" for an empty value)", describe(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

// isNull reports an empty value ("key:" or "key: ~"), which lists and mappings take as empty.
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// resolve follows a YAML alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "nothing (null)"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
