package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// envName is what a variable name may be: POSIX's portable set.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envFileHelp describes --env-file.
const envFileHelp = "a file of NAME=value lines added to helmfile's environment, such as chart repository credentials (<REPO>_USERNAME, <REPO>_PASSWORD); values are never printed"

// readEnvFile reads a file of NAME=value lines (the dotenv form: blank lines and # comments
// skipped, an optional "export " prefix, a value in matching single or double quotes taken
// without them, nothing expanded) into "NAME=value" entries. Errors name the file and
// line, never a value.
func readEnvFile(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		name, value, ok := strings.Cut(text, "=")
		name = strings.TrimSpace(name)
		if !ok || !envName.MatchString(name) {
			return nil, fmt.Errorf("%s:%d: not NAME=value with a variable name of letters, digits and _", file, line)
		}
		if n := len(value); n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n-1] == value[0] {
			value = value[1 : n-1]
		}
		env = append(env, name+"="+value)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return env, nil
}
