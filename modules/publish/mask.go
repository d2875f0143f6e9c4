package publish

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
)

// masked is what a secret is replaced with in errors and printed values.
const masked = "*****"

// Secret is a credential. It prints as "*****" with the fmt verbs, in JSON, as text and in
// slog, so that an Options or Credentials value logged by mistake does not leak it.
type Secret string

var (
	_ json.Marshaler = Secret("")
	_ slog.LogValuer = Secret("")
)

// MarshalJSON returns the mask as a JSON string, never the secret.
func (Secret) MarshalJSON() ([]byte, error) { return json.Marshal(masked) }

// MarshalText returns the mask, never the secret.
func (Secret) MarshalText() ([]byte, error) { return []byte(masked), nil }

// LogValue returns the mask, never the secret.
func (Secret) LogValue() slog.Value { return slog.StringValue(masked) }

// String returns the mask, never the secret.
func (Secret) String() string { return masked }

// GoString returns the mask, never the secret.
func (Secret) GoString() string { return `"` + masked + `"` }

// Credentials are the HTTPS basic-auth credentials of the remote.
type Credentials struct {
	// Username is the basic-auth user (default DefaultUsername).
	Username string
	// Token is the password or access token.
	Token Secret
}

// DefaultUsername is the basic-auth user sent with a token: GitHub, Gitea and GitLab accept
// any non-empty user with a token; GitHub documents this one for installation tokens.
const DefaultUsername = "x-access-token"

// maskedError is an error whose text has the secrets masked. Unwrap still returns the
// original, so that errors.Is keeps working; only Error's text is shown to users.
type maskedError struct {
	text string
	err  error
}

func (e *maskedError) Error() string { return e.text }
func (e *maskedError) Unwrap() error { return e.err }

// MaskError returns err with every secret and any URL user info masked in its text; nil
// stays nil, and an error with nothing to mask is returned as it is. errors.Is and
// errors.As still see the original error (whose own text is not masked).
func MaskError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	m := maskString(text, secrets...)
	if m == text {
		return err
	}
	return &maskedError{text: m, err: err}
}

// maskString replaces every non-empty secret in s, and the user info of any URL, with the
// mask (as Flux's masktoken does for tokens).
func maskString(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, masked)
		}
	}
	return maskURLUserInfo(s)
}

// maskURLUserInfo masks "user:password@" in every scheme://user:password@host of s.
func maskURLUserInfo(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		end := strings.IndexAny(s, " \t\n\"'/")
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndexByte(s[:end], '@'); at >= 0 {
			b.WriteString(masked)
			s = s[at:]
		}
	}
}

// Redact returns a repository URL without its user info, for messages and commit
// trailers; anything that is not a URL with user info is returned as it is.
func Redact(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || u.User == nil || u.Host == "" {
		return remote
	}
	u.User = nil
	return u.String()
}
