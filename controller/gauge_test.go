package controller

import (
	"testing"

	k8stypes "k8s.io/apimachinery/pkg/types"
)

func TestConditionGauge(t *testing.T) {
	g := newConditionGauge()
	var published gaugeCounts
	publish := func(c gaugeCounts) { published = c }
	set := func(key k8stypes.NamespacedName, v [2]bool) gaugeCounts { g.set(key, v, publish); return published }
	forget := func(key k8stypes.NamespacedName) gaugeCounts { g.forget(key, publish); return published }
	a := k8stypes.NamespacedName{Namespace: "ns", Name: "a"}
	b := k8stypes.NamespacedName{Namespace: "ns", Name: "b"}
	steps := []struct {
		name string
		do   func() gaugeCounts
		want gaugeCounts
		len  int
	}{
		{"a accepted, not programmed", func() gaugeCounts { return set(a, [2]bool{true, false}) }, gaugeCounts{{0, 1}, {1, 0}}, 1},
		{"b not accepted", func() gaugeCounts { return set(b, [2]bool{false, false}) }, gaugeCounts{{1, 1}, {2, 0}}, 2},
		{"a programmed: moved, not added", func() gaugeCounts { return set(a, [2]bool{true, true}) }, gaugeCounts{{1, 1}, {1, 1}}, 2},
		{"a again, unchanged", func() gaugeCounts { return set(a, [2]bool{true, true}) }, gaugeCounts{{1, 1}, {1, 1}}, 2},
		{"b forgotten", func() gaugeCounts { return forget(b) }, gaugeCounts{{0, 1}, {0, 1}}, 1},
		{"b forgotten twice", func() gaugeCounts { return forget(b) }, gaugeCounts{{0, 1}, {0, 1}}, 1},
		{"a forgotten", func() gaugeCounts { return forget(a) }, gaugeCounts{}, 0},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Errorf("%s: counts %v, want %v", s.name, got, s.want)
		}
		if got := g.len(); got != s.len {
			t.Errorf("%s: len %d, want %d", s.name, got, s.len)
		}
	}
}
