// Command configroot renders a cluster repo (helmfile.yaml, values, charts, kustomize
// folders) into config-root/: one canonical YAML file per Kubernetes resource, laid out the
// Jenkins X way. It is the local twin of the configroot Dagger module: same packages, no
// Dagger needed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
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

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
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
		newPublishCommand(stdout, stderr),
		newPipelineCommand(stdout, stderr),
		newHistoryCommand(stdout, stderr),
	)
	return root
}
