package xds_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	authv1 "k8s.io/api/authentication/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/certs"
	"github.com/berth-gateway/berth/xds/xdstest"
)

var (
	gwA = k8stypes.NamespacedName{Namespace: "team-a", Name: "gateway-a"}
	gwB = k8stypes.NamespacedName{Namespace: "team-b", Name: "gateway-b"}
	idA = xds.Identity{Namespace: "team-a", ServiceAccount: "envoy-team-a-gateway-a-b65c6264"}
	idB = xds.Identity{Namespace: "team-b", ServiceAccount: "envoy-team-b-gateway-b-0ac91f5a"}

	fixA = xdstest.Fixture{Domain: "www.team-a.com", Cluster: "cluster/backend", EndpointIP: "10.0.0.1", SecretName: "secret/tls", SecretKey: "key-of-a"}
	fixB = xdstest.Fixture{Domain: "www.team-b.com", Cluster: "cluster/backend", EndpointIP: "10.0.0.2", SecretName: "secret/tls", SecretKey: "key-of-b"}
)

// token makes an unsigned JWT: the fake reviewer decides what it means.
func token(t testing.TB, sub string, aud string, exp time.Time) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256"}) + "." + enc(map[string]any{"sub": sub, "aud": []string{aud}, "exp": exp.Unix()}) + ".sig"
}

// fakeReviewer authenticates the tokens it was told about as ServiceAccounts.
type fakeReviewer struct {
	mu    sync.Mutex
	ids   map[string]xds.Identity
	err   error
	hang  bool // every review waits for its context
	calls atomic.Int64
}

func (f *fakeReviewer) Review(ctx context.Context, tok string, aud []string) (*authv1.TokenReviewStatus, error) {
	f.calls.Add(1)
	f.mu.Lock()
	hang := f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	id, ok := f.ids[tok]
	if !ok {
		return &authv1.TokenReviewStatus{Error: "invalid token"}, nil
	}
	return &authv1.TokenReviewStatus{
		Authenticated: true, Audiences: aud,
		User: authv1.UserInfo{
			Username: "system:serviceaccount:" + id.Namespace + ":" + id.ServiceAccount,
			Extra:    map[string]authv1.ExtraValue{auth.PodNameExtraKey: {"envoy-pod"}, auth.PodUIDExtraKey: {podUID(id)}},
		},
	}, nil
}

// add makes the fake authenticate tok as id.
func (f *fakeReviewer) add(tok string, id xds.Identity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil {
		f.ids = map[string]xds.Identity{}
	}
	f.ids[tok] = id
}

// podUID is the pod every token of id is bound to (for the fake).
func podUID(id xds.Identity) string { return "uid-" + id.ServiceAccount }

// tokenFor registers a token for id valid for d.
func (f *fakeReviewer) tokenFor(t testing.TB, id xds.Identity, d time.Duration) string {
	tok := token(t, id.String()+time.Now().String(), auth.DefaultAudience, time.Now().Add(d))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil {
		f.ids = map[string]xds.Identity{}
	}
	f.ids[tok] = id
	return tok
}

type harness struct {
	addr     string
	ca       []byte
	srv      *xds.Server
	reviewer *fakeReviewer
	conn     *grpc.ClientConn
	reg      *prometheus.Registry
	metrics  *xds.Metrics
}

// newHarness serves on loopback over TLS with a certs.Manager certificate.
func newHarness(t testing.TB, mutate func(*xds.Options)) *harness {
	t.Helper()
	co := certs.DefaultOptions()
	co.Namespace = "berth-system"
	co.DNSNames = certs.DNSNames("berth-xds", "berth-system")
	cm, err := certs.New(fake.NewClientset().CoreV1(), co)
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := xds.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	opts := xds.DefaultOptions()
	opts.Metrics = m
	opts.MaxConcurrentStreams = 2000
	opts.MaxStreamsPerIdentity = 2000
	opts.MaxConnectionsPerPeer = 2000
	opts.RefusalBurst = 100000
	if mutate != nil {
		mutate(&opts)
	}
	r := &fakeReviewer{}
	srv, err := xds.New(r, cm, opts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	creds, err := xdstest.TLS(cm.CABundle(), "berth-xds.berth-system.svc")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &harness{addr: lis.Addr().String(), ca: cm.CABundle(), srv: srv, reviewer: r, conn: conn, reg: reg, metrics: m}
}

// creds are client TLS credentials trusting the harness's CA.
func (h *harness) creds(t testing.TB) credentials.TransportCredentials {
	t.Helper()
	c, err := xdstest.TLS(h.ca, "berth-xds.berth-system.svc")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) publish(t testing.TB, gw k8stypes.NamespacedName, id xds.Identity, res map[string][]cachetypes.Resource) string {
	t.Helper()
	v, err := h.srv.Publish(gw, id, res)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func node(gw k8stypes.NamespacedName) *corev3.Node {
	return &corev3.Node{Id: "envoy-pod-1", Cluster: xds.NodeCluster(gw)}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t testing.TB, h *harness, o xdstest.Options) *xdstest.Client {
	t.Helper()
	c, err := xdstest.Start(ctxT(t), h.conn, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// complete: the client holds every type of the fixture.
func complete(s xdstest.State) bool {
	return len(s.Resources[resourcev3.ListenerType]) == 2 && len(s.Resources[resourcev3.RouteType]) == 2 &&
		len(s.Resources[resourcev3.ClusterType]) == 1 && len(s.Resources[resourcev3.EndpointType]) == 1 &&
		len(s.Resources[resourcev3.SecretType]) == 1
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ",")
}

func TestEachStreamGetsOnlyItsGateway(t *testing.T) {
	for _, delta := range []bool{false, true} {
		t.Run(map[bool]string{false: "sotw", true: "delta"}[delta], func(t *testing.T) {
			h := newHarness(t, nil)
			h.publish(t, gwA, idA, fixA.Resources())
			h.publish(t, gwB, idB, fixB.Resources())
			a := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA), Delta: delta})
			b := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idB, time.Hour), Node: node(gwB), Delta: delta})
			for _, c := range []struct {
				client          *xdstest.Client
				domain, ip, key string
			}{{a, "www.team-a.com", "10.0.0.1", "key-of-a"}, {b, "www.team-b.com", "10.0.0.2", "key-of-b"}} {
				if err := c.client.Wait(ctxT(t), complete); err != nil {
					t.Fatal(err)
				}
				s := c.client.State()
				if d := keys(xdstest.Domains(s)); d != c.domain {
					t.Errorf("domains %q, want only %q", d, c.domain)
				}
				if ips := keys(xdstest.EndpointIPs(s)); ips != c.ip {
					t.Errorf("endpoints %q, want only %q", ips, c.ip)
				}
				if k := keys(xdstest.SecretKeys(s)); k != c.key {
					t.Errorf("secret keys %q, want only %q", k, c.key)
				}
			}
		})
	}
}

func TestNodeIsNeverTrusted(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	h.publish(t, gwB, idB, fixB.Resources())

	t.Run("cluster of another Gateway is refused", func(t *testing.T) {
		for _, delta := range []bool{false, true} {
			c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idB, time.Hour), Node: node(gwA), Delta: delta})
			err := c.WaitEnd(ctxT(t))
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("delta=%v: got %v, want PermissionDenied", delta, err)
			}
			if s := c.State(); s.Responses != 0 {
				t.Fatalf("delta=%v: refused stream received %d responses", delta, s.Responses)
			}
		}
	})
	t.Run("node id naming another Gateway changes nothing", func(t *testing.T) {
		n := &corev3.Node{Id: "team-a/gateway-a", Cluster: xds.NodeCluster(gwB)}
		c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idB, time.Hour), Node: n})
		if err := c.Wait(ctxT(t), complete); err != nil {
			t.Fatal(err)
		}
		if d := keys(xdstest.Domains(c.State())); d != "www.team-b.com" {
			t.Fatalf("domains %q, want www.team-b.com", d)
		}
	})
	t.Run("first request without node", func(t *testing.T) {
		c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour)})
		if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("got %v, want InvalidArgument", err)
		}
	})
	if got := xdstest.Value(h.metrics.AuthFailures.WithLabelValues(string(auth.ReasonNodeMismatch))); got != 2 {
		t.Fatalf("node_mismatch failures = %v, want 2", got)
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	unmapped := xds.Identity{Namespace: "team-a", ServiceAccount: "default"}
	cases := []struct {
		name  string
		token string
		code  codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"garbage", "garbage", codes.Unauthenticated},
		{"huge", strings.Repeat("x.", 20000) + "x", codes.Unauthenticated},
		{"expired", token(t, "e", auth.DefaultAudience, time.Now().Add(-time.Minute)), codes.Unauthenticated},
		{"wrong audience", token(t, "w", "https://kubernetes.default.svc", time.Now().Add(time.Hour)), codes.Unauthenticated},
		{"forged", token(t, "f", auth.DefaultAudience, time.Now().Add(time.Hour)), codes.Unauthenticated},
		{"unmapped ServiceAccount", h.reviewer.tokenFor(t, unmapped, time.Hour), codes.PermissionDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, delta := range []bool{false, true} {
				cl := start(t, h, xdstest.Options{Token: c.token, Node: node(gwA), Delta: delta})
				if err := cl.WaitEnd(ctxT(t)); status.Code(err) != c.code {
					t.Fatalf("delta=%v: got %v, want %v", delta, err, c.code)
				}
			}
		})
	}
	t.Run("apiserver down", func(t *testing.T) {
		tok := h.reviewer.tokenFor(t, idA, time.Hour)
		h.reviewer.mu.Lock()
		h.reviewer.err = errors.New("connection refused")
		h.reviewer.mu.Unlock()
		cl := start(t, h, xdstest.Options{Token: tok, Node: node(gwA)})
		if err := cl.WaitEnd(ctxT(t)); status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, want Unavailable", err)
		}
		h.reviewer.mu.Lock()
		h.reviewer.err = nil
		h.reviewer.mu.Unlock()
		cl = start(t, h, xdstest.Options{Token: tok, Node: node(gwA)})
		if err := cl.Wait(ctxT(t), complete); err != nil {
			t.Fatalf("after the apiserver came back: %v", err)
		}
	})
	for reason, want := range map[auth.Reason]float64{auth.ReasonMissing: 2, auth.ReasonMalformed: 2, auth.ReasonTooLarge: 2,
		auth.ReasonExpired: 2, auth.ReasonWrongAudience: 2, auth.ReasonRejected: 2, auth.ReasonUnknownIdentity: 2, auth.ReasonUnavailable: 1} {
		if got := xdstest.Value(h.metrics.AuthFailures.WithLabelValues(string(reason))); got != want {
			t.Errorf("auth failures %s = %v, want %v", reason, got, want)
		}
	}
}

func TestChangesReachClientsAndVersionsFollowContent(t *testing.T) {
	h := newHarness(t, nil)
	v1 := h.publish(t, gwA, idA, fixA.Resources())
	if v, ok := h.srv.Published(gwA); !ok || v != v1 {
		t.Fatalf("Published = %q, %v; want %q", v, ok, v1)
	}
	if _, ok := h.srv.Published(gwB); ok {
		t.Fatal("gateway-b reported published")
	}
	sotw := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)})
	delta := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA), Delta: true})
	for _, c := range []*xdstest.Client{sotw, delta} {
		if err := c.Wait(ctxT(t), complete); err != nil {
			t.Fatal(err)
		}
	}
	before := sotw.State()

	// Same content: same version, nothing pushed.
	if v := h.publish(t, gwA, idA, fixA.Resources()); v != v1 {
		t.Fatalf("republishing the same content changed the version: %s → %s", v1, v)
	}
	// Only the endpoint changes.
	changed := fixA
	changed.EndpointIP = "10.0.0.9"
	v2 := h.publish(t, gwA, idA, changed.Resources())
	if v2 == v1 {
		t.Fatal("a content change kept the version")
	}
	for _, c := range []*xdstest.Client{sotw, delta} {
		if err := c.Wait(ctxT(t), func(s xdstest.State) bool { return xdstest.EndpointIPs(s)["10.0.0.9"] }); err != nil {
			t.Fatal(err)
		}
	}
	after := sotw.State()
	if after.Versions[resourcev3.ListenerType] != before.Versions[resourcev3.ListenerType] ||
		after.Versions[resourcev3.EndpointType] == before.Versions[resourcev3.EndpointType] {
		t.Fatalf("per-type versions: listener %s→%s, endpoint %s→%s; want only the endpoint's to change",
			before.Versions[resourcev3.ListenerType], after.Versions[resourcev3.ListenerType],
			before.Versions[resourcev3.EndpointType], after.Versions[resourcev3.EndpointType])
	}
	if after.Responses != before.Responses+1 {
		t.Fatalf("%d responses for one endpoint change, want 1", after.Responses-before.Responses)
	}
	if n := xdstest.Series(h.metrics.PushLatency); n == 0 {
		t.Fatal("no push latency observed")
	}
}

func TestInvalidSnapshotsAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	good := h.publish(t, gwA, idA, fixA.Resources())
	mutate := func(f func(map[string][]cachetypes.Resource)) map[string][]cachetypes.Resource {
		r := fixA.Resources()
		f(r)
		return r
	}
	cases := map[string]struct {
		gw  k8stypes.NamespacedName
		id  xds.Identity
		res map[string][]cachetypes.Resource
	}{
		"route missing":     {gwA, idA, mutate(func(r map[string][]cachetypes.Resource) { r[resourcev3.RouteType] = r[resourcev3.RouteType][:1] })},
		"endpoints missing": {gwA, idA, mutate(func(r map[string][]cachetypes.Resource) { delete(r, resourcev3.EndpointType) })},
		"secret missing":    {gwA, idA, mutate(func(r map[string][]cachetypes.Resource) { delete(r, resourcev3.SecretType) })},
		"duplicate name": {gwA, idA, mutate(func(r map[string][]cachetypes.Resource) {
			r[resourcev3.ClusterType] = append(r[resourcev3.ClusterType], r[resourcev3.ClusterType][0])
		})},
		"wrong type": {gwA, idA, mutate(func(r map[string][]cachetypes.Resource) {
			r[resourcev3.ClusterType] = append(r[resourcev3.ClusterType], r[resourcev3.RouteType][0])
		})},
		"nil resource": {gwA, idA, mutate(func(r map[string][]cachetypes.Resource) {
			r[resourcev3.ClusterType] = append(r[resourcev3.ClusterType], nil)
		})},
		"unknown type":                     {gwA, idA, mutate(func(r map[string][]cachetypes.Resource) { r["type.googleapis.com/foo.Bar"] = nil })},
		"identity in another namespace":    {gwA, idB, fixA.Resources()},
		"identity without ServiceAccount":  {gwA, xds.Identity{Namespace: "team-a"}, fixA.Resources()},
		"identity serving another Gateway": {k8stypes.NamespacedName{Namespace: "team-a", Name: "other"}, idA, fixA.Resources()},
		"no gateway name":                  {k8stypes.NamespacedName{Namespace: "team-a"}, idA, fixA.Resources()},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := h.srv.Publish(c.gw, c.id, c.res); err == nil {
				t.Fatal("published")
			}
			if v, _ := h.srv.Published(gwA); v != good {
				t.Fatalf("the published version changed to %s", v)
			}
		})
	}
}

func TestRemoveAndReassignEndStreams(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	tok := h.reviewer.tokenFor(t, idA, time.Hour)
	c := start(t, h, xdstest.Options{Token: tok, Node: node(gwA)})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	if n := h.srv.Streams(gwA); n != 1 {
		t.Fatalf("Streams = %d, want 1", n)
	}
	if got := xdstest.Value(h.metrics.ConnectedProxies.WithLabelValues("team-a", "gateway-a")); got != 1 {
		t.Fatalf("connected proxies = %v, want 1", got)
	}
	h.srv.Remove(gwA)
	if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("after Remove: %v, want PermissionDenied", err)
	}
	if _, ok := h.srv.Published(gwA); ok {
		t.Fatal("still published after Remove")
	}
	c = start(t, h, xdstest.Options{Token: tok, Node: node(gwA)})
	if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("reconnect after Remove: %v, want PermissionDenied", err)
	}

	// Republished under another ServiceAccount: the old identity's streams end.
	h.publish(t, gwA, idA, fixA.Resources())
	c = start(t, h, xdstest.Options{Token: tok, Node: node(gwA)})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	idA2 := xds.Identity{Namespace: "team-a", ServiceAccount: "renamed"}
	h.publish(t, gwA, idA2, fixA.Resources())
	if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("after identity change: %v, want PermissionDenied", err)
	}
	c = start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA2, time.Hour), Node: node(gwA)})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
}

func TestOneTokenReviewForManyStreams(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	tok := h.reviewer.tokenFor(t, idA, time.Hour)
	var clients []*xdstest.Client
	for range 20 {
		clients = append(clients, start(t, h, xdstest.Options{Token: tok, Node: node(gwA)}))
	}
	for _, c := range clients {
		if err := c.Wait(ctxT(t), complete); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.reviewer.calls.Load(); got != 1 {
		t.Fatalf("%d TokenReviews for one token on 20 streams, want 1", got)
	}
	// The 20 may all have joined the one review; a later stream is a hit.
	hits := xdstest.Value(h.metrics.Auth.CacheLookups.WithLabelValues(auth.CacheHit))
	if err := start(t, h, xdstest.Options{Token: tok, Node: node(gwA)}).Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	if got := xdstest.Value(h.metrics.Auth.CacheLookups.WithLabelValues(auth.CacheHit)); got != hits+1 {
		t.Fatalf("cache hits %v → %v, want one more", hits, got)
	}
	if got := h.reviewer.calls.Load(); got != 1 {
		t.Fatalf("%d TokenReviews, want still 1", got)
	}
}

func TestStreamEndsWhenTokenExpires(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, 3*time.Second), Node: node(gwA)})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("got %v, want Unauthenticated at token expiry", err)
	}
}

func TestStopEndsStreamsWithUnavailable(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA), Delta: true})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	h.srv.Stop()
	if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Stop took %v with an open stream", d)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	co := certs.DefaultOptions()
	co.Namespace = "berth-system"
	co.DNSNames = certs.DNSNames("berth-xds", "berth-system")
	cm, _ := certs.New(fake.NewClientset().CoreV1(), co)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = cm.Run(ctx) }() // loads without a prior Ensure
	opts := xds.DefaultOptions()
	opts.Address = addr
	srv, err := xds.New(&fakeReviewer{}, cm, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for cm.CABundle() == nil || func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	}() {
		if time.Now().After(deadline) {
			t.Fatal("server or certificate never came up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	creds, _ := xdstest.TLS(cm.CABundle(), "berth-xds.berth-system.svc")
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := xdstest.Start(ctxT(t), conn, xdstest.Options{Token: "x", Node: node(gwA)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("got %v, want Unauthenticated (served over TLS)", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// A hanging apiserver costs each new token at most the review timeout, and
// never delays streams whose tokens are cached.
func TestHangingApiserverStallsNothing(t *testing.T) {
	h := newHarness(t, func(o *xds.Options) { o.Auth.ReviewTimeout = 300 * time.Millisecond })
	h.publish(t, gwA, idA, fixA.Resources())
	cached := h.reviewer.tokenFor(t, idA, time.Hour)
	c := start(t, h, xdstest.Options{Token: cached, Node: node(gwA)})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	h.reviewer.mu.Lock()
	h.reviewer.hang = true
	h.reviewer.mu.Unlock()

	// 100 streams with fresh tokens pile up on the hanging apiserver.
	var stuck []*xdstest.Client
	for range 100 {
		stuck = append(stuck, start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)}))
	}
	// Meanwhile a stream with the cached token is served at once.
	begin := time.Now()
	c2 := start(t, h, xdstest.Options{Token: cached, Node: node(gwA), Delta: true})
	if err := c2.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("a cached token waited %v behind a hanging apiserver", d)
	}
	for _, s := range stuck {
		if err := s.WaitEnd(ctxT(t)); status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, want Unavailable", err)
		}
	}
	if d := time.Since(begin); d > 8*time.Second {
		t.Fatalf("100 streams with uncached tokens took %v to be refused", d)
	}
}

// Publishes racing each other and connected streams: no race, no deadlock,
// and every client converges on the last snapshot of its own Gateway.
func TestConcurrentPublishes(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, gwA, idA, fixA.Resources())
	h.publish(t, gwB, idB, fixB.Resources())
	a := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)})
	b := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idB, time.Hour), Node: node(gwB), Delta: true})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				f, gw, id := fixA, gwA, idA
				if g%2 == 1 {
					f, gw, id = fixB, gwB, idB
				}
				f.EndpointIP = "10.9." + strconv.Itoa(g) + "." + strconv.Itoa(i)
				if _, err := h.srv.Publish(gw, id, f.Resources()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	finalA, finalB := fixA, fixB
	finalA.EndpointIP, finalB.EndpointIP = "10.0.0.100", "10.0.0.200"
	h.publish(t, gwA, idA, finalA.Resources())
	h.publish(t, gwB, idB, finalB.Resources())
	for c, ip := range map[*xdstest.Client]string{a: "10.0.0.100", b: "10.0.0.200"} {
		if err := c.Wait(ctxT(t), func(s xdstest.State) bool { return keys(xdstest.EndpointIPs(s)) == ip }); err != nil {
			t.Fatalf("want %s: %v (have %v)", ip, err, xdstest.EndpointIPs(c.State()))
		}
	}
}

func TestRefusalLogsAreSampled(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := newHarness(t, func(o *xds.Options) { o.Logger = zap.New(core) })
	begin := time.Now()
	for range 100 {
		c := start(t, h, xdstest.Options{Token: "garbage", Node: node(gwA)})
		if err := c.WaitEnd(ctxT(t)); status.Code(err) != codes.Unauthenticated {
			t.Fatal(err)
		}
	}
	n := logs.FilterMessage("xDS stream refused").Len()
	limit := 20 * (int(time.Since(begin)/time.Second) + 2) // 20 per started second
	if got := xdstest.Value(h.metrics.AuthFailures.WithLabelValues(string(auth.ReasonMalformed))); got != 100 {
		t.Fatalf("malformed failures = %v, want 100", got)
	}
	if n == 0 || n > limit || n == 100 {
		t.Fatalf("%d refusal log lines for 100 refusals, want a sample (1..%d)", n, min(limit, 99))
	}
}
