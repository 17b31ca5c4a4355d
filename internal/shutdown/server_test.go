package shutdown

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-gateway/berth/render"
)

// The rendered pod passes no flags: the defaults are the contract.
func TestDefaultsMatchRender(t *testing.T) {
	o := DefaultOptions()
	if want := net.JoinHostPort("0.0.0.0", strconv.Itoa(render.ShutdownManagerPort)); o.ListenAddress != want {
		t.Errorf("listen address %s, render's preStop calls port %d", o.ListenAddress, render.ShutdownManagerPort)
	}
	if want := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(render.AdminPort)); o.AdminURL != want {
		t.Errorf("admin URL %s, render binds admin to %s", o.AdminURL, want)
	}
	if ShutdownReadyPath != render.ShutdownReadyPath {
		t.Errorf("preStop path %s, render calls %s", ShutdownReadyPath, render.ShutdownReadyPath)
	}
	// The kubelet kills Envoy after terminationGracePeriodSeconds (300 s
	// by default) whatever the hook does.
	if worst := o.DrainStartWait + o.MaxDrain; worst > 150*time.Second {
		t.Errorf("worst-case drain %s is not well under the default 300s grace period", worst)
	}
}

// served is a running Serve: err is set when done is closed.
type served struct {
	done chan struct{}
	err  error
}

// serve runs m.Serve on a loopback port until the returned cancel (the
// SIGTERM) is called.
func serve(t *testing.T, m *Manager) (base string, sigterm context.CancelFunc, s *served) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s = &served{done: make(chan struct{})}
	go func() { defer close(s.done); s.err = m.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return "http://" + ln.Addr().String(), cancel, s
}

// wait waits for Serve to return and checks it returned no error.
func (s *served) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("Serve: %v", s.err)
		}
	case <-time.After(within):
		t.Fatalf("Serve did not return within %s", within)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPreStopBlocksUntilDrained(t *testing.T) {
	f := newFakeAdmin(t)
	f.conns = func(n int) int64 { return max(0, 5-int64(n)) }
	o := testOptions(t, f.srv.URL)
	o.MinDrain = 200 * time.Millisecond
	base, sigterm, _ := serve(t, newManager(t, o))

	if code, body := get(t, base+HealthPath); code != http.StatusOK {
		t.Fatalf("health: %d %s", code, body)
	}
	if hc, _ := f.counts(); hc != 0 {
		t.Fatal("health probe started a drain")
	}
	type answer struct {
		code int
		body string
		took time.Duration
	}
	answers := make(chan answer, 2)
	for range 2 { // the kubelet may retry the hook
		go func() {
			start := time.Now()
			code, body := get(t, base+ShutdownReadyPath)
			answers <- answer{code, body, time.Since(start)}
		}()
	}
	sigterm() // the pod terminates
	for range 2 {
		a := <-answers
		if a.code != http.StatusOK || !strings.HasPrefix(a.body, "Drained") {
			t.Errorf("preStop answered %d %q, want 200 Drained", a.code, a.body)
		}
		if a.took < o.MinDrain {
			t.Errorf("preStop answered after %s, before the min drain %s", a.took, o.MinDrain)
		}
	}
	if hc, _ := f.counts(); hc != 1 {
		t.Errorf("healthcheck/fail called %d times, want 1", hc)
	}
}

func TestSIGTERMDuringDrainWaitsForIt(t *testing.T) {
	f := newFakeAdmin(t)
	f.conns = func(n int) int64 { return max(0, 15-int64(n)) } // ~300ms of connections
	o := testOptions(t, f.srv.URL)
	m := newManager(t, o)
	base, sigterm, done := serve(t, m)

	preStop := make(chan int, 1)
	go func() { code, _ := get(t, base+ShutdownReadyPath); preStop <- code }()
	sigterm()
	<-m.Started()
	select {
	case <-done.done:
		t.Fatalf("Serve returned %v before the drain ended", done.err)
	case <-m.Done():
	}
	if code := <-preStop; code != http.StatusOK {
		t.Errorf("preStop answered %d after SIGTERM, want 200", code)
	}
	done.wait(t, 5*time.Second)
}

func TestSIGTERMBeforePreStopStillServesIt(t *testing.T) {
	f := newFakeAdmin(t)
	o := testOptions(t, f.srv.URL)
	o.DrainStartWait = 5 * time.Second
	m := newManager(t, o)
	base, sigterm, done := serve(t, m)

	sigterm() // the kubelet's SIGTERM wins the race against the envoy container's hook
	time.Sleep(100 * time.Millisecond)
	if code, body := get(t, base+ShutdownReadyPath); code != http.StatusOK || !strings.HasPrefix(body, "Drained") {
		t.Errorf("preStop after SIGTERM answered %d %q, want 200 Drained", code, body)
	}
	done.wait(t, 5*time.Second)
}

func TestSIGTERMWithoutPreStopIsBoundedAndDoesNotDrain(t *testing.T) {
	f := newFakeAdmin(t)
	o := testOptions(t, f.srv.URL)
	o.DrainStartWait = 300 * time.Millisecond
	_, sigterm, done := serve(t, newManager(t, o))
	start := time.Now()
	sigterm()
	done.wait(t, 5*time.Second)
	if took := time.Since(start); took < o.DrainStartWait || took > o.DrainStartWait+time.Second {
		t.Errorf("Serve returned %s after SIGTERM, want about the drain start wait %s", took, o.DrainStartWait)
	}
	// A shutdown manager restarted on its own leaves Envoy serving.
	if hc, _ := f.counts(); hc != 0 {
		t.Errorf("healthcheck/fail called %d times without a preStop request", hc)
	}
}

// A preStop request from elsewhere (anyone who reaches the pod IP) while
// the pod is not terminating changes nothing: Envoy's health check is not
// failed, the request is answered 503, and the real termination still
// drains.
func TestPreStopFromElsewhereChangesNothing(t *testing.T) {
	f := newFakeAdmin(t)
	o := testOptions(t, f.srv.URL)
	o.DrainStartWait = 300 * time.Millisecond
	m := newManager(t, o)
	base, sigterm, done := serve(t, m)
	for range 3 {
		if code, body := get(t, base+ShutdownReadyPath); code != http.StatusServiceUnavailable {
			t.Fatalf("preStop without termination answered %d %q, want 503", code, body)
		}
	}
	if hc, stats := f.counts(); hc != 0 || stats != 0 {
		t.Fatalf("requests from elsewhere called the admin API: healthcheck/fail %d, stats %d", hc, stats)
	}
	select {
	case <-m.Started():
		t.Fatal("a request from elsewhere started the drain")
	default:
	}
	// The pod then terminates: the kubelet's hook drains as before.
	answer := make(chan int, 1)
	go func() { code, _ := get(t, base+ShutdownReadyPath); answer <- code }()
	sigterm()
	if code := <-answer; code != http.StatusOK {
		t.Fatalf("preStop on termination answered %d, want 200", code)
	}
	if hc, _ := f.counts(); hc != 1 {
		t.Errorf("healthcheck/fail called %d times on termination, want 1", hc)
	}
	done.wait(t, 5*time.Second)
}
