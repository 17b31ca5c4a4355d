package render

import (
	"strings"
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// A bootstrap that Envoy would refuse is an error, never a ConfigMap: a
// rule inside an Any (the ready listener's HCM without a stat prefix), and
// a rule on the xDS endpoint's port.
func TestBootstrapRefusedUnlessValid(t *testing.T) {
	bs := Bootstrap("team-a", "gw", testOptions())
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

	p := bootstrapParamsOf("team-a", "gw", testOptions())
	p.xdsPort = 70000
	if _, err := encodedBootstrap(p); err == nil || !strings.Contains(err.Error(), "PortValue") {
		t.Fatalf("bootstrap with xDS port 70000: err = %v, want the port rule", err)
	}
	if _, cached := bootstrapCache.Get(p); cached {
		t.Fatal("a refused bootstrap was cached")
	}
}

// The cache changes no output: a cached bootstrap is the one encoding the
// typed bootstrap gives, and different parameters give different entries.
func TestBootstrapCacheIsTransparent(t *testing.T) {
	o := testOptions()
	for _, gw := range []string{"cache-a", "cache-b"} {
		p := bootstrapParamsOf("team-a", gw, o)
		first, err := encodedBootstrap(p)
		if err != nil {
			t.Fatal(err)
		}
		again, err := encodedBootstrap(p)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := marshalEnvoy(Bootstrap("team-a", gw, o))
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
}
