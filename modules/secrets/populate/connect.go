package populate

import (
	"context"
	"fmt"

	"github.com/configroot/configroot/modules/secrets/store"
)

// Connection holds the store settings that override config-root's ClusterSecretStores: where
// populate reaches a store from is often not where the cluster does (a port-forwarded
// Vault, say). Empty fields take the store manifest's setting, then the client library's
// own default (its environment variables and config files).
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

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
