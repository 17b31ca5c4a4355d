package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/cli"
	"github.com/berth-gateway/berth/render"
)

// diffResult is berth diff -o json, as much as the test reads.
type diffResult struct {
	Gateways []struct {
		Gateway string `json:"gateway"`
		Changed bool   `json:"changed"`
		Objects []struct {
			Action  string `json:"action"`
			Kind    string `json:"kind"`
			Name    string `json:"name"`
			Changes []struct {
				Path    string `json:"path"`
				Live    any    `json:"live"`
				Planned any    `json:"planned"`
			} `json:"changes"`
		} `json:"objects"`
		Address struct {
			Changes bool     `json:"changes"`
			Reasons []string `json:"reasons"`
		} `json:"address"`
	} `json:"gateways"`
}

// berthDiff runs berth diff in process with the controller's settings and
// returns its parsed -o json output and exit status.
func (h *harness) berthDiff(args ...string) (diffResult, int) {
	h.t.Helper()
	o := h.options()
	var stdout, stderr bytes.Buffer
	cmd := cli.NewRootCmd()
	cmd.SetArgs(append([]string{"diff", "-o", "json", "-n", h.ns, "--kubeconfig", h.env.Kubeconfig,
		"--controller-name", h.name, "--controller-namespace", h.ctrlNS,
		"--shutdown-manager-image", o.Render.ShutdownManagerImage, "--envoy-image", o.Render.EnvoyImage}, args...))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.Execute()
	code := cli.ExitCode(err)
	if code != cli.ExitOK && code != cli.ExitFailed {
		h.t.Fatalf("berth diff %s: %v (exit %d); stderr:\n%s", strings.Join(args, " "), err, code, stderr.String())
	}
	var res diffResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		h.t.Fatalf("berth diff -o json: %v:\n%s", err, stdout.String())
	}
	if len(res.Gateways) != 1 {
		h.t.Fatalf("berth diff: want one Gateway, got:\n%s", stdout.String())
	}
	return res, code
}

// actions lists "action Kind name" of every object that is not unchanged.
func (r diffResult) actions() []string {
	var out []string
	for _, o := range r.Gateways[0].Objects {
		if o.Action != "unchanged" {
			out = append(out, o.Action+" "+o.Kind+" "+o.Name)
		}
	}
	return out
}

// TestDiff: berth diff against a Programmed Gateway sees nothing to change
// (exit 0); an EnvoyProxy Service type change in the cluster (controller
// stopped, so nothing applies it) is a changed Service whose address
// changes; a Service rename given with -f is a prune and a create, and the
// address changes; dry runs change nothing in the cluster.
func TestDiff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stop := h.start()
	h.create(clusterIPProxy(h.ns, "ep"))
	gw := h.gateway("gw", 8080, "ep")
	key := k8stypes.NamespacedName{Namespace: h.ns, Name: gw.Name}
	h.programmed(key)
	stop() // nothing applies what follows: only diff looks at it
	svc := render.ProxyName(h.ns, gw.Name)

	res, code := h.berthDiff("gateway/gw")
	if code != cli.ExitOK || res.Gateways[0].Changed || len(res.actions()) != 0 || res.Gateways[0].Address.Changes {
		t.Fatalf("diff of a Programmed Gateway: exit %d, changes %v, address %+v; want exit 0, none", code, res.actions(), res.Gateways[0].Address)
	}
	// --all: every Gateway of the namespace (this one only), the same verdict.
	if res, code := h.berthDiff("--all"); code != cli.ExitOK || res.Gateways[0].Gateway != key.String() || res.Gateways[0].Changed {
		t.Fatalf("diff --all of a Programmed Gateway: exit %d, %+v; want exit 0 for %s, unchanged", code, res.Gateways[0], key)
	}

	var ep v1alpha1.EnvoyProxy
	if err := h.cl.Get(h.ctx(), k8stypes.NamespacedName{Namespace: h.ns, Name: "ep"}, &ep); err != nil {
		t.Fatal(err)
	}
	ep.Spec.Provider.Kubernetes.EnvoyService.Type = ptr.To(v1alpha1.ServiceTypeNodePort)
	if err := h.cl.Update(h.ctx(), &ep); err != nil {
		t.Fatal(err)
	}
	res, code = h.berthDiff("gateway", "gw")
	if code != cli.ExitFailed || !res.Gateways[0].Changed {
		t.Fatalf("diff after a Service type change: exit %d, changed %t; want exit 1", code, res.Gateways[0].Changed)
	}
	if got, want := res.actions(), []string{"configured Service " + svc}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("actions after a Service type change: %v, want %v", got, want)
	}
	typeChanged := false
	for _, o := range res.Gateways[0].Objects {
		for _, c := range o.Changes {
			if c.Path == "spec.type" && c.Live == "ClusterIP" && c.Planned == "NodePort" {
				typeChanged = true
			}
		}
	}
	if !typeChanged {
		t.Errorf("no change spec.type ClusterIP → NodePort in %+v", res.Gateways[0].Objects)
	}
	if a := res.Gateways[0].Address; !a.Changes || !strings.Contains(strings.Join(a.Reasons, ";"), "type ClusterIP → NodePort") {
		t.Errorf("address after a Service type change: %+v, want changes naming the type", a)
	}

	// The proposed state from a file: the Gateway and an EnvoyProxy that
	// renames the Service.
	file := filepath.Join(t.TempDir(), "proposed.yaml")
	proposed := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: %[1]s}
spec:
  gatewayClassName: %[2]s
  infrastructure: {parametersRef: {group: gateway.envoyproxy.io, kind: EnvoyProxy, name: ep}}
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata: {name: ep, namespace: %[1]s}
spec:
  provider:
    type: Kubernetes
    kubernetes:
      envoyService: {name: my-gateway, type: ClusterIP}
`, h.ns, h.class)
	if err := os.WriteFile(file, []byte(proposed), 0o600); err != nil {
		t.Fatal(err)
	}
	res, code = h.berthDiff("-f", file)
	if code != cli.ExitFailed {
		t.Fatalf("diff of a Service rename: exit %d, want 1", code)
	}
	if got, want := res.actions(), []string{"pruned Service " + svc, "created Service my-gateway"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("actions of a Service rename: %v, want %v", got, want)
	}
	if a := res.Gateways[0].Address; !a.Changes || !strings.Contains(strings.Join(a.Reasons, ";"), "is replaced by "+h.ns+"/my-gateway") {
		t.Errorf("address after a Service rename: %+v, want changes naming the new Service", a)
	}

	// Dry runs wrote nothing: the live bundle still has the old Service.
	if objs := h.bundleObjects(h.ns, gw.Name); !contains(objs, "Service "+svc) || contains(objs, "Service my-gateway") {
		t.Errorf("after the diffs the bundle is %v, want it unchanged", objs)
	}
}

// TestDiffListenerSetPorts: a Gateway whose accepted ListenerSet adds a
// port is Programmed with that port on its Service; berth diff renders it
// with the ListenerSet's port, as the controller does, so it sees nothing
// to change (before, it planned the port's removal); given with -f
// without the ListenerSet's port, the port's removal is a change.
func TestDiffListenerSetPorts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stop := h.start()
	defer stop()
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "gw"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			AllowedListeners: &gwv1.AllowedListeners{Namespaces: &gwv1.ListenerNamespaces{From: ptr.To(gwv1.NamespacesFromSame)}},
			Listeners:        []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
		},
	}
	h.create(gw)
	h.create(&gwv1.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "extra"},
		Spec: gwv1.ListenerSetSpec{
			ParentRef: gwv1.ParentGatewayReference{Name: "gw"},
			Listeners: []gwv1.ListenerEntry{{Name: "extra", Port: 9090, Protocol: gwv1.HTTPProtocolType}},
		},
	})
	key := k8stypes.NamespacedName{Namespace: h.ns, Name: gw.Name}
	svcKey := k8stypes.NamespacedName{Namespace: h.ns, Name: render.ProxyName(h.ns, gw.Name)}
	h.programmed(key)
	err := wait.PollUntilContextTimeout(h.ctx(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var svc corev1.Service
		if err := h.cl.Get(ctx, svcKey, &svc); err != nil {
			return false, nil
		}
		for _, p := range svc.Spec.Ports {
			if p.Port == 9090 {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("Service %s never got the ListenerSet's port 9090: %v", svcKey, err)
	}
	stop()

	res, code := h.berthDiff("gateway/gw")
	if code != cli.ExitOK || res.Gateways[0].Changed || res.Gateways[0].Address.Changes {
		t.Fatalf("diff of a Gateway with an accepted ListenerSet: exit %d, changes %v, address %+v; want exit 0, none", code, res.actions(), res.Gateways[0].Address)
	}

	// The proposed ListenerSet moves its listener to port 9091.
	file := filepath.Join(t.TempDir(), "proposed.yaml")
	proposed := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: %[1]s}
spec:
  gatewayClassName: %[2]s
  allowedListeners: {namespaces: {from: Same}}
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: extra, namespace: %[1]s}
spec:
  parentRef: {name: gw}
  listeners: [{name: extra, port: 9091, protocol: HTTP}]
`, h.ns, h.class)
	if err := os.WriteFile(file, []byte(proposed), 0o600); err != nil {
		t.Fatal(err)
	}
	res, code = h.berthDiff("-f", file)
	if code != cli.ExitFailed || !res.Gateways[0].Address.Changes || !strings.Contains(strings.Join(res.Gateways[0].Address.Reasons, ";"), "9091") {
		t.Fatalf("diff of a moved ListenerSet port: exit %d, actions %v, address %+v; want exit 1 and an address change naming 9091", code, res.actions(), res.Gateways[0].Address)
	}
}
