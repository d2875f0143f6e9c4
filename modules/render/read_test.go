package render

import (
	"strings"
	"testing"
)

// TestReadFlattensLists checks that list objects become their items wherever they stand in
// a file, as kubectl and helm flatten them (k8s.io/cli-runtime resource.Builder.Flatten).
func TestReadFlattensLists(t *testing.T) {
	cases := []struct {
		name string
		file string
		want map[string]string // config-root path → a line it must hold
	}{
		{
			name: "ConfigMapList as the only document",
			file: `# Source: monitoring/templates/grafana/dashboards.yaml
apiVersion: v1
kind: ConfigMapList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: nodes
    labels: {grafana_dashboard: "1"}
  data: {nodes.json: "{}"}
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: pods
  data: {pods.json: "{}"}
`,
			want: map[string]string{
				"namespaces/mon/stack/nodes-cm.yaml": "# Source: monitoring/templates/grafana/dashboards.yaml",
				"namespaces/mon/stack/pods-cm.yaml":  "# Source: monitoring/templates/grafana/dashboards.yaml",
			},
		},
		{
			name: "List of mixed kinds after another document",
			file: `apiVersion: v1
kind: ServiceAccount
metadata: {name: first}
---
# Source: monitoring/templates/rbac.yaml
apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: reader}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: cluster-reader}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: last}
`,
			want: map[string]string{
				"namespaces/mon/stack/first-sa.yaml":                          "name: first",
				"namespaces/mon/stack/reader-role.yaml":                       "namespace: mon",
				"cluster/resources/mon/stack/cluster-reader-clusterrole.yaml": "# Source: monitoring/templates/rbac.yaml",
				"namespaces/mon/stack/last-cm.yaml":                           "name: last",
			},
		},
		{
			name: "RoleList and an empty list",
			file: `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleList
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: a, namespace: other}
---
apiVersion: v1
kind: ConfigMapList
items: []
---
apiVersion: v1
kind: SecretList
items:
`,
			want: map[string]string{"namespaces/other/stack/a-role.yaml": "namespace: other"},
		},
		{
			name: "a custom kind ending in List without items is an object",
			file: `apiVersion: networking.example.com/v1
kind: IPAllowList
metadata: {name: office}
spec:
  cidrs: [10.0.0.0/8]
`,
			want: map[string]string{"namespaces/mon/stack/office-ipallowlist.yaml": "kind: IPAllowList"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := layoutOf(t, map[string]string{"mon/stack/stack/templates/all.yaml": tc.file}, Layout{})
			if err != nil {
				t.Fatal(err)
			}
			for p, line := range tc.want {
				data, ok := files[p]
				if !ok {
					t.Errorf("no %s; files: %v", p, files.Paths())
					continue
				}
				if !strings.Contains(string(data), line) {
					t.Errorf("%s does not hold %q:\n%s", p, line, data)
				}
				if strings.Contains(string(data), "items:") || strings.Contains(string(data), "List\n") && !strings.Contains(string(data), "IPAllowList") {
					t.Errorf("%s still holds the list:\n%s", p, data)
				}
			}
			namespaced := 0
			for _, p := range files.Paths() {
				if !strings.HasPrefix(p, DirClusterNS+"/") {
					namespaced++
				}
			}
			if namespaced != len(tc.want) {
				t.Errorf("files %v, want exactly %d resources", files.Paths(), len(tc.want))
			}
		})
	}
}

func TestReadRefusesBadLists(t *testing.T) {
	cases := []struct {
		name, file string
		want       string
	}{
		{
			name: "nested list",
			file: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: ok}\n- apiVersion: v1\n  kind: ConfigMapList\n  items: []\n",
			want: "release mon/stack: stack/templates/all.yaml: document 1: List: items[1] is a ConfigMapList: a list inside a list is not flattened",
		},
		{
			name: "items not a sequence",
			file: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: SecretList\nitems: {a: b}\n",
			want: "document 2: SecretList: items is a YAML !!map, not a sequence",
		},
		{
			name: "item not a mapping",
			file: "apiVersion: v1\nkind: List\nitems:\n- just a string\n",
			want: "document 1: List: items[0] is a YAML !!str, not a Kubernetes resource",
		},
		{
			name: "alias to a scalar used as a merge key",
			file: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n a\n  labels:\n    <<: *n\n",
			want: "document 1: YAML alias or merge key",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := layoutOf(t, map[string]string{"mon/stack/stack/templates/all.yaml": tc.file}, Layout{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestReadResolvesAliases checks that aliases and merge keys are resolved when reading, so
// that what Layout adds to one resource's metadata never reaches the places that alias it.
// Keys a merge brings in follow the mapping's own keys (kyaml's RNode.DeAnchor), and the
// first mapping of a merge sequence wins over later ones (YAML merge type).
func TestReadResolvesAliases(t *testing.T) {
	file := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels
    app: web
  annotations: &anns
    prometheus.io/scrape: "true"
spec:
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels:
        <<: *labels
        tier: front
      annotations: *anns
    spec:
      containers:
      - &c
        name: a
        image: nginx
      - <<: [*c, {image: ignored, stdin: true}]
        name: b
`
	files, err := layoutOf(t, map[string]string{"apps/web/web/templates/d.yaml": file}, Layout{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(files["namespaces/apps/web/web-deploy.yaml"])
	want := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
  labels:
    app: web
  annotations:
    prometheus.io/scrape: "true"
    meta.helm.sh/release-name: web
    meta.helm.sh/release-namespace: apps
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        tier: front
        app: web
      annotations:
        prometheus.io/scrape: "true"
    spec:
      containers:
      - name: a
        image: nginx
      - name: b
        image: nginx
        stdin: true
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
