package render

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// syntheticRender builds a rendered tree of docs documents over releases releases, ten
// documents to a file, mixing namespaced and cluster-scoped kinds as real charts do.
func syntheticRender(releases, docs int) fstest.MapFS {
	fsys := fstest.MapFS{}
	perRelease := docs / releases
	for r := 0; r < releases; r++ {
		ns, rel := fmt.Sprintf("ns-%02d", r%7), fmt.Sprintf("release-%02d", r)
		var file strings.Builder
		for d := 0; d < perRelease; d++ {
			fmt.Fprintf(&file, "---\n# Source: chart-%02d/templates/t%d.yaml\n", r, d/10)
			switch d % 4 {
			case 0:
				fmt.Fprintf(&file, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%d\n  labels:\n    app.kubernetes.io/name: app-%d\n    app.kubernetes.io/instance: %s\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: app-%d\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: app-%d\n    spec:\n      containers:\n        - name: app\n          image: example.com/app:1.2.3\n          args: [\"--port=8080\", \"--verbose\"]\n          ports:\n            - containerPort: 8080\n          resources:\n            limits: {cpu: 500m, memory: 128Mi}\n", d, d, rel, d, d)
			case 1:
				fmt.Fprintf(&file, "apiVersion: v1\nkind: Service\nmetadata:\n  name: app-%d\nspec:\n  selector:\n    app.kubernetes.io/name: app-%d\n  ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n", d, d)
			case 2:
				fmt.Fprintf(&file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-%d\n  namespace: %s\ndata:\n  config.yaml: |\n    level: info\n    listen: :8080\n", d, ns)
			case 3:
				fmt.Fprintf(&file, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: %s:app-%d\nrules:\n  - apiGroups: [\"\"]\n    resources: [pods, services]\n    verbs: [get, list, watch]\n", rel, d)
			}
			if d%10 == 9 || d == perRelease-1 {
				fsys[fmt.Sprintf("%s/%s/chart-%02d/templates/t%d.yaml", ns, rel, r, d/10)] = &fstest.MapFile{Data: []byte(file.String())}
				file.Reset()
			}
		}
	}
	return fsys
}

// BenchmarkLayout measures the post-render step alone: read the rendered tree (parse),
// lay it out and encode every file, in memory.
func BenchmarkLayout(b *testing.B) {
	for _, docs := range []int{3000, 30000} {
		fsys := syntheticRender(30, docs)
		b.Run(fmt.Sprintf("docs=%d", docs), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				nodes, _, err := ReadRendered(fsys)
				if err != nil {
					b.Fatal(err)
				}
				files, err := LayoutFiles(nodes, Layout{})
				if err != nil {
					b.Fatal(err)
				}
				if len(files) < docs {
					b.Fatalf("%d files for %d documents", len(files), docs)
				}
			}
		})
	}
}
