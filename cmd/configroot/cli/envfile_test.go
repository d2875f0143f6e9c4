package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadEnvFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "creds.env")
	if err := os.WriteFile(good, []byte("# chart repositories\n\nPRIVATE_CHARTS_USERNAME=ci-bot\nexport PRIVATE_CHARTS_PASSWORD='p=a ss#1'\nTOKEN=\"x\"\nEMPTY=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PRIVATE_CHARTS_USERNAME=ci-bot", "PRIVATE_CHARTS_PASSWORD=p=a ss#1", "TOKEN=x", "EMPTY="}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	bad := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(bad, []byte("A=1\nnot a line s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = readEnvFile(bad)
	if err == nil || !strings.Contains(err.Error(), bad+":2: not NAME=value") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %v: want the file and line 2, and never the line's text", err)
	}
	if _, err := readEnvFile(filepath.Join(dir, "missing.env")); err == nil || !strings.Contains(err.Error(), "--env-file") {
		t.Errorf("a missing file: %v", err)
	}
}
