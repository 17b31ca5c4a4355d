package controller

import (
	"sync"

	k8stypes "k8s.io/apimachinery/pkg/types"
)

// conditionGauge remembers each served Gateway's Accepted and Programmed
// (true or not) as its status says them, and keeps the counts the
// berth_gateways gauge shows, so a reconcile updates them in constant time
// rather than counting the fleet again.
type conditionGauge struct {
	mu     sync.Mutex
	by     map[k8stypes.NamespacedName][2]bool
	counts gaugeCounts
}

// gaugeCounts counts Gateways by [condition][status]: condition 0 Accepted,
// 1 Programmed; status 0 not True, 1 True.
type gaugeCounts [2][2]int

func newConditionGauge() *conditionGauge {
	return &conditionGauge{by: map[k8stypes.NamespacedName][2]bool{}}
}

// set records key's conditions and hands the counts after it to publish,
// under the gauge's lock (so the last counts published are the last made).
func (g *conditionGauge) set(key k8stypes.NamespacedName, v [2]bool, publish func(gaugeCounts)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.by[key]; ok {
		g.count(old, -1)
	}
	g.by[key] = v
	g.count(v, 1)
	publish(g.counts)
}

// forget drops key and hands the counts after it to publish, as set does.
func (g *conditionGauge) forget(key k8stypes.NamespacedName, publish func(gaugeCounts)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.by[key]; ok {
		g.count(old, -1)
		delete(g.by, key)
	}
	publish(g.counts)
}

// len is the number of Gateways recorded.
func (g *conditionGauge) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.by)
}

func (g *conditionGauge) count(v [2]bool, d int) {
	for i, t := range v {
		s := 0
		if t {
			s = 1
		}
		g.counts[i][s] += d
	}
}
