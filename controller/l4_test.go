package controller

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// Every optional kind is listed, with the version berth reads.
func TestOptionalKinds(t *testing.T) {
	var got []string
	for _, k := range (&Controller{}).optionalKinds() {
		got = append(got, k.gk.String()+"/"+k.version)
	}
	want := []string{
		"TCPRoute.gateway.networking.k8s.io/v1", "TLSRoute.gateway.networking.k8s.io/v1", "UDPRoute.gateway.networking.k8s.io/v1",
		"BackendTLSPolicy.gateway.networking.k8s.io/v1", "ClientTrafficPolicy." + v1alpha1.GroupVersion.Group + "/" + v1alpha1.GroupVersion.Version,
		"ListenerSet.gateway.networking.k8s.io/v1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("optional kinds %v, want %v", got, want)
	}
}

// discoverKinds installs the kinds the API server serves, keeps the others
// (and those whose install failed, or whose look-up failed) for the next
// round, and installs a kind once its CRD appears.
func TestDiscoverKinds(t *testing.T) {
	gv := schema.GroupVersion{Group: gwv1.GroupName, Version: "v1"}
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{gv})
	m.Add(gv.WithKind("TCPRoute"), meta.RESTScopeNamespace)
	m.Add(gv.WithKind("BackendTLSPolicy"), meta.RESTScopeNamespace)
	var logged []string
	c := &Controller{log: funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})}
	installs := map[string]int{}
	kind := func(name string, fail bool) *optionalKind {
		return &optionalKind{gk: schema.GroupKind{Group: gwv1.GroupName, Kind: name}, version: "v1", install: func() error {
			installs[name]++
			if fail {
				return fmt.Errorf("watch %s: refused", name)
			}
			return nil
		}}
	}
	kinds := []*optionalKind{kind("TCPRoute", false), kind("UDPRoute", false), kind("BackendTLSPolicy", true)}

	installed, missing := c.discoverKinds(m, kinds)
	if !reflect.DeepEqual(installed, []string{"TCPRoute"}) || kindNames(missing) != "UDPRoute,BackendTLSPolicy" {
		t.Fatalf("installed %v, missing %s; want TCPRoute, UDPRoute,BackendTLSPolicy", installed, kindNames(missing))
	}
	if installs["UDPRoute"] != 0 || installs["BackendTLSPolicy"] != 1 {
		t.Errorf("installs %v: a kind not served must not be installed", installs)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "BackendTLSPolicy") || !strings.Contains(logged[0], "refused") {
		t.Errorf("a failed install must be logged with the kind and error: %q", logged)
	}

	// The UDPRoute CRD is installed: the next round picks it up.
	m.Add(gv.WithKind("UDPRoute"), meta.RESTScopeNamespace)
	installed, missing = c.discoverKinds(m, missing)
	if !reflect.DeepEqual(installed, []string{"UDPRoute"}) || kindNames(missing) != "BackendTLSPolicy" {
		t.Fatalf("second round: installed %v, missing %s", installed, kindNames(missing))
	}

	// Discovery failing is not a missing CRD: logged, retried.
	logged = nil
	installed, missing = c.discoverKinds(failingMapper{m}, missing)
	if len(installed) != 0 || kindNames(missing) != "BackendTLSPolicy" || installs["BackendTLSPolicy"] != 2 { // retried in the second round, not in this one
		t.Errorf("failing discovery: installed %v, missing %s, installs %v", installed, kindNames(missing), installs)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "discovery unavailable") {
		t.Errorf("a failed look-up must be logged: %q", logged)
	}
}

// Readers of the installed route kinds keep the slice they got while a
// kind is added.
func TestInstalledKindsAppendDoesNotShare(t *testing.T) {
	var k installedKinds
	a, b := &l4Kind{kind: "TCPRoute"}, &l4Kind{kind: "UDPRoute"}
	k.addRouteKind(a)
	before := k.routeKinds()
	k.addRouteKind(b)
	if len(before) != 1 || len(k.routeKinds()) != 2 || k.routeKinds()[0] != a || k.routeKinds()[1] != b {
		t.Errorf("before %v, after %v", before, k.routeKinds())
	}
}

type failingMapper struct{ meta.RESTMapper }

func (failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, errors.New("discovery unavailable")
}
