package populate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"github.com/configroot/configroot/modules/secrets/store"
	"github.com/configroot/configroot/modules/secrets/values"
	vault "github.com/hashicorp/vault/api"
)

// testVault is the package's real Vault dev server, started once in TestMain.
var testVault *testutil.Vault

func TestMain(m *testing.M) {
	v, err := testutil.StartVault()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testVault = v
	code := m.Run()
	v.Stop()
	os.Exit(code)
}

// leaks collects every text a test produced, to prove no secret value is in any.
type leaks struct {
	bytes.Buffer
	values []string
}

// secret returns s and remembers it as a value that must never be printed.
func (l *leaks) secret(s string) string { l.values = append(l.values, s); return s }

// check fails the test if any part of a remembered value (its first 6 characters, or the
// whole value when shorter) appears in what was collected, or in the Vault server's log.
func (l *leaks) check(t *testing.T) {
	t.Helper()
	all := l.String() + testVault.Log()
	for _, v := range l.values {
		if v == "" {
			continue
		}
		if p := v[:min(6, len(v))]; strings.Contains(all, p) {
			t.Fatalf("%q, the start of a secret value, leaked into the output, errors or logs:\n%s", p, l.String())
		}
	}
}

// record prints everything a Populate call returned into l, as a careless caller would.
func (l *leaks) record(res Result, err error) {
	fmt.Fprintf(l, "%v\n%+v\n%#v\n", res, res, res)
	if err != nil {
		fmt.Fprintf(l, "%v\n%+v\n%#v\n", err, err, err)
	}
}

func vaultClient(t *testing.T) *vault.Client {
	t.Helper()
	c, err := vault.NewClient(&vault.Config{Address: testVault.Addr})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(testVault.Token)
	return c
}

// kv reads the fields of secret/<path> and its version; nil when absent.
func kv(t *testing.T, path string) (map[string]any, int) {
	t.Helper()
	s, err := vaultClient(t).KVv2("secret").Get(context.Background(), path)
	if errors.Is(err, vault.ErrSecretNotFound) {
		return nil, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return s.Data, s.VersionMetadata.Version
}

func putKV(t *testing.T, path string, data map[string]any) {
	t.Helper()
	if _, err := vaultClient(t).KVv2("secret").Put(context.Background(), path, data); err != nil {
		t.Fatal(err)
	}
}

// externalSecret returns an external-secrets.io/v1 ExternalSecret for the vault store, the
// converter's way: remote key secret/data/<name with - as />, property = data key.
func externalSecret(ns, name string, keys ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %s
  namespace: %s
spec:
  refreshInterval: 1h
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target:
    name: %s
  data:
`, name, ns, name)
	for _, k := range keys {
		fmt.Fprintf(&b, "    - secretKey: %s\n      remoteRef: {key: secret/data/%s, property: %s}\n", k, strings.ReplaceAll(name, "-", "/"), k)
	}
	return b.String()
}

// vaultStore is the ClusterSecretStore the converter writes; its in-cluster server is not
// reachable from the tests, so Connection.VaultAddr must win over it.
const vaultStore = `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: vault
spec:
  provider:
    vault: {server: "http://vault.vault.svc:8200", path: secret, version: v2}
`

// writeRepo lays out a cluster repo: files by slash path.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func options(repo string, log *leaks) Options {
	return Options{Source: repo, Log: log, Connection: Connection{VaultAddr: testVault.Addr, VaultToken: testVault.Token}}
}

func statuses(res Result) map[string]Status {
	m := map[string]Status{}
	for _, it := range res.Items {
		m[it.ID()] = it.Status
	}
	return m
}

// sopsEncrypt encrypts a YAML document for an age recipient with the real sops of ./bin.
func sopsEncrypt(t *testing.T, recipient, plain string) string {
	t.Helper()
	sops := testutil.Tool(t, "sops")
	in := filepath.Join(t.TempDir(), "plain.yaml")
	if err := os.WriteFile(in, []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(in)
	cmd := exec.Command(sops, "--disable-version-check", "encrypt", "--age", recipient, in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops encrypt: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// TestPopulateVault fills a real Vault from every kind of source, leaves what is there,
// changes nothing on a second run, and replaces only with Overwrite.
func TestPopulateVault(t *testing.T) {
	var log leaks
	ctx := context.Background()

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sopsValue := log.secret("9f2cx-sops-Value")
	enc := sopsEncrypt(t, id.Recipient().String(), "db:\n  apiKey: "+sopsValue+"\n")
	t.Setenv("SOPS_AGE_KEY", id.String())
	log.secret(id.String())

	envValue := log.secret("71abx-env-Value")
	t.Setenv("POPULATE_DB_USER", envValue)
	t.Setenv("VAULT_ADDR", testVault.Addr) // for vals' ref+vault://
	t.Setenv("VAULT_TOKEN", testVault.Token)
	vaultValue := log.secret("0c3dx-vault-Value")
	putKV(t, "source/legacy", map[string]any{"token": vaultValue})
	existing := log.secret("55e1x-existing-Value")
	putKV(t, "team/a/db", map[string]any{"kept": existing})

	repo := writeRepo(t, map[string]string{
		"config-root/namespaces/team-a/db/db-externalsecret.yaml": externalSecret("team-a", "team-a-db",
			"password", "pin", "username", "api-key", "sops-key", "from-vault", "webhook", "kept"),
		"config-root/cluster/resources/vault-clustersecretstore.yaml": vaultStore,
		"files/api-key.txt":   log.secret("e4a8x-file-Value"),
		"secrets/db.enc.yaml": enc,
		SourcesFile: `secrets:
  - name: team-a-db
    namespace: team-a
    keys:
      password: {password: {length: 24, classes: [lower, digits, symbols]}}
      pin: {password: {length: 6, chars: "0123456789"}}
      username: {ref: "ref+envsubst://$POPULATE_DB_USER"}
      api-key: {ref: "ref+file://./files/api-key.txt"}
      sops-key: {ref: "ref+sops://./secrets/db.enc.yaml#/db/apiKey"}
      from-vault: {ref: "ref+vault://secret/source/legacy#token"}
      webhook: {hmac: {bytes: 20}}
      kept: {password: {}}
`,
	})
	// vals resolves ref+file:// and ref+sops:// relative to the working directory.
	t.Chdir(repo)

	res, err := Populate(ctx, options(repo, &log))
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	data, version := kv(t, "team/a/db")
	for k, v := range data {
		log.secret(v.(string))
		_ = k
	}
	want := map[string]string{"username": envValue, "api-key": "e4a8x-file-Value", "sops-key": sopsValue, "from-vault": vaultValue, "kept": existing}
	for k, v := range want {
		if data[k] != v {
			t.Errorf("%s: the store holds the wrong value (length %d)", k, len(fmt.Sprint(data[k])))
		}
	}
	pw, _ := data["password"].(string)
	if len(pw) != 24 || strings.Trim(pw, "abcdefghijklmnopqrstuvwxyz0123456789!#%+,-.:=@^_~") != "" {
		t.Errorf("password of length %d or outside its charset", len(pw))
	}
	if pin, _ := data["pin"].(string); len(pin) != 6 || strings.Trim(pin, "0123456789") != "" {
		t.Errorf("pin of length %d or not digits", len(pin))
	}
	if hook, _ := data["webhook"].(string); len(hook) != 40 || strings.Trim(hook, "0123456789abcdef") != "" {
		t.Errorf("hmac key of length %d or not hex", len(hook))
	}
	st := statuses(res)
	if st["team-a/team-a-db kept"] != Present || st["team-a/team-a-db password"] != Written || res.Count(Written) != 7 {
		t.Errorf("statuses: %v", st)
	}
	for _, it := range res.Items {
		if it.StorePath != "secret/data/team/a/db#"+it.Key {
			t.Errorf("%s: store path %s", it.ID(), it.StorePath)
		}
	}

	// A second run finds everything and writes nothing.
	res, err = Populate(ctx, options(repo, &log))
	log.record(res, err)
	if err != nil || res.Count(Present) != 8 {
		t.Fatalf("second run: %v %v", statuses(res), err)
	}
	if _, v := kv(t, "team/a/db"); v != version {
		t.Fatalf("a second run wrote a new version %d (was %d)", v, version)
	}

	// Overwrite replaces every value with a fresh one from its source.
	o := options(repo, &log)
	o.Overwrite = true
	res, err = Populate(ctx, o)
	log.record(res, err)
	if err != nil || res.Count(Written) != 8 {
		t.Fatalf("overwrite: %v %v", statuses(res), err)
	}
	after, _ := kv(t, "team/a/db")
	for k, v := range after {
		log.secret(v.(string))
		_ = k
	}
	if after["kept"] == existing || after["password"] == data["password"] || after["username"] != envValue {
		t.Error("overwrite did not replace the generated values, or changed a referenced one")
	}
	for _, it := range res.Items {
		if !it.Replaced {
			t.Errorf("%s: not marked replaced", it.ID())
		}
	}
	log.check(t)
}

func TestPopulateDryRunWritesNothing(t *testing.T) {
	var log leaks
	t.Setenv("POPULATE_DRY", log.secret("8812x-dry-Value"))
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("ns", "dry-run", "user", "password"),
		SourcesFile:          "secrets:\n  - name: dry-run\n    keys:\n      user: {ref: \"ref+envsubst://$POPULATE_DRY\"}\n      password: {password: {}}\n",
	})
	o := options(repo, &log)
	o.DryRun = true
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := kv(t, "dry/run"); data != nil {
		t.Fatal("a dry run wrote to Vault")
	}
	if res.Count(WouldWrite) != 2 || !res.DryRun {
		t.Fatalf("statuses: %v", statuses(res))
	}
	if res.Items[0].StorePath != "secret/data/dry/run#password" || res.Items[1].Source != "ref+envsubst://$POPULATE_DRY" {
		t.Fatalf("items: %+v", res.Items)
	}
	log.check(t)
}

// TestPopulateMissingKeyWritesNothing: a reference to a key that is not there is an error
// naming the Secret and key (vals' FailOnMissingKeyInMap), and no other value is written.
func TestPopulateMissingKeyWritesNothing(t *testing.T) {
	var log leaks
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("ns", "missing-key", "good", "bad"),
		"doc.yaml":           "db:\n  present: " + log.secret("3141x-doc-Value") + "\n",
		SourcesFile:          "secrets:\n  - name: missing-key\n    keys:\n      good: {ref: \"ref+file://./doc.yaml#/db/present\"}\n      bad: {ref: \"ref+file://./doc.yaml#/db/absent\"}\n",
	})
	t.Chdir(repo)
	res, err := Populate(context.Background(), options(repo, &log))
	log.record(res, err)
	if err == nil {
		t.Fatal("no error for a missing key")
	}
	for _, want := range []string{"Secret ns/missing-key key bad", "secret/data/missing/key", "db/absent", "nothing written"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if data, _ := kv(t, "missing/key"); data != nil {
		t.Fatal("values were written despite the error")
	}
	log.check(t)
}

func TestPopulateUnknownBackend(t *testing.T) {
	for name, es := range map[string]string{
		"store": strings.Replace(externalSecret("ns", "x", "k"), "name: vault}", "name: hashicorp-vault}", 1),
		"legacy": `apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: {name: x, namespace: ns}
spec:
  backendType: keepass
  data: [{name: k, key: x, property: k}]
`,
		"provider": externalSecret("ns", "x", "k") + "---\n" + strings.Replace(vaultStore, "vault: {", "doppler: {", 1),
	} {
		t.Run(name, func(t *testing.T) {
			repo := writeRepo(t, map[string]string{"config-root/a.yaml": es})
			_, err := Populate(context.Background(), options(repo, &leaks{}))
			if err == nil || !strings.Contains(err.Error(), "unknown") || !strings.Contains(err.Error(), "a.yaml") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

// TestPopulateWarnings: sources naming a Secret or key that config-root lacks are warnings,
// and a key with no source is reported (ErrNoSource) after the others are written.
func TestPopulateWarnings(t *testing.T) {
	var log leaks
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("ns", "warn-me", "a", "b"),
		SourcesFile: `secrets:
  - name: no-such-secret
    keys: {a: {password: {}}}
  - name: warn-me
    keys:
      a: {password: {}}
      zz: {password: {}}
`,
	})
	res, err := Populate(context.Background(), options(repo, &log))
	log.record(res, err)
	if !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), "ns/warn-me b") {
		t.Fatalf("error %v", err)
	}
	if data, _ := kv(t, "warn/me"); data == nil || data["a"] == nil || data["b"] != nil {
		t.Fatalf("a was not written, or b was: %v", statuses(res))
	}
	for k, v := range func() map[string]any { d, _ := kv(t, "warn/me"); return d }() {
		log.secret(v.(string))
		_ = k
	}
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "no-such-secret") || !strings.Contains(res.Warnings[1], "key zz") {
		t.Fatalf("warnings %q", res.Warnings)
	}
	if !strings.Contains(log.String(), "warning: secret sources name Secret no-such-secret") {
		t.Fatalf("warning not logged:\n%s", log.String())
	}
	log.check(t)
}

func TestPopulateUnreachableStoreWritesNothing(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("ns", "unreachable", "a"),
		SourcesFile:          "default: {password: {}}\n",
	})
	o := options(repo, &leaks{})
	o.Connection.VaultAddr = "http://127.0.0.1:1" // nothing listens on port 1
	_, err := Populate(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "store vault") || !strings.Contains(err.Error(), "secret/data/unreachable") || !strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("error %v", err)
	}
	if data, _ := kv(t, "unreachable"); data != nil {
		t.Fatal("written")
	}
}

// failingStore fails its second Write, as a store that goes away mid-run would.
type failingStore struct {
	store.Store
	writes int
}

func (f *failingStore) Write(ctx context.Context, key string, props values.Values) error {
	f.writes++
	if f.writes == 2 {
		return errors.New("connection reset")
	}
	return f.Store.Write(ctx, key, props)
}

// TestPopulateReportsPartialWrites: when a write fails, the Result tells exactly which
// entries reached the store.
func TestPopulateReportsPartialWrites(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("ns", "partial-one", "a", "b") + "---\n" + externalSecret("ns", "partial-two", "c"),
		SourcesFile:          "default: {hmac: {}}\n",
	})
	o := options(repo, &leaks{})
	o.Open = func(ctx context.Context, spec StoreSpec) (store.Store, error) {
		s, err := Connect(ctx, spec, o.Connection)
		return &failingStore{Store: s}, err
	}
	res, err := Populate(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "wrote 1 of 2 remote secrets, then secret/data/partial/two") {
		t.Fatalf("error %v", err)
	}
	st := statuses(res)
	if st["ns/partial-one a"] != Written || st["ns/partial-one b"] != Written || st["ns/partial-two c"] != Pending {
		t.Fatalf("statuses %v", st)
	}
	if one, _ := kv(t, "partial/one"); len(one) != 2 {
		t.Fatal("the first secret was not written whole")
	}
	if two, _ := kv(t, "partial/two"); two != nil {
		t.Fatal("the failed secret holds data")
	}
}

// TestPopulateVaultCheckAndSet: a secret changed between populate's read and its write is
// not overwritten.
func TestPopulateVaultCheckAndSet(t *testing.T) {
	s, err := store.NewVault(store.VaultOptions{Address: testVault.Addr, Token: testVault.Token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, exists, err := s.Read(ctx, "secret/data/cas/test"); err != nil || exists {
		t.Fatal(exists, err)
	}
	putKV(t, "cas/test", map[string]any{"other": "writer"})
	var p values.Values
	p.Set("mine", values.New("x"))
	if err := s.Write(ctx, "secret/data/cas/test", p); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("write over a concurrent change: %v", err)
	}
	if data, _ := kv(t, "cas/test"); data["other"] != "writer" || data["mine"] != nil {
		t.Fatalf("the concurrent change was lost: %v", data)
	}
}

// TestPopulateRendered takes values from the chart's rendered Secret (data and
// stringData), read in memory through render.Collect.
func TestPopulateRendered(t *testing.T) {
	var log leaks
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("team-r", "rendered-db", "password", "url"),
		"rendered/team-r/db/mychart/templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: rendered-db
data:
  password: ` + "NjZ4LXJlbmRlcmVkLVZhbHVl" + `
stringData:
  url: ` + log.secret("postgres://77x-rendered-Value") + `
`,
		SourcesFile: "default: {rendered: true}\n",
	})
	log.secret("66x-rendered-Value")
	o := options(repo, &log)
	o.Render = render.Options{Rendered: filepath.Join(repo, "rendered")}
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := kv(t, "rendered/db")
	if data["password"] != "66x-rendered-Value" || data["url"] != "postgres://77x-rendered-Value" {
		t.Fatal("rendered values not written")
	}

	// A key the render lacks is an error before anything is written.
	repo2 := writeRepo(t, map[string]string{
		"config-root/a.yaml": externalSecret("team-r", "rendered-other", "password"),
		"rendered/team-r/db/mychart/templates/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: rendered-other}\ndata: {}\n",
		SourcesFile: "default: {rendered: true}\n",
	})
	o = options(repo2, &log)
	o.Render = render.Options{Rendered: filepath.Join(repo2, "rendered")}
	_, err = Populate(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "rendered Secret team-r/rendered-other has no key password") {
		t.Fatalf("error %v", err)
	}
	log.check(t)
}

// TestPopulateLegacyExternalSecret fills the store of a kubernetes-client.io/v1
// ExternalSecret (backendType vault, data[]{name,key,property}).
func TestPopulateLegacyExternalSecret(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": `apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: {name: legacy-db, namespace: ns}
spec:
  backendType: vault
  vaultMountPoint: kubernetes
  data:
    - {name: password, key: secret/data/legacy/db, property: password}
`,
		SourcesFile: "secrets: [{name: legacy-db, keys: {password: {password: {length: 10}}}}]\n",
	})
	res, err := Populate(context.Background(), options(repo, &leaks{}))
	if err != nil || res.Count(Written) != 1 {
		t.Fatalf("%v %v", statuses(res), err)
	}
	if data, _ := kv(t, "legacy/db"); len(fmt.Sprint(data["password"])) != 10 {
		t.Fatal("not written")
	}
}

func TestParseSourcesRejectsBadDeclarations(t *testing.T) {
	for name, content := range map[string]string{
		"two sources":   "secrets: [{name: a, keys: {k: {ref: 'ref+file://x.txt', rendered: true}}}]",
		"no source":     "secrets: [{name: a, keys: {k: {}}}]",
		"unknown field": "secrets: [{name: a, keys: {k: {value: plain}}}]",
		"bad ref":       "secrets: [{name: a, keys: {k: {ref: 'vault://x'}}}]",
		"bad charset":   "secrets: [{name: a, keys: {k: {password: {classes: [emoji]}}}}]",
		"no name":       "secrets: [{keys: {k: {rendered: true}}}]",
		"twice":         "secrets: [{name: a, keys: {}}, {name: a, keys: {}}]",
	} {
		if _, err := ParseSources("f.yaml", []byte(content)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestPopulateRenderedByHelmfile takes a value from a real render: the pinned helmfile and
// helm of ./bin template a small chart whose Secret gets its value from the chart's values,
// all in memory (render.Collect).
func TestPopulateRenderedByHelmfile(t *testing.T) {
	testutil.ToolsEnv(t)
	var log leaks
	value := log.secret("4242x-helm-rendered-Value")
	repo := writeRepo(t, map[string]string{
		"helmfile.yaml":        "releases:\n  - name: db\n    namespace: team-h\n    chart: ./charts/db\n    values: [values/db.yaml]\n",
		"charts/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 0.1.0\n",
		"charts/db/templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: helm-db
data:
  password: {{ .Values.password | b64enc }}
`,
		"values/db.yaml":     "password: " + value + "\n",
		"config-root/a.yaml": externalSecret("team-h", "helm-db", "password"),
		SourcesFile:          "secrets: [{name: helm-db, keys: {password: {rendered: true}}}]\n",
	})
	o := options(repo, &log)
	o.Render.Helmfile = testutil.Tool(t, "helmfile")
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := kv(t, "helm/db"); data["password"] != value {
		t.Fatal("the rendered value was not written")
	}
	log.check(t)
}

// TestPopulateMissingMountWritesNothing: a store whose KV mount does not exist is an error
// on the first read, not a "missing" secret whose write fails later.
func TestPopulateMissingMountWritesNothing(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml":     externalSecret("ns", "no-mount", "a"),
		"config-root/store.yaml": strings.Replace(vaultStore, "path: secret", "path: nomount", 1),
		SourcesFile:              "default: {password: {}}\n",
	})
	_, err := Populate(context.Background(), options(repo, &leaks{}))
	if err == nil || !strings.Contains(err.Error(), "no secrets engine is mounted at nomount/") || !strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("error %v", err)
	}
}

// TestPopulateAWS fills AWS Secrets Manager (a fake speaking its wire protocol: see
// testutil.FakeSecretsManager) through the real SDK: a new secret is created as a JSON
// object of properties, an existing one gains the missing property and keeps its own, and a
// property-less entry stores the plain value.
func TestPopulateAWS(t *testing.T) {
	var log leaks
	fake, url := testutil.NewFakeSecretsManager(t)
	existing := log.secret("99x-aws-existing-Value")
	fake.SetSecret("app-db", `{"user":"`+existing+`"}`)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("POPULATE_AWS_TOKEN", log.secret("31x-aws-token-Value"))
	// vals' own awssecrets provider reads from the same fake, through the SDK's
	// service-specific endpoint variable.
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", url)
	t.Setenv("AWS_REGION", "eu-west-1")
	fake.SetSecret("legacy/app", `{"apiKey":"`+log.secret("57x-aws-ref-Value")+`"}`)
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml": `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app-db, namespace: app}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: aws-secrets-manager}
  target: {name: app-db}
  data:
    - {secretKey: user, remoteRef: {key: app-db, property: user}}
    - {secretKey: password, remoteRef: {key: app-db, property: password}}
    - {secretKey: token, remoteRef: {key: app-token}}
    - {secretKey: api-key, remoteRef: {key: app-db, property: api-key}}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: aws-secrets-manager}
spec:
  provider:
    aws: {service: SecretsManager, region: eu-west-1}
`,
		SourcesFile: `secrets:
  - name: app-db
    keys:
      user: {password: {}}
      password: {password: {length: 20}}
      token: {ref: "ref+envsubst://$POPULATE_AWS_TOKEN"}
      api-key: {ref: "ref+awssecrets://legacy/app#/apiKey"}
`,
	})
	o := options(repo, &log)
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st["app/app-db user"] != Present || st["app/app-db password"] != Written || st["app/app-db token"] != Written {
		t.Fatalf("statuses %v", st)
	}
	doc, _ := fake.Secret("app-db")
	var props map[string]string
	if err := json.Unmarshal([]byte(doc), &props); err != nil || props["user"] != existing || len(props["password"]) != 20 || props["api-key"] != "57x-aws-ref-Value" {
		t.Fatal("app-db is not the existing object plus a 20-character password and the referenced key")
	}
	log.secret(props["password"])
	if tok, _ := fake.Secret("app-token"); tok != "31x-aws-token-Value" {
		t.Fatal("the plain value was not stored as it is")
	}
	if res.Items[1].StorePath != "app-db#password" || res.Items[2].StorePath != "app-token" {
		t.Fatalf("store paths %s, %s", res.Items[1].StorePath, res.Items[2].StorePath)
	}
	log.check(t)
}

// TestPopulateAmbiguousOverride: a connection override names one location, so it must not
// apply to several stores of its kind (the converter's vault-<hash> stores for a second
// Vault, or a second AWS region); with one store per kind, or no override, populate runs.
func TestPopulateAmbiguousOverride(t *testing.T) {
	storeManifest := func(name, provider string) string {
		return "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: " + name + "}\nspec:\n  provider:\n    " + provider + "\n"
	}
	es := func(name, storeName string) string {
		return strings.ReplaceAll(externalSecret("amb", name, "password"), "name: vault}", "name: "+storeName+"}")
	}
	twoVaults := map[string]string{
		"config-root/a.yaml": es("amb-one", "vault"),
		"config-root/b.yaml": es("amb-two", "vault-1a2b3c4d"),
		"config-root/stores.yaml": storeManifest("vault", `vault: {server: "`+testVault.Addr+`", path: secret, version: v2}`) + "---\n" +
			storeManifest("vault-1a2b3c4d", `vault: {server: "`+testVault.Addr+`", path: secret, version: v2}`),
		SourcesFile: "default: {password: {}}\n",
	}
	twoRegions := map[string]string{
		"config-root/a.yaml": es("amb-aws-one", "aws-secrets-manager"),
		"config-root/b.yaml": es("amb-aws-two", "aws-secrets-manager-5e6f7a8b"),
		"config-root/stores.yaml": storeManifest("aws-secrets-manager", "aws: {service: SecretsManager, region: eu-west-1}") + "---\n" +
			storeManifest("aws-secrets-manager-5e6f7a8b", "aws: {service: SecretsManager, region: us-east-1}"),
		SourcesFile: "default: {password: {}}\n",
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		conn   Connection
		stores string
	}{
		{"vault address", twoVaults, Connection{VaultAddr: testVault.Addr, VaultToken: testVault.Token}, "vault, vault-1a2b3c4d"},
		{"vault namespace", twoVaults, Connection{VaultNamespace: "team", VaultToken: testVault.Token}, "vault, vault-1a2b3c4d"},
		{"aws region", twoRegions, Connection{AWSRegion: "eu-central-1"}, "aws-secrets-manager, aws-secrets-manager-5e6f7a8b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options(writeRepo(t, tc.files), &leaks{})
			o.Connection = tc.conn
			o.Open = func(context.Context, StoreSpec) (store.Store, error) {
				t.Fatal("a store was opened despite an ambiguous override")
				return nil, nil
			}
			_, err := Populate(context.Background(), o)
			if !errors.Is(err, ErrAmbiguousOverride) || !strings.Contains(err.Error(), tc.stores) || !strings.Contains(err.Error(), "nothing written") {
				t.Fatalf("error %v, want %v naming %s", err, ErrAmbiguousOverride, tc.stores)
			}
		})
	}

	// Without the override each store keeps its own server, and both are filled.
	o := options(writeRepo(t, twoVaults), &leaks{})
	o.Connection = Connection{VaultToken: testVault.Token}
	res, err := Populate(context.Background(), o)
	if err != nil || res.Count(Written) != 2 {
		t.Fatalf("two vault stores without an override: %v %v", statuses(res), err)
	}
	for _, p := range []string{"amb/one", "amb/two"} {
		if data, _ := kv(t, p); data["password"] == nil {
			t.Errorf("secret/%s was not written", p)
		}
	}
}

// TestPopulateVaultKeepsFieldTypes: fields of an existing Vault secret that are not strings
// are written back unchanged when populate adds a field; a null field counts as missing.
func TestPopulateVaultKeepsFieldTypes(t *testing.T) {
	var log leaks
	putKV(t, "typed/db", map[string]any{
		"port": 5432, "n": map[string]any{"a": 1, "b": []any{true, nil}}, "none": nil, "x": nil, "on": false,
		"kept": log.secret("7d2ex-typed-Value"),
	})
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml":     externalSecret("team-t", "typed-db", "user", "x", "kept"),
		"config-root/vault.yaml": vaultStore,
		SourcesFile:              "default: {password: {}}\n",
	})
	res, err := Populate(context.Background(), options(repo, &log))
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st["team-t/typed-db user"] != Written || st["team-t/typed-db x"] != Written || st["team-t/typed-db kept"] != Present {
		t.Fatalf("statuses: %v", st)
	}
	data, _ := kv(t, "typed/db")
	for _, k := range []string{"user", "x", "kept"} {
		if s, ok := data[k].(string); ok {
			log.secret(s)
		}
	}
	b, err := json.Marshal(map[string]any{"port": data["port"], "n": data["n"], "none": data["none"], "on": data["on"]})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"n":{"a":1,"b":[true,null]},"none":null,"on":false,"port":5432}`; string(b) != want {
		t.Errorf("fields not written back as they were: %s, want %s", b, want)
	}
	if _, ok := data["none"]; !ok || len(data) != 7 {
		t.Errorf("fields %d, want 7 (the null field kept)", len(data))
	}
	if s, _ := data["x"].(string); len(s) == 0 {
		t.Error("the null field x was not filled")
	}
	log.check(t)
}

// TestPopulateRenderedKustomize takes values from a Secret of a kustomize folder, which has
// no namespace of its own and no helm annotations: it belongs to the folder's namespace.
// Its data is base64 broken over lines (a plain scalar: YAML folds the breaks into spaces), and a key in both data and stringData takes the
// stringData value.
func TestPopulateRenderedKustomize(t *testing.T) {
	var log leaks
	password := log.secret("5b7cx-kustomize-Value-with-a-long-tail-to-wrap-the-base64-over-lines")
	enc := base64.StdEncoding.EncodeToString([]byte(password))
	wrapped := enc[:20] + "\n    " + enc[20:40] + "\n    " + enc[40:]
	repo := writeRepo(t, map[string]string{
		"config-root/a.yaml":          externalSecret("team-k", "kust-db", "password", "token"),
		"config-root/vault.yaml":      vaultStore,
		"configroot.yaml":             "kustomize:\n  - {path: kust/app, namespace: team-k}\n",
		"kust/app/kustomization.yaml": "resources: [secret.yaml]\n",
		"kust/app/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: kust-db
data:
  password:
    ` + wrapped + `
  token: ` + base64.StdEncoding.EncodeToString([]byte(log.secret("9e1fx-overridden-Value"))) + `
stringData:
  token: ` + log.secret("3c8ax-stringdata-Value") + `
`,
		"rendered/.keep": "",
		SourcesFile:      "default: {rendered: true}\n",
	})
	o := options(repo, &log)
	o.Render = render.Options{Rendered: filepath.Join(repo, "rendered")}
	res, err := Populate(context.Background(), o)
	log.record(res, err)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := kv(t, "kust/db")
	if data["password"] != password {
		t.Error("the wrapped base64 value was not written")
	}
	if data["token"] != "3c8ax-stringdata-Value" {
		t.Error("stringData did not win over data")
	}
	log.check(t)
}

// TestConventionalStoresFollowConverter: every backend the converter knows has a store name
// populate recognises, and (but local) a legacy backendType of the same spelling.
func TestConventionalStoresFollowConverter(t *testing.T) {
	for _, b := range secrets.Backends {
		if _, ok := conventionalStore(secrets.StoreName(b)); !ok {
			t.Errorf("store %q of backend %s is not known", secrets.StoreName(b), b)
		}
		if _, ok := legacyBackend(string(b)); !ok && b != secrets.Local {
			t.Errorf("backendType %s is not known", b)
		}
	}
	if _, ok := legacyBackend(string(secrets.Local)); ok {
		t.Error("local is a legacy backendType")
	}
	if spec, ok := legacyBackend("systemManager"); !ok || spec.Unsupported == "" {
		t.Error("systemManager is not a known, unsupported backendType")
	}
}
