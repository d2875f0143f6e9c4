package render

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// HermeticNamespace is the namespace helm renders a release into when its helmfile entry
// names none: Kubernetes' own default, whatever kube context the machine has.
const HermeticNamespace = "default"

// UnsetVariables are the environment variables a render never passes to helmfile, sorted:
// the cluster helm would talk to (helm's EnvSettings reads HELM_KUBE*), and helmfile's own
// overrides of the namespace, kube context, environment, file and helm binary (helmfile
// pkg/config/global.go), which configroot sets with its own flags instead. KUBECONFIG and
// HELM_NAMESPACE are not removed but replaced (HermeticVariables).
var UnsetVariables = []string{
	"HELMFILE_ENVIRONMENT",
	"HELMFILE_FILE_PATH",
	"HELMFILE_HELM_BINARY",
	"HELMFILE_KUBE_CONTEXT",
	"HELMFILE_NAMESPACE",
	"HELM_KUBEAPISERVER",
	"HELM_KUBEASGROUPS",
	"HELM_KUBEASUSER",
	"HELM_KUBECAFILE",
	"HELM_KUBECONTEXT",
	"HELM_KUBEINSECURE_SKIP_TLS_VERIFY",
	"HELM_KUBETLS_SERVER_NAME",
	"HELM_KUBETOKEN",
}

// HermeticVariables returns the variables ("NAME=value") configroot sets for helmfile
// whatever the machine's environment holds. helm takes .Release.Namespace of a release
// without --namespace from HELM_NAMESPACE, else from the kubeconfig's current context, else
// "default" (helm's EnvSettings.Namespace); pinning HELM_NAMESPACE to HermeticNamespace
// and pointing KUBECONFIG at an empty file (/dev/null: no context, no cluster) makes a
// release without a namespace render the same on a laptop with a kube context and on CI.
func HermeticVariables() []string {
	return []string{"HELM_NAMESPACE=" + HermeticNamespace, "KUBECONFIG=/dev/null"}
}

// Environ returns the environment a Command runs with on this machine: environ
// (os.Environ's "NAME=value" form) without unset and without the variables set redefines,
// then set, sorted so that the result does not depend on the parent's order.
func Environ(environ, set, unset []string) []string {
	drop := make(map[string]bool, len(set)+len(unset))
	for _, name := range unset {
		drop[name] = true
	}
	for _, kv := range set {
		name, _, _ := strings.Cut(kv, "=")
		drop[name] = true
	}
	env := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			env = append(env, kv)
		}
	}
	env = append(env, set...)
	sort.Strings(env)
	return env
}

// helmfileEnv is what helmfile runs with besides the runner's environment: o.Env, then the
// hermetic variables.
func (o Options) helmfileEnv() []string {
	return append(slices.Clip(o.Env), HermeticVariables()...)
}

// helmfileCommand is helmfile run with args in the cluster repo, in the hermetic
// environment (helmfileEnv, UnsetVariables): every helmfile configroot runs.
func (o Options) helmfileCommand(args []string) Command {
	return Command{Dir: o.Source, Name: o.Helmfile, Args: args, Env: o.helmfileEnv(), Unset: UnsetVariables}
}

// checkEnv rejects extra variables that are malformed or that the hermetic render
// controls; errors name the variable, never its value.
func checkEnv(env []string) error {
	controlled := map[string]bool{}
	for _, name := range UnsetVariables {
		controlled[name] = true
	}
	for _, kv := range HermeticVariables() {
		name, _, _ := strings.Cut(kv, "=")
		controlled[name] = true
	}
	for i, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || name == "":
			return fmt.Errorf("helmfile environment entry %d: not NAME=value", i+1)
		case controlled[name]:
			return fmt.Errorf("helmfile environment: %s is set by configroot to keep the render hermetic (see render --help)", name)
		}
	}
	return nil
}
