package testenv

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct{ method, url, verb, resource string }{
		{"GET", "/api", "get", "discovery /api"},
		{"GET", "/apis/apps/v1", "get", "discovery /apis/apps/v1"},
		{"GET", "/api/v1/namespaces/a/configmaps", "list", "configmaps"},
		{"GET", "/api/v1/namespaces/a/configmaps?watch=true&resourceVersion=1", "watch", "configmaps"},
		{"GET", "/apis/apps/v1/namespaces/a/deployments/d", "get", "deployments.apps"},
		{"PUT", "/apis/gateway.networking.k8s.io/v1/namespaces/a/gateways/g/status", "update", "gateways/status.gateway.networking.k8s.io"},
		{"PATCH", "/api/v1/namespaces/a/services/s", "patch", "services"},
		{"POST", "/api/v1/namespaces", "create", "namespaces"},
		{"DELETE", "/api/v1/namespaces/a", "delete", "namespaces"},
		{"DELETE", "/api/v1/namespaces/a/pods", "deletecollection", "pods"},
	} {
		verb, resource := classify(httptest.NewRequest(c.method, c.url, nil))
		if verb != c.verb || resource != c.resource {
			t.Errorf("%s %s: %s %s, want %s %s", c.method, c.url, verb, resource, c.verb, c.resource)
		}
	}
}

func TestRequestsRecordsAndCounts(t *testing.T) {
	var reqs Requests
	cfg := reqs.Wrap(&rest.Config{Host: "https://127.0.0.1:1"})
	rt := cfg.WrapTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == "PATCH" {
			return &http.Response{StatusCode: 409}, nil
		}
		return &http.Response{StatusCode: 200}, nil
	}))
	do := func(method, url string) {
		if _, err := rt.RoundTrip(httptest.NewRequest(method, url, nil)); err != nil {
			t.Fatal(err)
		}
	}
	do("GET", "/api/v1/namespaces/a/configmaps/c")
	mark := reqs.Mark()
	do("GET", "/api/v1/namespaces/a/configmaps?watch=true")
	do("PATCH", "/api/v1/namespaces/a/configmaps/c")
	do("GET", "/api/v1/namespaces/a/configmaps")
	got := reqs.Since(mark)
	if len(got) != 3 || got[1].String() != "PATCH /api/v1/namespaces/a/configmaps/c?" {
		t.Fatalf("since mark: %v", got)
	}
	if got[0].Code != 200 || got[1].Code != 409 {
		t.Errorf("response codes %d, %d; want 200, 409", got[0].Code, got[1].Code)
	}
	if c := Count(got); c != (Counts{Reads: 1, Writes: 1, Watches: 1}) || c.Requests() != 2 {
		t.Errorf("counts %+v", c)
	}
	if c := Count(reqs.Since(0)).Add(Counts{Reads: 1}); c.Reads != 3 {
		t.Errorf("added counts %+v", c)
	}
}

func TestNoClusterRefuses(t *testing.T) {
	t.Setenv(NoClusterEnv, "1")
	t.Setenv(KubeconfigEnv, os.DevNull)
	_, err := start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "package of their own") {
		t.Fatalf("start with %s=1: %v", NoClusterEnv, err)
	}
}

func TestBackground(t *testing.T) {
	started := make(chan struct{})
	r := Background(t, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	<-started
	select {
	case <-r.Done():
		t.Fatal("done before Stop")
	default:
	}
	if err := r.Stop(); err != nil {
		t.Errorf("stop of a run ending with its context: %v", err)
	}
	<-r.Done()

	// The failing run's clean-up would fail this test: keep it from t.
	failing := Background(&noCleanup{TB: t}, func(context.Context) error { return errors.New("boom") })
	<-failing.Done()
	if err := failing.Stop(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("stop of a failed run: %v", err)
	}
	if err := failing.Stop(); err == nil {
		t.Error("second Stop forgot the failure")
	}
}

// noCleanup is a testing.TB that drops clean-ups.
type noCleanup struct{ testing.TB }

func (noCleanup) Cleanup(func()) {}
