package closest

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"labels", "lables", 2},
		{"kitten", "sitting", 3},
		{"cert-manager", "cert-manger", 1},
		{"über", "uber", 1},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestNames(t *testing.T) {
	cands := []string{"labels", "annotations", "podTemplate", "configHash", "match", "Labels"}
	if got := Names("lables", cands, 3); !slices.Equal(got, []string{"labels", "Labels"}) {
		t.Errorf("Names(lables) = %q", got)
	}
	if got := Names("podtemplate", cands, 3); !slices.Equal(got, []string{"podTemplate"}) {
		t.Errorf("Names(podtemplate) = %q", got)
	}
	if got := Names("zzzzzz", cands, 3); len(got) != 0 {
		t.Errorf("Names(zzzzzz) = %q, want nothing", got)
	}
	if got := Names("a", []string{"b", "c", "d"}, 2); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("Names(a) = %q, want the first two at distance 1", got)
	}
}
