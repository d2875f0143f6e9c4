// Package main is configroot's Dagger module: render a GitOps cluster repo into config-root/
// (one canonical file per Kubernetes resource, every Secret turned into an ExternalSecret),
// check that a committed config-root is up to date, and publish it to the cluster repo.
//
// helmfile runs in a container of the official helmfile image; everything after it runs as
// Go inside the module, through the same packages as the configroot CLI (modules/render,
// modules/secrets, modules/publish). This file is glue: the logic and its tests live there.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"dagger/configroot/internal/dagger"

	"github.com/configroot/configroot/modules/publish"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
)

// HelmfileImage is the image helmfile runs in: the official one, with helm inside. No digest
// is pinned because none could be looked up where this was written; pass "image@sha256:…"
// as the image argument to pin one.
const HelmfileImage = "ghcr.io/helmfile/helmfile:v1.8.0"

// Configroot renders, checks and publishes a cluster repo's config-root.
type Configroot struct {
	// Source is the cluster repo.
	Source *dagger.Directory
}

// New returns the module for a cluster repo.
func New(
	// The cluster repo: helmfile.yaml, values, charts, configroot.yaml and
	// .jx/secret/mapping/secret-mappings.yaml. Defaults to the repo the module is called from.
	// +defaultPath="/"
	// +ignore=[".git", "bin"]
	source *dagger.Directory,
) *Configroot {
	return &Configroot{Source: source}
}

// Render renders the cluster repo into config-root/ and returns that folder: helmfile
// template in the helmfile image, then layout and the Secret → ExternalSecret conversion
// (the render fails if a Secret with data would reach config-root).
func (m *Configroot) Render(
	ctx context.Context,
	// The helmfile environment to render (helmfile's -e).
	// +optional
	environment string,
	// Render only the releases matching these label selectors (helmfile's -l); the result
	// holds only their files.
	// +optional
	selector []string,
	// The Kubernetes version helm renders for (default: configroot.yaml's kubeVersion, else
	// v1.37.0).
	// +optional
	kubeVersion string,
	// The image helmfile and helm run in.
	// +default="ghcr.io/helmfile/helmfile:v1.8.0"
	image string,
	// The ExternalSecrets every Secret becomes: "eso" (external-secrets.io/v1) or "legacy"
	// (kubernetes-client.io/v1).
	// +default="eso"
	secretsFormat string,
) (*dagger.Directory, error) {
	if err := m.renderTo(ctx, "config-root", renderArgs{environment, selector, kubeVersion, image, secretsFormat}); err != nil {
		return nil, err
	}
	return dag.CurrentModule().Workdir("config-root"), nil
}

// Check renders the cluster repo afresh and fails when its committed config-root/ differs,
// listing the files that would change: the regen check of a pull request.
func (m *Configroot) Check(
	ctx context.Context,
	// The helmfile environment to render (helmfile's -e).
	// +optional
	environment string,
	// The image helmfile and helm run in.
	// +default="ghcr.io/helmfile/helmfile:v1.8.0"
	image string,
	// "eso" or "legacy", as the committed config-root was rendered.
	// +default="eso"
	secretsFormat string,
) (string, error) {
	o, conv, err := m.renderOptions(ctx, "", renderArgs{environment: environment, image: image, secretsFormat: secretsFormat})
	if err != nil {
		return "", err
	}
	d, err := publish.Check(ctx, o, filepath.Join(o.Source, "config-root"))
	if err != nil {
		return "", err
	}
	fmt.Fprintln(os.Stderr, conv.Summary())
	if !d.Empty() {
		return "", fmt.Errorf("config-root is stale: a fresh render adds %d files, changes %d and removes %d:\n%s",
			d.Added, d.Changed, d.Removed, d.Markdown(16<<10))
	}
	return "config-root is up to date with a fresh render", nil
}

// Publish renders the cluster repo and commits config-root/ to the cluster repo's branch,
// retrying when the branch moved; it returns the commit, or "no change".
func (m *Configroot) Publish(
	ctx context.Context,
	// The cluster repo to publish to, as an https URL.
	repo string,
	// A token with push rights, sent as the password of basic auth.
	token *dagger.Secret,
	// The branch to publish to.
	// +default="main"
	branch string,
	// Push to this branch instead (created from branch), for a pull request.
	// +optional
	pullRequestBranch string,
	// The user name that goes with the token.
	// +default="x-access-token"
	username string,
	// The commit's author, "Name <email>".
	// +optional
	author string,
	// The commit of the source repo that was rendered, for the commit message.
	// +optional
	sourceCommit string,
	// The URL of the source repo, for the commit message.
	// +optional
	sourceRepository string,
	// The helmfile environment to render (helmfile's -e).
	// +optional
	environment string,
	// The image helmfile and helm run in.
	// +default="ghcr.io/helmfile/helmfile:v1.8.0"
	image string,
	// "eso" or "legacy".
	// +default="eso"
	secretsFormat string,
) (string, error) {
	if err := m.renderTo(ctx, "config-root", renderArgs{environment: environment, image: image, secretsFormat: secretsFormat}); err != nil {
		return "", err
	}
	files, err := render.ReadFiles("config-root")
	if err != nil {
		return "", err
	}
	plain, err := token.Plaintext(ctx)
	if err != nil {
		return "", err
	}
	who, err := publish.ParseAuthor(author)
	if err != nil {
		return "", err
	}
	res, err := publish.Publish(ctx, publish.Options{
		URL:               repo,
		Branch:            branch,
		PullRequestBranch: pullRequestBranch,
		Credentials:       &publish.Credentials{Username: username, Token: publish.Secret(plain)},
		Files:             files,
		Author:            who,
		Message:           publish.Message{SourceCommit: sourceCommit, SourceRepository: sourceRepository, RenderedBy: "configroot (dagger)"},
		Progress:          os.Stderr,
	})
	switch {
	case errors.Is(err, publish.ErrNoChanges):
		return "no change", nil
	case err != nil:
		return "", publish.MaskError(err, plain)
	}
	return res.Commit, nil
}

// renderArgs are the render settings the functions share.
type renderArgs struct {
	environment   string
	selector      []string
	kubeVersion   string
	image         string
	secretsFormat string
}

// renderOptions exports the source into the module's runtime and returns the options of a
// render of it into out (a folder of the module's working directory), with helmfile in a
// container and the secrets conversion.
func (m *Configroot) renderOptions(ctx context.Context, out string, a renderArgs) (render.Options, *secrets.Conversion, error) {
	src, err := filepath.Abs("source")
	if err != nil {
		return render.Options{}, nil, err
	}
	if _, err := m.Source.Export(ctx, src); err != nil {
		return render.Options{}, nil, fmt.Errorf("export the source: %w", err)
	}
	mapping, err := secrets.LoadMapping(src, "", func(w string) { fmt.Fprintln(os.Stderr, "warning:", w) })
	if err != nil {
		return render.Options{}, nil, err
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping, Format: secrets.Format(a.secretsFormat)}}
	return render.Options{
		Source:   src,
		Output:   out,
		Template: render.TemplateOptions{Environment: a.environment, Selectors: a.selector, KubeVersion: a.kubeVersion},
		Runner:   containerRunner{image: a.image, source: m.Source},
		Progress: os.Stderr,
		Filters:  conv.Filters(),
	}, conv, nil
}

// renderTo renders the source into out, a folder of the module's working directory.
func (m *Configroot) renderTo(ctx context.Context, out string, a renderArgs) error {
	o, conv, err := m.renderOptions(ctx, out, a)
	if err != nil {
		return err
	}
	res, err := render.Render(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d releases, %d files\n%s\n", len(res.Releases), res.Resources, conv.Summary())
	return nil
}

// containerRunner runs helmfile in a container of image, with the source mounted at the
// path the command expects, and copies the command's output folder back.
type containerRunner struct {
	image  string
	source *dagger.Directory
}

// Run implements render.Runner.
func (r containerRunner) Run(ctx context.Context, c render.Command, stdout, stderr io.Writer) error {
	ctr := dag.Container().From(r.image).
		WithMountedDirectory(c.Dir, r.source).
		WithWorkdir(c.Dir).
		WithExec(append([]string{c.Name}, c.Args...))
	out, err := ctr.Stdout(ctx)
	var exec *dagger.ExecError
	if errors.As(err, &exec) {
		return &render.ExecError{Name: c.Name, Args: c.Args, Code: exec.ExitCode, Err: err, Stderr: render.TailStderr(exec.Stderr)}
	}
	if err != nil {
		return err
	}
	if stdout != nil {
		_, _ = io.WriteString(stdout, out)
	}
	if _, err := ctr.Directory(c.Output).Export(ctx, c.Output); err != nil {
		return fmt.Errorf("copy %s out of the helmfile container: %w", c.Output, err)
	}
	return nil
}
