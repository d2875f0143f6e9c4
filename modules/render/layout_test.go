package render

import (
	"strings"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// layoutOf reads a rendered tree given as path → YAML and lays it out.
func layoutOf(t *testing.T, tree map[string]string, l Layout) (Files, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for p, s := range tree {
		fsys[p] = &fstest.MapFile{Data: []byte(s)}
	}
	nodes, _, err := ReadRendered(fsys)
	if err != nil {
		return nil, err
	}
	return LayoutFiles(nodes, l)
}

func TestLayoutPaths(t *testing.T) {
	cases := []struct {
		name string
		tree map[string]string
		want []string // every file of config-root
	}{
		{
			name: "release named like its chart",
			tree: map[string]string{"apps/webapp/webapp/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"},
			want: []string{"cluster/namespaces/apps.yaml", "namespaces/apps/webapp/settings-cm.yaml"},
		},
		{
			name: "release starting with its chart name",
			tree: map[string]string{"apps/webapp-admin/webapp/templates/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: admin\n"},
			want: []string{"cluster/namespaces/apps.yaml", "namespaces/apps/webapp-admin/admin-sa.yaml"},
		},
		{
			name: "release named otherwise",
			tree: map[string]string{"ops/tenants/tenant-operator/templates/d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: op\n"},
			want: []string{"cluster/namespaces/ops.yaml", "namespaces/ops/tenant-operator-tenants/op-deploy.yaml"},
		},
		{
			name: "kind suffixes and lower-case kinds",
			tree: map[string]string{"a/r/r/templates/all.yaml": `
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
`},
			want: []string{"cluster/namespaces/a.yaml", "namespaces/a/r/b-rb.yaml", "namespaces/a/r/nightly-cronjob.yaml", "namespaces/a/r/s-svc.yaml"},
		},
		{
			name: "cluster-scoped built-ins, CRDs and kinds of CRDs of the same render",
			tree: map[string]string{
				"sys/op/op/crds/crd.yaml": `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: tenants.example.com}
spec: {group: example.com, scope: Cluster, names: {kind: Tenant}}
`,
				"sys/op/op/templates/x.yaml": `
apiVersion: example.com/v1
kind: Tenant
metadata: {name: "team:a", namespace: sys}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:op"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: op}
`,
			},
			// Only cluster-scoped resources: the release's namespace still gets its Namespace.
			want: []string{
				"cluster/namespaces/sys.yaml",
				"cluster/resources/sys/op/op-valwebhookcfg.yaml",
				"cluster/resources/sys/op/system-op-crb.yaml",
				"cluster/resources/sys/op/team-a-tenant.yaml",
				"customresourcedefinitions/sys/op/tenants.example.com-crd.yaml",
			},
		},
		{
			name: "namespace objects: rendered ones win, system namespaces never emitted",
			tree: map[string]string{"kube-system/r/r/templates/x.yaml": `
apiVersion: v1
kind: Namespace
metadata: {name: extra, labels: {team: a}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: extra}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d}
`},
			want: []string{"cluster/namespaces/extra.yaml", "namespaces/extra/r/c-cm.yaml", "namespaces/kube-system/r/d-cm.yaml"},
		},
		{
			name: "helm test hooks dropped, other hooks kept",
			tree: map[string]string{"a/r/r/templates/x.yaml": `
apiVersion: v1
kind: Pod
metadata: {name: t, annotations: {helm.sh/hook: "test-success"}}
---
apiVersion: v1
kind: Pod
metadata: {name: t2, annotations: {helm.sh/hook: "pre-install, test"}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, annotations: {helm.sh/hook: pre-upgrade}}
`},
			want: []string{"cluster/namespaces/a.yaml", "namespaces/a/r/migrate-job.yaml"},
		},
		{
			name: "empty and comment-only documents skipped",
			tree: map[string]string{"a/r/r/templates/x.yaml": "---\n# nothing here\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"},
			want: []string{"cluster/namespaces/a.yaml", "namespaces/a/r/c-cm.yaml"},
		},
		{
			name: "colliding names both kept, deterministically",
			tree: map[string]string{"a/r/r/templates/x.yaml": `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system-reader"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:reader"}
`},
			want: []string{"cluster/namespaces/a.yaml", "cluster/resources/a/r/system-reader-clusterrole-6c1221a4.yaml", "cluster/resources/a/r/system-reader-clusterrole.yaml"},
		},
		{
			name: "a Knative Service is ksvc, beside the core Service of its name",
			tree: map[string]string{"a/r/r/templates/x.yaml": `
apiVersion: v1
kind: Service
metadata: {name: cheese}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: cheese}
---
apiVersion: example.com/v1
kind: Service
metadata: {name: other}
`},
			want: []string{"cluster/namespaces/a.yaml", "namespaces/a/r/cheese-ksvc.yaml", "namespaces/a/r/cheese-svc.yaml", "namespaces/a/r/other-svc.yaml"},
		},
		{
			name: "folders inside the chart kept below the release folder, but a last templates/ or crds/",
			tree: map[string]string{
				"a/r/web/templates/cm.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: top}\n",
				"a/r/web/templates/config/cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nested}\n",
				"a/r/web/crds/crd.yaml":                  "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ts.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: T}}\n",
				"a/r/web/charts/db/templates/svc.yaml":   "apiVersion: v1\nkind: Service\nmetadata: {name: db}\n---\napiVersion: example.com/v1\nkind: T\nmetadata: {name: t}\n",
				"a/r/web/charts/db/crds/crd.yaml":        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: us.example.com}\nspec: {group: example.com, scope: Namespaced, names: {kind: U}}\n",
				"a/r/web/charts/db/templates/ns.yaml":    "apiVersion: v1\nkind: Namespace\nmetadata: {name: db}\n",
				"a/r/web/charts/db/templates/x/y/z.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep, namespace: db}\n",
			},
			want: []string{
				"cluster/namespaces/a.yaml",
				"cluster/namespaces/db.yaml", // a Namespace object always goes to cluster/namespaces
				"cluster/resources/a/web-r/charts/db/t-t.yaml",
				"customresourcedefinitions/a/web-r/charts/db/us.example.com-crd.yaml",
				"customresourcedefinitions/a/web-r/ts.example.com-crd.yaml",
				"namespaces/a/web-r/charts/db/db-svc.yaml",
				"namespaces/a/web-r/templates/config/nested-cm.yaml",
				"namespaces/a/web-r/top-cm.yaml",
				"namespaces/db/web-r/charts/db/templates/x/y/deep-cm.yaml",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := layoutOf(t, tc.tree, Layout{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(files.Paths(), "\n"); got != strings.Join(tc.want, "\n") {
				t.Errorf("paths:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLayoutContents(t *testing.T) {
	files, err := layoutOf(t, map[string]string{
		"apps/web/web/templates/x.yaml": `# Source: web/templates/x.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data: {a: "1"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: r
  namespace: apps
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: leader
  namespace: kube-system
`,
	}, Layout{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"namespaces/apps/web/c-cm.yaml": `# Source: web/templates/x.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  namespace: apps
  annotations:
    meta.helm.sh/release-name: web
    meta.helm.sh/release-namespace: apps
data: {a: "1"}
`,
		"cluster/resources/apps/web/r-clusterrole.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: r
  annotations:
    meta.helm.sh/release-name: web
    meta.helm.sh/release-namespace: apps
`,
		// A namespace the chart sets on purpose is kept (see docs/jenkins-x.md).
		"namespaces/kube-system/web/leader-cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: leader
  namespace: kube-system
  annotations:
    meta.helm.sh/release-name: web
    meta.helm.sh/release-namespace: apps
`,
		"cluster/namespaces/apps.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    name: apps\n",
	}
	if len(files) != len(want) {
		t.Errorf("got files %v, want %d", files.Paths(), len(want))
	}
	for p, w := range want {
		if got := string(files[p]); got != w {
			t.Errorf("%s:\n%s\nwant:\n%s", p, got, w)
		}
	}
}

func TestLayoutErrors(t *testing.T) {
	cases := []struct {
		name string
		tree map[string]string
		want string
	}{
		{"invalid YAML", map[string]string{"a/r/c/templates/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"},
			"release a/r: c/templates/bad.yaml: invalid YAML"},
		{"not a resource", map[string]string{"a/r/c/templates/bad.yaml": "just: values\n"},
			"release a/r: c/templates/bad.yaml: not a Kubernetes resource"},
		{"a list document", map[string]string{"a/r/c/templates/bad.yaml": "- a\n- b\n"},
			"release a/r: c/templates/bad.yaml: not a Kubernetes resource: a document is a YAML !!seq"},
		{"no name", map[string]string{"a/r/c/templates/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"},
			"release a/r: c/templates/bad.yaml: ConfigMap has no metadata.name"},
		{"same resource twice", map[string]string{
			"a/r/c/templates/one.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			"a/r/c/templates/two.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: a}\n"},
			"release a/r: c/templates/one.yaml and release a/r: c/templates/two.yaml: the same resource /ConfigMap/a/x is rendered twice"},
		{"bad CRD scope", map[string]string{"a/r/c/crds/crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.example.com}\nspec: {group: example.com, names: {kind: X}, scope: Global}\n"},
			`release a/r: c/crds/crd.yaml: CustomResourceDefinition x.example.com: spec.scope "Global": want Cluster or Namespaced`},
		{"duplicate key hiding secret data", map[string]string{"a/r/c/templates/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {}\ndata:\n  password: aHVudGVyMg==\n"},
			`release a/r: c/templates/s.yaml: line 5: key "data" appears twice in one mapping`},
		{"duplicate kind", map[string]string{"a/r/c/templates/s.yaml": "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: s}\n"},
			`line 3: key "kind" appears twice`},
		{"not a rendered tree", map[string]string{"a/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
			"a/x.yaml: not in <namespace>/<release>/<chart>/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := layoutOf(t, tc.tree, Layout{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLayoutDeterministic(t *testing.T) {
	tree := map[string]string{}
	for _, r := range []string{"a/one/one", "b/two/x", "c/three/three"} {
		tree[r+"/templates/t.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: \"c:x\"}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: \"c-x\"}\n"
	}
	first, err := layoutOf(t, tree, Layout{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		again, err := layoutOf(t, tree, Layout{})
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != len(first) {
			t.Fatalf("run %d: %d files, want %d", i, len(again), len(first))
		}
		for p, data := range first {
			if string(again[p]) != string(data) {
				t.Fatalf("run %d: %s differs", i, p)
			}
		}
	}
}

func TestLayoutExtraClusterScopedKinds(t *testing.T) {
	files, err := layoutOf(t, map[string]string{"a/r/r/templates/t.yaml": "apiVersion: example.com/v1\nkind: Tenant\nmetadata: {name: t, namespace: a}\n"},
		Layout{ClusterScopedKinds: []string{"example.com/Tenant"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["cluster/resources/a/r/t-tenant.yaml"]; !ok {
		t.Errorf("files %v: want cluster/resources/a/r/t-tenant.yaml", files.Paths())
	}
}

func TestReleaseFolder(t *testing.T) {
	for _, tc := range []struct{ release, chart, want string }{
		{"cert-manager", "cert-manager", "cert-manager"},
		{"webapp-admin", "webapp", "webapp-admin"},
		{"tenants", "tenant-operator", "tenant-operator-tenants"},
		{"rules", "", "rules"},
	} {
		if got := (Release{Name: tc.release, Chart: tc.chart}).Folder(); got != tc.want {
			t.Errorf("Release{%s, chart %s}.Folder() = %s, want %s", tc.release, tc.chart, got, tc.want)
		}
	}
}

// TestLayoutOrigins checks the origins that do not come from helm's output: a resource
// configroot makes (SetOrigin) gets no Namespace object for the namespace it is filed under,
// a kustomize folder's namespace does, and a resource made from another (CopyOrigin) lands in
// the same folder, subchart folders included.
func TestLayoutOrigins(t *testing.T) {
	store, err := yaml.Parse("apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: vault}\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := SetOrigin(store, Release{Name: "secret-stores", Namespace: "external-secrets"}, "ClusterSecretStore vault"); err != nil {
		t.Fatal(err)
	}
	kustomized, err := readDocuments([]byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: rules-reader}\n"),
		Release{Name: "rules", Namespace: "monitoring"}, "kustomize build rules", false)
	if err != nil {
		t.Fatal(err)
	}
	fromChart, err := readDocuments([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"),
		Release{Name: "web", Namespace: "apps", Chart: "web"}, "web/charts/db/templates/secret.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	made, err := yaml.Parse("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: db}\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := CopyOrigin(fromChart[0], made); err != nil {
		t.Fatal(err)
	}
	files, err := LayoutFiles(append([]*yaml.RNode{store, made}, kustomized...), Layout{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cluster/namespaces/apps.yaml",
		"cluster/namespaces/monitoring.yaml",
		"cluster/resources/external-secrets/secret-stores/vault-clustersecretstore.yaml",
		"cluster/resources/monitoring/rules/rules-reader-clusterrole.yaml",
		"namespaces/apps/web/charts/db/db-externalsecret.yaml",
	}
	if got := strings.Join(files.Paths(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("paths:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for p, data := range files {
		if strings.Contains(string(data), "internal.configroot.dev") {
			t.Errorf("%s carries configroot's internal annotations:\n%s", p, data)
		}
	}
}

// TestClusterScopedCRDs checks the text pre-filter in front of the parse: cluster-scoped
// CRDs in block and flow style, quoted or not, are found; a namespaced CRD whose text
// mentions "scope: Cluster" elsewhere is parsed and rejected; files outside the CRD tree
// are not looked at.
func TestClusterScopedCRDs(t *testing.T) {
	files := Files{
		"customresourcedefinitions/a/r/block-crd.yaml":  []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: bs.example.com\nspec:\n  group: example.com\n  names:\n    kind: Block\n  scope: Cluster\n"),
		"customresourcedefinitions/a/r/quoted-crd.yaml": []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: qs.example.com\nspec:\n  group: example.com\n  names:\n    kind: Quoted\n  scope: \"Cluster\"\n"),
		"customresourcedefinitions/a/r/flow-crd.yaml":   []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: fs.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: Flow}}\n"),
		"customresourcedefinitions/a/r/ns-crd.yaml":     []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: ns.example.com\n  annotations:\n    note: \"not scope: Cluster\"\nspec:\n  group: example.com\n  names:\n    kind: Namespaced\n  scope: Namespaced\n"),
		"cluster/resources/a/r/other.yaml":              []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: os.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: Other}}\n"),
	}
	got := clusterScopedCRDs(files)
	want := []string{"example.com/Block", "example.com/Flow", "example.com/Quoted"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("clusterScopedCRDs = %v, want %v", got, want)
	}
}
