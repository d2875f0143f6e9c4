package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/configroot/configroot/modules/publish"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// publishFlags are the flags of publish and pipeline that say where and how to commit.
type publishFlags struct {
	repo, branch, prBranch     string
	tokenEnv, username, author string
	message, path              string
	timeout                    time.Duration
	retries                    int
	verbose                    bool
	// version is configroot's, for the commit's Rendered-By trailer.
	version string
}

func (p *publishFlags) bind(f *pflag.FlagSet) {
	f.StringVar(&p.repo, "repo", "", "the cluster repo to commit to: an http(s) URL, or the path of a local repository (required)")
	f.StringVar(&p.branch, "branch", publish.DefaultBranch, "the branch to publish to")
	f.StringVar(&p.prBranch, "pull-request-branch", "", "push to this branch instead of --branch, creating it from --branch when the remote does not have it")
	f.StringVar(&p.tokenEnv, "token-env", "", "the environment variable holding the HTTPS token (default: no credentials)")
	f.StringVar(&p.username, "username", publish.DefaultUsername, "the basic-auth user sent with the token")
	f.StringVar(&p.author, "author", publish.DefaultAuthor.String(), `the commit's author and committer, "Name <email>"`)
	f.StringVar(&p.message, "message", "", "the first line of the commit message (default: \"Render config-root from <source commit>\")")
	f.StringVar(&p.path, "path", publish.DefaultPath, "the folder of the cluster repo to replace")
	f.DurationVar(&p.timeout, "timeout", publish.DefaultTimeout, "the time limit of each git network operation (clone, fetch, push)")
	f.IntVar(&p.retries, "retries", publish.DefaultRetries, "how many times to retry a push rejected because the branch moved")
	f.BoolVarP(&p.verbose, "verbose", "v", false, "stream git's progress to stderr")
}

// publishFolder publishes the rendered folder dir of the source repo: the result line (the
// commit, or "no change") goes to stdout, progress to stderr.
func (p *publishFlags) publishFolder(ctx context.Context, source, dir string, allowEmpty bool, stdout, stderr io.Writer) error {
	if p.repo == "" {
		return errors.New("--repo is required")
	}
	files, err := render.ReadFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist: run configroot render first (or configroot pipeline)", dir)
	}
	if err != nil {
		return err
	}
	if err := secrets.GuardFiles(files); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	src, err := publish.ReadSource(source)
	if err != nil {
		return err
	}
	o := publish.Options{
		URL:               p.repo,
		Branch:            p.branch,
		PullRequestBranch: p.prBranch,
		Path:              p.path,
		Files:             files,
		AllowEmpty:        allowEmpty,
		Message: publish.Message{
			Title:            p.message,
			SourceCommit:     src.Commit,
			SourceRepository: src.Repository,
			RenderedBy:       "configroot " + p.version,
		},
		Timeout:  p.timeout,
		Retries:  p.retries,
		Progress: stderr,
	}
	if p.retries == 0 {
		o.Retries = -1 // the flag's 0 means none; the library's 0 means the default
	}
	if p.verbose {
		o.Log = stderr
	}
	if o.Author, err = publish.ParseAuthor(p.author); err != nil {
		return err
	}
	var token string
	if p.tokenEnv != "" {
		if token = os.Getenv(p.tokenEnv); token == "" {
			return fmt.Errorf("--token-env: the environment variable %s is empty or unset", p.tokenEnv)
		}
		o.Credentials = &publish.Credentials{Username: p.username, Token: publish.Secret(token)}
	}
	res, err := publish.Publish(ctx, o)
	switch {
	case errors.Is(err, publish.ErrNoChanges):
		fmt.Fprintf(stderr, "%s of %s already holds this render (%s): nothing to commit\n", res.Branch, publish.Redact(p.repo), res.Commit)
		fmt.Fprintln(stdout, "no change")
		return nil
	case errors.Is(err, publish.ErrAuthentication) && p.tokenEnv != "":
		return publish.MaskError(fmt.Errorf("%w (check the token in $%s)", err, p.tokenEnv), token)
	case errors.Is(err, publish.ErrAuthentication):
		return fmt.Errorf("%w (pass the token's environment variable with --token-env)", err)
	case err != nil:
		return publish.MaskError(err, token)
	}
	c := res.Changes
	fmt.Fprintf(stderr, "published %s to %s of %s: %d resources added, %d changed, %d removed (%d attempts)\n",
		res.Commit, res.Branch, publish.Redact(p.repo), len(c.Added), len(c.Modified), len(c.Deleted), res.Attempts)
	fmt.Fprintln(stdout, res.Commit)
	return nil
}

const publishHelp = `The commit replaces the folder --path of the cluster repo (config-root/) with exactly
the rendered files: new and changed files are written, files of resources that are gone
are deleted. Nothing is committed when the branch already holds the render: stdout then
says "no change" and the exit status is 0.

The repo is cloned into a temporary folder, also when --repo is a local path (a local
non-bare repository must not have the branch checked out; git must be installed for
local paths). Over HTTPS, the token is read from the environment variable named by
--token-env and sent with basic auth as user --username; it never appears in output or
errors.

The commit message names the source commit rendered (the HEAD of --source when it is in
a git repository; uncommitted changes are not detected), counts the resources added,
changed and removed per namespace, and ends with the trailers Source-Commit,
Source-Repository (the source's origin URL, without credentials) and Rendered-By.

When the push is rejected because the branch moved, configroot fetches, resets to the
new head, re-applies the render, commits and pushes again, up to --retries times with a
jittered exponential backoff. The target branch is never force-pushed, so a failed
publish leaves it as it was. With --pull-request-branch the commit goes to that branch
instead: created from --branch when it does not exist, else a new commit on top of it.

stdout carries only the result: the commit pushed, or "no change". Progress goes to stderr.`

func newPublishCommand(version string, stdout, stderr io.Writer) *cobra.Command {
	var (
		p          = publishFlags{version: version}
		source     string
		configRoot string
		allowEmpty bool
	)
	cmd := &cobra.Command{
		Use:   "publish --repo URL_OR_PATH [flags]",
		Short: "Commit the rendered config-root/ to the cluster repo and push it",
		Long: `Publish commits the config-root folder already rendered by configroot render (by
default <source>/config-root; it does not render) to a branch of the cluster repo, and
pushes it. Use configroot pipeline to render and publish in one go.

` + publishHelp,
		Example: `  # publish ./config-root to main of the cluster repo, with a token from $GITHUB_TOKEN
  configroot publish --repo https://github.com/org/cluster.git --token-env GITHUB_TOKEN

  # open the change as a branch for a pull request instead
  configroot publish --repo https://github.com/org/cluster.git --token-env GITHUB_TOKEN \
    --pull-request-branch configroot/render --message "Render the new cert-manager"

  # publish to a local bare repository
  configroot publish --source ../cluster --repo /srv/git/cluster.git`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := configRoot
			if dir == "" {
				dir = filepath.Join(source, "config-root")
			}
			return p.publishFolder(cmd.Context(), source, dir, allowEmpty, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", ".", "the cluster repo whose render is published (its HEAD is the source commit)")
	f.StringVar(&configRoot, "config-root", "", "the rendered folder to publish (default <source>/config-root)")
	f.BoolVar(&allowEmpty, "allow-empty", false, "allow an empty rendered folder to empty --path in the repo")
	p.bind(f)
	return cmd
}

// pipelineStep is one step of configroot pipeline.
type pipelineStep struct {
	name string
	run  func(context.Context) error
}

func newPipelineCommand(version string, stdout, stderr io.Writer) *cobra.Command {
	var (
		s            renderSettings
		p            = publishFlags{version: version}
		pop          populateFlags
		skipPopulate bool
	)
	cmd := &cobra.Command{
		Use:     "pipeline --repo URL_OR_PATH [flags] [-- HELMFILE_TEMPLATE_ARGS...]",
		Aliases: []string{"regen"},
		Short:   "Render config-root/, then publish it, in one command",
		Long: `Pipeline runs the steps of configroot in order, stopping at the first that fails:

  1. render   as configroot render: helmfile template, kustomize, layout, written
              atomically into <source>/config-root (or --output)
  2. populate as configroot populate: fill the secret stores with the values the
              ExternalSecrets of that folder need and the store lacks (--skip-populate
              leaves the stores alone)
  3. publish  as configroot publish, of the folder just rendered

The render and publish flags are those of configroot render and configroot publish
(-v streams both helmfile's and git's output). Arguments after -- are passed to helmfile
template.

Also called regen, as the Jenkins X Makefile's regen phases and the Dagger module's
function (dagger call regen: Dagger's own API takes the name pipeline).

` + publishHelp,
		Example: `  # render the repo in the current folder and push the result to its main branch
  configroot pipeline --repo https://github.com/org/cluster.git --token-env GITHUB_TOKEN

  # render the production environment and propose it as a pull request branch
  configroot pipeline -e production --repo https://github.com/org/cluster.git \
    --token-env GITHUB_TOKEN --pull-request-branch configroot/production`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s.o.Template.ExtraArgs = args
			s.o.Progress = stderr
			if p.verbose {
				s.o.Log = stderr
			}
			output := s.o.Output
			if output == "" {
				output = filepath.Join(s.o.Source, "config-root")
			}
			steps := []pipelineStep{
				{"render", func(ctx context.Context) error {
					_, err := s.render(ctx, stderr)
					return err
				}},
				{"populate", func(ctx context.Context) error {
					if skipPopulate {
						fmt.Fprintln(stderr, "skipped (--skip-populate)")
						return nil
					}
					pop.o.Source, pop.o.ConfigRoot, pop.o.Render, pop.envFile = s.o.Source, output, s.o, s.envFile
					pop.verbose = p.verbose
					return pop.run(ctx, stderr, stderr) // stdout carries only the commit
				}},
				{"publish", func(ctx context.Context) error {
					return p.publishFolder(ctx, s.o.Source, output, s.o.AllowEmpty, stdout, stderr)
				}},
			}
			for _, s := range steps {
				fmt.Fprintf(stderr, "==> %s\n", s.name)
				if err := s.run(cmd.Context()); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	s.bind(f, true)
	p.bind(f)
	pop.bind(f)
	f.BoolVar(&skipPopulate, "skip-populate", false, "do not fill the secret stores (the render and the publish only)")
	return cmd
}
