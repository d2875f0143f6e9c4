package secrets_test

import (
	"fmt"
	"testing"

	"github.com/configroot/configroot/modules/secrets"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// BenchmarkConverter converts n Secrets of three keys each (and passes n other resources
// through), then runs the guard.
func BenchmarkConverter(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				nodes := make([]*yaml.RNode, 0, 2*n)
				for i := 0; i < n; i++ {
					nodes = append(nodes,
						yaml.MustParse(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-%d\n  namespace: apps\n  labels: {app: a}\ntype: Opaque\nstringData:\n  username: u\n  password: p\ndata:\n  token: dG9rZW4=\n", i)),
						yaml.MustParse(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-%d\n  namespace: apps\n", i)))
				}
				b.StartTimer()
				out, err := secrets.Converter{}.Filter(nodes)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := (secrets.Guard{}).Filter(out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
