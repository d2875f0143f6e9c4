package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRenderCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		s       renderSettings
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "render [flags] [-- HELMFILE_TEMPLATE_ARGS...]",
		Short: "Render the cluster repo into config-root/",
		Long: `Render runs helmfile template over the cluster repo (or lays out an already rendered
tree with --rendered), renders the kustomize folders listed in configroot.yaml, and
replaces config-root/ with one file per resource. Files of resources that are gone are
removed; unchanged files are not touched.

Every Secret with data becomes an ExternalSecret that points at the secret store the
SecretMapping names (.jx/secret/mapping/secret-mappings.yaml, the Jenkins X format); no
value reaches config-root. A Secret with no data stays a Secret unless a mapping rule names
it (Jenkins X placeholders), as does one annotated secret.jenkins-x.io/convert-exclude:
"true" (listed in the summary). Binary values (not UTF-8) are read from the store as
base64 (decodingStrategy: Base64). The render fails if any other Secret with data would be
written.

With --selector only the selected releases are rendered, and only their files in
config-root/ are replaced; a selected release that renders nothing now (installed: false,
a false condition, a chart that renders no resource) loses its files, as in a full render.
A selector that matches no release is an error.

With --cache DIR the render keeps, in DIR, a key per release and the digest of the
config-root it wrote (no resource, no value). The next render with the same DIR starts
from config-root: when DIR knows it, helm runs only for the releases whose key changed,
the releases the helmfile no longer has are removed, and the result is byte for byte what
a render without the cache gives. A release's key covers what helmfile build
--embed-values says of it (chart, version, namespace, values after helmfile rendered
them, so what a .gotmpl read from the environment or a command is in it), its local chart
folder's files, and what all releases share (helm's and helmfile's versions, configroot's,
configroot.yaml, the SecretMapping, --kube-version and the other flags). Releases with
hooks or other fields whose effect the cache cannot see, and charts of a repository
without an exact version, are rendered every time (-v says why). A config-root the cache
does not know (edited by hand, rendered elsewhere), arguments after --, and a change that
reaches beyond the releases it touches (a Namespace a chart declares, a CRD's scope, two
releases sharing a folder) are rendered in full. The kustomize folders are rendered every
time. While helmfile build keys the releases, helmfile template already renders the few
whose values files or chart folder changed since the last cached render (not for a
helmfile with hooks or OCI registries); that output is used only when the keys name
exactly those releases and no file changed meanwhile. With --rendered, a release's key is
its files in the tree: only the releases whose files changed are laid out again. --cache
and --selector do not go together.

Arguments after -- are passed to helmfile template as they are.

The render is hermetic: the same repo gives the same config-root on any machine. helmfile
runs with this process's environment (helmfile.yaml may read variables with env and
requiredEnv; chart repository credentials come from <REPO>_USERNAME and <REPO>_PASSWORD,
the repository name upper-cased with - as _), except that KUBECONFIG=/dev/null and
HELM_NAMESPACE=default are set, so a release without a namespace renders into "default"
whatever kube context this machine has, and these are removed:
` + wrapWords(render.UnsetVariables, 88, "  ") + `
(use --environment, --file and --helm instead).

configroot.yaml, at the root of the repo, may set:
  helmfile: helmfile.yaml          # the helmfile to render
  kubeVersion: v1.37.0             # the Kubernetes version helm renders for
  kustomize:                       # plain kustomize folders, laid out like releases
    - path: kustomize/team-a       #   folder holding kustomization.yaml
      namespace: team-a            #   namespace of its namespaced resources
      name: team-a-extras          #   folder name in config-root (default: base name)
  clusterScopedKinds:              # kinds whose CRD is not part of this render
    - example.com/Tenant
  transforms:                      # added after the layout, before the write
    jenkinsX: true                 #   the Jenkins X Makefile's post-build labels and annotations
    rules:                         #   in order; match: trees, kinds, namespaces, releases,
      - match: {kinds: [apps/Deployment], namespaces: [apps]}   # names, selector
        labels: {example.com/team: payments}
        annotations: {example.com/owner: platform}
        podTemplate: false         #   true: on the workloads' pod templates
      - configHash: example.com/config-hash   # hash of the ConfigMaps/ExternalSecrets pods use
  (docs/transforms.md has every field; a bad one is an error naming the line)

One line per release goes to stderr, then a summary and a line about Secrets.`,
		Example: `  # render the repo in the current folder into ./config-root
  configroot render

  # render one environment of another repo, two releases only
  configroot render --source ../cluster -e production -l name=cert-manager -l name=vault

  # in CI, with a cache that outlives the job: only the releases a change touched run helm
  configroot render --cache ~/.cache/configroot

  # lay out a tree rendered by helmfile template --output-dir-template OUT/{{.Release.Namespace}}/{{.Release.Name}}
  configroot render --rendered OUT --output config-root`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s.o.Template.ExtraArgs = args
			s.o.Progress = stderr
			if verbose {
				s.o.Log = stderr
			}
			_, err := s.render(cmd.Context(), stderr)
			return err
		},
	}
	s.bind(cmd.Flags(), true)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "stream helmfile's own output to stderr")
	return cmd
}

// renderSettings are the flags that say what to render, shared by render, check, diff and
// pipeline, with the secrets conversion they all run.
type renderSettings struct {
	o          render.Options
	format     string
	mapping    string
	withStores bool
	envFile    string
}

// options returns the render options with the secrets conversion wired in; warn receives
// the mapping's warnings.
func (s *renderSettings) options(warn func(string)) (render.Options, *secrets.Conversion, error) {
	o := s.o
	source := o.Source
	if source == "" {
		source = "."
	}
	m, err := secrets.LoadMapping(source, s.mapping, warn)
	if err != nil {
		return render.Options{}, nil, err
	}
	if s.envFile != "" {
		if o.Env, err = readEnvFile(s.envFile); err != nil {
			return render.Options{}, nil, err
		}
	}
	conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: m, Format: secrets.Format(s.format), NoStores: !s.withStores}}
	// A render limited by selectors, or a cached render that reuses releases, converts only
	// the Secrets of those it renders: the mapping's rules for the others are not "unused".
	o.OnPartial = func() { conv.Converter.Partial = true }
	if o.Cache != "" {
		mapping, err := json.Marshal(m)
		if err != nil {
			return render.Options{}, nil, fmt.Errorf("render cache: %w", err)
		}
		o.FiltersKey = fmt.Sprintf("format=%s stores=%t mapping=%s", s.format, s.withStores, mapping)
	}
	o.Filters = conv.Filters()
	o.Warn = warn
	return o, conv, nil
}

// render renders into config-root and prints the warnings and the summary to stderr.
func (s *renderSettings) render(ctx context.Context, stderr io.Writer) (render.Result, error) {
	warn := func(m string) { fmt.Fprintf(stderr, "configroot: warning: %s\n", m) }
	o, conv, err := s.options(warn)
	if err != nil {
		return render.Result{}, err
	}
	res, err := render.Render(ctx, o)
	if err != nil {
		return render.Result{}, err
	}
	for _, w := range conv.Report.Warnings {
		warn(w)
	}
	fmt.Fprintln(stderr, summary(res))
	fmt.Fprintln(stderr, conv.Summary())
	return res, nil
}

// bind binds the flags that say what to render. inPlace adds --output and --selector,
// which only make sense when the render is written into config-root itself (check and
// diff render into a temporary folder, and compare whole renders).
func (s *renderSettings) bind(f *pflag.FlagSet, inPlace bool) {
	o := &s.o
	f.StringVar(&o.Source, "source", ".", "the cluster repo: the folder holding helmfile.yaml and configroot.yaml")
	if inPlace {
		f.StringVarP(&o.Output, "output", "o", "", "the config-root folder to write (default <source>/config-root)")
	}
	f.StringVarP(&o.Template.File, "file", "f", "", "the helmfile to render, relative to --source (default: configroot.yaml's helmfile, else helmfile.yaml)")
	f.StringVarP(&o.Template.Environment, "environment", "e", "", "the helmfile environment to render (helmfile's -e)")
	if inPlace {
		f.StringArrayVarP(&o.Template.Selectors, "selector", "l", nil, "render only the releases matching this label selector (helmfile's -l, repeatable); only their folders in config-root are replaced")
	}
	f.IntVar(&o.Template.Concurrency, "concurrency", 0, "the most helm processes helmfile runs at once (0: no limit)")
	f.StringVar(&o.Template.KubeVersion, "kube-version", "", "the Kubernetes version helm renders for (default: configroot.yaml's kubeVersion, else "+render.DefaultKubeVersion+")")
	f.StringVar(&o.Rendered, "rendered", "", "lay out this already rendered tree (<namespace>/<release>/<chart>/...) instead of running helmfile")
	f.StringVar(&o.Helmfile, "helmfile", "helmfile", "the helmfile program to run")
	f.StringVar(&o.Template.HelmBinary, "helm", "", "the helm program helmfile runs (default: helm from PATH)")
	f.StringVar(&s.format, "secrets-format", string(secrets.FormatESO), "the ExternalSecrets every Secret becomes: eso (external-secrets.io/v1) or legacy (kubernetes-client.io/v1, kubernetes-external-secrets)")
	f.StringVar(&s.mapping, "secret-mapping", "", "the Jenkins X SecretMapping that says which store and remote key each Secret maps to (default <source>/"+secrets.MappingFile+"; without it, everything maps to Vault)")
	f.BoolVar(&s.withStores, "secret-stores", true, "write a ClusterSecretStore for each store used, from the mapping's defaults (eso format)")
	f.BoolVar(&o.AllowEmpty, "allow-empty", false, "allow a render with no resources to empty config-root")
	f.StringVar(&s.envFile, "env-file", "", envFileHelp)
	if inPlace {
		f.StringVar(&o.Cache, "cache", "", "keep a key per release in this folder and, next time, run helm only for the releases whose inputs changed (see --help)")
	}
}

// summary is the closing line of a render.
func summary(r render.Result) string {
	kinds := map[bool]int{}
	for _, rel := range r.Releases {
		kinds[rel.Chart != ""]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rendered %d releases", kinds[true])
	if kinds[false] > 0 {
		fmt.Fprintf(&b, " and %d kustomize folders", kinds[false])
	}
	fmt.Fprintf(&b, " into %s: %d files; %d written (%d new, %d changed), %d unchanged, %d removed",
		r.Output, r.Resources, r.Files.Written(), r.Files.Added, r.Files.Changed, r.Files.Unchanged, r.Files.Removed)
	if r.Partial {
		b.WriteString(" (selected releases only)")
	}
	if c := r.Cache; c != nil && c.Hit {
		fmt.Fprintf(&b, " (cache: %d releases reused)", c.Reused)
	}
	return b.String()
}

// wrapWords joins words with spaces into lines of at most width characters, each starting
// with indent.
func wrapWords(words []string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range words {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}
