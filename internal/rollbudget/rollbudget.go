// Package rollbudget bounds how many Gateways' data planes roll (replace
// their pods) at once across the cluster. It is pure: no client, no clock of
// its own (the caller injects one), so the queue, priorities, slot accounting
// and deadlines are unit-tested deterministically.
//
// A Gateway asks for a slot (Request) when applying its bundle would change
// its Deployment's pod template. It holds the slot until its roll is finished
// (Done: the Deployment is fully updated and Available) or it leaves (Forget:
// the change was reverted, the Gateway was deleted). A slot held longer than
// the deadline is reported stuck and is still held: a roll that cannot finish
// stops the wave instead of spreading a bad pod spec.
package rollbudget

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Priority orders the queue: Own before Fleet, then first come first served.
type Priority int

const (
	// Own: the Gateway's own inputs changed (its spec, its own EnvoyProxy).
	Own Priority = iota
	// Fleet: a change shared by many Gateways (berth's version, a
	// GatewayClass-level EnvoyProxy).
	Fleet
)

func (p Priority) String() string {
	if p == Own {
		return "own"
	}
	return "fleet"
}

// Limit is the budget: a number of Gateways, or a percentage of the Gateways
// served (rounded up, at least 1). Zero is unlimited.
type Limit struct {
	Value   int
	Percent bool
}

// ParseLimit reads "3", "10%" or "0" (unlimited).
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 || (pct && n > 100) {
		return Limit{}, fmt.Errorf("roll budget %q: want a non-negative integer or a percentage 0%%-100%%", s)
	}
	return Limit{Value: n, Percent: pct}, nil
}

func (l Limit) String() string {
	if l.Percent {
		return strconv.Itoa(l.Value) + "%"
	}
	return strconv.Itoa(l.Value)
}

// Slots is the number of concurrent rolls allowed when served Gateways are
// served; 0 means unlimited.
func (l Limit) Slots(served int) int {
	if l.Value == 0 {
		return 0
	}
	if !l.Percent {
		return l.Value
	}
	return max(1, int(math.Ceil(float64(served)*float64(l.Value)/100)))
}

// Decision answers a Request.
type Decision struct {
	// Go: the caller holds a slot and applies the new pod template.
	Go bool
	// Position is the 1-based place in the queue when !Go.
	Position int
	// Queued is the queue's length, Rolling the slots in use, Slots the
	// budget (0: unlimited) at the time of the decision.
	Queued, Rolling, Slots int
	// Since is when the slot was taken (Go) or the Gateway queued.
	Since time.Time
	// Stuck: the slot has been held past the deadline.
	Stuck bool
	// RecheckAfter (Go and not yet stuck) is when the slot becomes stuck:
	// the caller looks again then.
	RecheckAfter time.Duration
	// Wake lists the other keys this request admitted (slots freed by a
	// smaller budget or a deadline are not among them: slots are freed only
	// by Done and Forget). Callers reconcile them.
	Wake []string
}

type entry struct {
	prio  Priority
	seq   uint64
	since time.Time
}

// Budget is the cluster-wide queue of rolls. Safe for concurrent use.
type Budget struct {
	now      func() time.Time
	deadline time.Duration

	mu      sync.Mutex
	seq     uint64
	rolling map[string]time.Time
	queued  map[string]entry
}

// New returns an empty budget. now is the clock (time.Now in production);
// a slot held longer than deadline is stuck (0: never).
func New(now func() time.Time, deadline time.Duration) *Budget {
	return &Budget{now: now, deadline: deadline, rolling: map[string]time.Time{}, queued: map[string]entry{}}
}

// Request asks for a slot for key with priority p under limit, given the
// number of Gateways served. A key already holding a slot keeps it; a queued
// key keeps its place (a higher priority moves it forward).
func (b *Budget) Request(key string, p Priority, limit Limit, served int) Decision {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	slots := limit.Slots(served)
	if _, ok := b.rolling[key]; !ok {
		e, ok := b.queued[key]
		if !ok {
			b.seq++
			e = entry{prio: p, seq: b.seq, since: now}
		} else if p < e.prio {
			// Promoted: behind those already waiting at p.
			b.seq++
			e.prio, e.seq = p, b.seq
		}
		b.queued[key] = e
	}
	admitted := b.admit(slots, now)
	d := Decision{Slots: slots}
	if since, ok := b.rolling[key]; ok {
		d.Go, d.Since = true, since
		d.Stuck, d.RecheckAfter = b.stuck(since, now)
	} else {
		d.Since = b.queued[key].since
		d.Position = slices.Index(b.order(), key) + 1
	}
	for _, k := range admitted {
		if k != key {
			d.Wake = append(d.Wake, k)
		}
	}
	d.Queued, d.Rolling = len(b.queued), len(b.rolling)
	return d
}

// Adopt records a roll already under way (found after a restart): it holds
// a slot even beyond the budget, since its pods are already being replaced.
func (b *Budget) Adopt(key string) Decision {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if _, ok := b.rolling[key]; !ok {
		delete(b.queued, key)
		b.rolling[key] = now
	}
	since := b.rolling[key]
	d := Decision{Go: true, Since: since, Queued: len(b.queued), Rolling: len(b.rolling)}
	d.Stuck, d.RecheckAfter = b.stuck(since, now)
	return d
}

// Done finishes key's roll (or drops it from the queue) and admits the next
// queued keys under limit; it returns them for the caller to wake.
func (b *Budget) Done(key string, limit Limit, served int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.rolling, key)
	delete(b.queued, key)
	return b.admit(limit.Slots(served), b.now())
}

// Holds reports whether key holds a slot or waits for one.
func (b *Budget) Holds(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, r := b.rolling[key]
	_, q := b.queued[key]
	return r || q
}

// Counts returns the queued and rolling Gateways, and how many of the
// rolling ones are stuck.
func (b *Budget) Counts() (queued, rolling, stuck int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for _, since := range b.rolling {
		if s, _ := b.stuck(since, now); s {
			stuck++
		}
	}
	return len(b.queued), len(b.rolling), stuck
}

// Rolling returns the keys holding a slot, sorted.
func (b *Budget) Rolling() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.rolling))
	for k := range b.rolling {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Queue returns the queued keys in the order they will be admitted.
func (b *Budget) Queue() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order()
}

func (b *Budget) stuck(since, now time.Time) (bool, time.Duration) {
	if b.deadline <= 0 {
		return false, 0
	}
	left := since.Add(b.deadline).Sub(now)
	if left <= 0 {
		return true, 0
	}
	return false, left
}

// order is the queue sorted by priority, then arrival. Callers hold mu.
func (b *Budget) order() []string {
	out := make([]string, 0, len(b.queued))
	for k := range b.queued {
		out = append(out, k)
	}
	slices.SortFunc(out, func(x, y string) int {
		ex, ey := b.queued[x], b.queued[y]
		if ex.prio != ey.prio {
			return int(ex.prio) - int(ey.prio)
		}
		if ex.seq < ey.seq {
			return -1
		}
		if ex.seq > ey.seq {
			return 1
		}
		return 0
	})
	return out
}

// admit moves queued keys into free slots. Callers hold mu.
func (b *Budget) admit(slots int, now time.Time) []string {
	var out []string
	for _, k := range b.order() {
		if slots > 0 && len(b.rolling) >= slots {
			break
		}
		delete(b.queued, k)
		b.rolling[k] = now
		out = append(out, k)
	}
	return out
}
