package render_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
)

// BenchmarkRenderRealistic measures `configroot render --rendered` in process on real chart
// output (testutil.RealisticTree: the External Secrets, cert-manager and webapp charts
// rendered by helm, grown to 3,000 and 30,000 documents): read, layout, secrets
// conversion, leak guard, encode and the atomic write, into an empty folder ("full") and
// over an unchanged config-root ("unchanged", nothing written); with --cache, over an
// unchanged config-root and after one release's ConfigMap changed.
func BenchmarkRenderRealistic(b *testing.B) {
	testutil.ToolsEnv(b)
	for _, docs := range benchDocs(b) {
		tree := testutil.RealisticTree(b, docs)
		source := b.TempDir() // no SecretMapping: every Secret maps to Vault, as the CLI's default
		mapping, err := secrets.LoadMapping(source, "", func(string) {})
		if err != nil {
			b.Fatal(err)
		}
		renderCached := func(b *testing.B, out, cache string) render.Result {
			conv := &secrets.Conversion{Converter: secrets.Converter{Mapping: mapping, Format: secrets.FormatESO, Partial: cache != ""}}
			res, err := render.Render(context.Background(), render.Options{Source: source, Rendered: tree, Output: out, Filters: conv.Filters(),
				Cache: cache, FiltersKey: "eso"})
			if err != nil {
				b.Fatal(err)
			}
			return res
		}
		renderTo := func(b *testing.B, out string) render.Result { return renderCached(b, out, "") }
		b.Run(fmt.Sprintf("docs=%d/full", docs), func(b *testing.B) {
			b.ReportAllocs()
			dir := b.TempDir()
			for b.Loop() {
				out := filepath.Join(dir, "config-root")
				if res := renderTo(b, out); res.Files.Added < docs {
					b.Fatalf("%d files added for %d documents", res.Files.Added, docs)
				}
				b.StopTimer()
				if err := os.RemoveAll(out); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("docs=%d/unchanged", docs), func(b *testing.B) {
			b.ReportAllocs()
			out := filepath.Join(b.TempDir(), "config-root")
			renderTo(b, out)
			for b.Loop() {
				if res := renderTo(b, out); res.Files.Written() != 0 || res.Files.Unchanged < docs {
					b.Fatalf("an unchanged re-render wrote: %+v", res.Files)
				}
			}
		})
		// With --cache: the tree's files are digested, and only the releases whose files
		// changed are laid out again.
		b.Run(fmt.Sprintf("docs=%d/unchanged-cached", docs), func(b *testing.B) {
			b.ReportAllocs()
			out, cache := filepath.Join(b.TempDir(), "config-root"), b.TempDir()
			renderCached(b, out, cache)
			for b.Loop() {
				if res := renderCached(b, out, cache); !res.Cache.Hit || res.Cache.Rendered != 0 || res.Files.Written() != 0 {
					b.Fatalf("an unchanged cached re-render laid out: %+v %+v", res.Cache, res.Files)
				}
			}
		})
		b.Run(fmt.Sprintf("docs=%d/one-changed-cached", docs), func(b *testing.B) {
			b.ReportAllocs()
			out, cache := filepath.Join(b.TempDir(), "config-root"), b.TempDir()
			renderCached(b, out, cache)
			cm := filepath.Join(tree, "apps-0", "webapp-0", "webapp", "templates", "configmap.yaml")
			data, err := os.ReadFile(cm)
			if err != nil {
				b.Fatal(err)
			}
			run := 0
			for b.Loop() {
				b.StopTimer()
				run++
				writeFile(b, cm, strings.Replace(string(data), "data:", "data:\n  run: \""+strconv.Itoa(run)+"\"", 1))
				b.StartTimer()
				if res := renderCached(b, out, cache); !res.Cache.Hit || res.Cache.Rendered != 1 || res.Files.Changed != 1 {
					b.Fatalf("the cached re-render did not lay out apps-0/webapp-0 alone: %+v %+v", res.Cache, res.Files)
				}
			}
			b.StopTimer()
			writeFile(b, cm, string(data))
		})
	}
}

// benchDocs returns the sizes BenchmarkRenderRealistic runs: 3,000 and 30,000 documents,
// or the one size CONFIGROOT_BENCH_DOCS names (for profiling a smaller input).
func benchDocs(b *testing.B) []int {
	if s := os.Getenv("CONFIGROOT_BENCH_DOCS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("CONFIGROOT_BENCH_DOCS=%q: %v", s, err)
		}
		return []int{n}
	}
	return []int{3000, 30000}
}

// manyReleasesRepo writes a cluster repo of n real-chart releases (External Secrets and
// cert-manager alternately, from local folders: about 46 files and 1.3 MB of config-root
// each) into a new folder, and returns it.
func manyReleasesRepo(b *testing.B, n int) string {
	repo := b.TempDir()
	testutil.ExternalSecretsChart(b, filepath.Join(repo, "charts"))
	testutil.CertManagerChart(b, filepath.Join(repo, "charts"))
	writeFile(b, filepath.Join(repo, "values", "cert-manager.yaml"), "crds:\n  enabled: true\n")
	helmfile := "releases:\n"
	for i := range n {
		chart, values := "external-secrets", ""
		if i%2 == 1 {
			chart, values = "cert-manager", "      - values/cert-manager.yaml\n"
		}
		writeFile(b, filepath.Join(repo, "values", fmt.Sprintf("r%02d.yaml", i)), "podLabels:\n  run: \"0\"\n")
		helmfile += fmt.Sprintf("  - name: r%02d\n    namespace: ns%02d\n    chart: ./charts/%s\n    values:\n%s      - values/r%02d.yaml\n",
			i, i, chart, values, i)
	}
	writeFile(b, filepath.Join(repo, "helmfile.yaml"), helmfile)
	return repo
}

// BenchmarkRenderSelectorRealCharts measures `configroot render -l name=…` in process: a
// render limited to one release of a cluster repo of 50 real-chart releases (about 2,300
// files and 65 MB of config-root), whose values change before each run. It is helmfile list
// and template of that release, plus configroot's own part: reading the other 49 releases'
// files, keeping them, writing one.
func BenchmarkRenderSelectorRealCharts(b *testing.B) {
	testutil.ToolsEnv(b)
	repo := manyReleasesRepo(b, 50)
	if _, err := render.Render(context.Background(), render.Options{Source: repo}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	run := 0
	for b.Loop() {
		b.StopTimer()
		run++
		writeFile(b, filepath.Join(repo, "values", "r07.yaml"), "podLabels:\n  run: \""+strconv.Itoa(run)+"\"\n")
		b.StartTimer()
		res, err := render.Render(context.Background(), render.Options{Source: repo, Template: render.TemplateOptions{Selectors: []string{"name=r07"}}})
		if err != nil {
			b.Fatal(err)
		}
		if res.Files.Changed == 0 || res.Files.Unchanged < 2000 {
			b.Fatalf("the selector render did not change r07 alone: %+v", res.Files)
		}
	}
}

// BenchmarkRenderCachedRealCharts measures the render cache (#10 part 2) on the repo of
// BenchmarkRenderSelectorRealCharts: "one-changed" is a cached render after r07's values
// changed (helmfile build of every release to key them and, meanwhile, helmfile template
// of r07, whose values file changed; the partial merge, the write); "unchanged" a cached
// render with nothing changed (helmfile build only); "alone" is what it is compared with: a
// render, without the cache, of a repo that holds r07 alone, whose values change the same
// way.
func BenchmarkRenderCachedRealCharts(b *testing.B) {
	testutil.ToolsEnv(b)
	repo := manyReleasesRepo(b, 50)
	cache := b.TempDir()
	if _, err := render.Render(context.Background(), render.Options{Source: repo, Cache: cache}); err != nil {
		b.Fatal(err)
	}
	run := 0
	edit := func(b *testing.B, repo string) {
		b.StopTimer()
		run++
		writeFile(b, filepath.Join(repo, "values", "r07.yaml"), "podLabels:\n  run: \""+strconv.Itoa(run)+"\"\n")
		b.StartTimer()
	}
	b.Run("one-changed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			edit(b, repo)
			res, err := render.Render(context.Background(), render.Options{Source: repo, Cache: cache})
			if err != nil {
				b.Fatal(err)
			}
			if c := res.Cache; !c.Hit || c.Rendered != 1 || c.Ahead != 1 || res.Files.Changed == 0 {
				b.Fatalf("the cached render did not render r07 alone, ahead of the keys: %+v %+v", c, res.Files)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := render.Render(context.Background(), render.Options{Source: repo, Cache: cache})
			if err != nil {
				b.Fatal(err)
			}
			if c := res.Cache; !c.Hit || c.Rendered != 0 || res.Files.Written() != 0 {
				b.Fatalf("the unchanged cached render rendered: %+v %+v", c, res.Files)
			}
		}
	})
	b.Run("alone", func(b *testing.B) {
		alone := b.TempDir()
		if err := os.Symlink(filepath.Join(repo, "charts"), filepath.Join(alone, "charts")); err != nil {
			b.Fatal(err)
		}
		writeFile(b, filepath.Join(alone, "values", "cert-manager.yaml"), "crds:\n  enabled: true\n")
		writeFile(b, filepath.Join(alone, "values", "r07.yaml"), "podLabels:\n  run: \"0\"\n")
		writeFile(b, filepath.Join(alone, "helmfile.yaml"), "releases:\n  - name: r07\n    namespace: ns07\n    chart: ./charts/cert-manager\n    values:\n      - values/cert-manager.yaml\n      - values/r07.yaml\n")
		if _, err := render.Render(context.Background(), render.Options{Source: alone}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			edit(b, alone)
			res, err := render.Render(context.Background(), render.Options{Source: alone})
			if err != nil {
				b.Fatal(err)
			}
			if res.Files.Changed == 0 {
				b.Fatalf("the render of r07 alone changed nothing: %+v", res.Files)
			}
		}
	})
}
