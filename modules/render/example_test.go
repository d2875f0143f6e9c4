package render_test

import (
	"fmt"
	"testing/fstest"

	"github.com/configroot/configroot/modules/render"
)

// ExampleLayout lays out a tree rendered by helmfile: release "tenants" of chart
// "tenant-operator" in namespace "ops".
func ExampleLayout() {
	rendered := fstest.MapFS{
		"ops/tenants/tenant-operator/templates/all.yaml": {Data: []byte(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: operator
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: "tenants:reader"
`)},
	}
	nodes, releases, err := render.ReadRendered(rendered)
	if err != nil {
		panic(err)
	}
	files, err := render.LayoutFiles(nodes, render.Layout{})
	if err != nil {
		panic(err)
	}
	fmt.Println(releases[0].Folder())
	for _, p := range files.Paths() {
		fmt.Println(p)
	}
	fmt.Print(string(files["namespaces/ops/tenant-operator-tenants/operator-deploy.yaml"]))
	// Output:
	// tenant-operator-tenants
	// cluster/namespaces/ops.yaml
	// cluster/resources/ops/tenant-operator-tenants/tenants-reader-clusterrole.yaml
	// namespaces/ops/tenant-operator-tenants/operator-deploy.yaml
	// apiVersion: apps/v1
	// kind: Deployment
	// metadata:
	//   name: operator
	//   namespace: ops
	//   annotations:
	//     meta.helm.sh/release-name: tenants
	//     meta.helm.sh/release-namespace: ops
}
