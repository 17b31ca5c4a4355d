package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

const day = 24 * time.Hour

func testOptions(clk *clocktesting.FakeClock) Options {
	o := DefaultOptions()
	o.Namespace = "berth-system"
	o.DNSNames = DNSNames("berth-xds", "berth-system")
	o.Clock = clk
	return o
}

func newManager(t *testing.T, c *fake.Clientset, o Options) *Manager {
	t.Helper()
	m, err := New(c.CoreV1(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// handshake serves one TLS connection with m.GetCertificate and returns the
// certificate the client verified against m's bundle at time at.
func handshake(t *testing.T, m *Manager, at time.Time) *x509.Certificate {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: m.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		c, err := lis.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CABundle()) {
		t.Fatal("CA bundle has no certificate")
	}
	conn, err := tls.Dial("tcp", lis.Addr().String(), &tls.Config{
		RootCAs: pool, ServerName: "berth-xds.berth-system.svc", Time: func() time.Time { return at },
	})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func secretOf(t *testing.T, c *fake.Clientset) *corev1.Secret {
	t.Helper()
	s, err := c.CoreV1().Secrets("berth-system").Get(context.Background(), DefaultSecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestManagedCreatesAndServes(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientset()
	m := newManager(t, c, testOptions(clk))
	leaf := handshake(t, m, clk.Now())
	if leaf.NotAfter.Sub(clk.Now()) < 29*day {
		t.Fatalf("serving certificate valid until %v, want about 30 days", leaf.NotAfter)
	}
	sec := secretOf(t, c)
	if sec.Type != corev1.SecretTypeTLS || len(sec.Data[KeyCAKey]) == 0 || !bytes.Equal(sec.Data[KeyCACert], m.CABundle()) {
		t.Fatalf("unexpected Secret: type %s, keys %d", sec.Type, len(sec.Data))
	}
	// A second Ensure with nothing due changes nothing.
	rv := sec.ResourceVersion
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if secretOf(t, c).ResourceVersion != rv {
		t.Fatal("Ensure rewrote a Secret that needed nothing")
	}
}

func TestCreationRaceAdoptsWinner(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientset()
	a := newManager(t, c, testOptions(clk))

	// Replica b read "not found" before a's create landed.
	var lied atomic.Bool
	c.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lied.CompareAndSwap(false, true) {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, DefaultSecretName)
		}
		return false, nil, nil
	})
	b := newManager(t, c, testOptions(clk))
	if !lied.Load() {
		t.Fatal("race was not simulated")
	}
	if !bytes.Equal(a.CABundle(), b.CABundle()) {
		t.Fatal("replicas trust different CAs")
	}
	ca, _ := a.GetCertificate(nil)
	cb, _ := b.GetCertificate(nil)
	if !bytes.Equal(ca.Certificate[0], cb.Certificate[0]) {
		t.Fatal("replicas serve different certificates")
	}
}

func TestServingRenewalWithoutRestart(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientset()
	m := newManager(t, c, testOptions(clk))
	first := handshake(t, m, clk.Now())
	clk.Step(19 * day) // 11 days left: not yet due
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := handshake(t, m, clk.Now()); !got.Equal(first) {
		t.Fatal("renewed before due")
	}
	clk.Step(2 * day) // 9 days left: due
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := handshake(t, m, clk.Now())
	if second.Equal(first) || second.NotAfter.Sub(clk.Now()) < 29*day {
		t.Fatalf("serving certificate not renewed: %v", second.NotAfter)
	}
	if second.Issuer.String() != first.Issuer.String() {
		t.Fatal("CA changed on a serving renewal")
	}
}

func TestCARotation(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientset()
	o := testOptions(clk)
	var bundles atomic.Int32
	o.OnCABundleChange = func([]byte) { bundles.Add(1) }
	m := newManager(t, c, o)
	oldCA, _ := parseCerts(m.CABundle())

	// Into the CA's last year: a new CA joins the bundle but does not sign yet.
	clk.SetTime(oldCA[0].NotAfter.Add(-364 * day))
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	cas, _ := parseCerts(m.CABundle())
	if len(cas) != 2 || bundles.Load() != 1 {
		t.Fatalf("bundle has %d CAs after %d changes, want 2 after 1", len(cas), bundles.Load())
	}
	if leaf := handshake(t, m, clk.Now()); leaf.CheckSignatureFrom(oldCA[0]) != nil {
		t.Fatal("serving certificate switched to the new CA before the overlap")
	}
	// After the overlap the new CA signs.
	clk.Step(7*day + time.Minute)
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if leaf := handshake(t, m, clk.Now()); leaf.CheckSignatureFrom(cas[1]) != nil {
		t.Fatal("serving certificate not signed by the new CA after the overlap")
	}
	// The old CA expires and leaves the bundle.
	clk.SetTime(oldCA[0].NotAfter.Add(time.Minute))
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	cas2, _ := parseCerts(m.CABundle())
	if len(cas2) != 1 || !cas2[0].Equal(cas[1]) {
		t.Fatalf("bundle after the old CA expired: %d CAs", len(cas2))
	}
	handshake(t, m, clk.Now())
}

func TestDNSNameChangeReissues(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientset()
	o := testOptions(clk)
	m := newManager(t, c, o)
	first, _ := m.GetCertificate(nil)
	o.DNSNames = append(o.DNSNames, "xds.example.com")
	m2 := newManager(t, c, o)
	second, _ := m2.GetCertificate(nil)
	leaf, _ := x509.ParseCertificate(second.Certificate[0])
	if bytes.Equal(first.Certificate[0], second.Certificate[0]) || leaf.VerifyHostname("xds.example.com") != nil {
		t.Fatal("serving certificate not reissued for the new DNS name")
	}
}

func TestCorruptSecretRegenerated(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultSecretName, Namespace: "berth-system"},
		Data:       map[string][]byte{KeyCACert: []byte("garbage")},
	})
	m := newManager(t, c, testOptions(clk))
	handshake(t, m, clk.Now())
}

func TestExternalMode(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	// Material made by a managed manager elsewhere, without ca.key.
	src := newManager(t, fake.NewClientset(), testOptions(clk))
	mat := mustPlan(t, src, clk.Now())
	srcSec, _ := src.encode(mat)
	delete(srcSec.Data, KeyCAKey)
	c := fake.NewClientset(srcSec)

	o := testOptions(clk)
	o.Mode = ModeExternal
	o.DNSNames = nil
	m := newManager(t, c, o)
	first := handshake(t, m, clk.Now())

	// The chart's Secret is replaced; the next sync serves the new one.
	renewed := &material{cas: mat.cas}
	var err error
	if renewed.serving, err = newServing(mat.cas[0], testOptions(clk).DNSNames, clk.Now(), day); err != nil {
		t.Fatal(err)
	}
	next, _ := src.encode(renewed)
	delete(next.Data, KeyCAKey)
	if _, err := c.CoreV1().Secrets("berth-system").Update(context.Background(), next, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := handshake(t, m, clk.Now()); got.Equal(first) {
		t.Fatal("external Secret change not picked up")
	}
	if sec := secretOf(t, c); len(sec.Data[KeyCAKey]) != 0 {
		t.Fatal("external mode wrote to the Secret")
	}

	// Missing Secret: an error, not a generated one.
	o.SecretName = "absent"
	m2, _ := New(c.CoreV1(), o)
	if err := m2.Ensure(context.Background()); err == nil {
		t.Fatal("external mode with a missing Secret succeeded")
	}
}

func mustPlan(t *testing.T, m *Manager, now time.Time) *material {
	t.Helper()
	mat, err := m.plan(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return mat
}

func TestRunPicksUpWatchEvents(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientset()
	o := testOptions(clk)
	o.ResyncInterval = time.Hour
	a := newManager(t, c, o)
	b := newManager(t, c, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond) // let the watch start

	// Replica a renews; b sees the Secret change and serves the new cert.
	clk.Step(21 * day)
	if err := a.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, _ := a.GetCertificate(nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := b.GetCertificate(nil)
		if bytes.Equal(got.Certificate[0], want.Certificate[0]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica b did not pick up the renewed certificate")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
