package history

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/configroot/configroot/modules/internal/kinds"
)

// Query names one resource of config-root the way kubectl does: a kind and a name, and a
// namespace for namespaced resources.
type Query struct {
	// Kinds are the kinds the resource may have, compared case-insensitively with its kind
	// field (several when the typed kind may be a plural: "ingresses" → ingresses, ingresse,
	// ingress).
	Kinds []string
	// Group is the API group the resource must have, when GroupSet ("" is the core group).
	Group    string
	GroupSet bool
	// Name is the resource's metadata.name.
	Name string
	// Namespace, when set, is the namespace of a namespaced resource. A cluster-scoped
	// resource of that kind and name matches any namespace (so that a resource that changed
	// scope is followed).
	Namespace string
	// Input is the resource as typed, for messages.
	Input string
}

// ParseQuery parses a resource as kubectl takes it, "KIND/NAME", with namespace from -n.
// KIND is a kind ("Deployment", any case), its plural ("deployments"), a kubectl short name
// or a Jenkins X file suffix ("deploy", "cm", "crb", "ksvc": internal/kinds), optionally
// followed by ".GROUP"
// ("deployments.apps", "certificate.cert-manager.io"). A bare kind matches any API group;
// a short name, its own group.
func ParseQuery(resource, namespace string) (Query, error) {
	kind, name, ok := strings.Cut(resource, "/")
	if !ok || kind == "" || name == "" || strings.Contains(name, "/") {
		return Query{}, fmt.Errorf("resource %q: want KIND/NAME, e.g. Deployment/cert-manager or deploy/cert-manager", resource)
	}
	q := Query{Name: name, Namespace: namespace, Input: resource}
	if k, group, ok := strings.Cut(kind, "."); ok {
		if group == "" {
			return Query{}, fmt.Errorf("resource %q: empty API group after %q", resource, k+".")
		}
		kind, q.Group, q.GroupSet = k, group, true
	}
	lower := strings.ToLower(kind)
	if s, ok := kinds.Short(kind); ok {
		q.Kinds = []string{s.Kind}
		if !q.GroupSet {
			q.Group, q.GroupSet = s.Group, true
		}
		return q, nil
	}
	q.Kinds = []string{kind}
	switch {
	case strings.HasSuffix(lower, "ies"):
		q.Kinds = append(q.Kinds, kind[:len(kind)-3]+"y")
	case strings.HasSuffix(lower, "es"):
		q.Kinds = append(q.Kinds, kind[:len(kind)-2], kind[:len(kind)-1])
	case strings.HasSuffix(lower, "s"):
		q.Kinds = append(q.Kinds, kind[:len(kind)-1])
	}
	return q, nil
}

// String names the query for messages: "Deployment cert-manager/cert-manager".
func (q Query) String() string {
	kind := q.Kinds[0]
	if q.GroupSet && q.Group != "" {
		kind += "." + q.Group
	}
	if q.Namespace != "" {
		return kind + " " + q.Namespace + "/" + q.Name
	}
	return kind + " " + q.Name
}

// mayBe reports whether the query may name a resource of kind (case-insensitively).
func (q Query) mayBe(kind string) bool {
	for _, k := range q.Kinds {
		if strings.EqualFold(k, kind) {
			return true
		}
	}
	return false
}

// matches reports whether the resource id answers the query.
func (q Query) matches(id Resource) bool {
	switch {
	case id.Name != q.Name || !q.mayBe(id.Kind):
		return false
	case q.GroupSet && id.Group() != q.Group:
		return false
	case q.Namespace != "" && id.Namespace != "" && id.Namespace != q.Namespace:
		return false
	}
	return true
}

// Resource is a resource's identity, as its file in config-root says.
type Resource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Group returns the resource's API group ("" for the core group).
func (r Resource) Group() string {
	if i := strings.LastIndexByte(r.APIVersion, '/'); i >= 0 {
		return r.APIVersion[:i]
	}
	return ""
}

// Qualified is String with the API group: "Deployment.apps cert-manager/cert-manager"
// ("Service default/web" for the core group).
func (r Resource) Qualified() string {
	if g := r.Group(); g != "" {
		return Resource{Kind: r.Kind + "." + g, Namespace: r.Namespace, Name: r.Name}.String()
	}
	return r.String()
}

// String returns "Kind namespace/name" ("Kind name" for a cluster-scoped resource).
func (r Resource) String() string {
	if r.Namespace != "" {
		return r.Kind + " " + r.Namespace + "/" + r.Name
	}
	return r.Kind + " " + r.Name
}

// NotFoundError is returned when no commit walked has the resource. Closest lists the
// resources of the starting commit whose names are nearest, as "Kind namespace/name".
type NotFoundError struct {
	Query   Query
	Path    string // the config-root folder searched, in the repo
	Closest []string
	// Since is Options.Since: the walk stopped at the commits older than it.
	Since time.Time
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("%s: not found in the history of %s", e.Query, e.Path)
	if !e.Since.IsZero() {
		msg += " since " + e.Since.Format("2006-01-02 15:04 -0700")
	}
	if len(e.Closest) > 0 {
		msg += " (closest: " + strings.Join(e.Closest, ", ") + ")"
	}
	return msg
}

// AmbiguousError is returned when several resources answer the query (the same name in
// several namespaces with no -n, or one kind name in several API groups).
type AmbiguousError struct {
	Query Query
	// Matches are the resources found, each with the last path it had.
	Matches []Match
}

// Match is a resource found and where it was last seen.
type Match struct {
	Resource Resource
	Path     string
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is ambiguous: %d resources match; add -n NAMESPACE or write KIND.GROUP/NAME:", e.Query.Input, len(e.Matches))
	for _, m := range e.Matches {
		fmt.Fprintf(&b, "\n  %s (%s)", m.Resource.Qualified(), m.Path)
	}
	return b.String()
}

// ErrNotFound and ErrAmbiguous are matched by errors.Is on the errors above.
var (
	ErrNotFound  = errors.New("resource not found")
	ErrAmbiguous = errors.New("ambiguous resource")
)

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Is makes errors.Is(err, ErrAmbiguous) true.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }
