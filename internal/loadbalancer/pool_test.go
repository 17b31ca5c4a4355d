package loadbalancer

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestPoolAllocatesDistinctAddressesAndSkipsNetworkAndBroadcast(t *testing.T) {
	p, err := newPool(netip.MustParsePrefix("10.0.0.0/30"), netip.Prefix{}) // .1 and .2 usable
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.allocate("ns/a")
	if err != nil || a != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("first allocation %s, %v; want 10.0.0.1", a, err)
	}
	if again, _ := p.allocate("ns/a"); again != a {
		t.Errorf("second allocation for the same Service %s, want %s", again, a)
	}
	b, err := p.allocate("ns/b")
	if err != nil || b != netip.MustParseAddr("10.0.0.2") {
		t.Fatalf("second Service got %s, %v; want 10.0.0.2", b, err)
	}
	if _, err := p.allocate("ns/c"); err == nil || !strings.Contains(err.Error(), "exhausted (2 addresses held)") {
		t.Fatalf("third allocation in a /30: err = %v, want exhausted", err)
	}
	p.release("ns/a")
	c, err := p.allocate("ns/c")
	if err != nil || c != a {
		t.Fatalf("after a release got %s, %v; want the released %s", c, err, a)
	}
}

func TestPoolDoesNotReuseAReleasedAddressAtOnce(t *testing.T) {
	p, _ := newPool(netip.MustParsePrefix("127.240.0.0/16"), netip.Prefix{})
	a, _ := p.allocate("ns/a")
	p.release("ns/a")
	if b, _ := p.allocate("ns/b"); b == a {
		t.Errorf("released %s handed out again at once", a)
	}
}

func TestPoolClaim(t *testing.T) {
	p, _ := newPool(netip.MustParsePrefix("127.240.0.0/16"), netip.Prefix{})
	x := netip.MustParseAddr("127.240.3.7")
	if !p.claim("ns/a", x) || !p.claim("ns/a", x) {
		t.Fatal("claiming a free address failed")
	}
	if p.claim("ns/b", x) {
		t.Error("an address held by ns/a was claimed by ns/b")
	}
	for _, bad := range []string{"127.240.0.0", "127.240.255.255", "10.0.0.1"} {
		if p.claim("ns/c", netip.MustParseAddr(bad)) {
			t.Errorf("claimed unusable address %s", bad)
		}
	}
	// ns/a moves: its old address is free again.
	y := netip.MustParseAddr("127.240.3.8")
	if !p.claim("ns/a", y) || !p.claim("ns/b", x) {
		t.Error("moving ns/a did not release its old address")
	}
}

func TestPoolInvalid(t *testing.T) {
	if _, err := newPool(netip.Prefix{}, netip.Prefix{}); err == nil {
		t.Error("zero prefix accepted")
	}
	if p, err := newPool(netip.MustParsePrefix("127.240.0.9/32"), netip.Prefix{}); err != nil {
		t.Errorf("/32: %v", err)
	} else if a, err := p.allocate("ns/a"); err != nil || a.String() != "127.240.0.9" {
		t.Errorf("/32 allocation %s, %v", a, err)
	}
	if p, err := newPool(netip.MustParsePrefix("fd00::/120"), netip.Prefix{}); err != nil {
		t.Errorf("IPv6: %v", err)
	} else if a, _ := p.allocate("ns/a"); a.String() != "fd00::1" {
		t.Errorf("IPv6 allocation %s, want fd00::1", a)
	}
}

// Request-only addresses are never allocated, only claimed; allocation
// wraps around them and reports the pool exhausted when only they are left.
func TestPoolRequestOnly(t *testing.T) {
	p, err := newPool(netip.MustParsePrefix("10.0.0.0/29"), netip.MustParsePrefix("10.0.0.4/30")) // .1-.3 automatic, .4-.6 on request
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"ns/a", "ns/b", "ns/c"} {
		a, err := p.allocate(k)
		if want := fmt.Sprintf("10.0.0.%d", i+1); err != nil || a.String() != want {
			t.Fatalf("allocation %d: %s, %v; want %s", i, a, err, want)
		}
	}
	if a, err := p.allocate("ns/d"); err == nil {
		t.Fatalf("fourth allocation got %s; want exhausted (the rest is request-only)", a)
	}
	if !p.claim("ns/d", netip.MustParseAddr("10.0.0.5")) {
		t.Error("claiming a request-only address failed")
	}
	for _, bad := range []string{"10.0.0.0/16", "10.1.0.0/30"} {
		if _, err := newPool(netip.MustParsePrefix("10.0.0.0/29"), netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("request-only %s outside the pool accepted", bad)
		}
	}
}
