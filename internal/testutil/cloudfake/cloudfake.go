// Package cloudfake serves Google Secret Manager and Azure Key Vault to tests. Neither cloud
// store can run on this machine (no network but the Go module proxy, and no emulator for
// either is packaged): these fakes speak each API's real wire protocol, so the official SDK
// clients are exercised end to end (authentication, serialisation, error decoding), with only
// the storage faked. AWS Secrets Manager's fake is testutil.FakeSecretsManager. The package
// is apart from testutil so that only the tests that need the SDKs link them.
package cloudfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// SecretManager implements Secret Manager's gRPC service (AccessSecretVersion of the latest
// version, AddSecretVersion, CreateSecret with automatic replication), served on a loopback
// port. Names are projects/P/secrets/ID.
type SecretManager struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	mu       sync.Mutex
	secrets  map[string]bool
	versions map[string][][]byte // secret name → payloads, oldest first
	addr     string
}

// NewSecretManager starts a SecretManager for the test.
func NewSecretManager(t testing.TB) *SecretManager {
	f := &SecretManager{secrets: map[string]bool{}, versions: map[string][][]byte{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	f.addr = lis.Addr().String()
	return f
}

// ClientOptions connect the official client to the fake, without authentication.
func (f *SecretManager) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(f.addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Payload returns the latest version's payload of the secret name.
func (f *SecretManager) Payload(name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.versions[name]
	if len(vs) == 0 {
		return nil, false
	}
	return vs[len(vs)-1], true
}

// Versions returns how many versions the secret name has.
func (f *SecretManager) Versions(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.versions[name])
}

// AddVersion creates the secret name if needed and adds a version, as if done before the test.
func (f *SecretManager) AddVersion(name string, payload []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name] = true
	f.versions[name] = append(f.versions[name], payload)
}

// AccessSecretVersion implements the RPC; only versions/latest is served.
func (f *SecretManager) AccessSecretVersion(_ context.Context, r *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ver, ok := strings.Cut(r.GetName(), "/versions/")
	if !ok || ver != "latest" {
		return nil, status.Errorf(codes.InvalidArgument, "want versions/latest, got %s", r.GetName())
	}
	vs := f.versions[name]
	if !f.secrets[name] || len(vs) == 0 {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", name)
	}
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    fmt.Sprintf("%s/versions/%d", name, len(vs)),
		Payload: &secretmanagerpb.SecretPayload{Data: vs[len(vs)-1]},
	}, nil
}

// AddSecretVersion implements the RPC.
func (f *SecretManager) AddSecretVersion(_ context.Context, r *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.secrets[r.GetParent()] {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", r.GetParent())
	}
	f.versions[r.GetParent()] = append(f.versions[r.GetParent()], r.GetPayload().GetData())
	return &secretmanagerpb.SecretVersion{Name: fmt.Sprintf("%s/versions/%d", r.GetParent(), len(f.versions[r.GetParent()]))}, nil
}

// CreateSecret implements the RPC; the secret must ask for automatic replication.
func (f *SecretManager) CreateSecret(_ context.Context, r *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.GetSecret().GetReplication().GetAutomatic() == nil {
		return nil, status.Error(codes.InvalidArgument, "replication is required")
	}
	name := r.GetParent() + "/secrets/" + r.GetSecretId()
	if f.secrets[name] {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", name)
	}
	f.secrets[name] = true
	return &secretmanagerpb.Secret{Name: name}, nil
}

// KeyVault speaks Key Vault's secrets REST API over TLS (the SDK sends bearer tokens over TLS
// only), including its authentication challenge: an unauthenticated request gets a 401 with
// WWW-Authenticate naming the resource, and the SDK retries with a token (Credential's).
type KeyVault struct {
	mu      sync.Mutex
	secrets map[string]string
	srv     *httptest.Server
}

// NewKeyVault starts a KeyVault for the test.
func NewKeyVault(t testing.TB) *KeyVault {
	f := &KeyVault{secrets: map[string]string{}}
	f.srv = httptest.NewTLSServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the vault's URL.
func (f *KeyVault) URL() string { return f.srv.URL }

// ClientOptions make the official client trust the fake's certificate and not retry.
func (f *KeyVault) ClientOptions() *azsecrets.ClientOptions {
	return &azsecrets.ClientOptions{
		ClientOptions:                        policy.ClientOptions{Transport: f.srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
		DisableChallengeResourceVerification: true,
	}
}

// Secret returns the current value of the secret name.
func (f *KeyVault) Secret(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.secrets[name]
	return v, ok
}

// SetSecret sets a secret, as if done before the test.
func (f *KeyVault) SetSecret(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name] = value
}

// ServeHTTP answers GET and PUT /secrets/NAME.
func (f *KeyVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer fake-token" {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		http.Error(w, "no api-version", http.StatusBadRequest)
		return
	}
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, "/secrets/"), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
		v, ok := f.secrets[name]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "SecretNotFound", "message": "A secret with (name/id) " + name + " was not found in this key vault."}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": f.srv.URL + "/secrets/" + name + "/v1", "value": v, "attributes": map[string]any{"enabled": true}})
	case http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		var in struct {
			Value *string `json:"value"`
		}
		if err := json.Unmarshal(b, &in); err != nil || in.Value == nil {
			http.Error(w, "no value", http.StatusBadRequest)
			return
		}
		f.secrets[name] = *in.Value
		_ = json.NewEncoder(w).Encode(map[string]any{"id": f.srv.URL + "/secrets/" + name + "/v2", "attributes": map[string]any{"enabled": true}})
	default:
		http.Error(w, r.Method, http.StatusMethodNotAllowed)
	}
}

// Credential hands out the fixed token the KeyVault accepts, as azidentity would after a
// login, for the Key Vault scope only.
type Credential struct{}

// GetToken implements azcore.TokenCredential.
func (Credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(o.Scopes) != 1 || o.Scopes[0] != "https://vault.azure.net/.default" {
		return azcore.AccessToken{}, fmt.Errorf("unexpected scopes %v", o.Scopes)
	}
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}
