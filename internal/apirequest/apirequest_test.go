package apirequest

import (
	"net/http/httptest"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		method, url string
		want        Info
	}{
		{"GET", "/api", Info{Verb: "get", Path: "/api"}},
		{"GET", "/apis/apps/v1", Info{Verb: "get", Path: "/apis/apps/v1"}},
		{"GET", "/version", Info{Verb: "get", Path: "/version"}},
		{"GET", "/api/v1/namespaces/a/configmaps", Info{Verb: "list", Resource: "configmaps"}},
		{"GET", "/api/v1/configmaps?labelSelector=x%3Dy", Info{Verb: "list", Resource: "configmaps"}},
		{"GET", "/api/v1/namespaces/a/configmaps?watch=true&resourceVersion=1", Info{Verb: "watch", Resource: "configmaps"}},
		{"GET", "/apis/apps/v1/namespaces/a/deployments/d", Info{Verb: "get", Group: "apps", Resource: "deployments"}},
		{"PUT", "/apis/gateway.networking.k8s.io/v1/namespaces/a/gateways/g/status", Info{Verb: "update", Group: "gateway.networking.k8s.io", Resource: "gateways", Subresource: "status"}},
		{"PATCH", "/api/v1/namespaces/a/services/s", Info{Verb: "patch", Resource: "services"}},
		{"POST", "/api/v1/namespaces", Info{Verb: "create", Resource: "namespaces"}},
		{"POST", "/api/v1/namespaces/a/serviceaccounts/s/token", Info{Verb: "create", Resource: "serviceaccounts", Subresource: "token"}},
		{"DELETE", "/api/v1/namespaces/a", Info{Verb: "delete", Resource: "namespaces"}},
		{"DELETE", "/api/v1/namespaces/a/pods", Info{Verb: "deletecollection", Resource: "pods"}},
	} {
		r := httptest.NewRequest(c.method, c.url, nil)
		want := c.want
		if want.Path == "" {
			want.Path = r.URL.Path
		}
		if got := Parse(r); got != want {
			t.Errorf("%s %s: %+v, want %+v", c.method, c.url, got, want)
		}
		if got := Parse(r).IsResource(); got != (c.want.Resource != "") {
			t.Errorf("%s %s: IsResource %v", c.method, c.url, got)
		}
	}
}
