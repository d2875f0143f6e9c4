// Package main is configroot's Dagger module: render a GitOps cluster repo into config-root/
// (one canonical file per Kubernetes resource, every Secret turned into an ExternalSecret),
// check that a committed config-root is up to date, fill the secret stores, and publish
// config-root to the cluster repo.
//
// Everything that sees the raw render (Secret values) runs in one exec of the helmfile
// image, as the configroot CLI (exec.go): render, check and populate. Only config-root,
// which the leak guard has checked, comes back; publish then commits it from here with the
// same packages as the CLI. This file is glue: the logic and its tests live in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"dagger/configroot/internal/dagger"

	"github.com/configroot/configroot/modules/publish"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
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
	// RepositoryCredentials holds NAME=value lines helmfile gets in its environment.
	RepositoryCredentials *dagger.Secret
	// RenderCache keeps the render cache (configroot render --cache) in a cache volume.
	RenderCache bool
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
	// Chart repository credentials, as NAME=value lines (a dotenv file) that helmfile gets
	// in its environment: <REPO>_USERNAME and <REPO>_PASSWORD for each repository that needs
	// them (the repository name upper-cased, - as _), or what helmfile.yaml reads with
	// requiredEnv. For example --repository-credentials=file:./charts.env.
	// +optional
	repositoryCredentials *dagger.Secret,
	// Keep a key per release in a cache volume (configroot-render-cache) and, when the
	// source's config-root is a render the cache knows, run helm only for the releases whose
	// inputs changed since (configroot render --cache). The result is the same byte for byte.
	// +optional
	renderCache bool,
) *Configroot {
	if image == "" {
		image = HelmfileImage
	}
	if secretsFormat == "" {
		secretsFormat = string(secrets.FormatESO)
	}
	return &Configroot{Source: source, Environment: environment, KubeVersion: kubeVersion, Image: image,
		SecretsFormat: secretsFormat, RepositoryCredentials: repositoryCredentials, RenderCache: renderCache}
}

// Render renders the cluster repo into config-root/ and returns that folder: helmfile
// template, the layout and the Secret → ExternalSecret conversion, in one exec of the
// helmfile image (the render fails if a Secret with data would reach config-root).
func (m *Configroot) Render(
	ctx context.Context,
	// Render only the releases matching these label selectors (helmfile's -l): only their
	// files in the repo's committed config-root are replaced, as configroot render -l does.
	// +optional
	selector []string,
) (*dagger.Directory, error) {
	ctr, err := m.rendered(ctx, selector)
	if err != nil {
		return nil, err
	}
	return ctr.Directory(srcPath + "/config-root"), nil
}

// Check renders the cluster repo afresh and fails when its committed config-root/ differs,
// listing the files that would change: the regen check of a pull request.
func (m *Configroot) Check(ctx context.Context) (string, error) {
	ctr, err := m.container()
	if err != nil {
		return "", err
	}
	ctr = ctr.WithExec(m.renderArgs("check", nil), dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := ctr.ExitCode(ctx)
	if err != nil {
		return "", cliError("check", err)
	}
	stdout, err := ctr.Stdout(ctx)
	if err != nil {
		return "", err
	}
	switch code {
	case 0:
		return "config-root is up to date with a fresh render", nil
	case 1:
		return "", fmt.Errorf("config-root is stale: a fresh render changes these files:\n%s", strings.TrimSpace(stdout))
	}
	stderr, _ := ctr.Stderr(ctx)
	return "", cliError("check", &dagger.ExecError{ExitCode: code, Stderr: stderr})
}

// Populate renders the cluster repo, then writes to the secret stores every value its
// ExternalSecrets need and the stores lack, from the sources the repo declares in
// .configroot/secret-sources.yaml; it returns one line per value (never the value). Never
// cached: the stores' contents are not an input.
// +cache="never"
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
	// The AWS region of Secrets Manager (default: the ClusterSecretStore's region).
	// +optional
	awsRegion string,
	// A Google Cloud service account key (the JSON file) for Secret Manager: it becomes
	// GOOGLE_APPLICATION_CREDENTIALS, mounted from the secret, never written to a layer.
	// +optional
	gcpCredentials *dagger.Secret,
	// The Google Cloud project of Secret Manager (default: the ClusterSecretStore's projectID).
	// +optional
	gcpProject string,
	// The Azure tenant (directory) id of a service principal for Key Vault (AZURE_TENANT_ID).
	// +optional
	azureTenantID *dagger.Secret,
	// The service principal's client (application) id (AZURE_CLIENT_ID).
	// +optional
	azureClientID *dagger.Secret,
	// The service principal's client secret (AZURE_CLIENT_SECRET).
	// +optional
	azureClientSecret *dagger.Secret,
	// The Azure Key Vault URL (default: the ClusterSecretStore's vaultUrl).
	// +optional
	azureVaultURL string,
	// List what would be written; write nothing.
	// +optional
	dryRun bool,
	// Replace values already in the stores.
	// +optional
	overwrite bool,
) (string, error) {
	ctr, err := m.rendered(ctx, nil)
	if err != nil {
		return "", err
	}
	return m.populate(ctx, ctr, storeCredentials{vaultAddr: vaultAddr, vaultToken: vaultToken,
		awsAccessKeyID: awsAccessKeyID, awsSecret: awsSecretAccessKey, awsSessToken: awsSessionToken, awsRegion: awsRegion,
		gcpCredentials: gcpCredentials, gcpProject: gcpProject,
		azureTenantID: azureTenantID, azureClientID: azureClientID, azureClientSecret: azureClientSecret, azureVaultURL: azureVaultURL}, dryRun, overwrite)
}

// Publish renders the cluster repo and commits config-root/ to the cluster repo's branch,
// retrying when the branch moved; it returns the commit, or "no change". Never cached: the
// cluster repo is not an input (a cached call would return an old commit and push nothing).
// +cache="never"
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
	// The commit's author and committer, "Name <email>" (default: configroot's).
	// +optional
	author string,
	// The commit of the source repo that was rendered, for the commit message.
	// +optional
	sourceCommit string,
	// The URL of the source repo, for the commit message.
	// +optional
	sourceRepository string,
) (string, error) {
	ctr, err := m.rendered(ctx, nil)
	if err != nil {
		return "", err
	}
	return m.publish(ctx, ctr, publishArgs{repo, token, branch, pullRequestBranch, username, author, sourceCommit, sourceRepository})
}

// Regen renders the cluster repo, fills the secret stores and commits config-root/ to the
// cluster repo, as the Jenkins X Makefile's regen phases (`make all commit push`) did; it
// returns the commit, or "no change". It is the CLI's `configroot pipeline`: Dagger's
// own API has a `pipeline` field at its root, which hides a module function of that name
// from `dagger call`. Never cached: the stores and the cluster repo are not inputs.
// +cache="never"
func (m *Configroot) Regen(
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
	// The AWS region of Secrets Manager (default: the ClusterSecretStore's region).
	// +optional
	awsRegion string,
	// A Google Cloud service account key (the JSON file) for Secret Manager: it becomes
	// GOOGLE_APPLICATION_CREDENTIALS, mounted from the secret, never written to a layer.
	// +optional
	gcpCredentials *dagger.Secret,
	// The Google Cloud project of Secret Manager (default: the ClusterSecretStore's projectID).
	// +optional
	gcpProject string,
	// The Azure tenant (directory) id of a service principal for Key Vault (AZURE_TENANT_ID).
	// +optional
	azureTenantID *dagger.Secret,
	// The service principal's client (application) id (AZURE_CLIENT_ID).
	// +optional
	azureClientID *dagger.Secret,
	// The service principal's client secret (AZURE_CLIENT_SECRET).
	// +optional
	azureClientSecret *dagger.Secret,
	// The Azure Key Vault URL (default: the ClusterSecretStore's vaultUrl).
	// +optional
	azureVaultURL string,
	// Leave the secret stores alone: render and publish only.
	// +optional
	skipPopulate bool,
) (string, error) {
	ctr, err := m.rendered(ctx, nil)
	if err != nil {
		return "", err
	}
	if !skipPopulate {
		report, err := m.populate(ctx, ctr, storeCredentials{vaultAddr: vaultAddr, vaultToken: vaultToken,
			awsAccessKeyID: awsAccessKeyID, awsSecret: awsSecretAccessKey, awsSessToken: awsSessionToken, awsRegion: awsRegion,
			gcpCredentials: gcpCredentials, gcpProject: gcpProject,
			azureTenantID: azureTenantID, azureClientID: azureClientID, azureClientSecret: azureClientSecret, azureVaultURL: azureVaultURL}, false, false)
		fmt.Fprint(os.Stderr, report)
		if err != nil {
			return "", err
		}
	}
	return m.publish(ctx, ctr, publishArgs{repo: repo, token: token, branch: branch, username: username, sourceCommit: sourceCommit, sourceRepository: sourceRepository})
}

// storeCredentials are the secret stores' settings, and their credentials as Dagger secrets.
type storeCredentials struct {
	vaultAddr                                           string
	vaultToken, awsAccessKeyID, awsSecret, awsSessToken *dagger.Secret
	awsRegion                                           string
	gcpCredentials                                      *dagger.Secret
	gcpProject                                          string
	azureTenantID, azureClientID, azureClientSecret     *dagger.Secret
	azureVaultURL                                       string
}

// gcpCredentialsPath is where a Google Cloud service account key is mounted for populate.
const gcpCredentialsPath = "/run/configroot/gcp-credentials.json"

// apply adds the settings to populate's arguments and the credentials to ctr, as secret
// variables (the SDKs' own names: VAULT_TOKEN, AWS_*, AZURE_*) and a secret file
// (GOOGLE_APPLICATION_CREDENTIALS, read by Google's application default credentials).
func (c storeCredentials) apply(ctr *dagger.Container, args []string) (*dagger.Container, []string) {
	// Slices, not maps: the order of the arguments and variables is part of the exec's
	// cache key.
	for _, f := range []struct{ flag, value string }{{"--vault-addr", c.vaultAddr}, {"--aws-region", c.awsRegion},
		{"--gcp-project", c.gcpProject}, {"--azure-vault-url", c.azureVaultURL}} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	for _, v := range []struct {
		name   string
		secret *dagger.Secret
	}{{"VAULT_TOKEN", c.vaultToken}, {"AWS_ACCESS_KEY_ID", c.awsAccessKeyID}, {"AWS_SECRET_ACCESS_KEY", c.awsSecret},
		{"AWS_SESSION_TOKEN", c.awsSessToken}, {"AZURE_TENANT_ID", c.azureTenantID}, {"AZURE_CLIENT_ID", c.azureClientID},
		{"AZURE_CLIENT_SECRET", c.azureClientSecret}} {
		if v.secret != nil {
			ctr = ctr.WithSecretVariable(v.name, v.secret)
		}
	}
	if c.gcpCredentials != nil {
		ctr = ctr.WithMountedSecret(gcpCredentialsPath, c.gcpCredentials).
			WithEnvVariable("GOOGLE_APPLICATION_CREDENTIALS", gcpCredentialsPath)
	}
	return ctr, args
}

// populate runs `configroot populate` in the container ctr of a render (config-root at
// srcPath/config-root), so that a value taken from the render itself never leaves that
// container: the credentials are secret variables of that exec, never plain values. It
// returns one line per value (never the value). Each call runs anew: a store's contents
// are not an input Dagger can cache on.
func (m *Configroot) populate(ctx context.Context, ctr *dagger.Container, c storeCredentials, dryRun, overwrite bool) (string, error) {
	ctr, args := c.apply(ctr, m.renderArgs("populate", nil))
	if dryRun {
		args = append(args, "--dry-run")
	}
	if overwrite {
		args = append(args, "--overwrite")
	}
	out, err := ctr.WithEnvVariable("CONFIGROOT_RUN", time.Now().UTC().Format(time.RFC3339Nano)).WithExec(args).Stdout(ctx)
	if err != nil {
		return "", cliError("populate", err)
	}
	return out, nil
}

// publishArgs are the arguments of a publish.
type publishArgs struct {
	repo                                        string
	token                                       *dagger.Secret
	branch, pullRequestBranch, username, author string
	sourceCommit, sourceRepository              string
}

// publish commits the config-root the render in ctr made to the cluster repo. config-root
// has passed the leak guard in that exec; it is checked again here before any commit.
func (m *Configroot) publish(ctx context.Context, ctr *dagger.Container, a publishArgs) (string, error) {
	commit, err := m.commit(ctx, ctr, a)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	return commit, nil
}

// commit is publish without the error's context.
func (m *Configroot) commit(ctx context.Context, ctr *dagger.Container, a publishArgs) (string, error) {
	if _, err := ctr.Directory(srcPath+"/config-root").Export(ctx, "config-root", dagger.DirectoryExportOpts{Wipe: true}); err != nil {
		return "", fmt.Errorf("export config-root: %w", err)
	}
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
	var who publish.Author // zero: publish.Options signs as publish.DefaultAuthor
	if a.author != "" {
		if who, err = publish.ParseAuthor(a.author); err != nil {
			return "", err
		}
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
