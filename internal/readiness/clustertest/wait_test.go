// Package clustertest runs berth wait (readiness.Run) against a real local
// cluster, playing the controller itself: it creates Gateways, applies real
// bundles with the apply engine and writes Gateway status, and checks that
// `kubectl wait --for=condition=Programmed` gives the same answer.
package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/dynamic"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var classResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}

// syncBuffer is an io.Writer the wait writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is one namespace with a GatewayClass of its own.
type fixture struct {
	t     *testing.T
	env   *testenv.Env
	ns    string
	class *gwv1.GatewayClass
}

func newFixture(t *testing.T) *fixture {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	f := &fixture{t: t, env: env, ns: ns, class: &gwv1.GatewayClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "GatewayClass"},
		ObjectMeta: metav1.ObjectMeta{Name: "wait-" + ns},
		Spec:       gwv1.GatewayClassSpec{ControllerName: "example.com/berth-wait-test"},
	}}
	f.create(classResource, "", f.class)
	t.Cleanup(func() {
		_ = env.Dynamic.Resource(classResource).Delete(context.Background(), f.class.Name, metav1.DeleteOptions{})
	})
	return f
}

func (f *fixture) create(gvr schema.GroupVersionResource, ns string, obj runtime.Object) *unstructured.Unstructured {
	f.t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		f.t.Fatal(err)
	}
	u, err := f.env.Dynamic.Resource(gvr).Namespace(ns).Create(context.Background(), &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatalf("create %s: %v", gvr.Resource, err)
	}
	return u
}

func (f *fixture) gateway(name string) *gwv1.Gateway {
	f.t.Helper()
	g := &gwv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(f.class.Name),
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}},
	}
	f.create(readiness.GatewayResource, f.ns, g)
	return g
}

// setConditions writes the Gateway's status conditions as a controller
// would, for the Gateway's current generation unless og > 0.
func (f *fixture) setConditions(name string, og int64, conds ...metav1.Condition) {
	f.t.Helper()
	f.setStatus(readiness.GatewayResource, name, og, conds...)
}

// setStatus writes the status conditions of object name of resource gvr
// (a Gateway or a ListenerSet) as setConditions does.
func (f *fixture) setStatus(gvr schema.GroupVersionResource, name string, og int64, conds ...metav1.Condition) {
	f.t.Helper()
	ctx := context.Background()
	ri := f.env.Dynamic.Resource(gvr).Namespace(f.ns)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if og == 0 {
		og = u.GetGeneration()
	}
	var list []any
	for _, c := range conds {
		list = append(list, map[string]any{
			"type": c.Type, "status": string(c.Status), "reason": c.Reason, "message": c.Message,
			"observedGeneration": og, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		})
	}
	if err := unstructured.SetNestedSlice(u.Object, list, "status", "conditions"); err != nil {
		f.t.Fatal(err)
	}
	if _, err := ri.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		f.t.Fatalf("update status of %s %s: %v", gvr.Resource, name, err)
	}
}

func condition(t gwv1.GatewayConditionType, s metav1.ConditionStatus, r gwv1.GatewayConditionReason, msg string) metav1.Condition {
	return metav1.Condition{Type: string(t), Status: s, Reason: string(r), Message: msg}
}

var (
	accepted = condition(gwv1.GatewayConditionAccepted, metav1.ConditionTrue, gwv1.GatewayReasonAccepted, "accepted by the test")
	pending  = condition(gwv1.GatewayConditionProgrammed, metav1.ConditionFalse, gwv1.GatewayReasonPending, "waiting for the bundle")
	ready    = condition(gwv1.GatewayConditionProgrammed, metav1.ConditionTrue, gwv1.GatewayReasonProgrammed, "traffic flows")
)

// applyBundle renders g's bundle and applies it with the apply engine, as
// the controller does; it returns when the objects are Current.
func (f *fixture) applyBundle(g *gwv1.Gateway) {
	f.t.Helper()
	b, err := render.Render(render.Input{GatewayClass: f.class, Gateway: g}, render.DefaultOptions())
	if err != nil {
		f.t.Fatal(err)
	}
	objs, err := b.Unstructured()
	if err != nil {
		f.t.Fatal(err)
	}
	eng, err := apply.New(f.env.Config, apply.DefaultOptions())
	if err != nil {
		f.t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := eng.Run(ctx, apply.Inventory{Namespace: b.Inventory.Namespace, Name: b.Inventory.Name, ID: b.Inventory.ID}, objs)
	if err != nil {
		f.t.Fatalf("apply bundle: %v", err)
	}
	if !res.AllCurrent() {
		f.t.Fatalf("bundle not current after apply: %s", res.Message())
	}
}

// waitRun is a berth wait running in the background.
type waitRun struct {
	out  syncBuffer
	done chan struct{}
	res  *readiness.Outcome
	err  error
}

func (f *fixture) startWait(opts readiness.Options) *waitRun {
	w := &waitRun{done: make(chan struct{})}
	if opts.Namespace == "" {
		opts.Namespace = f.ns
	}
	opts.Out = &w.out
	go func() {
		defer close(w.done)
		w.res, w.err = readiness.Run(context.Background(), f.env.Config, opts)
	}()
	return w
}

func (w *waitRun) result(t *testing.T) *readiness.Outcome {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("berth wait did not return; output:\n%s", w.out.String())
	}
	t.Logf("berth wait output:\n%s", w.out.String())
	if w.err != nil {
		t.Fatalf("berth wait: %v", w.err)
	}
	return w.res
}

// waitFor blocks until the wait has printed a line matching re.
func (w *waitRun) waitFor(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(time.Minute)
	for !rx.MatchString(w.out.String()) {
		select {
		case <-w.done:
			if rx.MatchString(w.out.String()) {
				return
			}
			t.Fatalf("berth wait ended without printing %q:\n%s", re, w.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth wait never printed %q:\n%s", re, w.out.String())
		}
	}
}

// kubectlWait runs `kubectl wait --for=condition=Programmed` in the
// background; its result is whether it exited 0.
type kubectlRun struct {
	done chan struct{}
	ok   bool
	out  []byte
}

var kubectl = sync.OnceValues(func() (string, error) {
	bins, err := localcluster.EnsureBinaries(context.Background(), localcluster.BuildOptions{})
	return bins.Kubectl, err
})

func (f *fixture) startKubectl(timeout time.Duration, target ...string) *kubectlRun {
	f.t.Helper()
	bin, err := kubectl()
	if err != nil {
		f.t.Fatal(err)
	}
	args := append([]string{"--kubeconfig", f.env.Kubeconfig, "wait", "--for=condition=Programmed", "-n", f.ns, fmt.Sprintf("--timeout=%s", timeout)}, target...)
	k := &kubectlRun{done: make(chan struct{})}
	go func() {
		defer close(k.done)
		out, err := exec.Command(bin, args...).CombinedOutput()
		k.out = out
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			k.out = append(k.out, []byte(err.Error())...)
		}
		k.ok = err == nil
	}()
	return k
}

// agree checks that kubectl wait succeeded exactly when berth wait did.
func (k *kubectlRun) agree(t *testing.T, berth *readiness.Outcome) {
	t.Helper()
	select {
	case <-k.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("kubectl wait did not return")
	}
	if berthOK := berth.Phase == readiness.Ready; k.ok != berthOK {
		t.Errorf("kubectl wait succeeded=%t, berth wait %s; kubectl said: %s", k.ok, berth.Phase, k.out)
	}
}

func TestWaitReady(t *testing.T) {
	f := newFixture(t)
	g := f.gateway("gateway-a")
	name := render.ProxyName(f.ns, g.Name)
	w := f.startWait(readiness.Options{Name: g.Name, Timeout: 2 * time.Minute})
	k := f.startKubectl(2*time.Minute, "gateway/"+g.Name)
	w.waitFor(t, `waiting for the bundle to be applied`)

	f.setConditions(g.Name, 0, accepted, pending)
	w.waitFor(t, `Programmed=False \(Pending\) waiting for the bundle`)
	f.applyBundle(g)
	w.waitFor(t, `Deployment `+name+`: Current`)
	if strings.Contains(w.out.String(), "is Programmed") {
		t.Fatal("berth wait finished before Programmed=True")
	}
	f.setConditions(g.Name, 0, accepted, ready)

	res := w.result(t)
	if res.Phase != readiness.Ready {
		t.Fatalf("phase %s: %s", res.Phase, res.Summary())
	}
	out := w.out.String()
	for _, want := range []string{
		`(?m)^\s+\d+\.\ds Gateway ` + f.ns + `/gateway-a: Accepted=True \(Accepted\) accepted by the test$`,
		`(?m)^\s+\d+\.\ds inventory ` + f.ns + `/` + name + `-inventory lists 4 objects$`,
		`(?m)^\s+\d+\.\ds ServiceAccount ` + name + `: Current`,
		`(?m)^\s+\d+\.\ds Service ` + name + `: Current`,
		`(?m)^\s+\d+\.\ds ConfigMap ` + name + `: Current`,
		`(?m)^\s+\d+\.\ds Gateway ` + f.ns + `/gateway-a: Programmed=True \(Programmed\) traffic flows$`,
		`(?m)^\s+\d+\.\ds Gateway ` + f.ns + `/gateway-a is Programmed$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s", want)
		}
	}
	k.agree(t, res)
}

func TestWaitFailed(t *testing.T) {
	f := newFixture(t)
	g := f.gateway("gateway-a")
	f.setConditions(g.Name, 0,
		condition(gwv1.GatewayConditionAccepted, metav1.ConditionFalse, gwv1.GatewayReasonInvalidParameters, "EnvoyProxy team-a/missing not found"),
		condition(gwv1.GatewayConditionProgrammed, metav1.ConditionFalse, gwv1.GatewayReasonInvalid, "not accepted"))
	k := f.startKubectl(5*time.Second, "gateway/"+g.Name)
	start := time.Now()
	res := f.startWait(readiness.Options{Name: g.Name, Timeout: time.Minute}).result(t)
	if res.Phase != readiness.Failed || res.Gateways[0].Reason != "InvalidParameters" {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("a failure took %s to report; it must not wait for the timeout", d)
	}
	if want := "Gateway " + f.ns + "/gateway-a failed: InvalidParameters: Accepted=False: EnvoyProxy team-a/missing not found"; res.Summary() != want {
		t.Errorf("summary %q, want %q", res.Summary(), want)
	}
	k.agree(t, res)
}

func TestWaitProgrammedInvalidAfterApply(t *testing.T) {
	f := newFixture(t)
	g := f.gateway("gateway-a")
	f.setConditions(g.Name, 0, accepted, pending)
	w := f.startWait(readiness.Options{Name: g.Name, Timeout: time.Minute})
	f.applyBundle(g)
	f.setConditions(g.Name, 0, accepted, condition(gwv1.GatewayConditionProgrammed, metav1.ConditionFalse, gwv1.GatewayReasonInvalid, "Service envoy-x is owned by someone else"))
	res := w.result(t)
	if res.Phase != readiness.Failed || res.Gateways[0].Reason != "Invalid" {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
}

func TestWaitTimeout(t *testing.T) {
	f := newFixture(t)
	g := f.gateway("gateway-a")
	f.setConditions(g.Name, 0, accepted, condition(gwv1.GatewayConditionProgrammed, metav1.ConditionFalse, gwv1.GatewayReasonAddressNotAssigned, "Service has no load-balancer address"))
	f.applyBundle(g)
	k := f.startKubectl(4*time.Second, "gateway/"+g.Name)
	start := time.Now()
	w := f.startWait(readiness.Options{Name: g.Name, Timeout: 4 * time.Second})
	res := w.result(t)
	if res.Phase != readiness.Waiting {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
	if d := time.Since(start); d < 4*time.Second {
		t.Errorf("timed out after %s, before the 4s timeout", d)
	}
	want := "Gateway " + f.ns + "/gateway-a: AddressNotAssigned: Programmed=False: Service has no load-balancer address"
	if len(res.NotReady) == 0 || res.NotReady[0] != want {
		t.Errorf("not ready %q, want first %q", res.NotReady, want)
	}
	if !regexp.MustCompile(`(?m)^\s+\d+\.\ds timed out after 4s; not ready:\n\s+Gateway ` + regexp.QuoteMeta(f.ns) + `/gateway-a: AddressNotAssigned`).MatchString(w.out.String()) {
		t.Error("output lacks the timeout report")
	}
	k.agree(t, res)
}

// TestWaitStaleGeneration: a Programmed=True of an older generation is not
// an answer, for kubectl wait nor for berth wait; the fresh one is.
func TestWaitStaleGeneration(t *testing.T) {
	f := newFixture(t)
	g := f.gateway("gateway-a")
	f.setConditions(g.Name, 0, accepted, ready)
	// Change the spec: generation 2, conditions still say 1.
	ri := f.env.Dynamic.Resource(readiness.GatewayResource).Namespace(f.ns)
	patch := []byte(`{"spec":{"listeners":[{"name":"http","port":8080,"protocol":"HTTP"}]}}`)
	if _, err := ri.Patch(context.Background(), g.Name, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	k := f.startKubectl(3*time.Second, "gateway/"+g.Name)
	res := f.startWait(readiness.Options{Name: g.Name, Timeout: 3 * time.Second}).result(t)
	if res.Phase != readiness.Waiting || res.Gateways[0].Reason != "Stale" {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
	k.agree(t, res)

	k = f.startKubectl(time.Minute, "gateway/"+g.Name)
	w := f.startWait(readiness.Options{Name: g.Name, Timeout: time.Minute})
	w.waitFor(t, `\[stale: observedGeneration 1 < generation 2\]`)
	f.setConditions(g.Name, 0, accepted, ready)
	res = w.result(t)
	if res.Phase != readiness.Ready {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
	k.agree(t, res)
}

func TestWaitNotFound(t *testing.T) {
	f := newFixture(t)
	k := f.startKubectl(3*time.Second, "gateway/missing")
	res := f.startWait(readiness.Options{Name: "missing", Timeout: 3 * time.Second}).result(t)
	if res.Phase != readiness.Failed || res.Gateways[0].Reason != readiness.ReasonNotFound {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
	k.agree(t, res)
}

func TestWaitDeletedWhileWaiting(t *testing.T) {
	f := newFixture(t)
	g := f.gateway("gateway-a")
	w := f.startWait(readiness.Options{Name: g.Name, Timeout: time.Minute})
	w.waitFor(t, `waiting for the bundle to be applied`)
	if err := f.env.Dynamic.Resource(readiness.GatewayResource).Namespace(f.ns).Delete(context.Background(), g.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res := w.result(t)
	if res.Phase != readiness.Failed || res.Gateways[0].Reason != readiness.ReasonNotFound {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
}

func TestWaitAll(t *testing.T) {
	f := newFixture(t)
	a, b := f.gateway("gateway-a"), f.gateway("gateway-b")
	f.setConditions(a.Name, 0, accepted, ready)
	f.setConditions(b.Name, 0, accepted, pending)
	k := f.startKubectl(2*time.Minute, "gateway", "--all")
	w := f.startWait(readiness.Options{Timeout: 2 * time.Minute})
	w.waitFor(t, `Gateway `+f.ns+`/gateway-a is Programmed`)
	w.waitFor(t, `\[`+f.ns+`/gateway-b\] waiting for the bundle to be applied`)
	f.applyBundle(b)
	w.waitFor(t, `\[`+f.ns+`/gateway-b\] Deployment `+render.ProxyName(f.ns, b.Name)+`: Current`)
	f.setConditions(b.Name, 0, accepted, ready)
	res := w.result(t)
	if res.Phase != readiness.Ready || len(res.Gateways) != 2 {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
	k.agree(t, res)
}

func TestWaitAllEmpty(t *testing.T) {
	f := newFixture(t)
	res := f.startWait(readiness.Options{Timeout: time.Second}).result(t)
	if res.Phase != readiness.Failed {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
}

// TestWaitWithLimitedRBAC: a pipeline identity that may not watch every
// bundle kind (here HPAs and PDBs) still gets its answer promptly, with a
// warning, instead of waiting for caches that never fill.
func TestWaitWithLimitedRBAC(t *testing.T) {
	f := newFixture(t)
	g := f.gateway("gateway-a")
	f.applyBundle(g)
	f.setConditions(g.Name, 0, accepted, ready)
	ctx := context.Background()
	read := []string{"get", "list", "watch"}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "waiter"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: read},
		{APIGroups: []string{""}, Resources: []string{"configmaps", "services", "serviceaccounts"}, Verbs: read},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: read},
	}}
	if _, err := f.env.Client.RbacV1().Roles(f.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "waiter"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "waiter"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "waiter", Namespace: f.ns}}}
	if _, err := f.env.Client.RbacV1().RoleBindings(f.ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := f.env.ServiceAccountConfig(t, f.ns, "waiter")
	var out syncBuffer
	start := time.Now()
	res, err := readiness.Run(ctx, cfg, readiness.Options{Namespace: f.ns, Name: g.Name, Timeout: time.Minute, Out: &out})
	t.Logf("berth wait output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Phase != readiness.Ready {
		t.Fatalf("got %s: %s", res.Phase, res.Summary())
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %s: it waited for watches it may not have", d)
	}
	if !strings.Contains(out.String(), "warning: cannot watch horizontalpodautoscalers") {
		t.Error("no warning about the HPA watch")
	}

	// Without the right to read Gateways there is nothing to wait for: an
	// error, at once.
	if err := f.env.Client.RbacV1().Roles(f.ns).Delete(ctx, "waiter", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The apiserver's authorizer learns of the deletion from its own watch:
	// wait until the identity is refused before asking berth wait.
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, lerr := dyn.Resource(readiness.GatewayResource).Namespace(f.ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(lerr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listing Gateways still allowed 30 s after the Role was deleted: %v", lerr)
		}
	}
	_, err = readiness.Run(ctx, cfg, readiness.Options{Namespace: f.ns, Name: g.Name, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "list Gateways") || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("got %v, want a forbidden error listing Gateways", err)
	}
}
