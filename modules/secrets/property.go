package secrets

import (
	"strings"

	"github.com/tidwall/gjson"
)

// A remote secret of GCP Secret Manager, AWS Secrets Manager, Azure Key Vault or Alibaba KMS
// holds its properties as one JSON object, and External Secrets' providers find
// remoteRef.property in it with gjson (github.com/tidwall/gjson, v1.18.0 in ESO v0.16.2),
// where '.' separates path components, '*' and '?' are wildcards, '#' and '|' query arrays
// and pipe results, and a leading '@' or '!' calls a modifier or reads a literal. Each
// provider wraps gjson in its own way (ESO v0.16.2 pkg/provider/..., unchanged in the later
// providers/v1/... layout):
//
//   - vault (vault/client_get.go, getSecretValue): the field named exactly by the property
//     wins; only when there is none is the property a gjson path.
//   - kubernetes, configroot's local backend (kubernetes/client.go, getFromSecretData): the
//     Secret's data key named exactly by the property wins.
//   - aws (secretsmanager/secretsmanager.go, escapeDotsIfRequired): a property holding '.'
//     is first tried with every '.' escaped, then as it is.
//   - gcpsm (secretmanager/client.go, getDataByProperty): the same, but only when the first
//     '.' is not the property's first character.
//   - azurekv (keyvault/keyvault.go, getProperty): the property as it is first, then, if it
//     holds '.', with every '.' escaped.
//   - alibaba (alibaba/kms.go, GetSecret): the property as a gjson path, nothing else.
//
// Property and PropertyField turn a field name into the property each provider reads it by,
// and back. kubernetes-external-secrets (the legacy format) reads parsedValue[property]
// (lib/backends/kv-backend.js, _fetchDataValues): its property is the field itself.

// Property returns the remoteRef.property by which the ESO provider of backend b reads the
// field name of a remote secret, whatever the other fields are called: name itself where the
// provider's lookup already finds it (always for vault and local; for aws and azurekv unless
// it holds a gjson character other than '.'; for gcpSecretsManager also unless it starts
// with '.'), else name with gjson's special characters escaped (gjson.Escape; every '.' too
// for alibaba, and for gcpSecretsManager when name starts with '.'). An empty name (no
// property: the whole remote secret) stays empty.
func Property(b Backend, name string) string {
	switch b {
	case Vault, Local:
		return name
	case AWS, Azure:
		return escapeExceptDots(name)
	case GCP:
		if strings.HasPrefix(name, ".") {
			return gjson.Escape(name)
		}
		return escapeExceptDots(name)
	default: // Alibaba, and any backend not known to read exact names
		return gjson.Escape(name)
	}
}

// PropertyField returns the field of a remote secret that the ESO provider of backend b reads
// for remoteRef.property: where populate must write the value. exact is true when the
// provider reads that field whenever it exists, whatever the other string fields are; it is
// false for a property the provider reads as a gjson query (an unescaped '*', '?', '#', '|',
// '@', …), whose result may be another field or none: then field is the property with its
// escapes removed, populate's best guess. Property's results are always exact.
func PropertyField(b Backend, property string) (field string, exact bool) {
	if property == "" || b == Vault || b == Local {
		return property, true
	}
	// The paths the provider tries, in order (see the comment above Property).
	var paths []string
	escaped := strings.ReplaceAll(property, ".", `\.`)
	hasDot := strings.Contains(property, ".")
	switch b {
	case AWS:
		if hasDot {
			paths = append(paths, escaped)
		}
		paths = append(paths, property)
	case GCP:
		if strings.Index(property, ".") > 0 {
			paths = append(paths, escaped)
		}
		paths = append(paths, property)
	case Azure:
		paths = append(paths, property)
		if hasDot {
			paths = append(paths, escaped)
		}
	default:
		paths = append(paths, property)
	}
	for _, p := range paths {
		if f, ok := literalPath(p); ok {
			return f, true
		}
		// A path whose only unescaped special characters are '.' looks up a nested
		// object: it cannot match a string field, so the next path decides. Anything else
		// (a wildcard, a query) may match some other field first.
		if !onlyDots(p) {
			break
		}
	}
	return unescape(property), false
}

// gjsonSpecial reports whether gjson treats c specially in a path: exactly the characters
// gjson.Escape escapes.
func gjsonSpecial(c byte) bool {
	return gjson.Escape(string([]byte{c})) != string([]byte{c})
}

// escapeExceptDots escapes gjson's special characters but '.', which the provider escapes
// itself.
func escapeExceptDots(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '.' && gjsonSpecial(c) {
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// literalPath returns the one field a gjson path names when every special character in it is
// escaped, and false otherwise. A trailing lone backslash escapes nothing: not literal.
func literalPath(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 == len(p) {
				return "", false
			}
			i++
			b.WriteByte(p[i])
		case gjsonSpecial(c):
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// onlyDots reports whether the only unescaped special characters of a gjson path are '.'.
func onlyDots(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case c != '.' && gjsonSpecial(c):
			return false
		}
	}
	return true
}

// unescape removes gjson's escapes: `\x` is x.
func unescape(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
