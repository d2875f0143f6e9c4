package testutil

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// GoSource is a parsed Go file of another module, for tests that replay that module's own
// test tables (read from the module cache, never copied into this repo).
type GoSource struct {
	// Path is the file parsed.
	Path string
	// Fset holds its positions.
	Fset *token.FileSet
	// File is its syntax tree.
	File *ast.File
}

// ParseGo parses the Go file p, failing t when it does not parse.
func ParseGo(t testing.TB, p string) GoSource {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, p, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", p, err)
	}
	return GoSource{Path: p, Fset: fset, File: f}
}

// Pos names where n is, as "file.go:line", for test messages.
func (s GoSource) Pos(n ast.Node) string {
	p := s.Fset.Position(n.Pos())
	return fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
}

// Func returns the top-level function name, failing t when the file has none.
func (s GoSource) Func(t testing.TB, name string) *ast.FuncDecl {
	t.Helper()
	for _, d := range s.File.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == name {
			return fn
		}
	}
	t.Fatalf("%s: no function %s", s.Path, name)
	return nil
}

// Var returns the value of the package-level `var name = …`, failing t when there is none.
func (s GoSource) Var(t testing.TB, name string) ast.Expr {
	t.Helper()
	for _, d := range s.File.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			for i, id := range v.Names {
				if id.Name == name && i < len(v.Values) {
					return v.Values[i]
				}
			}
		}
	}
	t.Fatalf("%s: no package variable %s", s.Path, name)
	return nil
}

// Assigned returns the value first assigned to name in n (`name := …` or `name = …`, one
// name on the left), failing t when there is none.
func (s GoSource) Assigned(t testing.TB, n ast.Node, name string) ast.Expr {
	t.Helper()
	var found ast.Expr
	ast.Inspect(n, func(c ast.Node) bool {
		a, ok := c.(*ast.AssignStmt)
		if found != nil || !ok || len(a.Lhs) != 1 || len(a.Rhs) != 1 {
			return found == nil
		}
		if id, ok := a.Lhs[0].(*ast.Ident); ok && id.Name == name {
			found = a.Rhs[0]
		}
		return found == nil
	})
	if found == nil {
		t.Fatalf("%s: %s is never assigned", s.Path, name)
	}
	return found
}

// CallName returns the name a call is made by: "assert.FileExists", "filepath.Join", "len";
// "" for any other shape.
func CallName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}

// Calls returns the calls in n made by one of names (see CallName), in source order.
func Calls(n ast.Node, names ...string) []*ast.CallExpr {
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
	}
	var calls []*ast.CallExpr
	ast.Inspect(n, func(c ast.Node) bool {
		if call, ok := c.(*ast.CallExpr); ok && want[CallName(call)] {
			calls = append(calls, call)
		}
		return true
	})
	return calls
}

// GoValue evaluates the literal shapes test tables are written in: string and int literals,
// true and false, and composite literals of them. A slice gives []any, a map map[string]any
// (keys evaluated, then printed with %v) and a struct (keyed fields, type named or elided)
// map[string]any by field name. Anything else is an error naming what it is.
func GoValue(e ast.Expr) (any, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		switch e.Kind {
		case token.STRING:
			return strconv.Unquote(e.Value)
		case token.INT:
			return strconv.Atoi(e.Value)
		}
	case *ast.Ident:
		switch e.Name {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	case *ast.CompositeLit:
		return compositeValue(e)
	}
	return nil, fmt.Errorf("not a literal: %T", e)
}

func compositeValue(e *ast.CompositeLit) (any, error) {
	keyed := len(e.Elts) > 0
	for _, el := range e.Elts {
		if _, ok := el.(*ast.KeyValueExpr); !ok {
			keyed = false
		}
	}
	_, isMap := e.Type.(*ast.MapType)
	_, isArray := e.Type.(*ast.ArrayType)
	if isArray || (!isMap && !keyed && e.Type == nil) {
		list := make([]any, 0, len(e.Elts))
		for _, el := range e.Elts {
			v, err := GoValue(el)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	}
	m := make(map[string]any, len(e.Elts))
	for _, el := range e.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return nil, fmt.Errorf("composite literal mixes keyed and unkeyed elements")
		}
		var key string
		if id, ok := kv.Key.(*ast.Ident); ok && !isMap {
			key = id.Name // a struct field
		} else {
			k, err := GoValue(kv.Key)
			if err != nil {
				return nil, err
			}
			key = fmt.Sprint(k)
		}
		v, err := GoValue(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		m[key] = v
	}
	return m, nil
}
