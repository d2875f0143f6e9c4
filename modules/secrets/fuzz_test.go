package secrets_test

import (
	"bytes"
	"testing"
	"testing/fstest"

	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// FuzzNoSecretDataReachesConfigRoot feeds arbitrary rendered documents through the
// conversion, the guard and the layout: whatever they are, when the render succeeds no
// file of config-root is a Secret with a non-empty value unless it carries the opt-out
// annotation. Its seed corpus (testdata/fuzz) runs with every `go test`.
func FuzzNoSecretDataReachesConfigRoot(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: v}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {k: dg==}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a, annotations: {secret.jenkins-x.io/convert-exclude: \"true\"}}\ndata: {k: dg==}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ntype: kubernetes.io/tls\ndata: {tls.crt: \"\"}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {k: not-base64}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: [1, 2]\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: other}\nstringData: {k: \"{{ x }}\"}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: v}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {k: dg==}\nstringData: {k: \"\"}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {k: \"dg\\n==\"}\n",
		"apiVersion: v2\nkind: Secret\nmetadata: {name: a}\ndata: {k: dg==}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {keystore.jks: /u3+7QAAAAL/gH/DKGtleXN0b3Jl, .dockerconfigjson: e30=}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {\"a b\": dg==}\n",
	} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, doc []byte, pick uint8) {
		backend := secrets.Backends[int(pick)%len(secrets.Backends)]
		m := &secrets.Mapping{Defaults: secrets.Defaults{BackendType: backend, StoreSettings: secrets.StoreSettings{
			GcpSecretsManager: &secrets.GCPSettings{ProjectID: "p"}, SecretsManager: &secrets.AWSSettings{Region: "r"},
			AzureKeyVault: &secrets.AzureSettings{KeyVaultName: "k"}, AlicloudSecretsManager: &secrets.AlibabaSettings{Region: "r"},
		}}}
		nodes, _, err := render.ReadRendered(fstest.MapFS{"ns/rel/chart/templates/t.yaml": {Data: doc}})
		if err != nil {
			return
		}
		files, err := render.LayoutFiles(nodes, secrets.Converter{Mapping: m}, secrets.Guard{}, render.Layout{})
		if err != nil {
			return
		}
		for p, data := range files {
			out, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
			if err != nil {
				t.Fatalf("%s: unreadable output: %v", p, err)
			}
			for _, n := range out {
				if n.GetKind() != "Secret" || n.GetApiVersion() != "v1" || n.GetAnnotations()[secrets.AnnotationExclude] == "true" {
					continue
				}
				for _, field := range []string{"data", "stringData"} {
					values := n.Field(field)
					if values == nil || values.Value.YNode().Kind != yaml.MappingNode {
						continue
					}
					c := values.Value.YNode().Content
					for i := 1; i < len(c); i += 2 {
						if c[i].Value != "" {
							t.Fatalf("%s: Secret %s carries %s.%s", p, n.GetName(), field, c[i-1].Value)
						}
					}
				}
			}
		}
	})
}
