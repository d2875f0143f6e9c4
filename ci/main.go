// Package main is configroot's Dagger module: render a GitOps cluster repo into config-root/
// (one canonical file per Kubernetes resource, every Secret turned into an ExternalSecret),
// check that a committed config-root is up to date, fill the secret stores, and publish
// config-root to the cluster repo.
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
	"strings"

	"dagger/configroot/internal/dagger"

	"github.com/configroot/configroot/modules/publish"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"github.com/configroot/configroot/modules/secrets/populate"
)

// HelmfileImage is the image helmfile runs in: the official one, with helm inside. No digest
// is pinned because none could be looked up where this was written; pass "image@sha256:…"
// as the image argument to pin one.
const HelmfileImage = "ghcr.io/helmfile/helmfile:v1.8.0"

// Configroot renders, checks, populates and publishes a cluster repo's config-root.
type Configroot struct {
	// Source is the cluster repo.
	Source *dagger.Directory
	// Environment is the helmfile environment rendered.
	Environment string
	// KubeVersion is the Kubernetes version helm renders for.
	KubeVersion string
	// Image is the image helmfile runs in.
	Image string
	// SecretsFormat is the format of the ExternalSecrets.
	SecretsFormat string
}

// New returns the module for a cluster repo and the settings every function renders with.
func New(
	// The cluster repo: helmfile.yaml, values, charts, configroot.yaml and
	// .jx/secret/mapping/secret-mappings.yaml. Defaults to the repo the module is called from.
	// +defaultPath="/"
	// +ignore=[".git", "bin"]
	source *dagger.Directory,
	// The helmfile environment to render (helmfile's -e).
	// +optional
	environment string,
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
) *Configroot {
	if image == "" {
		image = HelmfileImage
	}
	return &Configroot{Source: source, Environment: environment, KubeVersion: kubeVersion, Image: image, SecretsFormat: secretsFormat}
}

// Render renders the cluster repo into config-root/ and returns that folder: helmfile
// template in the helmfile image, then layout and the Secret → ExternalSecret conversion
// (the render fails if a Secret with data would reach config-root).
func (m *Configroot) Render(
	ctx context.Context,
	// Render only the releases matching these label selectors (helmfile's -l); the result
	// holds only their files.
	// +optional
	selector []string,
) (*dagger.Directory, error) {
	if _, err := m.renderTo(ctx, "config-root", selector); err != nil {
		return nil, err
	}
	return dag.CurrentModule().Workdir("config-root"), nil
}

// Check renders the cluster repo afresh and fails when its committed config-root/ differs,
// listing the files that would change: the regen check of a pull request.
func (m *Configroot) Check(ctx context.Context) (string, error) {
	o, conv, err := m.renderOptions(ctx, "", nil)
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

// Populate renders the cluster repo, then writes to the secret stores every value its
// ExternalSecrets need and the stores lack, from the sources the repo declares in
// .configroot/secret-sources.yaml; it returns one line per value (never the value).
func (m *Configroot) Populate(
	ctx context.Context,
	// Vault's URL (default: the ClusterSecretStore's server).
	// +optional
	vaultAddr string,
	// A Vault token allowed to read and write the KV mount.
	// +optional
	vaultToken *dagger.Secret,
	// The AWS access key id for Secrets Manager (default: the SDK's credential chain).
	// +optional
	awsAccessKeyID *dagger.Secret,
	// The AWS secret access key that goes with the access key id.
	// +optional
	awsSecretAccessKey *dagger.Secret,
	// The AWS session token of temporary credentials.
	// +optional
	awsSessionToken *dagger.Secret,
	// List what would be written; write nothing.
	// +optional
	dryRun bool,
	// Replace values already in the stores.
	// +optional
	overwrite bool,
) (string, error) {
	o, _, err := m.renderOptions(ctx, "config-root", nil)
	if err != nil {
		return "", err
	}
	if _, err := render.Render(ctx, o); err != nil {
		return "", err
	}
	return m.populate(ctx, o, storeCredentials{vaultAddr, vaultToken, awsAccessKeyID, awsSecretAccessKey, awsSessionToken}, dryRun, overwrite)
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
) (string, error) {
	if _, err := m.renderTo(ctx, "config-root", nil); err != nil {
		return "", err
	}
	return m.publish(ctx, publishArgs{repo, token, branch, pullRequestBranch, username, author, sourceCommit, sourceRepository})
}

// Pipeline renders the cluster repo, fills the secret stores and commits config-root/ to the
// cluster repo, as the Jenkins X Makefile's `make all commit push` did; it returns the
// commit, or "no change".
func (m *Configroot) Pipeline(
	ctx context.Context,
	// The cluster repo to publish to, as an https URL.
	repo string,
	// A token with push rights, sent as the password of basic auth.
	token *dagger.Secret,
	// The branch to publish to.
	// +default="main"
	branch string,
	// The user name that goes with the token.
	// +default="x-access-token"
	username string,
	// The commit of the source repo that was rendered, for the commit message.
	// +optional
	sourceCommit string,
	// The URL of the source repo, for the commit message.
	// +optional
	sourceRepository string,
	// Vault's URL (default: the ClusterSecretStore's server).
	// +optional
	vaultAddr string,
	// A Vault token allowed to read and write the KV mount.
	// +optional
	vaultToken *dagger.Secret,
	// The AWS access key id for Secrets Manager (default: the SDK's credential chain).
	// +optional
	awsAccessKeyID *dagger.Secret,
	// The AWS secret access key that goes with the access key id.
	// +optional
	awsSecretAccessKey *dagger.Secret,
	// The AWS session token of temporary credentials.
	// +optional
	awsSessionToken *dagger.Secret,
	// Leave the secret stores alone: render and publish only.
	// +optional
	skipPopulate bool,
) (string, error) {
	o, _, err := m.renderOptions(ctx, "config-root", nil)
	if err != nil {
		return "", err
	}
	if _, err := render.Render(ctx, o); err != nil {
		return "", fmt.Errorf("render: %w", err)
	}
	if !skipPopulate {
		report, err := m.populate(ctx, o, storeCredentials{vaultAddr, vaultToken, awsAccessKeyID, awsSecretAccessKey, awsSessionToken}, false, false)
		fmt.Fprint(os.Stderr, report)
		if err != nil {
			return "", fmt.Errorf("populate: %w", err)
		}
	}
	commit, err := m.publish(ctx, publishArgs{repo: repo, token: token, branch: branch, username: username, sourceCommit: sourceCommit, sourceRepository: sourceRepository})
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	return commit, nil
}

// renderOptions exports the source into the module's runtime and returns the options of a
// render of it into out (a folder of the module's working directory), with helmfile in a
// container and the secrets conversion.
func (m *Configroot) renderOptions(ctx context.Context, out string, selector []string) (render.Options, *secrets.Conversion, error) {
	src, err := filepath.Abs("source")
	if err != nil {
		return render.Options{}, nil, err
	}
	if _, err := m.Source.Export(ctx, src); err != nil {
		return render.Options{}, nil, fmt.Errorf("export the source: %w", err)
	}
	warn := func(w string) { fmt.Fprintln(os.Stderr, "warning:", w) }
	mapping, err := secrets.LoadMapping(src, "", warn)
	if err != nil {
		return render.Options{}, nil, err
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping, Format: secrets.Format(m.SecretsFormat), Partial: len(selector) > 0}}
	return render.Options{
		Source:   src,
		Output:   out,
		Template: render.TemplateOptions{Environment: m.Environment, Selectors: selector, KubeVersion: m.KubeVersion},
		Runner:   containerRunner{image: m.Image, source: m.Source},
		Progress: os.Stderr,
		Filters:  conv.Filters(),
		Warn:     warn,
	}, conv, nil
}

// renderTo renders the source into out, a folder of the module's working directory.
func (m *Configroot) renderTo(ctx context.Context, out string, selector []string) (render.Result, error) {
	o, conv, err := m.renderOptions(ctx, out, selector)
	if err != nil {
		return render.Result{}, err
	}
	res, err := render.Render(ctx, o)
	if err != nil {
		return render.Result{}, err
	}
	fmt.Fprintf(os.Stderr, "%d releases, %d files\n%s\n", len(res.Releases), res.Resources, conv.Summary())
	return res, nil
}

// storeCredentials are the secret stores' credentials, as Dagger secrets.
type storeCredentials struct {
	vaultAddr                                           string
	vaultToken, awsAccessKeyID, awsSecret, awsSessToken *dagger.Secret
}

// populate fills the stores from the render o made, and reports one line per value.
func (m *Configroot) populate(ctx context.Context, o render.Options, c storeCredentials, dryRun, overwrite bool) (string, error) {
	conn := populate.Connection{VaultAddr: c.vaultAddr}
	var err error
	if conn.VaultToken, err = plaintext(ctx, c.vaultToken); err != nil {
		return "", err
	}
	// The AWS SDK reads its credentials from the environment of this one-shot process.
	for name, s := range map[string]*dagger.Secret{"AWS_ACCESS_KEY_ID": c.awsAccessKeyID, "AWS_SECRET_ACCESS_KEY": c.awsSecret, "AWS_SESSION_TOKEN": c.awsSessToken} {
		v, err := plaintext(ctx, s)
		if err != nil {
			return "", err
		}
		if v != "" {
			if err := os.Setenv(name, v); err != nil {
				return "", fmt.Errorf("set %s: %w", name, err)
			}
		}
	}
	res, err := populate.Populate(ctx, populate.Options{
		Source: o.Source, ConfigRoot: o.Output, DryRun: dryRun, Overwrite: overwrite,
		Connection: conn, Render: o, Log: os.Stderr,
	})
	var b strings.Builder
	for _, it := range res.Items {
		fmt.Fprintln(&b, it)
	}
	return b.String(), err
}

func plaintext(ctx context.Context, s *dagger.Secret) (string, error) {
	if s == nil {
		return "", nil
	}
	return s.Plaintext(ctx)
}

// publishArgs are the arguments of a publish.
type publishArgs struct {
	repo                                        string
	token                                       *dagger.Secret
	branch, pullRequestBranch, username, author string
	sourceCommit, sourceRepository              string
}

// publish commits the folder config-root of the working directory to the cluster repo.
func (m *Configroot) publish(ctx context.Context, a publishArgs) (string, error) {
	files, err := render.ReadFiles("config-root")
	if err != nil {
		return "", err
	}
	if err := secrets.GuardFiles(files); err != nil {
		return "", err
	}
	token, err := a.token.Plaintext(ctx)
	if err != nil {
		return "", err
	}
	who, err := publish.ParseAuthor(a.author)
	if err != nil {
		return "", err
	}
	res, err := publish.Publish(ctx, publish.Options{
		URL:               a.repo,
		Branch:            a.branch,
		PullRequestBranch: a.pullRequestBranch,
		Credentials:       &publish.Credentials{Username: a.username, Token: publish.Secret(token)},
		Files:             files,
		Author:            who,
		Message:           publish.Message{SourceCommit: a.sourceCommit, SourceRepository: a.sourceRepository, RenderedBy: "configroot (dagger)"},
		Progress:          os.Stderr,
	})
	switch {
	case errors.Is(err, publish.ErrNoChanges):
		return "no change", nil
	case err != nil:
		return "", publish.MaskError(err, token)
	}
	return res.Commit, nil
}

// containerRunner runs helmfile in a container of image, with the source mounted at the
// path the command expects, and copies the command's output folder back.
type containerRunner struct {
	image  string
	source *dagger.Directory
}

// Run implements render.Runner.
func (r containerRunner) Run(ctx context.Context, c render.Command, stdout, stderr io.Writer) error {
	ctr := dag.Container().From(r.image)
	for _, name := range c.Unset {
		ctr = ctr.WithoutEnvVariable(name)
	}
	for _, kv := range c.Env {
		name, value, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(name, value)
	}
	ctr = ctr.WithMountedDirectory(c.Dir, r.source).
		WithWorkdir(c.Dir).
		WithExec(append([]string{c.Name}, c.Args...))
	out, err := ctr.Stdout(ctx)
	var exec *dagger.ExecError
	if errors.As(err, &exec) {
		// Dagger's own message repeats the whole command line: keep only the status.
		return &render.ExecError{Name: c.Name, Args: c.Args, Code: exec.ExitCode, Err: fmt.Errorf("exit code %d", exec.ExitCode), Stderr: render.TailStderr(exec.Stderr)}
	}
	if err != nil {
		return err
	}
	if stdout != nil {
		_, _ = io.WriteString(stdout, out)
	}
	if c.Output == "" {
		return nil
	}
	if _, err := ctr.Directory(c.Output).Export(ctx, c.Output); err != nil {
		return fmt.Errorf("copy %s out of the helmfile container: %w", c.Output, err)
	}
	return nil
}
