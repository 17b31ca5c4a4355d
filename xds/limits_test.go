package xds_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// rawSotw opens a state-of-the-world stream with tok and sends reqs (the
// first carrying gw's node); it reads nothing.
func rawSotw(t *testing.T, conn *grpc.ClientConn, tok string, gw xds.Identity, reqs ...*discoverygrpc.DiscoveryRequest) discoverygrpc.AggregatedDiscoveryService_StreamAggregatedResourcesClient {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+tok)
	s, err := discoverygrpc.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		if i == 0 {
			r.Node = &corev3.Node{Id: "p", Cluster: gw.Namespace + "/gateway-a"}
		}
		if err := s.Send(r); err != nil {
			break
		}
	}
	return s
}

// endCode reads s until it ends and returns its status code.
func endCode(s grpc.ClientStream) codes.Code {
	for {
		m := new(discoverygrpc.DiscoveryResponse)
		if err := s.RecvMsg(m); err != nil {
			return status.Code(err)
		}
	}
}

func refusals(h *harness, l xds.Limit) float64 {
	return xdstest.Value(h.metrics.Refusals.WithLabelValues(string(l)))
}

// What a proxy never sends is refused with a precise code and counted:
// types berth does not serve, too many names, too many bytes of names,
// messages over the size limit, delta subscriptions past the bound.
func TestRequestLimits(t *testing.T) {
	h := newHarness(t, func(o *xds.Options) { o.MaxResourceNames = 100; o.MaxResourceNameBytes = 4096 })
	h.publish(t, gwA, idA, fixA.Resources())
	tok := h.reviewer.tokenFor(t, idA, time.Hour)
	names := func(n, size int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("n", size-6) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + "xyz"
		}
		return out
	}
	cases := []struct {
		name  string
		req   *discoverygrpc.DiscoveryRequest
		code  codes.Code
		limit xds.Limit
	}{
		{"made-up type", &discoverygrpc.DiscoveryRequest{TypeUrl: "type.googleapis.com/made.Up"}, codes.InvalidArgument, xds.LimitTypeURL},
		{"runtime type (not served)", &discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.RuntimeType}, codes.InvalidArgument, xds.LimitTypeURL},
		{"too many names", &discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, ResourceNames: names(101, 10)}, codes.ResourceExhausted, xds.LimitResourceNames},
		{"too many bytes of names", &discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, ResourceNames: names(10, 500)}, codes.ResourceExhausted, xds.LimitResourceNames},
		{"4 MiB of names", &discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, ResourceNames: names(4096, 1024)}, codes.ResourceExhausted, xds.LimitMessageSize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := refusals(h, c.limit)
			s := rawSotw(t, h.conn, tok, idA, &discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.ListenerType}, c.req)
			if got := endCode(s); got != c.code {
				t.Fatalf("code %v, want %v", got, c.code)
			}
			// gRPC itself answers an oversized message at once; the
			// handler counts it as it returns.
			deadline := time.Now().Add(5 * time.Second)
			for refusals(h, c.limit)-before != 1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := refusals(h, c.limit) - before; got != 1 {
				t.Fatalf("%s refusals +%v, want +1", c.limit, got)
			}
		})
	}
	t.Run("delta subscriptions accumulate", func(t *testing.T) {
		before := refusals(h, xds.LimitResourceNames)
		ctx := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+tok)
		s, err := discoverygrpc.NewAggregatedDiscoveryServiceClient(h.conn).DeltaAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all := names(150, 10)
		_ = s.Send(&discoverygrpc.DeltaDiscoveryRequest{Node: node(gwA), TypeUrl: resourcev3.ClusterType, ResourceNamesSubscribe: all[:80]})
		_ = s.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resourcev3.ClusterType, ResourceNamesSubscribe: all[80:]})
		var code codes.Code
		for {
			if _, err := s.Recv(); err != nil {
				code = status.Code(err)
				break
			}
		}
		if code != codes.ResourceExhausted || refusals(h, xds.LimitResourceNames)-before != 1 {
			t.Fatalf("code %v, refusals +%v; want ResourceExhausted, +1", code, refusals(h, xds.LimitResourceNames)-before)
		}
	})
	// A legitimate proxy on the same server is unaffected.
	if err := start(t, h, xdstest.Options{Token: tok, Node: node(gwA)}).Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
}

func TestStreamsPerIdentity(t *testing.T) {
	h := newHarness(t, func(o *xds.Options) { o.MaxStreamsPerIdentity = 2 })
	h.publish(t, gwA, idA, fixA.Resources())
	h.publish(t, gwB, idB, fixB.Resources())
	tok := h.reviewer.tokenFor(t, idA, time.Hour)
	ctx, cancel := context.WithCancel(ctxT(t))
	var open []*xdstest.Client
	for range 2 {
		c, err := xdstest.Start(ctx, h.conn, xdstest.Options{Token: tok, Node: node(gwA)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(ctxT(t), complete); err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	third := start(t, h, xdstest.Options{Token: tok, Node: node(gwA)})
	if err := third.WaitEnd(ctxT(t)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third stream: %v, want ResourceExhausted", err)
	}
	if got := refusals(h, xds.LimitStreamsPerIdentity); got != 1 {
		t.Fatalf("streams_per_identity refusals %v, want 1", got)
	}
	// Another tenant is not counted against this one.
	if err := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idB, time.Hour), Node: node(gwB)}).Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	cancel()
	for _, c := range open {
		<-c.Done()
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.srv.Streams(gwA) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := start(t, h, xdstest.Options{Token: tok, Node: node(gwA)}).Wait(ctxT(t), complete); err != nil {
		t.Fatalf("after the others closed: %v", err)
	}
}

// A peer refused RefusalBurst times gets no authentication work until its
// budget refills, unless its token is already cached as accepted.
func TestPeerRefusalsAreThrottled(t *testing.T) {
	h := newHarness(t, func(o *xds.Options) { o.RefusalBurst = 3; o.RefusalsPerPeer = 0.001 })
	h.publish(t, gwA, idA, fixA.Resources())
	good := h.reviewer.tokenFor(t, idA, time.Hour)
	if err := start(t, h, xdstest.Options{Token: good, Node: node(gwA)}).Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c := start(t, h, xdstest.Options{Token: token(t, "forged"+string(rune('a'+i)), "berth.dev/xds", time.Now().Add(time.Hour)), Node: node(gwA)})
		if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("forged %d: %v", i, err)
		}
	}
	reviews := h.reviewer.calls.Load()
	for i := range 5 {
		c := start(t, h, xdstest.Options{Token: token(t, "more"+string(rune('a'+i)), "berth.dev/xds", time.Now().Add(time.Hour)), Node: node(gwA)})
		if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("throttled peer: %v, want ResourceExhausted", err)
		}
	}
	if n := h.reviewer.calls.Load() - reviews; n != 0 {
		t.Fatalf("%d TokenReviews for a throttled peer, want 0", n)
	}
	if got := refusals(h, xds.LimitPeerRefusals); got != 5 {
		t.Fatalf("peer_refusals %v, want 5", got)
	}
	// The cached, accepted token still opens streams from that peer; a new
	// one waits for the budget.
	if err := start(t, h, xdstest.Options{Token: good, Node: node(gwA)}).Wait(ctxT(t), complete); err != nil {
		t.Fatalf("cached token from a throttled peer: %v", err)
	}
	fresh := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)})
	if err := fresh.WaitEnd(ctxT(t)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("uncached token from a throttled peer: %v, want ResourceExhausted", err)
	}
}

// Connections beyond MaxConnectionsPerPeer are closed at accept.
func TestConnectionsPerPeer(t *testing.T) {
	h := newHarness(t, func(o *xds.Options) { o.MaxConnectionsPerPeer = 3 })
	// The harness's own client connection may be open: count from it.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	closed := 0
	for range 6 {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			closed++
		}
	}
	if closed < 3 || refusals(h, xds.LimitConnectionsPerPeer) != float64(closed) {
		t.Fatalf("%d of 6 connections closed at once, %v counted; want at least 3, all counted", closed, refusals(h, xds.LimitConnectionsPerPeer))
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// (g) A panic in one stream's handler ends that stream with Internal; the
// other streams keep their configuration and get updates.
func TestPanicEndsOnlyItsStream(t *testing.T) {
	defer xds.SetRequestHook(func(req any) {
		if r, ok := req.(*discoverygrpc.DiscoveryRequest); ok && len(r.ResourceNames) == 1 && r.ResourceNames[0] == "panic" {
			panic("injected")
		}
	})()
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	h.publish(t, gwB, idB, fixB.Resources())
	tokA, tokB := h.reviewer.tokenFor(t, idA, time.Hour), h.reviewer.tokenFor(t, idB, time.Hour)
	other := start(t, h, xdstest.Options{Token: tokB, Node: node(gwB)})
	same := start(t, h, xdstest.Options{Token: tokA, Node: node(gwA)})
	for _, c := range []*xdstest.Client{other, same} {
		if err := c.Wait(ctxT(t), complete); err != nil {
			t.Fatal(err)
		}
	}
	s := rawSotw(t, h.conn, tokA, idA, &discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, ResourceNames: []string{"panic"}})
	if got := endCode(s); got != codes.Internal {
		t.Fatalf("panicking stream ended %v, want Internal", got)
	}
	if got := refusals(h, xds.LimitPanic); got != 1 {
		t.Fatalf("panics counted %v, want 1", got)
	}
	fix := fixA
	fix.Domain = "after.panic.example"
	h.publish(t, gwA, idA, fix.Resources())
	if err := same.Wait(ctxT(t), func(s xdstest.State) bool { return xdstest.Domains(s)["after.panic.example"] }); err != nil {
		t.Fatalf("another stream of the same Gateway after the panic: %v", err)
	}
	if err := other.Wait(ctxT(t), complete); err != nil || other.Err() != nil {
		t.Fatalf("another tenant's stream after the panic: %v %v", err, other.Err())
	}
}

// (7) Once Publish has ended an old identity's stream, no response is sent
// on it, even one go-control-plane had already prepared: the send is held
// back until the stream has ended, then released.
func TestNoResponseAfterIdentityChange(t *testing.T) {
	held := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	defer xds.SetSendHook(func(context.Context) {
		once.Do(func() { close(held); <-release })
	})()
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)})
	<-held // the first response is about to be sent
	other := xds.Identity{Namespace: gwA.Namespace, ServiceAccount: "another"}
	h.publish(t, gwA, other, fixA.Resources())
	close(release)
	if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("stream ended %v, want PermissionDenied", err)
	}
	if n := c.State().Responses; n != 0 {
		t.Fatalf("%d responses on the ended stream, want 0", n)
	}
}

// (e) A client that stops reading cannot keep its stream past its token's
// expiry: the blocked send is abandoned and the stream ends.
func TestStalledClientEndsAtTokenExpiry(t *testing.T) {
	h := newHarness(t, nil)
	res := fixA.Resources()
	// About 4 MiB of secrets: far more than the flow-control windows of a
	// client that reads nothing.
	for i := range 40 {
		res[resourcev3.SecretType] = append(res[resourcev3.SecretType], &secretv3.Secret{
			Name: "bulk/" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Type: &secretv3.Secret_GenericSecret{GenericSecret: &secretv3.GenericSecret{Secret: &corev3.DataSource{
				Specifier: &corev3.DataSource_InlineBytes{InlineBytes: make([]byte, 100<<10)},
			}}},
		})
	}
	h.publish(t, gwA, idA, res)
	tok := h.reviewer.tokenFor(t, idA, 3*time.Second)
	_ = rawSotw(t, h.conn, tok, idA, &discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.SecretType},
		&discoverygrpc.DiscoveryRequest{TypeUrl: resourcev3.ListenerType})
	deadline := time.Now().Add(2 * time.Second)
	for h.srv.Streams(gwA) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.srv.Streams(gwA) != 1 {
		t.Fatal("stream did not open")
	}
	deadline = time.Now().Add(10 * time.Second)
	for h.srv.Streams(gwA) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := h.srv.Streams(gwA); n != 0 {
		t.Fatalf("%d streams of a client that stopped reading, 7 s after its token expired", n)
	}
}

var _ cachetypes.Resource = (*secretv3.Secret)(nil)

// (c, server side) A deleted pod's streams end at once and its cached token
// opens no new stream; other pods are untouched.
func TestRevokePodEndsItsStreams(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	h.publish(t, gwB, idB, fixB.Resources())
	tokA, tokB := h.reviewer.tokenFor(t, idA, time.Hour), h.reviewer.tokenFor(t, idB, time.Hour)
	a := start(t, h, xdstest.Options{Token: tokA, Node: node(gwA)})
	b := start(t, h, xdstest.Options{Token: tokB, Node: node(gwB)})
	for _, c := range []*xdstest.Client{a, b} {
		if err := c.Wait(ctxT(t), complete); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.srv.RevokePod(podUID(idA)); n != 1 {
		t.Fatalf("RevokePod ended %d streams, want 1", n)
	}
	if err := a.WaitEnd(ctxT(t)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("revoked pod's stream ended %v, want Unauthenticated", err)
	}
	if err := start(t, h, xdstest.Options{Token: tokA, Node: node(gwA)}).WaitEnd(ctxT(t)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("revoked pod's token opened a stream: %v", err)
	}
	fix := fixB
	fix.Domain = "still.served.example"
	h.publish(t, gwB, idB, fix.Resources())
	if err := b.Wait(ctxT(t), func(s xdstest.State) bool { return xdstest.Domains(s)["still.served.example"] }); err != nil {
		t.Fatalf("another pod's stream after the revocation: %v", err)
	}
	if got := xdstest.Value(h.metrics.Revocations); got != 1 {
		t.Fatalf("revocations %v, want 1", got)
	}
}

// (d) Many idle TLS connections are capped: past MaxConnections no
// handshake completes until some close, and those that never open a stream
// are reaped after MaxConnectionIdle; a proxy then connects.
func TestIdleConnectionsAreCapped(t *testing.T) {
	const max, n = 40, 200
	h := newHarness(t, func(o *xds.Options) {
		o.MaxConnections, o.MaxConnectionsPerPeer = max, n
		o.MaxConnectionIdle = 2 * time.Second
	})
	h.publish(t, gwA, idA, fixA.Resources())
	// The harness's own client holds no connection until it is used.
	cfg := xdstestTLSConfig(t, h)
	var mu sync.Mutex
	var done []net.Conn
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(1+i%200))}}
			raw, err := d.Dial("tcp", h.addr)
			if err != nil {
				return
			}
			_ = raw.SetDeadline(time.Now().Add(1500 * time.Millisecond))
			c := tls.Client(raw, cfg)
			if c.Handshake() != nil {
				raw.Close()
				return
			}
			mu.Lock()
			done = append(done, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(done) > max {
		t.Fatalf("%d of %d idle connections completed the TLS handshake, cap %d", len(done), n, max)
	}
	if len(done) < max/2 {
		t.Fatalf("only %d handshakes completed under a cap of %d", len(done), max)
	}
	// The idle ones are reaped; the proxy gets in.
	if err := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)}).Wait(ctxT(t), complete); err != nil {
		t.Fatalf("a proxy after the idle flood: %v", err)
	}
	for _, c := range done {
		c.Close()
	}
}
