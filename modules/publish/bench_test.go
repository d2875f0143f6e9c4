package publish_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/publish"
	"github.com/configroot/configroot/modules/render"
)

// benchFiles is the number of files in the benchmarks' config-root, and benchChanged how
// many of them each publish changes.
const (
	benchFiles   = 10000
	benchChanged = 10
)

// benchRender returns a config-root of benchFiles ConfigMaps in 50 namespaces; the first
// benchChanged carry round in their data, so that each round changes exactly those.
func benchRender(round int) render.Files {
	files := make(render.Files, benchFiles)
	for i := range benchFiles {
		ns := fmt.Sprintf("team-%02d", i%50)
		value := "stable"
		if i < benchChanged {
			value = fmt.Sprint("round-", round)
		}
		files[fmt.Sprintf("namespaces/%s/app-%d/settings-%05d-cm.yaml", ns, i%7, i)] = fmt.Appendf(nil,
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-%05d\n  namespace: %s\n  annotations:\n"+
				"    meta.helm.sh/release-name: app-%d\n    meta.helm.sh/release-namespace: %s\n"+
				"data:\n  LOG_LEVEL: info\n  VALUE: %s\n", i, ns, i%7, ns, value)
	}
	return files
}

// benchRemote starts a git server holding a repo whose config-root is benchRender(0).
func benchRemote(b *testing.B) string {
	b.Helper()
	srv := testutil.NewGitServer(b, testUser, testToken)
	files := map[string][]byte{"README.md": []byte("# cluster\n")}
	for p, data := range benchRender(0) {
		files["config-root/"+p] = data
	}
	srv.NewBareRepo(b, "cluster.git", "main", files)
	return srv.URL("cluster.git")
}

// peakHeap samples the live heap until stop is called, and returns the highest value seen.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkPublish measures publishing a config-root of 10,000 files of which 10 change,
// over HTTP to git-http-backend: "clone" is the whole Publish (a fresh clone each time, as
// in CI), "reuse" only Replace, Commit and Push on a clone kept between rounds. Besides
// time and allocations it reports the peak live heap.
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	b.Run("clone", func(b *testing.B) {
		url := benchRemote(b)
		renders := [2]render.Files{benchRender(1), benchRender(2)}
		runtime.GC()
		stop := peakHeap()
		b.ReportAllocs()
		round := 0
		for b.Loop() {
			o := options(url, renders[round%2])
			o.Dir = filepath.Join(b.TempDir(), "clone")
			res, err := publish.Publish(ctx, o)
			if err != nil {
				b.Fatal(err)
			}
			if res.Changes.Count() != benchChanged {
				b.Fatalf("round %d changed %d files, want %d", round, res.Changes.Count(), benchChanged)
			}
			round++
		}
		b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
	})
	b.Run("reuse", func(b *testing.B) {
		url := benchRemote(b)
		renders := [2]render.Files{benchRender(1), benchRender(2)}
		r, err := publish.Open(ctx, options(url, nil))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		runtime.GC()
		stop := peakHeap()
		b.ReportAllocs()
		round := 0
		for b.Loop() {
			if err := r.Replace(renders[round%2]); err != nil {
				b.Fatal(err)
			}
			res, err := r.Commit(publish.Message{})
			if err != nil {
				b.Fatal(err)
			}
			if res.Changes.Count() != benchChanged {
				b.Fatalf("round %d changed %d files, want %d", round, res.Changes.Count(), benchChanged)
			}
			if err := r.Push(ctx); err != nil {
				b.Fatal(err)
			}
			round++
		}
		b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
	})
}
