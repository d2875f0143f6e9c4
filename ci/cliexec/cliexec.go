// Package cliexec prepares the module's executable to run as the configroot CLI (see
// ../exec.go) when CONFIGROOT_CLI is set: the client generated in internal/dagger panics
// at initialization without a Dagger session, which the CLI never uses. main imports this
// package for its init, which Go runs before internal/dagger's: packages are initialized
// in import-path order among those whose imports are ready, and this one imports only os.
package cliexec

import "os"

// Env is the variable that makes the module's executable the configroot CLI.
const Env = "CONFIGROOT_CLI"

// sessionEnv are the variables the generated client reads at initialization.
var sessionEnv = map[string]string{"DAGGER_SESSION_PORT": "1", "DAGGER_SESSION_TOKEN": "unused"}

func init() {
	if os.Getenv(Env) == "" {
		return
	}
	for k, v := range sessionEnv {
		if _, ok := os.LookupEnv(k); !ok {
			_ = os.Setenv(k, v)
		}
	}
}

// Cleanup removes what init set, so that the programs the CLI starts (helmfile, helm) do
// not see a Dagger session that does not exist.
func Cleanup() {
	for k, v := range sessionEnv {
		if os.Getenv(k) == v {
			_ = os.Unsetenv(k)
		}
	}
}
