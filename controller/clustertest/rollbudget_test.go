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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

// TestRollBudget (issue 17): 20 Gateways of a class whose EnvoyProxy pins
// the pods to nodes carrying a label of this test. Removing the label from
// the nodes makes every new pod unschedulable (the old pods keep running):
// a roll cannot finish until the label is back.
//
//   - a restart with the same version, which reconciles every Gateway
//     (each gets a new listener hostname, nothing its pods run), changes 0
//     of 20 pod templates;
//   - an upgrade (a new shutdown-manager image) with a budget of 2 and the
//     rolls held: exactly 2 Deployments change and are reported stuck, the
//     other 18 keep the old template and show their queue position; a
//     Gateway whose own spec changes goes to the front; released, all 20
//     finish, never more than 2 in progress (a watch on the Deployments),
//     and that Gateway is in the first pair admitted;
//   - an upgrade with a budget of 0 and the rolls held: all 20 change.
func TestRollBudget(t *testing.T) {
	t.Parallel()
	const n = 20
	h := newHarness(t)
	h.reqs = &testenv.Requests{}
	ctx := context.Background()
	pool, setPool := nodePool(t, h)
	setPool(true)

	ep := clusterIPProxy(h.ctrlNS, "pool")
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = &v1alpha1.KubernetesDeploymentSpec{Pod: &v1alpha1.KubernetesPodSpec{NodeSelector: map[string]string{pool: "on"}}}
	h.create(ep)
	class := gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: h.class}}
	ctrlNS := gwv1.Namespace(h.ctrlNS)
	h.update(&class, func() {
		class.Spec.ParametersRef = &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "pool", Namespace: &ctrlNS}
	})

	start := func(image, budget string) (stop func()) {
		h.tune = func(o *controller.Options) {
			o.Render.ShutdownManagerImage = image
			o.MaxConcurrentRolls = budget
			o.RollProgressDeadline = time.Second
		}
		return h.start()
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("gw-%02d", i)
	}
	key := func(name string) k8stypes.NamespacedName { return key(h, name) }
	// setHostname changes a Gateway's own spec without changing anything
	// its pods run.
	setHostname := func(name, host string) int64 {
		t.Helper()
		gw := gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: key(name).Namespace, Name: name}}
		h.update(&gw, func() { gw.Spec.Listeners[0].Hostname = ptr.To(gwv1.Hostname(host)) })
		return gw.Generation
	}

	t0 := time.Now()
	phase := func(what string) { t.Logf("%s: %s", time.Since(t0).Round(10*time.Millisecond), what) }
	stop := start("berth.test/berth:old", "2")
	for _, name := range names {
		h.gateway(name, 8080, "")
	}
	for _, name := range names {
		h.programmed(key(name))
	}
	w := watchRolls(t, h)
	phase("20 Gateways Programmed")

	// A restart with the same version: the new controller reconciles every
	// Gateway (Programmed for the new generation), no template changes.
	stop()
	stop = start("berth.test/berth:old", "2")
	for _, name := range names {
		setHostname(name, name+".restart.example.com")
	}
	for _, name := range names {
		h.programmed(key(name))
	}
	if got := w.templateChanges(); got != 0 {
		t.Fatalf("a restart with the same version changed %d of %d pod templates", got, n)
	}

	phase("restarted, 0 templates changed")
	// The upgrade, with new pods unable to be scheduled.
	stop()
	phase("stopped")
	setPool(false)
	w.expect("berth.test/berth:new")
	stop = start("berth.test/berth:new", "2")
	var stuck, queued []string
	waitFor(t, 60*time.Second, "2 rolls stuck and 18 queued", func() error {
		stuck, queued = nil, nil
		for _, name := range names {
			msg, err := h.programmedMessage(key(name))
			if err != nil {
				return err
			}
			switch {
			case strings.Contains(msg, "roll stuck:"):
				stuck = append(stuck, name)
			case strings.Contains(msg, "pod template change queued by the roll budget (position "):
				queued = append(queued, name)
			}
		}
		if len(stuck) != 2 || len(queued) != n-2 {
			return fmt.Errorf("stuck %v, queued %v", stuck, queued)
		}
		return nil
	})
	phase("2 stuck, 18 queued")
	if changed := w.changed(); !slices.Equal(sorted(changed), stuck) {
		t.Fatalf("templates changed: %v; want exactly the stuck ones %v", changed, stuck)
	}
	for _, name := range stuck {
		waitFor(t, 30*time.Second, "RollStuck event of "+name, func() error {
			if len(h.events(h.ns, name, "RollStuck")) == 0 {
				return fmt.Errorf("none")
			}
			return nil
		})
	}
	waitFor(t, 30*time.Second, "RollQueued events of the queued", func() error {
		for _, name := range queued {
			if len(h.events(h.ns, name, "RollQueued")) == 0 {
				return fmt.Errorf("%s: none", name)
			}
		}
		return nil
	})

	phase("events")
	// Wake-ups of the queued Gateways that change none of their inputs
	// (a resync, a metadata edit) neither render nor apply: no write of a
	// bundle object or inventory, no read of their Deployments (the live
	// template is read only when a queued bundle is applied).
	mark := h.reqs.Mark()
	for _, name := range queued {
		gw := gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: key(name).Namespace, Name: name}}
		h.update(&gw, func() { metav1.SetMetaDataAnnotation(&gw.ObjectMeta, "berth.test/touch", "1") })
	}
	time.Sleep(3 * time.Second) // the wake-ups are reconciled
	var deploymentReads, writes []string
	for _, r := range h.reqs.Since(mark) {
		ofQueued := false
		for _, name := range queued {
			ofQueued = ofQueued || strings.Contains(r.Path, "-"+name+"-") || strings.HasSuffix(r.Path, "/gateways/"+name) || strings.Contains(r.Path, "/gateways/"+name+"/")
		}
		switch {
		case !ofQueued: // the stuck pair's
		case strings.Contains(r.Path, "/gateways/"):
			// Status: a queue position may have moved since it was
			// last written.
		case r.Method != http.MethodGet:
			writes = append(writes, r.Method+" "+r.Path)
		case strings.Contains(r.Path, "/deployments/"):
			deploymentReads = append(deploymentReads, r.Path)
		}
	}
	if len(writes) != 0 || len(deploymentReads) != 0 {
		t.Errorf("touching %d queued Gateways: %d writes %v, %d Deployment reads", len(queued), len(writes), writes, len(deploymentReads))
	}
	phase("queued Gateways touched")
	// A Gateway whose own spec changes goes to the front of the queue.
	own := queued[len(queued)-1]
	gen := setHostname(own, "own.example.com")
	waitFor(t, 30*time.Second, own+" first in the queue", func() error {
		var gw gwv1.Gateway
		if err := h.cl.Get(ctx, key(own), &gw); err != nil {
			return err
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
		if c == nil || c.ObservedGeneration < gen || !strings.Contains(c.Message, "(position 1 of ") {
			return fmt.Errorf("Programmed: %+v", c)
		}
		return nil
	})
	if changed := w.changed(); len(changed) != 2 {
		t.Fatalf("templates changed while stuck: %v", changed)
	}

	// Released: all 20 finish, never more than 2 at once.
	phase("own change first in the queue")
	setPool(true)
	w.waitAllRolled(t, n, 3*time.Minute)
	phase("released, all rolled")
	if max := w.maxInProgress(); max > 2 {
		t.Errorf("%d Deployments rolling at once with a budget of 2", max)
	}
	if order := w.changed(); !slices.Contains(order[2:4], own) {
		t.Errorf("order of the rolls %v: %s, whose own spec changed, was not among the first admitted after the stuck pair", order, own)
	}

	// A budget of 0 rolls every Gateway at once.
	stop()
	setPool(false)
	w.expect("berth.test/berth:newer")
	start("berth.test/berth:newer", "0")
	waitFor(t, 60*time.Second, "every template changed at once", func() error {
		if got := len(w.changed()); got != n {
			return fmt.Errorf("%d of %d changed", got, n)
		}
		return nil
	})
	phase("budget 0: all changed")
	if max := w.maxInProgress(); max != n {
		t.Errorf("budget 0: at most %d Deployments in progress at once, want %d", max, n)
	}
	setPool(true)
	w.waitAllRolled(t, n, 3*time.Minute)
	phase("budget 0: all rolled")
}

// kwokNodes lists the simulated nodes.
// nodePool is a node label of this test, and the switch that puts it on
// the simulated nodes or takes it off (off again at the end): pods whose
// nodeSelector asks for it are unschedulable while it is off.
func nodePool(t *testing.T, h *harness) (label string, set func(on bool)) {
	t.Helper()
	label = "berth.test/pool-" + strings.TrimSuffix(h.ns, "-")
	nodes := kwokNodes(t, h)
	set = func(on bool) {
		t.Helper()
		v := `"on"`
		if !on {
			v = "null"
		}
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, label, v))
		for _, node := range nodes {
			if err := h.cl.Patch(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, client.RawPatch(k8stypes.MergePatchType, patch)); err != nil {
				t.Fatalf("label node %s: %v", node, err)
			}
		}
	}
	t.Cleanup(func() { set(false) })
	return label, set
}

func kwokNodes(t *testing.T, h *harness) []string {
	t.Helper()
	var list corev1.NodeList
	if err := h.cl.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list.Items {
		if n.Annotations[localcluster.KwokNodeAnnotation] != "" {
			out = append(out, n.Name)
		}
	}
	if len(out) == 0 {
		t.Fatal("no simulated nodes")
	}
	return out
}

// programmedMessage is the message of gw's Programmed condition.
func (h *harness) programmedMessage(key k8stypes.NamespacedName) (string, error) {
	var gw gwv1.Gateway
	if err := h.cl.Get(context.Background(), key, &gw); err != nil {
		return "", err
	}
	c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
	if c == nil {
		return "", fmt.Errorf("%s: no Programmed", key)
	}
	return c.Message, nil
}

// rollWatch follows the test namespace's Deployments with a watch: which
// Gateways' templates changed to the expected image (in order), and the most
// Deployments in progress (not fully updated and Available) at any event.
type rollWatch struct {
	mu       sync.Mutex
	deps     map[string]*appsv1.Deployment // by Gateway name
	image    string                        // the image of the current wave
	order    []string                      // Gateways whose template has image, in order
	max      int
	changes  int // template changes (generation bumps) seen
	progress chan struct{}
}

func watchRolls(t *testing.T, h *harness) *rollWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	deps := h.env.Client.AppsV1().Deployments(h.ns)
	list, err := deps.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := &rollWatch{deps: map[string]*appsv1.Deployment{}, progress: make(chan struct{}, 1)}
	for i := range list.Items {
		d := &list.Items[i]
		w.deps[d.Labels[render.LabelOwningGatewayName]] = d
	}
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return deps.Watch(ctx, o)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer rw.Stop()
		for ev := range rw.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			w.observe(d)
		}
	}()
	return w
}

func (w *rollWatch) observe(d *appsv1.Deployment) {
	w.mu.Lock()
	defer w.mu.Unlock()
	gw := d.Labels[render.LabelOwningGatewayName]
	if prev := w.deps[gw]; prev != nil && prev.Generation != d.Generation {
		w.changes++
	}
	w.deps[gw] = d
	if w.image != "" && templateHasImage(d, w.image) && !slices.Contains(w.order, gw) {
		w.order = append(w.order, gw)
	}
	inProgress := 0
	for _, d := range w.deps {
		if !deploymentComplete(d) {
			inProgress++
		}
	}
	w.max = max(w.max, inProgress)
	select {
	case w.progress <- struct{}{}:
	default:
	}
}

// expect starts a wave: from now on templates with image are counted, and
// the most in progress restarts from 0.
func (w *rollWatch) expect(image string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.image, w.order, w.max = image, nil, 0
}

func (w *rollWatch) changed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.order)
}

// templateChanges counts the generation changes seen.
func (w *rollWatch) templateChanges() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changes
}

func (w *rollWatch) maxInProgress() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

// waitAllRolled waits (on the watch's events) until n Deployments have the
// wave's image and are complete.
func (w *rollWatch) waitAllRolled(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		done := 0
		for _, d := range w.deps {
			if templateHasImage(d, w.image) && deploymentComplete(d) {
				done++
			}
		}
		w.mu.Unlock()
		if done == n {
			return
		}
		select {
		case <-w.progress:
		case <-deadline:
			t.Fatalf("%d of %d Deployments rolled to %s; order so far %v", done, n, w.image, w.changed())
		}
	}
}

func templateHasImage(d *appsv1.Deployment, image string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Image == image {
			return true
		}
	}
	return false
}

// deploymentComplete: the controller saw the current spec, and every
// replica runs it and is available, with no old pod left.
func deploymentComplete(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// key names a Gateway of the test's namespace.
func key(h *harness, name string) k8stypes.NamespacedName {
	return k8stypes.NamespacedName{Namespace: h.ns, Name: name}
}
