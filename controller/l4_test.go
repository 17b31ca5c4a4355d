package controller

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// A cluster that serves only some of the optional route kinds: berth keeps
// those, logs the others as skipped, and fails on a discovery error that
// is not "no such kind".
func TestDiscoverL4Kinds(t *testing.T) {
	gv := schema.GroupVersion{Group: gwv1.GroupName, Version: "v1"}
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{gv})
	m.Add(gv.WithKind("TCPRoute"), meta.RESTScopeNamespace)
	var logged []string
	c := &Controller{log: funcr.New(func(prefix, args string) { logged = append(logged, args) }, funcr.Options{})}
	if err := c.discoverL4Kinds(m); err != nil {
		t.Fatal(err)
	}
	if len(c.l4) != 1 || c.l4[0].kind != translate.KindTCPRoute || c.l4Kind(translate.KindTCPRoute) == nil || c.l4Kind(translate.KindUDPRoute) != nil {
		t.Fatalf("kinds kept: %+v", c.l4)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], `"skipped"="TLSRoute,UDPRoute"`) {
		t.Fatalf("log: %q", logged)
	}

	c = &Controller{log: funcr.New(func(string, string) {}, funcr.Options{})}
	if err := c.discoverL4Kinds(failingMapper{m}); err == nil || !strings.Contains(err.Error(), "look up TCPRoute") {
		t.Fatalf("err = %v", err)
	}
}

type failingMapper struct{ meta.RESTMapper }

func (failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, errors.New("discovery unavailable")
}
