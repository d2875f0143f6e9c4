package values

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secret = "s3cr3t-Value-never-shown"

func TestValueNeverPrints(t *testing.T) {
	v := New(secret)
	var vs Values
	vs.Set("password", v)
	type wrapper struct {
		V  Value
		VS Values
	}
	w := wrapper{v, vs}

	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		fmt.Fprintf(&out, verb+"\n", v)
		fmt.Fprintf(&out, verb+"\n", vs)
		fmt.Fprintf(&out, verb+"\n", w)
		fmt.Fprintf(&out, verb+"\n", &w)
	}
	fmt.Fprintln(&out, v, vs, w)
	for _, x := range []any{v, vs, w} {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "v", v, "vs", vs, "w", w)
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "v", v, "vs", vs, "w", w)
	fmt.Fprint(&out, fmt.Errorf("wrapped: %v %w", v, errors.New(vs.String())))

	if strings.Contains(out.String(), secret) || strings.Contains(out.String(), fmt.Sprintf("%x", secret)) {
		t.Fatalf("a value leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "password") || !strings.Contains(out.String(), Redacted) {
		t.Fatalf("names or the redaction marker are missing:\n%s", out.String())
	}
	if v.Reveal() != secret || vs.Reveal()["password"] != secret {
		t.Fatal("Reveal does not return the value")
	}
}

func TestValuesClone(t *testing.T) {
	var a Values
	a.Set("x", New("1"))
	b := a.Clone()
	b.Set("y", New("2"))
	if a.Has("y") || !b.Has("x") || b.Len() != 2 {
		t.Fatalf("clone shares state: %v %v", a.Names(), b.Names())
	}
}

func TestPasswordRespectsLengthAndCharset(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       Password
		wantLen int
		allowed string
		each    []string
	}{
		{"defaults", Password{}, DefaultPasswordLength, classChars[Lower] + classChars[Upper] + classChars[Digits],
			[]string{classChars[Lower], classChars[Upper], classChars[Digits]}},
		{"digits only", Password{Length: 12, Classes: []string{Digits}}, 12, classChars[Digits], nil},
		{"with symbols", Password{Length: 40, Classes: []string{Lower, Symbols}}, 40, classChars[Lower] + classChars[Symbols],
			[]string{classChars[Lower], classChars[Symbols]}},
		{"explicit chars", Password{Length: 64, Chars: "ab"}, 64, "ab", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 50 {
				v, err := tc.p.Generate()
				if err != nil {
					t.Fatal(err)
				}
				s := v.Reveal()
				if len(s) != tc.wantLen {
					t.Fatalf("length %d, want %d", len(s), tc.wantLen)
				}
				for _, r := range s {
					if !strings.ContainsRune(tc.allowed, r) {
						t.Fatalf("character %q is outside the charset", r)
					}
				}
				for _, set := range tc.each {
					if !strings.ContainsAny(s, set) {
						t.Fatalf("no character of %q", set)
					}
				}
				seen[s] = true
			}
			if len(seen) < 45 {
				t.Fatalf("only %d distinct passwords in 50", len(seen))
			}
		})
	}
}

func TestGeneratorValidation(t *testing.T) {
	for name, err := range map[string]error{
		"unknown class": Password{Classes: []string{"emoji"}}.Validate(),
		"negative":      Password{Length: -1}.Validate(),
		"too long":      Password{Length: 5000}.Validate(),
		"one char":      Password{Chars: "a"}.Validate(),
		"space":         Password{Chars: "a b"}.Validate(),
		"hmac size":     HMAC{Bytes: 5000}.Validate(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestHMAC(t *testing.T) {
	v, err := HMAC{Bytes: 16}.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Reveal()) != 32 || strings.Trim(v.Reveal(), "0123456789abcdef") != "" {
		t.Fatalf("not 16 hex-encoded bytes: length %d", v.Len())
	}
	w, _ := HMAC{}.Generate()
	if w.Len() != 2*DefaultHMACBytes || w.Reveal() == v.Reveal() {
		t.Fatalf("default HMAC key has length %d", w.Len())
	}
}

func TestCheckRef(t *testing.T) {
	for ref, ok := range map[string]bool{
		"ref+vault://secret/data/db#password":      true,
		"ref+envsubst://$DB_PASSWORD":              true,
		"ref+sops://secrets/db.enc.yaml#/password": true,
		"ref+file://./x.txt+":                      true,
		"vault://secret":                           false,
		"plain value":                              false,
		"ref+echo://ref+envsubst://$X":             false, // nested
		"ref+file://a.txt+and literal":             false,
		"prefix ref+file://a.txt":                  false,
	} {
		if err := CheckRef(ref); (err == nil) != ok {
			t.Errorf("CheckRef(%q) = %v, want ok=%v", ref, err, ok)
		}
	}
}

// leakedPrefix returns the first prefix of at least 6 characters (the whole value when it is
// shorter) of any of vals found in text; "" when none is.
func leakedPrefix(text string, vals ...string) string {
	for _, v := range vals {
		if v == "" {
			continue
		}
		if p := v[:min(6, len(v))]; strings.Contains(text, p) {
			return p
		}
	}
	return ""
}

// TestResolveWithVals resolves real references through a real vals runtime: file, envsubst,
// a YAML document's key, and failures, which must be errors naming the reference and never
// any part of a value.
func TestResolveWithVals(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "token.txt")
	doc := filepath.Join(dir, "doc.yaml")
	failing := filepath.Join(dir, "fail.sh")
	if err := os.WriteFile(plain, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("db:\n  password: "+secret+"-doc\n  nested: {a: b}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A command that fails after printing a value to stderr, as a misused tool may.
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho \"token "+secret+"-exec\" >&2\nexit 3\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POPULATE_TEST_VALUE", secret+"-env")
	rt, err := NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for ref, want := range map[string]string{
		"ref+file://" + plain:                   secret,
		"ref+envsubst://$POPULATE_TEST_VALUE":   secret + "-env",
		"ref+file://" + doc + "#/db/password":   secret + "-doc",
		"ref+file://" + doc + "?#/db/password+": secret + "-doc",
	} {
		v, err := Resolve(ctx, rt, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if v.Reveal() != want {
			t.Errorf("%s: wrong value of length %d", ref, v.Len())
		}
	}
	for ref, wantErr := range map[string]string{
		"ref+file://" + doc + "#/db/missing":    "no value found for key db/missing",
		"ref+file://" + doc + "#/db":            "resolved to a document",
		"ref+file://" + doc + "#/db/nested":     "resolved to a document",
		"ref+nosuchscheme://xy":                 "no provider registered",
		"ref+file://x":                          "vals did not expand it",
		"ref+file://" + dir + "/absent.txt":     "file not found",
		"ref+file://" + plain + "#/key":         "details withheld", // a plain string is no document
		"ref+file://" + doc + "#/db/password/x": "details withheld",
		"ref+exec://" + failing:                 "details withheld",
	} {
		_, err := Resolve(ctx, rt, ref)
		if err == nil {
			t.Fatalf("%s: no error", ref)
		}
		if !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: error %q does not say %q and name the reference", ref, err, wantErr)
		}
		if p := leakedPrefix(err.Error(), secret, secret+"-doc", secret+"-exec"); p != "" {
			t.Errorf("%s: error leaks %q of a value: %q", ref, p, err)
		}
	}
}

// TestDescribeErrKeepsOnlyKnownReasons feeds describeErr messages vals' providers produce
// for a secret stored as a plain string (awssecrets, gcpsecrets) and for a failing command:
// only allow-listed reasons survive, and only when they name the reference's own parts.
func TestDescribeErrKeepsOnlyKnownReasons(t *testing.T) {
	const ref = "ref+awssecrets://team-a/db#/password"
	for msg, want := range map[string]string{
		`expand ` + ref + `: error while parsing secret for key "team-a/db" as yaml: yaml: unmarshal errors:` + "\n  line 1: cannot unmarshal !!str `" + secret[:20] + "...` into map[string]interface {}": "details withheld",
		`expand ref+gcpsecrets://p/db#/k: failed to unmarshal secret: yaml: unmarshal errors: line 1: cannot unmarshal !!str ` + "`" + secret[:12] + "`":                                                   "details withheld",
		`expand x: unexpected type of value for key at 0=db in [db password]: expected a map, got ` + secret + `(string)`:                                                                                  "details withheld",
		`exec provider: command "/bin/tool" failed: exit status 1 (stderr: bad token ` + secret + `)`:                                                                                                      "details withheld",
		`expand ` + ref + `: no value found for key password`:                                                                                                                                              "could not resolve " + ref + ": no value found for key password",
		`expand ` + ref + `: no value found for key ` + secret:                                                                                                                                             "details withheld", // not the reference's key
		`get parameter: operation error Secrets Manager: GetSecretValue, ResourceNotFoundException: can't find the secret`:                                                                                 "could not resolve " + ref + ": secret not found",
	} {
		got := describeErr(ref, errors.New(msg))
		if !strings.Contains(got, want) || !strings.Contains(got, ref) {
			t.Errorf("describeErr(%q) = %q, want it to contain %q and the reference", msg, got, want)
		}
		if p := leakedPrefix(got, secret); p != "" {
			t.Errorf("describeErr(%q) leaks %q: %q", msg, p, got)
		}
	}
}

func TestNewJSON(t *testing.T) {
	var vs Values
	vs.Set("port", NewJSON(json.RawMessage(`5432`)))
	vs.Set("x", NewJSON(json.RawMessage(`null`)))
	vs.Set("s", New("5432"))
	b, err := json.Marshal(vs.JSON())
	if err != nil || string(b) != `{"port":5432,"s":"5432","x":null}` {
		t.Fatalf("JSON() encodes as %s (%v)", b, err)
	}
	if fmt.Sprint(vs) != "{port: [redacted], s: [redacted], x: [redacted]}" {
		t.Fatalf("prints %v", vs)
	}
	x, _ := vs.Get("x")
	s, _ := vs.Get("s")
	if !x.IsNull() || s.IsNull() {
		t.Fatal("IsNull")
	}
	if _, ok := s.RawJSON(); ok {
		t.Fatal("a string value has raw JSON")
	}
}
