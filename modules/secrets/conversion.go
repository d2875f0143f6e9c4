package secrets

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Conversion is the secrets step of a render as the CLI and the Dagger module run it: a
// Converter then a Guard, with what they found kept for the summary.
type Conversion struct {
	// Converter converts the Secrets; its Report is set by Filters.
	Converter Converter
	// Report is what the Converter did.
	Report Report
	// OptedOut lists the Secrets with data kept on purpose.
	OptedOut []string
}

// Filters returns the render filters of the conversion: convert, then guard. The
// Converter is read when the filter runs, not now: a render that turns out to hold some
// releases only (render.Options.OnPartial) may still set its Partial.
func (c *Conversion) Filters() []kio.Filter {
	convert := kio.FilterFunc(func(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
		conv := c.Converter
		conv.Report = &c.Report
		return conv.Filter(nodes)
	})
	return []kio.Filter{convert, Guard{AllowedOut: &c.OptedOut}}
}

// Summary is one line about the Secrets of a render: how many became ExternalSecrets, in
// which stores (how many of them placeholders, how many binary keys), and which were kept as
// Secrets.
func (c *Conversion) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secrets: %d converted into ExternalSecrets", len(c.Report.Converted))
	if len(c.Report.Stores) > 0 {
		fmt.Fprintf(&b, " (stores: %s)", strings.Join(c.Report.Stores, ", "))
	}
	if n := len(c.Report.Placeholders); n > 0 {
		fmt.Fprintf(&b, ", %d of them named by the mapping with only empty values (populate needs a source for their keys)", n)
	}
	if n := len(c.Report.Binary); n > 0 {
		fmt.Fprintf(&b, ", %d binary keys stored base64 (decodingStrategy Base64)", n)
	}
	fmt.Fprintf(&b, ", %d empty kept as Secrets", len(c.Report.Empty))
	if len(c.OptedOut) > 0 {
		fmt.Fprintf(&b, ", %d with data kept on purpose (%s): %s", len(c.OptedOut), AnnotationExclude, strings.Join(c.OptedOut, ", "))
	}
	return b.String()
}
