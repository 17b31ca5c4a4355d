package xds_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// withDefaultLimits undoes the harness's generous limits: benchmarks run
// with what berth ships.
func withDefaultLimits(o *xds.Options) {
	d := xds.DefaultOptions()
	o.MaxConcurrentStreams, o.MaxStreamsPerIdentity = d.MaxConcurrentStreams, d.MaxStreamsPerIdentity
	o.MaxConnectionsPerPeer, o.RefusalBurst = d.MaxConnectionsPerPeer, d.RefusalBurst
}

func heapMiB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// dialFrom connects to addr from a loopback source address (a distinct
// peer for the per-peer limits).
func dialFrom(b testing.TB, addr, from string, creds credentials.TransportCredentials) *grpc.ClientConn {
	b.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// BenchmarkHostileTenant: one tenant with a valid token does its worst
// within the default limits: every stream it may open (MaxStreamsPerIdentity,
// over as many connections as one peer may hold) subscribes to all five
// types with the most resource names allowed, and further streams send
// made-up types and 4 MiB name lists (refused). It reports the server's heap
// growth (clients in process included: an upper bound) and the refusals.
func BenchmarkHostileTenant(b *testing.B) {
	b.Run("names=max", func(b *testing.B) { hostileTenant(b, true) })
	b.Run("names=none", func(b *testing.B) { hostileTenant(b, false) })
}

func hostileTenant(b *testing.B, withNames bool) {
	for range b.N {
		h := newHarness(b, withDefaultLimits)
		h.publish(b, gwA, idA, fixA.Resources())
		tok := h.reviewer.tokenFor(b, idA, time.Hour)
		d := xds.DefaultOptions()
		before := heapMiB()
		// The most a stream may name that its Gateway does not have.
		var names []string
		if withNames {
			names = make([]string, d.MaxUnknownResourceNames)
		}
		for i := range names {
			names[i] = fmt.Sprintf("%0256d", i)
		}
		ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok))
		creds := h.creds(b)
		var conns []*grpc.ClientConn
		for range d.MaxConnectionsPerPeer {
			conns = append(conns, dialFrom(b, h.addr, "127.0.0.3", creds))
		}
		var wg sync.WaitGroup
		open := func(i int) {
			wg.Go(func() {
				s, err := discoverygrpc.NewAggregatedDiscoveryServiceClient(conns[i%len(conns)]).StreamAggregatedResources(ctx)
				if err != nil {
					return
				}
				for j, typ := range xdstest.AllTypes {
					req := &discoverygrpc.DiscoveryRequest{TypeUrl: typ, ResourceNames: slices.Clone(names)}
					if j == 0 {
						req.Node = node(gwA)
					}
					if i >= d.MaxStreamsPerIdentity { // the refused kinds
						if i%2 == 0 {
							req.TypeUrl = "type.googleapis.com/made.Up" + strings.Repeat("x", j)
						} else {
							req.ResourceNames = make([]string, 4096)
							for k := range req.ResourceNames {
								req.ResourceNames[k] = strings.Repeat("n", 1024)
							}
						}
					}
					if s.Send(req) != nil {
						break
					}
				}
			})
		}
		// First every stream the tenant may hold, then the refused kinds.
		for i := range d.MaxStreamsPerIdentity {
			open(i)
		}
		wg.Wait()
		deadline := time.Now().Add(10 * time.Second)
		for h.srv.Streams(gwA) < d.MaxStreamsPerIdentity && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		for i := range 20 {
			open(d.MaxStreamsPerIdentity + i)
		}
		wg.Wait()
		time.Sleep(time.Second) // let the server take in every request
		b.ReportMetric(heapMiB()-before, "heap-MiB")
		b.ReportMetric(float64(h.srv.Streams(gwA)), "streams")
		for _, l := range xds.Limits() {
			if v := xdstest.Value(h.metrics.Refusals.WithLabelValues(string(l))); v > 0 {
				b.ReportMetric(v, "refused-"+string(l))
			}
		}
		for _, r := range auth.Reasons() {
			if v := xdstest.Value(h.metrics.AuthFailures.WithLabelValues(string(r))); v > 0 {
				b.ReportMetric(v, "refused-"+string(r))
			}
		}
		cancel()
	}
}

// issuerKey signs tokens the way the apiserver does, and serves its JWKS.
type issuerKey struct {
	key *ecdsa.PrivateKey
	kid string
}

func newIssuerKey(b testing.TB) *issuerKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return &issuerKey{key: k, kid: "cluster-key"}
}

func (k *issuerKey) fetch(context.Context, string) ([]byte, error) {
	return json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.key.Public(), KeyID: k.kid, Algorithm: "ES256", Use: "sig"}}})
}

func (k *issuerKey) sign(b testing.TB, key *ecdsa.PrivateKey, sub string) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", k.kid))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := josejwt.Signed(sig).Claims(map[string]any{"aud": []string{auth.DefaultAudience}, "exp": time.Now().Add(time.Hour).Unix(), "sub": sub}).Serialize()
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkForgedFlood: forged tokens (the cluster's key id, signed with
// another key) arrive at about 1,000 attempts/s from another peer while new
// proxies, each with a fresh genuine token (so a TokenReview each), connect
// every 100 ms; it reports their time to configuration (p50, p99, max) and
// the TokenReviews per forged attempt.
// With peer-throttling=off every forged attempt is verified (and refused)
// locally: the cost of the signature check alone.
func BenchmarkForgedFlood(b *testing.B) {
	b.Run("peer-throttling=on", func(b *testing.B) { forgedFlood(b, true) })
	b.Run("peer-throttling=off", func(b *testing.B) { forgedFlood(b, false) })
}

func forgedFlood(b *testing.B, throttle bool) {
	for range b.N {
		ik := newIssuerKey(b)
		h := newHarness(b, func(o *xds.Options) {
			withDefaultLimits(o)
			if !throttle {
				o.RefusalBurst = 1 << 30
			}
			o.Auth.Verifier = auth.NewIssuerVerifier(ik.fetch, auth.IssuerVerifierOptions{})
		})
		h.publish(b, gwA, idA, fixA.Resources())
		attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		forged := make([]string, 64)
		for i := range forged {
			forged[i] = ik.sign(b, attacker, fmt.Sprint("forged-", i))
		}
		creds := h.creds(b)
		ctx, stop := context.WithCancel(context.Background())
		var attempts atomic.Int64
		var flood sync.WaitGroup
		const workers = 8
		for w := range workers {
			conn := dialFrom(b, h.addr, "127.0.0.2", creds)
			flood.Go(func() {
				tick := time.NewTicker(workers * time.Millisecond) // 1,000/s in all
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					sctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+forged[(w+i*workers)%len(forged)])
					if s, err := discoverygrpc.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(sctx); err == nil {
						attempts.Add(1)
						go func() { _, _ = s.Recv() }()
					}
				}
			})
		}
		time.Sleep(time.Second)
		reviewsBefore := h.reviewer.calls.Load()
		var ttc []time.Duration
		for i := range 30 {
			tok := ik.sign(b, ik.key, fmt.Sprint("proxy-", i))
			h.reviewer.add(tok, idA)
			conn := dialFrom(b, h.addr, "127.0.0.1", creds)
			start := time.Now()
			c, err := xdstest.Start(ctx, conn, xdstest.Options{Token: tok, Node: node(gwA)})
			if err != nil {
				b.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := c.Wait(wctx, complete); err != nil {
				b.Fatalf("proxy %d under the flood: %v", i, err)
			}
			cancel()
			ttc = append(ttc, time.Since(start))
			conn.Close()
			time.Sleep(100 * time.Millisecond)
		}
		genuine := int64(len(ttc))
		stop()
		flood.Wait()
		slices.Sort(ttc)
		b.ReportMetric(float64(ttc[len(ttc)/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(ttc[len(ttc)*99/100].Milliseconds()), "p99-ms")
		b.ReportMetric(float64(ttc[len(ttc)-1].Milliseconds()), "max-ms")
		b.ReportMetric(float64(attempts.Load()), "forged-attempts")
		b.ReportMetric(float64(h.reviewer.calls.Load()-reviewsBefore-genuine)/float64(attempts.Load()), "reviews/forged")
	}
}

// BenchmarkIdleUnauthenticatedConnections: 1,000 TLS connections (from 63
// loopback addresses, under the per-peer limit) that complete the
// handshake and HTTP/2 preface and open no stream. It reports heap per
// connection (client side in process included: an upper bound).
func BenchmarkIdleUnauthenticatedConnections(b *testing.B) {
	const n = 1000
	for range b.N {
		h := newHarness(b, withDefaultLimits)
		before := heapMiB()
		var conns []net.Conn
		cfg := xdstestTLSConfig(b, h)
		for i := range n {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i/16))}}
			raw, err := d.Dial("tcp", h.addr)
			if err != nil {
				b.Fatal(err)
			}
			c := tls.Client(raw, cfg)
			if err := c.Handshake(); err != nil {
				b.Fatal(err)
			}
			// HTTP/2 preface and an empty SETTINGS frame: the server builds
			// its whole transport for the connection.
			if _, err := c.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)); err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		time.Sleep(time.Second)
		b.ReportMetric((heapMiB()-before)*(1<<10)/n, "KiB/conn")
		for _, c := range conns {
			c.Close()
		}
	}
}

func xdstestTLSConfig(b testing.TB, h *harness) *tls.Config {
	b.Helper()
	pool := x509Pool(b, h.ca)
	return &tls.Config{RootCAs: pool, ServerName: "berth-xds.berth-system.svc", NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
}

func x509Pool(b testing.TB, caPEM []byte) *x509.CertPool {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(caPEM) {
		b.Fatal("no CA")
	}
	return p
}
