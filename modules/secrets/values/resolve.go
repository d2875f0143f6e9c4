package values

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/helmfile/vals"
)

// Evaluator expands vals references in a map of strings. *vals.Runtime satisfies it; use one
// per run, so each backend is dialled once and each document fetched once.
type Evaluator interface {
	Eval(map[string]any) (map[string]any, error)
}

var _ Evaluator = (*vals.Runtime)(nil)

// NewRuntime returns the vals runtime populate uses: a missing key in a map is an error
// (FailOnMissingKeyInMap: without it vals returns the string "<nil>"), and vals' own log
// output is discarded.
func NewRuntime() (*vals.Runtime, error) {
	rt, err := vals.New(vals.Options{FailOnMissingKeyInMap: true, LogOutput: io.Discard, AWSLogLevel: "off"})
	if err != nil {
		return nil, fmt.Errorf("vals: %w", err)
	}
	return rt, nil
}

// ErrBadRef is returned for a reference that is not exactly one vals reference.
var ErrBadRef = errors.New("not a single vals reference (ref+SCHEME://…)")

// CheckRef checks that ref is one whole vals reference, such as
// ref+vault://secret/data/db#password: nested and embedded references are refused, since
// vals' errors about them quote what the inner reference resolved to.
func CheckRef(ref string) error {
	if !strings.HasPrefix(ref, "ref+") || !strings.Contains(ref, "://") {
		return ErrBadRef
	}
	if strings.Count(ref, "ref+") != 1 || strings.ContainsAny(ref, " \n\t\"") {
		return ErrBadRef
	}
	if strings.Contains(strings.TrimSuffix(ref, "+")[len("ref+"):], "+") {
		// vals ends a reference at '+'; anything after it would be literal text.
		return ErrBadRef
	}
	return nil
}

// Resolve evaluates one vals reference with ev and returns its value. The reference must
// resolve to a scalar: a map (a reference without #/key to a document) or nothing is an
// error. Errors quote the reference and, when it is one of vals' known-safe messages (no
// value found for key, no provider registered, file not found, …), vals' reason; never a
// value.
func Resolve(ctx context.Context, ev Evaluator, ref string) (Value, error) {
	if err := CheckRef(ref); err != nil {
		return Value{}, fmt.Errorf("%s: %w", ref, err)
	}
	if err := ctx.Err(); err != nil {
		return Value{}, err
	}
	out, err := ev.Eval(map[string]any{"v": ref})
	if err != nil {
		return Value{}, errors.New(describeErr(ref, err))
	}
	switch v := out["v"].(type) {
	case string:
		if v == ref {
			// vals leaves what its pattern does not match as it is: never store the
			// reference itself as the value.
			return Value{}, fmt.Errorf("%s: %w: vals did not expand it", ref, ErrBadRef)
		}
		return Value{s: v}, nil
	case bool:
		return Value{s: strconv.FormatBool(v)}, nil
	case int:
		return Value{s: strconv.Itoa(v)}, nil
	case int64:
		return Value{s: strconv.FormatInt(v, 10)}, nil
	case uint64:
		return Value{s: strconv.FormatUint(v, 10)}, nil
	case float64:
		return Value{s: strconv.FormatFloat(v, 'f', -1, 64)}, nil
	case nil:
		return Value{}, fmt.Errorf("%s: resolved to nothing", ref)
	case map[string]any, map[any]any:
		return Value{}, fmt.Errorf("%s: resolved to a document, not a value: add #/KEY", ref)
	default:
		return Value{}, fmt.Errorf("%s: resolved to a %T, not a value", ref, v)
	}
}

// safeReason is one vals failure whose message is known not to quote a value.
type safeReason struct {
	re *regexp.Regexp
	// reason is the text kept: fixed, or built from re's submatches, each of which must
	// occur in the reference itself (so it names the reference's own key or scheme).
	reason func(m []string) string
}

// safeReasons is the allow-list of vals' messages an error may keep. Anything else vals says
// is withheld: a provider's parser or a command's stderr can quote what the secret holds.
var safeReasons = []safeReason{
	{regexp.MustCompile(`no value found for key (\S+)`), func(m []string) string { return "no value found for key " + m[1] }},
	{regexp.MustCompile(`no provider registered for scheme "([A-Za-z0-9+.-]*)"`), func(m []string) string { return fmt.Sprintf("no provider registered for scheme %q", m[1]) }},
	{regexp.MustCompile(`key "([^"]*)" does not exist in "([^"]*)"`), func(m []string) string { return fmt.Sprintf("key %q does not exist in %q", m[1], m[2]) }},
	{regexp.MustCompile(`no secret found for path "([^"]*)"`), func(m []string) string { return fmt.Sprintf("no secret found for path %q", m[1]) }},
	{regexp.MustCompile(`no such file or directory`), func([]string) string { return "file not found" }},
	{regexp.MustCompile(`permission denied`), func([]string) string { return "permission denied" }},
	{regexp.MustCompile(`executable file not found`), func([]string) string { return "command not found" }},
	{regexp.MustCompile(`ResourceNotFoundException`), func([]string) string { return "secret not found" }},
	{regexp.MustCompile(`code = NotFound`), func([]string) string { return "secret not found" }},
	{regexp.MustCompile(`context deadline exceeded`), func([]string) string { return "timed out" }},
}

// describeErr turns vals' error about ref into text that names ref and, when vals' message
// is on the allow-list, its reason; any other message is withheld, since it may quote the
// value (a YAML parser's "cannot unmarshal !!str `hunter2…`", a command's stderr).
func describeErr(ref string, err error) string {
	msg := err.Error()
	for _, s := range safeReasons {
		m := s.re.FindStringSubmatch(msg)
		if m == nil || !submatchesInRef(ref, m[1:]) {
			continue
		}
		return fmt.Sprintf("could not resolve %s: %s", ref, s.reason(m))
	}
	return fmt.Sprintf("could not resolve %s (details withheld: they may contain the value)", ref)
}

// submatchesInRef reports whether every captured text occurs in ref.
func submatchesInRef(ref string, subs []string) bool {
	for _, s := range subs {
		if !strings.Contains(ref, s) {
			return false
		}
	}
	return true
}
