package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/configroot/configroot/modules/secrets/values"
)

// Kind names a store backend, as External Secrets' ClusterSecretStore spec.provider does.
type Kind string

// The backends populate writes to.
const (
	Vault Kind = "vault"
	GCP   Kind = "gcpsm"
	AWS   Kind = "aws"
	Azure Kind = "azurekv"
)

// Raw is the property name of a remote secret whose payload is one plain value rather than a
// JSON object of properties (an ExternalSecret entry with no remoteRef.property).
const Raw = ""

// Store reads and writes whole remote secrets, each a set of properties.
//
// A Store is used by one run of populate: it may remember what it read (Vault's version, for
// check-and-set) to refuse a Write that would lose a change made in between.
type Store interface {
	// Read returns the properties held at key; exists is false, with no error, when there is
	// no secret (or no current version of it) at key.
	Read(ctx context.Context, key string) (props values.Values, exists bool, err error)
	// Write replaces the properties at key with props, creating the secret when needed.
	Write(ctx context.Context, key string, props values.Values) error
	// Path is where key lives in the store, for reports and errors (never a value).
	Path(key string) string
}

// ErrChanged is returned by Write when the secret changed since it was read.
var ErrChanged = errors.New("changed since it was read")

// encodeDoc turns properties into the payload of a store that holds one string per secret
// (GCP, AWS, Azure): a JSON object of properties, or the Raw property on its own. Properties
// read as something other than a string (numbers, objects, null, …) are written back as they
// were.
func encodeDoc(props values.Values) (string, error) {
	if err := checkText(props); err != nil {
		return "", err
	}
	if v, ok := props.Get(Raw); ok {
		if props.Len() > 1 {
			return "", fmt.Errorf("a plain value (no property) and named properties cannot share one secret")
		}
		return v.Reveal(), nil
	}
	b, err := json.Marshal(props.JSON())
	if err != nil {
		return "", fmt.Errorf("encode properties: %w", err)
	}
	return string(b), nil
}

// checkText refuses values that are not UTF-8 text: every store here takes them as JSON
// strings, where encoding/json (and the stores' APIs) replace invalid bytes with U+FFFD, so
// a binary value would be stored corrupted. Binary values are stored base64 (populate does
// that for entries with remoteRef.decodingStrategy: Base64).
func checkText(props values.Values) error {
	for _, n := range props.Names() {
		v, _ := props.Get(n)
		if _, isJSON := v.RawJSON(); !isJSON && !utf8.ValidString(v.Reveal()) {
			name := "the value"
			if n != Raw {
				name = "property " + n
			}
			return fmt.Errorf("%s is binary (not UTF-8 text) and would be stored corrupted: store it base64", name)
		}
	}
	return nil
}

// decodeDoc reads a payload: a JSON object's fields become properties, strings as they are
// and any other JSON value (null included) as values.NewJSON, so that encodeDoc writes it
// back unchanged; a payload that is not a JSON object is the Raw property.
func decodeDoc(payload string) values.Values {
	var props values.Values
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &m); err == nil && m != nil {
		for k, raw := range m {
			props.Set(k, decodeField(raw))
		}
		return props
	}
	props.Set(Raw, values.New(payload))
	return props
}

// decodeField is one property of a JSON object: a string, or any other JSON value kept as
// its encoding.
func decodeField(raw json.RawMessage) values.Value {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return values.NewJSON(json.RawMessage("null"))
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return values.New(s)
	}
	return values.NewJSON(raw)
}
