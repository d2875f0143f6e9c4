package populate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/configroot/configroot/modules/render"
	"github.com/configroot/configroot/modules/secrets"
	"github.com/configroot/configroot/modules/secrets/store"
	"github.com/configroot/configroot/modules/secrets/values"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Options configure a Populate run.
type Options struct {
	// Source is the cluster repo (default ".").
	Source string
	// ConfigRoot is the folder of ExternalSecrets (default <Source>/config-root).
	ConfigRoot string
	// SourcesFile declares the value sources (default <Source>/.configroot/secret-sources.yaml).
	SourcesFile string
	// DryRun plans and resolves references but writes nothing; generators are not run.
	DryRun bool
	// Overwrite replaces values already in the store; by default they are left as they are.
	Overwrite bool
	// Connection overrides the store settings config-root declares.
	Connection Connection
	// Open opens the store a StoreSpec describes (default: Connect with Connection).
	Open func(ctx context.Context, spec StoreSpec) (store.Store, error)
	// Evaluator resolves vals references (default: one values.NewRuntime for the run).
	Evaluator values.Evaluator
	// Render renders the repo for "rendered" sources, in memory (render.Collect); its Source
	// defaults to Source. It runs only when some missing value has that source.
	Render render.Options
	// Log receives warnings, one line each (default: discarded).
	Log io.Writer
}

// Status is what populate did, or would do, with one entry.
type Status string

// The statuses of an Item.
const (
	// Present: the store has the value; it was left as it is.
	Present Status = "present"
	// Written: the value was written (over an existing one when Item.Replaced).
	Written Status = "written"
	// WouldWrite: a dry run would write the value.
	WouldWrite Status = "would-write"
	// Pending: the value was to be written when the run stopped on an error.
	Pending Status = "pending"
	// NoSource: the store lacks the value and no source declares one; nothing was written.
	NoSource Status = "no-source"
	// Unsupported: the entry's store is one populate cannot write to.
	Unsupported Status = "unsupported"
	// WrongForm: the store has a value in a form the entry does not read (text where it
	// decodes base64, as an older populate wrote binary values); it was left as it is.
	WrongForm Status = "wrong-form"
)

// Item is one ExternalSecret entry and what populate did with it. It holds no value.
type Item struct {
	Entry
	// StorePath is where the value lives: the store's path of the remote key, then
	// "#property" when there is one.
	StorePath string
	// Source describes where the value came from (a vals reference, "password", "hmac",
	// "rendered"), for entries written or to be written.
	Source string
	// Status is what was done.
	Status Status
	// Replaced is true when a value already in the store was overwritten.
	Replaced bool
}

// String is the item as one tab-separated report line: status, namespace/Secret, key, store,
// store path, then the source and "(replaced)" when they apply. It never holds a value.
func (it Item) String() string {
	line := fmt.Sprintf("%s\t%s/%s\t%s\t%s\t%s", it.Status, it.Namespace, it.Secret, it.Key, it.Store, it.StorePath)
	if it.Source != "" {
		line += "\t" + it.Source
	}
	if it.Replaced {
		line += "\t(replaced)"
	}
	return line
}

// Result lists every entry of config-root's ExternalSecrets, sorted, with what was done.
type Result struct {
	Items []Item
	// Warnings are problems that stopped nothing.
	Warnings []string
	// DryRun is true when nothing was written on purpose.
	DryRun bool
}

// Count returns the number of items with status s.
func (r Result) Count(s Status) int {
	n := 0
	for _, it := range r.Items {
		if it.Status == s {
			n++
		}
	}
	return n
}

// ErrNoSource is returned, after everything else was written, when values are missing from
// their store and no source declares them (or the declared one is the render, which gives
// only empty placeholders).
var ErrNoSource = errors.New("missing from the store with no source declared in " + SourcesFile)

// ErrWrongForm is returned, after everything else was written, when values already in their
// store are in a form their ExternalSecret entry cannot decode (the operator would fail to
// sync them). They are not rewritten: --overwrite replaces them.
var ErrWrongForm = errors.New("stored in a form their ExternalSecret entry cannot decode (replace them with --overwrite)")

// doc is one remote secret: the properties read and those to write.
type doc struct {
	storeName string
	st        store.Store
	key       string
	path      string
	props     values.Values
	exists    bool
	write     []string // properties to write, sorted
	items     map[string][]int
}

// Populate finds every ExternalSecret entry of config-root whose value is missing from its
// store and writes a value from its declared source.
//
// Nothing is written unless every store could be read and every value resolved: a missing
// key, an unreachable store or a bad reference stops the run before the first write. Writes
// go one remote secret at a time (each write is whole: all its new properties or none); if a
// write fails, the Result tells exactly which entries were written. Values already in a
// store are kept unless Overwrite is set. Errors and the Result name secrets, keys and store
// paths, never a value.
func Populate(ctx context.Context, o Options) (Result, error) {
	if o.Source == "" {
		o.Source = "."
	}
	if o.ConfigRoot == "" {
		o.ConfigRoot = filepath.Join(o.Source, "config-root")
	}
	if o.SourcesFile == "" {
		o.SourcesFile = filepath.Join(o.Source, SourcesFile)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Open == nil {
		conn := o.Connection
		o.Open = func(ctx context.Context, spec StoreSpec) (store.Store, error) { return Connect(ctx, spec, conn) }
	}
	res := Result{DryRun: o.DryRun}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		res.Warnings = append(res.Warnings, msg)
		fmt.Fprintf(o.Log, "warning: %s\n", msg)
	}

	cr, err := ReadConfigRoot(o.ConfigRoot)
	if err != nil {
		return res, err
	}
	srcs, err := LoadSources(o.SourcesFile)
	if err != nil {
		return res, err
	}
	if err := checkOverrides(o.Connection, cr); err != nil {
		return res, fmt.Errorf("%w (nothing written)", err)
	}
	for _, w := range append(cr.Warnings, srcs.unused(cr.Entries)...) {
		warn("%s", w)
	}

	// Open the stores and read every remote secret before anything is resolved or written.
	stores := map[string]store.Store{}
	docs := map[string]*doc{}
	var order []string
	unsupported := map[string]bool{}
	for i, e := range cr.Entries {
		spec := cr.Stores[e.Store]
		res.Items = append(res.Items, Item{Entry: e})
		it := &res.Items[i]
		if spec.Kind == "" {
			it.Status = Unsupported
			if !unsupported[e.Store] {
				unsupported[e.Store] = true
				warn("store %s: %s; its entries are left alone", e.Store, spec.Unsupported)
			}
			continue
		}
		st, ok := stores[e.Store]
		if !ok {
			st, err = o.Open(ctx, spec)
			if err != nil {
				return res, fmt.Errorf("store %s: %w (nothing written)", e.Store, err)
			}
			if c, ok := st.(io.Closer); ok {
				defer c.Close()
			}
			stores[e.Store] = st
		}
		it.StorePath = st.Path(e.RemoteKey)
		if e.Field != "" {
			it.StorePath += "#" + e.Field
		}
		if e.Version != "" && !slices.Contains([]string{"latest", "AWSCURRENT"}, e.Version) {
			warn("%s: remoteRef.version %s is pinned; populate reads and writes the current version", e.ID(), e.Version)
		}
		id := e.Store + "\x00" + e.RemoteKey
		d, ok := docs[id]
		if !ok {
			props, exists, err := st.Read(ctx, e.RemoteKey)
			if err != nil {
				return res, fmt.Errorf("store %s: %s: %w (nothing written)", e.Store, e.ID(), err)
			}
			d = &doc{storeName: e.Store, st: st, key: e.RemoteKey, path: st.Path(e.RemoteKey), props: props, exists: exists, items: map[string][]int{}}
			docs[id] = d
			order = append(order, id)
		}
		d.items[e.Field] = append(d.items[e.Field], i)
	}

	// Plan: which properties to write, from which source.
	type target struct {
		d    *doc
		prop string
		src  Source
	}
	var targets []target
	var noSource, wrongForm []string
	var errs []error
	for _, id := range order {
		d := docs[id]
		for _, prop := range sortedKeys(d.items) {
			idx := d.items[prop]
			enc, err := encoding(res.Items, idx)
			if err != nil {
				errs = append(errs, fmt.Errorf("store %s: %s: %w", d.storeName, res.Items[idx[0]].StorePath, err))
				continue
			}
			if present(d.props, prop) && !o.Overwrite {
				status := Present
				if v, _ := d.props.Get(prop); enc != nil && !decodes(enc, v) {
					status = WrongForm
					first := res.Items[idx[0]]
					wrongForm = append(wrongForm, fmt.Sprintf("%s (%s, decodingStrategy %s)", first.ID(), first.StorePath, first.Decoding))
				}
				for _, i := range idx {
					res.Items[i].Status = status
				}
				continue
			}
			var chosen *Source
			for _, i := range idx {
				it := &res.Items[i]
				src, ok := srcs.For(it.Entry)
				if !ok {
					it.Status = NoSource
					noSource = append(noSource, it.ID()+" ("+it.StorePath+")")
					continue
				}
				if chosen == nil {
					chosen = &src
				} else if src.Describe() != chosen.Describe() {
					warn("%s: %s is also filled for another Secret from %s; using that source, not %s", it.ID(), it.StorePath, chosen.Describe(), src.Describe())
				}
			}
			if chosen == nil {
				continue
			}
			for _, i := range idx {
				it := &res.Items[i]
				if it.Status == NoSource {
					// Another Secret's source fills the same store property.
					it.Status = ""
					noSource = slices.DeleteFunc(noSource, func(s string) bool { return s == it.ID()+" ("+it.StorePath+")" })
				}
				it.Status, it.Source, it.Replaced = Pending, chosen.Describe(), present(d.props, prop)
			}
			targets = append(targets, target{d: d, prop: prop, src: *chosen})
		}
	}

	if len(errs) > 0 {
		return res, fmt.Errorf("%w (nothing written)", errors.Join(errs...))
	}

	// Resolve every value before writing any.
	var rendered map[string]values.Values
	pending := map[*doc]values.Values{}
	for _, t := range targets {
		first := res.Items[t.d.items[t.prop][0]]
		name := fmt.Sprintf("Secret %s/%s key %s", first.Namespace, first.Secret, first.Key)
		if t.prop == store.Raw && cr.Stores[t.d.storeName].Kind == store.Vault {
			errs = append(errs, fmt.Errorf("%s: %s: a Vault entry needs remoteRef.property", name, t.d.path))
			continue
		}
		var v values.Value
		var err error
		switch {
		case t.src.Ref != "":
			if o.Evaluator == nil {
				rt, rerr := values.NewRuntime()
				if rerr != nil {
					return res, rerr
				}
				o.Evaluator = rt
			}
			v, err = values.Resolve(ctx, o.Evaluator, t.src.Ref)
		case t.src.Rendered:
			if rendered == nil {
				rendered, err = collectRendered(ctx, o)
				if err != nil {
					return res, fmt.Errorf("render for rendered secret values: %w (nothing written)", err)
				}
			}
			v, err = renderedValue(rendered, first.Entry)
			if errors.Is(err, errPlaceholder) {
				// Nothing to write: the source is as good as none.
				reason := fmt.Sprintf("%s (%s): %v", first.ID(), t.d.path, err)
				warn("%s", reason)
				for _, i := range t.d.items[t.prop] {
					res.Items[i].Status, res.Items[i].Source = NoSource, ""
					noSource = append(noSource, res.Items[i].ID()+" ("+res.Items[i].StorePath+", rendered empty)")
				}
				continue
			}
		case o.DryRun:
			// A dry run does not generate.
		case t.src.Password != nil:
			v, err = t.src.Password.Generate()
		case t.src.HMAC != nil:
			v, err = t.src.HMAC.Generate()
		}
		if err == nil {
			v, err = encodeFor(res.Items[t.d.items[t.prop][0]].Entry, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", name, t.d.path, err))
			continue
		}
		p := pending[t.d]
		p.Set(t.prop, v)
		pending[t.d] = p
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("%w (nothing written)", errors.Join(errs...))
	}
	// Check each remote secret's new payload can be encoded before the first write.
	for d, p := range pending {
		if cr.Stores[d.storeName].Kind == store.Vault {
			continue
		}
		merged := d.props.Clone()
		for _, n := range p.Names() {
			merged.Set(n, values.Value{})
		}
		if merged.Has(store.Raw) && merged.Len() > 1 {
			return res, fmt.Errorf("store %s: %s: entries with and without remoteRef.property share one remote secret (nothing written)", d.storeName, d.path)
		}
	}

	if o.DryRun {
		for i := range res.Items {
			if res.Items[i].Status == Pending {
				res.Items[i].Status = WouldWrite
			}
		}
		return res, errors.Join(noSourceErr(noSource), wrongFormErr(wrongForm))
	}

	written := 0
	for _, id := range order {
		d := docs[id]
		p, ok := pending[d]
		if !ok {
			continue
		}
		merged := d.props.Clone()
		for _, n := range p.Names() {
			v, _ := p.Get(n)
			merged.Set(n, v)
		}
		if err := d.st.Write(ctx, d.key, merged); err != nil {
			return res, fmt.Errorf("store %s: wrote %d of %d remote secrets, then %s: %w", d.storeName, written, len(pending), d.path, err)
		}
		written++
		for _, n := range p.Names() {
			for _, i := range d.items[n] {
				res.Items[i].Status = Written
			}
		}
	}
	return res, errors.Join(noSourceErr(noSource), wrongFormErr(wrongForm))
}

// present reports whether props hold a value for prop: a JSON null holds none.
func present(props values.Values, prop string) bool {
	v, ok := props.Get(prop)
	return ok && !v.IsNull()
}

func noSourceErr(missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%d values %w: %s", len(missing), ErrNoSource, strings.Join(missing, ", "))
}

func wrongFormErr(wrong []string) error {
	if len(wrong) == 0 {
		return nil
	}
	return fmt.Errorf("%d values %w: %s", len(wrong), ErrWrongForm, strings.Join(wrong, ", "))
}

// encoding returns the encoding in which the entries idx, which read one field of one
// remote secret, want their value stored (nil: as it is); entries that disagree are an
// error, since one field holds one form.
func encoding(items []Item, idx []int) (*base64.Encoding, error) {
	first := items[idx[0]]
	enc := decodings[first.Decoding]
	for _, i := range idx[1:] {
		if e := decodings[items[i].Decoding]; e != enc {
			return nil, fmt.Errorf("%s reads it with decodingStrategy %s but %s with %s: one field holds one form",
				first.ID(), first.Decoding, items[i].ID(), items[i].Decoding)
		}
	}
	return enc, nil
}

// decodes reports whether the operator can decode the stored value v with enc: what it
// reads for a field that is not a string is the field's JSON.
func decodes(enc *base64.Encoding, v values.Value) bool {
	_, err := enc.DecodeString(v.Reveal())
	return err == nil
}

// encodeFor returns v in the form entry e reads: base64 when e decodes it (binary values,
// secrets.IsBinary), else v itself, which must then be text: a JSON store would turn
// bytes that are not UTF-8 into U+FFFD.
func encodeFor(e Entry, v values.Value) (values.Value, error) {
	if enc := decodings[e.Decoding]; enc != nil {
		return values.New(enc.EncodeToString([]byte(v.Reveal()))), nil
	}
	if secrets.IsBinary([]byte(v.Reveal())) {
		return values.Value{}, fmt.Errorf("the value is binary (not UTF-8 text) but the ExternalSecret entry reads it as text (no remoteRef.decodingStrategy): " +
			"the store would corrupt it; render config-root again (binary keys get decodingStrategy: Base64) or set decodingStrategy: Base64 on the entry")
	}
	return v, nil
}

// collectRendered renders the repo in memory and returns the data of its Secrets by
// "namespace/name", the namespace being the Secret's own or its release's (kustomize output
// has no helm annotations). data is decoded as the converter decodes it (base64, whitespace
// and line breaks ignored); a key in both data and stringData takes the stringData value, as
// the API server does.
func collectRendered(ctx context.Context, o Options) (map[string]values.Values, error) {
	ro := o.Render
	if ro.Source == "" {
		ro.Source = o.Source
	}
	col, err := render.Collect(ctx, ro)
	if err != nil {
		return nil, err
	}
	out := map[string]values.Values{}
	for _, n := range col.Nodes {
		if n.GetKind() != "Secret" || n.GetApiVersion() != "v1" {
			continue
		}
		id := render.Namespace(n) + "/" + n.GetName()
		vs := out[id]
		if data := n.Field("data"); data != nil && data.Value != nil {
			err := data.Value.VisitFields(func(f *yaml.MapNode) error {
				k := f.Key.YNode().Value
				b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(f.Value.YNode().Value), ""))
				if err != nil {
					return fmt.Errorf("Secret %s key %s: data is not base64", id, k)
				}
				vs.Set(k, values.New(string(b)))
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		// stringData after data: its keys win.
		if sd := n.Field("stringData"); sd != nil && sd.Value != nil {
			_ = sd.Value.VisitFields(func(f *yaml.MapNode) error {
				vs.Set(f.Key.YNode().Value, values.New(f.Value.YNode().Value))
				return nil
			})
		}
		out[id] = vs
	}
	return out, nil
}

// errPlaceholder is renderedValue's answer for a Secret rendered with only empty values.
var errPlaceholder = errors.New("the render gives only empty placeholders for this Secret (Jenkins X charts leave credentials to the store): declare a source for the key in " + SourcesFile)

// renderedValue returns the rendered value of e's key. A rendered Secret whose values are
// all empty is a placeholder (errPlaceholder): its empty values are not values to store.
// An empty key in a Secret that has data is a value like any other.
func renderedValue(rendered map[string]values.Values, e Entry) (values.Value, error) {
	vs, ok := rendered[e.Namespace+"/"+e.Secret]
	if !ok {
		return values.Value{}, fmt.Errorf("the render has no Secret %s/%s", e.Namespace, e.Secret)
	}
	v, ok := vs.Get(e.Key)
	if !ok {
		return values.Value{}, fmt.Errorf("the rendered Secret %s/%s has no key %s", e.Namespace, e.Secret, e.Key)
	}
	for _, n := range vs.Names() {
		if w, _ := vs.Get(n); w.Len() > 0 {
			return v, nil
		}
	}
	return values.Value{}, errPlaceholder
}
