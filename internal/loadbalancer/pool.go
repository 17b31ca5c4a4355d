package loadbalancer

import (
	"fmt"
	"net/netip"
)

// pool hands out addresses of a prefix, never one already held. It is not
// safe for concurrent use (the allocator has one worker).
type pool struct {
	prefix netip.Prefix
	// requestOnly addresses are given only to Services that request them
	// (claim), never by allocate; its zero value holds none.
	requestOnly netip.Prefix
	held        map[netip.Addr]string // address → namespace/name of its Service
	byKey       map[string]netip.Addr
	// next is where the search for a free address starts: it moves on
	// after each allocation so a released address is not handed out again
	// at once (a stale status elsewhere would then look valid).
	next netip.Addr
}

func newPool(prefix, requestOnly netip.Prefix) (*pool, error) {
	if !prefix.IsValid() {
		return nil, fmt.Errorf("address pool %s is not a valid prefix", prefix)
	}
	prefix = prefix.Masked()
	if requestOnly.IsValid() {
		requestOnly = requestOnly.Masked()
		if !prefix.Contains(requestOnly.Addr()) || requestOnly.Bits() < prefix.Bits() {
			return nil, fmt.Errorf("request-only range %s is not inside the address pool %s", requestOnly, prefix)
		}
	}
	p := &pool{prefix: prefix, requestOnly: requestOnly, held: map[netip.Addr]string{}, byKey: map[string]netip.Addr{}, next: prefix.Addr()}
	if _, ok := p.firstUsable(); !ok {
		return nil, fmt.Errorf("address pool %s has no usable address", prefix)
	}
	return p, nil
}

// usable excludes the network address and, for IPv4 prefixes of /30 and
// wider, the broadcast address: valid, but confusing in a demo.
func (p *pool) usable(a netip.Addr) bool {
	if !p.prefix.Contains(a) {
		return false
	}
	if p.prefix.Bits() == a.BitLen() || (a.Is4() && p.prefix.Bits() == 31) {
		return true
	}
	if a == p.prefix.Addr() {
		return false
	}
	return !(a.Is4() && !p.prefix.Contains(a.Next()))
}

func (p *pool) firstUsable() (netip.Addr, bool) {
	for a, i := p.prefix.Addr(), 0; p.prefix.Contains(a) && i < 3; a, i = a.Next(), i+1 {
		if p.usable(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// lookup returns the address key holds.
func (p *pool) lookup(key string) (netip.Addr, bool) {
	a, ok := p.byKey[key]
	return a, ok
}

// claim gives a to key if a is usable and free (or already key's); it
// reports whether key now holds a. key's previous address is released.
func (p *pool) claim(key string, a netip.Addr) bool {
	if !p.usable(a) {
		return false
	}
	if owner, ok := p.held[a]; ok {
		return owner == key
	}
	p.release(key)
	p.held[a] = key
	p.byKey[key] = a
	return true
}

// allocate gives key a free address outside requestOnly, or the one it
// holds.
func (p *pool) allocate(key string) (netip.Addr, error) {
	if a, ok := p.byKey[key]; ok {
		return a, nil
	}
	first, _ := p.firstUsable()
	start := p.next
	if !p.usable(start) {
		start = first
	}
	a := start
	for {
		if _, taken := p.held[a]; !taken && p.usable(a) && !p.requestOnly.Contains(a) {
			p.held[a] = key
			p.byKey[key] = a
			p.next = a.Next()
			return a, nil
		}
		a = a.Next()
		if !p.usable(a) {
			a = first // wrapped past the end of the prefix
		}
		if a == start {
			return netip.Addr{}, fmt.Errorf("address pool %s is exhausted (%d addresses held)", p.prefix, len(p.held))
		}
	}
}

// release frees key's address, if it holds one.
func (p *pool) release(key string) (netip.Addr, bool) {
	a, ok := p.byKey[key]
	if ok {
		delete(p.byKey, key)
		delete(p.held, a)
	}
	return a, ok
}
