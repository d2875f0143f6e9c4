package store

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
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The cloud secret stores cannot run on this machine (no network but the module proxy, and
// no emulator for Secrets Manager or Key Vault is packaged): these fakes speak each API's
// real wire protocol, so the official SDK clients the stores use are exercised end to end
// (request signing, serialisation, error decoding), with only the storage faked.

// fakeGCP implements Secret Manager's gRPC service, served on a loopback port.
type fakeGCP struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	mu       sync.Mutex
	secrets  map[string]bool     // projects/P/secrets/ID
	versions map[string][][]byte // secret name → payloads, oldest first
}

func newFakeGCP(t *testing.T) (*fakeGCP, string) {
	f := &fakeGCP{secrets: map[string]bool{}, versions: map[string][][]byte{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f, lis.Addr().String()
}

func (f *fakeGCP) AccessSecretVersion(_ context.Context, r *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
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

func (f *fakeGCP) AddSecretVersion(_ context.Context, r *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.secrets[r.GetParent()] {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", r.GetParent())
	}
	f.versions[r.GetParent()] = append(f.versions[r.GetParent()], r.GetPayload().GetData())
	return &secretmanagerpb.SecretVersion{Name: fmt.Sprintf("%s/versions/%d", r.GetParent(), len(f.versions[r.GetParent()]))}, nil
}

func (f *fakeGCP) CreateSecret(_ context.Context, r *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
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

// fakeAzure speaks Key Vault's secrets REST API over TLS (the SDK sends bearer tokens over
// TLS only), including its authentication challenge: an unauthenticated request gets a 401
// with WWW-Authenticate naming the resource, and the SDK retries with a token.
type fakeAzure struct {
	mu      sync.Mutex
	secrets map[string]string
	url     string
}

func newFakeAzure(t *testing.T) (*fakeAzure, *httptest.Server) {
	f := &fakeAzure{secrets: map[string]string{}}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f, srv
}

func (f *fakeAzure) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		_ = json.NewEncoder(w).Encode(map[string]any{"id": f.url + "/secrets/" + name + "/v1", "value": v, "attributes": map[string]any{"enabled": true}})
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
		_ = json.NewEncoder(w).Encode(map[string]any{"id": f.url + "/secrets/" + name + "/v2", "attributes": map[string]any{"enabled": true}})
	default:
		http.Error(w, r.Method, http.StatusMethodNotAllowed)
	}
}

// fakeCredential hands out a fixed token, as azidentity would after a login.
type fakeCredential struct{}

func (fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(o.Scopes) != 1 || o.Scopes[0] != "https://vault.azure.net/.default" {
		return azcore.AccessToken{}, fmt.Errorf("unexpected scopes %v", o.Scopes)
	}
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}
