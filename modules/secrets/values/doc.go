// Package values holds secret values and where populate gets them: vals references resolved
// through one vals runtime per run, and random generators (passwords, HMAC keys). A Value
// or Values prints redacted everywhere (fmt, JSON, text); Reveal is the only way to the
// secret, for the store writers.
package values
