package publish

import (
	"fmt"
	"strings"
)

// Message describes the commit Publish makes. Every field is optional.
type Message struct {
	// Title is the first line (default: "Render config-root" and, when SourceCommit is set,
	// " from <its first 12 characters>").
	Title string
	// SourceCommit is the commit of the source repo that was rendered (trailer Source-Commit).
	SourceCommit string
	// SourceRepository is where the source repo lives (trailer Source-Repository); URL user
	// info is removed.
	SourceRepository string
	// RenderedBy names the tool and version (trailer Rendered-By), e.g. "configroot v1.2.0".
	RenderedBy string
}

// Format returns the commit message for changes: the title, the counts of resources added,
// changed and removed in total and per namespace, then the trailers that are set, in the
// order Source-Commit, Source-Repository, Rendered-By.
func (m Message) Format(c Changes) string {
	var b strings.Builder
	title := m.Title
	if title == "" {
		title = "Render config-root"
		if m.SourceCommit != "" {
			title += " from " + shortHash(m.SourceCommit)
		}
	}
	b.WriteString(strings.TrimSpace(title))
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Resources %s:\n", summary(len(c.Added), len(c.Modified), len(c.Deleted)))
	for _, n := range c.ByNamespace() {
		fmt.Fprintf(&b, "- %s: %s\n", n.Namespace, summary(n.Added, n.Changed, n.Removed))
	}
	var trailers []string
	if m.SourceCommit != "" {
		trailers = append(trailers, "Source-Commit: "+m.SourceCommit)
	}
	if m.SourceRepository != "" {
		trailers = append(trailers, "Source-Repository: "+Redact(m.SourceRepository))
	}
	if m.RenderedBy != "" {
		trailers = append(trailers, "Rendered-By: "+m.RenderedBy)
	}
	if len(trailers) > 0 {
		b.WriteString("\n")
		b.WriteString(strings.Join(trailers, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
