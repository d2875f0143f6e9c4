package render_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
)

// Remote charts, as real cluster repos take them: from a chart repository (index.yaml over
// HTTP) and from an OCI registry (distribution v3, charts pushed with helm push), with and
// without basic auth, served on 127.0.0.1. The charts are the real cert-manager and External
// Secrets charts; a remote render must equal the render of the same charts from local
// folders, byte for byte.

const (
	certManagerVersion     = "v1.18.2" // the chart version of testutil.CertManagerModule
	externalSecretsVersion = "0.16.1"  // the chart version in testutil.ExternalSecretsModule
)

// remoteServers holds the servers of one test: an open and a private chart repository, an
// open and a private OCI registry, all serving both charts.
type remoteServers struct {
	auth                   testutil.BasicAuth
	repo, privateRepo      string            // chart repository URLs
	registry, privateOCI   testutil.Registry // OCI registries: plain HTTP; TLS with auth
	certManager, externals string            // the local chart folders, for the local render
}

func startRemoteServers(t *testing.T) remoteServers {
	t.Helper()
	charts := t.TempDir()
	s := remoteServers{
		auth:        testutil.BasicAuth{Username: "ci-bot", Password: "Pa55-w0rd-never-printed"},
		certManager: testutil.CertManagerChart(t, charts),
		externals:   testutil.ExternalSecretsChart(t, charts),
	}
	pkgs := testutil.PackageCharts(t, s.certManager, s.externals)
	s.repo = testutil.ChartRepository(t, testutil.CopyDir(t, pkgs), nil)
	s.privateRepo = testutil.ChartRepository(t, testutil.CopyDir(t, pkgs), &s.auth)
	s.registry = testutil.OCIRegistry(t, nil, false)
	testutil.PushCharts(t, pkgs, s.registry, "charts", nil)
	// A registry that asks for credentials serves TLS, as real ones do: helmfile v1.8.0's
	// `helm registry login` passes no --plain-http, which helm 4 needs for plain HTTP.
	s.privateOCI = testutil.OCIRegistry(t, &s.auth, true)
	testutil.PushCharts(t, pkgs, s.privateOCI, "charts", &s.auth)
	return s
}

// localRender renders both charts from local folders: what every remote render must give.
func (s remoteServers) localRender(t *testing.T) map[string][]byte {
	t.Helper()
	repo := t.TempDir()
	if err := os.Symlink(filepath.Dir(s.certManager), filepath.Join(repo, "charts")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "helmfile.yaml"), `releases:
  - name: certs
    namespace: cert-manager
    chart: ./charts/cert-manager
    values: [{crds: {enabled: true}}]
  - name: external-secrets
    namespace: external-secrets
    chart: ./charts/external-secrets
`)
	return mustRenderWithSecrets(t, "", repo, nil)
}

// remoteRepo writes a cluster repo whose helmfile.yaml declares repositories and takes the
// cert-manager chart from certChart and the External Secrets chart from esoChart.
func remoteRepo(t *testing.T, repositories, certChart, certVersion, esoChart, esoVersion, extra string) string {
	t.Helper()
	repo := t.TempDir()
	writeFile(t, filepath.Join(repo, "helmfile.yaml"), fmt.Sprintf(`repositories:
%s
releases:
  - name: certs
    namespace: cert-manager
    chart: %s
    version: %s
    values: [values/certs.yaml]
%s  - name: external-secrets
    namespace: external-secrets
    chart: %s
    version: %s
%s`, repositories, certChart, certVersion, extra, esoChart, esoVersion, extra))
	writeFile(t, filepath.Join(repo, "values", "certs.yaml"), "crds: {enabled: true}\n")
	return repo
}

func TestRemoteCharts(t *testing.T) {
	testutil.ToolsEnv(t)
	s := startRemoteServers(t)
	want := s.localRender(t)
	if _, ok := want["namespaces/cert-manager/cert-manager-certs/certs-cert-manager-deploy.yaml"]; !ok {
		t.Fatalf("the local render has no cert-manager Deployment in cert-manager-certs/:\n%s", strings.Join(sortedPaths(want), "\n"))
	}
	plainHTTP := "    plainHttp: true\n"

	cases := []struct {
		name  string
		repo  func(t *testing.T) string
		env   map[string]string
		extra []string // render.Options.Env
	}{
		{
			name: "chart repository",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: charts\n    url: "+s.repo, "charts/cert-manager", certManagerVersion,
					"charts/external-secrets", externalSecretsVersion, "")
			},
		},
		{
			name: "chart repository with basic auth from the environment",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: private-charts\n    url: "+s.privateRepo, "private-charts/cert-manager", certManagerVersion,
					"private-charts/external-secrets", externalSecretsVersion, "")
			},
			env: map[string]string{"PRIVATE_CHARTS_USERNAME": s.auth.Username, "PRIVATE_CHARTS_PASSWORD": s.auth.Password},
		},
		{
			name: "chart repository with basic auth from Options.Env (--env-file)",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: private-charts\n    url: "+s.privateRepo, "private-charts/cert-manager", certManagerVersion,
					"private-charts/external-secrets", externalSecretsVersion, "")
			},
			extra: []string{"PRIVATE_CHARTS_USERNAME=" + s.auth.Username, "PRIVATE_CHARTS_PASSWORD=" + s.auth.Password},
		},
		{
			name: "OCI charts by reference",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  []", "oci://"+s.registry.Host+"/charts/cert-manager", certManagerVersion,
					"oci://"+s.registry.Host+"/charts/external-secrets", externalSecretsVersion, plainHTTP)
			},
		},
		{
			name: "OCI registry with basic auth from the environment",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: private-oci\n    url: "+s.privateOCI.Host+"/charts\n    oci: true\n    caFile: "+s.privateOCI.CAFile,
					"private-oci/cert-manager", certManagerVersion, "private-oci/external-secrets", externalSecretsVersion, "")
			},
			env: map[string]string{"PRIVATE_OCI_USERNAME": s.auth.Username, "PRIVATE_OCI_PASSWORD": s.auth.Password},
		},
	}
	for _, h := range testutil.Helms(t) {
		for _, tc := range cases {
			t.Run(h.Name+"/"+tc.name, func(t *testing.T) {
				for k, v := range tc.env {
					t.Setenv(k, v)
				}
				var log bytes.Buffer
				repo := tc.repo(t)
				got, err := renderWithSecrets(t, h.Path, repo, func(o *render.Options) { o.Log = &log; o.Env = tc.extra })
				if err != nil {
					t.Fatalf("render: %v\nhelmfile's output (%d bytes):\n%s", err, log.Len(), log.String())
				}
				if d := testutil.DiffTrees(want, got); d != "" {
					t.Errorf("the remote render differs from the local one:\n%s", d)
				}

				// The render cache keys remote charts of an exact version (an OCI chart by
				// the content helmfile pulled): the second cached render runs no helm.
				cache := t.TempDir()
				for i := range 2 {
					got, err := renderWithSecrets(t, h.Path, repo, func(o *render.Options) { o.Log, o.Progress, o.Env, o.Cache = &log, &log, tc.extra, cache })
					if err != nil {
						t.Fatalf("cached render %d: %v\n%s", i+1, err, log.String())
					}
					if d := testutil.DiffTrees(want, got); d != "" {
						t.Errorf("cached render %d differs from the local one:\n%s", i+1, d)
					}
				}
				if !strings.Contains(log.String(), "cache: 2 releases reused, 0 rendered, 0 removed") {
					t.Errorf("the second cached render ran helm:\n%s", log.String())
				}
				// The default value of crds.keep: certs is rendered again, ahead of the keys
				// unless helmfile logs in to a registry (two processes must not at once).
				writeFile(t, filepath.Join(repo, "values", "certs.yaml"), "crds: {enabled: true, keep: true}\n")
				var third bytes.Buffer
				got, err = renderWithSecrets(t, h.Path, repo, func(o *render.Options) { o.Log, o.Progress, o.Env, o.Cache = &third, &third, tc.extra, cache })
				if err != nil {
					t.Fatalf("cached render after a values change: %v\n%s", err, third.String())
				}
				if d := testutil.DiffTrees(want, got); d != "" {
					t.Errorf("the cached render after a values change differs from the local one:\n%s", d)
				}
				ahead := strings.Contains(third.String(), "rendered while helmfile build keyed them")
				if oci := strings.Contains(tc.name, "OCI"); !strings.Contains(third.String(), "cache: 1 releases reused, 1 rendered") || ahead == oci {
					t.Errorf("after a values change: rendered ahead %t, want %t (OCI: %t):\n%s", ahead, !oci, oci, third.String())
				}
				log.Write(third.Bytes())
				if strings.Contains(log.String(), s.auth.Password) {
					t.Errorf("helmfile's output shows the repository password")
				}
			})
		}
	}
}

// TestRemoteChartErrors checks that each way a remote chart can fail gives one clear line
// naming the release and the repository, never the password, and leaves config-root as it
// was.
func TestRemoteChartErrors(t *testing.T) {
	testutil.ToolsEnv(t)
	s := startRemoteServers(t)
	wrongPassword := "Wr0ng-pa55-also-never-printed"
	cases := []struct {
		name string
		repo func(t *testing.T) string
		env  map[string]string
		want []string
	}{
		{
			name: "chart version not in the repository",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: charts\n    url: "+s.repo, "charts/cert-manager", "v9.9.9",
					"charts/external-secrets", externalSecretsVersion, "")
			},
			want: []string{"release cert-manager/certs, chart charts/cert-manager version v9.9.9: ", "not found in charts index"},
		},
		{
			name: "chart repository unreachable",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: gone\n    url: http://127.0.0.1:9/charts", "gone/cert-manager", certManagerVersion,
					"gone/external-secrets", externalSecretsVersion, "")
			},
			want: []string{"chart repository gone (http://127.0.0.1:9/charts), used by releases cert-manager/certs, external-secrets/external-secrets: ", "connection refused"},
		},
		{
			name: "chart repository credentials wrong",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: private-charts\n    url: "+s.privateRepo, "private-charts/cert-manager", certManagerVersion,
					"private-charts/external-secrets", externalSecretsVersion, "")
			},
			env:  map[string]string{"PRIVATE_CHARTS_USERNAME": s.auth.Username, "PRIVATE_CHARTS_PASSWORD": wrongPassword},
			want: []string{"chart repository private-charts (" + s.privateRepo + "), used by releases cert-manager/certs, external-secrets/external-secrets: ", "401"},
		},
		{
			name: "chart repository credentials missing",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: private-charts\n    url: "+s.privateRepo, "private-charts/cert-manager", certManagerVersion,
					"private-charts/external-secrets", externalSecretsVersion, "")
			},
			want: []string{"chart repository private-charts (" + s.privateRepo + ")", "401"},
		},
		{
			name: "OCI chart version not in the registry",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  []", "oci://"+s.registry.Host+"/charts/cert-manager", "v9.9.9",
					"oci://"+s.registry.Host+"/charts/external-secrets", externalSecretsVersion, "    plainHttp: true\n")
			},
			want: []string{"release cert-manager/certs, chart oci://" + s.registry.Host + "/charts/cert-manager version v9.9.9: ", "not found"},
		},
		{
			name: "OCI registry credentials wrong",
			repo: func(t *testing.T) string {
				return remoteRepo(t, "  - name: private-oci\n    url: "+s.privateOCI.Host+"/charts\n    oci: true\n    caFile: "+s.privateOCI.CAFile,
					"private-oci/cert-manager", certManagerVersion, "private-oci/external-secrets", externalSecretsVersion, "")
			},
			env:  map[string]string{"PRIVATE_OCI_USERNAME": s.auth.Username, "PRIVATE_OCI_PASSWORD": wrongPassword},
			want: []string{"OCI registry " + s.privateOCI.Host + " (login as ci-bot): ", "401"},
		},
	}
	for _, h := range testutil.Helms(t) {
		for _, tc := range cases {
			t.Run(h.Name+"/"+tc.name, func(t *testing.T) {
				for k, v := range tc.env {
					t.Setenv(k, v)
				}
				repo := tc.repo(t)
				out := filepath.Join(repo, "config-root")
				writeFile(t, filepath.Join(out, "namespaces", "keep", "me", "cm.yaml"), "# kept\n")
				before := testutil.ReadTree(t, out)
				var log bytes.Buffer
				_, err := renderWithSecrets(t, h.Path, repo, func(o *render.Options) { o.Log = &log })
				if err == nil {
					t.Fatal("the render succeeded")
				}
				msg := err.Error()
				t.Logf("error: %s", msg)
				if strings.Contains(msg, "\n") {
					t.Errorf("the error is not one line:\n%s", msg)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("the error does not name %q", w)
					}
				}
				for _, secret := range []string{s.auth.Password, wrongPassword} {
					if strings.Contains(msg, secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) || strings.Contains(log.String(), secret) {
						t.Errorf("a password shows in the error or helmfile's output")
					}
				}
				if d := testutil.DiffTrees(before, testutil.ReadTree(t, out)); d != "" {
					t.Errorf("config-root changed:\n%s", d)
				}
			})
		}
	}
}
