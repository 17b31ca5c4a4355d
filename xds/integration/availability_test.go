package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net"
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// withVerifier verifies signatures against the apiserver's issuer keys,
// read as a ServiceAccount with no RBAC of its own (the default
// system:service-account-issuer-discovery binding is what lets it).
func withVerifier(t *testing.T) func(*xds.Options) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	cs, err := kubernetes.NewForConfig(env.ServiceAccountConfig(t, ns, "jwks-reader"))
	if err != nil {
		t.Fatal(err)
	}
	return func(o *xds.Options) {
		o.Auth.Verifier = auth.NewIssuerVerifier(auth.NewKubernetesFetcher(cs.Discovery().RESTClient()), auth.IssuerVerifierOptions{Metrics: o.Metrics.Auth})
	}
}

// forge keeps a genuine token's header (its real key id) and claims but
// replaces the signature; or signs the claims with the attacker's own key
// under the cluster's key id.
func forge(t *testing.T, genuine string, i int, attacker *rsa.PrivateKey) string {
	parts := strings.Split(genuine, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(hdr, &h)
	if i%2 == 0 {
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("forged-signature-"+itoa(int64(i))))
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: attacker}, (&jose.SignerOptions{}).WithHeader("kid", h.Kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	claims["jti"] = itoa(int64(i))
	tok, err := josejwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// (b) A flood of forged-token streams (the cluster's key id, forged
// signatures, right audience, future exp) from another peer while a new
// proxy connects: the proxy still gets its configuration, and the
// apiserver's audit log shows no TokenReview but the genuine tokens'.
func TestForgedTokenFloodCostsNoTokenReview(t *testing.T) {
	w := newWorld(t, withVerifier(t))
	pod := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a")
	template := w.token(t, w.nsA, w.idA.ServiceAccount, pod, auth.DefaultAudience)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := make([]string, 32)
	for i := range forged {
		forged[i] = forge(t, template, i, attacker)
	}
	creds, err := xdstest.TLS(w.certs.CABundle(), serverName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(ctxT(t, 2*time.Minute))
	defer stop()
	var attempts atomic.Int64
	codesSeen := sync.Map{}
	var flood sync.WaitGroup
	const workers = 8
	for i := range workers {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		conn, err := grpc.NewClient(w.addr, grpc.WithTransportCredentials(creds),
			grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		flood.Go(func() {
			tick := time.NewTicker(workers * time.Millisecond) // ~1,000 attempts/s in all
			defer tick.Stop()
			for j := 0; ; j++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				sctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+forged[(i+j*workers)%len(forged)])
				s, err := discoverygrpc.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(sctx)
				if err != nil {
					continue
				}
				attempts.Add(1)
				go func() {
					_, err := s.Recv()
					codesSeen.Store(status.Code(err), true)
				}()
			}
		})
	}
	time.Sleep(2 * time.Second) // the flood is on
	// A new proxy: a fresh pod-bound token, never reviewed before.
	start := time.Now()
	c := w.start(t, xdstest.Options{Token: template, Node: node(w.gwA)})
	if err := c.Wait(ctxT(t, time.Minute), has(7)); err != nil {
		t.Fatalf("the genuine proxy under the flood: %v", err)
	}
	t.Logf("genuine proxy configured %s into a flood of %d forged attempts", time.Since(start), attempts.Load())
	time.Sleep(time.Second)
	stop()
	flood.Wait()
	codesSeen.Range(func(k, _ any) bool {
		if c := k.(codes.Code); c != codes.Unauthenticated && c != codes.ResourceExhausted && c != codes.Canceled {
			t.Errorf("a forged stream ended %v", c)
		}
		return true
	})
	if n := attempts.Load(); n < 500 {
		t.Fatalf("only %d forged attempts", n)
	}
	if got := xdstest.Value(w.metrics.Auth.Reviews.WithLabelValues(auth.ReviewAuthenticated)) + xdstest.Value(w.metrics.Auth.Reviews.WithLabelValues(auth.ReviewRejected)); got != 1 {
		t.Fatalf("%v TokenReviews, want 1 (the genuine token)", got)
	}
	if w.env.Cluster == nil {
		t.Log("no local cluster: audit log not checked")
		return
	}
	events, err := localcluster.ReadAudit(w.env.Cluster.AuditLog(), "system:serviceaccount:"+w.berthNS+":berth")
	if err != nil {
		t.Fatal(err)
	}
	reviews := slices.DeleteFunc(events, func(e localcluster.AuditEvent) bool {
		g, r := e.Resource()
		return g != "authentication.k8s.io" || r != "tokenreviews"
	})
	if len(reviews) != 1 {
		t.Fatalf("the audit log shows %d TokenReviews by the xDS server, want 1 (none for %d forged tokens)", len(reviews), attempts.Load())
	}
}

// (c) A proxy pod deleted: its open stream ends within seconds and its
// token opens no new one, through the same informer handler the
// controller registers (here on an informer of the tenant's namespace).
func TestDeletedPodIsRevoked(t *testing.T) {
	w := newWorld(t, withVerifier(t))
	pod := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a")
	tok := w.token(t, w.nsA, w.idA.ServiceAccount, pod, auth.DefaultAudience)
	other := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a-2")
	otherTok := w.token(t, w.nsA, w.idA.ServiceAccount, other, auth.DefaultAudience)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	f := informers.NewSharedInformerFactoryWithOptions(w.env.Client, 0, informers.WithNamespace(w.nsA))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(w.srv.PodDeletions()); err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())

	a := w.start(t, xdstest.Options{Token: tok, Node: node(w.gwA)})
	b := w.start(t, xdstest.Options{Token: otherTok, Node: node(w.gwA)})
	for _, c := range []*xdstest.Client{a, b} {
		if err := c.Wait(ctxT(t, time.Minute), has(7)); err != nil {
			t.Fatal(err)
		}
	}
	deleted := time.Now()
	if err := w.env.Client.CoreV1().Pods(w.nsA).Delete(ctxT(t, 30*time.Second), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitEnd(ctxT(t, 10*time.Second)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("the deleted pod's stream: %v, want Unauthenticated within seconds", err)
	}
	t.Logf("stream of the deleted pod ended %s after the delete", time.Since(deleted))
	if err := w.start(t, xdstest.Options{Token: tok, Node: node(w.gwA)}).WaitEnd(ctxT(t, 30*time.Second)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("the deleted pod's token opened a stream: %v", err)
	}
	select {
	case <-b.Done():
		t.Fatalf("another pod's stream ended: %v", b.Err())
	default:
	}
}
