package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/examples"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// The seed manifests: the repository's one copy, in examples/
// (examples.TestSeedCopiesUnchanged checks it against the user's).
var (
	seedFile      = filepath.Join("..", "examples", examples.GatewayNamespaceMode)
	clusterIPFile = filepath.Join("..", "examples", examples.ClusterIPEnvoyProxy)
)

// team is one tenant of the seed scenario.
type team struct {
	ns, gateway, route, host string
	port                     uint32
	// proxy is the name the reference shows for its data plane.
	proxy string
}

var teams = []team{
	{ns: "team-a", gateway: "gateway-a", route: "team-a-route", host: "www.team-a.com", port: 8080, proxy: "envoy-team-a-gateway-a-b65c6264"},
	{ns: "team-b", gateway: "gateway-b", route: "team-b-route", host: "www.team-b.com", port: 8081, proxy: "envoy-team-b-gateway-b-0ac91f5a"},
}

// TestSeedScenario is the user's walk-through on a real cluster, with berth
// running under exactly the RBAC its chart grants: the seed file as
// written, then a probe proxy per team talking to the xDS server the way the
// rendered Envoy does, then the ClusterIP variant applied on top, then
// everything deleted with nothing of berth's left behind.
func TestSeedScenario(t *testing.T) {
	env := testenv.Get(t)
	ctx := ctxT(t, 8*time.Minute)
	c := adminClient(t, env)
	k := newKube(t, env)

	for _, tm := range teams {
		if err := ensureNamespace(ctx, env.Client, tm.ns); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// After the controller stopped: a failed run must not leave the
		// namespaces stuck on Gateways whose finalizer nobody removes.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		uninstallAll(ctx, t, env, []string{"team-a", "team-b"})
		for _, tm := range teams {
			_ = env.Client.CoreV1().Namespaces().Delete(ctx, tm.ns, metav1.DeleteOptions{})
		}
	})
	h := newHarness(t, berthIdentity(t, env))

	seed := readManifest(t, seedFile)
	if err := k.apply(ctx, seed); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ro := waitRenderOptions(t, ctx, env)

	for _, tm := range teams {
		tm := tm
		key := nsName(tm.ns, tm.gateway)
		if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			why, err := routeAccepted(ctx, c, nsName(tm.ns, tm.route), &gwv1.HTTPRoute{})
			return why == "", why, err
		}); err != nil {
			t.Fatalf("HTTPRoute %s/%s not Accepted: %v", tm.ns, tm.route, err)
		}
		if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			why, err := gatewayState(ctx, env, c, ro, key)
			return why == "", why, err
		}); err != nil {
			t.Fatalf("Gateway %s: %v", key, err)
		}
		t.Logf("Gateway %s Programmed with its exact bundle %s after applying the seed", key, time.Since(start).Round(time.Millisecond))
		checkPods(t, ctx, env, tm)
		if why, err := addressesWhy(ctx, env, c, tm, render.ProxyName(tm.ns, tm.gateway), corev1.ServiceTypeLoadBalancer); err != nil || why != "" {
			t.Errorf("%s %v", why, err)
		}
	}

	// The probe proxies.
	pcs := map[string]*proxyConfig{}
	tokens := map[string]string{}
	wants := map[string]expectedXDS{}
	for _, tm := range teams {
		pc, err := readProxyConfig(ctx, env, tm.ns, tm.gateway)
		if err != nil {
			t.Fatal(err)
		}
		if want := "berth-xds." + berthNamespace + ".svc"; pc.XDSHost != want || pc.ServerName != want {
			t.Errorf("%s bootstrap: xDS host %q, server name %q, want %q", tm.ns, pc.XDSHost, pc.ServerName, want)
		}
		if pc.NodeCluster != tm.ns+"/"+tm.gateway {
			t.Errorf("%s bootstrap: node cluster %q", tm.ns, pc.NodeCluster)
		}
		if !pc.Delta {
			t.Errorf("%s bootstrap: ADS is not delta", tm.ns)
		}
		if pc.Pod.Spec.ServiceAccountName != render.ServiceAccountName(tm.ns, tm.gateway) {
			t.Errorf("%s pod runs as %q", tm.ns, pc.Pod.Spec.ServiceAccountName)
		}
		tok, err := podToken(ctx, env, pc.Pod, pc.Audience, pc.ExpirationSeconds)
		if err != nil {
			t.Fatal(err)
		}
		ips, err := backendIPs(ctx, env, tm.ns, "app="+tm.ns+"-backend")
		if err != nil {
			t.Fatal(err)
		}
		if len(ips) == 0 {
			t.Fatalf("no Ready backend pod in %s", tm.ns)
		}
		pcs[tm.ns], tokens[tm.ns] = pc, tok
		wants[tm.ns] = expectedXDS{Port: tm.port, Domain: tm.host, PathPrefix: "/example", EndpointIPs: ips, EndpointPort: 3000}
	}
	for _, tm := range teams {
		pc := pcs[tm.ns]
		probeStart := time.Now()
		st := probe(t, ctx, h.xdsAddr(), pc, tokens[tm.ns], pc.Pod.Name, pc.NodeCluster, wants[tm.ns])
		t.Logf("probe %s (node %s, cluster %s): listener %d, %s/example → %v in %s", tm.ns, pc.Pod.Name, pc.NodeCluster,
			tm.port, tm.host, wants[tm.ns].EndpointIPs, time.Since(probeStart).Round(time.Millisecond))
		other := teams[0]
		if other.ns == tm.ns {
			other = teams[1]
		}
		if leaked := foreign(st, wants[other.ns]); leaked != "" {
			t.Errorf("%s's proxy holds %s's configuration: %s", tm.ns, other.ns, leaked)
		}
	}

	// Isolation: team-b's token never obtains team-a's configuration.
	a, b := teams[0], teams[1]
	t.Run("team-b token claiming team-a's node", func(t *testing.T) {
		refusedProbe(t, ctx, h.xdsAddr(), pcs[b.ns], tokens[b.ns], pcs[a.ns].Pod.Name, pcs[a.ns].NodeCluster, codes.PermissionDenied, wants[a.ns])
	})
	t.Run("team-b token with team-a's node id and its own cluster", func(t *testing.T) {
		st := probe(t, ctx, h.xdsAddr(), pcs[b.ns], tokens[b.ns], pcs[a.ns].Pod.Name, pcs[b.ns].NodeCluster, wants[b.ns])
		if leaked := foreign(st, wants[a.ns]); leaked != "" {
			t.Errorf("team-b's stream holds team-a's configuration: %s", leaked)
		}
	})
	t.Run("team-a token not bound to a pod", func(t *testing.T) {
		tok, err := env.Token(ctx, a.ns, pcs[a.ns].Pod.Spec.ServiceAccountName, []string{pcs[a.ns].Audience}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		refusedProbe(t, ctx, h.xdsAddr(), pcs[a.ns], tok, pcs[a.ns].Pod.Name, pcs[a.ns].NodeCluster, codes.PermissionDenied, wants[a.ns])
	})
	t.Run("team-a token for the apiserver's audience", func(t *testing.T) {
		tok, err := podToken(ctx, env, pcs[a.ns].Pod, "https://kubernetes.default.svc", 3600)
		if err != nil {
			t.Fatal(err)
		}
		refusedProbe(t, ctx, h.xdsAddr(), pcs[a.ns], tok, pcs[a.ns].Pod.Name, pcs[a.ns].NodeCluster, codes.Unauthenticated, wants[a.ns])
	})

	// The ClusterIP variant, applied on top as the walk-through does.
	variant := readManifest(t, clusterIPFile)
	if err := k.apply(ctx, variant); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for _, tm := range teams {
		key := nsName(tm.ns, tm.gateway)
		if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			// The Gateway's generation does not change when its class's
			// parameters do, so Programmed for "this generation" proves
			// nothing here: wait for the new Service's address in status.
			why, err := addressesWhy(ctx, env, c, tm, "my-gateway", corev1.ServiceTypeClusterIP)
			if why == "" && err == nil {
				// Also proves the LoadBalancer Service was pruned.
				why, err = gatewayState(ctx, env, c, ro, key)
			}
			return why == "", why, err
		}); err != nil {
			t.Fatalf("Gateway %s with the ClusterIP EnvoyProxy: %v", key, err)
		}
		t.Logf("Gateway %s Programmed with Service my-gateway (ClusterIP) and its address %s after applying the variant", key, time.Since(start).Round(time.Millisecond))
	}
	// A proxy still gets its configuration (the bootstrap did not change).
	pc, err := readProxyConfig(ctx, env, a.ns, a.gateway)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := podToken(ctx, env, pc.Pod, pc.Audience, pc.ExpirationSeconds)
	if err != nil {
		t.Fatal(err)
	}
	probe(t, ctx, h.xdsAddr(), pc, tok, pc.Pod.Name, pc.NodeCluster, wants[a.ns])

	// Delete everything the user applied: nothing of berth's remains.
	start = time.Now()
	if err := k.delete(ctx, union(seed, variant)); err != nil {
		t.Fatal(err)
	}
	if err := eventually(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		left, err := berthLeftovers(ctx, env, c, "team-a", "team-b")
		return len(left) == 0, strings.Join(left, ", "), err
	}); err != nil {
		t.Fatalf("berth's objects remain after deleting everything: %v", err)
	}
	t.Logf("nothing of berth's left %s after deleting the manifests", time.Since(start).Round(time.Millisecond))
	for _, tm := range teams {
		if _, ok := h.ctrl.XDS().Published(nsName(tm.ns, tm.gateway)); ok {
			t.Errorf("xDS snapshot of %s/%s still published", tm.ns, tm.gateway)
		}
	}
}

// waitRenderOptions waits for the controller's CA (it creates the xDS TLS
// Secret at start) and returns the options it renders with.
func waitRenderOptions(t *testing.T, ctx context.Context, env *testenv.Env) render.Options {
	t.Helper()
	var ro render.Options
	if err := eventually(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		var err error
		ro, err = renderOptions(ctx, env)
		if err != nil {
			return false, err.Error(), nil
		}
		return len(ro.CABundle) > 0, "empty CA", nil
	}); err != nil {
		t.Fatal(err)
	}
	return ro
}

// routeAccepted explains why the route (an empty *gwv1.HTTPRoute or
// *gwv1.GRPCRoute to read it into) is not Accepted by berth ("" when it is).
func routeAccepted(ctx context.Context, c client.Client, key client.ObjectKey, route client.Object) (string, error) {
	if err := c.Get(ctx, key, route); err != nil {
		return "", err
	}
	var status gwv1.RouteStatus
	switch r := route.(type) {
	case *gwv1.HTTPRoute:
		status = r.Status.RouteStatus
	case *gwv1.GRPCRoute:
		status = r.Status.RouteStatus
	case *gwv1.TCPRoute:
		status = r.Status.RouteStatus
	case *gwv1.TLSRoute:
		status = r.Status.RouteStatus
	case *gwv1.UDPRoute:
		status = r.Status.RouteStatus
	default:
		return "", fmt.Errorf("routeAccepted: %T is not a route", route)
	}
	generation := route.GetGeneration()
	for _, p := range status.Parents {
		if string(p.ControllerName) != render.DefaultControllerName {
			continue
		}
		for _, cd := range p.Conditions {
			if cd.Type == string(gwv1.RouteConditionAccepted) {
				if cd.Status == metav1.ConditionTrue && cd.ObservedGeneration == generation {
					return "", nil
				}
				return fmt.Sprintf("Accepted=%s %s: %s (generation %d of %d)", cd.Status, cd.Reason, cd.Message, cd.ObservedGeneration, generation), nil
			}
		}
	}
	return fmt.Sprintf("no parent status from %s: %+v", render.DefaultControllerName, status.Parents), nil
}

// checkPods: as in the reference, the team's namespace runs an Envoy pod
// named after the proxy, 2/2 Ready, next to the backend.
func checkPods(t *testing.T, ctx context.Context, env *testenv.Env, tm team) {
	t.Helper()
	pods, err := env.Client.CoreV1().Pods(tm.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var envoy, backend int
	for _, p := range pods.Items {
		ready := 0
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
		}
		switch {
		case strings.HasPrefix(p.Name, tm.proxy+"-"):
			if len(p.Spec.Containers) != 2 || ready != 2 || !podReady(&p) {
				t.Errorf("pod %s/%s: %d/%d ready", tm.ns, p.Name, ready, len(p.Spec.Containers))
			}
			envoy++
			t.Logf("pod %s/%s %d/%d Ready", tm.ns, p.Name, ready, len(p.Spec.Containers))
		case strings.HasPrefix(p.Name, tm.ns+"-backend-"):
			if !podReady(&p) {
				t.Errorf("backend pod %s/%s not Ready", tm.ns, p.Name)
			}
			backend++
		}
	}
	if envoy != 1 || backend != 1 {
		t.Errorf("%s: %d pods named %s-…, %d backend pods; want 1 and 1", tm.ns, envoy, tm.proxy, backend)
	}
}

// addressesWhy explains how the Gateway's status.addresses differ from its
// Service's address (the LoadBalancer ingress IP, or the clusterIP), or the
// Service from what the scenario expects ("" when all is as it should be).
func addressesWhy(ctx context.Context, env *testenv.Env, c client.Client, tm team, svcName string, typ corev1.ServiceType) (string, error) {
	svc, err := env.Client.CoreV1().Services(tm.ns).Get(ctx, svcName, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("Service %s/%s: %v", tm.ns, svcName, err), nil
	}
	if svc.Spec.Type != typ {
		return fmt.Sprintf("Service %s/%s is %s, want %s", tm.ns, svcName, svc.Spec.Type, typ), nil
	}
	want := svc.Spec.ClusterIP
	if typ == corev1.ServiceTypeLoadBalancer {
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("Service %s/%s has no load-balancer ingress", tm.ns, svcName), nil
		}
		want = svc.Status.LoadBalancer.Ingress[0].IP
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return uint32(p.Port) == tm.port }) {
		return fmt.Sprintf("Service %s/%s ports %+v lack %d", tm.ns, svcName, svc.Spec.Ports, tm.port), nil
	}
	var gw gwv1.Gateway
	if err := c.Get(ctx, nsName(tm.ns, tm.gateway), &gw); err != nil {
		return "", err
	}
	var got []string
	for _, a := range gw.Status.Addresses {
		got = append(got, a.Value)
	}
	if !slices.Equal(got, []string{want}) {
		return fmt.Sprintf("Gateway %s/%s addresses %v, want [%s] from Service %s", tm.ns, tm.gateway, got, want, svcName), nil
	}
	return "", nil
}

// openProbe dials the xDS server as pc's Envoy would and opens a stream
// with token and node (id, cluster), bounded by probeTimeout (the returned
// context); closeProbe ends both.
func openProbe(t *testing.T, ctx context.Context, addr string, pc *proxyConfig, token, nodeID, nodeCluster string) (sctx context.Context, cl *xdstest.Client, closeProbe func()) {
	t.Helper()
	conn, err := dialXDS(addr, pc.CA, pc.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, probeTimeout)
	closeProbe = func() { cancel(); conn.Close() }
	cl, err = startProbe(sctx, conn, pc, token, nodeID, nodeCluster)
	if err != nil {
		closeProbe()
		t.Fatal(err)
	}
	return sctx, cl, closeProbe
}

// probe opens a stream like pc's Envoy with token and node (id, cluster)
// and waits until it holds want.
func probe(t *testing.T, ctx context.Context, addr string, pc *proxyConfig, token, nodeID, nodeCluster string, want expectedXDS) xdstest.State {
	t.Helper()
	sctx, cl, closeProbe := openProbe(t, ctx, addr, pc, token, nodeID, nodeCluster)
	defer closeProbe()
	var why string
	err := cl.Wait(sctx, func(s xdstest.State) bool { why = checkXDS(s, want); return why == "" })
	if err != nil {
		t.Fatalf("probe as %s (node %s, cluster %s): %v; state: %s", pc.Pod.Namespace, nodeID, nodeCluster, err, why)
	}
	return cl.State()
}

// refusedProbe: the stream ends with code, holding nothing of secret's
// configuration.
func refusedProbe(t *testing.T, ctx context.Context, addr string, pc *proxyConfig, token, nodeID, nodeCluster string, code codes.Code, secret expectedXDS) {
	t.Helper()
	sctx, cl, closeProbe := openProbe(t, ctx, addr, pc, token, nodeID, nodeCluster)
	defer closeProbe()
	err := cl.WaitEnd(sctx)
	if got := status.Code(err); got != code {
		t.Errorf("stream ended with %v (%v), want %v", got, err, code)
	} else {
		t.Logf("refused: %v", err)
	}
	if leaked := foreign(cl.State(), secret); leaked != "" {
		t.Errorf("a refused stream received: %s", leaked)
	}
}

// foreign names what of other's configuration s holds ("" when nothing):
// its virtual host domain or a backend IP.
func foreign(s xdstest.State, other expectedXDS) string {
	var out []string
	if xdstest.Domains(s)[other.Domain] {
		out = append(out, "domain "+other.Domain)
	}
	ips := xdstest.EndpointIPs(s)
	for _, ip := range other.EndpointIPs {
		if ips[ip] {
			out = append(out, "endpoint "+ip)
		}
	}
	return strings.Join(out, ", ")
}

// union returns a's objects followed by b's not already in a (by kind,
// namespace and name).
func union(a, b []*unstructured.Unstructured) []*unstructured.Unstructured {
	seen := map[string]bool{}
	var out []*unstructured.Unstructured
	for _, o := range append(append([]*unstructured.Unstructured(nil), a...), b...) {
		k := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		if !seen[k] {
			seen[k] = true
			out = append(out, o)
		}
	}
	return out
}
