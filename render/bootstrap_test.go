package render

import (
	"sigs.k8s.io/yaml"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	downstreamconnectionsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	fixedheapv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/fixed_heap/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// A bootstrap that Envoy would refuse is an error, never a ConfigMap: a
// rule inside an Any (the ready listener's HCM without a stat prefix), and
// a rule on the xDS endpoint's port.
func TestBootstrapRefusedUnlessValid(t *testing.T) {
	bs := Bootstrap("team-a", "gw", 0, true, testOptions())
	filter := bs.StaticResources.Listeners[0].FilterChains[0].Filters[0]
	hcm := &hcmv3.HttpConnectionManager{}
	if err := filter.GetTypedConfig().UnmarshalTo(hcm); err != nil {
		t.Fatal(err)
	}
	hcm.StatPrefix = ""
	filter.GetTypedConfig().Value = typed(hcm).Value
	if _, err := marshalEnvoy(bs); err == nil || !strings.Contains(err.Error(), "HttpConnectionManager.StatPrefix") {
		t.Fatalf("bootstrap with an empty stat prefix: err = %v, want the HCM's rule", err)
	}

	p := bootstrapParamsOf("team-a", "gw", 0, true, testOptions())
	p.xdsPort = 70000
	if _, err := encodedBootstrap(p); err == nil || !strings.Contains(err.Error(), "PortValue") {
		t.Fatalf("bootstrap with xDS port 70000: err = %v, want the port rule", err)
	}
	if _, cached := bootstrapCache.Get(p); cached {
		t.Fatal("a refused bootstrap was cached")
	}
}

// The cache changes no output: a cached bootstrap is the one encoding the
// typed bootstrap gives, and different Gateways get their own node cluster
// from one entry (the cache does not grow with the number of Gateways); a
// node cluster YAML would quote is encoded in full.
func TestBootstrapCacheIsTransparent(t *testing.T) {
	o := testOptions()
	bootstrapCache.Clear()
	for _, gw := range []string{"cache-a", "cache-b"} {
		p := bootstrapParamsOf("team-a", gw, 0, true, o)
		first, err := encodedBootstrap(p)
		if err != nil {
			t.Fatal(err)
		}
		again, err := encodedBootstrap(p)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := marshalEnvoy(Bootstrap("team-a", gw, 0, true, o))
		if err != nil {
			t.Fatal(err)
		}
		if first != fresh || again != fresh {
			t.Fatalf("%s: cached bootstrap differs from a fresh encoding", gw)
		}
		if !strings.Contains(fresh, "cluster: team-a/"+gw) {
			t.Fatalf("%s: bootstrap does not name its node cluster:\n%s", gw, fresh)
		}
	}
	if n := bootstrapCache.Len(); n != 1 {
		t.Errorf("%d cache entries for two Gateways of the same options, want 1", n)
	}
	p := bootstrapParamsOf("team-a", "gw", 0, true, o)
	p.nodeCluster = "yes: no"
	got, err := encodedBootstrap(p)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := marshalEnvoy(p.bootstrap())
	if err != nil {
		t.Fatal(err)
	}
	if got != fresh || !strings.Contains(got, `cluster: 'yes: no'`) {
		t.Errorf("a node cluster YAML quotes: got\n%s\nwant\n%s", got, fresh)
	}
}

// The overload manager limits client connections always, and the heap only
// when the container has a memory limit: HeapLimitPercent of it, with the
// edge advice's shrink-heap and stop-accepting-requests thresholds.
func TestBootstrapOverloadManager(t *testing.T) {
	monitors := func(bs *bootstrapv3.Bootstrap) map[string]*anypb.Any {
		out := map[string]*anypb.Any{}
		for _, m := range bs.GetOverloadManager().GetResourceMonitors() {
			out[m.GetName()] = m.GetTypedConfig()
		}
		return out
	}
	conns := &downstreamconnectionsv3.DownstreamConnectionsConfig{}
	for _, limit := range []int64{0, 1 << 30} {
		bs := Bootstrap("team-a", "gw", limit, true, testOptions())
		if _, err := marshalEnvoy(bs); err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		if !bs.GetStaticResources().GetListeners()[0].GetIgnoreGlobalConnLimit() {
			t.Errorf("limit %d: the ready listener counts against the global connection limit", limit)
		}
		m := monitors(bs)
		if err := m[downstreamConnectionsMonitor].UnmarshalTo(conns); err != nil || conns.GetMaxActiveDownstreamConnections() != MaxDownstreamConnections {
			t.Errorf("limit %d: connection monitor %v (%v), want %d connections", limit, conns, err, MaxDownstreamConnections)
		}
		heap, ok := m[fixedHeapMonitor]
		if limit == 0 {
			if ok || len(bs.GetOverloadManager().GetActions()) != 0 {
				t.Errorf("no memory limit: heap monitor %v, actions %v; want none", heap, bs.GetOverloadManager().GetActions())
			}
			continue
		}
		h := &fixedheapv3.FixedHeapConfig{}
		if !ok || heap.UnmarshalTo(h) != nil || h.GetMaxHeapSizeBytes() != uint64(limit)*HeapLimitPercent/100 {
			t.Errorf("memory limit %d: heap monitor %v, want %d bytes", limit, h, uint64(limit)*HeapLimitPercent/100)
		}
		want := map[string]float64{"envoy.overload_actions.shrink_heap": 0.95, "envoy.overload_actions.stop_accepting_requests": 0.98}
		for _, a := range bs.GetOverloadManager().GetActions() {
			if tr := a.GetTriggers(); len(tr) != 1 || tr[0].GetName() != fixedHeapMonitor || tr[0].GetThreshold().GetValue() != want[a.GetName()] {
				t.Errorf("action %s: triggers %v, want the heap at %v", a.GetName(), tr, want[a.GetName()])
			}
			delete(want, a.GetName())
		}
		if len(want) != 0 {
			t.Errorf("missing overload actions %v", want)
		}
	}
}

// plainName answers only for names YAML writes unquoted: every name it
// accepts encodes plainly, and every YAML 1.1 boolean or null word is left
// to the encoder.
func TestPlainNameAgreesWithYAML(t *testing.T) {
	names := []string{"gw", "team-a", "envoy-team-a-gw-0123abcd", "a1", "e1", "x-1e3", "inf", "nan", "yes-no", "on-call", "nulls", "a--b"}
	for w := range yamlWords {
		names = append(names, w)
	}
	for _, n := range names {
		y, err := yaml.Marshal(map[string]string{"k": n})
		plain := err == nil && string(y) == "k: "+n+"\n"
		if plainName(n) && !plain {
			t.Errorf("plainName(%q) = true, YAML writes %q", n, y)
		}
		if yamlWords[n] && plainName(n) {
			t.Errorf("plainName(%q) = true for a YAML word", n)
		}
		if plainScalar(n) != plain {
			t.Errorf("plainScalar(%q) = %t, YAML writes %q", n, plainScalar(n), y)
		}
	}
	for _, n := range []string{"1abc", "-a", "A", "a.b", "a_b", ""} {
		if plainName(n) {
			t.Errorf("plainName(%q) = true", n)
		}
	}
}
