package controller

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Every client built from a counted config counts each request once, by
// the verb, group, resource and subresource the API server sees and the
// response's code.
func TestCountRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/configmaps/missing"):
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
		case r.Method == http.MethodGet:
			_, _ = io.WriteString(w, `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[]}`)
		default:
			_, _ = io.WriteString(w, `{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d","namespace":"a"}}`)
		}
	}))
	defer srv.Close()
	m := sharedMetrics()
	cfg := &rest.Config{Host: srv.URL}
	m.countRequests(cfg)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	counter := func(verb, group, resource, sub, code string) float64 {
		var out dto.Metric
		if err := m.requests.WithLabelValues(verb, group, resource, sub, code).Write(&out); err != nil {
			t.Fatal(err)
		}
		return out.GetCounter().GetValue()
	}
	type key [5]string
	keys := []key{
		{"list", "", "configmaps", "", "200"},
		{"get", "", "configmaps", "", "404"},
		{"update", "apps", "deployments", "status", "200"},
		{"get", "", "", "", "<error>"},
	}
	before := map[key]float64{}
	for _, k := range keys {
		before[k] = counter(k[0], k[1], k[2], k[3], k[4])
	}
	ctx := context.Background()
	for range 2 {
		if _, err := cs.CoreV1().ConfigMaps("a").List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps("a").Get(ctx, "missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("a").UpdateStatus(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "a"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A request that gets no response.
	srv.Close()
	if _, err := cs.Discovery().ServerVersion(); err == nil {
		t.Fatal("server version from a closed server")
	}
	want := map[key]float64{keys[0]: 2, keys[1]: 1, keys[2]: 1, keys[3]: 1}
	for _, k := range keys {
		if got := counter(k[0], k[1], k[2], k[3], k[4]) - before[k]; got != want[k] {
			t.Errorf("berth_kube_api_requests_total%v: +%v, want +%v", k, got, want[k])
		}
	}
}

// --profiling serves the Go profiles; a heap profile after a GC is gzipped
// protobuf.
func TestProfilingHandlers(t *testing.T) {
	mux := http.NewServeMux()
	for path, h := range profilingHandlers() {
		mux.Handle(path, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]string{
		"/debug/pprof/":                  "heap",
		"/debug/pprof/heap?gc=1":         "\x1f\x8b",
		"/debug/pprof/goroutine":         "\x1f\x8b",
		"/debug/pprof/cmdline":           "",
		"/debug/pprof/profile?seconds=1": "\x1f\x8b",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, %d bytes, want 200 with %q", path, resp.StatusCode, len(body), want)
		}
	}
}
