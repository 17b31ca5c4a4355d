package xds

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"net"
	"slices"
	"sync"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"k8s.io/utils/lru"
)

// Limit is why the server refused something a proxy never needs. It is the
// label of the refusal metric, so the set is small and fixed.
type Limit string

const (
	// LimitTypeURL: a request for a type berth does not serve.
	LimitTypeURL Limit = "type_url"
	// LimitResourceNames: too many resource names (or bytes of them) in a
	// request, or subscribed on a delta stream.
	LimitResourceNames Limit = "resource_names"
	// LimitMessageSize: a request over Options.MaxRecvMsgSize.
	LimitMessageSize Limit = "message_size"
	// LimitStreamsPerIdentity: the identity has MaxStreamsPerIdentity streams.
	LimitStreamsPerIdentity Limit = "streams_per_identity"
	// LimitConnectionsPerPeer: the IP has MaxConnectionsPerPeer connections.
	LimitConnectionsPerPeer Limit = "connections_per_peer"
	// LimitPeerRefusals: the IP was refused too often lately.
	LimitPeerRefusals Limit = "peer_refusals"
	// LimitPanic: a handler panicked; that call ended with Internal.
	LimitPanic Limit = "panic"
)

// Limits lists every Limit, for pre-initialising metrics.
func Limits() []Limit {
	return []Limit{LimitTypeURL, LimitResourceNames, LimitMessageSize, LimitStreamsPerIdentity,
		LimitConnectionsPerPeer, LimitPeerRefusals, LimitPanic}
}

// limitError ends a call for a Limit; it carries its gRPC status.
type limitError struct {
	limit  Limit
	code   codes.Code
	detail string
	// counted: already counted and logged where it happened.
	counted bool
}

func limitErrorf(l Limit, code codes.Code, format string, args ...any) *limitError {
	return &limitError{limit: l, code: code, detail: fmt.Sprintf(format, args...)}
}

func (e *limitError) Error() string { return "xds: " + string(e.limit) + ": " + e.detail }

func (e *limitError) GRPCStatus() *status.Status { return status.New(e.code, e.Error()) }

// servedTypes are the type URLs a berth proxy asks for: what translation
// produces (go-control-plane's other snapshot types stay empty, and a
// request for them is refused rather than given a watch).
var servedTypes = map[string]bool{
	resourcev3.ListenerType: true, resourcev3.RouteType: true, resourcev3.ClusterType: true,
	resourcev3.EndpointType: true, resourcev3.SecretType: true,
}

// checkRequest refuses a request for a type berth does not serve or with
// too many resource names. subscribed tracks a delta stream's
// subscriptions per type (nil for state-of-the-world).
func (s *Server) checkRequest(key string, m any, subscribed map[string]map[string]struct{}) error {
	var typeURL string
	var names []string
	switch req := m.(type) {
	case *discoverygrpc.DiscoveryRequest:
		typeURL, names = req.GetTypeUrl(), req.GetResourceNames()
		trimErrorDetail(req.ErrorDetail)
	case *discoverygrpc.DeltaDiscoveryRequest:
		typeURL, names = req.GetTypeUrl(), req.GetResourceNamesSubscribe()
		trimErrorDetail(req.ErrorDetail)
		if n := len(req.GetInitialResourceVersions()); n > s.opts.MaxResourceNames {
			return limitErrorf(LimitResourceNames, codes.ResourceExhausted, "%d initial resource versions, limit %d", n, s.opts.MaxResourceNames)
		}
	default:
		return nil
	}
	if !servedTypes[typeURL] {
		return limitErrorf(LimitTypeURL, codes.InvalidArgument, "type %q is not served", truncate(typeURL, 128))
	}
	if len(names) > s.opts.MaxResourceNames {
		return limitErrorf(LimitResourceNames, codes.ResourceExhausted, "%d resource names in one request, limit %d", len(names), s.opts.MaxResourceNames)
	}
	size := 0
	for _, n := range names {
		size += len(n)
	}
	if size > s.opts.MaxResourceNameBytes {
		return limitErrorf(LimitResourceNames, codes.ResourceExhausted, "%d bytes of resource names in one request, limit %d", size, s.opts.MaxResourceNameBytes)
	}
	known := s.knownNames(key, typeURL)
	if err := s.checkUnknown(typeURL, slices.Values(names), known); err != nil {
		return err
	}
	if req, ok := m.(*discoverygrpc.DeltaDiscoveryRequest); ok && subscribed != nil {
		set := subscribed[typeURL]
		if set == nil {
			set = map[string]struct{}{}
			subscribed[typeURL] = set
		}
		for _, n := range req.GetResourceNamesUnsubscribe() {
			delete(set, n)
		}
		for _, n := range names {
			set[n] = struct{}{}
		}
		if len(set) > s.opts.MaxResourceNames {
			return limitErrorf(LimitResourceNames, codes.ResourceExhausted, "%d resource names subscribed to %s, limit %d", len(set), shortType(typeURL), s.opts.MaxResourceNames)
		}
		if err := s.checkUnknown(typeURL, maps.Keys(set), known); err != nil {
			return err
		}
	}
	return nil
}

// maxUnknownNameBytes bounds one resource name the Gateway's snapshot does
// not hold (berth's names are far shorter).
const maxUnknownNameBytes = 256

// checkUnknown bounds the names a request (or a delta stream's
// subscriptions) holds that the Gateway's current snapshot does not: a
// proxy asks for names it learnt from the server, so only a few can be
// unknown (a replica whose snapshot lags), and what go-control-plane keeps
// per watch is then bounded by the tenant's own snapshot.
func (s *Server) checkUnknown(typeURL string, names iter.Seq[string], known map[string]cachetypes.ResourceWithTTL) error {
	unknown := 0
	for n := range names {
		if n == "*" {
			continue
		}
		if _, ok := known[n]; ok {
			continue
		}
		if len(n) > maxUnknownNameBytes {
			return limitErrorf(LimitResourceNames, codes.ResourceExhausted, "a %s name of %d bytes that the Gateway does not have, limit %d", shortType(typeURL), len(n), maxUnknownNameBytes)
		}
		if unknown++; unknown > s.opts.MaxUnknownResourceNames {
			return limitErrorf(LimitResourceNames, codes.ResourceExhausted, "more than %d %s names that the Gateway does not have", s.opts.MaxUnknownResourceNames, shortType(typeURL))
		}
	}
	return nil
}

// knownNames are the resources of typeURL in the snapshot served as key
// (read-only: a snapshot is never changed once set).
func (s *Server) knownNames(key, typeURL string) map[string]cachetypes.ResourceWithTTL {
	snap, err := s.cache.GetSnapshot(key)
	if err != nil {
		return nil
	}
	if cs, ok := snap.(*cachev3.Snapshot); ok {
		return cs.GetResourcesAndTTL(typeURL)
	}
	return nil
}

// maxErrorDetail is what is kept of a NACK's message: go-control-plane
// keeps the last request of every type, and berth never reads it.
const maxErrorDetail = 1024

func trimErrorDetail(d *rpcstatus.Status) {
	if d == nil {
		return
	}
	if len(d.Message) > maxErrorDetail {
		d.Message = d.Message[:maxErrorDetail]
	}
	d.Details = nil
}

// refuseLimit counts and logs a Limit refusal and returns its status.
func (s *Server) refuseLimit(ctx context.Context, method string, err *limitError) error {
	s.metrics.Refusals.WithLabelValues(string(err.limit)).Inc()
	s.refusalLog.Info("xDS call refused", zap.String("limit", string(err.limit)), zap.String("peer", peerAddr(ctx)),
		zap.String("method", method), zap.String("code", err.code.String()), zap.String("detail", err.detail))
	return err.GRPCStatus().Err()
}

// refuseConn counts and logs a connection closed at accept.
func (s *Server) refuseConn(addr string, l Limit) {
	s.metrics.Refusals.WithLabelValues(string(l)).Inc()
	s.refusalLog.Info("xDS connection refused", zap.String("limit", string(l)), zap.String("peer", addr))
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// peerIP is the IP of an address ("host:port"), or the address itself.
func peerIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// peerLimits are the per-IP limits: open connections and a refusal budget.
type peerLimits struct {
	maxConns int
	every    rate.Limit
	burst    int

	mu    sync.Mutex
	conns map[string]int
	// refusals holds the refusal budgets of recently seen IPs (bounded: an
	// IP forgotten starts with a full budget again).
	refusals *lru.Cache
}

func newPeerLimits(o Options) *peerLimits {
	return &peerLimits{maxConns: o.MaxConnectionsPerPeer, every: rate.Limit(o.RefusalsPerPeer), burst: o.RefusalBurst,
		conns: map[string]int{}, refusals: lru.New(10000)}
}

func (p *peerLimits) limiter(ip string) *rate.Limiter {
	if v, ok := p.refusals.Get(ip); ok {
		return v.(*rate.Limiter)
	}
	l := rate.NewLimiter(p.every, p.burst)
	p.refusals.Add(ip, l)
	return l
}

// throttled says whether ip has spent its refusal budget.
func (p *peerLimits) throttled(ip string) bool { return p.limiter(ip).Tokens() < 1 }

// refused spends one unit of ip's refusal budget.
func (p *peerLimits) refused(ip string) { p.limiter(ip).Allow() }

// listener closes connections beyond maxConns per IP as they are accepted.
func (p *peerLimits) listener(l net.Listener, refuse func(addr string, l Limit)) net.Listener {
	return &peerListener{Listener: l, p: p, refuse: refuse}
}

type peerListener struct {
	net.Listener
	p      *peerLimits
	refuse func(string, Limit)
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := c.RemoteAddr().String()
		ip := peerIP(addr)
		l.p.mu.Lock()
		if l.p.conns[ip] >= l.p.maxConns {
			l.p.mu.Unlock()
			// Counted before the close: whoever sees the connection
			// closed sees the refusal counted.
			l.refuse(addr, LimitConnectionsPerPeer)
			c.Close()
			continue
		}
		l.p.conns[ip]++
		l.p.mu.Unlock()
		return &peerConn{Conn: c, release: sync.OnceFunc(func() {
			l.p.mu.Lock()
			defer l.p.mu.Unlock()
			if l.p.conns[ip]--; l.p.conns[ip] <= 0 {
				delete(l.p.conns, ip)
			}
		})}, nil
	}
}

type peerConn struct {
	net.Conn
	release func()
}

func (c *peerConn) Close() error {
	c.release()
	return c.Conn.Close()
}
