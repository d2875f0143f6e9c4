package populate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/configroot/configroot/modules/secrets/store"
)

// Connection holds the store settings that override config-root's ClusterSecretStores: where
// populate reaches a store from is often not where the cluster does (a port-forwarded
// Vault, say). Empty fields take the store manifest's setting, then the client library's
// own default (its environment variables and config files).
//
// An override of a store's location (VaultAddr, VaultNamespace, AWSRegion, GCPProject,
// AzureVaultURL) applies only when config-root's ExternalSecrets use exactly one store of
// that kind: with several (the converter makes one per Vault server or region, such as
// vault-1a2b3c4d), Populate fails before any read, since it cannot tell which store is meant.
type Connection struct {
	// VaultAddr is Vault's URL (the CLI: --vault-addr, else VAULT_ADDR; then the store's
	// spec.provider.vault.server).
	VaultAddr string
	// VaultToken is the Vault token (the CLI: VAULT_TOKEN only, never a flag).
	VaultToken string
	// VaultNamespace is the Vault Enterprise namespace (else the store's).
	VaultNamespace string
	// AWSRegion is the AWS region (else the store's, else the SDK's default).
	AWSRegion string
	// AWSEndpoint is the Secrets Manager endpoint (else the SDK's default, which honours
	// AWS_ENDPOINT_URL_SECRETS_MANAGER).
	AWSEndpoint string
	// GCPProject is the Google Cloud project (else the store's projectID).
	GCPProject string
	// AzureVaultURL is the Key Vault URL (else the store's vaultUrl).
	AzureVaultURL string
}

// Connect opens the store spec describes, with conn's overrides. It does not contact the
// store: the first Read does.
func Connect(ctx context.Context, spec StoreSpec, conn Connection) (store.Store, error) {
	switch spec.Kind {
	case store.Vault:
		addr := first(conn.VaultAddr, spec.VaultServer)
		ns := first(conn.VaultNamespace, spec.VaultNamespace)
		return store.NewVault(store.VaultOptions{Address: addr, Token: conn.VaultToken, Namespace: ns, Mount: spec.VaultPath})
	case store.AWS:
		return store.NewAWS(ctx, store.AWSOptions{Region: first(conn.AWSRegion, spec.AWSRegion), Endpoint: conn.AWSEndpoint})
	case store.GCP:
		return store.NewGCP(ctx, store.GCPOptions{Project: first(conn.GCPProject, spec.GCPProject)})
	case store.Azure:
		return store.NewAzure(store.AzureOptions{VaultURL: first(conn.AzureVaultURL, spec.AzureVaultURL)})
	}
	return nil, fmt.Errorf("populate cannot write to store %s", spec.Name)
}

// ErrAmbiguousOverride is returned when a Connection override would apply to several stores.
var ErrAmbiguousOverride = errors.New("the override is ambiguous")

// checkOverrides returns an error naming the stores when an override of conn is set and
// the entries use more than one store of its kind.
func checkOverrides(conn Connection, cr ConfigRoot) error {
	used := map[store.Kind][]string{}
	for _, e := range cr.Entries {
		k := cr.Stores[e.Store].Kind
		if k != "" && !slices.Contains(used[k], e.Store) {
			used[k] = append(used[k], e.Store)
		}
	}
	var errs []error
	for _, o := range []struct {
		kind  store.Kind
		name  string
		value string
	}{
		{store.Vault, "VaultAddr (--vault-addr, VAULT_ADDR)", conn.VaultAddr},
		{store.Vault, "VaultNamespace", conn.VaultNamespace},
		{store.AWS, "AWSRegion (--aws-region)", conn.AWSRegion},
		{store.GCP, "GCPProject", conn.GCPProject},
		{store.Azure, "AzureVaultURL", conn.AzureVaultURL},
	} {
		if stores := used[o.kind]; o.value != "" && len(stores) > 1 {
			slices.Sort(stores)
			errs = append(errs, fmt.Errorf("connection override %s would replace the setting of %d %s stores (%s): %w; unset it and let each store's manifest say where it is",
				o.name, len(stores), o.kind, strings.Join(stores, ", "), ErrAmbiguousOverride))
		}
	}
	return errors.Join(errs...)
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
