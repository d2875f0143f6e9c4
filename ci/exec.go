package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"dagger/configroot/cliexec"
	"dagger/configroot/internal/dagger"

	"github.com/configroot/configroot/cmd/configroot/cli"
)

// The helmfile render holds every Secret's values, so it must never leave the exec that
// made it: not as a directory the engine caches, not into this module's runtime. helmfile,
// the layout, the Secret → ExternalSecret conversion and the leak guard therefore run in
// one exec of the helmfile image, as `configroot render` (the same CLI a developer runs),
// with the raw output on a tmpfs; only config-root leaves it.
//
// The configroot binary in that exec is this module's own executable, which the Dagger Go
// SDK built from the module's source (so it is the same code, and cached with the module):
// started with cliexec.Env set, it runs the configroot CLI and exits before the module's
// Dagger entry point (main, in dagger.gen.go) ever runs.
const (
	// cliPath is where the CLI is in the helmfile container.
	cliPath = "/usr/local/bin/configroot"
	// srcPath is where the cluster repo is mounted in the helmfile container.
	srcPath = "/src"
	// envFilePath is where the repository credentials secret is mounted, for --env-file.
	envFilePath = "/run/configroot/helmfile.env"
	// helmCachePath is HELM_CACHE_HOME in the helmfile container, on helmCacheVolume.
	helmCachePath = "/cache/helm"
	// helmCacheVolume names the cache volume of helm's cache.
	helmCacheVolume = "configroot-helm-cache"
	// renderCachePath is configroot render's --cache in the helmfile container, on
	// renderCacheVolume, when the module's renderCache is set.
	renderCachePath = "/cache/render"
	// renderCacheVolume names the cache volume of the render cache: keys and digests, no
	// resource and no value (render.Options.Cache).
	renderCacheVolume = "configroot-render-cache"
)

func init() {
	if os.Getenv(cliexec.Env) == "" {
		return
	}
	cliexec.Cleanup()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, "dagger", os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// configrootCLI returns this module's executable as a file the engine can put into a
// container: the module's working directory is its scratch space, from which the engine
// takes files.
func configrootCLI() (*dagger.File, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the module's executable: %w", err)
	}
	const name = "configroot-cli"
	dst, err := filepath.Abs(name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		if err := os.Link(exe, dst); err != nil {
			if err := copyFile(exe, dst); err != nil {
				return nil, fmt.Errorf("copy the module's executable: %w", err)
			}
		}
	}
	return dag.CurrentModule().WorkdirFile(name), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// container returns the helmfile image with the configroot CLI and the cluster repo at
// srcPath, its working directory. Every temporary file, the raw render included, and
// helm's configuration (repositories.yaml and registry logins, which hold credentials) and
// helmfile's state live on a tmpfs: nothing of them reaches a layer the engine keeps.
// Helm's cache (HELM_CACHE_HOME: repository indexes and downloaded charts, no credentials
// and no rendered values) is a cache volume shared by every call, so that a remote chart
// is fetched once. The image's helm plugins (HELM_DATA_HOME) stay as they are.
func (m *Configroot) container() (*dagger.Container, error) {
	exe, err := configrootCLI()
	if err != nil {
		return nil, err
	}
	ctr := dag.Container().From(m.Image).
		WithFile(cliPath, exe, dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithEnvVariable(cliexec.Env, "1").
		WithMountedTemp("/tmp").
		WithEnvVariable("TMPDIR", "/tmp").
		WithMountedCache(helmCachePath, dag.CacheVolume(helmCacheVolume)).
		WithEnvVariable("HELM_CACHE_HOME", helmCachePath).
		WithEnvVariable("HELM_CONFIG_HOME", "/tmp/helm/config").
		WithEnvVariable("XDG_CACHE_HOME", "/tmp/cache").
		WithMountedDirectory(srcPath, m.Source).
		WithWorkdir(srcPath)
	if m.RepositoryCredentials != nil {
		ctr = ctr.WithMountedSecret(envFilePath, m.RepositoryCredentials)
	}
	if m.RenderCache {
		ctr = ctr.WithMountedCache(renderCachePath, dag.CacheVolume(renderCacheVolume))
	}
	return ctr, nil
}

// renderArgs are the arguments of `configroot CMD` that say what to render, from the
// module's settings.
func (m *Configroot) renderArgs(cmd string, selector []string) []string {
	// The source is the working directory, so that messages name files as the repo does.
	args := []string{cliPath, cmd, "--source", "."}
	if m.Environment != "" {
		args = append(args, "--environment", m.Environment)
	}
	if m.KubeVersion != "" {
		args = append(args, "--kube-version", m.KubeVersion)
	}
	if m.RepositoryCredentials != nil {
		args = append(args, "--env-file", envFilePath)
	}
	switch cmd {
	case "render":
		args = append(args, "--secrets-format", m.SecretsFormat)
		for _, s := range selector {
			args = append(args, "--selector", s)
		}
		if m.RenderCache && len(selector) == 0 {
			args = append(args, "--cache", renderCachePath)
		}
	case "check":
		args = append(args, "--secrets-format", m.SecretsFormat)
	}
	return args
}

// rendered runs `configroot render` in the helmfile container and returns the container
// after it: config-root is at srcPath/config-root.
func (m *Configroot) rendered(ctx context.Context, selector []string) (*dagger.Container, error) {
	ctr, err := m.container()
	if err != nil {
		return nil, err
	}
	ctr = ctr.WithExec(m.renderArgs("render", selector))
	if _, err := ctr.Sync(ctx); err != nil {
		return nil, cliError("render", err)
	}
	return ctr, nil
}

// cliError turns a failed configroot exec into its own one-line error, without Dagger's
// repetition of the whole command line.
func cliError(step string, err error) error {
	var exec *dagger.ExecError
	if !errors.As(err, &exec) {
		return fmt.Errorf("%s: %w", step, err)
	}
	lines := strings.Split(strings.TrimSpace(exec.Stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, ok := strings.CutPrefix(lines[i], "configroot: "); ok && !strings.HasPrefix(msg, "warning: ") {
			return fmt.Errorf("%s: %s", step, msg)
		}
	}
	return fmt.Errorf("%s: configroot exited with status %d:\n%s", step, exec.ExitCode, strings.TrimSpace(exec.Stderr))
}
