// Package closest ranks candidate names by their edit distance to a name a user typed, for
// "did you mean" hints in errors (an unknown configroot.yaml field, a resource that
// configroot history cannot find).
package closest

import (
	"sort"
	"strings"
)

// Distance returns the Levenshtein distance between a and b: the fewest single-rune
// insertions, deletions and substitutions that turn one into the other.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Names returns at most n of candidates closest to name, nearest first (ties in the
// candidates' order), comparing case-insensitively. Only candidates within a third of the
// longer string's length (at least 2 edits) are returned, so that the hint is never noise;
// duplicates are returned once.
func Names(name string, candidates []string, n int) []string {
	type scored struct {
		s    string
		d, i int
	}
	lname := strings.ToLower(name)
	seen := map[string]bool{}
	var all []scored
	for i, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		d := Distance(lname, strings.ToLower(c))
		limit := max(2, max(len(name), len(c))/3)
		if d <= limit {
			all = append(all, scored{c, d, i})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].d < all[j].d })
	out := make([]string, 0, min(n, len(all)))
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.s)
	}
	return out
}
