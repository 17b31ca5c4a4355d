// Package integration tests the xDS server against a real local cluster:
// real TokenRequests, real TokenReviews through a ServiceAccount that may
// only create TokenReviews, the certificate Secret on a real apiserver, and
// ADS clients over TLS.
package integration

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/jwt"
	"google.golang.org/grpc/status"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/certs"
	"github.com/berth-gateway/berth/xds/xdstest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const serverName = "berth-xds.berth-system.svc"

// world is two tenant namespaces with a Gateway each, an xDS server
// reviewing tokens as a ServiceAccount allowed only to create TokenReviews,
// and its certificates in a third namespace.
type world struct {
	env        *testenv.Env
	berthNS    string // where the reviewing ServiceAccount "berth" lives
	nsA, nsB   string
	gwA, gwB   k8stypes.NamespacedName
	idA, idB   xds.Identity
	srv        *xds.Server
	metrics    *xds.Metrics
	certs      *certs.Manager
	addr       string
	conn       *grpc.ClientConn
	fixA, fixB xdstest.Fixture
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// reviewerClient is a client acting as a ServiceAccount whose only right is
// creating TokenReviews (what the chart grants the controller for xDS).
func reviewerClient(t *testing.T, env *testenv.Env, ns string) kubernetes.Interface {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	name := "berth-xds-reviewer-" + ns
	_, err := env.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "berth"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.Client.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
		_ = env.Client.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
	})
	c, err := kubernetes.NewForConfig(env.ServiceAccountConfig(t, ns, "berth"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newWorld(t *testing.T, mutate func(*xds.Options)) *world {
	t.Helper()
	env := testenv.Get(t)
	w := &world{env: env, nsA: env.Namespace(t), nsB: env.Namespace(t)}
	berthNS := env.Namespace(t)
	w.berthNS = berthNS
	w.gwA = k8stypes.NamespacedName{Namespace: w.nsA, Name: "gateway-a"}
	w.gwB = k8stypes.NamespacedName{Namespace: w.nsB, Name: "gateway-b"}
	w.idA = xds.Identity{Namespace: w.nsA, ServiceAccount: "envoy-gateway-a"}
	w.idB = xds.Identity{Namespace: w.nsB, ServiceAccount: "envoy-gateway-b"}
	w.fixA = xdstest.Fixture{Domain: "www.team-a.com", Cluster: "cluster/backend", EndpointIP: "10.0.0.1", SecretName: "secret/tls", SecretKey: "key-of-a"}
	w.fixB = xdstest.Fixture{Domain: "www.team-b.com", Cluster: "cluster/backend", EndpointIP: "10.0.0.2"}

	// Certificates: a managed Secret in berth's namespace, as the admin
	// (the chart grants berth rights on Secrets in its own namespace only).
	co := certs.DefaultOptions()
	co.Namespace = berthNS
	co.DNSNames = certs.DNSNames("berth-xds", "berth-system")
	cm, err := certs.New(env.Client.CoreV1(), co)
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.Ensure(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	w.certs = cm

	m, err := xds.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	w.metrics = m
	opts := xds.DefaultOptions()
	opts.Metrics = m
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := xds.New(auth.NewKubernetesReviewer(reviewerClient(t, env, berthNS).AuthenticationV1()), cm, opts)
	if err != nil {
		t.Fatal(err)
	}
	w.srv = srv
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.addr = lis.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	w.conn = w.dial(t, nil)
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if _, err := srv.Publish(w.gwA, w.idA, w.fixA.Resources()); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Publish(w.gwB, w.idB, w.fixB.Resources()); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) dial(t *testing.T, perRPC credentials.PerRPCCredentials) *grpc.ClientConn {
	t.Helper()
	creds, err := xdstest.TLS(w.certs.CABundle(), serverName)
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if perRPC != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(perRPC))
	}
	conn, err := grpc.NewClient(w.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// pod creates a pod running as ServiceAccount ns/sa (created if needed).
func (w *world) pod(t *testing.T, ns, sa, name string) *corev1.Pod {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	_, err := w.env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	p, err := w.env.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			Containers:         []corev1.Container{{Name: "envoy", Image: "envoyproxy/envoy:distroless-v1.36.0"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// token requests a token of ns/sa for audiences, bound to pod when non-nil.
func (w *world) token(t *testing.T, ns, sa string, pod *corev1.Pod, audiences ...string) string {
	t.Helper()
	secs := int64(3600)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &secs}}
	if pod != nil {
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tr, err := w.env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctxT(t, 30*time.Second), sa, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

func node(gw k8stypes.NamespacedName) *corev3.Node {
	return &corev3.Node{Id: "envoy-1", Cluster: xds.NodeCluster(gw)}
}

func (w *world) start(t *testing.T, o xdstest.Options) *xdstest.Client {
	t.Helper()
	c, err := xdstest.Start(ctxT(t, time.Minute), w.conn, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func has(n int) func(xdstest.State) bool {
	return func(s xdstest.State) bool {
		total := 0
		for _, set := range s.Resources {
			total += len(set)
		}
		return total == n && len(s.Versions) == len(xdstest.AllTypes)
	}
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ",")
}

func TestRealTokens(t *testing.T) {
	// The world's clients share one connection and these subtests keep
	// their streams open to the end (ten on one token below): more than
	// the default streams per connection, a limit with tests of its own (a
	// stream over it waits for the connection's quota).
	w := newWorld(t, func(o *xds.Options) { o.MaxConcurrentStreams = 32 })
	podA := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a")
	podB := w.pod(t, w.nsB, w.idB.ServiceAccount, "envoy-b")
	tokA := w.token(t, w.nsA, w.idA.ServiceAccount, podA, auth.DefaultAudience)
	tokB := w.token(t, w.nsB, w.idB.ServiceAccount, podB, auth.DefaultAudience)

	t.Run("gateway-a's token receives exactly gateway-a's resources", func(t *testing.T) {
		for _, delta := range []bool{false, true} {
			c := w.start(t, xdstest.Options{Token: tokA, Node: node(w.gwA), Delta: delta})
			// 2 listeners, 2 routes, 1 cluster, 1 endpoint, 1 secret.
			if err := c.Wait(ctxT(t, 30*time.Second), has(7)); err != nil {
				t.Fatalf("delta=%v: %v", delta, err)
			}
			s := c.State()
			if d, ips, k := keys(xdstest.Domains(s)), keys(xdstest.EndpointIPs(s)), keys(xdstest.SecretKeys(s)); d != "www.team-a.com" || ips != "10.0.0.1" || k != "key-of-a" {
				t.Fatalf("delta=%v: domains %q, endpoints %q, secrets %q", delta, d, ips, k)
			}
		}
	})
	t.Run("gateway-b never sees gateway-a's secret", func(t *testing.T) {
		c := w.start(t, xdstest.Options{Token: tokB, Node: node(w.gwB)})
		// 1 listener, 1 route, 1 cluster, 1 endpoint, no secret.
		if err := c.Wait(ctxT(t, 30*time.Second), has(4)); err != nil {
			t.Fatal(err)
		}
		s := c.State()
		if len(s.Resources[xdstestSecretType]) != 0 || keys(xdstest.Domains(s)) != "www.team-b.com" || keys(xdstest.EndpointIPs(s)) != "10.0.0.2" {
			t.Fatalf("gateway-b got %v / %v / %d secrets", xdstest.Domains(s), xdstest.EndpointIPs(s), len(s.Resources[xdstestSecretType]))
		}
	})
	t.Run("gateway-b's token claiming gateway-a is refused", func(t *testing.T) {
		for _, delta := range []bool{false, true} {
			c := w.start(t, xdstest.Options{Token: tokB, Node: node(w.gwA), Delta: delta})
			if err := c.WaitEnd(ctxT(t, 30*time.Second)); status.Code(err) != codes.PermissionDenied {
				t.Fatalf("delta=%v: got %v, want PermissionDenied", delta, err)
			}
			if c.State().Responses != 0 {
				t.Fatal("the refused stream received a response")
			}
		}
	})

	defaultPod := w.pod(t, w.nsA, "default", "not-envoy")
	wrongAud := w.token(t, w.nsA, w.idA.ServiceAccount, podA) // the apiserver's own audience
	unbound := w.token(t, w.nsA, w.idA.ServiceAccount, nil, auth.DefaultAudience)
	otherSA := w.token(t, w.nsA, "default", defaultPod, auth.DefaultAudience)
	parts := strings.Split(tokA, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for _, c := range []struct {
		name  string
		token string
		code  codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"garbage", "garbage", codes.Unauthenticated},
		{"bad signature", tampered, codes.Unauthenticated},
		{"wrong audience", wrongAud, codes.Unauthenticated},
		{"not bound to a pod", unbound, codes.PermissionDenied},
		{"another ServiceAccount of the namespace", otherSA, codes.PermissionDenied},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := w.start(t, xdstest.Options{Token: c.token, Node: node(w.gwA)})
			if err := cl.WaitEnd(ctxT(t, 30*time.Second)); status.Code(err) != c.code {
				t.Fatalf("got %v, want %v", err, c.code)
			}
		})
	}

	t.Run("bound to another pod running as the Gateway's ServiceAccount: accepted", func(t *testing.T) {
		debug := w.pod(t, w.nsA, w.idA.ServiceAccount, "debug-shell")
		tok := w.token(t, w.nsA, w.idA.ServiceAccount, debug, auth.DefaultAudience)
		c := w.start(t, xdstest.Options{Token: tok, Node: node(w.gwA)})
		if err := c.Wait(ctxT(t, 30*time.Second), has(7)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the apiserver refuses to bind a token to a pod of another ServiceAccount", func(t *testing.T) {
		secs := int64(3600)
		_, err := w.env.Client.CoreV1().ServiceAccounts(w.nsA).CreateToken(ctxT(t, 30*time.Second), w.idA.ServiceAccount, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{auth.DefaultAudience}, ExpirationSeconds: &secs,
				BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: defaultPod.Name, UID: defaultPod.UID}},
		}, metav1.CreateOptions{})
		if err == nil {
			t.Fatal("a token of envoy-gateway-a was bound to a pod running as default")
		}
	})

	t.Run("token of a deleted pod is rejected", func(t *testing.T) {
		p := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a-gone")
		tok := w.token(t, w.nsA, w.idA.ServiceAccount, p, auth.DefaultAudience)
		zero := int64(0)
		if err := w.env.Client.CoreV1().Pods(w.nsA).Delete(ctxT(t, 30*time.Second), p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		// Wait until the pod is really gone (kwok finishes the deletion).
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := w.env.Client.CoreV1().Pods(w.nsA).Get(ctxT(t, 10*time.Second), p.Name, metav1.GetOptions{})
			if err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("pod not deleted")
			}
			time.Sleep(200 * time.Millisecond)
		}
		cl := w.start(t, xdstest.Options{Token: tok, Node: node(w.gwA)})
		if err := cl.WaitEnd(ctxT(t, 30*time.Second)); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("got %v, want Unauthenticated", err)
		}
	})

	t.Run("a route change reaches a connected client", func(t *testing.T) {
		c := w.start(t, xdstest.Options{Token: tokA, Node: node(w.gwA), Delta: true})
		if err := c.Wait(ctxT(t, 30*time.Second), has(7)); err != nil {
			t.Fatal(err)
		}
		changed := w.fixA
		changed.Domain = "shop.team-a.com"
		if _, err := w.srv.Publish(w.gwA, w.idA, changed.Resources()); err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(ctxT(t, 30*time.Second), func(s xdstest.State) bool { return keys(xdstest.Domains(s)) == "shop.team-a.com" }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("one TokenReview per token", func(t *testing.T) {
		p := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a-2")
		tok := w.token(t, w.nsA, w.idA.ServiceAccount, p, auth.DefaultAudience)
		before := xdstest.Value(w.metrics.Auth.Reviews.WithLabelValues(auth.ReviewAuthenticated))
		var clients []*xdstest.Client
		for range 10 {
			clients = append(clients, w.start(t, xdstest.Options{Token: tok, Node: node(w.gwA)}))
		}
		for _, c := range clients {
			if err := c.Wait(ctxT(t, 30*time.Second), has(7)); err != nil {
				t.Fatal(err)
			}
		}
		if got := xdstest.Value(w.metrics.Auth.Reviews.WithLabelValues(auth.ReviewAuthenticated)) - before; got != 1 {
			t.Fatalf("%v TokenReviews for one token on 10 streams, want 1", got)
		}
		if n := w.srv.Streams(w.gwA); n < 10 {
			t.Fatalf("Streams(gateway-a) = %d, want at least 10", n)
		}
	})
}

// An expired real token: the apiserver's minimum lifetime is 10 minutes, so
// the server's clock is moved past the token's exp instead.
func TestRealTokenExpired(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now().Add(2 * time.Hour))
	w := newWorld(t, func(o *xds.Options) { o.Auth.Clock = clk })
	p := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a")
	tok := w.token(t, w.nsA, w.idA.ServiceAccount, p, auth.DefaultAudience)
	c := w.start(t, xdstest.Options{Token: tok, Node: node(w.gwA)})
	err := c.WaitEnd(ctxT(t, 30*time.Second))
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("got %v, want Unauthenticated (expired)", err)
	}
}

// grpc-go's own JWT token-file call credentials, over TLS, reading a token
// file that is rotated: the path a real proxy's projected token takes.
func TestJWTTokenFileRotation(t *testing.T) {
	w := newWorld(t, nil)
	p := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a")
	real := w.token(t, w.nsA, w.idA.ServiceAccount, p, auth.DefaultAudience)

	// The file starts with a well-formed token the apiserver will reject,
	// expiring in 80s: the credentials cache it until 30s before its exp
	// and re-read the file in the background inside the last minute.
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	forged := forgedToken(t, time.Now().Add(80*time.Second))
	if err := os.WriteFile(path, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.NewTokenFileCallCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	conn := w.dial(t, creds)
	c, err := xdstest.Start(ctxT(t, time.Minute), conn, xdstest.Options{Node: node(w.gwA)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitEnd(ctxT(t, 30*time.Second)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("forged token from the file: got %v, want Unauthenticated", err)
	}

	// Rotate the file the way the kubelet does (write aside, rename).
	tmp := filepath.Join(dir, "..token")
	if err := os.WriteFile(tmp, []byte(real), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := xdstest.Start(ctxT(t, time.Minute), conn, xdstest.Options{Node: node(w.gwA)})
		if err == nil {
			err = c.Wait(ctxT(t, 10*time.Second), has(7))
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotated token never used: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func forgedToken(t *testing.T, exp time.Time) string {
	t.Helper()
	claims := `{"aud":["` + auth.DefaultAudience + `"],"exp":` + itoa(exp.Unix()) + `,"sub":"system:serviceaccount:x:y"}`
	return b64(`{"alg":"RS256","kid":"x"}`) + "." + b64(claims) + "." + b64("not a signature")
}

// Two replicas starting at once share one CA and serving certificate, on a
// real apiserver.
func TestCertificateSecretSharedByReplicas(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	co := certs.DefaultOptions()
	co.Namespace = ns
	co.DNSNames = certs.DNSNames("berth-xds", ns)
	var mgrs [3]*certs.Manager
	var wg sync.WaitGroup
	errs := make([]error, len(mgrs))
	for i := range mgrs {
		m, err := certs.New(env.Client.CoreV1(), co)
		if err != nil {
			t.Fatal(err)
		}
		mgrs[i] = m
		wg.Go(func() { errs[i] = m.Ensure(ctxT(t, 30*time.Second)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	first, _ := mgrs[0].GetCertificate(nil)
	for i, m := range mgrs[1:] {
		c, _ := m.GetCertificate(nil)
		if string(m.CABundle()) != string(mgrs[0].CABundle()) || string(c.Certificate[0]) != string(first.Certificate[0]) {
			t.Fatalf("replica %d serves other material than replica 0", i+1)
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(mgrs[0].CABundle())
	leaf, err := x509.ParseCertificate(first.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "berth-xds." + ns + ".svc.cluster.local"}); err != nil {
		t.Fatal(err)
	}
}
