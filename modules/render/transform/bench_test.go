package transform_test

import (
	"fmt"
	"testing"

	"github.com/configroot/configroot/modules/render/transform"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// laidOut returns n laid-out resources: per release, a ConfigMap and a Deployment whose
// pods read it, spread over 20 namespaces.
func laidOut(b *testing.B, n int) []*yaml.RNode {
	b.Helper()
	nodes := make([]*yaml.RNode, 0, n)
	for i := 0; len(nodes) < n; i++ {
		ns, rel := fmt.Sprintf("ns-%02d", i%20), fmt.Sprintf("rel-%d", i)
		cm := yaml.MustParse(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-config\n  namespace: %s\ndata:\n  KEY: value-%d\n", rel, ns, i))
		deploy := yaml.MustParse(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels: {app: %[1]s}
spec:
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: example.com/app:1
        envFrom:
        - configMapRef: {name: %[1]s-config}
`, rel, ns))
		for _, x := range []struct {
			n    *yaml.RNode
			file string
		}{{cm, rel + "-config-cm.yaml"}, {deploy, rel + "-deploy.yaml"}} {
			if err := x.n.PipeE(yaml.SetAnnotation(kioutil.PathAnnotation, "namespaces/"+ns+"/"+rel+"/"+x.file)); err != nil {
				b.Fatal(err)
			}
			nodes = append(nodes, x.n)
		}
	}
	return nodes
}

// BenchmarkFilter applies `jenkinsX: true` and a config hash on every Deployment.
func BenchmarkFilter(b *testing.B) {
	f := transform.Filter{Config: transform.Config{JenkinsX: true, Rules: []transform.Rule{
		{Match: transform.Match{Kinds: []string{"apps/Deployment"}}, ConfigHash: "example.com/config-hash"},
	}}}
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			nodes := laidOut(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Filter(nodes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
