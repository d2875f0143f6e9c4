package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	vault "github.com/hashicorp/vault/api"
)

// TestPopulateCommand runs the real binary against a real Vault: --dry-run lists and writes
// nothing, a run writes the missing values and keeps the present one, and neither stdout,
// stderr nor Vault's log holds a value.
func TestPopulateCommand(t *testing.T) {
	v, err := testutil.StartVault()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	bin := buildCLI(t)

	const envValue = "cli-env-Value-2718"
	const kept = "cli-kept-Value-1618"
	repo := t.TempDir()
	files := map[string]string{
		"config-root/namespaces/apps/web/web-secrets-externalsecret.yaml": `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: web-secrets, namespace: apps}
spec:
  refreshInterval: 1h
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target: {name: web-secrets}
  data:
    - {secretKey: session-key, remoteRef: {key: secret/data/web/secrets, property: session-key}}
    - {secretKey: db-user, remoteRef: {key: secret/data/web/secrets, property: db-user}}
    - {secretKey: kept, remoteRef: {key: secret/data/web/secrets, property: kept}}
`,
		".configroot/secret-sources.yaml": `secrets:
  - name: web-secrets
    keys:
      session-key: {hmac: {bytes: 16}}
      db-user: {ref: "ref+envsubst://$CLI_DB_USER"}
      kept: {password: {}}
`,
	}
	for p, c := range files {
		f := filepath.Join(repo, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	client, err := vault.NewClient(&vault.Config{Address: v.Addr})
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.Token)
	kv := client.KVv2("secret")
	ctx := context.Background()
	if _, err := kv.Put(ctx, "web/secrets", map[string]any{"kept": kept}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_ADDR", v.Addr)
	t.Setenv("VAULT_TOKEN", v.Token)
	t.Setenv("CLI_DB_USER", envValue)

	var output strings.Builder
	stdout, stderr, code := runBinary(t, bin, "populate", "--source", repo, "--dry-run")
	output.WriteString(stdout + stderr)
	if code != 0 {
		t.Fatalf("dry run: exit %d:\n%s", code, stderr)
	}
	wantLines := []string{
		"would-write\tapps/web-secrets\tdb-user\tvault\tsecret/data/web/secrets#db-user\tref+envsubst://$CLI_DB_USER",
		"would-write\tapps/web-secrets\tsession-key\tvault\tsecret/data/web/secrets#session-key\thmac",
	}
	if got := strings.Split(strings.TrimSpace(stdout), "\n"); strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Fatalf("dry run stdout:\n%s\nwant:\n%s", stdout, strings.Join(wantLines, "\n"))
	}
	if !strings.Contains(stderr, "populate: 2 to write, 1 already present (dry run: nothing written)") {
		t.Fatalf("dry run summary:\n%s", stderr)
	}
	if s, _ := kv.Get(ctx, "web/secrets"); len(s.Data) != 1 {
		t.Fatal("the dry run wrote")
	}

	stdout, stderr, code = runBinary(t, bin, "populate", "--source", repo)
	output.WriteString(stdout + stderr)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "written\tapps/web-secrets\tdb-user") || !strings.Contains(stderr, "populate: 2 written, 1 already present") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	s, err := kv.Get(ctx, "web/secrets")
	if err != nil {
		t.Fatal(err)
	}
	if s.Data["db-user"] != envValue || s.Data["kept"] != kept || len(s.Data["session-key"].(string)) != 32 {
		t.Fatal("Vault does not hold the expected values")
	}

	// An unreachable store fails with exit code 1 before anything is written.
	t.Setenv("CLI_DB_USER", "")
	stdout, stderr, code = runBinary(t, bin, "populate", "--source", repo, "--overwrite", "--vault-addr", "http://127.0.0.1:1")
	output.WriteString(stdout + stderr)
	if code != 1 || !strings.Contains(stderr, "store vault") || !strings.Contains(stderr, "nothing written") {
		t.Fatalf("unreachable Vault: exit %d:\n%s", code, stderr)
	}

	// A token Vault refuses: one line that says what Vault answered (its client's error
	// spans five lines, and a report showing one line per error lost the answer), and
	// nothing written.
	t.Setenv("VAULT_TOKEN", "wrong-token")
	stdout, stderr, code = runBinary(t, bin, "populate", "--source", repo, "--overwrite")
	output.WriteString(stdout + stderr)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.Contains(last, "vault read secret/data/web/secrets: 403 Forbidden: permission denied") ||
		strings.Contains(stderr, "Error making API request") {
		t.Fatalf("wrong token: exit %d:\n%s", code, stderr)
	}

	all := output.String() + v.Log()
	for _, secret := range []string{envValue, kept, s.Data["session-key"].(string)} {
		if strings.Contains(all, secret) {
			t.Fatalf("a value leaked:\n%s", output.String())
		}
	}
}
