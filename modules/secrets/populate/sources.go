package populate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/configroot/configroot/modules/secrets/values"
	"sigs.k8s.io/yaml"
)

// SourcesFile is where a cluster repo declares the sources of its secret values, relative
// to the repo.
const SourcesFile = ".configroot/secret-sources.yaml"

// Sources declares where populate finds the value of each ExternalSecret entry missing from
// its store. It is read from SourcesFile:
//
//	# the source of every key no entry below names (optional; without it such keys are
//	# reported and left missing)
//	default:
//	  rendered: true
//	secrets:
//	  - name: db                  # the Secret's name
//	    namespace: team-a         # optional: the Secret of that name in any namespace
//	    keys:
//	      password:               # a random password
//	        password: {length: 24, classes: [lower, upper, digits, symbols]}
//	      username:               # a vals reference
//	        ref: ref+envsubst://$DB_USER
//	      webhook-secret:         # a random HMAC key: 32 bytes, hex encoded
//	        hmac: {bytes: 32}
//	      ca.crt:                 # the value the chart rendered
//	        rendered: true
//	      "*":                    # any other key of this Secret
//	        ref: ref+sops://secrets/db.enc.yaml#/other
//
// The file holds no secret values: references, generators and pointers to the render only.
type Sources struct {
	// Default is the source of keys that no entry names; empty means none.
	Default *Source `json:"default,omitempty"`
	// Secrets declare sources per Secret and key.
	Secrets []SecretSources `json:"secrets,omitempty"`
}

// SecretSources are the sources of one Secret's keys.
type SecretSources struct {
	// Name is the Secret's name.
	Name string `json:"name"`
	// Namespace is the Secret's namespace; empty matches any.
	Namespace string `json:"namespace,omitempty"`
	// Keys map a data key, or "*" for any other key, to its source.
	Keys map[string]Source `json:"keys"`
}

// Source is where one value comes from: exactly one of its fields is set.
type Source struct {
	// Ref is a vals reference (ref+vault://…, ref+awssecrets://…, ref+gcpsecrets://…,
	// ref+azurekeyvault://…, ref+sops://…, ref+file://…, ref+envsubst://$VAR, …).
	Ref string `json:"ref,omitempty"`
	// Password generates a random password.
	Password *values.Password `json:"password,omitempty"`
	// HMAC generates a random HMAC key.
	HMAC *values.HMAC `json:"hmac,omitempty"`
	// Rendered takes the value the chart rendered into the Secret.
	Rendered bool `json:"rendered,omitempty"`
}

// Describe names the source without its value, for reports: "ref+vault://…",
// "password", "hmac", "rendered".
func (s Source) Describe() string {
	switch {
	case s.Ref != "":
		return s.Ref
	case s.Password != nil:
		return "password"
	case s.HMAC != nil:
		return "hmac"
	case s.Rendered:
		return "rendered"
	}
	return "none"
}

// Validate checks that exactly one source is set and that it is well formed.
func (s Source) Validate() error {
	n := 0
	for _, set := range []bool{s.Ref != "", s.Password != nil, s.HMAC != nil, s.Rendered} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("set exactly one of ref, password, hmac and rendered (%d set)", n)
	}
	switch {
	case s.Ref != "":
		if err := values.CheckRef(s.Ref); err != nil {
			return fmt.Errorf("ref %s: %w", s.Ref, err)
		}
	case s.Password != nil:
		return s.Password.Validate()
	case s.HMAC != nil:
		return s.HMAC.Validate()
	}
	return nil
}

// LoadSources reads a sources file. A missing file declares no sources.
func LoadSources(path string) (Sources, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Sources{}, nil
	}
	if err != nil {
		return Sources{}, fmt.Errorf("secret sources: %w", err)
	}
	return ParseSources(path, b)
}

// ParseSources parses and validates the sources file content b; name is used in errors.
func ParseSources(name string, b []byte) (Sources, error) {
	var s Sources
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return Sources{}, fmt.Errorf("%s: %w", name, err)
	}
	if s.Default != nil {
		if err := s.Default.Validate(); err != nil {
			return Sources{}, fmt.Errorf("%s: default: %w", name, err)
		}
	}
	seen := map[string]bool{}
	for i, sec := range s.Secrets {
		if sec.Name == "" {
			return Sources{}, fmt.Errorf("%s: secrets[%d]: no name", name, i)
		}
		id := sec.Namespace + "/" + sec.Name
		if seen[id] {
			return Sources{}, fmt.Errorf("%s: secrets[%d]: Secret %s is declared twice", name, i, id)
		}
		seen[id] = true
		for _, k := range sortedKeys(sec.Keys) {
			if err := sec.Keys[k].Validate(); err != nil {
				return Sources{}, fmt.Errorf("%s: Secret %s key %s: %w", name, strings.TrimPrefix(id, "/"), k, err)
			}
		}
	}
	return s, nil
}

// For returns the source of an entry: the key's own, else the Secret's "*", else the
// default. A declaration with a namespace wins over one without.
func (s Sources) For(e Entry) (Source, bool) {
	var match *SecretSources
	for i := range s.Secrets {
		d := &s.Secrets[i]
		if d.Name != e.Secret || (d.Namespace != "" && d.Namespace != e.Namespace) {
			continue
		}
		if match == nil || d.Namespace != "" {
			match = d
		}
	}
	if match != nil {
		if src, ok := match.Keys[e.Key]; ok {
			return src, true
		}
		if src, ok := match.Keys["*"]; ok {
			return src, true
		}
	}
	if s.Default != nil {
		return *s.Default, true
	}
	return Source{}, false
}

// unused returns a warning for each declaration that names a Secret, or a key of one, that no
// ExternalSecret in config-root has.
func (s Sources) unused(entries []Entry) []string {
	var warnings []string
	for _, d := range s.Secrets {
		keys := map[string]bool{}
		found := false
		for _, e := range entries {
			if e.Secret == d.Name && (d.Namespace == "" || d.Namespace == e.Namespace) {
				found = true
				keys[e.Key] = true
			}
		}
		id := d.Name
		if d.Namespace != "" {
			id = d.Namespace + "/" + d.Name
		}
		if !found {
			warnings = append(warnings, fmt.Sprintf("secret sources name Secret %s, which no ExternalSecret in config-root makes", id))
			continue
		}
		for _, k := range sortedKeys(d.Keys) {
			if k != "*" && !keys[k] {
				warnings = append(warnings, fmt.Sprintf("secret sources name key %s of Secret %s, which its ExternalSecret does not have", k, id))
			}
		}
	}
	slices.Sort(warnings)
	return warnings
}
