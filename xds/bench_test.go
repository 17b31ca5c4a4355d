package xds_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// openStreams opens n authenticated SotW streams, perConn per TLS
// connection (1: as n Envoys would), spread over the given Gateways, and
// waits until each holds its snapshot.
func openStreams(b *testing.B, h *harness, gws []k8stypes.NamespacedName, ids []xds.Identity, n, perConn int) []*xdstest.Client {
	b.Helper()
	creds := h.creds(b)
	tokens := make([]string, len(gws))
	for i := range gws {
		tokens[i] = h.reviewer.tokenFor(b, ids[i], time.Hour)
	}
	conns := make([]*grpc.ClientConn, (n+perConn-1)/perConn)
	for i := range conns {
		conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		conns[i] = conn
	}
	clients := make([]*xdstest.Client, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			g := i % len(gws)
			c, err := xdstest.Start(context.Background(), conns[i/perConn], xdstest.Options{Token: tokens[g], Node: node(gws[g])})
			if err != nil {
				errs <- err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Wait(ctx, func(s xdstest.State) bool { return len(s.Versions) == len(xdstest.AllTypes) }); err != nil {
				errs <- err
				return
			}
			clients[i] = c
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return clients
}

// waitChange waits until every client holds another version of typeURL
// than before[i].
func waitChange(b *testing.B, clients []*xdstest.Client, typeURL string, before []string) {
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for {
				ch := c.Changed()
				if c.Version(typeURL) != before[i] {
					return
				}
				select {
				case <-ch:
				case <-c.Done():
					b.Error(c.Err())
					return
				case <-time.After(time.Minute):
					b.Error("timeout")
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkPush measures one change reaching 1,000 connected, authenticated
// streams: from Publish until every client holds the new version.
func BenchmarkPush(b *testing.B) {
	for _, gateways := range []int{1, 1000} {
		b.Run(fmt.Sprintf("streams=1000/gateways=%d", gateways), func(b *testing.B) {
			h := newHarness(b, nil)
			gws := make([]k8stypes.NamespacedName, gateways)
			ids := make([]xds.Identity, gateways)
			for i := range gateways {
				ns := fmt.Sprintf("team-%d", i)
				gws[i] = k8stypes.NamespacedName{Namespace: ns, Name: "gw"}
				ids[i] = xds.Identity{Namespace: ns, ServiceAccount: "envoy"}
				h.publish(b, gws[i], ids[i], fixA.Resources())
			}
			clients := openStreams(b, h, gws, ids, 1000, 1)
			b.ResetTimer()
			for iter := range b.N {
				f := fixA
				f.EndpointIP = fmt.Sprintf("10.1.%d.%d", iter/250, iter%250)
				res := f.Resources()
				b.StopTimer()
				before := make([]string, len(clients))
				for i, c := range clients {
					before[i] = c.Version(resourcev3.EndpointType)
				}
				b.StartTimer()
				for i := range gateways {
					h.publish(b, gws[i], ids[i], res)
				}
				waitChange(b, clients, resourcev3.EndpointType, before)
			}
		})
	}
}

// BenchmarkIdleStreamMemory reports the heap held per idle authenticated
// stream and goroutines per stream, server side and the in-process client
// together: with one TLS connection per stream (as Envoys connect) and with
// 100 streams per connection (the stream's own cost, connection amortised).
func BenchmarkIdleStreamMemory(b *testing.B) {
	for _, perConn := range []int{1, 100} {
		b.Run(fmt.Sprintf("streams=1000/per-conn=%d", perConn), func(b *testing.B) { idleStreamMemory(b, 1000, perConn) })
	}
}

func idleStreamMemory(b *testing.B, n, perConn int) {
	for range b.N {
		b.StopTimer()
		h := newHarness(b, nil)
		h.publish(b, gwA, idA, fixA.Resources())
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		b.StartTimer()
		clients := openStreams(b, h, []k8stypes.NamespacedName{gwA}, []xds.Identity{idA}, n, perConn)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(n), "heap-bytes/stream")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(n), "goroutines/stream")
		runtime.KeepAlive(clients)
	}
}
