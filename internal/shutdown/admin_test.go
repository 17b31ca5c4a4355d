package shutdown

import (
	"maps"
	"net/http"
	"strings"
	"testing"
)

func TestParseStats(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       map[string]int64
		err        string
	}{
		{name: "empty", body: "", want: map[string]int64{}},
		{name: "json", body: `{"stats":[{"name":"http.http-80.downstream_cx_active","value":3},{"name":"server.version","value":"1.36"}]}`,
			want: map[string]int64{"http.http-80.downstream_cx_active": 3}},
		{name: "json with histograms", body: `{"stats":[{"name":"a","value":1},{"histograms":{"supported_quantiles":[0,25]}}]}`,
			want: map[string]int64{"a": 1}},
		{name: "json no stats", body: `{"stats":[]}`, want: map[string]int64{}},
		{name: "text", body: "http.admin.downstream_cx_active: 1\nhttp.http-80.downstream_cx_active: 2\n\ncluster.x.upstream_rq_time: P0(nan,1) P25(nan,2)\n",
			want: map[string]int64{"http.admin.downstream_cx_active": 1, "http.http-80.downstream_cx_active": 2}},
		{name: "truncated json", body: `{"stats":[{"name":"a","va`, err: "decoding stats JSON"},
		{name: "html", body: "<html>no</html>", err: `stats line "<html>no</html>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStats([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestActiveConnectionsIgnoresAdminAndReady(t *testing.T) {
	f := newFakeAdmin(t)
	f.conns = func(int) int64 { return 2 }
	a, err := newAdminClient(f.srv.URL, http.DefaultClient, DefaultOptions().IgnoredStatPrefixes)
	if err != nil {
		t.Fatal(err)
	}
	// The fake reports 1 on admin and ready, 2 on http-10080 (and again on
	// its listener and worker gauges), 0 on https-10443-web.
	n, err := a.activeConnections(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("activeConnections = %d, %v; want 2", n, err)
	}
}

func TestAdminErrorsNameTheCall(t *testing.T) {
	f := newFakeAdmin(t)
	f.hcStatus = []int{http.StatusServiceUnavailable}
	a, _ := newAdminClient(f.srv.URL+"/", http.DefaultClient, nil)
	err := a.failHealthcheck(t.Context())
	if err == nil || !strings.Contains(err.Error(), "envoy admin POST /healthcheck/fail: 503 Service Unavailable") {
		t.Fatalf("err = %v", err)
	}
}
