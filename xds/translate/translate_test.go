package translate_test

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// TestTranslateGatewayMatchesTranslate checks that translating one Gateway
// from an index gives exactly what translating everything gives for it.
func TestTranslateGatewayMatchesTranslate(t *testing.T) {
	in := loadInput(t, "testdata/https.in.yaml")
	in.Gateways = append(in.Gateways, loadInput(t, "testdata/seed.in.yaml").Gateways...)
	all := translate.Translate(in, translate.DefaultOptions())
	ix := translate.NewIndex(in, translate.DefaultOptions())
	keys := ix.Gateways()
	if len(keys) != len(all) || len(keys) != 3 {
		t.Fatalf("index has %d gateways, Translate %d; want 3", len(keys), len(all))
	}
	for i, key := range keys {
		one, err := ix.TranslateGateway(key)
		if err != nil {
			t.Fatal(err)
		}
		if one.Version != all[i].Version || one.Gateway != all[i].Gateway {
			t.Errorf("%s: TranslateGateway version %s, Translate %s (%s)", key, one.Version, all[i].Version, all[i].Gateway)
		}
	}
	_, err := ix.TranslateGateway(k8stypes.NamespacedName{Namespace: "nope", Name: "gw"})
	if !errors.Is(err, translate.ErrGatewayNotFound) {
		t.Errorf("unknown gateway: err = %v, want ErrGatewayNotFound", err)
	}
}

// TestOnlyOwnSecrets checks that a Gateway's snapshot carries the secrets
// of its own HTTPS listeners and nothing else.
func TestOnlyOwnSecrets(t *testing.T) {
	in := loadInput(t, "testdata/https.in.yaml")
	in.Gateways = append(in.Gateways, loadInput(t, "testdata/seed.in.yaml").Gateways...)
	for _, r := range translate.Translate(in, translate.DefaultOptions()) {
		var names []string
		for _, s := range r.Resources[resourcev3.SecretType] {
			names = append(names, s.(*tlsv3.Secret).Name)
		}
		got := strings.Join(names, ",")
		want := ""
		if r.Gateway.String() == "web/gw" {
			want = "secret/certs/shop-cert,secret/web/wildcard-cert"
		}
		if got != want {
			t.Errorf("%s: secrets %q, want %q", r.Gateway, got, want)
		}
	}
}

// TestVersionFollowsContent checks that the version is a function of the
// content: the same input in another order gives the same version, and a
// changed backend gives another.
func TestVersionFollowsContent(t *testing.T) {
	in := loadInput(t, "testdata/matching.in.yaml")
	a := translate.Translate(in, translate.DefaultOptions())[0]

	rev := in
	rev.HTTPRoutes = nil
	for i := len(in.HTTPRoutes) - 1; i >= 0; i-- {
		rev.HTTPRoutes = append(rev.HTTPRoutes, in.HTTPRoutes[i])
	}
	rev.Services = nil
	for i := len(in.Services) - 1; i >= 0; i-- {
		rev.Services = append(rev.Services, in.Services[i])
	}
	b := translate.Translate(rev, translate.DefaultOptions())[0]
	if a.Version != b.Version {
		t.Errorf("reordered input: version %s, want %s", b.Version, a.Version)
	}
	for typ := range a.Resources {
		for i := range a.Resources[typ] {
			if !proto.Equal(a.Resources[typ][i], b.Resources[typ][i]) {
				t.Errorf("reordered input changed %s %d", typ, i)
			}
		}
	}

	changed := in
	changed.HTTPRoutes = append(changed.HTTPRoutes[:0:0], in.HTTPRoutes...)
	r := changed.HTTPRoutes[0].DeepCopy()
	r.Spec.Rules[0].BackendRefs[0].Name = "svc-f"
	changed.HTTPRoutes[0] = r
	c := translate.Translate(changed, translate.DefaultOptions())[0]
	if c.Version == a.Version {
		t.Errorf("changed backend kept version %s", a.Version)
	}
}

// TestPrivilegedPorts checks the port Envoy binds for listener ports below
// 1024 and that the offset is an option (listeners sorted by name:
// listener/443 before listener/80).
func TestPrivilegedPorts(t *testing.T) {
	in := loadInput(t, "testdata/https.in.yaml")
	for _, tc := range []struct {
		offset int32
		want   string
	}{{10000, "10443,10080,"}, {20000, "20443,20080,"}} {
		opts := translate.DefaultOptions()
		opts.PrivilegedPortOffset = tc.offset
		r := translate.Translate(in, opts)[0]
		var got strings.Builder
		for _, l := range r.Resources[resourcev3.ListenerType] {
			got.WriteString(strconv.Itoa(int(l.(*listenerv3.Listener).GetAddress().GetSocketAddress().GetPortValue())) + ",")
		}
		if got.String() != tc.want {
			t.Errorf("offset %d: Envoy ports %s, want %s", tc.offset, got.String(), tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := translate.DefaultOptions().Validate(); err != nil {
		t.Fatalf("default options: %v", err)
	}
	for name, mutate := range map[string]func(*translate.Options){
		"negative offset":  func(o *translate.Options) { o.PrivilegedPortOffset = -1 },
		"offset too large": func(o *translate.Options) { o.PrivilegedPortOffset = 65000 },
		"bad address":      func(o *translate.Options) { o.ListenAddress = "localhost" },
		"zero timeout":     func(o *translate.Options) { o.ConnectTimeout = 0 },
	} {
		o := translate.DefaultOptions()
		mutate(&o)
		if o.Validate() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestTranslateGatewayConcurrent translates every Gateway of one index
// from several goroutines at once (run with -race): the index is
// read-only and each translation has its own state.
func TestTranslateGatewayConcurrent(t *testing.T) {
	ix := translate.NewIndex(scaleInput(8, 80), translate.DefaultOptions())
	want := map[k8stypes.NamespacedName]string{}
	for _, key := range ix.Gateways() {
		r, err := ix.TranslateGateway(key)
		if err != nil {
			t.Fatal(err)
		}
		want[key] = r.Version
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(want))
	for i := 0; i < 4; i++ {
		for _, key := range ix.Gateways() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := ix.TranslateGateway(key)
				if err == nil && r.Version != want[key] {
					err = fmt.Errorf("%s: version %s, want %s", key, r.Version, want[key])
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDuplicateObjects checks that an object given twice counts once (the
// later copy wins), as in an informer cache.
func TestDuplicateObjects(t *testing.T) {
	in := loadInput(t, "testdata/seed.in.yaml")
	want := translate.Translate(in, translate.DefaultOptions())
	dup := in
	dup.Gateways = append(append(dup.Gateways[:0:0], in.Gateways...), in.Gateways...)
	dup.HTTPRoutes = append(append(dup.HTTPRoutes[:0:0], in.HTTPRoutes...), in.HTTPRoutes...)
	got := translate.Translate(dup, translate.DefaultOptions())
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Version != want[i].Version || len(got[i].Routes) != len(want[i].Routes) {
			t.Errorf("%s: version %s with %d route statuses, want %s with %d", got[i].Gateway, got[i].Version, len(got[i].Routes), want[i].Version, len(want[i].Routes))
		}
	}
}

// TestStatusFacts states the spec's reasons the status golden case must
// produce, so a golden update cannot silently change them.
func TestStatusFacts(t *testing.T) {
	res := translate.Translate(loadInput(t, "testdata/status.in.yaml"), translate.DefaultOptions())
	if len(res) != 1 || res[0].Gateway.String() != "gw-ns/gw" {
		t.Fatalf("translated %d gateways; want only gw-ns/gw (not-mine has another controller)", len(res))
	}
	r := res[0]
	listeners := map[string]translate.ListenerStatus{}
	for _, l := range r.Listeners {
		listeners[string(l.Name)] = l
	}
	for _, c := range []struct {
		listener, typ, status, reason string
	}{
		{"same", "Programmed", "True", "Programmed"},
		{"dup-hostname-1", "Conflicted", "True", "HostnameConflict"},
		{"dup-hostname-2", "Conflicted", "True", "HostnameConflict"},
		{"dup-hostname-2", "Accepted", "False", "HostnameConflict"},
		{"dup-hostname-2", "Programmed", "False", "HostnameConflict"},
		{"proto-http", "Conflicted", "True", "ProtocolConflict"},
		{"proto-https", "Conflicted", "True", "ProtocolConflict"},
		{"proto-http", "Programmed", "False", "ProtocolConflict"},
		{"all", "Conflicted", "False", "NoConflicts"},
		{"custom", "Accepted", "False", "UnsupportedProtocol"},
		{"kinds", "ResolvedRefs", "False", "InvalidRouteKinds"},
		{"low", "Accepted", "False", "PortUnavailable"},
		{"remapped", "Accepted", "False", "PortUnavailable"},
	} {
		got := listeners[c.listener].Condition(gwv1.ListenerConditionType(c.typ))
		if got == nil || string(got.Status) != c.status || got.Reason != c.reason {
			t.Errorf("listener %s %s = %+v, want %s/%s", c.listener, c.typ, got, c.status, c.reason)
		}
	}
	if n := listeners["selector"].AttachedRoutes; n != 1 {
		t.Errorf("selector listener: %d attached routes, want 1 (blue only)", n)
	}
	routes := map[string][]string{}
	for _, s := range r.Routes {
		key := s.Route.Name + "/" + describeRef(s.ParentRef)
		a := s.Condition(gwv1.RouteConditionAccepted)
		routes[key] = append(routes[key], string(a.Status)+"/"+a.Reason)
		if p := s.Condition(gwv1.RouteConditionPartiallyInvalid); p != nil {
			routes[key] = append(routes[key], "PartiallyInvalid")
		}
	}
	for key, want := range map[string]string{
		"blue-route/selector":       "True/Accepted",
		"blue-route/same":           "False/NotAllowedByListeners",
		"blue-route/none":           "False/NotAllowedByListeners",
		"blue-route/does-not-exist": "False/NoMatchingParent",
		"blue-route/:7777":          "False/NoMatchingParent",
		"red-route/selector":        "False/NotAllowedByListeners",
		"red-route/all":             "True/Accepted,PartiallyInvalid",
		"all-invalid/same":          "False/UnsupportedValue",
	} {
		if got := strings.Join(routes[key], ","); got != want {
			t.Errorf("route %s: %s, want %s", key, got, want)
		}
	}
}

func describeRef(p gwv1.ParentReference) string {
	s := ""
	if p.SectionName != nil {
		s = string(*p.SectionName)
	}
	if p.Port != nil {
		s += ":" + strconv.Itoa(int(*p.Port))
	}
	return s
}

// TestDependencies checks that a result lists what its translation looked
// up, found or not, so a controller knows which Gateways a change affects.
func TestDependencies(t *testing.T) {
	nn := func(ns, name string) k8stypes.NamespacedName {
		return k8stypes.NamespacedName{Namespace: ns, Name: name}
	}
	backends := translate.Translate(loadInput(t, "testdata/backends.in.yaml"), translate.DefaultOptions())[0].Dependencies
	wantBackends := translate.Dependencies{
		HTTPRoutes:               []k8stypes.NamespacedName{nn("front", "cross"), nn("front", "kind"), nn("front", "weights")},
		GRPCRoutes:               []k8stypes.NamespacedName{},
		TCPRoutes:                []k8stypes.NamespacedName{},
		TLSRoutes:                []k8stypes.NamespacedName{},
		UDPRoutes:                []k8stypes.NamespacedName{},
		ListenerSets:             []k8stypes.NamespacedName{},
		Services:                 []k8stypes.NamespacedName{nn("backend", "shared"), nn("front", "missing"), nn("front", "v1"), nn("front", "v2"), nn("secret-ns", "private")},
		Secrets:                  []k8stypes.NamespacedName{},
		ReferenceGrantNamespaces: []string{"backend", "secret-ns"},
		Namespaces:               []string{},
		ConfigMaps:               []k8stypes.NamespacedName{},
		BackendTLSPolicies:       []k8stypes.NamespacedName{},
		EnvoyProxies:             []k8stypes.NamespacedName{},
	}
	if !reflect.DeepEqual(backends, wantBackends) {
		t.Errorf("backends dependencies:\n got %+v\nwant %+v", backends, wantBackends)
	}
	https := translate.Translate(loadInput(t, "testdata/https.in.yaml"), translate.DefaultOptions())[0].Dependencies
	wantSecrets := []k8stypes.NamespacedName{nn("certs", "shop-cert"), nn("other", "other-cert"), nn("web", "bad-cert"), nn("web", "does-not-exist"), nn("web", "wildcard-cert")}
	if !reflect.DeepEqual(https.Secrets, wantSecrets) || !reflect.DeepEqual(https.ReferenceGrantNamespaces, []string{"certs", "other"}) {
		t.Errorf("https dependencies: secrets %v, grant namespaces %v", https.Secrets, https.ReferenceGrantNamespaces)
	}
	for _, r := range translate.Translate(loadInput(t, "testdata/telemetry.in.yaml"), translate.DefaultOptions()) {
		want := map[string][]k8stypes.NamespacedName{
			"logs":    {nn("infra", "logs")},
			"quiet":   {nn("infra", "logs"), nn("team-a", "quiet")},
			"missing": {nn("infra", "logs"), nn("team-a", "does-not-exist")},
		}[r.Gateway.Name]
		if !reflect.DeepEqual(r.Dependencies.EnvoyProxies, want) {
			t.Errorf("telemetry %s: EnvoyProxy dependencies %v, want %v", r.Gateway, r.Dependencies.EnvoyProxies, want)
		}
	}
	status := translate.Translate(loadInput(t, "testdata/status.in.yaml"), translate.DefaultOptions())[0].Dependencies
	if !reflect.DeepEqual(status.Namespaces, []string{"blue", "red"}) {
		t.Errorf("status dependencies: namespaces %v, want [blue red]", status.Namespaces)
	}
}

// TestGRPCRouteStatusFacts states the reasons and dependencies the
// grpcroute golden case must produce.
func TestGRPCRouteStatusFacts(t *testing.T) {
	res := translate.Translate(loadInput(t, "testdata/grpcroute.in.yaml"), translate.DefaultOptions())
	if len(res) != 1 {
		t.Fatalf("translated %d gateways, want 1", len(res))
	}
	r := res[0]
	got := map[string]string{}
	for _, s := range r.Routes {
		key := string(s.Kind) + " " + s.Route.Name + "/" + describeRef(s.ParentRef)
		a, rr := s.Condition(gwv1.RouteConditionAccepted), s.Condition(gwv1.RouteConditionResolvedRefs)
		got[key] = a.Reason + "," + rr.Reason
		if s.Condition(gwv1.RouteConditionPartiallyInvalid) != nil {
			got[key] += ",PartiallyInvalid"
		}
	}
	want := map[string]string{
		"GRPCRoute echo/http":           "Accepted,ResolvedRefs",
		"GRPCRoute cross/http":          "Accepted,RefNotPermitted,PartiallyInvalid",
		"GRPCRoute catch-all/https":     "Accepted,ResolvedRefs",
		"GRPCRoute catch-all/http-only": "NotAllowedByListeners,ResolvedRefs",
		"GRPCRoute elsewhere/https":     "NoMatchingListenerHostname,ResolvedRefs",
		"GRPCRoute all-invalid/http":    "UnsupportedValue,ResolvedRefs",
		"HTTPRoute web/http-only":       "Accepted,RefNotPermitted",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("route status:\n got %v\nwant %v", got, want)
	}
	kinds := map[string]int{}
	for _, l := range r.Listeners {
		kinds[string(l.Name)] = len(l.SupportedKinds)
	}
	if !reflect.DeepEqual(kinds, map[string]int{"http": 2, "https": 2, "http-only": 1}) {
		t.Errorf("supported kinds per listener: %v", kinds)
	}
	nn := func(name string) k8stypes.NamespacedName {
		return k8stypes.NamespacedName{Namespace: "grpc", Name: name}
	}
	wantDeps := []k8stypes.NamespacedName{nn("all-invalid"), nn("catch-all"), nn("cross"), nn("echo"), nn("elsewhere")}
	if !reflect.DeepEqual(r.Dependencies.GRPCRoutes, wantDeps) || !reflect.DeepEqual(r.Dependencies.HTTPRoutes, []k8stypes.NamespacedName{nn("web")}) {
		t.Errorf("route dependencies: grpc %v, http %v", r.Dependencies.GRPCRoutes, r.Dependencies.HTTPRoutes)
	}
}
