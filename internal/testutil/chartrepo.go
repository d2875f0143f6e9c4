package testutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BasicAuth is a user name and password a test server requires.
type BasicAuth struct {
	Username, Password string
}

// PackageCharts packages each chart folder with the pinned helm (`helm package`) into a new
// folder and returns it: the .tgz files a chart repository or registry serves.
func PackageCharts(t testing.TB, charts ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, c := range charts {
		run(t, "", Tool(t, "helm"), "package", c, "--destination", dir)
	}
	return dir
}

// ChartRepository serves the charts packaged in dir as a Helm chart repository (an
// index.yaml made by `helm repo index`, and the .tgz files) over HTTP on 127.0.0.1, asking
// for auth when it is not nil, and returns its URL. The server stops with the test.
func ChartRepository(t testing.TB, dir string, auth *BasicAuth) string {
	t.Helper()
	return ChartRepositoryAt(t, "127.0.0.1", dir, auth, nil)
}

// ChartRepositoryAt is ChartRepository listening on host (an IP address of this machine, on
// a free port), calling seen, when not nil, with each authenticated request's path.
func ChartRepositoryAt(t testing.TB, host, dir string, auth *BasicAuth, seen func(path string)) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("chart repository: %v", err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth != nil {
			if u, p, ok := r.BasicAuth(); !ok || u != auth.Username || p != auth.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if seen != nil {
			seen(r.URL.Path)
		}
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	run(t, "", Tool(t, "helm"), "repo", "index", dir, "--url", srv.URL)
	return srv.URL
}

// Registry is a running OCI registry of a test.
type Registry struct {
	// Host is its host:port on 127.0.0.1.
	Host string
	// CAFile is the PEM certificate of the CA that signed its TLS certificate; empty when
	// it serves plain HTTP.
	CAFile string
}

// OCIRegistry starts a real OCI registry (distribution v3, ./bin/registry, built by `make
// tools-test`) on 127.0.0.1, over TLS with a certificate of a new CA when tls is set (else
// plain HTTP), requiring auth when it is not nil (htpasswd, bcrypt). The registry stops
// with the test.
func OCIRegistry(t testing.TB, auth *BasicAuth, tls bool) Registry {
	t.Helper()
	bin := Tool(t, "registry")
	dir := t.TempDir()
	addr := freeAddr(t)
	reg := Registry{Host: addr}
	cfg := fmt.Sprintf(`version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: %s}
http:
  addr: %s
  secret: configroot-test
`, filepath.Join(dir, "data"), addr)
	scheme := "http"
	if tls {
		var cert, key string
		reg.CAFile, cert, key = selfSignedCA(t, dir)
		cfg += fmt.Sprintf("  tls: {certificate: %s, key: %s}\n", cert, key)
		scheme = "https"
	}
	if auth != nil {
		hash, err := bcrypt.GenerateFromPassword([]byte(auth.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(auth.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd: {realm: configroot-test, path: %s}\n", htpasswd)
	}
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", config)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &cryptotls.Config{InsecureSkipVerify: true}}} // a probe only
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(scheme + "://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return reg
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry on %s did not start: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PushCharts pushes every chart packaged in dir to oci://<registry>/<repo> with the pinned
// helm, logging in first when auth is not nil (registry credentials go to the helm
// registry config of the test's HELM_CONFIG_HOME, set by ToolsEnv).
func PushCharts(t testing.TB, dir string, reg Registry, repo string, auth *BasicAuth) {
	t.Helper()
	helm := Tool(t, "helm")
	registry := reg.Host
	transport := []string{"--plain-http"}
	if reg.CAFile != "" {
		transport = []string{"--ca-file", reg.CAFile}
	}
	if auth != nil {
		cmd := exec.Command(helm, append([]string{"registry", "login", registry, "--username", auth.Username, "--password-stdin"}, transport...)...)
		cmd.Stdin = strings.NewReader(auth.Password)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm registry login %s: %v\n%s", registry, err, out)
		}
		t.Cleanup(func() { _ = exec.Command(helm, "registry", "logout", registry).Run() })
	}
	pkgs, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil || len(pkgs) == 0 {
		t.Fatalf("no chart packages in %s (%v)", dir, err)
	}
	for _, p := range pkgs {
		run(t, "", helm, append([]string{"push", p, "oci://" + registry + "/" + repo}, transport...)...)
	}
	if auth != nil {
		// Log out, so that what the render does proves its own credentials work.
		run(t, "", helm, "registry", "logout", registry)
	}
}

// selfSignedCA writes into dir a new CA and a certificate it signs for 127.0.0.1 and
// returns the PEM files of the CA, the certificate and its key.
func selfSignedCA(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "configroot test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// freeAddr returns a 127.0.0.1 address with a port free now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// run runs a program, failing the test with its output when it fails.
func run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}
