package controller

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestWriteStatus: writeStatus PUTs the status subresource as JSON with the
// object's kind, takes the stored resourceVersion from the response (a
// reconcile that writes twice must not conflict with itself), and passes
// the API's errors through (a conflict stays a conflict).
func TestWriteStatus(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []*http.Request
		sent []map[string]any
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		seen, sent = append(seen, r), append(sent, body)
		mu.Unlock()
		md, _ := body["metadata"].(map[string]any)
		w.Header().Set("Content-Type", "application/json")
		if md["resourceVersion"] != "1" && md["resourceVersion"] != "2" {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(&metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Reason: metav1.StatusReasonConflict, Code: http.StatusConflict,
				Message: "the object has been modified"})
			return
		}
		md["resourceVersion"] = map[any]string{"1": "2", "2": "3"}[md["resourceVersion"]]
		_ = json.NewEncoder(w).Encode(body)
	}))
	defer srv.Close()

	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: srv.URL}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := gatewayStatusClient(cfg, hc, scheme)
	if err != nil {
		t.Fatal(err)
	}
	c := &Controller{gatewayStatus: rc}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "g", ResourceVersion: "1"}}
	gw.Status.Conditions = []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}}
	ctx := context.Background()

	// Two writes in a row, as a reconcile that writes Pending first does.
	for i, want := range []string{"2", "3"} {
		if err := c.writeStatus(ctx, gw); err != nil {
			t.Fatalf("write %d: %v", i+1, err)
		}
		if gw.ResourceVersion != want {
			t.Fatalf("write %d: resourceVersion %q after the write, want the stored %q", i+1, gw.ResourceVersion, want)
		}
	}
	r, body := seen[0], sent[0]
	if r.Method != http.MethodPut || r.URL.Path != "/apis/gateway.networking.k8s.io/v1/namespaces/ns/gateways/g/status" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want JSON (a custom resource)", ct)
	}
	if body["apiVersion"] != "gateway.networking.k8s.io/v1" || body["kind"] != "Gateway" {
		t.Errorf("body's apiVersion %v, kind %v", body["apiVersion"], body["kind"])
	}
	if v, ok := c.statusWrites.Load(k8stypes.NamespacedName{Namespace: "ns", Name: "g"}); !ok || len(v.(statusWrite).replaced) != 2 {
		t.Errorf("writes remembered: %+v", v)
	}

	gw.ResourceVersion = "stale"
	if err := c.writeStatus(ctx, gw); !apierrors.IsConflict(err) {
		t.Errorf("stale resourceVersion: %v, want a conflict", err)
	}
}
