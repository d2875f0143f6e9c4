package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// Vault is a real Vault dev server (./bin/vault server -dev) on a loopback port, with its
// KV version 2 mount at secret/. Start one per test package, in TestMain.
type Vault struct {
	// Addr is the server's URL, http://HOST:PORT (HOST 127.0.0.1 unless StartVaultAt says).
	Addr string
	// Token is the root token.
	Token string

	cmd  *exec.Cmd
	log  *syncBuffer
	home string
}

// StartVault starts ./bin/vault in dev mode and waits until it serves. It returns an error
// telling to run `make tools` when ./bin/vault is missing: tests fail, never skip, for
// lack of it.
func StartVault() (*Vault, error) {
	return StartVaultAt("127.0.0.1")
}

// StartVaultAt is StartVault listening on host (an IP address of this machine, on a free
// port): the Dagger end-to-end test serves the engine's containers this way.
func StartVaultAt(host string) (*Vault, error) {
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "..", "..", "bin", "vault")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("vault is not installed in ./bin: run `make tools` (%v)", err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	tok := make([]byte, 12)
	_, _ = rand.Read(tok)
	v := &Vault{Addr: "http://" + addr, Token: "root-" + hex.EncodeToString(tok), log: &syncBuffer{}}
	// The dev server saves its root token in $HOME/.vault-token: give it a home of its own.
	v.home, err = os.MkdirTemp("", "configroot-vault-")
	if err != nil {
		return nil, err
	}
	v.cmd = exec.Command(bin, "server", "-dev", "-dev-root-token-id="+v.Token, "-dev-listen-address="+addr)
	v.cmd.Stdout, v.cmd.Stderr = v.log, v.log
	v.cmd.Env = append(os.Environ(), "HOME="+v.home, "VAULT_ADDR=", "VAULT_TOKEN=")
	if err := v.cmd.Start(); err != nil {
		_ = os.RemoveAll(v.home)
		return nil, fmt.Errorf("start vault: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.Addr+"/v1/sys/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			v.Stop()
			return nil, fmt.Errorf("vault did not start serving on %s:\n%s", v.Addr, v.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Log returns what the server printed so far.
func (v *Vault) Log() string { return v.log.String() }

// Stop ends the server.
func (v *Vault) Stop() {
	if v.cmd.Process != nil {
		_ = v.cmd.Process.Kill()
		_ = v.cmd.Wait()
	}
	_ = os.RemoveAll(v.home)
}

// syncBuffer is a bytes.Buffer safe for the server's output goroutines and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
