package store

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/internal/testutil/cloudfake"
	"github.com/configroot/configroot/modules/secrets/values"
)

const leak = "Sup3r-s3cret-payload"

func props(kv ...string) values.Values {
	var vs values.Values
	for i := 0; i < len(kv); i += 2 {
		vs.Set(kv[i], values.New(kv[i+1]))
	}
	return vs
}

// exercise runs the contract every Store keeps: an absent key reads as absent, a write
// creates it, a second write replaces it, the raw (no property) form round-trips, and
// errors never quote a value.
func exercise(t *testing.T, s Store, stored func(key string) (string, bool)) {
	t.Helper()
	ctx := context.Background()
	if _, exists, err := s.Read(ctx, "team-a-db"); err != nil || exists {
		t.Fatalf("read of an absent secret: exists=%v err=%v", exists, err)
	}
	if err := s.Write(ctx, "team-a-db", props("password", leak, "user", "admin")); err != nil {
		t.Fatal(err)
	}
	raw, ok := stored("team-a-db")
	if !ok {
		t.Fatal("the write did not reach the server")
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m["password"] != leak || m["user"] != "admin" {
		t.Fatalf("the server holds no JSON object of the properties (%d bytes)", len(raw))
	}
	got, exists, err := s.Read(ctx, "team-a-db")
	if err != nil || !exists {
		t.Fatalf("read back: exists=%v err=%v", exists, err)
	}
	if v, _ := got.Get("password"); v.Reveal() != leak || got.Len() != 2 {
		t.Fatalf("read back %v", got.Names())
	}
	if err := s.Write(ctx, "team-a-db", props("password", leak+"2", "user", "admin")); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.Read(ctx, "team-a-db")
	if v, _ := got.Get("password"); v.Reveal() != leak+"2" {
		t.Fatal("second write did not replace the value")
	}

	if err := s.Write(ctx, "plain", props(Raw, leak)); err != nil {
		t.Fatal(err)
	}
	if raw, _ := stored("plain"); raw != leak {
		t.Fatal("a raw value is not stored as it is")
	}
	got, _, _ = s.Read(ctx, "plain")
	if v, _ := got.Get(Raw); v.Reveal() != leak || got.Len() != 1 {
		t.Fatal("a raw value does not read back as the Raw property")
	}

	err = s.Write(ctx, "mixed", props(Raw, leak, "x", leak))
	if err == nil || strings.Contains(err.Error(), leak) {
		t.Fatalf("mixing raw and properties: %v", err)
	}

	// Bytes that are not UTF-8 would become U+FFFD in the store's JSON: refused, whole.
	for _, p := range []values.Values{props("ok", "text", "keystore", "\xfe\xed"+leak), props(Raw, leak+"\xff")} {
		err = s.Write(ctx, "binary", p)
		if err == nil || !strings.Contains(err.Error(), "is binary (not UTF-8 text) and would be stored corrupted") || strings.Contains(err.Error(), leak) {
			t.Fatalf("binary value: %v", err)
		}
	}
	if _, ok := stored("binary"); ok {
		t.Fatal("a write with a binary value reached the server")
	}
}

// typedPayload is a secret written by someone else, with properties that are not strings.
const typedPayload = `{"port":5432,"big":12345678901234567890,"n":{"a":1,"b":[true,null]},"x":null,"on":false,"password":"` + leak + `"}`

// keepsTypes checks that merging a new property into an existing secret keeps the other
// properties as they were: numbers, objects, booleans and nulls are not turned into strings.
func keepsTypes(t *testing.T, s Store, seed func(key, payload string), stored func(key string) (string, bool)) {
	t.Helper()
	ctx := context.Background()
	seed("typed", typedPayload)
	got, exists, err := s.Read(ctx, "typed")
	if err != nil || !exists {
		t.Fatalf("read of a typed secret: exists=%v err=%v", exists, err)
	}
	got.Set("user", values.New("admin"))
	if err := s.Write(ctx, "typed", got); err != nil {
		t.Fatal(err)
	}
	raw, _ := stored("typed")
	var have, want map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &have); err != nil {
		t.Fatalf("the server holds no JSON object (%d bytes)", len(raw))
	}
	_ = json.Unmarshal([]byte(typedPayload), &want)
	want["user"] = json.RawMessage(`"admin"`)
	for k, w := range want {
		if _, ok := have[k]; !ok {
			t.Errorf("property %s was dropped", k)
		} else if k != "password" && !bytes.Equal(compact(t, have[k]), compact(t, w)) {
			t.Errorf("property %s is %s, want %s (%d bytes stored)", k, have[k], w, len(raw))
		}
	}
	if len(have) != len(want) {
		t.Errorf("%d properties written, want %d", len(have), len(want))
	}
	if v, _ := got.Get("password"); v.Reveal() != leak {
		t.Error("the string property changed")
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}

func TestAWSStore(t *testing.T) {
	f, url := testutil.NewFakeSecretsManager(t)
	s, err := NewAWS(context.Background(), AWSOptions{
		Region: "eu-west-1", Endpoint: url,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, s, f.Secret)
	keepsTypes(t, s, f.SetSecret, f.Secret)
	if got := strings.Join(f.Calls()[:3], ","); got != "GetSecretValue,PutSecretValue,CreateSecret" {
		t.Fatalf("a new secret took calls %s", got)
	}
}

func TestAWSStoreUnreachable(t *testing.T) {
	s, err := NewAWS(context.Background(), AWSOptions{
		Region: "eu-west-1", Endpoint: "http://" + closedAddr(t),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, err = s.Read(ctx, "team-a-db")
	if err == nil || !strings.Contains(err.Error(), "aws secrets manager read team-a-db") {
		t.Fatalf("unreachable store: %v", err)
	}
}

func TestGCPStore(t *testing.T) {
	f := cloudfake.NewSecretManager(t)
	s, err := NewGCP(context.Background(), GCPOptions{Project: "acme", ClientOptions: f.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored := func(key string) (string, bool) {
		p, ok := f.Payload("projects/acme/secrets/" + key)
		return string(p), ok
	}
	exercise(t, s, stored)
	keepsTypes(t, s, func(key, payload string) { f.AddVersion("projects/acme/secrets/"+key, []byte(payload)) }, stored)
	if n := f.Versions("projects/acme/secrets/team-a-db"); n != 2 {
		t.Fatalf("two writes made %d versions", n)
	}
	if got := s.Path("projects/other/secrets/x/versions/3"); got != "projects/other/secrets/x" {
		t.Fatalf("Path of a full name: %s", got)
	}
	if _, err := NewGCP(context.Background(), GCPOptions{}); err == nil {
		t.Fatal("no project is not an error")
	}
}

func TestAzureStore(t *testing.T) {
	f := cloudfake.NewKeyVault(t)
	s, err := NewAzure(AzureOptions{VaultURL: f.URL(), Credential: cloudfake.Credential{}, ClientOptions: f.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, s, f.Secret)
	keepsTypes(t, s, f.SetSecret, f.Secret)
	if got := s.Path("secret/team-a-db"); got != f.URL()+"/secrets/team-a-db" {
		t.Fatalf("Path strips no secret/ prefix: %s", got)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
