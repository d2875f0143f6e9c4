package testutil

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// FakeSecretsManager speaks AWS Secrets Manager's JSON 1.1 protocol (POST / with X-Amz-Target
// secretsmanager.<Operation>, SigV4-signed with the access key AKIDTEST): GetSecretValue,
// PutSecretValue and CreateSecret over an in-memory map. Secrets Manager cannot run on this
// machine; the fake lets tests drive the real aws-sdk-go-v2 client over real HTTP.
type FakeSecretsManager struct {
	mu      sync.Mutex
	secrets map[string]string
	calls   []string
}

// Secret returns the SecretString stored under name.
func (f *FakeSecretsManager) Secret(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.secrets[name]
	return v, ok
}

// SetSecret stores a secret, as if created before the test.
func (f *FakeSecretsManager) SetSecret(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name] = value
}

// Calls returns the operations called so far.
func (f *FakeSecretsManager) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// NewFakeSecretsManager starts a FakeSecretsManager on a loopback port for the test and
// returns it with its URL.
func NewFakeSecretsManager(t testing.TB) (*FakeSecretsManager, string) {
	f := &FakeSecretsManager{secrets: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// ServeHTTP answers one API call.
func (f *FakeSecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		http.Error(w, "not a signed JSON 1.1 request", http.StatusBadRequest)
		return
	}
	var in struct{ SecretId, Name, SecretString, VersionStage string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	op := strings.TrimPrefix(target, "secretsmanager.")
	f.calls = append(f.calls, op)
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(code, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	switch op {
	case "GetSecretValue":
		v, ok := f.secrets[in.SecretId]
		if !ok {
			fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		reply(map[string]any{"ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:" + in.SecretId, "Name": in.SecretId,
			"SecretString": v, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}})
	case "PutSecretValue":
		if _, ok := f.secrets[in.SecretId]; !ok {
			fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		f.secrets[in.SecretId] = in.SecretString
		reply(map[string]any{"Name": in.SecretId, "VersionId": "v2"})
	case "CreateSecret":
		if _, ok := f.secrets[in.Name]; ok {
			fail("ResourceExistsException", "exists")
			return
		}
		f.secrets[in.Name] = in.SecretString
		reply(map[string]any{"Name": in.Name, "VersionId": "v1"})
	default:
		fail("InvalidAction", op)
	}
}
