package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestProxyName(t *testing.T) {
	for _, tc := range []struct{ ns, gw, want string }{
		{"team-a", "gateway-a", "envoy-team-a-gateway-a-b65c6264"},
		{"team-b", "gateway-b", "envoy-team-b-gateway-b-0ac91f5a"},
	} {
		if got := ProxyName(tc.ns, tc.gw); got != tc.want {
			t.Errorf("ProxyName(%s, %s) = %s, want %s", tc.ns, tc.gw, got, tc.want)
		}
	}
}

func TestProxyNameIsAlwaysAValidUniqueLabel(t *testing.T) {
	long := strings.Repeat("a", 63)
	seen := map[string]string{}
	for _, tc := range []struct{ ns, gw string }{
		{"team-a", "gateway-a"},
		{long, long},
		{long, long + "b"},
		{"ns", "gw.with.dots"},
		{"ns", "gw-with-dots"},
		{"n", strings.Repeat("x-", 120) + "y"},
		{strings.Repeat("n", 50), "a------------------------------------b"},
	} {
		name := ProxyName(tc.ns, tc.gw)
		if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
			t.Errorf("ProxyName(%q, %q) = %q: %v", tc.ns, tc.gw, name, errs)
		}
		if !strings.HasPrefix(name, "envoy-") {
			t.Errorf("ProxyName(%q, %q) = %q lacks the envoy- prefix", tc.ns, tc.gw, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("ProxyName(%q, %q) = %q collides with %s", tc.ns, tc.gw, name, prev)
		}
		seen[name] = tc.ns + "/" + tc.gw
		if errs := validation.IsDNS1123Subdomain(InventoryName(tc.ns, tc.gw)); len(errs) > 0 {
			t.Errorf("InventoryName: %v", errs)
		}
		for k, v := range Labels(tc.ns, tc.gw) {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Errorf("label %s=%q: %v", k, v, errs)
			}
		}
	}
	// Long names keep the readable prefix and the hash of the full name.
	if got := ProxyName(long, long); len(got) != 63 || !strings.HasSuffix(got, "-"+hash8(long+"/"+long)) {
		t.Errorf("ProxyName(long, long) = %q (%d characters)", got, len(got))
	}
}

func TestIdentities(t *testing.T) {
	if got := ServiceAccountName("team-a", "gateway-a"); got != "envoy-team-a-gateway-a-b65c6264" {
		t.Errorf("ServiceAccountName = %s", got)
	}
	if InventoryID("team-a", "gateway-a") == InventoryID("team-b", "gateway-b") {
		t.Error("two Gateways share an inventory id")
	}
	if got := InventoryName("team-a", "gateway-a"); got != "envoy-team-a-gateway-a-b65c6264-inventory" {
		t.Errorf("InventoryName = %s", got)
	}
}
