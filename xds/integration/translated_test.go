package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// selfSigned returns a PEM certificate and key for host.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// The translator's output for the user's scenario, with an HTTPS listener on
// gateway-a: the certificate Secret reaches gateway-a's proxy and never
// gateway-b's, both authenticated with real projected-style tokens.
func TestTranslatedHTTPSSecretReachesOnlyItsGateway(t *testing.T) {
	w := newWorld(t, nil)
	cert, key := selfSigned(t, "www.team-a.com")
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	doc := strings.NewReplacer("NS_A", w.nsA, "NS_B", w.nsB, "CERT", b64(cert), "KEY", b64(key)).Replace(`
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-a, namespace: NS_A}
spec:
  gatewayClassName: eg
  listeners:
  - {name: http, port: 8080, protocol: HTTP}
  - name: https
    port: 8443
    protocol: HTTPS
    hostname: www.team-a.com
    tls: {mode: Terminate, certificateRefs: [{name: team-a-cert}]}
---
apiVersion: v1
kind: Secret
metadata: {name: team-a-cert, namespace: NS_A}
type: kubernetes.io/tls
data: {tls.crt: CERT, tls.key: KEY}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-b, namespace: NS_B}
spec:
  gatewayClassName: eg
  listeners:
  - {name: http, port: 8081, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: team-a-route, namespace: NS_A}
spec:
  parentRefs: [{name: gateway-a}]
  hostnames: [www.team-a.com]
  rules: [{backendRefs: [{name: team-a-backend, port: 3000}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: team-b-route, namespace: NS_B}
spec:
  parentRefs: [{name: gateway-b}]
  hostnames: [www.team-b.com]
  rules: [{backendRefs: [{name: team-b-backend, port: 3000}]}]
---
apiVersion: v1
kind: Service
metadata: {name: team-a-backend, namespace: NS_A}
spec: {ports: [{name: http, port: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: team-b-backend, namespace: NS_B}
spec: {ports: [{name: http, port: 3000}]}
`)
	sa, sb := w.serveScenario(t, doc)
	if len(sa.Resources[resourcev3.SecretType]) != 1 {
		t.Fatalf("gateway-a holds %d secrets, want 1", len(sa.Resources[resourcev3.SecretType]))
	}
	for _, m := range sa.Resources[resourcev3.SecretType] {
		if got := m.(*tlsv3.Secret).GetTlsCertificate().GetPrivateKey().GetInlineString(); got != string(key) {
			t.Fatal("gateway-a's secret does not carry the Secret's key")
		}
	}
	if n := len(sb.Resources[resourcev3.SecretType]); n != 0 {
		t.Fatalf("gateway-b holds %d secrets, want none", n)
	}
	if !xdstest.Domains(sa)["www.team-a.com"] || xdstest.Domains(sa)["www.team-b.com"] ||
		!xdstest.Domains(sb)["www.team-b.com"] || xdstest.Domains(sb)["www.team-a.com"] {
		t.Fatalf("domains: gateway-a %v, gateway-b %v", xdstest.Domains(sa), xdstest.Domains(sb))
	}
}

// serveScenario translates doc (manifests naming w's two namespaces),
// publishes each Gateway's snapshot for its identity, and returns what a
// proxy of gateway-a (state of the world) and one of gateway-b (delta)
// receive, each authenticated with a real token.
func (w *world) serveScenario(t *testing.T, doc string) (a, b xdstest.State) {
	t.Helper()
	set, err := manifest.DecodeAll(manifest.Input{Source: "scenario", Reader: strings.NewReader(doc)})
	if err != nil {
		t.Fatal(err)
	}
	results := translate.Translate(translate.InputFromSet(set), translate.DefaultOptions())
	if len(results) != 2 {
		t.Fatalf("%d translation results, want 2", len(results))
	}
	for _, r := range results {
		id := w.idA
		if r.Gateway == w.gwB {
			id = w.idB
		}
		if _, err := w.srv.Publish(r.Gateway, id, r.Resources); err != nil {
			t.Fatalf("publish %s: %v", r.Gateway, err)
		}
	}
	podA := w.pod(t, w.nsA, w.idA.ServiceAccount, "envoy-a")
	podB := w.pod(t, w.nsB, w.idB.ServiceAccount, "envoy-b")
	ca := w.start(t, xdstest.Options{Token: w.token(t, w.nsA, w.idA.ServiceAccount, podA, auth.DefaultAudience), Node: node(w.gwA)})
	cb := w.start(t, xdstest.Options{Token: w.token(t, w.nsB, w.idB.ServiceAccount, podB, auth.DefaultAudience), Node: node(w.gwB), Delta: true})
	allTypes := func(s xdstest.State) bool { return len(s.Versions) == len(xdstest.AllTypes) }
	for _, c := range []*xdstest.Client{ca, cb} {
		if err := c.Wait(ctxT(t, 30*time.Second), allTypes); err != nil {
			t.Fatal(err)
		}
	}
	return ca.State(), cb.State()
}
