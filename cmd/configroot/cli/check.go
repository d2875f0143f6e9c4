package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/configroot/configroot/modules/publish"
	"github.com/spf13/cobra"
)

// checkFlags are the flags check and diff share.
type checkFlags struct {
	s          renderSettings
	configRoot string
	verbose    bool
}

func (c *checkFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	c.s.bind(f, false)
	f.StringVar(&c.configRoot, "config-root", "", "the committed config-root folder to compare with (default <source>/config-root)")
	f.BoolVarP(&c.verbose, "verbose", "v", false, "report each release rendered, and stream helmfile's own output, to stderr")
}

func (c *checkFlags) diff(cmd *cobra.Command, args []string, stderr io.Writer) (publish.Diff, string, error) {
	c.s.o.Template.ExtraArgs = args
	if c.verbose {
		c.s.o.Progress, c.s.o.Log = stderr, stderr
	}
	dir := c.configRoot
	if dir == "" {
		dir = filepath.Join(c.s.o.Source, "config-root")
	}
	o, _, err := c.s.options(func(m string) { fmt.Fprintf(stderr, "configroot: warning: %s\n", m) })
	if err != nil {
		return publish.Diff{}, dir, err
	}
	d, err := publish.Check(cmd.Context(), o, dir)
	return d, dir, err
}

func newCheckCommand(stdout, stderr io.Writer) *cobra.Command {
	var c checkFlags
	cmd := &cobra.Command{
		Use:   "check [flags] [-- HELMFILE_TEMPLATE_ARGS...]",
		Short: "Fail when the committed config-root/ differs from a fresh render",
		Long: `Check renders the cluster repo afresh into a temporary folder and compares the result,
file by file, with the config-root folder of --source (in CI, the commit checked out).
It is the regen check of a pull request: it fails when someone changed the sources
without re-rendering, or edited config-root by hand.

Exit status: 0 when they are identical; 1 when they differ, with one line per differing
file on stdout, sorted by path ("added", "changed" or "removed", as a fresh render would change
config-root); 2 when the check itself failed (the render, a read).

It takes the render flags of configroot render, except --output and --selector: the
whole repo is rendered. configroot diff shows the same differences per resource.`,
		Example: `  # in CI: fail the pull request when config-root is not the render of its sources
  configroot check --source .

  # check the production environment's render, committed in config-root-production
  configroot check -e production --config-root config-root-production`,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, dir, err := c.diff(cmd, args, stderr)
			if err != nil {
				return exitError{code: 2, err: err}
			}
			if d.Empty() {
				fmt.Fprintf(stderr, "%s is up to date with a fresh render\n", dir)
				return nil
			}
			files := slices.Clone(d.Files)
			slices.SortFunc(files, func(a, b publish.FileDiff) int { return strings.Compare(a.Path, b.Path) })
			for _, f := range files {
				fmt.Fprintf(stdout, "%-8s %s\n", f.Change+":", f.Path)
			}
			return exitError{code: 1, err: fmt.Errorf("%s is stale: %d files differ from a fresh render (%d added, %d changed, %d removed); run configroot render and commit the result",
				dir, len(d.Files), d.Added, d.Changed, d.Removed)}
		},
	}
	c.bind(cmd)
	return cmd
}

func newDiffCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		c      checkFlags
		format string
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "diff [flags] [-- HELMFILE_TEMPLATE_ARGS...]",
		Short: "Summarize, per resource, what a fresh render would change in config-root/",
		Long: `Diff renders the cluster repo afresh into a temporary folder, as configroot check does,
and prints what differs from the config-root folder of --source, per resource: added,
changed (with the fields that differ, at most three levels deep, e.g.
spec.template.spec) or removed, grouped by namespace.

--format markdown (the default) fits a pull request comment: it never exceeds --limit
characters (65,536, GitHub's limit for a comment), cut at a line boundary and ending
with "… and N more files not shown". --format json is never cut:
  {"added": N, "changed": N, "removed": N,
   "files": [{"path", "change", "namespace", "apiVersion", "kind", "name", "fields"}]}

The exit status is 0 whether or not something differs (use configroot check to fail).`,
		Example: `  # post the summary as a pull request comment
  configroot diff > comment.md && gh pr comment --body-file comment.md

  # machine-readable
  configroot diff --format json | jq '.files[] | select(.change == "removed")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "markdown" && format != "json" {
				return fmt.Errorf("--format %q: want markdown or json", format)
			}
			d, _, err := c.diff(cmd, args, stderr)
			if err != nil {
				return err
			}
			if format == "json" {
				b, err := d.JSON()
				if err != nil {
					return err
				}
				_, err = stdout.Write(b)
				return err
			}
			_, err = io.WriteString(stdout, d.Markdown(limit))
			return err
		},
	}
	c.bind(cmd)
	cmd.Flags().StringVar(&format, "format", "markdown", "the output format: markdown or json")
	cmd.Flags().IntVar(&limit, "limit", publish.MarkdownLimit, "the most characters of the Markdown output")
	return cmd
}
