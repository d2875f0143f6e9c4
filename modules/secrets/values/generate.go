package values

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Character classes a Password may draw from.
const (
	Lower   = "lower"   // a-z
	Upper   = "upper"   // A-Z
	Digits  = "digits"  // 0-9
	Symbols = "symbols" // punctuation that survives shells, URLs' userinfo aside: !#%+,-.:=@^_~
)

var classChars = map[string]string{
	Lower:   "abcdefghijklmnopqrstuvwxyz",
	Upper:   "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	Digits:  "0123456789",
	Symbols: "!#%+,-.:=@^_~",
}

// DefaultPasswordLength is the length of a Password that sets none.
const DefaultPasswordLength = 32

// DefaultHMACBytes is the number of random bytes of an HMAC key that sets none.
const DefaultHMACBytes = 32

// Generator makes a new random value.
type Generator interface {
	// Generate returns a new value, from crypto/rand.
	Generate() (Value, error)
}

// Password generates a random password of Length characters (default 32) drawn from Chars
// when set, else from the union of Classes (default lower, upper and digits). When Length
// allows, it holds at least one character of each class.
type Password struct {
	Length  int      `json:"length,omitempty" yaml:"length,omitempty"`
	Classes []string `json:"classes,omitempty" yaml:"classes,omitempty"`
	Chars   string   `json:"chars,omitempty" yaml:"chars,omitempty"`
}

// Validate checks the length and the character set.
func (p Password) Validate() error {
	_, _, err := p.alphabet()
	if err != nil {
		return err
	}
	if p.Length < 0 || p.Length > 4096 {
		return fmt.Errorf("password length %d is out of range 1..4096", p.Length)
	}
	return nil
}

// alphabet returns every allowed character and the sets that must each appear once.
func (p Password) alphabet() (all string, each []string, err error) {
	if p.Chars != "" {
		if len(p.Chars) < 2 {
			return "", nil, fmt.Errorf("password chars %q: need at least two characters", p.Chars)
		}
		for _, r := range p.Chars {
			if r > 126 || r < 33 {
				return "", nil, fmt.Errorf("password chars: only printable ASCII without space is allowed")
			}
		}
		return p.Chars, nil, nil
	}
	classes := p.Classes
	if len(classes) == 0 {
		classes = []string{Lower, Upper, Digits}
	}
	var b strings.Builder
	for _, c := range classes {
		chars, ok := classChars[c]
		if !ok {
			return "", nil, fmt.Errorf("unknown password character class %q (want %s, %s, %s or %s)", c, Lower, Upper, Digits, Symbols)
		}
		if slices.Contains(each, chars) {
			continue
		}
		b.WriteString(chars)
		each = append(each, chars)
	}
	return b.String(), each, nil
}

// Generate returns a new password.
func (p Password) Generate() (Value, error) {
	all, each, err := p.alphabet()
	if err != nil {
		return Value{}, err
	}
	n := p.Length
	if n == 0 {
		n = DefaultPasswordLength
	}
	if n < 0 || n > 4096 {
		return Value{}, fmt.Errorf("password length %d is out of range 1..4096", n)
	}
	buf := make([]byte, n)
	// Draw until every class is present: with a length of at least twice the number of
	// classes this takes a few tries at most; shorter passwords skip the rule.
	for range 1000 {
		for i := range buf {
			k, err := rand.Int(rand.Reader, big.NewInt(int64(len(all))))
			if err != nil {
				return Value{}, fmt.Errorf("password: %w", err)
			}
			buf[i] = all[k.Int64()]
		}
		if n < len(each) || hasEach(buf, each) {
			return Value{s: string(buf)}, nil
		}
	}
	return Value{}, fmt.Errorf("password: could not draw one character of each class in %d characters", n)
}

func hasEach(buf []byte, each []string) bool {
	for _, set := range each {
		if !strings.ContainsAny(string(buf), set) {
			return false
		}
	}
	return true
}

// HMAC generates a key for HMAC signatures (webhook secrets and the like): Bytes random bytes
// (default 32), hex encoded, so twice as many characters.
type HMAC struct {
	Bytes int `json:"bytes,omitempty" yaml:"bytes,omitempty"`
}

// Validate checks the size.
func (h HMAC) Validate() error {
	if h.Bytes < 0 || h.Bytes > 1024 {
		return fmt.Errorf("hmac bytes %d is out of range 1..1024", h.Bytes)
	}
	return nil
}

// Generate returns a new key.
func (h HMAC) Generate() (Value, error) {
	if err := h.Validate(); err != nil {
		return Value{}, err
	}
	n := h.Bytes
	if n == 0 {
		n = DefaultHMACBytes
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return Value{}, fmt.Errorf("hmac: %w", err)
	}
	return Value{s: hex.EncodeToString(b)}, nil
}

var (
	_ Generator = Password{}
	_ Generator = HMAC{}
)
