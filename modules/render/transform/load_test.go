package transform

import (
	"reflect"
	"strings"
	"testing"
)

func TestLoadValid(t *testing.T) {
	data := `# configroot.yaml
helmfile: helmfile.yaml
transforms:
  jenkinsX: true
  rules:
    - match:
        trees: [namespaces]
        kinds: [apps/Deployment, batch/v1/CronJob, v1/ConfigMap, core/Service, cert-manager.io/*]
        namespaces: ["team-*"]
        releases: [webapp]
        names: ["web?"]
        selector: app!=pusher-wave,tier in (web, api)
      labels:
        example.com/team: payments
        empty: ""
      annotations:
        example.com/roll: true
        example.com/n: 0755
      podTemplate: true
    - match: {kinds: Deployment}
      configHash: example.com/config-hash
`
	c, err := Load("configroot.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		JenkinsX: true,
		File:     "configroot.yaml",
		Rules: []Rule{{
			Match: Match{
				Trees:      []string{"namespaces"},
				Kinds:      []string{"apps/Deployment", "batch/v1/CronJob", "v1/ConfigMap", "core/Service", "cert-manager.io/*"},
				Namespaces: []string{"team-*"}, Releases: []string{"webapp"}, Names: []string{"web?"},
				Selector: "app!=pusher-wave,tier in (web, api)",
			},
			Labels:      map[string]string{"example.com/team": "payments", "empty": ""},
			Annotations: map[string]string{"example.com/roll": "true", "example.com/n": "0755"},
			PodTemplate: true,
			Line:        6,
		}, {
			Match:      Match{Kinds: []string{"Deployment"}},
			ConfigHash: "example.com/config-hash",
			Line:       20,
		}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadAbsent(t *testing.T) {
	for name, data := range map[string]string{
		"empty file":     "",
		"comments only":  "# nothing\n",
		"no section":     "helmfile: helmfile.yaml\n",
		"null section":   "transforms:\n",
		"not a mapping":  "- a\n- b\n",
		"scalar file":    "hello\n",
		"section absent": "kustomize: []\nclusterScopedKinds: [example.com/Tenant]\n",
		"empty section":  "transforms: {}\n",
		"null rules":     "transforms:\n  rules:\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load("configroot.yaml", []byte(data))
			if err != nil {
				t.Fatal(err)
			}
			if c.JenkinsX || len(c.Rules) > 0 {
				t.Errorf("got %+v, want no transforms", c)
			}
		})
	}
}

// TestLoadErrors checks that every kind of bad setting is an error naming the file, the
// line and the field, and says what is wrong.
func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string // substrings of the error, in order of lines
	}{
		{"unknown field", `transforms:
  rules:
    - lables: {a: b}
`, []string{`configroot.yaml:3: transforms.rules[0].lables: unknown field (did you mean labels?)`}},
		{"unknown top field", `transforms:
  jenkinsx: true
`, []string{`configroot.yaml:2: transforms.jenkinsx: unknown field (did you mean jenkinsX?)`}},
		{"kind syntax", `transforms:
  rules:
    - match:
        kinds:
          - Deployment
          - apps.Deployment
      labels: {a: b}
`, []string{`configroot.yaml:6: transforms.rules[0].match.kinds[1]: "apps.Deployment" is not a kind`}},
		{"lower-case kind", `transforms:
  rules:
    - match: {kinds: [deployment]}
      labels: {a: b}
`, []string{`configroot.yaml:3: transforms.rules[0].match.kinds[0]: "deployment" is not a kind (kinds start with a capital letter: Deployment)`}},
		{"short name", `transforms:
  rules:
    - match: {kinds: [deploy, svc]}
      labels: {a: b}
`, []string{`configroot.yaml:3: transforms.rules[0].match.kinds[0]: "deploy" is not a kind (deploy is short for Deployment: write Deployment or apps/Deployment)`,
			`transforms.rules[0].match.kinds[1]: "svc" is not a kind (svc is short for Service: write Service or core/Service)`}},
		{"bad group", `transforms:
  rules:
    - match: {kinds: [Apps_X/Deployment]}
      labels: {a: b}
`, []string{`transforms.rules[0].match.kinds[0]: "Apps_X/Deployment" is not a kind ("Apps_X" is not an API group)`}},
		{"bad version", `transforms:
  rules:
    - match: {kinds: [apps/one/Deployment]}
      labels: {a: b}
`, []string{`"one" is not an API version`}},
		{"label key", `transforms:
  rules:
    - labels:
        good: x
        "bad key": x
`, []string{`configroot.yaml:5: transforms.rules[0].labels.bad key: "bad key" is not a valid label key`}},
		{"label value", `transforms:
  rules:
    - labels:
        team: "two words"
`, []string{`configroot.yaml:4: transforms.rules[0].labels.team: "two words" is not a valid label value`}},
		{"label value too long", `transforms:
  rules:
    - labels:
        team: ` + strings.Repeat("a", 64) + `
`, []string{`configroot.yaml:4: transforms.rules[0].labels.team:`, `must be no more than 63 bytes`}},
		{"reserved annotation", `transforms:
  rules:
    - annotations:
        meta.helm.sh/release-name: other
`, []string{`configroot.yaml:4: transforms.rules[0].annotations.meta.helm.sh/release-name: "meta.helm.sh/release-name" is configroot's or helm's own key`}},
		{"selector", `transforms:
  rules:
    - match:
        selector: "app in (web"
      labels: {a: b}
`, []string{`configroot.yaml:4: transforms.rules[0].match.selector: "app in (web" is not a label selector`}},
		{"glob", `transforms:
  rules:
    - match:
        names: ["web-[a"]
      labels: {a: b}
`, []string{`configroot.yaml:4: transforms.rules[0].match.names[0]: "web-[a" is not a glob pattern`}},
		{"tree", `transforms:
  rules:
    - match:
        trees: [crds]
      labels: {a: b}
`, []string{`configroot.yaml:4: transforms.rules[0].match.trees: "crds" is not a folder of config-root: want one of cluster, cluster/namespaces, cluster/resources, customresourcedefinitions, namespaces`}},
		{"null value", `transforms:
  rules:
    - annotations:
        example.com/x:
`, []string{`configroot.yaml:4: transforms.rules[0].annotations.example.com/x: want a string value, not nothing (null) (write "" for an empty value)`}},
		{"rule adds nothing", `transforms:
  rules:
    - match: {kinds: [Deployment]}
      podTemplate: true
`, []string{`configroot.yaml:3: transforms.rules[0]: the rule adds nothing: set labels, annotations or configHash`}},
		{"bool", `transforms:
  rules:
    - podTemplate: "yes"
      labels: {a: b}
`, []string{`configroot.yaml:3: transforms.rules[0].podTemplate: want true or false, not "yes"`}},
		{"duplicate key", `transforms:
  rules:
    - labels:
        a: b
        a: c
`, []string{`configroot.yaml:5: transforms.rules[0].labels.a: set twice`}},
		{"rules not a list", `transforms:
  rules:
    labels: {a: b}
`, []string{`configroot.yaml:3: transforms.rules: want a list of rules, not a mapping`}},
		{"config hash key", `transforms:
  rules:
    - configHash: "not a key!"
`, []string{`configroot.yaml:3: transforms.rules[0].configHash: "not a key!" is not a valid annotation key`}},
		{"several errors", `transforms:
  rules:
    - match: {kinds: [deploy]}
      labels: {a: b}
    - labels: {"x y": z}
`, []string{`configroot.yaml:3: transforms.rules[0].match.kinds[0]`, `configroot.yaml:5: transforms.rules[1].labels.x y`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load("configroot.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			at := 0
			for _, w := range c.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not contain (in order)\n%s", msg, w)
				}
				at += i + len(w)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for _, c := range []struct {
		pattern, apiVersion, kind string
		want                      bool
	}{
		{"Deployment", "apps/v1", "Deployment", true},
		{"Deployment", "extensions/v1beta1", "Deployment", true},
		{"Deployment", "apps/v1", "StatefulSet", false},
		{"apps/Deployment", "apps/v1", "Deployment", true},
		{"apps/Deployment", "example.com/v1", "Deployment", false},
		{"apps/v1/Deployment", "apps/v1", "Deployment", true},
		{"apps/v1/Deployment", "apps/v1beta2", "Deployment", false},
		{"v1/Service", "v1", "Service", true},
		{"v1/Service", "serving.knative.dev/v1", "Service", false},
		{"core/Service", "v1", "Service", true},
		{"core/Service", "serving.knative.dev/v1", "Service", false},
		{"serving.knative.dev/Service", "serving.knative.dev/v1", "Service", true},
		{"cert-manager.io/*", "cert-manager.io/v1", "Certificate", true},
		{"cert-manager.io/*", "acme.cert-manager.io/v1", "Order", false},
	} {
		p, err := parseKind(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := p.matches(c.apiVersion, c.kind); got != c.want {
			t.Errorf("%s matches %s %s = %v, want %v", c.pattern, c.apiVersion, c.kind, got, c.want)
		}
	}
	for _, bad := range []string{"", "*", "deploy", "apps/", "/Deployment", "a/b/c/Deployment", "apps/v1/", "Deploy-ment"} {
		if _, err := parseKind(bad); err == nil {
			t.Errorf("parseKind(%q): no error", bad)
		}
	}
}

// TestJenkinsXRulesValid keeps the shorthand's rules valid as the validation evolves.
func TestJenkinsXRulesValid(t *testing.T) {
	for i, r := range JenkinsXRules() {
		if errs := r.validate(""); len(errs) > 0 {
			t.Errorf("rule %d: %v", i, errs)
		}
	}
}
