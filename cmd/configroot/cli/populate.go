package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/configroot/configroot/modules/secrets/populate"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newPopulateCommand(stdout, stderr io.Writer) *cobra.Command {
	var p populateFlags
	cmd := &cobra.Command{
		Use:   "populate [flags]",
		Short: "Fill the secret stores with the values config-root's ExternalSecrets need",
		Long: `Populate reads the ExternalSecrets in config-root/ (what the cluster will ask its secret
stores for), reads each store, and writes every value that is missing, taking it from the
source the repo declares in ` + populate.SourcesFile + `:

  default:                      # optional: the source of keys no entry names
    rendered: true
  secrets:
    - name: db                  # the Secret
      namespace: team-a         # optional
      keys:
        password: {password: {length: 24, classes: [lower, upper, digits, symbols]}}
        webhook:  {hmac: {bytes: 32}}
        username: {ref: "ref+envsubst://$DB_USER"}
        api-key:  {ref: "ref+sops://secrets/api.enc.yaml#/key"}
        ca.crt:   {rendered: true}   # the value the chart rendered (helmfile runs, in memory)
        "*":      {ref: "ref+vault://secret/data/legacy/db#password"}

References are resolved by vals (vault, awssecrets, gcpsecrets, azurekeyvault, sops, file,
envsubst, …) with missing keys as errors. Values already in a store are never replaced
unless --overwrite is given. Every store is read and every value resolved before the first
write: an unreachable store or a bad reference writes nothing.

Stores are those of the ClusterSecretStores in config-root (or the converter's conventional
names: vault, aws-secrets-manager, gcp-secrets-manager, azure-key-vault). Their settings can
be overridden: Vault's address by --vault-addr, else VAULT_ADDR, else the store's server;
its token comes from VAULT_TOKEN only. AWS, Google Cloud and Azure credentials come from
their SDKs' usual chains (AWS_* variables and profiles, application default credentials,
azidentity's default credential).

stdout lists one line per value written (or, with --dry-run, to be written): status,
Secret, key, store and store path, and the source. Values are never printed.`,
		Example: `  # list what is missing and where it would come from
  configroot populate --dry-run

  # fill a port-forwarded Vault
  VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=... configroot populate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.run(cmd.Context(), stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.o.Source, "source", ".", "the cluster repo: the folder holding config-root/ and "+populate.SourcesFile)
	f.StringVar(&p.o.ConfigRoot, "config-root", "", "the config-root folder to read ExternalSecrets from (default <source>/config-root)")
	f.BoolVar(&p.o.DryRun, "dry-run", false, "list what would be written, write nothing (references are resolved, generators not run)")
	f.StringVarP(&p.o.Render.Template.Environment, "environment", "e", "", "the helmfile environment rendered for sources that take the rendered value")
	f.StringVar(&p.o.Render.Helmfile, "helmfile", "helmfile", "the helmfile program to run for rendered values")
	f.StringVar(&p.o.Render.Template.HelmBinary, "helm", "", "the helm program helmfile runs (default: helm from PATH)")
	f.BoolVarP(&p.verbose, "verbose", "v", false, "also list values already present, and stream helmfile's output to stderr")
	f.StringVar(&p.envFile, "env-file", "", envFileHelp)
	p.bind(f)
	return cmd
}

// populateFlags are the settings of a populate run; bind adds the flags that populate and
// pipeline share.
type populateFlags struct {
	o       populate.Options
	verbose bool
	envFile string
}

func (p *populateFlags) bind(f *pflag.FlagSet) {
	f.StringVar(&p.o.SourcesFile, "sources", "", "the file declaring where missing secret values come from (default <source>/"+populate.SourcesFile+")")
	f.BoolVar(&p.o.Overwrite, "overwrite", false, "replace secret values that are already in the store")
	f.StringVar(&p.o.Connection.VaultAddr, "vault-addr", "", "Vault's URL (default VAULT_ADDR, else the ClusterSecretStore's server)")
	f.StringVar(&p.o.Connection.VaultNamespace, "vault-namespace", "", "the Vault Enterprise namespace (default VAULT_NAMESPACE, else the store's)")
	f.StringVar(&p.o.Connection.AWSRegion, "aws-region", "", "the AWS region of Secrets Manager (default the store's region, else the SDK's)")
	f.StringVar(&p.o.Connection.AWSEndpoint, "aws-endpoint", "", "the Secrets Manager endpoint URL (default the SDK's)")
	f.StringVar(&p.o.Connection.GCPProject, "gcp-project", "", "the Google Cloud project of Secret Manager (default the store's projectID)")
	f.StringVar(&p.o.Connection.AzureVaultURL, "azure-vault-url", "", "the Azure Key Vault URL (default the store's vaultUrl)")
}

// run populates the stores: one line per value on stdout, the summary on stderr.
func (p *populateFlags) run(ctx context.Context, stdout, stderr io.Writer) error {
	o := p.o
	if o.Connection.VaultAddr == "" {
		o.Connection.VaultAddr = os.Getenv("VAULT_ADDR")
	}
	if o.Connection.VaultNamespace == "" {
		o.Connection.VaultNamespace = os.Getenv("VAULT_NAMESPACE")
	}
	o.Connection.VaultToken = os.Getenv("VAULT_TOKEN")
	if p.envFile != "" {
		env, err := readEnvFile(p.envFile)
		if err != nil {
			return err
		}
		o.Render.Env = env
	}
	o.Log = stderr
	if p.verbose {
		o.Render.Log = stderr
	}
	res, err := populate.Populate(ctx, o)
	for _, it := range res.Items {
		if it.Status == populate.Present && !p.verbose {
			continue
		}
		fmt.Fprintln(stdout, it)
	}
	fmt.Fprintln(stderr, populateSummary(res))
	return err
}

// populateSummary is the closing line of a populate run.
func populateSummary(r populate.Result) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	if r.DryRun {
		add(r.Count(populate.WouldWrite), "to write")
	}
	add(r.Count(populate.Written), "written")
	add(r.Count(populate.Pending), "not written")
	add(r.Count(populate.Present), "already present")
	add(r.Count(populate.NoSource), "missing with no source")
	add(r.Count(populate.WrongForm), "stored in a form their entry cannot decode (not rewritten)")
	add(r.Count(populate.Unsupported), "in unsupported stores")
	if len(parts) == 0 {
		parts = append(parts, "no ExternalSecret entries")
	}
	s := "populate: " + strings.Join(parts, ", ")
	if r.DryRun {
		s += " (dry run: nothing written)"
	}
	return s
}
