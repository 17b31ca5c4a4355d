package apirequest

import (
	"net/http/httptest"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		method, url string
		want        Info
		name        string
	}{
		{"GET", "/api", Info{Verb: "get", Path: "/api"}, "discovery /api"},
		{"GET", "/apis/apps/v1", Info{Verb: "get", Path: "/apis/apps/v1"}, "discovery /apis/apps/v1"},
		{"GET", "/version", Info{Verb: "get", Path: "/version"}, "discovery /version"},
		{"GET", "/api/v1/namespaces/a/configmaps", Info{Verb: "list", Resource: "configmaps"}, "configmaps"},
		{"GET", "/api/v1/configmaps?labelSelector=x%3Dy", Info{Verb: "list", Resource: "configmaps"}, "configmaps"},
		{"GET", "/api/v1/namespaces/a/configmaps?watch=true&resourceVersion=1", Info{Verb: "watch", Resource: "configmaps"}, "configmaps"},
		{"GET", "/apis/apps/v1/namespaces/a/deployments/d", Info{Verb: "get", Group: "apps", Resource: "deployments"}, "deployments.apps"},
		{"PUT", "/apis/gateway.networking.k8s.io/v1/namespaces/a/gateways/g/status", Info{Verb: "update", Group: "gateway.networking.k8s.io", Resource: "gateways", Subresource: "status"}, "gateways/status.gateway.networking.k8s.io"},
		{"PATCH", "/api/v1/namespaces/a/services/s", Info{Verb: "patch", Resource: "services"}, "services"},
		{"POST", "/api/v1/namespaces", Info{Verb: "create", Resource: "namespaces"}, "namespaces"},
		{"POST", "/api/v1/namespaces/a/serviceaccounts/s/token", Info{Verb: "create", Resource: "serviceaccounts", Subresource: "token"}, "serviceaccounts/token"},
		{"DELETE", "/api/v1/namespaces/a", Info{Verb: "delete", Resource: "namespaces"}, "namespaces"},
		{"DELETE", "/api/v1/namespaces/a/pods", Info{Verb: "deletecollection", Resource: "pods"}, "pods"},
	} {
		r := httptest.NewRequest(c.method, c.url, nil)
		want := c.want
		if want.Path == "" {
			want.Path = r.URL.Path
		}
		if got := Parse(r); got != want {
			t.Errorf("%s %s: %+v, want %+v", c.method, c.url, got, want)
		}
		if got, want := Parse(r).Name(), c.name; got != want {
			t.Errorf("%s %s: name %q, want %q", c.method, c.url, got, want)
		}
		if got := Parse(r).IsResource(); got != (c.want.Resource != "") {
			t.Errorf("%s %s: IsResource %v", c.method, c.url, got)
		}
	}
	if got := (Info{}).Name(); got != "discovery" {
		t.Errorf("empty Info: name %q", got)
	}
}
