package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
)

// BenchmarkCLIRenderRealistic times the configroot binary end to end, as a user runs it:
// `configroot render --rendered TREE` on real chart output grown to 3,000 documents
// (testutil.RealisticTree), into an empty folder and over an unchanged one, without and
// with --cache. It reports the process's peak RSS (MB) beside the wall time.
func BenchmarkCLIRenderRealistic(b *testing.B) {
	testutil.ToolsEnv(b)
	tree := testutil.RealisticTree(b, 3000)
	bin := filepath.Join(b.TempDir(), "configroot")
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "..").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	source := b.TempDir()
	cache := b.TempDir()
	run := func(b *testing.B, out string, args ...string) float64 {
		cmd := exec.Command(bin, append([]string{"render", "--source", source, "--rendered", tree, "--output", out}, args...)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("configroot render: %v\n%s", err, msg)
		}
		return float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KB on Linux
	}
	for _, mode := range []string{"full", "unchanged", "unchanged-cached"} {
		b.Run(fmt.Sprintf("docs=3000/%s", mode), func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "config-root")
			var args []string
			if mode == "unchanged-cached" {
				args = []string{"--cache", cache}
			}
			if mode != "full" {
				run(b, out, args...)
			}
			var peak float64
			for b.Loop() {
				if mode == "full" {
					b.StopTimer()
					if err := os.RemoveAll(out); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				peak = max(peak, run(b, out, args...))
			}
			b.ReportMetric(peak, "peak-RSS-MB")
		})
	}
}
