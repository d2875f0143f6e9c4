package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/configroot/configroot/modules/secrets/values"
)

// AzureOptions connect to an Azure Key Vault.
type AzureOptions struct {
	// VaultURL is the vault's URL, https://NAME.vault.azure.net/ (required).
	VaultURL string
	// Credential authenticates (default: azidentity's DefaultAzureCredential).
	Credential azcore.TokenCredential
	// ClientOptions are passed to the client (a transport trusting a test server).
	ClientOptions *azsecrets.ClientOptions
}

// AzureStore writes to Azure Key Vault secrets. Keys are secret names, optionally prefixed
// with "secret/" as External Secrets allows; a secret holding properties is a JSON object.
type AzureStore struct {
	client *azsecrets.Client
	url    string
}

var _ Store = (*AzureStore)(nil)

// NewAzure returns an AzureStore. It does not contact the vault.
func NewAzure(o AzureOptions) (*AzureStore, error) {
	if o.VaultURL == "" {
		return nil, fmt.Errorf("azure key vault: no vault URL (ClusterSecretStore spec.provider.azurekv.vaultUrl, or --azure-vault-url)")
	}
	cred := o.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("azure key vault %s: %w", o.VaultURL, err)
		}
		cred = c
	}
	c, err := azsecrets.NewClient(o.VaultURL, cred, o.ClientOptions)
	if err != nil {
		return nil, fmt.Errorf("azure key vault %s: %w", o.VaultURL, err)
	}
	return &AzureStore{client: c, url: strings.TrimSuffix(o.VaultURL, "/")}, nil
}

func azureName(key string) string { return strings.TrimPrefix(key, "secret/") }

// Path returns the secret's URL in the vault.
func (s *AzureStore) Path(key string) string { return s.url + "/secrets/" + azureName(key) }

// Read returns the properties of the secret's current version.
func (s *AzureStore) Read(ctx context.Context, key string) (values.Values, bool, error) {
	resp, err := s.client.GetSecret(ctx, azureName(key), "", nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return values.Values{}, false, nil
	}
	if err != nil {
		return values.Values{}, false, fmt.Errorf("azure key vault read %s: %w", s.Path(key), err)
	}
	if resp.Value == nil {
		return values.Values{}, false, nil
	}
	return decodeDoc(*resp.Value), true, nil
}

// Write sets props as the secret's new version.
func (s *AzureStore) Write(ctx context.Context, key string, props values.Values) error {
	payload, err := encodeDoc(props)
	if err != nil {
		return fmt.Errorf("azure key vault write %s: %w", s.Path(key), err)
	}
	_, err = s.client.SetSecret(ctx, azureName(key), azsecrets.SetSecretParameters{Value: &payload}, nil)
	if err != nil {
		return fmt.Errorf("azure key vault write %s: %w", s.Path(key), err)
	}
	return nil
}
