package shutdown

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// testOptions are short timings: the logic is the same at any scale.
func testOptions(t *testing.T, adminURL string) Options {
	o := DefaultOptions()
	o.ListenAddress = "127.0.0.1:0"
	o.AdminURL = adminURL
	o.MinDrain = 0
	o.MaxDrain = 5 * time.Second
	o.PollInterval = 20 * time.Millisecond
	o.AdminTimeout = 200 * time.Millisecond
	o.DrainStartWait = 300 * time.Millisecond
	o.Log = zaptest.NewLogger(t)
	return o
}

func newManager(t *testing.T, o Options) *Manager {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func drain(t *testing.T, m *Manager) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, ok := m.Drain(ctx)
	if !ok {
		t.Fatal("drain did not end within 30s")
	}
	t.Logf("result: %s", res)
	return res
}

func TestDrainWaitsForConnectionsThenStopsPolling(t *testing.T) {
	f := newFakeAdmin(t)
	f.conns = func(n int) int64 { return max(0, 3-int64(n)) } // 3, 2, 1, 0
	o := testOptions(t, f.srv.URL)
	res := drain(t, newManager(t, o))

	if res.Outcome != Drained || res.Connections != 0 || !res.HealthcheckFailed || res.Err != nil {
		t.Fatalf("result = %+v, want Drained with 0 connections, health check failed, no error", res)
	}
	hc, stats := f.counts()
	if hc != 1 {
		t.Errorf("healthcheck/fail called %d times, want 1", hc)
	}
	if stats != 4 {
		t.Errorf("stats read %d times, want 4 (3, 2, 1, 0 connections)", stats)
	}
	// Nothing polls after the drain.
	time.Sleep(5 * o.PollInterval)
	if _, after := f.counts(); after != stats {
		t.Errorf("stats read %d more times after the drain ended", after-stats)
	}
}

func TestDrainHonoursMinDrain(t *testing.T) {
	f := newFakeAdmin(t) // no connections at all
	o := testOptions(t, f.srv.URL)
	o.MinDrain = 400 * time.Millisecond
	start := time.Now()
	res := drain(t, newManager(t, o))
	if res.Outcome != Drained {
		t.Fatalf("outcome = %s, want Drained", res.Outcome)
	}
	if res.Duration < o.MinDrain {
		t.Errorf("drain took %s, less than the min drain %s", res.Duration, o.MinDrain)
	}
	if res.Duration > o.MinDrain+time.Second {
		t.Errorf("drain took %s, far more than the min drain %s with no connections", res.Duration, o.MinDrain)
	}
	// Connections were watched during the min drain and read once more
	// after it, so a connection that arrived late still counts.
	f.mu.Lock()
	calls, last := f.statsCalls, f.statsAt[len(f.statsAt)-1]
	f.mu.Unlock()
	if calls < 2 {
		t.Errorf("stats read %d times, want polling during the min drain", calls)
	}
	if last.Before(start.Add(o.MinDrain)) {
		t.Errorf("last stats read %s after the start, before the min drain ended", last.Sub(start))
	}
}

func TestDrainLateConnectionExtendsPastMinDrain(t *testing.T) {
	f := newFakeAdmin(t)
	o := testOptions(t, f.srv.URL)
	o.MinDrain = 200 * time.Millisecond
	// Zero at first, then a connection arrives and stays ~10 polls.
	f.conns = func(n int) int64 {
		if n >= 2 && n < 20 {
			return 1
		}
		return 0
	}
	res := drain(t, newManager(t, o))
	_, stats := f.counts()
	if res.Outcome != Drained || stats < 21 {
		t.Fatalf("outcome %s after %d stats reads, want Drained after at least 21 (the late connection closed)", res.Outcome, stats)
	}
}

func TestDrainHonoursMaxDrain(t *testing.T) {
	f := newFakeAdmin(t)
	f.conns = func(int) int64 { return 7 } // a long-lived connection that never closes
	o := testOptions(t, f.srv.URL)
	o.MinDrain = 100 * time.Millisecond
	o.MaxDrain = 500 * time.Millisecond
	res := drain(t, newManager(t, o))
	if res.Outcome != TimedOut || res.Connections != 7 {
		t.Fatalf("result = %+v, want TimedOut with 7 connections", res)
	}
	if res.Duration < o.MaxDrain || res.Duration > o.MaxDrain+300*time.Millisecond {
		t.Errorf("drain took %s, want just over the max drain %s", res.Duration, o.MaxDrain)
	}
}

func TestDrainAdminDownReturnsWithinBound(t *testing.T) {
	// A port nobody listens on: Envoy has already exited.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o := testOptions(t, "http://"+addr)
	o.MinDrain = 2 * time.Second // not waited for: there is nothing to drain
	o.MaxDrain = 10 * time.Second
	res := drain(t, newManager(t, o))
	if res.Outcome != AdminUnavailable || res.HealthcheckFailed || res.Err == nil {
		t.Fatalf("result = %+v, want AdminUnavailable with an error and no acknowledged health check", res)
	}
	if !strings.Contains(res.Err.Error(), "healthcheck/fail") {
		t.Errorf("error %q does not name the admin call", res.Err)
	}
	// AdminFailures (3) attempts, PollInterval apart.
	if limit := time.Duration(o.AdminFailures)*o.PollInterval + time.Second; res.Duration > limit {
		t.Errorf("drain took %s with the admin API down, want under %s", res.Duration, limit)
	}
}

func TestDrainAdminHangingIsBounded(t *testing.T) {
	f := newFakeAdmin(t)
	f.hang = make(chan struct{})
	o := testOptions(t, f.srv.URL)
	o.AdminTimeout = 100 * time.Millisecond
	o.MaxDrain = 10 * time.Second
	res := drain(t, newManager(t, o))
	if res.Outcome != AdminUnavailable {
		t.Fatalf("outcome = %s, want AdminUnavailable", res.Outcome)
	}
	// 3 timeouts and 2 poll intervals, with slack for a loaded machine.
	if res.Duration > 2*time.Second {
		t.Errorf("drain took %s against a hanging admin API, want about %s", res.Duration,
			time.Duration(o.AdminFailures)*(o.AdminTimeout+o.PollInterval))
	}
}

func TestDrainMaxDrainBoundsHangingAdmin(t *testing.T) {
	f := newFakeAdmin(t)
	f.hang = make(chan struct{})
	o := testOptions(t, f.srv.URL)
	o.AdminTimeout = 5 * time.Second // longer than the whole drain
	o.MaxDrain = 300 * time.Millisecond
	res := drain(t, newManager(t, o))
	if res.Outcome != TimedOut {
		t.Fatalf("outcome = %s, want TimedOut", res.Outcome)
	}
	if res.Duration > o.MaxDrain+300*time.Millisecond {
		t.Errorf("drain took %s, want about the max drain %s", res.Duration, o.MaxDrain)
	}
}

func TestDrainRetriesHealthcheckFailBeforePolling(t *testing.T) {
	f := newFakeAdmin(t)
	f.hcStatus = []int{503} // Envoy not ready to answer yet, then fine
	res := drain(t, newManager(t, testOptions(t, f.srv.URL)))
	hc, stats := f.counts()
	if res.Outcome != Drained || hc != 2 || stats != 1 {
		t.Fatalf("outcome %s, healthcheck/fail calls %d, stats reads %d; want Drained, 2, 1", res.Outcome, hc, stats)
	}
}

func TestDrainIsSharedByConcurrentCallers(t *testing.T) {
	f := newFakeAdmin(t)
	f.conns = func(n int) int64 { return max(0, 5-int64(n)) }
	m := newManager(t, testOptions(t, f.srv.URL))
	results := make(chan Result, 5)
	for range 5 {
		go func() {
			res, _ := m.Drain(context.Background())
			results <- res
		}()
	}
	for range 5 {
		if res := <-results; res.Outcome != Drained {
			t.Errorf("outcome = %s, want Drained", res.Outcome)
		}
	}
	if hc, _ := f.counts(); hc != 1 {
		t.Errorf("healthcheck/fail called %d times by 5 callers, want 1", hc)
	}
	// A later caller gets the same result at once.
	start := time.Now()
	if res := drain(t, m); res.Outcome != Drained || time.Since(start) > 100*time.Millisecond {
		t.Errorf("a later caller got %s after %s", res.Outcome, time.Since(start))
	}
}

func TestDrainCallerGoingAwayDoesNotStopTheDrain(t *testing.T) {
	f := newFakeAdmin(t)
	f.conns = func(n int) int64 { return max(0, 10-int64(n)) }
	m := newManager(t, testOptions(t, f.srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := m.Drain(ctx); ok {
		t.Fatal("Drain with an ended context reported ok")
	}
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not finish after its caller went away")
	}
	if res := drain(t, m); res.Outcome != Drained {
		t.Errorf("outcome = %s, want Drained", res.Outcome)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("default options: %v", err)
	}
	o := DefaultOptions()
	o.MinDrain, o.MaxDrain = time.Minute, time.Second
	o.AdminURL = "127.0.0.1:19000"
	o.AdminFailures = 0
	err := o.Validate()
	for _, want := range []string{"min drain 1m0s exceeds max drain 1s", `envoy admin address "127.0.0.1:19000"`, "admin failures 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}
