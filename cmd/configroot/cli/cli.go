// Package cli is the configroot command line: render, check, diff, populate, publish,
// pipeline and history over the modules/* packages. cmd/configroot runs it on a developer's
// machine; the Dagger module runs the same commands inside the helmfile container, so that
// the raw render (which holds Secret values) never leaves the exec that made it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Run executes the command line args (without the program name) of configroot version
// ("v1.2.3", or "dev") and returns the process exit code: 0 on success, 1 (or the status an
// error asks for) with one "configroot: …" line on stderr on failure.
func Run(ctx context.Context, version string, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(version, stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "configroot: %v\n", err)
		var exit exitError
		if errors.As(err, &exit) {
			return exit.code
		}
		return 1
	}
	return 0
}

// exitError is an error that ends the process with a given status (1 otherwise).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func newRootCommand(version string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "configroot",
		Short: "Render a GitOps cluster repo into config-root/, one file per resource",
		Long: `configroot renders a cluster repository into config-root/: it runs helmfile template
over helmfile.yaml, renders the kustomize folders listed in configroot.yaml, and writes
every resource to one canonical file, laid out as Jenkins X does:

  config-root/namespaces/<namespace>/<release>/<name>-<kind>.yaml
  config-root/cluster/resources/<namespace>/<release>/<name>-<kind>.yaml
  config-root/customresourcedefinitions/<namespace>/<release>/<name>-crd.yaml
  config-root/cluster/namespaces/<namespace>.yaml

The same input always gives byte-identical files, and config-root/ is replaced atomically:
a failed render leaves it exactly as it was.

check and diff compare the committed config-root/ with a fresh render; publish commits
it to the cluster repo and pushes it; pipeline renders then publishes; history shows the
commits that changed one resource.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newRenderCommand(stdout, stderr),
		newCheckCommand(stdout, stderr),
		newDiffCommand(stdout, stderr),
		newPopulateCommand(stdout, stderr),
		newPublishCommand(version, stdout, stderr),
		newPipelineCommand(version, stdout, stderr),
		newHistoryCommand(stdout, stderr),
	)
	return root
}
