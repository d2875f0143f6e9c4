package render_test

// The Jenkins X compatibility suite replays jx-gitops's own tests of the commands the Jenkins X
// cluster-repo Makefile runs after `helmfile template` (split, rename, helmfile move and
// namespace) through configroot's layout. jx-gitops's test data and test tables are read from
// the Go module cache (testutil.JenkinsXGitops), never copied into this repo: each input is
// arranged as a rendered tree (<namespace>/<release>/<chart>/…), laid out, and compared with
// what the jx-gitops test asserts. Every difference is a row of docs/jenkins-x.md
// (testutil.JenkinsXRow) or a failure. The chain's own bugs that configroot avoids are
// asserted as configroot's better behaviour.
//
// Where a jx-gitops test checks one command alone, the suite follows the whole chain with a
// small model of it (jxSplit, jxRename, jxClusterKind), restated from jx-gitops's source with
// file and function named, its tables read from that source, and checked against the same
// jx-gitops tests before it is trusted.
//
// Every case logs its outcome ("same", "documented difference: … row N", "configroot
// better: …"): `go test -v -run JenkinsX ./modules/render/` lists them.

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/configroot/configroot/internal/testutil"
	"github.com/configroot/configroot/modules/render"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Rows of docs/jenkins-x.md the suite relies on, each with a phrase the row must contain.
const (
	rowCollision     = 1  // "overwrite each other"
	rowScope         = 2  // "wrong tree offline"
	rowNamespace     = 3  // "forced into the namespace"
	rowNamespaceObjs = 4  // "Namespace object"
	rowReleaseAnns   = 11 // "annotation a chart writes itself"
	rowBlockScalar   = 12 // "block scalar"
	rowNotYAML       = 13 // "not valid YAML"
)

// jxCmd returns the folder of one jx-gitops command's package: pkg/cmd/<name>.
func jxCmd(mod, name string) string {
	return filepath.Join(mod, "pkg", "cmd", filepath.FromSlash(name))
}

// ---- configroot's side ---------------------------------------------------------------

// crLayout lays out a rendered tree (slash path → contents) with the default Layout.
func crLayout(tree map[string][]byte) (render.Files, error) {
	fsys := fstest.MapFS{}
	for p, data := range tree {
		fsys[p] = &fstest.MapFile{Data: data}
	}
	nodes, _, err := render.ReadRendered(fsys)
	if err != nil {
		return nil, err
	}
	return render.LayoutFiles(nodes, render.Layout{})
}

func mustLayout(t *testing.T, tree map[string][]byte) []crFile {
	t.Helper()
	files, err := crLayout(tree)
	if err != nil {
		t.Fatalf("layout: %v", err)
	}
	return parseFiles(t, files)
}

// crFile is a file of config-root, parsed.
type crFile struct {
	path string
	text string
	node *yaml.RNode
}

func parseFiles(t *testing.T, files render.Files) []crFile {
	t.Helper()
	var out []crFile
	for _, p := range files.Paths() {
		n, err := yaml.Parse(string(files[p]))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, crFile{path: p, text: string(files[p]), node: n})
	}
	return out
}

// added reports whether f is a Namespace configroot added (no chart rendered it).
func (f crFile) added() bool {
	return path.Dir(f.path) == render.DirClusterNS && f.node.GetAnnotations()[render.AnnotationReleaseName] == ""
}

// find returns the files holding the resource apiVersion/kind/name.
func find(files []crFile, doc *yaml.RNode) []crFile {
	var found []crFile
	for _, f := range files {
		if f.node.GetApiVersion() == doc.GetApiVersion() && f.node.GetKind() == doc.GetKind() && f.node.GetName() == doc.GetName() {
			found = append(found, f)
		}
	}
	return found
}

// content returns a resource as plain data without what the layout adds on purpose
// (metadata.namespace and the helm release annotations), to compare with an input document.
func content(t *testing.T, n *yaml.RNode) map[string]any {
	t.Helper()
	m, err := n.Map()
	if err != nil {
		t.Fatal(err)
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "namespace")
		if anns, ok := md["annotations"].(map[string]any); ok {
			delete(anns, render.AnnotationReleaseName)
			delete(anns, render.AnnotationReleaseNamespace)
			if len(anns) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return m
}

// docs reads the YAML documents of a file, as configroot's reader does.
func docs(t *testing.T, data []byte) []*yaml.RNode {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// yamlFiles returns the *.yaml files under dir, by slash path relative to dir, sorted.
func yamlFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no YAML files in %s", dir)
	}
	return files
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- the model of the Jenkins X chain --------------------------------------------------

// jxSplit is `jx gitops split` (jx-gitops v1.3.0, pkg/cmd/split/split.go, ProcessYamlFiles)
// on the text of one file: the text is cut at every "\n---\n" (a leading "---\n" too), and a
// piece holding only blanks, comments and "--" lines is carried into the next piece. It
// returns the text of each file split writes.
func jxSplit(data string) []string {
	if strings.HasPrefix(data, "---\n") {
		data = "\n" + data
	}
	var files []string
	var buf strings.Builder
	for _, piece := range strings.Split(data, "\n---\n") {
		if buf.Len() > 0 {
			buf.WriteString("---\n")
		}
		buf.WriteString(piece)
		if !jxBlank(piece) {
			files = append(files, strings.TrimLeft(buf.String(), "\n"))
			buf.Reset()
		}
	}
	return files
}

// jxBlank is jx-gitops's helmhelpers.IsWhitespaceOrComments.
func jxBlank(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

// jxRename is `jx gitops rename`'s file naming (jx-gitops v1.3.0, pkg/cmd/rename/rename.go):
// its kind table is read from that file (kindSuffixes); canonicalName's one exception (a
// Service whose apiVersion mentions knative is "ksvc") is restated, and the source is checked
// to still say so.
type jxRename map[string]string

func loadJXRename(t *testing.T, mod string) jxRename {
	t.Helper()
	src := testutil.ParseGo(t, filepath.Join(jxCmd(mod, "rename"), "rename.go"))
	v, err := testutil.GoValue(src.Var(t, "kindSuffixes"))
	if err != nil {
		t.Fatalf("%s: kindSuffixes: %v", src.Path, err)
	}
	r := jxRename{}
	for k, s := range v.(map[string]any) {
		r[k] = s.(string)
	}
	text, err := os.ReadFile(src.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(text, []byte(`suffix == "svc" && strings.Contains(apiVersion, "knative")`)) {
		t.Fatalf("%s: canonicalName no longer special-cases Knative Services as the suite assumes", src.Path)
	}
	return r
}

// name is canonicalName: "<name>-<suffix>.yaml", ':' and '/' in the name turned into '-'.
func (r jxRename) name(apiVersion, kind, name string) string {
	lk := strings.ToLower(kind)
	s := r[lk]
	if s == "svc" && strings.Contains(apiVersion, "knative") {
		s = "ksvc"
	}
	if s == "" {
		s = lk
	}
	return strings.NewReplacer(":", "-", "/", "-").Replace(name) + "-" + s + ".yaml"
}

// fileName is the name rename gives a file: canonicalName of its first document, read after
// dropping the lines that start with "{{" (RemoveGoTemplateLines); "" when it has no name.
func (r jxRename) fileName(data []byte) (string, error) {
	var kept []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "{{") {
			kept = append(kept, line)
		}
	}
	n, err := yaml.Parse(strings.Join(kept, "\n"))
	if err != nil || n.GetName() == "" {
		return "", err
	}
	return r.name(n.GetApiVersion(), n.GetKind(), n.GetName()), nil
}

// jxClusterKind is how jx-gitops decides, with no cluster to ask and no CRD of the kind in
// the render, that a kind is cluster-scoped (jx-helpers v3.10.4, pkg/kyamls/helpers.go,
// IsClusterKind, used by `helmfile move` and `namespace`).
func jxClusterKind(kind string) bool {
	return kind == "" || kind == "CustomResourceDefinition" || kind == "Namespace" || strings.HasPrefix(kind, "Cluster")
}

// path is where the chain files one resource of release folder relNS/folder, found in the
// chart folder at file, when no cluster is reachable (`helmfile move
// --dir-includes-release-name`, default --override-namespace; jx-gitops v1.3.0,
// pkg/cmd/helmfile/move/move.go): below the release folder it keeps the file's folders
// (jxDir); a kind is cluster-scoped as a CRD of the render says (learnt), else as
// jxClusterKind guesses; namespaced resources go to the release namespace.
func (r jxRename) path(n *yaml.RNode, relNS, folder, file string, learnt map[string]bool) string {
	kind := n.GetKind()
	name := r.name(n.GetApiVersion(), kind, n.GetName())
	cluster, ok := learnt[kind]
	if !ok {
		cluster = jxClusterKind(kind)
	}
	switch {
	case kind == "CustomResourceDefinition":
		return path.Join(render.DirCRDs, relNS, folder, jxDir(file), name)
	case cluster:
		return path.Join(render.DirClusterResources, relNS, folder, jxDir(file), name)
	}
	return path.Join(render.DirNamespaces, relNS, folder, jxDir(file), name)
}

// ---- reading jx-gitops's tests ----------------------------------------------------------

// evalExpr evaluates an expression of a jx-gitops test: a literal, an identifier bound in
// env, filepath.Join of those, or fmt.Sprintf of a literal format.
func evalExpr(t *testing.T, src testutil.GoSource, e ast.Expr, env map[string]any) any {
	t.Helper()
	switch e := e.(type) {
	case *ast.Ident:
		if v, ok := env[e.Name]; ok {
			return v
		}
	case *ast.CallExpr:
		args := make([]any, len(e.Args))
		for i, a := range e.Args {
			args[i] = evalExpr(t, src, a, env)
		}
		switch testutil.CallName(e) {
		case "filepath.Join":
			parts := make([]string, len(args))
			for i, a := range args {
				parts[i] = fmt.Sprint(a)
			}
			return path.Join(parts...)
		case "fmt.Sprintf":
			return fmt.Sprintf(fmt.Sprint(args[0]), args[1:]...)
		}
	default:
		if v, err := testutil.GoValue(e); err == nil {
			return v
		}
	}
	t.Fatalf("%s: the suite cannot evaluate this expression", src.Pos(e))
	return nil
}

// fileAssertion is one assert.FileExists or assert.NoFileExists of a jx-gitops test.
type fileAssertion struct {
	path   string // relative to the test's copy of its testdata
	exists bool
	pos    string
}

var fileAssertCalls = map[string]bool{
	"assert.FileExists": true, "require.FileExists": true,
	"assert.NoFileExists": false, "require.NoFileExists": false, "testhelpers.AssertFileNotExists": false,
}

// fileAssertions returns the file assertions of test function fn, running its loops of the
// form `i := N; for i != M { …; i++ }`. An assertion in any other shape fails t.
func fileAssertions(t *testing.T, src testutil.GoSource, fn *ast.FuncDecl) []fileAssertion {
	t.Helper()
	env := map[string]any{"tmpDir": "."}
	seen := map[*ast.CallExpr]bool{}
	var out []fileAssertion
	var run func(stmts []ast.Stmt)
	run = func(stmts []ast.Stmt) {
		for _, st := range stmts {
			switch st := st.(type) {
			case *ast.ExprStmt:
				if call, ok := st.X.(*ast.CallExpr); ok {
					if exists, ok := fileAssertCalls[testutil.CallName(call)]; ok {
						seen[call] = true
						out = append(out, fileAssertion{path: fmt.Sprint(evalExpr(t, src, call.Args[1], env)), exists: exists, pos: src.Pos(call)})
					}
				}
			case *ast.AssignStmt:
				if id, ok := st.Lhs[0].(*ast.Ident); ok && len(st.Rhs) == 1 {
					if v, err := testutil.GoValue(st.Rhs[0]); err == nil {
						env[id.Name] = v
					}
				}
			case *ast.IncDecStmt:
				id := st.X.(*ast.Ident)
				n, _ := env[id.Name].(int)
				if st.Tok == token.INC {
					env[id.Name] = n + 1
				} else {
					env[id.Name] = n - 1
				}
			case *ast.ForStmt:
				cond, ok := st.Cond.(*ast.BinaryExpr)
				if !ok || st.Init != nil || st.Post != nil || (cond.Op != token.NEQ && cond.Op != token.LSS) {
					continue
				}
				id, _ := cond.X.(*ast.Ident)
				limit, _ := testutil.GoValue(cond.Y)
				for guard := 0; id != nil; guard++ {
					i, _ := env[id.Name].(int)
					if guard > 10000 || (cond.Op == token.NEQ && i == limit) || (cond.Op == token.LSS && i >= limit.(int)) {
						break
					}
					run(st.Body.List)
				}
			}
		}
	}
	run(fn.Body.List)
	names := make([]string, 0, len(fileAssertCalls))
	for n := range fileAssertCalls {
		names = append(names, n)
	}
	for _, call := range testutil.Calls(fn, names...) {
		if !seen[call] {
			t.Fatalf("%s: a file assertion in a shape the suite does not read", src.Pos(call))
		}
	}
	return out
}

func stringList(t *testing.T, v any) []string {
	t.Helper()
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	if m, ok := v.(map[string]any); ok {
		for k, s := range m {
			out[k] = s.(string)
		}
	}
	return out
}

// ---- split ------------------------------------------------------------------------------

// TestJenkinsXSplit replays pkg/cmd/split/split_test.go: every file of its testdata is laid
// out as a chart template, and the number of resources configroot keeps from it must satisfy
// the test's assertions (split writes <file>.yaml for the first document and <file>N.yaml
// for the Nth; a file of blanks and comments is removed). Every resource must keep the
// content of its document exactly: where split's cut at "\n---\n" drops the final newline of
// a block scalar (`|` read back as `|-`), configroot is better.
func TestJenkinsXSplit(t *testing.T) {
	mod := testutil.JenkinsXGitops(t)
	dir := jxCmd(mod, "split")
	src := testutil.ParseGo(t, filepath.Join(dir, "split_test.go"))
	chomped := 0
	for _, test := range []string{"TestSplitYamlFiles", "TestSplitHelmTemplateYamlFiles"} {
		fn := src.Func(t, test)
		root := fmt.Sprint(evalExpr(t, src, src.Assigned(t, fn, "srcFile"), nil))
		inputs := yamlFiles(t, filepath.Join(dir, filepath.FromSlash(root)))
		asserts := fileAssertions(t, src, fn)
		if len(asserts) == 0 {
			t.Fatalf("%s: no file assertions read", test)
		}

		// Each assertion bounds the number of documents of one input file.
		type bounds struct {
			min, max int
			pos      []string
		}
		bound := map[string]*bounds{}
		for _, a := range asserts {
			file, index := splitSource(a.path, inputs)
			if file == "" {
				t.Fatalf("%s: %s is not an input file nor one split writes", a.pos, a.path)
			}
			b := bound[file]
			if b == nil {
				b = &bounds{max: 1 << 30}
				bound[file] = b
			}
			if a.exists {
				b.min = max(b.min, index)
			} else {
				b.max = min(b.max, index-1)
			}
			b.pos = append(b.pos, a.pos)
		}

		for _, file := range sortedKeys(inputs) {
			data := inputs[file]
			// What the chain reads back from split's files: the documents that lose a
			// block scalar's final newline.
			pieces, want := jxSplit(string(data)), docs(t, data)
			losses := map[int]string{}
			for i := 0; i < len(pieces) && len(pieces) == len(want); i++ {
				chain, err := yaml.Parse(pieces[i])
				if err != nil {
					t.Fatalf("%s: split's file %d: %v", file, i+1, err)
				}
				if d := blockScalarLoss(content(t, want[i]), content(t, chain), ""); d != "" {
					losses[i] = d
					chomped++
				}
			}
			t.Run(test+"/"+file, func(t *testing.T) {
				files := mustLayout(t, map[string][]byte{"jx/split/split/templates/" + file: data})
				var kept []crFile
				for _, f := range files {
					if !f.added() {
						kept = append(kept, f)
					}
				}
				if b := bound[file]; b != nil {
					if len(pieces) < b.min || len(pieces) > b.max {
						t.Fatalf("the model of split gives %d files, the test (%s) wants %d to %d: fix jxSplit", len(pieces), strings.Join(b.pos, ", "), b.min, b.max)
					}
					if len(kept) < b.min || len(kept) > b.max {
						t.Fatalf("configroot keeps %d resources, %s wants %d to %d", len(kept), strings.Join(b.pos, ", "), b.min, b.max)
					}
				}
				if len(kept) != len(want) || len(pieces) != len(want) {
					t.Fatalf("configroot keeps %d resources and split writes %d files for %d documents", len(kept), len(pieces), len(want))
				}
				var better []string
				for i, doc := range want {
					got := find(kept, doc)
					if len(got) != 1 {
						t.Fatalf("%s %s: %d files", doc.GetKind(), doc.GetName(), len(got))
					}
					if !reflect.DeepEqual(content(t, got[0].node), content(t, doc)) {
						t.Errorf("%s changed the content of %s %s:\n%s", got[0].path, doc.GetKind(), doc.GetName(), got[0].text)
					}
					if d, ok := losses[i]; ok {
						key := d[strings.LastIndexByte(d, '.')+1:]
						if !strings.Contains(got[0].text, " "+key+": |\n") {
							t.Errorf("%s: %s is not written as a | block scalar:\n%s", got[0].path, d, got[0].text)
						}
						better = append(better, fmt.Sprintf("%s %s %s", doc.GetKind(), doc.GetName(), d))
					}
				}
				outcome := "same"
				if len(better) > 0 {
					outcome = fmt.Sprintf("configroot better: split's files lose the final newline of %s (| read back as |-), configroot keeps it (%s)",
						strings.Join(better, ", "), testutil.JenkinsXRow(t, rowBlockScalar, "block scalar"))
				}
				t.Logf("%s: %d resources: %s", file, len(kept), outcome)
			})
		}
	}
	if chomped == 0 {
		t.Error("no document of split's testdata loses a block scalar's newline in the chain: the configroot-better case is gone")
	}

	// All of the testdata in one chart, each case in its own template folder, as the test
	// splits it: the nested folders are kept below the release folder.
	t.Run("every resource, through the chain", func(t *testing.T) {
		jx := loadJXRename(t, mod)
		root := fmt.Sprint(evalExpr(t, src, src.Assigned(t, src.Func(t, "TestSplitYamlFiles"), "srcFile"), nil))
		inputs := yamlFiles(t, filepath.Join(dir, filepath.FromSlash(root)))
		tree := map[string][]byte{}
		var chainInputs []chainInput
		for _, file := range sortedKeys(inputs) {
			tree["jx/split/split/templates/"+file] = inputs[file]
			for _, d := range docs(t, inputs[file]) {
				chainInputs = append(chainInputs, chainInput{file: "templates/" + file, doc: d})
			}
		}
		logOutcomes(t, compareChain(t, jx, "jx", "split", chainInputs, mustLayout(t, tree)))
	})
}

// splitSource maps a file split_test.go asserts on to the input file it comes from and the
// number of its document (split names the Nth document <stem>N.yaml, the first <file>).
func splitSource(p string, inputs map[string][]byte) (string, int) {
	if _, ok := inputs[p]; ok {
		return p, 1
	}
	dir, base := path.Split(p)
	ext := path.Ext(base)
	for file := range inputs {
		fd, fb := path.Split(file)
		stem := strings.TrimSuffix(fb, path.Ext(fb))
		rest := strings.TrimSuffix(strings.TrimPrefix(base, stem), ext)
		if fd != dir || path.Ext(fb) != ext || !strings.HasPrefix(base, stem) || rest == "" {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil && n >= 2 {
			return file, n
		}
	}
	return "", 0
}

// blockScalarLoss returns the field (a dotted path) of want whose string value ends with a
// newline that got lacks, "" when there is none.
func blockScalarLoss(want, got any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		for _, k := range sortedKeys(w) {
			if d := blockScalarLoss(w[k], g[k], at+"."+k); d != "" {
				return d
			}
		}
	case []any:
		g, _ := got.([]any)
		for i := range w {
			if i < len(g) {
				if d := blockScalarLoss(w[i], g[i], fmt.Sprintf("%s[%d]", at, i)); d != "" {
					return d
				}
			}
		}
	case string:
		if g, ok := got.(string); ok && strings.HasSuffix(w, "\n") && g == strings.TrimSuffix(w, "\n") {
			return at[1:]
		}
	}
	return ""
}

// ---- the chain, resource by resource ------------------------------------------------------

// chainInput is one document of a release's rendered output.
type chainInput struct {
	file string // in the chart folder: "templates/x.yaml"
	doc  *yaml.RNode
}

func (in chainInput) String() string {
	return in.file + " " + in.doc.GetKind() + " " + in.doc.GetName()
}

// crFileOf returns configroot's file for the resource of doc, found in the chart folder at
// file: its namespace after layout is its own or the release's (none when cluster-scoped),
// and its folder below the release folder is the one the chain keeps (jxDir).
func crFileOf(t *testing.T, files []crFile, doc *yaml.RNode, relNS, file string) crFile {
	t.Helper()
	found := find(files, doc)
	if len(found) > 1 {
		ns := doc.GetNamespace()
		if ns == "" {
			ns = relNS
		}
		var same []crFile
		for _, f := range found {
			if f.node.GetNamespace() == ns && belowRelease(f.path) == jxDir(file) {
				same = append(same, f)
			}
		}
		found = same
	}
	if len(found) != 1 {
		t.Fatalf("%s %s of %s: %d files in config-root", doc.GetKind(), doc.GetName(), file, len(found))
	}
	return found[0]
}

// belowRelease returns the folder of a config-root file below its release folder: "" for
// namespaces/<ns>/<release>/x.yaml, "charts/db" for …/<release>/charts/db/x.yaml.
func belowRelease(p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "cluster/"), "/")
	if len(parts) <= 4 {
		return ""
	}
	return path.Join(parts[3 : len(parts)-1]...)
}

// k8sClusterScoped are the Kubernetes kinds of jx-gitops's testdata that the API serves
// cluster-scoped (`kubectl api-resources --namespaced=false`) although jxClusterKind, without
// a cluster, says namespaced.
var k8sClusterScoped = map[string]bool{
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration": true,
	"policy/PodSecurityPolicy":                                    true,
}

// compareChain compares configroot's file for every input of one release (relNS, folder) with
// the file the chain writes, and returns the outcome of each input (same, documented
// difference with its row, configroot better), failing t on any other difference.
func compareChain(t *testing.T, jx jxRename, relNS, folder string, inputs []chainInput, files []crFile) map[string]string {
	t.Helper()
	scopes := map[string]bool{} // kind → cluster-scoped, learnt from the CRDs as helmfile move does
	for _, in := range inputs {
		if in.doc.GetKind() == "CustomResourceDefinition" {
			kind, _ := in.doc.GetString("spec.names.kind")
			scope, _ := in.doc.GetString("spec.scope")
			scopes[kind] = scope != "Namespaced"
		}
	}
	chain := make([]string, len(inputs))
	last := map[string]int{} // chain path → the input rename leaves there: the last one in walk order
	order := make([]int, len(inputs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return inputs[order[a]].file < inputs[order[b]].file })
	for _, i := range order {
		chain[i] = jx.path(inputs[i].doc, relNS, folder, inputs[i].file, scopes)
		last[chain[i]] = i
	}

	outcomes := map[string]string{}
	seen := map[string]string{}
	for i, in := range inputs {
		got := crFileOf(t, files, in.doc, relNS, in.file)
		if prev, ok := seen[got.path]; ok {
			t.Fatalf("%s and %s share %s", prev, in, got.path)
		}
		seen[got.path] = in.String()
		kind, name := in.doc.GetKind(), in.doc.GetName()
		group := ""
		if j := strings.LastIndexByte(in.doc.GetApiVersion(), '/'); j >= 0 {
			group = in.doc.GetApiVersion()[:j]
		}
		var outcome string
		switch {
		case last[chain[i]] != i:
			outcome = fmt.Sprintf("configroot better: the chain's rename overwrites it with %s (both %s), configroot keeps both at %s (%s)",
				inputs[last[chain[i]]], path.Base(chain[i]), got.path, testutil.JenkinsXRow(t, rowCollision, "overwrite each other"))
		case got.path == chain[i]:
			outcome = "same: " + got.path
		case kind == "Namespace" && got.path == path.Join(render.DirClusterNS, name+".yaml"):
			outcome = fmt.Sprintf("%s: %s, the chain %s", testutil.JenkinsXRow(t, rowNamespaceObjs, "Namespace object"), got.path, chain[i])
		case strings.HasPrefix(chain[i], render.DirNamespaces+"/") && k8sClusterScoped[group+"/"+kind] &&
			got.path == path.Join(render.DirClusterResources, relNS, folder, jxDir(in.file), path.Base(chain[i])):
			if got.node.GetNamespace() != "" {
				t.Errorf("%s keeps metadata.namespace", got.path)
			}
			outcome = fmt.Sprintf("configroot better: offline the chain files this cluster-scoped %s under %s, configroot at %s (%s)",
				kind, chain[i], got.path, testutil.JenkinsXRow(t, rowScope, "wrong tree offline"))
		case in.doc.GetNamespace() != "" && in.doc.GetNamespace() != relNS &&
			got.path == path.Join(render.DirNamespaces, in.doc.GetNamespace(), folder, jxDir(in.file), path.Base(chain[i])):
			outcome = fmt.Sprintf("%s: the chart's namespace %s is kept: %s, the chain %s",
				testutil.JenkinsXRow(t, rowNamespace, "forced into the namespace"), in.doc.GetNamespace(), got.path, chain[i])
		default:
			t.Errorf("%s: configroot writes %s, the chain %s: an undocumented difference", in, got.path, chain[i])
			continue
		}
		outcomes[in.String()] = outcome
	}
	return outcomes
}

// jxDir is the folder helmfile move keeps for a file of the chart folder (see jxRename.path).
func jxDir(file string) string {
	dir := path.Dir(file)
	if b := path.Base(dir); b == "templates" || b == "crds" {
		dir = path.Dir(dir)
	}
	if dir == "." {
		return ""
	}
	return dir
}

func logOutcomes(t *testing.T, outcomes map[string]string) {
	t.Helper()
	for _, k := range sortedKeys(outcomes) {
		t.Logf("%s: %s", k, outcomes[k])
	}
}

// ---- rename -----------------------------------------------------------------------------

// TestJenkinsXRename replays pkg/cmd/rename/rename_test.go: its testdata (one resource per
// file) is laid out as one release in tekton-pipelines, the namespace its resources name, and
// every file name the test expects must be configroot's name for that resource. Beyond the
// test's names, every resource is compared with the file the chain writes for it.
func TestJenkinsXRename(t *testing.T) {
	mod := testutil.JenkinsXGitops(t)
	dir := jxCmd(mod, "rename")
	jx := loadJXRename(t, mod)
	src := testutil.ParseGo(t, filepath.Join(dir, "rename_test.go"))
	fn := src.Func(t, "TestRenameYamlFiles")
	root := fmt.Sprint(evalExpr(t, src, src.Assigned(t, fn, "srcFile"), nil))
	v, err := testutil.GoValue(src.Assigned(t, fn, "expectedFiles"))
	if err != nil {
		t.Fatalf("rename_test.go: expectedFiles: %v", err)
	}
	expected := stringList(t, v)
	inputs := yamlFiles(t, filepath.Join(dir, filepath.FromSlash(root)))

	const ns, release = "tekton-pipelines", "tekton-pipelines"
	prefix := ns + "/" + release + "/" + release + "/"
	tree := map[string][]byte{}
	byName := map[string]string{} // rename's file name → input file
	notYAML := map[string]string{}
	var chainInputs []chainInput
	for _, file := range sortedKeys(inputs) {
		name, err := jx.fileName(inputs[file])
		if err != nil {
			t.Fatalf("the model of rename cannot read %s: %v", file, err)
		}
		byName[name] = file
		rendered := prefix + "templates/" + file
		if _, err := crLayout(map[string][]byte{rendered: inputs[file]}); err != nil {
			if !strings.Contains(err.Error(), release+"/templates/"+file+": invalid YAML") {
				t.Fatalf("%s: %v", file, err)
			}
			notYAML[file] = err.Error()
			continue
		}
		tree[rendered] = inputs[file]
		for _, d := range docs(t, inputs[file]) {
			chainInputs = append(chainInputs, chainInput{file: "templates/" + file, doc: d})
		}
	}
	files := mustLayout(t, tree)

	for _, e := range expected {
		t.Run("expects "+e, func(t *testing.T) {
			file := byName[e]
			if file == "" {
				t.Fatalf("the model of rename names no input %s, as rename_test.go expects: fix jxRename", e)
			}
			if msg, ok := notYAML[file]; ok {
				t.Logf("%s: %s: rename names it after dropping its {{ lines; configroot refuses it: %s", file,
					testutil.JenkinsXRow(t, rowNotYAML, "not valid YAML"), msg)
				return
			}
			for _, d := range docs(t, inputs[file]) {
				got := crFileOf(t, files, d, ns, "templates/"+file)
				switch {
				case path.Base(got.path) == e:
					t.Logf("%s: same: %s", file, got.path)
				case d.GetKind() == "Namespace" && got.path == path.Join(render.DirClusterNS, d.GetName()+".yaml"):
					t.Logf("%s: %s: %s", file, testutil.JenkinsXRow(t, rowNamespaceObjs, "Namespace object"), got.path)
				default:
					t.Errorf("%s: configroot writes %s, rename_test.go expects %s", file, got.path, e)
				}
			}
		})
	}
	t.Run("every resource, through the chain", func(t *testing.T) {
		logOutcomes(t, compareChain(t, jx, ns, release, chainInputs, files))
	})
	t.Run("knative and core Service of one name", func(t *testing.T) {
		var svc []string
		for _, f := range files {
			if f.node.GetKind() == "Service" && f.node.GetName() == "cheese" {
				svc = append(svc, path.Base(f.path))
			}
		}
		sort.Strings(svc)
		if strings.Join(svc, " ") != "cheese-ksvc.yaml cheese-svc.yaml" {
			t.Fatalf("the Services cheese are in %v, want cheese-ksvc.yaml and cheese-svc.yaml", svc)
		}
		t.Log("same: cheese-ksvc.yaml and cheese-svc.yaml")
	})
}

// ---- helmfile move --------------------------------------------------------------------

// jxMoveCase is one case of move_test.go's table, with the --override-namespace its driver
// runs it with (both when the case leaves it empty).
type jxMoveCase struct {
	folder            string
	hasReleaseName    bool
	expectedFiles     []string
	releaseNames      map[string]string // expectedHelmReleaseAnnotations
	expectedNamespace map[string]string
	nonStandardNS     map[string]string
	override          bool
}

func loadMoveCases(t *testing.T, dir string) []jxMoveCase {
	t.Helper()
	src := testutil.ParseGo(t, filepath.Join(dir, "move_test.go"))
	v, err := testutil.GoValue(src.Assigned(t, src.Func(t, "TestUpdateNamespaceInYamlFiles"), "tests"))
	if err != nil {
		t.Fatalf("move_test.go: tests: %v", err)
	}
	var cases []jxMoveCase
	for _, e := range v.([]any) {
		m := e.(map[string]any)
		c := jxMoveCase{
			folder:            m["folder"].(string),
			releaseNames:      stringMap(m["expectedHelmReleaseAnnotations"]),
			expectedNamespace: stringMap(m["expectedNamespace"]),
			nonStandardNS:     stringMap(m["nonStandardNamespace"]),
		}
		c.hasReleaseName, _ = m["hasReleaseName"].(bool)
		if files, ok := m["expectedFiles"]; ok {
			c.expectedFiles = stringList(t, files)
		}
		// The test's driver: an empty overrideNamespace runs the case both ways.
		override, _ := m["overrideNamespace"].(string)
		if override == "" {
			for _, o := range []bool{true, false} {
				c.override = o
				cases = append(cases, c)
			}
			continue
		}
		o, err := strconv.ParseBool(override)
		if err != nil {
			t.Fatalf("move_test.go: %s: overrideNamespace %q", c.folder, override)
		}
		c.override = o
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatal("move_test.go: no cases read")
	}
	return cases
}

// TestJenkinsXHelmfileMove replays pkg/cmd/helmfile/move/move_test.go: each case's testdata
// folder is laid out as a rendered tree (a folder written by the older `helmfile template
// --output-dir`, <namespace>/<chart>/…, gets its release level: the chart name), and each
// expected file must be configroot's, with the helm release annotations and namespace the
// test checks. move's testdata skips `rename`, which the chain runs first: the file name the
// chain writes is rename's (jxRename), the folder is the test's.
func TestJenkinsXHelmfileMove(t *testing.T) {
	mod := testutil.JenkinsXGitops(t)
	dir := jxCmd(mod, "helmfile/move")
	jx := loadJXRename(t, mod)
	for _, c := range loadMoveCases(t, dir) {
		t.Run(fmt.Sprintf("%s/override-namespace=%t", c.folder, c.override), func(t *testing.T) {
			inputs := yamlFiles(t, filepath.Join(dir, "testdata", c.folder))
			tree := map[string][]byte{}
			type input struct {
				release render.Release
				file    string // in the chart folder
				doc     *yaml.RNode
				anns    map[string]string // the annotations the file had
			}
			var all []input
			releaseNS := map[string]bool{}
			for _, p := range sortedKeys(inputs) {
				parts := strings.SplitN(p, "/", 4)
				if !c.hasReleaseName {
					parts = append([]string{parts[0], parts[1]}, strings.SplitN(p, "/", 3)[1:]...)
				}
				r := render.Release{Namespace: parts[0], Name: parts[1], Chart: parts[2]}
				tree[strings.Join(parts, "/")] = inputs[p]
				releaseNS[r.Namespace] = true
				for _, d := range docs(t, inputs[p]) {
					all = append(all, input{release: r, file: parts[3], doc: d, anns: d.GetAnnotations()})
				}
			}
			files := mustLayout(t, tree)

			for _, e := range c.expectedFiles {
				// <tree>/<namespace>/<release folder>/…, where <tree> is one or two folders.
				parts := strings.Split(strings.TrimPrefix(e, render.DirClusterResources+"/"), "/")
				if parts[0] != render.DirCRDs && parts[0] != render.DirNamespaces {
					parts = append([]string{render.DirClusterResources}, parts...)
				}
				var in *input
				for i := range all {
					if path.Base(all[i].file) == path.Base(e) && all[i].release.Folder() == parts[2] {
						in = &all[i]
					}
				}
				if in == nil {
					t.Fatalf("%s: no input file of release folder %s named %s", e, parts[2], path.Base(e))
				}
				got := crFileOf(t, files, in.doc, in.release.Namespace, in.file)
				chain := path.Join(path.Dir(e), jx.name(in.doc.GetApiVersion(), in.doc.GetKind(), in.doc.GetName()))
				own := in.doc.GetNamespace()
				var outcome []string
				switch {
				case got.path == chain && chain == e:
					outcome = append(outcome, "same: "+e)
				case got.path == chain:
					outcome = append(outcome, fmt.Sprintf("same: %s (move's testdata calls it %s; in the chain, rename names it first)", got.path, path.Base(e)))
				case c.override && own != "" && own != in.release.Namespace &&
					got.path == path.Join(render.DirNamespaces, own, strings.Join(strings.Split(chain, "/")[2:], "/")):
					outcome = append(outcome, fmt.Sprintf("%s: the chart's namespace %s is kept: %s, jx %s",
						testutil.JenkinsXRow(t, rowNamespace, "forced into the namespace"), own, got.path, e))
				default:
					t.Errorf("%s: configroot writes %s, the chain %s", e, got.path, chain)
				}

				anns := got.node.GetAnnotations()
				if want, ok := c.releaseNames[e]; ok && want != "" {
					switch got := anns[render.AnnotationReleaseName]; {
					case got == want:
						outcome = append(outcome, "release-name "+got+": same")
					case in.anns[render.AnnotationReleaseName] == want && got == in.release.Name:
						outcome = append(outcome, fmt.Sprintf("release-name %s where the chart wrote %s: %s", got, want,
							testutil.JenkinsXRow(t, rowReleaseAnns, "annotation a chart writes itself")))
					default:
						t.Errorf("%s: meta.helm.sh/release-name %q, want %q", e, got, want)
					}
				}
				if want, ok := c.expectedNamespace[e]; ok && want != "" {
					if got := anns[render.AnnotationReleaseNamespace]; got != want {
						t.Errorf("%s: meta.helm.sh/release-namespace %q, want %q", e, got, want)
					}
					ns := got.node.GetNamespace()
					nonStandard, has := c.nonStandardNS[e]
					switch {
					case (c.override || !has) && (ns == "" || ns == want):
						outcome = append(outcome, fmt.Sprintf("namespace %q: same", ns))
					case c.override && ns == own:
						outcome = append(outcome, fmt.Sprintf("namespace %s, jx %s: %s", ns, want,
							testutil.JenkinsXRow(t, rowNamespace, "forced into the namespace")))
					case !c.override && has && ns == nonStandard:
						outcome = append(outcome, "namespace "+ns+": same")
					default:
						t.Errorf("%s: metadata.namespace %q (the test wants %q, or %q when not overridden)", e, ns, want, nonStandard)
					}
				}
				t.Logf("%s: %s", e, strings.Join(outcome, "; "))
			}

			// Not asserted by move_test.go, but its code (lazyCreateNamespaceResource): a
			// Namespace labelled name: <ns> for every release namespace.
			for _, ns := range sortedKeys(releaseNS) {
				p := path.Join(render.DirClusterNS, ns+".yaml")
				var got *crFile
				for i := range files {
					if files[i].path == p {
						got = &files[i]
					}
				}
				switch {
				case ns == "kube-system" || ns == "default":
					if got != nil {
						t.Errorf("%s written for a system namespace", p)
					}
					t.Logf("%s: none: %s", p, testutil.JenkinsXRow(t, rowNamespaceObjs, "Namespace object"))
				case got == nil:
					t.Errorf("no %s for release namespace %s", p, ns)
				case got.node.GetLabels()["name"] != ns:
					t.Errorf("%s: labels %v, want name: %s", p, got.node.GetLabels(), ns)
				default:
					t.Logf("%s: labelled name: %s: same", p, ns)
				}
			}
		})
	}
}

// ---- namespace ----------------------------------------------------------------------------

// TestJenkinsXNamespace replays pkg/cmd/namespace/namespace_test.go. Regular mode: every
// source.yaml, laid out as a template of a release in the test's namespace, must become its
// expected.yaml (helm's release annotations aside); laid out together, as the test puts them
// in one folder, every resource is compared with the file the chain writes. Dir mode: every
// folder of testdata/dirmode is a release of that namespace, and the test's assertions run
// over configroot's namespaces/ tree and Namespace files.
func TestJenkinsXNamespace(t *testing.T) {
	mod := testutil.JenkinsXGitops(t)
	dir := jxCmd(mod, "namespace")
	jx := loadJXRename(t, mod)
	src := testutil.ParseGo(t, filepath.Join(dir, "namespace_test.go"))

	t.Run("regular", func(t *testing.T) {
		fn := src.Func(t, "TestUpdateNamespaceInYamlFiles")
		root := fmt.Sprint(evalExpr(t, src, src.Assigned(t, fn, "sourceData"), nil))
		calls := testutil.Calls(fn, "namespace.UpdateNamespaceInYamlFiles")
		if len(calls) != 1 {
			t.Fatalf("namespace_test.go: %d calls of UpdateNamespaceInYamlFiles", len(calls))
		}
		ns := fmt.Sprint(evalExpr(t, src, calls[0].Args[1], nil))
		env := map[string]any{"sourceData": root, "name": "*"}
		source := fmt.Sprint(evalExpr(t, src, src.Assigned(t, fn, "srcFile"), env))
		expected := fmt.Sprint(evalExpr(t, src, src.Assigned(t, fn, "expectedFile"), env))
		inputs := yamlFiles(t, filepath.Join(dir, filepath.FromSlash(root)))

		const release = "regular"
		prefix := ns + "/" + release + "/" + release + "/templates/"
		together := map[string][]byte{}
		var chainInputs []chainInput
		for _, p := range sortedKeys(inputs) {
			if ok, _ := path.Match(source, path.Join(root, p)); !ok {
				continue
			}
			name := path.Base(path.Dir(p))
			want, err := yaml.Parse(string(inputs[path.Join(path.Dir(p), path.Base(expected))]))
			if err != nil {
				t.Fatalf("%s: %v", expected, err)
			}
			// As the test does, the source is copied to <case>.yaml of one folder.
			file := name + ".yaml"
			together[prefix+file] = inputs[p]
			in := docs(t, inputs[p])
			for _, d := range in {
				chainInputs = append(chainInputs, chainInput{file: "templates/" + file, doc: d})
			}
			t.Run(name, func(t *testing.T) {
				var kept []crFile
				for _, f := range mustLayout(t, map[string][]byte{prefix + file: inputs[p]}) {
					if !f.added() {
						kept = append(kept, f)
					}
				}
				if len(kept) != 1 || len(in) != 1 {
					t.Fatalf("%d resources from %d documents", len(kept), len(in))
				}
				got := kept[0]
				if !reflect.DeepEqual(content(t, got.node), content(t, want)) {
					t.Fatalf("%s:\n%s\nwant (namespace aside) %s", got.path, got.text, want.MustString())
				}
				switch gotNS, wantNS := got.node.GetNamespace(), want.GetNamespace(); {
				case gotNS == wantNS:
					t.Logf("%s: same (namespace %q)", name, gotNS)
				case gotNS == in[0].GetNamespace():
					t.Logf("%s: namespace %s, jx %s: %s", name, gotNS, wantNS, testutil.JenkinsXRow(t, rowNamespace, "forced into the namespace"))
				default:
					t.Errorf("%s: namespace %q, want %q", got.path, gotNS, wantNS)
				}
			})
		}
		if len(together) < 2 {
			t.Fatalf("only %d cases read from %s", len(together), root)
		}
		t.Run("in one folder, through the chain", func(t *testing.T) {
			logOutcomes(t, compareChain(t, jx, ns, release, chainInputs, mustLayout(t, together)))
		})
	})

	t.Run("dirmode", func(t *testing.T) {
		fn := src.Func(t, "TestNamespaceDirMode")
		root := fmt.Sprint(evalExpr(t, src, src.Assigned(t, fn, "srcFile"), nil))
		perNS, namespaces := -1, -1
		for _, call := range testutil.Calls(fn, "assert.Len") {
			n, _ := testutil.GoValue(call.Args[2])
			switch id, _ := call.Args[1].(*ast.Ident); {
			case id != nil && id.Name == "v":
				perNS, _ = n.(int)
			case id != nil && id.Name == "found":
				namespaces, _ = n.(int)
			}
		}
		if perNS < 0 || namespaces < 0 {
			t.Fatal("namespace_test.go: TestNamespaceDirMode's assert.Len calls not read")
		}
		inputs := yamlFiles(t, filepath.Join(dir, filepath.FromSlash(root)))
		tree := map[string][]byte{}
		chainInputs := map[string][]chainInput{}
		for _, p := range sortedKeys(inputs) {
			ns, file, _ := strings.Cut(p, "/")
			tree[ns+"/"+ns+"/"+ns+"/templates/"+file] = inputs[p]
			for _, d := range docs(t, inputs[p]) {
				chainInputs[ns] = append(chainInputs[ns], chainInput{file: "templates/" + file, doc: d})
			}
		}
		files := mustLayout(t, tree)
		for _, ns := range sortedKeys(chainInputs) {
			logOutcomes(t, compareChain(t, jx, ns, ns, chainInputs[ns], files))
		}

		// The test's walk over namespaces/, on configroot's tree.
		found := map[string][]string{}
		for _, f := range files {
			first, _, ok := strings.Cut(strings.TrimPrefix(f.path, render.DirNamespaces+"/"), "/")
			if !ok || !strings.HasPrefix(f.path, render.DirNamespaces+"/") {
				continue
			}
			if ns := f.node.GetNamespace(); ns != "" {
				if ns != first {
					t.Errorf("%s: namespace %s", f.path, ns)
				}
				found[ns] = append(found[ns], f.path)
			}
		}
		if len(found) != namespaces {
			t.Errorf("files in %d namespaces (%v), the test wants %d", len(found), found, namespaces)
		}
		for _, ns := range sortedKeys(found) {
			if len(found[ns]) != perNS {
				t.Errorf("namespace %s: %d files, the test wants %d", ns, len(found[ns]), perNS)
			}
			if _, ok := chainInputs[ns]; !ok {
				t.Logf("namespace %s holds a resource of another folder: %s", ns, testutil.JenkinsXRow(t, rowNamespace, "forced into the namespace"))
			}
		}
		// Every namespace found, and every release namespace, has its Namespace file, labelled
		// name: <ns> as namespace.go's lazyCreateNamespaceResource writes it.
		want := map[string]bool{}
		for ns := range found {
			want[ns] = true
		}
		for ns := range chainInputs {
			want[ns] = true
		}
		for _, ns := range sortedKeys(want) {
			p := path.Join(render.DirClusterNS, ns+".yaml")
			ok := false
			for _, f := range files {
				if f.path == p {
					ok = f.node.GetLabels()["name"] == ns
				}
			}
			if !ok {
				t.Errorf("no %s labelled name: %s", p, ns)
			}
		}
		t.Logf("namespaces %v each with %d file and a Namespace labelled with its name: same", sortedKeys(found), perNS)
	})
}
