package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-gateway/berth/render"
)

// The rendered pod runs `berth shutdown-manager` with no flags.
func TestShutdownManagerDefaultsAreRendersContract(t *testing.T) {
	cmd := newShutdownManagerCmd()
	for flag, want := range map[string]string{
		"listen-address":  "0.0.0.0:19002",
		"envoy-admin-url": "http://127.0.0.1:19000",
	} {
		if got := cmd.Flags().Lookup(flag).DefValue; got != want {
			t.Errorf("--%s defaults to %s, want %s", flag, got, want)
		}
	}
	if render.ShutdownManagerPort != 19002 || render.AdminPort != 19000 {
		t.Errorf("render's ports changed (%d, %d): update the shutdown manager's defaults", render.ShutdownManagerPort, render.AdminPort)
	}
}

func TestShutdownManagerCommandDrainsAndExits(t *testing.T) {
	var hc, stats atomic.Int32
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/healthcheck/fail":
			hc.Add(1)
		case r.Method == http.MethodGet && r.URL.Path == "/stats":
			n := max(0, 3-stats.Add(1)) // 2, 1, 0
			io.WriteString(w, `{"stats":[{"name":"http.http-10080.downstream_cx_active","value":`+strconv.Itoa(int(n))+`}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer admin.Close()

	addr := shutdownTestAddr(t)
	cmd := newShutdownManagerCmd()
	cmd.SetArgs([]string{"--listen-address", addr, "--envoy-admin-url", admin.URL,
		"--min-drain", "0s", "--poll-interval", "20ms", "--drain-start-wait", "2s", "--log-level", "warn"})
	ctx, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	exited := make(chan error, 1)
	go func() { exited <- cmd.ExecuteContext(ctx) }()

	shutdownTestWaitHealthy(t, "http://"+addr+"/healthz")
	// The pod terminates: the kubelet calls the hook and signals the
	// shutdown manager in parallel; the drain needs both.
	type answer struct {
		code int
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + addr + render.ShutdownReadyPath)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- answer{code: resp.StatusCode, body: string(body)}
	}()
	sigterm()
	a := <-answered
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.code != http.StatusOK || !strings.HasPrefix(a.body, "Drained") {
		t.Fatalf("preStop answered %d %q", a.code, a.body)
	}
	if hc.Load() != 1 || stats.Load() != 3 {
		t.Errorf("healthcheck/fail %d calls, stats %d reads; want 1 and 3", hc.Load(), stats.Load())
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("command: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("command did not exit after SIGTERM with the drain done")
	}
}

func TestShutdownManagerCommandRejectsBadTimings(t *testing.T) {
	cmd := newShutdownManagerCmd()
	cmd.SetArgs([]string{"--min-drain", "2m", "--max-drain", "1m", "--listen-address", "127.0.0.1:0"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "min drain 2m0s exceeds max drain 1m0s") {
		t.Fatalf("err = %v", err)
	}
}

func shutdownTestAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func shutdownTestWaitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
