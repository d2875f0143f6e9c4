package render

import (
	"slices"
	"strings"
	"testing"
)

func TestEnviron(t *testing.T) {
	got := Environ([]string{"PATH=/bin", "KUBECONFIG=/home/me/.kube/config", "HELM_KUBECONTEXT=prod", "HELMFILE_NAMESPACE=x", "A=1"},
		append([]string{"REPO_PASSWORD=p"}, HermeticVariables()...), UnsetVariables)
	want := []string{"A=1", "HELM_NAMESPACE=default", "KUBECONFIG=/dev/null", "PATH=/bin", "REPO_PASSWORD=p"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckEnvRefusesWhatTheRenderControls(t *testing.T) {
	if err := checkEnv([]string{"REPO_USERNAME=u", "REPO_PASSWORD=p"}); err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{"HELM_NAMESPACE=tools-9f2", "KUBECONFIG=/k-9f2", "HELMFILE_ENVIRONMENT=prod-9f2", "HELM_KUBECONTEXT=ctx-9f2"} {
		name, value, _ := strings.Cut(kv, "=")
		err := checkEnv([]string{kv})
		if err == nil || !strings.Contains(err.Error(), name+" is set by configroot") || strings.Contains(err.Error(), value) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := checkEnv([]string{"no-equals-sign-s3cr3t"}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("malformed entry: %v", err)
	}
}
