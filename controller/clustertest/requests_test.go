package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

// TestRequestsPerGateway counts the controller's API requests for one new
// Gateway, by verb and resource (docs/benchmarks.md), once a first Gateway
// has warmed the watches. Writes are bounded: the bundle's objects and its
// inventory, the finalizer, at most 2 status writes, however slowly the
// Deployment becomes Available: its pod is held unschedulable (a node label
// it asks for is off) for several pending-message windows, while kstatus
// says "Replicas: 0/1", then "Available: 0/1". Reads: none but inventory
// lists of reconciles that outrun the watch.
func TestRequestsPerGateway(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pool, setPool := nodePool(t, h)
	setPool(true)
	ep := clusterIPProxy(h.ns, "proxy")
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = &v1alpha1.KubernetesDeploymentSpec{Pod: &v1alpha1.KubernetesPodSpec{NodeSelector: map[string]string{pool: "on"}}}
	h.create(ep)
	var reqs testenv.Requests
	c, err := controller.New(reqs.Wrap(h.env.Config), h.options())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, c.Run)
	h.programmed(client.ObjectKeyFromObject(h.gateway("warm", 8080, "proxy")))
	settle(&reqs)

	// What each status write said, in order.
	statuses := h.watchStatuses(func(u *unstructured.Unstructured) string {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		var sum []string
		for _, c := range conds {
			m := c.(map[string]any)
			sum = append(sum, fmt.Sprintf("%s=%s/%s %q", m["type"], m["status"], m["reason"], m["message"]))
		}
		addrs, _, _ := unstructured.NestedSlice(u.Object, "status", "addresses")
		ls, _, _ := unstructured.NestedSlice(u.Object, "status", "listeners")
		return fmt.Sprintf("%s; %d addresses, %d listeners", strings.Join(sum, "; "), len(addrs), len(ls))
	})

	// The new Deployment's progress, held at each step for three of the
	// controller's 2 s pending-message windows: no pod (a quota allows the
	// warm Gateway's only; kstatus "Replicas: 0/1"), then a pod that cannot
	// be scheduled ("Available: 0/1"), then Available.
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "one-pod"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}
	h.create(quota)
	setPool(false) // the warm Gateway's pod keeps running
	mark := reqs.Mark()
	gw := h.gateway("gw", 8080, "proxy")
	key := client.ObjectKeyFromObject(gw)
	_, pending := h.condition(key, "Programmed", metav1.ConditionFalse, "Pending", 60*time.Second)
	if want := "Deployment " + h.ns + "/" + render.ProxyName(h.ns, "gw") + ": InProgress"; !strings.HasPrefix(pending.Message, want) {
		t.Errorf("Programmed=False message %q, want it to name what it waits for: %q", pending.Message, want)
	}
	dep := &unstructured.Unstructured{}
	dep.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	depKey := client.ObjectKey{Namespace: h.ns, Name: render.ProxyName(h.ns, "gw")}
	deployment := func(want string) {
		t.Helper()
		waitFor(t, 60*time.Second, "Deployment "+want, func() error {
			if err := h.cl.Get(context.Background(), depKey, dep); err != nil {
				return err
			}
			res, err := kstatus.Compute(dep)
			if err != nil {
				return err
			}
			if res.Message != want {
				return fmt.Errorf("kstatus %s %q", res.Status, res.Message)
			}
			return nil
		})
		time.Sleep(6 * time.Second)
	}
	deployment("Replicas: 0/1")
	if err := h.cl.Delete(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	deployment("Available: 0/1")
	setPool(true)
	h.programmed(key)
	settle(&reqs)
	got := reqs.Since(mark)
	by := map[string]int{}
	for _, r := range got {
		if r.Verb == "watch" {
			continue
		}
		by[r.Verb+" "+r.Resource]++
	}
	var lines []string
	for k, v := range by {
		lines = append(lines, fmt.Sprintf("%3d %s", v, k))
	}
	slices.Sort(lines)
	t.Logf("one new Gateway: %s\n%s", testenv.Count(got), strings.Join(lines, "\n"))
	t.Logf("its statuses, in order:\n%s", strings.Join(statuses("gw"), "\n"))
	var writes []string
	for _, r := range got {
		if r.Method != http.MethodGet {
			writes = append(writes, r.Verb+" "+r.Resource)
		}
	}
	if n := by["update gateways/status.gateway.networking.k8s.io"]; n > 2 {
		t.Errorf("%d status writes for one new Gateway (at most 2: Pending, then Programmed)", n)
	}
	objects := len(h.bundleObjects(h.ns, "gw"))
	// The bundle's objects, the inventory (created carrying its digests:
	// no digest patch), the finalizer, two status writes (and the events).
	if n := by["patch configmaps"] + by["create configmaps"]; n > 2 {
		t.Errorf("%d ConfigMap writes (want the bundle's and the inventory's create: the digests predicted)", n)
	}
	if max := objects + 1 + 1 + 2 + by["create events.events.k8s.io"]; len(writes) > max {
		t.Errorf("%d writes for one Gateway of %d objects (at most %d): %v", len(writes), objects, max, writes)
	}
	// Reads: none before the objects and the inventory are created (the
	// synced watches show them absent: create-only applies, no ownership
	// read, no inventory read); later reconciles read the inventory from
	// the watch (an inventory list allowed for each of two reconciles that
	// come before the watch shows the digests were recorded).
	var reads []string
	for _, r := range got {
		if r.Method == http.MethodGet && r.Verb != "watch" {
			reads = append(reads, r.Verb+" "+r.Resource)
		}
	}
	if len(reads) > 2 || len(reads) > by["list configmaps"] {
		t.Errorf("%d reads for one new Gateway (at most 2 inventory lists): %v", len(reads), reads)
	}

	// An input change of the Programmed Gateway that needs no rollout (its
	// listener's hostname): Pending is written first, then the outcome, and
	// no status write conflicts with berth's own earlier one. (Whether both
	// come from one reconcile depends on when the new xDS snapshot is
	// published; TestWriteStatus holds the same-reconcile case.)
	mark = reqs.Mark()
	cur := gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	h.update(&cur, func() { cur.Spec.Listeners[0].Hostname = ptr.To(gwv1.Hostname("changed.example.com")) })
	waitFor(t, 60*time.Second, "Programmed=True for the changed Gateway", func() error {
		var g gwv1.Gateway
		if err := h.cl.Get(context.Background(), key, &g); err != nil {
			return err
		}
		if c := apimeta.FindStatusCondition(g.Status.Conditions, "Programmed"); c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != cur.Generation {
			return fmt.Errorf("Programmed %+v, generation %d", c, cur.Generation)
		}
		return nil
	})
	settle(&reqs)
	var statusWrites, conflicts int
	for _, r := range reqs.Since(mark) {
		if r.Verb == "update" && r.Resource == "gateways/status.gateway.networking.k8s.io" {
			statusWrites++
			if r.Code == http.StatusConflict {
				conflicts++
			}
		}
	}
	if statusWrites < 2 || conflicts > 0 {
		t.Errorf("after an input change: %d status writes, %d of them conflicts (want Pending, then Programmed, no conflict)", statusWrites, conflicts)
	}
}

// settle waits until the recorded requests stop for a second (the last
// status write and events of a reconcile have gone out).
func settle(reqs *testenv.Requests) {
	last := reqs.Mark()
	for {
		time.Sleep(time.Second)
		now := reqs.Mark()
		if now == last {
			return
		}
		last = now
	}
}

// watchStatuses watches the Gateways of h's namespace and records, per
// Gateway, each distinct status in the order the watch shows them, as show
// renders it; the returned function lists a Gateway's so far.
func (h *harness) watchStatuses(show func(*unstructured.Unstructured) string) func(name string) []string {
	h.t.Helper()
	var (
		mu   sync.Mutex
		seen = map[string][]string{}
	)
	gwRes := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	wi, err := h.env.Dynamic.Resource(gwRes).Namespace(h.ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	go func() {
		for ev := range wi.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			v := show(u)
			mu.Lock()
			if s := seen[u.GetName()]; len(s) == 0 || s[len(s)-1] != v {
				seen[u.GetName()] = append(s, v)
			}
			mu.Unlock()
		}
	}()
	return func(name string) []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen[name])
	}
}
