package shutdown

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"
)

// fakeAdmin imitates the parts of Envoy's admin API a drain uses: POST
// /healthcheck/fail and GET /stats?filter=RE&format=json over a realistic
// set of stat names, applying the filter as Envoy does.
type fakeAdmin struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	hcCalls    int
	hcStatus   []int // statuses of successive healthcheck/fail calls; 200 after the list
	statsCalls int
	statsAt    []time.Time
	hang       chan struct{} // when non-nil, every request blocks on it
	// conns returns the active connections of the listener on port 10080
	// for the n-th stats call (from 0).
	conns func(n int) int64
}

func newFakeAdmin(t *testing.T) *fakeAdmin {
	f := &fakeAdmin{t: t, conns: func(int) int64 { return 0 }}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthcheck/fail", func(w http.ResponseWriter, r *http.Request) {
		f.block()
		if r.Method != http.MethodPost {
			http.Error(w, "This endpoint requires POST", http.StatusMethodNotAllowed)
			return
		}
		f.mu.Lock()
		status := http.StatusOK
		if f.hcCalls < len(f.hcStatus) {
			status = f.hcStatus[f.hcCalls]
		}
		f.hcCalls++
		f.mu.Unlock()
		w.WriteHeader(status)
		w.Write([]byte("OK\n"))
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		f.block()
		if r.URL.Query().Get("format") != "json" {
			http.Error(w, "want format=json", http.StatusBadRequest)
			return
		}
		re, err := regexp.Compile(r.URL.Query().Get("filter"))
		if err != nil {
			http.Error(w, "Invalid re2 regex", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		n := f.statsCalls
		f.statsCalls++
		f.statsAt = append(f.statsAt, time.Now())
		f.mu.Unlock()
		c := f.conns(n)
		all := []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		}{
			// Our own polling and the kubelet's probes: never counted.
			{"http.admin.downstream_cx_active", 1},
			{"http.ready.downstream_cx_active", 1},
			{"listener.admin.downstream_cx_active", 1},
			{"listener.admin.main_thread.downstream_cx_active", 1},
			{"http.http-10080.downstream_cx_active", c},
			{"http.http-10080.downstream_cx_total", 99},
			{"listener.0.0.0.0_10080.downstream_cx_active", c},
			{"listener.0.0.0.0_10080.worker_0.downstream_cx_active", c},
			{"http.https-10443-web.downstream_cx_active", 0},
			{"server.version", "1.36.0"},
		}
		var out struct {
			Stats []any `json:"stats"`
		}
		for _, s := range all {
			if re.MatchString(s.Name) {
				out.Stats = append(out.Stats, s)
			}
		}
		json.NewEncoder(w).Encode(out)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		if f.hang != nil {
			close(f.hang)
			f.hang = nil
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeAdmin) block() {
	f.mu.Lock()
	h := f.hang
	f.mu.Unlock()
	if h != nil {
		<-h
	}
}

func (f *fakeAdmin) counts() (hc, stats int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hcCalls, f.statsCalls
}
