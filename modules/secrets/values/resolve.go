package values

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// error. Errors quote the reference and vals' reason, never a value.
func Resolve(ctx context.Context, ev Evaluator, ref string) (Value, error) {
	if err := CheckRef(ref); err != nil {
		return Value{}, fmt.Errorf("%s: %w", ref, err)
	}
	if err := ctx.Err(); err != nil {
		return Value{}, err
	}
	out, err := ev.Eval(map[string]any{"v": ref})
	if err != nil {
		return Value{}, fmt.Errorf("%s: %s", ref, scrub(err.Error()))
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

// scrub cuts the parts of vals' error messages that can quote what a document holds: its
// "unexpected type of value … got VALUE" and "unexpected type: VALUE" messages.
func scrub(msg string) string {
	for _, marker := range []string{" in [", "unexpected type: ", ", got "} {
		if i := strings.Index(msg, marker); i >= 0 {
			msg = msg[:i] + " (details withheld: they may quote secret values)"
		}
	}
	return msg
}
