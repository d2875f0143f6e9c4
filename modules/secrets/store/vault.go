package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/configroot/configroot/modules/secrets/values"
	vault "github.com/hashicorp/vault/api"
)

// VaultOptions connect to a Vault KV version 2 mount.
type VaultOptions struct {
	// Address is Vault's URL (default: VAULT_ADDR, as the Vault client reads it).
	Address string
	// Token authenticates; the CLI reads it from VAULT_TOKEN only, never from a flag.
	Token string
	// Namespace is the Vault Enterprise namespace, if any.
	Namespace string
	// Mount is the KV v2 mount (default "secret").
	Mount string
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
}

// VaultStore writes to a Vault KV version 2 mount through Vault's HTTP API. Keys are
// External Secrets' remote keys: secret/data/team-a/db (the API path), secret/team-a/db or
// team-a/db all name the same secret of the mount "secret"; properties are its fields.
//
// Write uses KV v2 check-and-set with the version Read saw, so a secret created or changed
// by someone else in between is not overwritten (ErrChanged).
type VaultStore struct {
	client  *vault.Client
	mount   string
	timeout time.Duration

	mu       sync.Mutex
	versions map[string]int64 // API path → version read (0: none)
}

var _ Store = (*VaultStore)(nil)

// NewVault returns a VaultStore. It does not contact Vault.
func NewVault(o VaultOptions) (*VaultStore, error) {
	cfg := vault.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault: %w", cfg.Error)
	}
	if o.Address != "" {
		cfg.Address = o.Address
	}
	cfg.Timeout = o.Timeout
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	cfg.MaxRetries = 1
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", cfg.Address, err)
	}
	if o.Token != "" {
		c.SetToken(o.Token)
	}
	if o.Namespace != "" {
		c.SetNamespace(o.Namespace)
	}
	mount := strings.Trim(o.Mount, "/")
	if mount == "" {
		mount = "secret"
	}
	return &VaultStore{client: c, mount: mount, timeout: cfg.Timeout, versions: map[string]int64{}}, nil
}

// Path returns the API path of key: <mount>/data/<path>.
func (s *VaultStore) Path(key string) string {
	k := strings.Trim(key, "/")
	switch {
	case strings.HasPrefix(k, s.mount+"/data/"):
		return k
	case strings.HasPrefix(k, s.mount+"/"):
		return s.mount + "/data/" + strings.TrimPrefix(k, s.mount+"/")
	default:
		return s.mount + "/data/" + k
	}
}

// Read returns the fields of the current version of key. A deleted or destroyed current
// version reads as absent. Fields that are not strings are kept as values.NewJSON, so Write
// stores them back with their type.
func (s *VaultStore) Read(ctx context.Context, key string) (values.Values, bool, error) {
	path := s.Path(key)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.client.Logical().ReadRawWithContext(ctx, path)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		// A 404 is a missing secret, or a missing mount: only the first may be written.
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && bytes.Contains(body, []byte("no handler for route")) {
			return values.Values{}, false, fmt.Errorf("vault read %s: no secrets engine is mounted at %s/", path, s.mount)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	sec, err := s.client.Logical().ParseRawResponseAndCloseBody(resp, err)
	if err != nil {
		return values.Values{}, false, fmt.Errorf("vault read %s: %w", path, oneLine(err))
	}
	var props values.Values
	var version int64
	exists := false
	if sec != nil {
		if md, ok := sec.Data["metadata"].(map[string]any); ok {
			version = jsonInt(md["version"])
		}
		if data, ok := sec.Data["data"].(map[string]any); ok {
			exists = true
			for k, v := range data {
				if t, ok := v.(string); ok {
					props.Set(k, values.New(t))
					continue
				}
				// Not a string (json.Number, bool, map, slice or nil): keep it as JSON, so
				// Write gives it back its type.
				b, err := json.Marshal(v)
				if err != nil {
					return values.Values{}, false, fmt.Errorf("vault read %s: field %s: %w", path, k, err)
				}
				props.Set(k, values.NewJSON(b))
			}
		}
	}
	s.mu.Lock()
	s.versions[path] = version
	s.mu.Unlock()
	return props, exists, nil
}

// Write stores props as a new version of key, provided key is still at the version Read saw
// (a key never read must not exist yet).
func (s *VaultStore) Write(ctx context.Context, key string, props values.Values) error {
	path := s.Path(key)
	if props.Has(Raw) {
		return fmt.Errorf("vault write %s: every value needs a property (a field name)", path)
	}
	if err := checkText(props); err != nil {
		return fmt.Errorf("vault write %s: %w", path, err)
	}
	s.mu.Lock()
	cas := s.versions[path]
	s.mu.Unlock()
	data := props.JSON()
	sec, err := s.client.Logical().WriteWithContext(ctx, path, map[string]any{
		"data":    data,
		"options": map[string]any{"cas": cas},
	})
	if err != nil {
		if strings.Contains(err.Error(), "check-and-set") {
			return fmt.Errorf("vault write %s: %w", path, ErrChanged)
		}
		return fmt.Errorf("vault write %s: %w", path, oneLine(err))
	}
	if sec != nil {
		s.mu.Lock()
		s.versions[path] = jsonInt(sec.Data["version"])
		s.mu.Unlock()
	}
	return nil
}

func jsonInt(v any) int64 {
	switch t := v.(type) {
	case json.Number:
		n, _ := t.Int64()
		return n
	case float64:
		return int64(t)
	case int64:
		return t
	case int:
		return int64(t)
	}
	return 0
}

// oneLine turns the Vault client's multi-line API error ("Error making API request.", a
// blank line, "URL: …", "Code: 403. Errors:", "* permission denied") into one line, "403
// Forbidden: permission denied", so that a report that shows one line per error (the CLI's
// last line, Dagger's Error: line) still says what Vault answered. The URL is left out: the
// message names the path already. errors.As still finds the *vault.ResponseError.
func oneLine(err error) error {
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	return &responseError{re}
}

// responseError is a *vault.ResponseError that prints on one line.
type responseError struct{ *vault.ResponseError }

func (e *responseError) Error() string {
	msg := fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if len(e.Errors) > 0 {
		msg += ": " + strings.Join(e.Errors, "; ")
	}
	return msg
}

func (e *responseError) Unwrap() error { return e.ResponseError }
