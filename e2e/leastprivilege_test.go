package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/rbac"
	"github.com/berth-gateway/berth/rbac/rbactest"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/certs"
)

// Where a right is granted, as the comparison names it: the ClusterRole,
// the Role in berth's own namespace, or the Roles in the watched namespaces
// (identical by construction, so they count as one).
const (
	inClusterRole = "ClusterRole"
	inSelfRole    = "Role(self)"
	inWatchedRole = "Role(watched)"
)

// right is one (API group, resource, verb) granted by one kind of role.
type right struct{ role, group, resource, verb string }

func (r right) String() string {
	g := r.group
	if g == "" {
		g = "core"
	}
	return fmt.Sprintf("%-13s %-26s %-30s %s", r.role, g, r.resource, r.verb)
}

// lpScenario is one installation of berth under test.
type lpScenario struct {
	// watch: the controller's WatchNamespaces and the rbac Options'.
	watch []string
	// outside: a namespace berth does not watch, holding a Gateway of
	// berth's class that must be ignored ("" for none).
	outside string
	// unused are rights granted but not used by the scenario, each with the
	// reason they stay. An entry that the scenario does use fails the test
	// (the list must not go stale).
	unused map[right]string
}

// TestLeastPrivilegeClusterWide runs the seed scenario with berth acting
// as the chart's ServiceAccount with exactly the chart's cluster-wide RBAC,
// and compares what it did (the API server's audit log) with what it may do.
func TestLeastPrivilegeClusterWide(t *testing.T) {
	runLeastPrivilege(t, lpScenario{})
}

// TestLeastPrivilegeNamespaced is the same with berth watching team-a and
// team-b only (its object rights are Roles there) and a Gateway of its class
// in team-c that it must ignore.
func TestLeastPrivilegeNamespaced(t *testing.T) {
	runLeastPrivilege(t, lpScenario{
		watch:   []string{"team-a", "team-b"},
		outside: "team-c",
		unused: map[right]string{
			{inClusterRole, "", "namespaces", "list"}:  "read only with --watch-namespace-selector, which the chart allows alongside watch.namespaces",
			{inClusterRole, "", "namespaces", "watch"}: "read only with --watch-namespace-selector, which the chart allows alongside watch.namespaces",
		},
	})
}

// lpRare are rights whose only users are paths a run may or may not take,
// each with its reason; unlike lpScenario.unused they may also be used.
var lpRare = map[right]string{
	{inClusterRole, "", "namespaces", "get"}: "apply engine, only after a failed apply, to tell a terminating namespace",
}

// lpScaledProxy is a per-Gateway EnvoyProxy asking for an HPA and a PDB, so
// the scenario places (and later prunes) every kind a bundle may hold.
const lpScaledProxy = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata:
  name: lp-scaled
  namespace: team-b
spec:
  provider:
    type: Kubernetes
    kubernetes:
      envoyHpa:
        minReplicas: 1
        maxReplicas: 2
      envoyPDB:
        minAvailable: 1
`

func runLeastPrivilege(t *testing.T, sc lpScenario) {
	env := testenv.Get(t)
	if env.Cluster == nil {
		t.Skip("needs the audit log of a cluster this test binary starts (not a joined one)")
	}
	ctx := ctxT(t, 4*time.Minute)
	c := adminClient(t, env)
	k := newKube(t, env)

	tenants := []string{"team-a", "team-b"}
	if sc.outside != "" {
		tenants = append(tenants, sc.outside)
	}
	for _, ns := range tenants {
		// An earlier test may still be deleting its team namespaces.
		if err := freshNamespace(ctx, env, ns); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// Runs after the controller stopped: nothing stays stuck on berth's
		// finalizer, whatever the outcome.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		uninstallAll(ctx, t, env, tenants)
		for _, ns := range tenants {
			_ = env.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		}
		// The next test of the binary uses the same team namespaces.
		for _, ns := range tenants {
			if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
				_, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
				return apierrors.IsNotFound(err), "namespace " + ns + " still terminating", nil
			}); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})

	// berth's own namespace is new for every run, so its ServiceAccount's
	// audit trail is this run's alone and the xDS TLS Secret does not exist
	// yet (berth creates it).
	own := env.Namespace(t)
	ro := rbac.DefaultOptions()
	ro.Name = "berth-" + own
	ro.Namespace = own
	ro.WatchNamespaces = sc.watch
	cfg := rbactest.Install(t, env, ro)
	user := "system:serviceaccount:" + own + ":" + ro.ServiceAccount

	caught := &forbiddenLogs{}
	var extraDNSName string // set before the restart: the serving certificate must be reissued
	h := newHarnessWith(t, cfg, func(o *controller.Options) {
		o.Namespace = own
		o.WatchNamespaces = slices.Clone(sc.watch)
		// As the chart runs it (2 replicas): the Lease rights are used.
		o.LeaderElection = true
		o.LeaderElectionID = ro.LeaderElectionID
		o.Certs.SecretName = ro.XDSTLSSecret
		if extraDNSName != "" {
			o.Certs.DNSNames = append(certs.DNSNames("berth-xds", own), extraDNSName)
		}
		o.Logger = logr.New(caught.wrap(o.Logger.GetSink()))
	})

	// 1. The seed scenario (and, namespaced, a Gateway berth must ignore).
	seed := readManifest(t, seedFile)
	applied := slices.Clone(seed)
	if sc.outside != "" {
		applied = append(applied, lpOutsideGateway(sc.outside))
	}
	if err := k.apply(ctx, applied); err != nil {
		t.Fatal(err)
	}
	for _, tm := range teams {
		waitProgrammed(t, ctx, c, tm.ns, tm.gateway)
	}

	// 2. xDS: each team's probe proxy is authenticated (a TokenReview by
	// berth's ServiceAccount) and served its Gateway's configuration.
	for _, tm := range teams {
		pc, err := readProxyConfig(ctx, env, tm.ns, tm.gateway)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := podToken(ctx, env, pc.Pod, pc.Audience, pc.ExpirationSeconds)
		if err != nil {
			t.Fatal(err)
		}
		ips, err := backendIPs(ctx, env, tm.ns, "app="+tm.ns+"-backend")
		if err != nil {
			t.Fatal(err)
		}
		probe(t, ctx, h.xdsAddr(), pc, tok, pc.Pod.Name, pc.NodeCluster,
			expectedXDS{Port: tm.port, Domain: tm.host, PathPrefix: "/example", EndpointIPs: ips, EndpointPort: 3000})
	}

	// 2b. A GRPCRoute on gateway-a: berth reads GRPCRoutes and writes their
	// status (the grpcroutes and grpcroutes/status rights).
	grpcRoute := lpObject(t, lpGRPCRoute)
	if err := k.apply(ctx, []*unstructured.Unstructured{grpcRoute}); err != nil {
		t.Fatal(err)
	}
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		why, err := routeAccepted(ctx, c, client.ObjectKey{Namespace: "team-a", Name: "lp-grpc"}, &gwv1.GRPCRoute{})
		return why == "" && err == nil, why, err
	}); err != nil {
		t.Fatalf("GRPCRoute team-a/lp-grpc: %v", err)
	}

	// 2c. A TCPRoute, a TLSRoute and a UDPRoute on gateway-a, whose one
	// listener is HTTP: berth reads them and writes their status
	// (NotAllowedByListeners), the rights on tcproutes, tlsroutes,
	// udproutes and their status.
	for _, l4 := range []struct {
		doc   string
		route client.Object
	}{{lpTCPRoute, &gwv1.TCPRoute{}}, {lpTLSRoute, &gwv1.TLSRoute{}}, {lpUDPRoute, &gwv1.UDPRoute{}}} {
		obj := lpObject(t, l4.doc)
		if err := k.apply(ctx, []*unstructured.Unstructured{obj}); err != nil {
			t.Fatal(err)
		}
		key := client.ObjectKey{Namespace: "team-a", Name: obj.GetName()}
		if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			why, err := routeAccepted(ctx, c, key, l4.route)
			return strings.Contains(why, string(gwv1.RouteReasonNotAllowedByListeners)), why, err
		}); err != nil {
			t.Fatalf("%s %s: %v", obj.GetKind(), key, err)
		}
	}

	// 2c. A BackendTLSPolicy on team-a's backend and a ClientTrafficPolicy
	// on gateway-a: berth reads policies and writes their status (the
	// backendtlspolicies, clienttrafficpolicies and their status rights);
	// then each goes again.
	for _, pc := range []struct {
		doc       string
		ancestors func(ctx context.Context, key client.ObjectKey) ([]gwv1.PolicyAncestorStatus, error)
	}{
		{lpBackendTLSPolicy, func(ctx context.Context, key client.ObjectKey) ([]gwv1.PolicyAncestorStatus, error) {
			var p gwv1.BackendTLSPolicy
			err := c.Get(ctx, key, &p)
			return p.Status.Ancestors, err
		}},
		{lpClientTrafficPolicy, func(ctx context.Context, key client.ObjectKey) ([]gwv1.PolicyAncestorStatus, error) {
			var p v1alpha1.ClientTrafficPolicy
			err := c.Get(ctx, key, &p)
			return p.Status.Ancestors, err
		}},
	} {
		policy := lpObject(t, pc.doc)
		if err := k.apply(ctx, []*unstructured.Unstructured{policy}); err != nil {
			t.Fatal(err)
		}
		key := client.ObjectKeyFromObject(policy)
		if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			ancestors, err := pc.ancestors(ctx, key)
			if err != nil {
				return false, "", err
			}
			for _, a := range ancestors {
				if a.AncestorRef.Name == "gateway-a" && meta.IsStatusConditionTrue(a.Conditions, string(gwv1.PolicyConditionAccepted)) {
					return true, "", nil
				}
			}
			return false, fmt.Sprintf("ancestors %+v", ancestors), nil
		}); err != nil {
			t.Fatalf("%s %s: %v", policy.GetKind(), key, err)
		}
		if err := k.delete(ctx, []*unstructured.Unstructured{policy}); err != nil {
			t.Fatal(err)
		}
	}

	// 2d. A ListenerSet naming gateway-a, which admits none (its
	// allowedListeners are the default, None): berth reads ListenerSets and
	// writes their status (NotAllowed), the rights on listenersets and
	// listenersets/status.
	listenerSet := lpObject(t, lpListenerSet)
	if err := k.apply(ctx, []*unstructured.Unstructured{listenerSet}); err != nil {
		t.Fatal(err)
	}
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		var ls gwv1.ListenerSet
		if err := c.Get(ctx, client.ObjectKeyFromObject(listenerSet), &ls); err != nil {
			return false, "", err
		}
		a := meta.FindStatusCondition(ls.Status.Conditions, string(gwv1.ListenerSetConditionAccepted))
		if a != nil && a.Status == metav1.ConditionFalse && a.Reason == string(gwv1.ListenerSetReasonNotAllowed) {
			return true, "", nil
		}
		return false, fmt.Sprintf("conditions %+v", ls.Status.Conditions), nil
	}); err != nil {
		t.Fatalf("ListenerSet team-a/lp-listeners: %v", err)
	}
	if err := k.delete(ctx, []*unstructured.Unstructured{listenerSet}); err != nil {
		t.Fatal(err)
	}

	// 3. HPA and PDB placed through a per-Gateway EnvoyProxy, then pruned
	// when the Gateway lets go of it.
	gwB := lpFind(t, seed, "Gateway", "team-b", "gateway-b")
	scaled := lpObject(t, lpScaledProxy)
	withProxy := gwB.DeepCopy()
	if err := unstructured.SetNestedMap(withProxy.Object, map[string]any{
		"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": "lp-scaled",
	}, "spec", "infrastructure", "parametersRef"); err != nil {
		t.Fatal(err)
	}
	if err := k.apply(ctx, []*unstructured.Unstructured{scaled, withProxy}); err != nil {
		t.Fatal(err)
	}
	waitScaled(t, ctx, env, c, true)
	if err := k.apply(ctx, []*unstructured.Unstructured{gwB}); err != nil {
		t.Fatal(err)
	}
	waitScaled(t, ctx, env, c, false)

	// 4. The ClusterIP variant: the LoadBalancer Service is pruned, the
	// ClusterIP Service my-gateway takes its place.
	variant := readManifest(t, clusterIPFile)
	if err := k.apply(ctx, variant); err != nil {
		t.Fatal(err)
	}
	for _, tm := range teams {
		if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			why, err := addressesWhy(ctx, env, c, tm, "my-gateway", corev1.ServiceTypeClusterIP)
			if why == "" && err == nil {
				why, err = lpServiceGone(ctx, env, tm.ns, render.ProxyName(tm.ns, tm.gateway))
			}
			return why == "", why, err
		}); err != nil {
			t.Fatalf("Gateway %s/%s with the ClusterIP EnvoyProxy: %v", tm.ns, tm.gateway, err)
		}
	}

	// 5. berth down while gateway-b loses its finalizer and goes: the sweep
	// of the next start destroys the orphaned bundle. The next start also
	// serves xDS under one more DNS name, so the TLS Secret is reissued.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if err := lpForceDelete(ctx, c, "team-b", "gateway-b"); err != nil {
		t.Fatal(err)
	}
	extraDNSName = "berth-xds.lp.example"
	if err := h.restart(); err != nil {
		t.Fatal(err)
	}
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		left, err := leftovers(ctx, env, "team-b", "gateway-b")
		return len(left) == 0, "orphaned: " + strings.Join(left, ", "), err
	}); err != nil {
		t.Fatalf("the sweep left gateway-b's bundle: %v", err)
	}
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		sec, err := env.Client.CoreV1().Secrets(own).Get(ctx, ro.XDSTLSSecret, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return lpCertNames(sec, extraDNSName), "serving certificate not reissued for " + extraDNSName, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitProgrammed(t, ctx, c, "team-a", "gateway-a")

	// 6. The namespaced install never touched the Gateway outside its
	// namespaces: no bundle, no finalizer, no status from berth, no config.
	if sc.outside != "" {
		checkIgnored(t, ctx, env, c, h, sc.outside, "outside")
	}

	// 7. Uninstall as the chart's post-delete hook runs it, with the same
	// rules: berth stopped, every bundle and finalizer goes while the
	// Gateways stay. berth then starts again, as a reinstall would.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	uo := controller.DefaultOptions()
	uo.Namespace = own
	uo.WatchNamespaces = slices.Clone(sc.watch)
	uo.Logger = logr.New(caught.wrap(logger(t).GetSink()))
	if err := controller.Uninstall(ctx, cfg, uo); err != nil {
		t.Fatalf("uninstall as berth's ServiceAccount: %v", err)
	}
	if left, err := berthLeftovers(ctx, env, c, tenants...); err != nil || len(left) > 0 {
		t.Fatalf("after uninstall berth's objects remain: %v (%v)", left, err)
	}
	if err := h.restart(); err != nil {
		t.Fatal(err)
	}
	waitProgrammed(t, ctx, c, "team-a", "gateway-a")

	// 8. Everything the user applied is deleted: nothing of berth's remains.
	if err := k.delete(ctx, union(union(applied, variant), []*unstructured.Unstructured{scaled, grpcRoute})); err != nil {
		t.Fatal(err)
	}
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		left, err := berthLeftovers(ctx, env, c, tenants...)
		return len(left) == 0, strings.Join(left, ", "), err
	}); err != nil {
		t.Fatalf("berth's objects remain after deleting everything: %v", err)
	}
	// Stopping releases the Lease (an update), part of what berth does.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	// 9. Rights used against rights granted.
	events, err := localcluster.ReadAudit(env.Cluster.AuditLog(), user)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rbac.Build(ro)
	if err != nil {
		t.Fatal(err)
	}
	rep := compareRights(set, ro, events)
	t.Logf("rights of %s (%d audited requests):\n%s", user, len(events), rep.table())
	for _, e := range rep.forbidden {
		t.Errorf("missing right: %s", e)
	}
	for _, l := range caught.lines() {
		t.Errorf("controller logged a forbidden error: %s", l)
	}
	for _, r := range rep.unused {
		if r.verb == "list" && rep.used[right{r.role, r.group, r.resource, "watch"}] > 0 {
			// client-go informers open a streaming watch-list (one watch
			// request); against an API server without it they fall back to
			// list then watch, so an informer's list right stays.
			t.Logf("granted, unused here (informer watch-list; list is its fallback): %s", r)
			continue
		}
		if why, ok := lpRare[r]; ok {
			t.Logf("granted, unused here (rare path: %s): %s", why, r)
			continue
		}
		if why, ok := sc.unused[r]; ok {
			t.Logf("granted, unused here (allowed: %s): %s", why, r)
			continue
		}
		t.Errorf("granted but never used: %s", r)
	}
	for r := range sc.unused {
		if rep.used[r] > 0 {
			t.Errorf("allowlisted as unused but used %d times (drop it from the list): %s", rep.used[r], r)
		}
	}
	if rep.used[right{inClusterRole, "authentication.k8s.io", "tokenreviews", "create"}] == 0 {
		t.Error("no TokenReview by berth's ServiceAccount: the xDS authentication did not run under the chart's identity")
	}
	if sc.outside != "" {
		for _, e := range events {
			if e.ObjectRef != nil && e.ObjectRef.Namespace == sc.outside {
				g, r := e.Resource()
				t.Errorf("berth reached into unwatched namespace %s: %s %s/%s %s (%d)", sc.outside, e.Verb, g, r, e.ObjectRef.Name, lpCode(e))
			}
		}
	}
}

// freshNamespace creates ns, first waiting out a deletion in progress.
func freshNamespace(ctx context.Context, env *testenv.Env, ns string) error {
	err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		n, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		if n.DeletionTimestamp == nil {
			return true, "", nil
		}
		return false, "namespace " + ns + " is terminating", nil
	})
	if err != nil {
		return err
	}
	return ensureNamespace(ctx, env.Client, ns)
}

func lpOutsideGateway(ns string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": "outside", "namespace": ns},
		"spec": map[string]any{
			"gatewayClassName": "eg",
			"listeners":        []any{map[string]any{"name": "http", "port": int64(8082), "protocol": "HTTP"}},
		},
	}}
}

// lpGRPCRoute attaches to gateway-a, on a hostname of its own so that the
// seed's HTTPRoute is served as before.
const lpGRPCRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: lp-grpc
  namespace: team-a
spec:
  parentRefs:
    - name: gateway-a
  hostnames:
    - grpc.team-a.com
  rules:
    - matches:
        - method: {service: echo.v1.Echo}
      backendRefs:
        - name: team-a-backend
          port: 3000
`

// The L4 routes of step 2c: gateway-a has an HTTP listener only, so none
// is allowed there.
const (
	lpTCPRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: lp-tcp, namespace: team-a}
spec:
  parentRefs: [{name: gateway-a}]
  rules:
    - backendRefs: [{name: team-a-backend, port: 3000}]
`
	lpTLSRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: lp-tls, namespace: team-a}
spec:
  parentRefs: [{name: gateway-a}]
  hostnames: [tls.team-a.com]
  rules:
    - backendRefs: [{name: team-a-backend, port: 3000}]
`
	lpUDPRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata: {name: lp-udp, namespace: team-a}
spec:
  parentRefs: [{name: gateway-a}]
  rules:
    - backendRefs: [{name: team-a-backend, port: 3000}]
`
)

// lpListenerSet names gateway-a, which does not admit ListenerSets.
const lpListenerSet = `apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: lp-listeners, namespace: team-a}
spec:
  parentRef: {name: gateway-a}
  listeners:
    - {name: extra, port: 8090, protocol: HTTP}
`

const lpBackendTLSPolicy = `apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata:
  name: lp-backend-tls
  namespace: team-a
spec:
  targetRefs:
    - {group: "", kind: Service, name: team-a-backend}
  validation:
    wellKnownCACertificates: System
    hostname: team-a-backend.team-a.svc
`

const lpClientTrafficPolicy = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: lp-client-traffic
  namespace: team-a
spec:
  targetRefs:
    - {group: gateway.networking.k8s.io, kind: Gateway, name: gateway-a}
  timeout:
    http:
      requestReceivedTimeout: 30s
`

func lpObject(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func lpFind(t *testing.T, objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o.DeepCopy()
		}
	}
	t.Fatalf("no %s %s/%s in the manifest", kind, ns, name)
	return nil
}

func waitProgrammed(t *testing.T, ctx context.Context, c client.Client, ns, name string) {
	t.Helper()
	start := time.Now()
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		var gw gwv1.Gateway
		if err := c.Get(ctx, nsName(ns, name), &gw); err != nil {
			return false, err.Error(), nil
		}
		why := programmed(&gw)
		return why == "", why, nil
	}); err != nil {
		t.Fatalf("Gateway %s/%s: %v", ns, name, err)
	}
	t.Logf("Gateway %s/%s Programmed after %s", ns, name, time.Since(start).Round(time.Millisecond))
}

// waitScaled waits until gateway-b's bundle holds an HPA and a PDB (want)
// or neither, and the Gateway is Programmed for its generation.
func waitScaled(t *testing.T, ctx context.Context, env *testenv.Env, c client.Client, want bool) {
	t.Helper()
	sel := labels.SelectorFromSet(render.SelectorLabels("team-b", "gateway-b")).String()
	kinds := []schema.GroupVersionResource{
		{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
		{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	}
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		for _, gvr := range kinds {
			list, err := env.Dynamic.Resource(gvr).Namespace("team-b").List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return false, "", err
			}
			if (len(list.Items) > 0) != want {
				return false, fmt.Sprintf("%d %s of gateway-b, want them present=%t", len(list.Items), gvr.Resource, want), nil
			}
		}
		var gw gwv1.Gateway
		if err := c.Get(ctx, nsName("team-b", "gateway-b"), &gw); err != nil {
			return false, err.Error(), nil
		}
		why := programmed(&gw)
		return why == "", why, nil
	}); err != nil {
		t.Fatalf("gateway-b with HPA and PDB=%t: %v", want, err)
	}
}

func lpServiceGone(ctx context.Context, env *testenv.Env, ns, name string) (string, error) {
	_, err := env.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", err
	}
	return fmt.Sprintf("Service %s/%s not pruned", ns, name), nil
}

// lpForceDelete removes berth's finalizer from a Gateway (as an admin would
// while berth is away) and deletes it.
func lpForceDelete(ctx context.Context, c client.Client, ns, name string) error {
	var gw gwv1.Gateway
	if err := c.Get(ctx, nsName(ns, name), &gw); err != nil {
		return err
	}
	patch := client.MergeFrom(gw.DeepCopy())
	controllerutil.RemoveFinalizer(&gw, render.Finalizer)
	if err := c.Patch(ctx, &gw, patch); err != nil {
		return fmt.Errorf("remove finalizer of %s/%s: %w", ns, name, err)
	}
	if err := c.Delete(ctx, &gw); err != nil {
		return fmt.Errorf("delete %s/%s: %w", ns, name, err)
	}
	return eventually(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		err := c.Get(ctx, nsName(ns, name), &gwv1.Gateway{})
		return apierrors.IsNotFound(err), fmt.Sprintf("Gateway %s/%s still there (%v)", ns, name, err), nil
	})
}

// lpCertNames: the Secret's serving certificate is valid for name.
func lpCertNames(sec *corev1.Secret, name string) bool {
	block, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return err == nil && slices.Contains(cert.DNSNames, name)
}

// checkIgnored: berth wrote nothing for Gateway ns/name and serves it no
// configuration.
func checkIgnored(t *testing.T, ctx context.Context, env *testenv.Env, c client.Client, h *harness, ns, name string) {
	t.Helper()
	left, err := leftovers(ctx, env, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("berth placed objects for unwatched Gateway %s/%s: %v", ns, name, left)
	}
	var gw gwv1.Gateway
	if err := c.Get(ctx, nsName(ns, name), &gw); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(gw.Finalizers, render.Finalizer) {
		t.Errorf("unwatched Gateway %s/%s carries berth's finalizer", ns, name)
	}
	for _, cd := range gw.Status.Conditions {
		// The CRD's defaults: Accepted and Programmed Unknown, reason Pending.
		if cd.Reason != "Pending" || cd.Status != metav1.ConditionUnknown {
			t.Errorf("unwatched Gateway %s/%s has status written: %s=%s %s", ns, name, cd.Type, cd.Status, cd.Reason)
		}
	}
	if len(gw.Status.Addresses) > 0 || len(gw.Status.Listeners) > 0 {
		t.Errorf("unwatched Gateway %s/%s has addresses %v, listeners %v", ns, name, gw.Status.Addresses, gw.Status.Listeners)
	}
	for _, mf := range gw.ManagedFields {
		if mf.Subresource == "status" {
			t.Errorf("unwatched Gateway %s/%s: %s wrote its status", ns, name, mf.Manager)
		}
	}
	if _, ok := h.ctrl.XDS().Published(nsName(ns, name)); ok {
		t.Errorf("xDS snapshot published for unwatched Gateway %s/%s", ns, name)
	}
}

func lpCode(e localcluster.AuditEvent) int {
	if e.ResponseStatus == nil {
		return 0
	}
	return e.ResponseStatus.Code
}

// grant is one expanded rule: a right, where it applies, and its names.
type grant struct {
	right
	namespaces []string // nil: every namespace (ClusterRole)
	names      []string // nil: any name
	// specificity: 0 a Role rule naming objects, 1 another Role rule in
	// berth's namespace, 2 a watched namespace's Role, 3 the ClusterRole.
	specificity int
}

// rightsReport is the comparison of one run.
type rightsReport struct {
	granted   []grant
	used      map[right]int // by grant; 0 when never
	unused    []right
	forbidden []string // requests answered 403
	// unmatched are allowed requests no berth rule grants (the API server's
	// default roles do, e.g. discovery).
	unmatched map[string]int
}

// compareRights expands every rule of set into rights and counts, for
// each, the audited requests it authorizes: in the namespaces the role
// applies to, for its names when it names any. A 403 is a missing right.
func compareRights(set rbac.Set, o rbac.Options, events []localcluster.AuditEvent) rightsReport {
	rep := rightsReport{used: map[right]int{}, unmatched: map[string]int{}}
	add := func(role string, namespaces []string, spec int, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						rt := right{role, g, res, v}
						if _, dup := rep.used[rt]; dup {
							continue
						}
						rep.used[rt] = 0
						sp := spec
						if len(r.ResourceNames) > 0 {
							sp = 0
						}
						rep.granted = append(rep.granted, grant{rt, namespaces, r.ResourceNames, sp})
					}
				}
			}
		}
	}
	for _, cr := range set.ClusterRoles {
		add(inClusterRole, nil, 3, cr.Rules)
	}
	watched := map[string][]string{}
	var rolesInOrder []*rbacv1.Role
	for _, r := range set.Roles {
		if _, seen := watched[r.Name]; !seen {
			rolesInOrder = append(rolesInOrder, r)
		}
		watched[r.Name] = append(watched[r.Name], r.Namespace)
	}
	for _, r := range rolesInOrder {
		role, spec := inWatchedRole, 2
		if r.Namespace == o.Namespace && r.Name == o.Name {
			role, spec = inSelfRole, 1
		}
		add(role, watched[r.Name], spec, r.Rules)
	}

	for _, e := range events {
		g, res := e.Resource()
		code := lpCode(e)
		ns, name := "", ""
		if e.ObjectRef != nil {
			ns, name = e.ObjectRef.Namespace, e.ObjectRef.Name
		}
		if code == 403 {
			rep.forbidden = append(rep.forbidden, fmt.Sprintf("%s %s/%s in %q name %q: 403", e.Verb, g, res, ns, name))
			continue
		}
		if e.ObjectRef == nil {
			rep.unmatched["non-resource "+e.Verb]++
			continue
		}
		verbs := []string{e.Verb}
		if e.Verb == "patch" && code == 201 {
			// A server-side apply that creates the object is authorized as
			// create too (inside the handler, so the audit shows a patch).
			verbs = append(verbs, "create")
		}
		for _, verb := range verbs {
			if !rep.credit(g, res, verb, ns, name) {
				rep.unmatched[fmt.Sprintf("%s %s/%s in %q", verb, g, res, ns)]++
			}
		}
	}
	for _, gr := range rep.granted {
		if rep.used[gr.right] == 0 {
			rep.unused = append(rep.unused, gr.right)
		}
	}
	return rep
}

// credit counts one allowed request for the grants that allow it, and
// reports whether any does.
func (rep *rightsReport) credit(g, res, verb, ns, name string) bool {
	// The request counts for the most specific rules that allow it
	// only: the Secret berth reads in its own namespace is its named
	// rule's use, not a reason for a cluster-wide Secret read.
	var matches []grant
	for _, gr := range rep.granted {
		if gr.group != g || gr.resource != res || gr.verb != verb {
			continue
		}
		if gr.namespaces != nil && !slices.Contains(gr.namespaces, ns) {
			continue
		}
		if gr.names != nil && !slices.Contains(gr.names, name) {
			continue
		}
		matches = append(matches, gr)
	}
	best := 4
	for _, gr := range matches {
		best = min(best, gr.specificity)
	}
	for _, gr := range matches {
		if gr.specificity == best {
			rep.used[gr.right]++
		}
	}
	return len(matches) > 0
}

// table lists every granted right with its uses, then the requests no
// berth rule grants.
func (rep rightsReport) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s %-26s %-30s %-8s %s\n", "ROLE", "GROUP", "RESOURCE", "VERB", "USES")
	for _, gr := range rep.granted {
		fmt.Fprintf(&b, "%s %s%d\n", gr.right, strings.Repeat(" ", max(0, 8-len(gr.verb))+1), rep.used[gr.right])
	}
	var extra []string
	for k, n := range rep.unmatched {
		extra = append(extra, fmt.Sprintf("  %s: %d", k, n))
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		b.WriteString("allowed by the API server's default roles, not berth's:\n")
		b.WriteString(strings.Join(extra, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// forbiddenLogs records every log line of the controller that carries a
// Forbidden error, while passing everything on to the real sink.
type forbiddenLogs struct {
	mu  sync.Mutex
	got []string
}

func (f *forbiddenLogs) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func (f *forbiddenLogs) check(msg string, err error, kv []any) {
	var found []string
	if err != nil && (apierrors.IsForbidden(err) || strings.Contains(err.Error(), "forbidden")) {
		found = append(found, err.Error())
	}
	for _, v := range kv {
		if e, ok := v.(error); ok && (apierrors.IsForbidden(e) || strings.Contains(e.Error(), "forbidden")) {
			found = append(found, e.Error())
		}
	}
	if strings.Contains(strings.ToLower(msg), "forbidden") {
		found = append(found, msg)
	}
	if len(found) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, msg+": "+strings.Join(found, "; "))
}

func (f *forbiddenLogs) wrap(s logr.LogSink) logr.LogSink { return &catchSink{LogSink: s, f: f} }

type catchSink struct {
	logr.LogSink
	f *forbiddenLogs
}

func (s *catchSink) Info(level int, msg string, kv ...any) {
	s.f.check(msg, nil, kv)
	s.LogSink.Info(level, msg, kv...)
}

func (s *catchSink) Error(err error, msg string, kv ...any) {
	s.f.check(msg, err, kv)
	s.LogSink.Error(err, msg, kv...)
}

func (s *catchSink) WithValues(kv ...any) logr.LogSink {
	return &catchSink{LogSink: s.LogSink.WithValues(kv...), f: s.f}
}

func (s *catchSink) WithName(name string) logr.LogSink {
	return &catchSink{LogSink: s.LogSink.WithName(name), f: s.f}
}
