package values

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Redacted is what a secret value prints as.
const Redacted = "[redacted]"

// Value is one secret value. It prints as Redacted through fmt (%v, %s, %q, %#v, %x, …),
// slog and encoding/json; Reveal is the one way to read it, for the code that writes it to
// a store.
type Value struct {
	s string
	// json is set when s is the JSON encoding of a property that is not a string (a
	// number, bool, object, array or null), to be written back as it was read.
	json bool
}

// New wraps s as a Value.
func New(s string) Value { return Value{s: s} }

// NewJSON wraps raw, the JSON encoding of a property that is not a string (a number, bool,
// object, array or null), as a store read it: RawJSON returns it unchanged, so a write keeps
// the property's type.
func NewJSON(raw json.RawMessage) Value { return Value{s: string(raw), json: true} }

// RawJSON returns the JSON of a value made by NewJSON, and false for any other value.
func (v Value) RawJSON() (json.RawMessage, bool) {
	if !v.json {
		return nil, false
	}
	return json.RawMessage(v.s), true
}

// IsNull reports whether v is a JSON null read from a store: a property that holds no value.
func (v Value) IsNull() bool { return v.json && strings.TrimSpace(v.s) == "null" }

// Reveal returns the secret itself. Call it only to hand the value to a store.
func (v Value) Reveal() string { return v.s }

// Len is the length of the value in bytes, which tests may print.
func (v Value) Len() int { return len(v.s) }

// String returns Redacted.
func (v Value) String() string { return Redacted }

// GoString returns Redacted, for %#v.
func (v Value) GoString() string { return Redacted }

// Format prints Redacted for every verb.
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON encodes Redacted.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText encodes Redacted (YAML and slog use it).
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Values holds named secret values: the properties of one remote secret, or the keys of one
// Kubernetes Secret. The zero value is empty and ready to use. It prints its names, never
// its values.
type Values struct{ m map[string]Value }

// Set stores v under name.
func (vs *Values) Set(name string, v Value) {
	if vs.m == nil {
		vs.m = map[string]Value{}
	}
	vs.m[name] = v
}

// Get returns the value stored under name and whether there is one.
func (vs Values) Get(name string) (Value, bool) {
	v, ok := vs.m[name]
	return v, ok
}

// Has reports whether name holds a value.
func (vs Values) Has(name string) bool { _, ok := vs.m[name]; return ok }

// Names returns the names, sorted.
func (vs Values) Names() []string {
	names := make([]string, 0, len(vs.m))
	for n := range vs.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Len is the number of values.
func (vs Values) Len() int { return len(vs.m) }

// Clone returns a copy that can be changed without changing vs.
func (vs Values) Clone() Values {
	var c Values
	for n, v := range vs.m {
		c.Set(n, v)
	}
	return c
}

// JSON returns the values as a map ready for encoding/json, for the code that hands them to
// a store: strings, and json.RawMessage for the values made by NewJSON, so properties that
// are not strings keep their type.
func (vs Values) JSON() map[string]any {
	m := make(map[string]any, len(vs.m))
	for n, v := range vs.m {
		if raw, ok := v.RawJSON(); ok {
			m[n] = raw
		} else {
			m[n] = v.s
		}
	}
	return m
}

// Reveal returns the values as a plain map, for the code that hands them to a store.
func (vs Values) Reveal() map[string]string {
	m := make(map[string]string, len(vs.m))
	for n, v := range vs.m {
		m[n] = v.s
	}
	return m
}

// String lists the names with redacted values.
func (vs Values) String() string {
	var b strings.Builder
	b.WriteString("{")
	for i, n := range vs.Names() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", n, Redacted)
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, for %#v.
func (vs Values) GoString() string { return vs.String() }

// Format prints String for every verb.
func (vs Values) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(vs.String())) }

// MarshalJSON encodes the names, each with a redacted value.
func (vs Values) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteString("{")
	for i, n := range vs.Names() {
		if i > 0 {
			b.WriteString(",")
		}
		name, err := json.Marshal(n)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteString(`:"` + Redacted + `"`)
	}
	b.WriteString("}")
	return []byte(b.String()), nil
}
