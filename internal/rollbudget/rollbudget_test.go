package rollbudget

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newBudget(deadline time.Duration) (*Budget, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New(c.now, deadline), c
}

func TestParseLimitAndSlots(t *testing.T) {
	for _, tc := range []struct {
		in     string
		served int
		slots  int
	}{
		{"0", 50, 0}, {"2", 50, 2}, {"10%", 20, 2}, {"10%", 5, 1}, {"10%", 0, 1},
		{"10%", 21, 3}, {"100%", 7, 7}, {"0%", 7, 0},
	} {
		l, err := ParseLimit(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if l.String() != tc.in {
			t.Errorf("%q round-trips as %q", tc.in, l.String())
		}
		if got := l.Slots(tc.served); got != tc.slots {
			t.Errorf("%q of %d: %d slots, want %d", tc.in, tc.served, got, tc.slots)
		}
	}
	for _, bad := range []string{"", "-1", "x", "101%", "1.5", "%"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestBudgetAdmitsAtMostSlotsInOrder(t *testing.T) {
	b, _ := newBudget(0)
	lim := Limit{Value: 2}
	for i := range 5 {
		d := b.Request(fmt.Sprint("gw", i), Fleet, lim, 20)
		if d.Go != (i < 2) {
			t.Fatalf("gw%d: Go=%v", i, d.Go)
		}
		if !d.Go && d.Position != i-1 {
			t.Errorf("gw%d: position %d, want %d", i, d.Position, i-1)
		}
	}
	// Asking again keeps the place and admits nothing.
	if d := b.Request("gw4", Fleet, lim, 20); d.Go || d.Position != 3 || d.Queued != 3 || d.Rolling != 2 {
		t.Fatalf("re-request: %+v", d)
	}
	if woke := b.Done("gw0", lim, 20); !slices.Equal(woke, []string{"gw2"}) {
		t.Fatalf("done gw0 woke %v", woke)
	}
	if got := b.Rolling(); !slices.Equal(got, []string{"gw1", "gw2"}) {
		t.Fatalf("rolling %v", got)
	}
	if d := b.Request("gw2", Fleet, lim, 20); !d.Go {
		t.Fatalf("gw2 admitted but not Go: %+v", d)
	}
	// Forgetting a queued key frees nothing but shortens the queue.
	if woke := b.Done("gw3", lim, 20); len(woke) != 0 {
		t.Fatalf("dropping a queued key woke %v", woke)
	}
	if got := b.Queue(); !slices.Equal(got, []string{"gw4"}) {
		t.Fatalf("queue %v", got)
	}
}

func TestBudgetOwnGoesFirst(t *testing.T) {
	b, _ := newBudget(0)
	lim := Limit{Value: 1}
	b.Request("a", Fleet, lim, 10)
	b.Request("b", Fleet, lim, 10)
	b.Request("c", Fleet, lim, 10)
	if d := b.Request("own", Own, lim, 10); d.Go || d.Position != 1 {
		t.Fatalf("own: %+v", d)
	}
	// A queued fleet roll whose own inputs then change moves up behind it.
	if d := b.Request("c", Own, lim, 10); d.Position != 2 {
		t.Fatalf("c promoted: %+v", d)
	}
	if got := b.Queue(); !slices.Equal(got, []string{"own", "c", "b"}) {
		t.Fatalf("queue %v", got)
	}
	// A lower priority never demotes.
	b.Request("own", Fleet, lim, 10)
	if woke := b.Done("a", lim, 10); !slices.Equal(woke, []string{"own"}) {
		t.Fatalf("next after a: %v", woke)
	}
}

func TestBudgetStuckHoldsSlot(t *testing.T) {
	b, c := newBudget(10 * time.Minute)
	lim := Limit{Value: 1}
	d := b.Request("a", Fleet, lim, 5)
	if !d.Go || d.Stuck || d.RecheckAfter != 10*time.Minute {
		t.Fatalf("a: %+v", d)
	}
	b.Request("b", Fleet, lim, 5)
	c.t = c.t.Add(4 * time.Minute)
	if d := b.Request("a", Fleet, lim, 5); d.Stuck || d.RecheckAfter != 6*time.Minute {
		t.Fatalf("a after 4m: %+v", d)
	}
	c.t = c.t.Add(6 * time.Minute)
	d = b.Request("a", Fleet, lim, 5)
	if !d.Go || !d.Stuck || d.RecheckAfter != 0 {
		t.Fatalf("a after 10m: %+v", d)
	}
	if d := b.Request("b", Fleet, lim, 5); d.Go {
		t.Fatalf("b admitted while a is stuck: %+v", d)
	}
	if q, r, s := b.Counts(); q != 1 || r != 1 || s != 1 {
		t.Fatalf("counts %d %d %d", q, r, s)
	}
	// Healing (or removing) the stuck one resumes the queue.
	if woke := b.Done("a", lim, 5); !slices.Equal(woke, []string{"b"}) {
		t.Fatalf("woke %v", woke)
	}
	if d := b.Request("b", Fleet, lim, 5); !d.Go || d.Stuck || !d.Since.Equal(c.t) {
		t.Fatalf("b: %+v", d)
	}
}

func TestBudgetUnlimitedAndPercent(t *testing.T) {
	b, _ := newBudget(0)
	for i := range 30 {
		if d := b.Request(fmt.Sprint(i), Fleet, Limit{}, 30); !d.Go {
			t.Fatalf("unlimited queued %d", i)
		}
	}
	b2, _ := newBudget(0)
	pct := Limit{Value: 10, Percent: true}
	var goes int
	for i := range 30 {
		if b2.Request(fmt.Sprint(i), Fleet, pct, 30).Go {
			goes++
		}
	}
	if goes != 3 {
		t.Fatalf("10%% of 30 admitted %d", goes)
	}
	// A larger budget admits the queue on the next request.
	d := b2.Request("29", Fleet, Limit{Value: 5}, 30)
	if len(d.Wake)+btoi(d.Go) != 2 {
		t.Fatalf("raising the budget to 5: %+v", d)
	}
}

func TestBudgetAdoptBeyondLimit(t *testing.T) {
	b, _ := newBudget(time.Minute)
	lim := Limit{Value: 1}
	b.Adopt("a")
	b.Adopt("b")
	if d := b.Request("c", Fleet, lim, 3); d.Go || d.Rolling != 2 {
		t.Fatalf("c: %+v", d)
	}
	if woke := b.Done("a", lim, 3); len(woke) != 0 {
		t.Fatalf("one of two adopted done admitted %v", woke)
	}
	if woke := b.Done("b", lim, 3); !slices.Equal(woke, []string{"c"}) {
		t.Fatalf("woke %v", woke)
	}
	if !b.Holds("c") || b.Holds("a") {
		t.Fatal("Holds")
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}
