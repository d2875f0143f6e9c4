// Command configroot renders a cluster repo (helmfile.yaml, values, charts, kustomize
// folders) into config-root/: one canonical YAML file per Kubernetes resource, laid out the
// Jenkins X way, every Secret an ExternalSecret. It is the local twin of the configroot
// Dagger module: the same commands (package cli), no Dagger needed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/configroot/configroot/cmd/configroot/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, version, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
